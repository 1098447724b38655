//! The models against the recorded Go bytes.

use super::*;
use crate::rdb::tests::reference_dir;

// Node data copied verbatim from codis-3.2/b1_zk_tree_after_setup.json (and b4 for the failover
// group), so these run without the recordings.
const B1_TOPOM: &str = "{\n    \"token\": \"fa905448007c79ba3f788688a2ec4649\",\n    \"start_time\": \"2026-11-22 01:42:59.124240393 +0000 UTC m=+0.008728442\",\n    \"admin_addr\": \"127.0.0.1:18080\",\n    \"product_name\": \"codis-demo\",\n    \"pid\": 18668,\n    \"pwd\": \"/home/codis\",\n    \"sys\": \"Linux vm 6.18.44-fc-v445 #1 SMP PREEMPT_DYNAMIC @0 x86_64 GNU/Linux\"\n}";
const B1_GROUP_1: &str = "{\n    \"id\": 1,\n    \"servers\": [\n        {\n            \"server\": \"127.0.0.1:6379\",\n            \"datacenter\": \"\",\n            \"action\": {},\n            \"replica_group\": false\n        },\n        {\n            \"server\": \"127.0.0.1:6380\",\n            \"datacenter\": \"\",\n            \"action\": {\n                \"state\": \"synced\"\n            },\n            \"replica_group\": false\n        }\n    ],\n    \"promoting\": {},\n    \"out_of_sync\": false\n}";
const B1_PROXY_1: &str = "{\n    \"id\": 1,\n    \"token\": \"91ebd8e7a3491a145e0c03b773f15833\",\n    \"start_time\": \"2026-11-22 01:43:01.144207562 +0000 UTC m=+0.022047484\",\n    \"admin_addr\": \"127.0.0.1:11080\",\n    \"proto_type\": \"tcp4\",\n    \"proxy_addr\": \"127.0.0.1:19000\",\n    \"jodis_path\": \"/jodis/codis-demo/proxy-91ebd8e7a3491a145e0c03b773f15833\",\n    \"product_name\": \"codis-demo\",\n    \"pid\": 18728,\n    \"pwd\": \"/home/codis\",\n    \"sys\": \"Linux vm 6.18.44-fc-v445 #1 SMP PREEMPT_DYNAMIC @0 x86_64 GNU/Linux\",\n    \"hostname\": \"vm\",\n    \"datacenter\": \"\"\n}";
const B1_SENTINEL: &str = "{\n    \"servers\": [\n        \"127.0.0.1:26379\"\n    ],\n    \"out_of_sync\": false\n}";
const B1_SLOT_0: &str = "{\n    \"id\": 0,\n    \"group_id\": 1,\n    \"action\": {}\n}";
const B1_JODIS_19001: &str = "{\n    \"addr\": \"127.0.0.1:19001\",\n    \"admin\": \"127.0.0.1:11081\",\n    \"start\": \"2026-11-22 01:43:01.133132454 +0000 UTC m=+0.012017972\",\n    \"state\": \"online\",\n    \"token\": \"1a8e58900b5968636957a96bb5d52ab2\"\n}";
// A pending slot action as the dashboard showed it after `slots/action/create-some`
// (codis-3.2/c1_dashboard_api_calls.jsonl, "overview after create-some"), re-indented to top level.
const C1_SLOT_PENDING: &str =
    "{\n    \"id\": 0,\n    \"group_id\": 1,\n    \"action\": {\n        \"index\": 1,\n        \"state\": \"pending\",\n        \"target_id\": 2\n    }\n}";

#[test]
fn recorded_nodes_round_trip_byte_exact() {
    let t = Topom::decode(B1_TOPOM.as_bytes()).unwrap();
    assert_eq!(t.pid, 18668);
    assert_eq!(t.encode(), B1_TOPOM.as_bytes());

    let g = Group::decode(B1_GROUP_1.as_bytes()).unwrap();
    assert_eq!(g.master_addr(), "127.0.0.1:6379");
    assert_eq!(g.servers[1].action.state, ActionState::Synced);
    assert_eq!(g.encode(), B1_GROUP_1.as_bytes());

    let p = Proxy::decode(B1_PROXY_1.as_bytes()).unwrap();
    assert_eq!(p.id, 1);
    assert_eq!(p.encode(), B1_PROXY_1.as_bytes());

    let s = Sentinel::decode(B1_SENTINEL.as_bytes()).unwrap();
    assert_eq!(s.encode(), B1_SENTINEL.as_bytes());

    let m = SlotMapping::decode(B1_SLOT_0.as_bytes()).unwrap();
    assert_eq!(m, SlotMapping::new(0, 1));
    assert_eq!(m.encode(), B1_SLOT_0.as_bytes());

    let m = SlotMapping::decode(C1_SLOT_PENDING.as_bytes()).unwrap();
    assert_eq!(m.action, SlotAction { index: 1, state: ActionState::Pending, target_id: 2 });
    assert_eq!(m.encode(), C1_SLOT_PENDING.as_bytes());

    let j = JodisNode::decode(B1_JODIS_19001.as_bytes()).unwrap();
    assert_eq!(j.encode(), B1_JODIS_19001.as_bytes());
}

#[test]
fn jodis_node_from_proxy_model() {
    let mut p = Proxy::decode(B1_PROXY_1.as_bytes()).unwrap();
    p.proxy_addr = "127.0.0.1:19001".into();
    p.admin_addr = "127.0.0.1:11081".into();
    p.start_time = "2026-11-22 01:43:01.133132454 +0000 UTC m=+0.012017972".into();
    p.token = "1a8e58900b5968636957a96bb5d52ab2".into();
    assert_eq!(JodisNode::online(&p).encode(), B1_JODIS_19001.as_bytes());
}

#[test]
fn go_omitempty_rules() {
    // A proxy not yet registered has id 0 and no jodis path: both omitted (pkg/models/proxy.go).
    let p = Proxy { token: "t".into(), ..Default::default() };
    let s = String::from_utf8(p.encode()).unwrap();
    assert!(!s.contains("\"id\"") && !s.contains("jodis_path"), "{s}");
    assert!(s.contains("\"datacenter\": \"\""), "{s}");
    // An empty sentinel list is omitted, out_of_sync never is.
    assert_eq!(Sentinel::default().encode(), b"{\n    \"out_of_sync\": false\n}");
    // A new group has an empty (not null) server list.
    assert_eq!(
        String::from_utf8(Group { id: 3, ..Default::default() }.encode()).unwrap(),
        "{\n    \"id\": 3,\n    \"servers\": [],\n    \"promoting\": {},\n    \"out_of_sync\": false\n}"
    );
    // Proxy-side slot: only id when offline (c1 /topom/slots after assigning slot 1023 offline
    // shows {"id": 1023, "forward_method": 1}).
    let slot = Slot { id: 1023, ..Default::default() };
    assert_eq!(json::to_vec(&slot), b"{\"id\":1023}");
    let full = Slot {
        id: 5,
        locked: true,
        backend_addr: "a:1".into(),
        backend_addr_group_id: 2,
        migrate_from: "b:2".into(),
        migrate_from_group_id: 1,
        forward_method: FORWARD_SEMI_ASYNC,
        replica_groups: vec![vec!["c:3".into()], vec![]],
    };
    let enc = json::to_vec(&full);
    assert_eq!(
        String::from_utf8(enc.clone()).unwrap(),
        "{\"id\":5,\"locked\":true,\"backend_addr\":\"a:1\",\"backend_addr_group_id\":2,\"migrate_from\":\"b:2\",\
         \"migrate_from_group_id\":1,\"forward_method\":1,\"replica_groups\":[[\"c:3\"],[]]}"
    );
    assert_eq!(json::from_slice::<Slot>(&enc).unwrap(), full);
}

#[test]
fn decode_like_go_unmarshal() {
    // The request body the recording sent to fillslots (c2_proxy_api_calls.jsonl).
    let body = br#"[{"id": 1023, "backend_addr": "127.0.0.1:6381", "backend_addr_group_id": 2, "forward_method": 1}]"#;
    let slots: Vec<Slot> = json::from_slice(body).unwrap();
    assert_eq!(slots[0].backend_addr_group_id, 2);
    assert_eq!(slots[0].forward_method, FORWARD_SEMI_ASYNC);
    // null and missing fields get zero values; unknown fields (Pika's fork adds some) are ignored.
    let g: Group = json::from_slice(
        br#"{"id":1,"servers":[{"server":"a:1","action":null,"role":"master","ReplyOffset":5,"state":1}],"promoting":null}"#,
    )
    .unwrap();
    assert_eq!(g.servers[0].addr, "a:1");
    assert_eq!(g.promoting, Action::default());
    let s: Sentinel = json::from_slice(br#"{"servers":null}"#).unwrap();
    assert!(s.servers.is_empty());
    // Type errors are errors.
    assert!(json::from_slice::<SlotMapping>(br#"{"id":"x"}"#).is_err());
    assert!(json::from_slice::<SlotMapping>(b"not json").is_err());
}

#[test]
fn forward_methods() {
    assert_eq!(parse_forward_method("semi-async"), Some(FORWARD_SEMI_ASYNC));
    assert_eq!(parse_forward_method("SYNC"), Some(FORWARD_SYNC));
    assert_eq!(parse_forward_method("async"), None);
}

/// Every JSON node of every recorded ZooKeeper tree decodes into its model and encodes back to
/// the same bytes.
#[test]
fn every_recorded_tree_node_byte_exact() {
    let Some(dir) = reference_dir() else {
        eprintln!("SKIPPED: shared/reference recordings not found (set RCODIS_REFERENCE_DIR)");
        return;
    };
    let mut checked = 0;
    for name in [
        "b0_zk_tree_before_setup.json",
        "b1_zk_tree_after_setup.json",
        "b2_zk_tree_after_migration_0-99.json",
        "b2_zk_tree_after_migration_0-99_raw_group2_out_of_sync.json",
        "b4_zk_tree_after_failover.json",
        "b5_zk_tree_final_state.json",
    ] {
        let raw = std::fs::read(dir.join("codis-3.2").join(name)).unwrap();
        let nodes: Vec<serde_json::Value> = serde_json::from_slice(&raw).unwrap();
        for n in nodes {
            let path = n["path"].as_str().unwrap();
            let Some(data) = n["data"].as_str().filter(|d| !d.is_empty()) else { continue };
            let ours = reencode(path, data.as_bytes()).unwrap_or_else(|| panic!("{name}: no model for {path}"));
            assert_eq!(String::from_utf8(ours).unwrap(), data, "{name}: {path}");
            // The recording rewrote `pwd` to a neutral path after reading the node, so only
            // nodes without it keep ZooKeeper's original dataLength.
            if !data.contains("\"pwd\"") {
                assert_eq!(n["dataLength"].as_u64(), Some(data.len() as u64), "{name}: {path}");
            }
            checked += 1;
        }
    }
    assert!(checked > 5000, "only {checked} nodes checked");
}

fn reencode(path: &str, data: &[u8]) -> Option<Vec<u8>> {
    let leaf = path.rsplit('/').next()?;
    Some(if path.ends_with("/topom") {
        Topom::decode(data).ok()?.encode()
    } else if path.ends_with("/sentinel") {
        Sentinel::decode(data).ok()?.encode()
    } else if leaf.starts_with("slot-") {
        SlotMapping::decode(data).ok()?.encode()
    } else if leaf.starts_with("group-") {
        Group::decode(data).ok()?.encode()
    } else if path.starts_with("/jodis/") {
        JodisNode::decode(data).ok()?.encode()
    } else if leaf.starts_with("proxy-") {
        Proxy::decode(data).ok()?.encode()
    } else {
        return None;
    })
}

/// The proxy-side slot lists served by the dashboard and the proxy re-encode to the same bytes.
#[test]
fn recorded_slot_lists_byte_exact() {
    let Some(dir) = reference_dir() else {
        eprintln!("SKIPPED: shared/reference recordings not found (set RCODIS_REFERENCE_DIR)");
        return;
    };
    let mut checked = 0;
    for name in ["c1_dashboard_api_calls.jsonl", "c2_proxy_api_calls.jsonl"] {
        let raw = std::fs::read_to_string(dir.join("codis-3.2").join(name)).unwrap();
        for line in raw.lines() {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            let path = r["path"].as_str().unwrap();
            if r["method"] != "GET"
                || (r["status"].as_u64() != Some(200) && r["status"].as_str() != Some("200"))
                || !(path.ends_with("/slots") || path.contains("/slots/"))
            {
                continue;
            }
            if !(path.starts_with("/topom/slots")
                || path.starts_with("/proxy/slots")
                || path.starts_with("/api/topom/slots/")
                || path.starts_with("/api/proxy/slots/"))
            {
                continue;
            }
            let body = r["response_body"].as_str().unwrap();
            let slots: Vec<Slot> = json::from_slice(body.as_bytes()).unwrap();
            assert_eq!(slots.len(), MAX_SLOT_NUM);
            assert_eq!(json::to_string_indent(&slots), body, "{name}: {path}");
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} slot lists checked");
}
