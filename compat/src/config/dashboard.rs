//! `dashboard.toml` (`pkg/topom/config.go`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::toml_out::TomlOut;
use super::{read_file, ByteSize, ConfigError, TimeSize};
use crate::models::parse_forward_method;

/// What `codis-dashboard --default-config` prints; a verbatim copy of the recording
/// `codis-3.2/a01_dashboard_default_config.toml`.
pub const DASHBOARD_DEFAULT_CONFIG_OUTPUT: &str = include_str!("dashboard_default.toml");

/// The dashboard configuration, fields in Go's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DashboardConfig {
    pub coordinator_name: String,
    pub coordinator_addr: String,
    pub coordinator_auth: String,

    pub admin_addr: String,

    /// `--host-admin`: advertised instead of an unspecified bind IP.
    #[serde(skip)]
    pub host_admin: String,

    pub product_name: String,
    #[serde(skip_serializing)]
    pub product_auth: String,

    pub migration_method: String,
    pub migration_parallel_slots: i64,
    pub migration_async_maxbulks: i64,
    pub migration_async_maxbytes: ByteSize,
    pub migration_async_numkeys: i64,
    pub migration_timeout: TimeSize,

    pub sentinel_client_timeout: TimeSize,
    pub sentinel_quorum: i64,
    pub sentinel_parallel_syncs: i64,
    pub sentinel_down_after: TimeSize,
    pub sentinel_failover_timeout: TimeSize,
    pub sentinel_notification_script: String,
    pub sentinel_client_reconfig_script: String,
}

impl Default for DashboardConfig {
    /// The values of Go's `DefaultConfig` text (a test checks they agree).
    fn default() -> Self {
        DashboardConfig {
            coordinator_name: "filesystem".into(),
            coordinator_addr: "/tmp/codis".into(),
            coordinator_auth: String::new(),
            admin_addr: "0.0.0.0:18080".into(),
            host_admin: String::new(),
            product_name: "codis-demo".into(),
            product_auth: String::new(),
            migration_method: "semi-async".into(),
            migration_parallel_slots: 100,
            migration_async_maxbulks: 200,
            migration_async_maxbytes: ByteSize(32 << 20),
            migration_async_numkeys: 500,
            migration_timeout: TimeSize::from_secs(30),
            sentinel_client_timeout: TimeSize::from_secs(10),
            sentinel_quorum: 2,
            sentinel_parallel_syncs: 1,
            sentinel_down_after: TimeSize::from_secs(30),
            sentinel_failover_timeout: TimeSize::from_secs(5 * 60),
            sentinel_notification_script: String::new(),
            sentinel_client_reconfig_script: String::new(),
        }
    }
}

impl DashboardConfig {
    /// Defaults overlaid with the keys of `text`, then validated.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let c: DashboardConfig = toml::from_str(text).map_err(|source| ConfigError::Toml { path: None, source })?;
        c.validate()?;
        Ok(c)
    }

    /// Go's `NewDefaultConfig()` + `LoadFromFile(path)`.
    pub fn load_from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = read_file(path)?;
        let c: DashboardConfig =
            toml::from_str(&text).map_err(|source| ConfigError::Toml { path: Some(path.to_path_buf()), source })?;
        c.validate()?;
        Ok(c)
    }

    /// The `migration_method` as a `forward_method` value (validated to be one).
    pub fn forward_method(&self) -> i64 {
        parse_forward_method(&self.migration_method).unwrap_or_default()
    }

    /// Go's `Validate`, same checks in the same order, same messages.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use ConfigError::Invalid;
        let checks: [(bool, &'static str); 15] = [
            (self.coordinator_name.is_empty(), "coordinator_name"),
            (self.coordinator_addr.is_empty(), "coordinator_addr"),
            (self.admin_addr.is_empty(), "admin_addr"),
            (self.product_name.is_empty(), "product_name"),
            (parse_forward_method(&self.migration_method).is_none(), "migration_method"),
            (self.migration_parallel_slots <= 0, "migration_parallel_slots"),
            (self.migration_async_maxbulks <= 0, "migration_async_maxbulks"),
            (self.migration_async_maxbytes.bytes() <= 0, "migration_async_maxbytes"),
            (self.migration_async_numkeys <= 0, "migration_async_numkeys"),
            (self.migration_timeout.nanos() <= 0, "migration_timeout"),
            (self.sentinel_client_timeout.nanos() <= 0, "sentinel_client_timeout"),
            (self.sentinel_quorum <= 0, "sentinel_quorum"),
            (self.sentinel_parallel_syncs <= 0, "sentinel_parallel_syncs"),
            (self.sentinel_down_after.nanos() <= 0, "sentinel_down_after"),
            (self.sentinel_failover_timeout.nanos() <= 0, "sentinel_failover_timeout"),
        ];
        for (bad, name) in checks {
            if bad {
                return Err(Invalid(name));
            }
        }
        Ok(())
    }

    /// Go's `Config.String()` (secrets included, as in Go).
    pub fn to_toml_string(&self) -> String {
        let mut o = TomlOut::new();
        o.str("coordinator_name", &self.coordinator_name);
        o.str("coordinator_addr", &self.coordinator_addr);
        o.str("coordinator_auth", &self.coordinator_auth);
        o.str("admin_addr", &self.admin_addr);
        o.str("product_name", &self.product_name);
        o.str("product_auth", &self.product_auth);
        o.str("migration_method", &self.migration_method);
        o.raw("migration_parallel_slots", self.migration_parallel_slots);
        o.raw("migration_async_maxbulks", self.migration_async_maxbulks);
        o.str("migration_async_maxbytes", &self.migration_async_maxbytes.to_string());
        o.raw("migration_async_numkeys", self.migration_async_numkeys);
        o.str("migration_timeout", &self.migration_timeout.to_string());
        o.str("sentinel_client_timeout", &self.sentinel_client_timeout.to_string());
        o.raw("sentinel_quorum", self.sentinel_quorum);
        o.raw("sentinel_parallel_syncs", self.sentinel_parallel_syncs);
        o.str("sentinel_down_after", &self.sentinel_down_after.to_string());
        o.str("sentinel_failover_timeout", &self.sentinel_failover_timeout.to_string());
        o.str("sentinel_notification_script", &self.sentinel_notification_script);
        o.str("sentinel_client_reconfig_script", &self.sentinel_client_reconfig_script);
        o.0
    }
}
