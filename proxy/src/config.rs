//! The settings the data path reads, with Codis 3.2's defaults
//! (`shared/reference/codis-3.2/a02_proxy_default_config.toml`).
//!
//! This is the proxy's runtime view; the file format (proxy.toml with Go's units) is parsed by
//! `compat::config::ProxyConfig` and converted with [`Config::from_toml`].

use std::time::Duration;

use compat::config::ProxyConfig;

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
            features: crate::features::Features::from_toml(c),
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
}
