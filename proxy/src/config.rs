//! The settings the data path reads, with Codis 3.2's defaults
//! (`shared/reference/codis-3.2/a02_proxy_default_config.toml`).
//!
//! This is the proxy's runtime view; the file format (proxy.toml with Go's units) is parsed by the
//! shared config module and converted into this struct.

use std::time::Duration;

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
}

impl Default for Config {
    fn default() -> Self {
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
        }
    }
}

impl Config {
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
