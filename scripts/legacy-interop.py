#!/usr/bin/env python3
"""Interop run against a legacy codis-server (Redis 3.2.11 fork) built locally.

Not part of CI: the legacy binary is not redistributed. Point LEGACY_SERVER at a codis-server
3.2.11 binary you built yourself, and OURS_SERVER at ours (default target/release/codis-server).
The run prints a report (kept under conformance/tests/fixtures/legacy/ as an observation):

1. ours as replica of the legacy node: full sync, streamed writes, partial resync after the
   link is cut;
2. the legacy node as replica of ours: the same;
3. slot migration both ways with SLOTSMGRTTAGSLOT (sync) and SLOTSMGRTTAGSLOT-ASYNC.

Every dataset comparison reads values with type-specific commands (no DUMP), expiry times within 2 s.
Ports: 35401-35404 on 127.0.0.1.
"""
import os
import random
import subprocess
import sys
import tempfile
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEGACY = os.environ.get("LEGACY_SERVER")
OURS = os.environ.get("OURS_SERVER", os.path.join(ROOT, "target/release/codis-server"))
PORTS = [35401, 35402, 35403, 35404]


def start(binary, port, workdir, diskless="no"):
    d = tempfile.mkdtemp(prefix=f"interop-{port}-", dir=workdir)
    p = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", d,
         "--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c = redis.Redis(port=port, decode_responses=False, protocol=2)
    for _ in range(100):
        try:
            c.ping()
            return p, c
        except redis.ConnectionError:
            time.sleep(0.05)
    raise SystemExit(f"{binary} did not start on {port}")


def fill(c, prefix, n=300, tag=None):
    """Keys of every type and encoding (small and big), some with TTLs."""
    rnd = random.Random(7)
    t = (lambda k: "{%s}%s" % (tag, k)) if tag else (lambda k: k)
    pipe = c.pipeline(transaction=False)
    for i in range(n):
        pipe.set(t(f"{prefix}:s:{i}"), f"v{i}" * (1 + i % 5))
        pipe.set(t(f"{prefix}:n:{i}"), i * 1000)
    pipe.set(t(f"{prefix}:big"), "x" * 100000)
    pipe.rpush(t(f"{prefix}:l:small"), *[f"e{i}" for i in range(10)])
    pipe.rpush(t(f"{prefix}:l:big"), *[f"e{i}" * 10 for i in range(2000)])
    # HMSET: Redis 3.2's HSET takes one field.
    pipe.execute_command("HMSET", t(f"{prefix}:h:small"), *[x for i in range(10) for x in (f"f{i}", f"v{i}")])
    pipe.execute_command("HMSET", t(f"{prefix}:h:big"), *[x for i in range(2000) for x in (f"f{i}", f"v{i}" * 20)])
    pipe.sadd(t(f"{prefix}:set:int"), *range(100))
    pipe.sadd(t(f"{prefix}:set:str"), *[f"m{i}" for i in range(2000)])
    pipe.zadd(t(f"{prefix}:z:small"), {f"m{i}": i / 3 for i in range(10)})
    pipe.zadd(t(f"{prefix}:z:big"), {f"m{i}": rnd.random() * 1000 for i in range(2000)})
    pipe.pfadd(t(f"{prefix}:hll"), *[f"u{i}" for i in range(5000)])
    pipe.setbit(t(f"{prefix}:bits"), 100000, 1)
    for i in range(20):
        pipe.set(t(f"{prefix}:ttl:{i}"), i, ex=1000 + i)
    pipe.execute()


def snapshot(c, match="*"):
    out = {}
    for k in c.scan_iter(match=match, count=1000):
        ty = c.type(k).decode()
        if ty == "string":
            v = c.get(k)
        elif ty == "list":
            v = c.lrange(k, 0, -1)
        elif ty == "hash":
            v = sorted(c.hgetall(k).items())
        elif ty == "set":
            v = sorted(c.smembers(k))
        elif ty == "zset":
            v = c.zrange(k, 0, -1, withscores=True)
        else:
            v = None
        ttl = c.ttl(k)
        # As an expiry time: the two snapshots are read one after the other.
        out[k] = (ty, v, round(time.time() + ttl) if ttl >= 0 else ttl)
    return out


def compare(a, b):
    """Returns a list of differences (expiry times may differ by 2 s)."""
    diffs = []
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b:
            diffs.append(f"{k!r}: only on {'source' if k in a else 'target'}")
            continue
        (ta, va, la), (tb, vb, lb) = a[k], b[k]
        if ta != tb or va != vb or abs(la - lb) > 2:
            diffs.append(f"{k!r}: {ta}/{tb} expiry {la}/{lb} values {'equal' if va == vb else 'differ'}")
    return diffs


def info(c, section):
    return c.info(section)


def wait_synced(master, replica, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = info(replica, "replication")
        m = info(master, "replication")
        if r.get("master_link_status") == "up" and r.get("slave_repl_offset") == m.get("master_repl_offset"):
            return time.time()
        time.sleep(0.05)
    raise SystemExit(f"replica did not catch up: {info(replica, 'replication')}")


def mixed_writes(c, n, prefix):
    rnd = random.Random(n)
    pipe = c.pipeline(transaction=False)
    for i in range(n):
        op = rnd.randrange(6)
        k = f"{prefix}:w:{rnd.randrange(200)}"
        if op == 0:
            pipe.set(k + ":s", rnd.random())
        elif op == 1:
            pipe.incr(k + ":n")
        elif op == 2:
            pipe.rpush(k + ":l", i)
        elif op == 3:
            pipe.hset(k + ":h", f"f{i % 50}", i)
        elif op == 4:
            pipe.zadd(k + ":z", {f"m{i % 50}": i})
        else:
            pipe.delete(k + ":s")
    pipe.execute()


def replication(name, master_bin, replica_bin, report, workdir, diskless="no"):
    report(f"## {name} (master repl-diskless-sync {diskless})")
    mp, m = start(master_bin, PORTS[0], workdir, diskless)
    rp, r = start(replica_bin, PORTS[1], workdir)
    try:
        fill(m, "pre")
        t0 = time.time()
        r.slaveof("127.0.0.1", PORTS[0])
        mixed_writes(m, 5000, "during")
        t1 = wait_synced(m, r)
        report(f"full sync + 5000 writes while syncing: caught up in {t1 - t0:.2f} s")
        d = compare(snapshot(m), snapshot(r))
        report(f"datasets after full sync: {len(snapshot(m))} keys, {len(d)} differences")
        for x in d[:10]:
            report(f"  {x}")
        st = info(m, "stats")
        full0, part0 = st.get("sync_full", 0), st.get("sync_partial_ok", 0)
        # Cut the link from the master side; the replica reconnects and must continue.
        m.execute_command("CLIENT", "KILL", "TYPE", "slave")
        mixed_writes(m, 2000, "after-cut")
        wait_synced(m, r)
        st = info(m, "stats")
        report(f"after the link was cut: sync_full {full0} -> {st.get('sync_full')}, "
               f"sync_partial_ok {part0} -> {st.get('sync_partial_ok')}")
        d = compare(snapshot(m), snapshot(r))
        report(f"datasets after partial resync: {len(d)} differences")
        for x in d[:10]:
            report(f"  {x}")
        rep = info(r, "replication")
        report(f"replica INFO replication: role={rep.get('role')} master_link_status={rep.get('master_link_status')} "
               f"master_sync_in_progress={rep.get('master_sync_in_progress')}")
        r.slaveof()
        r.set("promoted:write", 1)
        report(f"SLAVEOF NO ONE then write: {r.get('promoted:write')!r}")
    finally:
        for p in (mp, rp):
            p.kill()
            p.wait()


def migrate_slot(src, dst, dst_port, slot, method):
    moved = 0
    while True:
        if method == "sync":
            n = src.execute_command("SLOTSMGRTTAGSLOT", "127.0.0.1", dst_port, 3000, slot)
            batch, remaining = n[0], n[1]
        else:
            n = src.execute_command("SLOTSMGRTTAGSLOT-ASYNC", "127.0.0.1", dst_port, 3000, 200, 1 << 20, slot, 500)
            batch, remaining = n[0], n[1]
        moved += batch
        if batch == 0 and src.execute_command("SLOTSINFO", slot, 1) == []:
            return moved
        if remaining == 0 and src.execute_command("SLOTSINFO", slot, 1) == []:
            return moved


def migration(name, src_bin, dst_bin, report, workdir):
    report(f"## {name}")
    sp, s = start(src_bin, PORTS[2], workdir)
    dp, d = start(dst_bin, PORTS[3], workdir)
    try:
        for method in ("sync", "async"):
            tag = f"mig{method}"
            fill(s, "k", n=200, tag=tag)
            slot = s.execute_command("SLOTSHASHKEY", tag)[0]
            before = snapshot(s, match="{%s}*" % tag)
            t0 = time.time()
            moved = migrate_slot(s, d, PORTS[3], slot, method)
            dt = time.time() - t0
            after = snapshot(d, match="{%s}*" % tag)
            left = s.execute_command("SLOTSINFO", slot, 1)
            diffs = compare(before, after)
            report(f"{method}: slot {slot}, {len(before)} keys, reply total {moved}, {dt:.2f} s, "
                   f"left on source {left}, differences {len(diffs)}")
            for x in diffs[:10]:
                report(f"  {x}")
    finally:
        for p in (sp, dp):
            p.kill()
            p.wait()


def main():
    if not LEGACY or not os.access(LEGACY, os.X_OK):
        print("LEGACY_SERVER must point at a locally built codis-server 3.2.11", file=sys.stderr)
        return 2
    lines = []

    def report(s):
        print(s, flush=True)
        lines.append(s)

    version = subprocess.run([LEGACY, "--version"], capture_output=True, text=True).stdout.strip()
    report(f"# legacy: {version}")
    report(f"# ours: {subprocess.run([OURS, '--version'], capture_output=True, text=True).stdout.strip()}")
    with tempfile.TemporaryDirectory(prefix="rcodis-interop-") as workdir:
        replication("ours as replica of legacy", LEGACY, OURS, report, workdir)
        replication("ours as replica of legacy", LEGACY, OURS, report, workdir, diskless="yes")
        replication("legacy as replica of ours", OURS, LEGACY, report, workdir)
        replication("legacy as replica of ours", OURS, LEGACY, report, workdir, diskless="yes")
        migration("migration legacy -> ours", LEGACY, OURS, report, workdir)
        migration("migration ours -> legacy", OURS, LEGACY, report, workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
