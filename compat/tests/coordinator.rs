//! The coordinator clients against a real ZooKeeper and a real etcd: Go's layout and ACLs,
//! ephemerals kept across a ZooKeeper session expiry and an etcd TTL lapse, watches.

mod peers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use compat::coordinator::zk::ZkClient;
use compat::coordinator::{etcd::EtcdClient, Client, CoordinatorError, Kind, Spec};
use compat::models::{paths, Topom};
use compat::store::Store;
use zookeeper_client as zkc;

async fn eventually<F, Fut>(what: &str, timeout: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within {timeout:?}");
}

/// What every backend with ephemerals must do, on `c`; `other` is a second client that watches.
async fn common_semantics(client: Arc<dyn Client>, other: &dyn Client) {
    let c = client.as_ref();
    // create / update / read / list / delete, Go's Client contract.
    c.create("/codis3/t/a/x", b"1").await.unwrap();
    assert!(matches!(c.create("/codis3/t/a/x", b"2").await, Err(CoordinatorError::NodeExists(_))));
    c.update("/codis3/t/a/x", b"3").await.unwrap();
    c.update("/codis3/t/a/y", b"4").await.unwrap();
    assert_eq!(other.read("/codis3/t/a/x", true).await.unwrap().unwrap(), b"3");
    let mut l = other.list("/codis3/t/a", true).await.unwrap();
    l.sort();
    assert_eq!(l, vec!["/codis3/t/a/x", "/codis3/t/a/y"]);
    assert_eq!(c.read("/codis3/t/nope", false).await.unwrap(), None);
    assert!(matches!(c.read("/codis3/t/nope", true).await, Err(CoordinatorError::NoNode(_))));
    assert!(c.list("/codis3/t/nope", false).await.unwrap().is_empty());
    c.delete("/codis3/t/a/x").await.unwrap();
    c.delete("/codis3/t/a/x").await.unwrap();
    assert_eq!(other.read("/codis3/t/a/x", false).await.unwrap(), None);

    // The dashboard lock through the store, at Go's path with Go's bytes.
    let store = Store::new(client.clone(), "t");
    let topom = Topom { token: "tok".into(), pid: 7, ..Default::default() };
    store.acquire(&topom).await.unwrap();
    assert!(store.acquire(&topom).await.is_err());
    assert_eq!(other.read(&paths::lock_path("t"), true).await.unwrap().unwrap(), topom.encode());
    store.release().await.unwrap();

    // Watch a Jodis directory, register an ephemeral, see the watch fire and the node listed.
    let (sig, nodes) = other.watch_in_order("/jodis/t").await.unwrap();
    assert!(nodes.is_empty());
    let path = paths::jodis_path("t", "tok");
    let mut eph = c.create_ephemeral(&path, b"{}").await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), sig).await.expect("watch fired on a new child");
    let (_sig, nodes) = other.watch_in_order("/jodis/t").await.unwrap();
    assert_eq!(nodes, vec![path.clone()]);
    assert!(matches!(c.create_ephemeral(&path, b"{}").await, Err(CoordinatorError::NodeExists(_))));

    // Sequential ephemerals get increasing names under the directory.
    let (_s1, n1) = c.create_ephemeral_in_order("/codis3/t/seq", b"a").await.unwrap();
    let (_s2, n2) = c.create_ephemeral_in_order("/codis3/t/seq", b"b").await.unwrap();
    assert!(n1.starts_with("/codis3/t/seq/") && n2 > n1, "{n1} {n2}");
    assert_eq!(other.read(&n2, true).await.unwrap().unwrap(), b"b");

    // Deleting a registered ephemeral gives it up: its signal fires and it stays deleted.
    assert!(!eph.has_fired());
    c.delete(&path).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), eph).await.expect("ephemeral signal fired on delete");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(other.read(&path, false).await.unwrap(), None);
}

async fn zk_connect(addr: &str, auth: &str, timeout: Duration) -> Arc<dyn Client> {
    Spec::new("zookeeper", addr, auth).unwrap().connect(timeout).await.unwrap()
}

async fn raw_zk(addr: &str) -> zkc::Client {
    zkc::Client::connect(addr).await.unwrap()
}

#[tokio::test]
async fn zookeeper_layout_acls_and_session_expiry() {
    let Some(zk) = peers::zookeeper() else { return };
    let c = zk_connect(&zk.addr, "", Duration::from_secs(2)).await;
    let other = zk_connect(&zk.addr, "", Duration::from_secs(2)).await;
    common_semantics(c.clone(), other.as_ref()).await;

    // Go's ACLs: directories world:anyone cdrwa, data nodes world:anyone rwa (as in
    // codis-3.2/b1_zk_zkcli_after_setup.txt: "'world,'anyone : rwa" on the topom node).
    c.update("/codis3/t/topom", b"{}").await.unwrap();
    let raw = raw_zk(&zk.addr).await;
    let (acl, _) = raw.get_acl("/codis3/t").await.unwrap();
    assert_eq!(acl, vec![zkc::Acl::new(zkc::Permission::ALL, zkc::AuthId::anyone())]);
    let (acl, _) = raw.get_acl("/codis3/t/topom").await.unwrap();
    let rwa = zkc::Permission::READ | zkc::Permission::WRITE | zkc::Permission::ADMIN;
    assert_eq!(acl, vec![zkc::Acl::new(rwa, zkc::AuthId::anyone())]);

    // With user:password the nodes carry a digest ACL; a client without it cannot read them.
    let authed = zk_connect(&zk.addr, "codis:secret", Duration::from_secs(2)).await;
    authed.update("/codis3/secure/topom", b"x").await.unwrap();
    let raw_authed = zkc::Client::connector().with_auth("digest", b"codis:secret").connect(&zk.addr).await.unwrap();
    let (acl, _) = raw_authed.get_acl("/codis3/secure/topom").await.unwrap();
    assert_eq!(acl[0].scheme(), "digest");
    assert_eq!(acl[0].id(), compat::coordinator::zk::digest_id("codis", "secret"));
    let e = other.read("/codis3/secure/topom", true).await.unwrap_err().to_string();
    assert!(e.contains("zookeeper read /codis3/secure/topom failed"), "{e}");
    assert_eq!(authed.read("/codis3/secure/topom", true).await.unwrap().unwrap(), b"x");

    // Session expiry: freeze the server past the session timeout; on thaw it expires the
    // session. The client must come back with a new session and re-create its ephemeral.
    let zc = ZkClient::connect(&zk.addr, "", Duration::from_secs(2)).await.unwrap();
    let path = paths::jodis_path("t", "expiring");
    let mut sig = zc.create_ephemeral(&path, b"online").await.unwrap();
    let old = zc.session_id().await.unwrap();
    // On thaw the server races the client's reconnect; a reconnect that wins keeps the old
    // session alive, so freeze again until the session really expired. The freeze is well past
    // the negotiated timeout (the server raises 2 s to its minimum, 2 ticks = 4 s): the longer
    // the client has been cut off, the later its reconnect comes after the thaw.
    for _attempt in 0..8 {
        zk.pause(true);
        tokio::time::sleep(Duration::from_secs(7)).await;
        zk.pause(false);
        tokio::time::sleep(Duration::from_secs(3)).await;
        if zc.session_id().await != Some(old) {
            break;
        }
    }
    let raw = raw_zk(&zk.addr).await;
    eventually("ephemeral re-created in a new session", Duration::from_secs(20), || {
        let raw = &raw;
        let path = &path;
        async move {
            match raw.check_stat(path).await {
                Ok(Some(stat)) => stat.ephemeral_owner != 0 && stat.ephemeral_owner != old,
                _ => false,
            }
        }
    })
    .await;
    assert_ne!(zc.session_id().await.unwrap(), old);
    assert_eq!(other.read(&path, true).await.unwrap().unwrap(), b"online");
    assert!(!sig.has_fired(), "a kept ephemeral's signal must not fire");

    // Deleted behind the client's back: restored too.
    raw.delete(&path, None).await.unwrap();
    eventually("ephemeral restored after an outside delete", Duration::from_secs(10), || {
        let raw = &raw;
        let path = &path;
        async move { matches!(raw.check_stat(path).await, Ok(Some(_))) }
    })
    .await;

    // Closing the client removes its ephemerals at once and refuses later calls.
    zc.close().await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), sig).await.expect("signal fires on close");
    eventually("ephemeral gone after close", Duration::from_secs(10), || {
        let raw = &raw;
        let path = &path;
        async move { matches!(raw.check_stat(path).await, Ok(None)) }
    })
    .await;
    assert!(matches!(zc.read(&path, false).await, Err(CoordinatorError::Closed("zk"))));
    c.close().await.unwrap();
}

#[tokio::test]
async fn etcd_v2_layout_ttl_ephemerals_and_watches() {
    let Some(etcd) = peers::etcd() else { return };
    let spec = Spec::new("etcd", &etcd.addr, "").unwrap();
    assert_eq!(spec.kind, Kind::Etcd);
    let c = spec.connect(Duration::from_secs(2)).await.unwrap();
    let other = spec.connect(Duration::from_secs(2)).await.unwrap();
    common_semantics(c.clone(), other.as_ref()).await;

    // The keys are where Go's etcd client puts them: v2 keys under the same paths.
    c.update("/codis3/t/slots/slot-0000", b"{\n    \"id\": 0\n}").await.unwrap();
    let raw = peers::http_get(&etcd.addr, "/v2/keys/codis3/t/slots/slot-0000");
    assert!(raw.contains(r#""key":"/codis3/t/slots/slot-0000","value":"{\n    \"id\": 0\n}""#), "{raw}");

    // An ephemeral has the client timeout as TTL and outlives it thanks to refreshes.
    let ec = EtcdClient::new(&etcd.addr, "", Duration::from_secs(2)).unwrap();
    let path = paths::jodis_path("t", "ttl");
    let mut sig = ec.create_ephemeral(&path, b"online").await.unwrap();
    let raw = peers::http_get(&etcd.addr, &format!("/v2/keys{path}"));
    assert!(raw.contains(r#""ttl":2"#) || raw.contains(r#""ttl":1"#), "{raw}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(other.read(&path, true).await.unwrap().unwrap(), b"online");

    // Removed behind the client's back (as a lapsed TTL would be): re-created.
    assert!(peers::http(&etcd.addr, "DELETE", &format!("/v2/keys{path}")).starts_with("HTTP/1.1 200"));
    eventually("ephemeral re-created", Duration::from_secs(10), || {
        let other = other.clone();
        let path = path.clone();
        async move { matches!(other.read(&path, false).await, Ok(Some(_))) }
    })
    .await;
    assert!(!sig.has_fired());

    // Closing deletes the registered ephemerals and fires their signals.
    ec.close().await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), sig).await.expect("signal fires on close");
    assert_eq!(other.read(&path, false).await.unwrap(), None);
    assert!(matches!(ec.read(&path, false).await, Err(CoordinatorError::Closed("etcd"))));

    // An unreachable endpoint is skipped for the next one.
    let dead = format!("127.0.0.1:{}", peers::free_port());
    let failover = EtcdClient::new(&format!("{dead},{}", etcd.addr), "", Duration::from_secs(2)).unwrap();
    assert_eq!(failover.read("/codis3/t/slots/slot-0000", true).await.unwrap().unwrap(), b"{\n    \"id\": 0\n}");
    let only_dead = EtcdClient::new(&dead, "", Duration::from_secs(2)).unwrap();
    let e = only_dead.read("/x", false).await.unwrap_err().to_string();
    assert!(e.starts_with("etcd read /x failed: no etcd endpoint reachable"), "{e}");
}

#[tokio::test]
async fn filesystem_through_the_spec() {
    let dir = peers::temp_dir("fs");
    let c = Spec::new("filesystem", dir.0.to_str().unwrap(), "").unwrap().connect(Duration::ZERO).await.unwrap();
    c.update("/codis3/t/sentinel", b"{}").await.unwrap();
    assert!(dir.0.join("data/codis3/t/sentinel").is_file());
    assert!(matches!(c.create_ephemeral("/jodis/t/x", b"").await, Err(CoordinatorError::NotSupported)));
}
