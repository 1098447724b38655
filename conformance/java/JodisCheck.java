// Discovers codis proxies through ZooKeeper with the real Jodis client (RoundRobinJedisPool),
// as a Java application would, and checks what proxy/tests/jodis_java.rs asks:
//
//   java -cp <jodis classpath> JodisCheck.java <zk addr> <jodis dir> <proxy port A> <proxy port B>
//
// 1. both proxies are found and getResource() round-robins over them; SET/GET through each;
// 2. prints "DROP <A>" and waits for a line on stdin (the test stops proxy A meanwhile);
// 3. the pool forgets A: every later resource is B, and SET/GET still work.
// Each step prints one line; any failure exits non-zero with the reason.

import io.codis.jodis.RoundRobinJedisPool;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.HashSet;
import java.util.Set;
import redis.clients.jedis.Jedis;

public class JodisCheck {
    static void fail(String why) {
        System.out.println("FAIL " + why);
        System.out.flush();
        System.exit(1);
    }

    /** The port of the proxy the next pooled connection talks to, after a SET/GET through it. */
    static int roundTrip(RoundRobinJedisPool pool, String key) {
        try (Jedis j = pool.getResource()) {
            int port = j.getClient().getPort();
            String value = "v-" + key + "-" + port;
            if (!"OK".equals(j.set(key, value))) fail("SET " + key + " via " + port);
            if (!value.equals(j.get(key))) fail("GET " + key + " via " + port);
            return port;
        }
    }

    public static void main(String[] args) throws Exception {
        String zk = args[0], dir = args[1];
        int a = Integer.parseInt(args[2]), b = Integer.parseInt(args[3]);
        RoundRobinJedisPool pool = RoundRobinJedisPool.create().curatorClient(zk, 30000).zkProxyDir(dir).build();

        Set<Integer> seen = new HashSet<>();
        long deadline = System.currentTimeMillis() + 20000;
        int i = 0;
        while (seen.size() < 2 && System.currentTimeMillis() < deadline) {
            try {
                seen.add(roundTrip(pool, "jodis:" + (i++)));
            } catch (redis.clients.jedis.exceptions.JedisException e) {
                // No proxy discovered yet.
                Thread.sleep(100);
            }
        }
        if (!seen.contains(a) || !seen.contains(b)) fail("discovered " + seen);
        // Round robin: consecutive resources alternate between the two proxies.
        int prev = roundTrip(pool, "rr:0");
        for (int k = 1; k < 10; k++) {
            int cur = roundTrip(pool, "rr:" + k);
            if (cur == prev) fail("two resources in a row from " + cur);
            prev = cur;
        }
        System.out.println("ROUND-ROBIN " + a + " " + b);
        System.out.println("DROP " + a);
        System.out.flush();
        new BufferedReader(new InputStreamReader(System.in)).readLine();

        deadline = System.currentTimeMillis() + 20000;
        int onlyB = 0;
        while (onlyB < 20 && System.currentTimeMillis() < deadline) {
            int port;
            try {
                port = roundTrip(pool, "after:" + (i++));
            } catch (redis.clients.jedis.exceptions.JedisException e) {
                // A connection to the stopped proxy.
                onlyB = 0;
                continue;
            }
            onlyB = (port == b) ? onlyB + 1 : 0;
            if (port != b) Thread.sleep(50);
        }
        if (onlyB < 20) fail("pool still hands out " + a);
        System.out.println("DROPPED " + a);
        pool.close();
        System.exit(0);
    }
}
