"""redis-py with its default settings (8.x opens every connection with HELLO 3) through
codis-proxy on argv[1]. The Go proxy fails this handshake (`unknown command 'HELLO'`); ours
switches the session to RESP3 and reshapes the backends' RESP2 replies.

Exits non-zero with a message on the first unexpected reply. Used by tests/clients.rs.
"""
import sys

import redis

port = int(sys.argv[1])
r = redis.Redis(port=port)
assert r.ping() is True
assert r.connection_pool.get_connection().protocol in (3, "3"), "the connection negotiated RESP3"
assert r.set("a", 1) is True
assert r.get("a") == b"1"
assert r.get("missing") is None
assert r.incr("a") == 2
assert r.mset({"m1": "x", "m2": "y"}) is True
assert r.mget("m1", "missing", "m2") == [b"x", None, b"y"]
assert r.delete("m1", "m2", "missing") == 2
assert r.hset("h", mapping={"x": 1, "y": 2}) == 2
assert r.hgetall("h") == {b"x": b"1", b"y": b"2"}, r.hgetall("h")
assert r.zadd("z", {"m": 1.5, "n": 2}) == 2
assert r.zscore("z", "m") == 1.5
assert r.zscore("z", "nope") is None
assert r.zincrby("z", 1, "m") == 2.5
assert r.zrange("z", 0, -1, withscores=True) == [(b"n", 2.0), (b"m", 2.5)], r.zrange("z", 0, -1, withscores=True)
assert r.sadd("s", "q", "w") == 2
assert r.smembers("s") == {b"q", b"w"}
assert r.rpush("l", "a", "b") == 2 and r.lrange("l", 0, -1) == [b"a", b"b"]
assert r.expire("a", 100) and 0 < r.ttl("a") <= 100
p = r.pipeline(transaction=False)
p.set("b", 2).get("b").incr("b")
assert p.execute() == [True, b"2", 3]
assert r.info()["redis_version"]
assert r.execute_command("SLOTSHASHKEY", "a", "b", "c") == [579, 1017, 879]
try:
    r.keys("*")
    raise AssertionError("KEYS should be refused")
except redis.ResponseError as e:
    assert str(e) == "handle request, command 'KEYS' is not allowed", str(e)
r2 = redis.Redis(port=port, protocol=2)
assert r2.hgetall("h") == {b"x": b"1", b"y": b"2"}
assert r2.zscore("z", "n") == 2.0
print("ok")
