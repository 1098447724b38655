//! `proxy.toml` (`pkg/proxy/config.go`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::toml_out::TomlOut;
use super::{read_file, ByteSize, ConfigError, TimeSize};

/// What `codis-proxy --default-config` prints (Go's `DefaultConfig` plus `Println`'s newline);
/// a verbatim copy of the recording `codis-3.2/a02_proxy_default_config.toml`.
pub const PROXY_DEFAULT_CONFIG_OUTPUT: &str = include_str!("proxy_default.toml");

/// The proxy configuration. Field order is Go's: it is the order of the JSON and TOML output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProxyConfig {
    pub proto_type: String,
    pub proxy_addr: String,
    pub admin_addr: String,

    /// `--host-proxy` / `--host-admin`: the host advertised instead of an unspecified bind IP.
    #[serde(skip)]
    pub host_proxy: String,
    #[serde(skip)]
    pub host_admin: String,

    pub jodis_name: String,
    pub jodis_addr: String,
    pub jodis_auth: String,
    pub jodis_timeout: TimeSize,
    pub jodis_compatible: bool,

    pub product_name: String,
    #[serde(skip_serializing)]
    pub product_auth: String,
    #[serde(skip_serializing)]
    pub session_auth: String,

    pub proxy_datacenter: String,
    pub proxy_max_clients: i64,
    pub proxy_max_offheap_size: ByteSize,
    pub proxy_heap_placeholder: ByteSize,

    pub backend_ping_period: TimeSize,
    pub backend_recv_bufsize: ByteSize,
    pub backend_recv_timeout: TimeSize,
    pub backend_send_bufsize: ByteSize,
    pub backend_send_timeout: TimeSize,
    pub backend_max_pipeline: i64,
    pub backend_primary_only: bool,
    pub backend_primary_parallel: i64,
    pub backend_replica_parallel: i64,
    pub backend_keepalive_period: TimeSize,
    pub backend_number_databases: i32,

    pub session_recv_bufsize: ByteSize,
    pub session_recv_timeout: TimeSize,
    pub session_send_bufsize: ByteSize,
    pub session_send_timeout: TimeSize,
    pub session_max_pipeline: i64,
    pub session_keepalive_period: TimeSize,
    pub session_break_on_failure: bool,

    pub metrics_report_server: String,
    pub metrics_report_period: TimeSize,
    pub metrics_report_influxdb_server: String,
    pub metrics_report_influxdb_period: TimeSize,
    pub metrics_report_influxdb_username: String,
    #[serde(skip_serializing)]
    pub metrics_report_influxdb_password: String,
    pub metrics_report_influxdb_database: String,
    pub metrics_report_statsd_server: String,
    pub metrics_report_statsd_period: TimeSize,
    pub metrics_report_statsd_prefix: String,

    // Extensions beyond Codis 3.2 (docs/proxy-features.md). All default to Codis behaviour and
    // are neither printed by `--default-config` nor serialised, so Go-facing output is unchanged.
    /// SUBSCRIBE/PSUBSCRIBE/PUBLISH through the proxy.
    #[serde(skip_serializing)]
    pub proxy_pubsub: bool,
    /// MULTI/EXEC/WATCH when every key of the transaction is in one slot.
    #[serde(skip_serializing)]
    pub proxy_transactions: bool,
    /// BLPOP and the other blocking commands, each on a connection of its own.
    #[serde(skip_serializing)]
    pub proxy_blocking_commands: bool,
    /// SCAN/KEYS/DBSIZE/FLUSHALL/FLUSHDB over every group.
    #[serde(skip_serializing)]
    pub proxy_cluster_commands: bool,
    /// How long requests for a backend that is down wait for a new route (0: fail at once).
    #[serde(skip_serializing)]
    pub backend_failover_hold: TimeSize,
    /// How many such requests may wait at once; more fail at once.
    #[serde(skip_serializing)]
    pub backend_failover_hold_max: i64,
}

impl Default for ProxyConfig {
    /// The values of Go's `DefaultConfig` text (a test checks they agree).
    fn default() -> Self {
        ProxyConfig {
            proto_type: "tcp4".into(),
            proxy_addr: "0.0.0.0:19000".into(),
            admin_addr: "0.0.0.0:11080".into(),
            host_proxy: String::new(),
            host_admin: String::new(),
            jodis_name: String::new(),
            jodis_addr: String::new(),
            jodis_auth: String::new(),
            jodis_timeout: TimeSize::from_secs(20),
            jodis_compatible: false,
            product_name: "codis-demo".into(),
            product_auth: String::new(),
            session_auth: String::new(),
            proxy_datacenter: String::new(),
            proxy_max_clients: 1000,
            proxy_max_offheap_size: ByteSize(1024 << 20),
            proxy_heap_placeholder: ByteSize(256 << 20),
            backend_ping_period: TimeSize::from_secs(5),
            backend_recv_bufsize: ByteSize(128 << 10),
            backend_recv_timeout: TimeSize::from_secs(30),
            backend_send_bufsize: ByteSize(128 << 10),
            backend_send_timeout: TimeSize::from_secs(30),
            backend_max_pipeline: 20480,
            backend_primary_only: false,
            backend_primary_parallel: 1,
            backend_replica_parallel: 1,
            backend_keepalive_period: TimeSize::from_secs(75),
            backend_number_databases: 16,
            session_recv_bufsize: ByteSize(128 << 10),
            session_recv_timeout: TimeSize::from_secs(30 * 60),
            session_send_bufsize: ByteSize(64 << 10),
            session_send_timeout: TimeSize::from_secs(30),
            session_max_pipeline: 10000,
            session_keepalive_period: TimeSize::from_secs(75),
            session_break_on_failure: false,
            metrics_report_server: String::new(),
            metrics_report_period: TimeSize::from_secs(1),
            metrics_report_influxdb_server: String::new(),
            metrics_report_influxdb_period: TimeSize::from_secs(1),
            metrics_report_influxdb_username: String::new(),
            metrics_report_influxdb_password: String::new(),
            metrics_report_influxdb_database: String::new(),
            metrics_report_statsd_server: String::new(),
            metrics_report_statsd_period: TimeSize::from_secs(1),
            metrics_report_statsd_prefix: String::new(),
            proxy_pubsub: false,
            proxy_transactions: false,
            proxy_blocking_commands: false,
            proxy_cluster_commands: false,
            backend_failover_hold: TimeSize(0),
            backend_failover_hold_max: 10000,
        }
    }
}

impl ProxyConfig {
    /// Defaults overlaid with the keys of `text`, then validated.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let c: ProxyConfig = toml::from_str(text).map_err(|source| ConfigError::Toml { path: None, source })?;
        c.validate()?;
        Ok(c)
    }

    /// Go's `NewDefaultConfig()` + `LoadFromFile(path)`.
    pub fn load_from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = read_file(path)?;
        let c: ProxyConfig =
            toml::from_str(&text).map_err(|source| ConfigError::Toml { path: Some(path.to_path_buf()), source })?;
        c.validate()?;
        Ok(c)
    }

    /// Go's `Validate`, same checks in the same order, same messages.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use ConfigError::Invalid;
        if self.proto_type.is_empty() {
            return Err(Invalid("proto_type"));
        }
        if self.proxy_addr.is_empty() {
            return Err(Invalid("proxy_addr"));
        }
        if self.admin_addr.is_empty() {
            return Err(Invalid("admin_addr"));
        }
        if !self.jodis_name.is_empty() {
            if self.jodis_addr.is_empty() {
                return Err(Invalid("jodis_addr"));
            }
            if self.jodis_timeout.nanos() < 0 {
                return Err(Invalid("jodis_timeout"));
            }
        }
        if self.product_name.is_empty() {
            return Err(Invalid("product_name"));
        }
        if self.proxy_max_clients < 0 {
            return Err(Invalid("proxy_max_clients"));
        }
        let sizes = [
            (self.proxy_max_offheap_size, "proxy_max_offheap_size"),
            (self.proxy_heap_placeholder, "proxy_heap_placeholder"),
        ];
        for (v, name) in sizes {
            if v.bytes() < 0 {
                return Err(Invalid(name));
            }
        }
        let checks: &[(bool, &'static str)] = &[
            (self.backend_ping_period.nanos() < 0, "backend_ping_period"),
            (self.backend_recv_bufsize.bytes() < 0, "backend_recv_bufsize"),
            (self.backend_recv_timeout.nanos() < 0, "backend_recv_timeout"),
            (self.backend_send_bufsize.bytes() < 0, "backend_send_bufsize"),
            (self.backend_send_timeout.nanos() < 0, "backend_send_timeout"),
            (self.backend_max_pipeline < 0, "backend_max_pipeline"),
            (self.backend_primary_parallel < 0, "backend_primary_parallel"),
            (self.backend_replica_parallel < 0, "backend_replica_parallel"),
            (self.backend_keepalive_period.nanos() < 0, "backend_keepalive_period"),
            (self.backend_number_databases < 1, "backend_number_databases"),
            (self.session_recv_bufsize.bytes() < 0, "session_recv_bufsize"),
            (self.session_recv_timeout.nanos() < 0, "session_recv_timeout"),
            (self.session_send_bufsize.bytes() < 0, "session_send_bufsize"),
            (self.session_send_timeout.nanos() < 0, "session_send_timeout"),
            (self.session_max_pipeline < 0, "session_max_pipeline"),
            (self.session_keepalive_period.nanos() < 0, "session_keepalive_period"),
            (self.metrics_report_period.nanos() < 0, "metrics_report_period"),
            (self.metrics_report_influxdb_period.nanos() < 0, "metrics_report_influxdb_period"),
            (self.metrics_report_statsd_period.nanos() < 0, "metrics_report_statsd_period"),
            (self.backend_failover_hold.nanos() < 0, "backend_failover_hold"),
            (self.backend_failover_hold_max < 0, "backend_failover_hold_max"),
        ];
        for &(bad, name) in checks {
            if bad {
                return Err(Invalid(name));
            }
        }
        Ok(())
    }

    /// Go's `Config.String()`: the TOML the proxy logs at startup (secrets included, as in Go).
    pub fn to_toml_string(&self) -> String {
        let mut o = TomlOut::new();
        o.str("proto_type", &self.proto_type);
        o.str("proxy_addr", &self.proxy_addr);
        o.str("admin_addr", &self.admin_addr);
        o.str("jodis_name", &self.jodis_name);
        o.str("jodis_addr", &self.jodis_addr);
        o.str("jodis_auth", &self.jodis_auth);
        o.str("jodis_timeout", &self.jodis_timeout.to_string());
        o.raw("jodis_compatible", self.jodis_compatible);
        o.str("product_name", &self.product_name);
        o.str("product_auth", &self.product_auth);
        o.str("session_auth", &self.session_auth);
        o.str("proxy_datacenter", &self.proxy_datacenter);
        o.raw("proxy_max_clients", self.proxy_max_clients);
        o.str("proxy_max_offheap_size", &self.proxy_max_offheap_size.to_string());
        o.str("proxy_heap_placeholder", &self.proxy_heap_placeholder.to_string());
        o.str("backend_ping_period", &self.backend_ping_period.to_string());
        o.str("backend_recv_bufsize", &self.backend_recv_bufsize.to_string());
        o.str("backend_recv_timeout", &self.backend_recv_timeout.to_string());
        o.str("backend_send_bufsize", &self.backend_send_bufsize.to_string());
        o.str("backend_send_timeout", &self.backend_send_timeout.to_string());
        o.raw("backend_max_pipeline", self.backend_max_pipeline);
        o.raw("backend_primary_only", self.backend_primary_only);
        o.raw("backend_primary_parallel", self.backend_primary_parallel);
        o.raw("backend_replica_parallel", self.backend_replica_parallel);
        o.str("backend_keepalive_period", &self.backend_keepalive_period.to_string());
        o.raw("backend_number_databases", self.backend_number_databases);
        o.str("session_recv_bufsize", &self.session_recv_bufsize.to_string());
        o.str("session_recv_timeout", &self.session_recv_timeout.to_string());
        o.str("session_send_bufsize", &self.session_send_bufsize.to_string());
        o.str("session_send_timeout", &self.session_send_timeout.to_string());
        o.raw("session_max_pipeline", self.session_max_pipeline);
        o.str("session_keepalive_period", &self.session_keepalive_period.to_string());
        o.raw("session_break_on_failure", self.session_break_on_failure);
        o.str("metrics_report_server", &self.metrics_report_server);
        o.str("metrics_report_period", &self.metrics_report_period.to_string());
        o.str("metrics_report_influxdb_server", &self.metrics_report_influxdb_server);
        o.str("metrics_report_influxdb_period", &self.metrics_report_influxdb_period.to_string());
        o.str("metrics_report_influxdb_username", &self.metrics_report_influxdb_username);
        o.str("metrics_report_influxdb_password", &self.metrics_report_influxdb_password);
        o.str("metrics_report_influxdb_database", &self.metrics_report_influxdb_database);
        o.str("metrics_report_statsd_server", &self.metrics_report_statsd_server);
        o.str("metrics_report_statsd_period", &self.metrics_report_statsd_period.to_string());
        o.str("metrics_report_statsd_prefix", &self.metrics_report_statsd_prefix);
        o.0
    }
}
