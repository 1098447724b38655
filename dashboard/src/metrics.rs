//! Beyond Codis: Prometheus text exposition of the dashboard's view (`GET /metrics`).

use std::fmt::Write;
use std::sync::atomic::Ordering;

use compat::models::ActionState;

use crate::topom::Topom;

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The current metrics; a store failure shows as `codis_dashboard_store_up 0`.
pub async fn render(t: &Topom) -> String {
    let mut o = String::new();
    let product = esc(&t.config.product_name);
    let _ = writeln!(o, "# TYPE codis_dashboard_online gauge");
    let _ = writeln!(o, "codis_dashboard_online{{product=\"{product}\"}} {}", u8::from(t.is_online()));
    let stats = match t.stats().await {
        Ok(s) => s,
        Err(_) => {
            let _ = writeln!(o, "codis_dashboard_store_up{{product=\"{product}\"}} 0");
            return o;
        }
    };
    let _ = writeln!(o, "codis_dashboard_store_up{{product=\"{product}\"}} 1");
    let _ = writeln!(o, "# TYPE codis_slots gauge");
    let mut by_state: std::collections::BTreeMap<String, i64> = Default::default();
    let mut by_group: std::collections::BTreeMap<i64, i64> = Default::default();
    for m in &stats.slots {
        let st = if m.action.state == ActionState::Nothing { "none".to_string() } else { m.action.state.to_string() };
        *by_state.entry(st).or_default() += 1;
        *by_group.entry(m.group_id).or_default() += 1;
    }
    for (st, n) in by_state {
        let _ = writeln!(o, "codis_slots{{product=\"{product}\",action=\"{st}\"}} {n}");
    }
    let _ = writeln!(o, "# TYPE codis_group_slots gauge");
    for (g, n) in by_group {
        let _ = writeln!(o, "codis_group_slots{{product=\"{product}\",group=\"{g}\"}} {n}");
    }
    let _ = writeln!(o, "# TYPE codis_group_servers gauge");
    for g in &stats.group.models {
        let _ = writeln!(o, "codis_group_servers{{product=\"{product}\",group=\"{}\"}} {}", g.id, g.servers.len());
    }
    let _ = writeln!(o, "# TYPE codis_server_up gauge");
    for (addr, s) in &stats.group.stats {
        let up = s.stats.is_some();
        let _ = writeln!(o, "codis_server_up{{product=\"{product}\",addr=\"{}\"}} {}", esc(addr), u8::from(up));
        if let Some(m) = &s.stats {
            for key in ["used_memory", "connected_clients", "instantaneous_ops_per_sec"] {
                if let Some(v) = m.get(key).and_then(|v| v.parse::<f64>().ok()) {
                    let _ = writeln!(o, "codis_server_{key}{{product=\"{product}\",addr=\"{}\"}} {v}", esc(addr));
                }
            }
        }
    }
    let _ = writeln!(o, "# TYPE codis_proxy_up gauge");
    for p in &stats.proxy.models {
        let st = stats.proxy.stats.get(&p.token);
        let up =
            st.and_then(|s| s.stats.as_ref()).and_then(|j| j.get("online")).and_then(|v| v.as_bool()).unwrap_or(false);
        let labels = format!("product=\"{product}\",token=\"{}\",addr=\"{}\"", esc(&p.token), esc(&p.proxy_addr));
        let _ = writeln!(o, "codis_proxy_up{{{labels}}} {}", u8::from(up));
        if let Some(ops) = st.and_then(|s| s.stats.as_ref()).and_then(|j| j.get("ops")) {
            for key in ["total", "fails", "qps"] {
                if let Some(v) = ops.get(key).and_then(|v| v.as_f64()) {
                    let _ = writeln!(o, "codis_proxy_ops_{key}{{{labels}}} {v}");
                }
            }
        }
    }
    let _ = writeln!(o, "# TYPE codis_slot_action_executor gauge");
    let _ = writeln!(o, "codis_slot_action_executor{{product=\"{product}\"}} {}", stats.slot_action.executor);
    let _ = writeln!(o, "codis_slot_action_disabled{{product=\"{product}\"}} {}", u8::from(stats.slot_action.disabled));
    if let Ok(p) = t.progress_report().await {
        let _ = writeln!(o, "# TYPE codis_migration_percent gauge");
        let _ = writeln!(o, "codis_migration_percent{{product=\"{product}\"}} {}", p.percent);
        let _ = writeln!(o, "codis_migration_slots_pending{{product=\"{product}\"}} {}", p.pending);
        let _ = writeln!(o, "codis_migration_slots_in_flight{{product=\"{product}\"}} {}", p.in_flight);
    }
    let _ = writeln!(o, "# TYPE codis_slot_mapping_writes_total counter");
    let _ = writeln!(
        o,
        "codis_slot_mapping_writes_total{{product=\"{product}\"}} {}",
        t.slot_writes.load(Ordering::Relaxed)
    );
    let _ = writeln!(o, "# TYPE codis_sentinels gauge");
    let _ = writeln!(o, "codis_sentinels{{product=\"{product}\"}} {}", stats.sentinels.model.servers.len());
    o
}
