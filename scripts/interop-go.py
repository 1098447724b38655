#!/usr/bin/env python3
"""Interop between rcodis and the real Go Codis 3.2 stack (dashboard, proxy, codis-admin).

Not part of CI: the Go binaries and the legacy codis-server are not redistributed. Point
GO_CODIS_BIN at a directory holding codis-dashboard, codis-proxy and codis-admin built from
CodisLabs/codis release3.2, and LEGACY_SERVER at a codis-server 3.2.11 binary. Ours come from
RCODIS_BIN (default target/debug). Without GO_CODIS_BIN or LEGACY_SERVER the script says so and
exits 0.

Scenarios (each on the filesystem coordinator and on ZooKeeper; `--coord fs|zk|both`):
  a. Go dashboard + our proxy + our servers, driven by the Go codis-admin.
  b. Our dashboard + a Go proxy + legacy servers, driven by both codis-admins in turn.
  c. Mixed fleet: a Go and a Rust proxy under each dashboard in turn, a writer through both during
     migrations (no write may be lost); the Go dashboard replaced by ours mid-life.
  d. Read-only codis-admin verbs: each admin against each dashboard/proxy, outputs normalised and
     compared.

Every check prints PASS/FAIL; the run ends with the list of failures (exit 1 if any). With
`--record DIR` the normalised read-only outputs and the report are written there.
Ports: INTEROP_PORT_BASE (default 25000) .. +99 on 127.0.0.1.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GO = os.environ.get("GO_CODIS_BIN")
LEGACY = os.environ.get("LEGACY_SERVER")
OURS = os.environ.get("RCODIS_BIN", os.path.join(ROOT, "target/debug"))
BASE = int(os.environ.get("INTEROP_PORT_BASE", "25000"))
PRODUCT = "interop"
ZK_JARS = ["/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar"]

REPORT = []
FAILS = []


def say(line=""):
    print(line, flush=True)
    REPORT.append(line)


def check(ok, what, detail=""):
    say(f"{'PASS' if ok else 'FAIL'} {what}" + (f": {detail}" if detail and not ok else ""))
    if not ok:
        FAILS.append(f"{what}: {detail}")
    return ok


def go(name):
    return os.path.join(GO, name)


def ours(name):
    return os.path.join(OURS, name)


class Procs:
    """Every process this run starts, stopped by its pid at the end."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = {}

    def spawn(self, name, argv, env=None):
        log = open(os.path.join(self.workdir, f"{name}.out"), "ab")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir,
                             env=dict(os.environ, **(env or {})))
        self.procs[name] = p
        return p

    def stop(self, name, sig=signal.SIGTERM, timeout=10):
        p = self.procs.pop(name, None)
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def stop_all(self):
        for name in list(self.procs):
            self.stop(name, signal.SIGKILL)


def wait_port(port, timeout=20):
    import socket
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def start_server(procs, binary, port):
    d = os.path.join(procs.workdir, f"server-{port}")
    os.makedirs(d, exist_ok=True)
    # A config file: the Go dashboard's SLAVEOF transaction ends with CONFIG REWRITE, which fails
    # (as on codis-server 3.2.11) on a server started without one.
    conf = os.path.join(d, "redis.conf")
    with open(conf, "w") as f:
        f.write(f"port {port}\n")
    procs.spawn(f"server-{port}", [binary, conf, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", d])
    wait_port(port)
    return f"127.0.0.1:{port}"


def start_zk(procs, port):
    d = os.path.join(procs.workdir, "zk")
    for sub in ("conf", "data", "log"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    shutil.copy("/etc/zookeeper/conf/log4j.properties", os.path.join(d, "conf"))
    with open(os.path.join(d, "conf/zoo.cfg"), "w") as f:
        f.write(f"tickTime=2000\ndataDir={d}/data\nclientPort={port}\nclientPortAddress=127.0.0.1\n"
                "admin.enableServer=false\n4lw.commands.whitelist=ruok,srvr,stat\n")
    procs.spawn("zookeeper", ["java", f"-Dzookeeper.log.dir={d}/log", "-Dzookeeper.root.logger=WARN,CONSOLE",
                              "-Dzookeeper.admin.enableServer=false", "-Xmx256m", "-cp",
                              ":".join([f"{d}/conf"] + ZK_JARS),
                              "org.apache.zookeeper.server.quorum.QuorumPeerMain", f"{d}/conf/zoo.cfg"])
    wait_port(port, 60)
    time.sleep(1.0)
    return f"127.0.0.1:{port}"


def write_config(path, template_bin, changes):
    text = subprocess.run([template_bin, "--default-config"], capture_output=True, text=True, check=True).stdout
    for key, value in changes.items():
        v = json.dumps(value) if isinstance(value, str) else str(value).lower()
        text, n = re.subn(rf"^{key} = .*$", f"{key} = {v}", text, flags=re.M)
        assert n == 1, key
    with open(path, "w") as f:
        f.write(text)


class Coord:
    def __init__(self, kind, addr):
        self.kind, self.addr = kind, addr

    def dash_cfg(self):
        return {"coordinator_name": "filesystem" if self.kind == "fs" else "zookeeper", "coordinator_addr": self.addr}

    def flag(self):
        return f"--filesystem={self.addr}" if self.kind == "fs" else f"--zookeeper={self.addr}"


def start_dashboard(procs, which, coord, port, method="semi-async", name=None):
    binary = go("codis-dashboard") if which == "go" else ours("codis-dashboard")
    name = name or f"dashboard-{which}"
    cfg = os.path.join(procs.workdir, f"{name}-{method}.toml")
    write_config(cfg, binary, dict(coord.dash_cfg(), product_name=PRODUCT, admin_addr=f"127.0.0.1:{port}",
                                   migration_method=method, migration_parallel_slots=16))
    procs.spawn(name, [binary, f"--config={cfg}", f"--log={procs.workdir}/{name}.log", "--log-level=INFO"])
    wait_port(port)
    return f"127.0.0.1:{port}"


def start_proxy(procs, which, port, admin_port, dashboard=None):
    binary = go("codis-proxy") if which == "go" else ours("codis-proxy")
    name = f"proxy-{which}-{port}"
    cfg = os.path.join(procs.workdir, f"{name}.toml")
    write_config(cfg, binary, {"product_name": PRODUCT, "admin_addr": f"127.0.0.1:{admin_port}",
                               "proxy_addr": f"127.0.0.1:{port}"})
    extra = [f"--dashboard={dashboard}"] if dashboard else []
    procs.spawn(name, [binary, f"--config={cfg}", f"--log={procs.workdir}/{name}.log", "--log-level=INFO", *extra])
    wait_port(port)
    wait_port(admin_port)
    return f"127.0.0.1:{admin_port}"


def admin(which, *args, ok=True, label=None):
    binary = go("codis-admin") if which == "go" else ours("codis-admin")
    r = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
    what = label or f"{which} codis-admin {' '.join(args)}"
    if ok:
        check(r.returncode == 0, what, f"exit {r.returncode}: {r.stdout[-500:]} {r.stderr[-800:]}")
    return r


def log_problems(path):
    """Error lines of a Go or Rust log."""
    import glob
    out = []
    # Go's and our --log files rotate daily: name.log.YYYY-MM-DD.
    for p in sorted(glob.glob(path + "*")):
        with open(p, errors="replace") as f:
            # Go logs routine events at WARN: only errors and failures count.
            # Our proxy's lines are tracing's: "<time>Z ERROR target: ...".
            out += [ln.rstrip() for ln in f if re.search(r"\[(ERROR|PANIC|FATAL)\]|panic|Z\s+ERROR\s", ln)
                    or (re.search(r"\[WARN\]", ln) and re.search(r"error|fail", ln, re.I) and "failed = false" not in ln)]
    return out


def dash_json(addr, path):
    import urllib.request
    with urllib.request.urlopen(f"http://{addr}{path}", timeout=10) as r:
        return json.loads(r.read())


def wait_slots_done(dash, timeout=180):
    """Until no slot has a pending action."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        slots = dash_json(dash, "/topom/stats")["slots"]
        busy = [s for s in slots if s.get("action", {}).get("state")]
        if not busy:
            return True
        time.sleep(0.3)
    return False


def slot_groups(dash):
    return {s["id"]: s.get("group_id", 0) for s in dash_json(dash, "/topom/stats")["slots"]}


class Writer(threading.Thread):
    """SETs unique keys round-robin through the given proxies; remembers every acknowledged write."""

    def __init__(self, ports, prefix):
        super().__init__(daemon=True)
        self.clients = [redis.Redis(port=p, protocol=2, socket_timeout=10) for p in ports]
        self.prefix, self.acked, self.errors = prefix, {}, []
        self.stop_flag = threading.Event()

    def run(self):
        i = 0
        while not self.stop_flag.is_set():
            k, v = f"{self.prefix}:{i}", f"v{i}"
            c = self.clients[i % len(self.clients)]
            try:
                c.set(k, v)
                self.acked[k] = v
            except redis.RedisError as e:
                self.errors.append(f"{k}: {e}")
                time.sleep(0.01)
            i += 1
            time.sleep(0.001)

    def finish(self, check_ports):
        self.stop_flag.set()
        self.join(30)
        lost = 0
        for p in check_ports:
            c = redis.Redis(port=p, protocol=2, socket_timeout=10)
            keys = list(self.acked)
            for j in range(0, len(keys), 500):
                chunk = keys[j:j + 500]
                for k, got in zip(chunk, c.mget(chunk)):
                    if got is None or got.decode() != self.acked[k]:
                        lost += 1
        return len(self.acked), len(self.errors), lost


def redis_cli_roundtrip(port, tag):
    r1 = subprocess.run(["redis-cli", "-p", str(port), "set", f"cli:{tag}", tag], capture_output=True, text=True)
    r2 = subprocess.run(["redis-cli", "-p", str(port), "get", f"cli:{tag}"], capture_output=True, text=True)
    return check(r1.stdout.strip() == "OK" and r2.stdout.strip() == tag, f"redis-cli set/get through :{port} ({tag})",
                 f"{r1.stdout!r} {r1.stderr!r} {r2.stdout!r}")


def build_groups(who, dash, servers, sync=True):
    """Two groups (master + replica each); `who` is a function giving which admin runs each verb."""
    for gid in (1, 2):
        admin(who(), f"--dashboard={dash}", "--create-group", f"--gid={gid}")
    for i, s in enumerate(servers):
        admin(who(), f"--dashboard={dash}", "--group-add", f"--gid={1 + i // 2}", f"--addr={s}")
    if sync:
        for s in (servers[1], servers[3]):
            admin(who(), f"--dashboard={dash}", "--sync-action", "--create", f"--addr={s}")


def wait_replicas(servers, timeout=60):
    deadline = time.time() + timeout
    for master, replica in ((servers[0], servers[1]), (servers[2], servers[3])):
        c = redis.Redis(port=int(replica.split(":")[1]), protocol=2)
        while time.time() < deadline:
            i = c.info("replication")
            if i.get("master_link_status") == "up" and f"{i.get('master_port')}" == master.split(":")[1]:
                break
            time.sleep(0.2)
        else:
            return check(False, f"replica {replica} of {master}", str(c.info("replication")))
    return check(True, "replicas attached by sync-action")


def wait_online(dash, n, timeout=30):
    """Until the dashboard lists n proxies whose stats say online."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        stats = dash_json(dash, "/topom/stats")["proxy"].get("stats") or {}
        if sum(1 for p in stats.values() if (p.get("stats") or {}).get("online")) >= n:
            return True
        time.sleep(0.3)
    return False


def proxy_errors_in_stats(dash):
    stats = dash_json(dash, "/topom/stats")["proxy"]
    out = []
    for token, p in (stats.get("stats") or {}).items():
        if p.get("error") or p.get("timeout"):
            out.append(f"{token}: {p.get('error')} timeout={p.get('timeout')}")
        elif not p.get("stats", {}).get("online"):
            out.append(f"{token}: stats say not online")
    return out, stats


def migrate(who, dash, beg, end, gid, label):
    admin(who, f"--dashboard={dash}", "--slot-action", "--create-range", f"--beg={beg}", f"--end={end}", f"--gid={gid}")
    t0 = time.time()
    done = wait_slots_done(dash)
    took = time.time() - t0
    groups = slot_groups(dash)
    moved = all(groups[s] == gid for s in range(beg, end + 1))
    check(done and moved, f"{label}: slots {beg}-{end} -> group {gid}", f"done={done} moved={moved}")
    say(f"  {label}: {end - beg + 1} slots migrated in {took:.1f} s")
    return took


def scenario_a(coord, workdir):
    """Go dashboard + our proxy + our servers, Go codis-admin drives."""
    say(f"## a. Go dashboard + Rust proxy + Rust codis-server ({coord.kind})")
    procs = Procs(workdir)
    try:
        servers = [start_server(procs, ours("codis-server"), BASE + 1 + i) for i in range(4)]
        dash = start_dashboard(procs, "go", coord, BASE + 80)
        pport = BASE + 19
        padmin = start_proxy(procs, "rust", pport, BASE + 11)
        build_groups(lambda: "go", dash, servers)
        wait_replicas(servers)
        admin("go", f"--dashboard={dash}", "--create-proxy", f"--addr={padmin}")
        admin("go", f"--dashboard={dash}", "--slots-assign", "--beg=0", "--end=511", "--gid=1", "--confirm")
        admin("go", f"--dashboard={dash}", "--slots-assign", "--beg=512", "--end=1023", "--gid=1", "--confirm")
        admin("go", f"--dashboard={dash}", "--online-proxy", f"--addr={padmin}")
        redis_cli_roundtrip(pport, "a-after-assign")
        # A second Rust proxy that registers itself (codis-proxy --dashboard=ADDR).
        start_proxy(procs, "rust", BASE + 18, BASE + 12, dashboard=dash)
        check(wait_online(dash, 2), "Rust proxy started with --dashboard is online in the Go dashboard")
        redis_cli_roundtrip(BASE + 18, "a-self-registered")
        c = redis.Redis(port=pport, protocol=2)
        c.mset({f"a:pre:{i}": i for i in range(2000)})
        w = Writer([pport], "a:w")
        w.start()
        admin("go", f"--dashboard={dash}", "--rebalance", "--confirm")
        check(wait_slots_done(dash), "rebalance (semi-async) finished")
        g = slot_groups(dash)
        check(sorted(set(g.values())) == [1, 2], "rebalance spread slots over both groups",
              str({x: list(g.values()).count(x) for x in set(g.values())}))
        migrate("go", dash, 0, 63, 2, "semi-async migration")
        # Restart the dashboard with migration_method = "sync" (a clean shutdown releases the lock).
        admin("go", f"--dashboard={dash}", "--shutdown")
        procs.procs.pop("dashboard-go").wait(20)
        dash = start_dashboard(procs, "go", coord, BASE + 80, method="sync")
        migrate("go", dash, 0, 63, 1, "sync migration")
        total, errs, lost = w.finish([pport])
        check(lost == 0 and errs == 0, "writer through the Rust proxy during migrations",
              f"acked={total} errors={errs} lost={lost} first errors={w.errors[:3]}")
        say(f"  writer: {total} acknowledged writes, {errs} errors, {lost} lost")
        check(c.mget([f"a:pre:{i}" for i in range(2000)]) == [str(i).encode() for i in range(2000)],
              "2000 keys written before the migrations read back through the proxy")
        # Promote the replica of group 1 and resync the old master under it.
        admin("go", f"--dashboard={dash}", "--promote-server", "--gid=1", f"--addr={servers[1]}")
        time.sleep(1.5)
        model = admin("go", f"--proxy={padmin}", "slots").stdout
        slots = json.loads(model)
        g1 = [s for s in slots if s.get("backend_addr_group_id") == 1]
        check(g1 and all(s["backend_addr"] == servers[1] for s in g1), "proxy routes group 1 to the promoted server",
              str(g1[:1]))
        redis_cli_roundtrip(pport, "a-after-promote")
        admin("go", f"--dashboard={dash}", "--sync-action", "--create", f"--addr={servers[0]}")
        for verb in ("stats", "model", "slots", "group", "proxy"):
            admin("go", f"--dashboard={dash}", verb)
        for verb in ("--proxy-status", "--group-status", "--slots-status"):
            r = admin("go", f"--dashboard={dash}", verb)
            check("[ERROR]" not in r.stderr, f"go codis-admin {verb} reports no error",
                  r.stderr[-600:])
        errs, stats = proxy_errors_in_stats(dash)
        check(not errs and len(stats.get("stats") or {}) == 2, "Go dashboard's stats of both Rust proxies", str(errs))
        problems = log_problems(f"{workdir}/proxy-rust-{pport}.log")
        check(not problems, "our proxy's log has no error lines", "\n    ".join(problems[:10]))
        problems = log_problems(f"{workdir}/dashboard-go.log")
        check(not problems, "Go dashboard log has no error lines", "\n    ".join(problems[:10]))
        admin("go", f"--dashboard={dash}", "--shutdown")
    finally:
        procs.stop_all()


def scenario_b(coord, workdir):
    """Our dashboard + a Go proxy + legacy servers, both codis-admins drive it."""
    say(f"## b. Rust dashboard + Go proxy + legacy codis-server 3.2.11 ({coord.kind})")
    procs = Procs(workdir)
    turn = {"n": 0}

    def who():
        turn["n"] += 1
        return "go" if turn["n"] % 2 else "rust"

    try:
        servers = [start_server(procs, LEGACY, BASE + 21 + i) for i in range(4)]
        dash = start_dashboard(procs, "rust", coord, BASE + 81)
        pport = BASE + 29
        padmin = start_proxy(procs, "go", pport, BASE + 31)
        build_groups(who, dash, servers)
        wait_replicas(servers)
        admin(who(), f"--dashboard={dash}", "--create-proxy", f"--addr={padmin}")
        admin(who(), f"--dashboard={dash}", "--slots-assign", "--beg=0", "--end=1023", "--gid=1", "--confirm")
        redis_cli_roundtrip(pport, "b-after-assign")
        # A second Go proxy that registers itself (codis-proxy --dashboard=ADDR).
        start_proxy(procs, "go", BASE + 28, BASE + 32, dashboard=dash)
        check(wait_online(dash, 2), "Go proxy started with --dashboard is online in our dashboard")
        redis_cli_roundtrip(BASE + 28, "b-self-registered")
        c = redis.Redis(port=pport, protocol=2)
        c.mset({f"b:pre:{i}": i for i in range(2000)})
        w = Writer([pport], "b:w")
        w.start()
        migrate(who(), dash, 0, 255, 2, "semi-async migration through the Go proxy")
        admin(who(), f"--dashboard={dash}", "--rebalance", "--confirm")
        check(wait_slots_done(dash), "rebalance finished")
        total, errs, lost = w.finish([pport])
        check(lost == 0 and errs == 0, "writer through the Go proxy during migrations",
              f"acked={total} errors={errs} lost={lost} first errors={w.errors[:3]}")
        say(f"  writer: {total} acknowledged writes, {errs} errors, {lost} lost")
        check(c.mget([f"b:pre:{i}" for i in range(2000)]) == [str(i).encode() for i in range(2000)],
              "2000 keys written before the migrations read back through the Go proxy")
        admin(who(), f"--dashboard={dash}", "--promote-server", "--gid=2", f"--addr={servers[3]}")
        time.sleep(1.5)
        redis_cli_roundtrip(pport, "b-after-promote")
        errs, _ = proxy_errors_in_stats(dash)
        check(not errs, "Rust dashboard's stats of the Go proxy", str(errs))
        for which in ("go", "rust"):
            for verb in ("--proxy-status", "--group-status", "--slots-status"):
                r = admin(which, f"--dashboard={dash}", verb)
                check("[ERROR]" not in r.stderr, f"{which} codis-admin {verb} reports no error", r.stderr[-600:])
        problems = log_problems(f"{workdir}/proxy-go-{pport}.log")
        check(not problems, "Go proxy log has no error lines", "\n    ".join(problems[:10]))
        admin(who(), f"--dashboard={dash}", "--shutdown")
    finally:
        procs.stop_all()


def normalise(text):
    """Removes what differs between runs and implementations by nature: times, pids, paths, log prefixes."""
    text = re.sub(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \S+\.(go|rs):\d+: ", "", text, flags=re.M)
    text = re.sub(r"/tmp/interop-go-[A-Za-z0-9_-]+", "<workdir>", text)
    try:
        v = json.loads(text)
    except ValueError:
        return text
    volatile = {"start_time", "pid", "pwd", "sys", "hostname", "unixtime", "runtime", "rusage", "qps", "total",
                "fails", "alive", "errors", "cmd", "usecs", "usecs_percall", "calls", "version", "compile"}

    def walk(x):
        if isinstance(x, dict) and "redis_version" in x:
            # A server's INFO, as the dashboard last read it: it changes every second.
            return f"<INFO of a redis {x['redis_version']}>"
        if isinstance(x, dict):
            return {k: ("<v>" if k in volatile else walk(val)) for k, val in x.items()}
        if isinstance(x, list):
            return [walk(e) for e in x]
        return x

    return json.dumps(walk(v), indent=4, sort_keys=True)


def models(text):
    """The models part of `codis-admin --dashboard=X slots|group|proxy` (the rest is live stats)."""
    v = json.loads(text)
    return normalise(json.dumps(v["models"] if isinstance(v, dict) else v))


READONLY_DASH = [["config"], ["model"], ["slots"], ["group"], ["proxy"], ["stats"], ["--slots-status"],
                 ["--list-proxy"], ["--list-group"], ["--proxy-status"], ["--group-status"]]
READONLY_PROXY = [["config"], ["model"], ["slots"], ["stats"]]


def compare_admins(label, args_list, target_flag, record_dir, tag):
    """Runs every read-only verb with both admins; outputs compared after normalising."""
    same = 0
    for args in args_list:
        outs = {}
        for which in ("go", "rust"):
            r = admin(which, target_flag, *args, ok=False)
            outs[which] = (r.returncode, normalise(r.stdout), normalise(r.stderr))
        name = " ".join(args)
        if outs["go"] == outs["rust"]:
            same += 1
        else:
            check(False, f"{label}: {name} same output from both admins",
                  "\n" + "\n".join(diff_lines(outs["go"], outs["rust"])))
        if record_dir:
            fn = re.sub(r"[^a-z0-9]+", "_", f"{tag} {name}".lower()).strip("_")
            with open(os.path.join(record_dir, f"d_{fn}.txt"), "w") as f:
                for which in ("go", "rust"):
                    rc, out, err = outs[which]
                    f.write(f"### {which} codis-admin {target_flag.split('=')[0]}=ADDR {name} (exit {rc})\n")
                    f.write(f"--- stdout\n{compact(out)}\n--- stderr\n{err}\n")
    check(same == len(args_list), f"{label}: {same}/{len(args_list)} read-only verbs give the same output")


def locked_start(binary, cfg, seconds=6):
    """Output of a dashboard started while the product's lock is held (both retry every 2 s)."""
    try:
        r = subprocess.run([binary, f"--config={cfg}"], capture_output=True, text=True, timeout=seconds)
        return f"exit {r.returncode}\n{r.stdout}{r.stderr}"
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"") + (e.stderr or b"")
        return "still retrying\n" + (out.decode(errors="replace") if isinstance(out, bytes) else out)


def error_verbs(servers):
    """Verbs the dashboard refuses (state left unchanged), as in the c1 recording."""
    return [["--create-group", "--gid=1"], ["--create-group", "--gid=0"], ["--remove-group", "--gid=1"],
            ["--group-add", "--gid=1", f"--addr={servers[0]}"], ["--group-del", "--gid=1", f"--addr={servers[0]}"],
            ["--promote-server", "--gid=1", f"--addr={servers[0]}"], ["--slot-action", "--create", "--sid=1024",
                                                                      "--gid=1"],
            ["--slot-action", "--create", "--sid=5", "--gid=99"], ["--remove-proxy", "--token=nosuchtoken"],
            ["--slots-assign", "--beg=10", "--end=5", "--gid=1", "--confirm"],
            ["--sync-action", "--create", "--addr=127.0.0.1:1"], ["--remove-group", "--gid=99"]]


def harmless_verbs(servers):
    """Write verbs that leave the cluster working: each admin runs each against a dashboard."""
    return [["--reinit-proxy", "--all"], ["--slot-action", "--interval=0"], ["--slot-action", "--disabled=0"],
            ["--replica-groups", "--gid=1", f"--addr={servers[1]}", "--enable"],
            ["--replica-groups", "--gid=1", f"--addr={servers[1]}", "--disable"], ["--resync-group", "--all"],
            ["--resync-group", "--gid=2"], ["--reload"], ["--log-level=INFO"]]


def run_harmless(dash, servers, label):
    for args in harmless_verbs(servers):
        outs = {}
        for which in ("go", "rust"):
            r = admin(which, f"--dashboard={dash}", *args)
            outs[which] = (r.returncode, normalise(r.stdout))
        check(outs["go"] == outs["rust"], f"{label}: '{' '.join(args)}' same result through both admins",
              f"go {outs['go']} rust {outs['rust']}")


def error_outputs(dash, servers):
    """{verb: {admin: (exit code, cause)}} for the refused verbs."""
    out = {}
    for args in error_verbs(servers):
        out[" ".join(args)] = {}
        for which in ("go", "rust"):
            r = admin(which, f"--dashboard={dash}", *args, ok=False)
            causes = re.findall(r"^\[error\]: (.*)$", r.stderr, flags=re.M)
            out[" ".join(args)][which] = (r.returncode, causes[0] if causes else r.stderr.strip()[-300:])
    return out


def coordinator_outputs(coord):
    """--dashboard-list and --config-dump through both admins."""
    out = {}
    for args in (["--dashboard-list"], ["--config-dump", f"--product={PRODUCT}"]):
        for which in ("go", "rust"):
            r = admin(which, *args, coord.flag(), ok=False)
            out[(" ".join(args), which)] = (r.returncode, normalise(r.stdout))
    return out


def compact(text):
    """For the recorded files only: long lists (1024 slots) keep their first 3 entries."""
    try:
        v = json.loads(text)
    except ValueError:
        return text

    def walk(x):
        if isinstance(x, dict):
            return {k: walk(val) for k, val in x.items()}
        if isinstance(x, list):
            return [walk(e) for e in x[:3]] + [f"<{len(x) - 3} more>"] if len(x) > 8 else [walk(e) for e in x]
        return x

    return json.dumps(walk(v), indent=4, sort_keys=True)


def diff_lines(a, b):
    import difflib
    return list(difflib.unified_diff(f"{a[0]}\n{a[1]}\n{a[2]}".splitlines(), f"{b[0]}\n{b[1]}\n{b[2]}".splitlines(),
                                     "go", "rust", lineterm="", n=1))[:40]


def scenario_c_d(coord, workdir, record_dir):
    """Mixed fleet under each dashboard; Go dashboard replaced by ours; read-only verbs compared."""
    say(f"## c/d. Mixed fleet: Go + Rust proxies, Go dashboard then ours ({coord.kind})")
    procs = Procs(workdir)
    try:
        servers = [start_server(procs, ours("codis-server"), BASE + 41 + i) for i in range(4)]
        dash = start_dashboard(procs, "go", coord, BASE + 82)
        gport, rport = BASE + 49, BASE + 59
        gadmin = start_proxy(procs, "go", gport, BASE + 51)
        radmin = start_proxy(procs, "rust", rport, BASE + 61)
        build_groups(lambda: "go", dash, servers)
        wait_replicas(servers)
        admin("go", f"--dashboard={dash}", "--create-proxy", f"--addr={gadmin}")
        admin("rust", f"--dashboard={dash}", "--create-proxy", f"--addr={radmin}")
        admin("rust", f"--dashboard={dash}", "--slots-assign", "--beg=0", "--end=1023", "--gid=1", "--confirm")
        w = Writer([gport, rport], "c:w1")
        w.start()
        migrate("go", dash, 0, 127, 2, "Go dashboard, mixed fleet")
        migrate("rust", dash, 128, 255, 2, "Go dashboard driven by our codis-admin, mixed fleet")
        total, errs, lost = w.finish([gport, rport])
        check(lost == 0 and errs == 0, "writer through both proxies under the Go dashboard",
              f"acked={total} errors={errs} lost={lost} first errors={w.errors[:3]}")
        say(f"  writer: {total} acknowledged writes, {errs} errors, {lost} lost")
        errs_, _ = proxy_errors_in_stats(dash)
        check(not errs_, "Go dashboard's stats of both proxies", str(errs_))
        say("### d. read-only verbs against the Go dashboard and both proxies")
        compare_admins("Go dashboard", READONLY_DASH, f"--dashboard={dash}", record_dir, f"{coord.kind} godash")
        compare_admins("Go proxy", READONLY_PROXY, f"--proxy={gadmin}", record_dir, f"{coord.kind} goproxy")
        compare_admins("Rust proxy", READONLY_PROXY, f"--proxy={radmin}", record_dir, f"{coord.kind} rustproxy")
        run_harmless(dash, servers, "Go dashboard")
        go_errors = error_outputs(dash, servers)
        for verb, by in go_errors.items():
            check(by["go"] == by["rust"], f"Go dashboard refuses '{verb}' the same way through both admins",
                  f"go {by['go']} rust {by['rust']}")
        coord_out = coordinator_outputs(coord)
        for (verb, which), v in coord_out.items():
            if which == "rust":
                check(v == coord_out[(verb, "go")], f"{verb} on a Go-made {coord.kind} tree: same output from both admins",
                      "\n" + "\n".join(diff_lines((0, coord_out[(verb, 'go')][1], ''), (0, v[1], ''))))
        go_model = {v: models(admin("go", f"--dashboard={dash}", v).stdout) for v in ("slots", "group", "proxy")}
        problems = log_problems(f"{workdir}/dashboard-go.log")
        check(not problems, "Go dashboard log has no error lines", "\n    ".join(problems[:10]))
        # Hand over: stop Go's dashboard cleanly (its lock goes), start ours on the same coordinator.
        admin("go", f"--dashboard={dash}", "--shutdown")
        procs.procs.pop("dashboard-go").wait(20)
        dash = start_dashboard(procs, "rust", coord, BASE + 82)
        time.sleep(1.0)
        for k, before in go_model.items():
            after = models(admin("go", f"--dashboard={dash}", k).stdout)
            check(before == after, f"after the handover our dashboard shows Go's {k}",
                  "\n" + "\n".join(diff_lines((0, before, ""), (0, after, ""))))
        say("### d. read-only verbs against our dashboard (same state)")
        compare_admins("Rust dashboard", READONLY_DASH, f"--dashboard={dash}", record_dir, f"{coord.kind} rustdash")
        run_harmless(dash, servers, "our dashboard")
        rust_errors = error_outputs(dash, servers)
        for verb, by in rust_errors.items():
            check(by["go"] == by["rust"], f"our dashboard refuses '{verb}' the same way through both admins",
                  f"go {by['go']} rust {by['rust']}")
            check(by["go"] == go_errors[verb]["go"], f"'{verb}': same refusal from the Go dashboard and ours",
                  f"go dashboard {go_errors[verb]['go']} ours {by['go']}")
        if record_dir:
            with open(os.path.join(record_dir, f"d_{coord.kind}_refused_verbs.txt"), "w") as f:
                for verb, by in go_errors.items():
                    f.write(f"{verb}\n  Go dashboard:   go admin {by['go']} / rust admin {by['rust']}\n")
                    r = rust_errors[verb]
                    f.write(f"  our dashboard:  go admin {r['go']} / rust admin {r['rust']}\n")
        w = Writer([gport, rport], "c:w2")
        w.start()
        migrate("go", dash, 0, 127, 1, "Rust dashboard (after handover), mixed fleet")
        admin("rust", f"--dashboard={dash}", "--rebalance", "--confirm")
        check(wait_slots_done(dash), "rebalance under our dashboard finished")
        total, errs, lost = w.finish([gport, rport])
        check(lost == 0 and errs == 0, "writer through both proxies under our dashboard",
              f"acked={total} errors={errs} lost={lost} first errors={w.errors[:3]}")
        say(f"  writer: {total} acknowledged writes, {errs} errors, {lost} lost")
        errs_, _ = proxy_errors_in_stats(dash)
        check(not errs_, "our dashboard's stats of both proxies", str(errs_))
        problems = log_problems(f"{workdir}/proxy-go-{gport}.log")
        check(not problems, "Go proxy log has no error lines", "\n    ".join(problems[:10]))
        # And back: our dashboard dies (kill -9, its lock stays), the Go codis-admin removes the
        # lock, the Go dashboard takes over what ours changed.
        ours_model = {v: models(admin("rust", f"--dashboard={dash}", v).stdout) for v in ("slots", "group", "proxy")}
        procs.stop("dashboard-rust", signal.SIGKILL)
        held = locked_start(go("codis-dashboard"), f"{workdir}/dashboard-rust-semi-async.toml")
        check("acquire lock of interop failed" in held, "the Go dashboard does not start while our lock is held",
              held[-300:])
        admin("go", "--remove-lock", f"--product={PRODUCT}", coord.flag())
        dash = start_dashboard(procs, "go", coord, BASE + 82, name="dashboard-go2")
        time.sleep(1.0)
        for k, before in ours_model.items():
            after = models(admin("rust", f"--dashboard={dash}", k).stdout)
            check(before == after, f"the Go dashboard shows the {k} our dashboard left",
                  "\n" + "\n".join(diff_lines((0, before, ""), (0, after, ""))))
        w = Writer([gport, rport], "c:w3")
        w.start()
        migrate("go", dash, 0, 31, 2, "Go dashboard again after our dashboard")
        total, errs, lost = w.finish([gport, rport])
        check(lost == 0 and errs == 0, "writer through both proxies after the second handover",
              f"acked={total} errors={errs} lost={lost} first errors={w.errors[:3]}")
        say(f"  writer: {total} acknowledged writes, {errs} errors, {lost} lost")
        problems = log_problems(f"{workdir}/dashboard-go2.log")
        check(not problems, "second Go dashboard log has no error lines", "\n    ".join(problems[:10]))
        admin("go", f"--dashboard={dash}", "--shutdown")
    finally:
        procs.stop_all()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--coord", default="both", choices=["fs", "zk", "both"])
    ap.add_argument("--scenarios", default="a,b,cd")
    ap.add_argument("--record", help="directory for the report and the read-only outputs")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = ap.parse_args()
    if not GO or not LEGACY:
        print("SKIPPED: set GO_CODIS_BIN (dir of the Go codis-dashboard/codis-proxy/codis-admin) "
              "and LEGACY_SERVER (codis-server 3.2.11)")
        return 0
    for b in ("codis-server", "codis-proxy", "codis-dashboard", "codis-admin"):
        if not os.path.exists(ours(b)):
            raise SystemExit(f"{ours(b)} missing: cargo build --bins (or set RCODIS_BIN)")
    coords = ["fs", "zk"] if args.coord == "both" else [args.coord]
    if args.record:
        os.makedirs(args.record, exist_ok=True)
    t0 = time.time()
    for kind in coords:
        for sc in args.scenarios.split(","):
            workdir = tempfile.mkdtemp(prefix=f"interop-go-{kind}-{sc}-")
            procs = Procs(workdir)
            try:
                if kind == "fs":
                    coord = Coord("fs", os.path.join(workdir, "coord"))
                else:
                    coord = Coord("zk", start_zk(procs, BASE + 90))
                {"a": scenario_a, "b": scenario_b}.get(sc, lambda c, w: scenario_c_d(c, w, args.record))(coord,
                                                                                                         workdir)
            except Exception as e:  # noqa: BLE001 - a broken scenario is a failure, the others still run
                check(False, f"scenario {sc} ({kind}) ran to the end", repr(e))
            finally:
                procs.stop_all()
                if args.keep or FAILS:
                    say(f"  (logs kept in {workdir})")
                else:
                    shutil.rmtree(workdir, ignore_errors=True)
    say(f"\n{len(FAILS)} failures, {time.time() - t0:.0f} s")
    for f in FAILS:
        say(f"  - {f.splitlines()[0] if f else f}")
    if args.record:
        with open(os.path.join(args.record, "report.txt"), "w") as f:
            f.write(re.sub(r"/tmp/interop-go-[A-Za-z0-9_-]+", "<workdir>", "\n".join(REPORT)) + "\n")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
