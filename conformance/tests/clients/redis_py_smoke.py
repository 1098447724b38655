"""redis-py with its default settings (8.x opens with HELLO 3) against a server on argv[1].

Exits non-zero with a message on the first unexpected reply. Used by tests/clients.rs.
"""
import sys

import redis

port = int(sys.argv[1])
r = redis.Redis(port=port)
r.flushall()
assert r.set("a", 1) is True
assert r.get("a") == b"1"
assert r.incr("a") == 2
assert r.hset("h", mapping={"x": 1, "y": 2}) == 2
assert r.hgetall("h") == {b"x": b"1", b"y": b"2"}, r.hgetall("h")
assert r.zadd("z", {"m": 1.5, "n": 2}) == 2
assert r.zscore("z", "m") == 1.5
assert r.zrange("z", 0, -1, withscores=True) == [(b"m", 1.5), (b"n", 2.0)], r.zrange("z", 0, -1, withscores=True)
assert r.sadd("s", "q", "w") == 2
assert r.smembers("s") == {b"q", b"w"}
assert r.rpush("l", "a", "b") == 2 and r.lrange("l", 0, -1) == [b"a", b"b"]
assert r.expire("a", 100) and 0 < r.ttl("a") <= 100
p = r.pipeline()
p.set("b", 2).get("b").incr("b")
assert p.execute() == [True, b"2", 3]
with r.pipeline(transaction=True) as t:
    t.set("c", 1).incr("c")
    assert t.execute() == [True, 2]
ps = r.pubsub()
ps.subscribe("ch")
assert ps.get_message(timeout=2)["type"] == "subscribe"
assert r.publish("ch", "hi") == 1
m = ps.get_message(timeout=2)
assert m and m["data"] == b"hi", m
ps.close()
assert r.info("server")["redis_version"]
assert r.execute_command("SLOTSHASHKEY", "a", "b", "c") == [579, 1017, 879]
assert r.blpop(["nolist"], timeout=0.1) is None
print("ok")
