use std::path::PathBuf;

/// Why a proxy.toml or dashboard.toml was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("load config {path} failed: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not TOML, or a value of the wrong type or unit (e.g. `session_recv_timeout = "1d"`).
    #[error("decode config{} failed: {source}", .path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Toml {
        path: Option<PathBuf>,
        #[source]
        source: toml::de::Error,
    },
    /// A value Go's `Validate` refuses; the message is Go's (`invalid proxy_addr`).
    #[error("invalid {0}")]
    Invalid(&'static str),
}
