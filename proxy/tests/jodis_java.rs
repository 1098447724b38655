//! The real Jodis Java client (`io.codis.jodis:jodis:0.5.1` with Jedis 2.9.0, from Maven Central)
//! discovers two of our proxies through a real ZooKeeper, round-robins SET/GET across them, and
//! drops a proxy from its pool when that proxy stops. The Java side is
//! `conformance/java/JodisCheck.java`, run from source with the classpath Maven resolves for
//! `conformance/java/pom.xml`.
//!
//! Skips (with the reason) when java, mvn, ZooKeeper or the Maven artifacts are unavailable;
//! `.ci/run` installs them.

mod control;
#[path = "../../compat/tests/peers/mod.rs"]
mod peers;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use conformance::server::{Kind, Server};
use control::*;

fn which(bin: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

/// The classpath of the Jodis client, resolved by Maven (offline first, then from Maven Central).
fn jodis_classpath(pom: &Path, out: &Path) -> Result<String, String> {
    let mut last = String::new();
    for offline in [true, false] {
        let mut cmd = Command::new("mvn");
        cmd.arg("-q").arg("-B").arg("-f").arg(pom);
        if offline {
            cmd.arg("-o");
        }
        cmd.arg("dependency:build-classpath").arg(format!("-Dmdep.outputFile={}", out.display()));
        match cmd.output() {
            Ok(o) if o.status.success() => {
                return std::fs::read_to_string(out).map_err(|e| e.to_string());
            }
            Ok(o) => last = String::from_utf8_lossy(&o.stdout).lines().rev().take(5).collect::<Vec<_>>().join("\n"),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

#[test]
fn jodis_java_client_discovers_and_drops_proxies() {
    if !which("java") || !which("mvn") {
        eprintln!("SKIPPED: java or mvn not installed (apt-get install default-jdk-headless maven)");
        return;
    }
    let java_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/java");
    let tmp = TempDir::new("jodis-java");
    let cp = match jodis_classpath(&java_dir.join("pom.xml"), &tmp.0.join("cp.txt")) {
        Ok(cp) => cp,
        Err(e) => {
            eprintln!("SKIPPED: cannot resolve io.codis.jodis:jodis:0.5.1 from Maven: {e}");
            return;
        }
    };
    let Some(zk) = peers::zookeeper() else { return };
    let server = Server::start(Kind::Codis).expect("server");
    let backend = format!("127.0.0.1:{}", server.port());
    let jodis = format!("jodis_name = \"zookeeper\"\njodis_addr = \"{}\"\njodis_timeout = \"5s\"\n", zk.addr);
    let mut a = ProxyProc::start(&jodis, &[]);
    let b = ProxyProc::start(&jodis, &[]);
    for p in [&a, &b] {
        let xauth = p.xauth();
        let slots: Vec<serde_json::Value> = (0..1024)
            .map(|i| serde_json::json!({"id": i, "backend_addr": backend, "backend_addr_group_id": 1}))
            .collect();
        assert_eq!(
            p.put(&format!("/api/proxy/fillslots/{xauth}"), &serde_json::to_vec(&slots).expect("json")).status,
            200
        );
        assert_eq!(p.put(&format!("/api/proxy/start/{xauth}"), b"").status, 200);
    }

    let mut java = Command::new("java")
        .arg("-cp")
        .arg(cp.trim())
        .arg(java_dir.join("JodisCheck.java"))
        .args([zk.addr.as_str(), "/jodis/codis-demo", &a.proxy_port.to_string(), &b.proxy_port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start java");
    let mut stdin = java.stdin.take().expect("stdin");
    let mut lines = BufReader::new(java.stdout.take().expect("stdout")).lines();
    let mut next = || lines.next().and_then(Result::ok).unwrap_or_else(|| "(java exited)".into());

    assert_eq!(next(), format!("ROUND-ROBIN {} {}", a.proxy_port, b.proxy_port));
    assert_eq!(next(), format!("DROP {}", a.proxy_port));
    a.proc.signal(libc::SIGTERM);
    assert!(a.proc.wait_exit(Duration::from_secs(10)).is_some(), "proxy A did not stop");
    writeln!(stdin, "dropped").expect("tell java");
    assert_eq!(next(), format!("DROPPED {}", a.proxy_port));
    let status = java.wait().expect("wait java");
    assert!(status.success(), "java exited with {status}");
}
