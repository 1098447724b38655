//! `proxy.toml` and `dashboard.toml` (`pkg/proxy/config.go`, `pkg/topom/config.go`): every key
//! with Go's defaults, Go's unit syntax ([`ByteSize`], [`TimeSize`]), Go's validation messages,
//! the `--default-config` text, and the JSON the admin APIs show (`"config"` of `/proxy` and
//! `/topom`, secrets left out as Go's `json:"-"` does).
//!
//! Loading starts from the defaults and overlays the keys present in the file, like Go's
//! `NewDefaultConfig` + `LoadFromFile`; unknown keys are ignored, as BurntSushi/toml does.

mod dashboard;
mod error;
mod proxy;
mod toml_out;
pub mod units;

pub use dashboard::{DashboardConfig, DASHBOARD_DEFAULT_CONFIG_OUTPUT};
pub use error::ConfigError;
pub use proxy::{ProxyConfig, PROXY_DEFAULT_CONFIG_OUTPUT};
pub use units::{ByteSize, TimeSize, UnitError};

use std::path::Path;

fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests;
