//! The settings the data path reads, with Codis 3.2's defaults
//! (`shared/reference/codis-3.2/a02_proxy_default_config.toml`).
//!
//! This is the proxy's runtime view; the file format (proxy.toml with Go's units) is parsed by
//! `compat::config::ProxyConfig` and converted with [`Config::from_toml`].

use std::time::Duration;

use compat::config::{ByteSize, ProxyConfig, TimeSize};

#[derive(Debug, Clone)]
pub struct Config {
    pub product_name: String,
    pub product_auth: String,
    pub session_auth: String,
    pub admin_addr: String,
    pub proto_type: String,
    pub proxy_addr: String,
    pub proxy_datacenter: String,
    pub proxy_max_clients: usize,

    pub backend_ping_period: Duration,
    pub backend_recv_bufsize: usize,
    pub backend_recv_timeout: Duration,
    pub backend_send_bufsize: usize,
    pub backend_send_timeout: Duration,
    pub backend_max_pipeline: usize,
    pub backend_primary_only: bool,
    pub backend_primary_parallel: usize,
    pub backend_replica_parallel: usize,
    pub backend_keepalive_period: Duration,
    pub backend_number_databases: u32,

    pub session_recv_bufsize: usize,
    pub session_recv_timeout: Duration,
    pub session_send_bufsize: usize,
    pub session_send_timeout: Duration,
    pub session_max_pipeline: usize,
    pub session_keepalive_period: Duration,
    pub session_break_on_failure: bool,

    /// The control-plane settings (jodis, metrics, host overrides, heap sizes), kept in the
    /// file's own form: the admin API shows them as Go does and nothing on the data path reads them.
    pub control: ProxyConfig,
    pub features: crate::features::Features,
}

impl Default for Config {
    fn default() -> Self {
        Config::from_toml(&ProxyConfig::default())
    }
}

impl Config {
    /// Go's defaults written out (a02_proxy_default_config.toml), to check the conversion.
    #[cfg(test)]
    fn go_defaults() -> Self {
        const KB: usize = 1024;
        Config {
            product_name: "codis-demo".into(),
            product_auth: String::new(),
            session_auth: String::new(),
            admin_addr: "0.0.0.0:11080".into(),
            proto_type: "tcp4".into(),
            proxy_addr: "0.0.0.0:19000".into(),
            proxy_datacenter: String::new(),
            proxy_max_clients: 1000,
            backend_ping_period: Duration::from_secs(5),
            backend_recv_bufsize: 128 * KB,
            backend_recv_timeout: Duration::from_secs(30),
            backend_send_bufsize: 128 * KB,
            backend_send_timeout: Duration::from_secs(30),
            backend_max_pipeline: 20480,
            backend_primary_only: false,
            backend_primary_parallel: 1,
            backend_replica_parallel: 1,
            backend_keepalive_period: Duration::from_secs(75),
            backend_number_databases: 16,
            session_recv_bufsize: 128 * KB,
            session_recv_timeout: Duration::from_secs(30 * 60),
            session_send_bufsize: 64 * KB,
            session_send_timeout: Duration::from_secs(30),
            session_max_pipeline: 10000,
            session_keepalive_period: Duration::from_secs(75),
            session_break_on_failure: false,
            control: ProxyConfig::default(),
            features: crate::features::Features::default(),
        }
    }
}

impl Config {
    /// The runtime settings of a parsed proxy.toml. Negative counts (rejected by validation)
    /// become zero here.
    pub fn from_toml(c: &ProxyConfig) -> Config {
        let n = |v: i64| v.max(0) as usize;
        Config {
            product_name: c.product_name.clone(),
            product_auth: c.product_auth.clone(),
            session_auth: c.session_auth.clone(),
            admin_addr: c.admin_addr.clone(),
            proto_type: c.proto_type.clone(),
            proxy_addr: c.proxy_addr.clone(),
            proxy_datacenter: c.proxy_datacenter.clone(),
            proxy_max_clients: n(c.proxy_max_clients),
            backend_ping_period: c.backend_ping_period.duration(),
            backend_recv_bufsize: n(c.backend_recv_bufsize.0),
            backend_recv_timeout: c.backend_recv_timeout.duration(),
            backend_send_bufsize: n(c.backend_send_bufsize.0),
            backend_send_timeout: c.backend_send_timeout.duration(),
            backend_max_pipeline: n(c.backend_max_pipeline),
            backend_primary_only: c.backend_primary_only,
            backend_primary_parallel: n(c.backend_primary_parallel),
            backend_replica_parallel: n(c.backend_replica_parallel),
            backend_keepalive_period: c.backend_keepalive_period.duration(),
            backend_number_databases: c.backend_number_databases.max(0) as u32,
            session_recv_bufsize: n(c.session_recv_bufsize.0),
            session_recv_timeout: c.session_recv_timeout.duration(),
            session_send_bufsize: n(c.session_send_bufsize.0),
            session_send_timeout: c.session_send_timeout.duration(),
            session_max_pipeline: n(c.session_max_pipeline),
            session_keepalive_period: c.session_keepalive_period.duration(),
            session_break_on_failure: c.session_break_on_failure,
            control: c.clone(),
            features: crate::features::Features::from_toml(c),
        }
    }

    /// The configuration as the admin API shows it (`"config"` of `/proxy`): the control-plane
    /// keys as loaded, the data-path keys as this proxy runs with them.
    pub fn to_toml(&self) -> ProxyConfig {
        let size = |v: usize| ByteSize(i64::try_from(v).unwrap_or(i64::MAX));
        let count = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        ProxyConfig {
            product_name: self.product_name.clone(),
            product_auth: self.product_auth.clone(),
            session_auth: self.session_auth.clone(),
            admin_addr: self.admin_addr.clone(),
            proto_type: self.proto_type.clone(),
            proxy_addr: self.proxy_addr.clone(),
            proxy_datacenter: self.proxy_datacenter.clone(),
            proxy_max_clients: count(self.proxy_max_clients),
            backend_ping_period: TimeSize::from(self.backend_ping_period),
            backend_recv_bufsize: size(self.backend_recv_bufsize),
            backend_recv_timeout: TimeSize::from(self.backend_recv_timeout),
            backend_send_bufsize: size(self.backend_send_bufsize),
            backend_send_timeout: TimeSize::from(self.backend_send_timeout),
            backend_max_pipeline: count(self.backend_max_pipeline),
            backend_primary_only: self.backend_primary_only,
            backend_primary_parallel: count(self.backend_primary_parallel),
            backend_replica_parallel: count(self.backend_replica_parallel),
            backend_keepalive_period: TimeSize::from(self.backend_keepalive_period),
            backend_number_databases: i32::try_from(self.backend_number_databases).unwrap_or(i32::MAX),
            session_recv_bufsize: size(self.session_recv_bufsize),
            session_recv_timeout: TimeSize::from(self.session_recv_timeout),
            session_send_bufsize: size(self.session_send_bufsize),
            session_send_timeout: TimeSize::from(self.session_send_timeout),
            session_max_pipeline: count(self.session_max_pipeline),
            session_keepalive_period: TimeSize::from(self.session_keepalive_period),
            session_break_on_failure: self.session_break_on_failure,
            ..self.control.clone()
        }
    }

    /// Rejects values the proxy cannot run with, in the wording of Go's `Config.Validate`.
    pub fn validate(&self) -> Result<(), String> {
        if self.proxy_max_clients == 0 {
            return Err("invalid proxy_max_clients".into());
        }
        if self.backend_max_pipeline == 0 {
            return Err("invalid backend_max_pipeline".into());
        }
        if self.backend_number_databases == 0 {
            return Err("invalid backend_number_databases".into());
        }
        if self.session_max_pipeline == 0 {
            return Err("invalid session_max_pipeline".into());
        }
        compat::models::validate_product(&self.product_name).map_err(|e| e.to_string())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_recorded_default_config() {
        let a = format!("{:?}", Config::default());
        let b = format!("{:?}", Config::go_defaults());
        assert_eq!(a, b);
    }

    #[test]
    fn shown_config_is_the_loaded_one() {
        // The "config" of /proxy in codis-3.2/c2_proxy_api_calls.jsonl is the default with
        // jodis and addresses set; converting back and forth must not change a key.
        let file = ProxyConfig {
            jodis_name: "zookeeper".into(),
            jodis_addr: "127.0.0.1:2181".into(),
            proxy_addr: "127.0.0.1:19000".into(),
            ..ProxyConfig::default()
        };
        assert_eq!(Config::from_toml(&file).to_toml(), file);
    }
}
