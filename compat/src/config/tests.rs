//! The configs against the recordings.

use super::dashboard::DASHBOARD_DEFAULT_CONFIG_OUTPUT;
use super::proxy::PROXY_DEFAULT_CONFIG_OUTPUT;
use super::*;
use crate::models::json;
use crate::rdb::tests::reference_dir;

/// `/var/lib/codis/proxy-19000.toml` from codis-3.2/a03_configs_used.txt.
const A03_PROXY_19000: &str = r#"# Codis proxy config (derived from `codis-proxy --default-config`); all other keys = defaults
product_name = "codis-demo"
product_auth = ""
session_auth = ""
admin_addr = "127.0.0.1:11080"
proto_type = "tcp4"
proxy_addr = "127.0.0.1:19000"
jodis_name = "zookeeper"
jodis_addr = "127.0.0.1:2181"
jodis_auth = ""
jodis_timeout = "20s"
jodis_compatible = false
proxy_datacenter = ""
proxy_max_clients = 1000
proxy_max_offheap_size = "1024mb"
proxy_heap_placeholder = "256mb"
backend_ping_period = "5s"
"#;

/// `/var/lib/codis/dashboard.toml` from codis-3.2/a03_configs_used.txt.
const A03_DASHBOARD: &str = r#"# Codis dashboard config (derived from `codis-dashboard --default-config`)
coordinator_name = "zookeeper"
coordinator_addr = "127.0.0.1:2181"
coordinator_auth = ""
product_name = "codis-demo"
product_auth = ""
admin_addr = "127.0.0.1:18080"
migration_method = "semi-async"
migration_parallel_slots = 100
migration_async_maxbulks = 200
migration_async_maxbytes = "32mb"
migration_async_numkeys = 500
migration_timeout = "30s"
sentinel_client_timeout = "10s"
# single sentinel -> quorum 1 (default 2 would never reach ODOWN)
sentinel_quorum = 1
sentinel_parallel_syncs = 1
# example/dashboard.py uses 5s (default 30s)
sentinel_down_after = "5s"
sentinel_failover_timeout = "5m"
sentinel_notification_script = ""
sentinel_client_reconfig_script = ""
"#;

/// The `"config"` object of `GET /proxy` (codis-3.2/c2_proxy_api_calls.jsonl), at top level.
const C2_PROXY_CONFIG_JSON: &str = r#"{
    "proto_type": "tcp4",
    "proxy_addr": "127.0.0.1:19000",
    "admin_addr": "127.0.0.1:11080",
    "jodis_name": "zookeeper",
    "jodis_addr": "127.0.0.1:2181",
    "jodis_auth": "",
    "jodis_timeout": "20s",
    "jodis_compatible": false,
    "product_name": "codis-demo",
    "proxy_datacenter": "",
    "proxy_max_clients": 1000,
    "proxy_max_offheap_size": "1gb",
    "proxy_heap_placeholder": "256mb",
    "backend_ping_period": "5s",
    "backend_recv_bufsize": "128kb",
    "backend_recv_timeout": "30s",
    "backend_send_bufsize": "128kb",
    "backend_send_timeout": "30s",
    "backend_max_pipeline": 20480,
    "backend_primary_only": false,
    "backend_primary_parallel": 1,
    "backend_replica_parallel": 1,
    "backend_keepalive_period": "75s",
    "backend_number_databases": 16,
    "session_recv_bufsize": "128kb",
    "session_recv_timeout": "30m",
    "session_send_bufsize": "64kb",
    "session_send_timeout": "30s",
    "session_max_pipeline": 10000,
    "session_keepalive_period": "75s",
    "session_break_on_failure": false,
    "metrics_report_server": "",
    "metrics_report_period": "1s",
    "metrics_report_influxdb_server": "",
    "metrics_report_influxdb_period": "1s",
    "metrics_report_influxdb_username": "",
    "metrics_report_influxdb_database": "",
    "metrics_report_statsd_server": "",
    "metrics_report_statsd_period": "1s",
    "metrics_report_statsd_prefix": ""
}"#;

/// The `"config"` object of `GET /topom` (codis-3.2/c1_dashboard_api_calls.jsonl), at top level.
const C1_DASHBOARD_CONFIG_JSON: &str = r#"{
    "coordinator_name": "zookeeper",
    "coordinator_addr": "127.0.0.1:2181",
    "coordinator_auth": "",
    "admin_addr": "127.0.0.1:18080",
    "product_name": "codis-demo",
    "migration_method": "semi-async",
    "migration_parallel_slots": 100,
    "migration_async_maxbulks": 200,
    "migration_async_maxbytes": "32mb",
    "migration_async_numkeys": 500,
    "migration_timeout": "30s",
    "sentinel_client_timeout": "10s",
    "sentinel_quorum": 1,
    "sentinel_parallel_syncs": 1,
    "sentinel_down_after": "5s",
    "sentinel_failover_timeout": "5m",
    "sentinel_notification_script": "",
    "sentinel_client_reconfig_script": ""
}"#;

#[test]
fn default_texts_are_the_defaults() {
    assert_eq!(ProxyConfig::from_toml_str(PROXY_DEFAULT_CONFIG_OUTPUT).unwrap(), ProxyConfig::default());
    assert_eq!(DashboardConfig::from_toml_str(DASHBOARD_DEFAULT_CONFIG_OUTPUT).unwrap(), DashboardConfig::default());
    ProxyConfig::default().validate().unwrap();
    DashboardConfig::default().validate().unwrap();
    // The empty file is the defaults.
    assert_eq!(ProxyConfig::from_toml_str("").unwrap(), ProxyConfig::default());
}

#[test]
fn default_config_output_matches_recording() {
    let Some(dir) = reference_dir() else {
        eprintln!("SKIPPED: shared/reference recordings not found (set RCODIS_REFERENCE_DIR)");
        return;
    };
    let a01 = std::fs::read(dir.join("codis-3.2/a01_dashboard_default_config.toml")).unwrap();
    let a02 = std::fs::read(dir.join("codis-3.2/a02_proxy_default_config.toml")).unwrap();
    assert_eq!(DASHBOARD_DEFAULT_CONFIG_OUTPUT.as_bytes(), &a01[..]);
    assert_eq!(PROXY_DEFAULT_CONFIG_OUTPUT.as_bytes(), &a02[..]);
}

#[test]
fn recorded_configs_load_and_print_like_go() {
    let p = ProxyConfig::from_toml_str(A03_PROXY_19000).unwrap();
    assert_eq!(p.proxy_addr, "127.0.0.1:19000");
    assert_eq!(p.proxy_max_offheap_size, ByteSize(1 << 30));
    assert_eq!(p.session_recv_timeout.duration(), std::time::Duration::from_secs(1800));
    assert_eq!(json::to_string_indent(&p), C2_PROXY_CONFIG_JSON);

    let d = DashboardConfig::from_toml_str(A03_DASHBOARD).unwrap();
    assert_eq!(d.sentinel_quorum, 1);
    assert_eq!(d.forward_method(), crate::models::FORWARD_SEMI_ASYNC);
    assert_eq!(json::to_string_indent(&d), C1_DASHBOARD_CONFIG_JSON);

    // Secrets never reach the JSON; they do reach the TOML text, as in Go.
    let mut p = p;
    p.product_auth = "secret".into();
    p.session_auth = "secret2".into();
    p.metrics_report_influxdb_password = "secret3".into();
    assert!(!json::to_string_indent(&p).contains("secret"));
    let t = p.to_toml_string();
    assert!(t.contains("product_auth = \"secret\"\n") && t.contains("proxy_max_offheap_size = \"1gb\"\n"), "{t}");
    assert_eq!(ProxyConfig::from_toml_str(&t).unwrap(), p);
    let t = d.to_toml_string();
    assert_eq!(DashboardConfig::from_toml_str(&t).unwrap(), d);
}

#[test]
fn recorded_overview_config_sections() {
    // The same comparison on the full recorded responses, when they are available.
    let Some(dir) = reference_dir() else {
        eprintln!("SKIPPED: shared/reference recordings not found (set RCODIS_REFERENCE_DIR)");
        return;
    };
    for (file, path, ours) in [
        ("c2_proxy_api_calls.jsonl", "/proxy", C2_PROXY_CONFIG_JSON),
        ("c1_dashboard_api_calls.jsonl", "/topom", C1_DASHBOARD_CONFIG_JSON),
    ] {
        let raw = std::fs::read_to_string(dir.join("codis-3.2").join(file)).unwrap();
        let line = raw
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|r| {
                r["path"] == path && r["method"] == "GET" && r["response_body"].as_str().is_some_and(|b| !b.is_empty())
            })
            .unwrap();
        let body = line["response_body"].as_str().unwrap();
        let start = body.find("\"config\": {").unwrap() + "\"config\": ".len();
        let end = start + body[start..].find("\n    },").unwrap() + "\n    }".len();
        let section: String =
            body[start..end].split('\n').map(|l| l.strip_prefix("    ").unwrap_or(l)).collect::<Vec<_>>().join("\n");
        assert_eq!(section, ours, "{file}");
    }
}

#[test]
fn bad_configs_get_clear_errors() {
    let e = ProxyConfig::from_toml_str("session_recv_timeout = \"1d\"").unwrap_err();
    assert!(e.to_string().contains("unknown unit \"d\" in duration \"1d\""), "{e}");
    let e = ProxyConfig::from_toml_str("backend_recv_bufsize = \"12xb\"").unwrap_err();
    assert!(e.to_string().contains("invalid bytesize"), "{e}");
    let e = ProxyConfig::from_toml_str("proxy_max_clients = \"many\"").unwrap_err();
    assert!(e.to_string().contains("proxy_max_clients"), "{e}");
    let e = ProxyConfig::from_toml_str("proxy_addr = ").unwrap_err();
    assert!(e.to_string().starts_with("decode config failed"), "{e}");
    assert_eq!(ProxyConfig::from_toml_str("proxy_addr = \"\"").unwrap_err().to_string(), "invalid proxy_addr");
    assert_eq!(
        ProxyConfig::from_toml_str("backend_number_databases = 0").unwrap_err().to_string(),
        "invalid backend_number_databases"
    );
    assert_eq!(ProxyConfig::from_toml_str("jodis_name = \"zookeeper\"").unwrap_err().to_string(), "invalid jodis_addr");
    assert_eq!(
        DashboardConfig::from_toml_str("migration_method = \"async\"").unwrap_err().to_string(),
        "invalid migration_method"
    );
    assert_eq!(
        DashboardConfig::from_toml_str("migration_timeout = \"0\"").unwrap_err().to_string(),
        "invalid migration_timeout"
    );
    // Numbers where Go expects text are printed and parsed (BurntSushi's text unmarshalling).
    let d = DashboardConfig::from_toml_str("migration_timeout = 45\nmigration_async_maxbytes = 4096").unwrap();
    assert_eq!(d.migration_timeout, TimeSize::from_secs(45));
    assert_eq!(d.migration_async_maxbytes, ByteSize(4096));
    // Unknown keys are ignored, as in Go.
    assert!(ProxyConfig::from_toml_str("no_such_key = 1").is_ok());
    let e = ProxyConfig::load_from_file("/nonexistent/proxy.toml").unwrap_err();
    assert!(e.to_string().starts_with("load config /nonexistent/proxy.toml failed: "), "{e}");
}

#[test]
fn proxy_extension_keys_parse_and_stay_out_of_go_output() {
    let p = ProxyConfig::from_toml_str(
        "proxy_pubsub = true\nproxy_transactions = true\nproxy_blocking_commands = true\n\
         proxy_cluster_commands = true\nbackend_failover_hold = \"5s\"\nbackend_failover_hold_max = 7\n",
    )
    .unwrap();
    assert!(p.proxy_pubsub && p.proxy_transactions && p.proxy_blocking_commands && p.proxy_cluster_commands);
    assert_eq!(p.backend_failover_hold.duration(), std::time::Duration::from_secs(5));
    assert_eq!(p.backend_failover_hold_max, 7);
    let d = ProxyConfig::default();
    assert!(!d.proxy_pubsub && !d.proxy_transactions && !d.proxy_blocking_commands && !d.proxy_cluster_commands);
    assert_eq!(d.backend_failover_hold.nanos(), 0);
    let json = json::to_string_indent(&p);
    assert!(!json.contains("proxy_pubsub") && !json.contains("failover_hold"), "{json}");
    assert!(!p.to_toml_string().contains("proxy_pubsub"));
    assert_eq!(
        ProxyConfig::from_toml_str("backend_failover_hold_max = -1").unwrap_err().to_string(),
        "invalid backend_failover_hold_max"
    );
}
