//! Coordinator paths (`pkg/models/store.go`, `pkg/proxy/proxy.go`).

use std::fmt;

/// Root of every Codis 3 product.
pub const CODIS_DIR: &str = "/codis3";
/// Root of the Jodis proxy registry.
pub const JODIS_DIR: &str = "/jodis";

/// `/codis3/<product>`.
pub fn product_dir(product: &str) -> String {
    format!("{CODIS_DIR}/{product}")
}

/// `/codis3/<product>/topom`: the dashboard lock, holding its [`super::Topom`].
pub fn lock_path(product: &str) -> String {
    format!("{CODIS_DIR}/{product}/topom")
}

/// `/codis3/<product>/slots`.
pub fn slots_dir(product: &str) -> String {
    format!("{CODIS_DIR}/{product}/slots")
}

/// `/codis3/<product>/slots/slot-%04d`.
pub fn slot_path(product: &str, sid: i64) -> String {
    format!("{CODIS_DIR}/{product}/slots/slot-{sid:04}")
}

/// `/codis3/<product>/group`.
pub fn group_dir(product: &str) -> String {
    format!("{CODIS_DIR}/{product}/group")
}

/// `/codis3/<product>/group/group-%04d`.
pub fn group_path(product: &str, gid: i64) -> String {
    format!("{CODIS_DIR}/{product}/group/group-{gid:04}")
}

/// `/codis3/<product>/proxy`.
pub fn proxy_dir(product: &str) -> String {
    format!("{CODIS_DIR}/{product}/proxy")
}

/// `/codis3/<product>/proxy/proxy-<token>`.
pub fn proxy_path(product: &str, token: &str) -> String {
    format!("{CODIS_DIR}/{product}/proxy/proxy-{token}")
}

/// `/codis3/<product>/sentinel`.
pub fn sentinel_path(product: &str) -> String {
    format!("{CODIS_DIR}/{product}/sentinel")
}

/// `/jodis/<product>/proxy-<token>`.
pub fn jodis_path(product: &str, token: &str) -> String {
    format!("{JODIS_DIR}/{product}/proxy-{token}")
}

/// With `jodis_compatible = true` the proxy registers in the Codis 2 layout,
/// `/zk/codis/db_<product>/proxy/<token>` (no `proxy-` prefix, whatever the toml comment says).
pub fn jodis_compatible_path(product: &str, token: &str) -> String {
    format!("/zk/codis/db_{product}/proxy/{token}")
}

/// Go's `ValidateProduct` failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadProductName(pub String);

impl fmt::Display for BadProductName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad product name = {}", self.0)
    }
}

impl std::error::Error for BadProductName {}

/// Go's `^\w[\w\.\-]*$` with `\w` = ASCII `[0-9A-Za-z_]`.
pub fn validate_product(name: &str) -> Result<(), BadProductName> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = name.chars();
    let ok = match chars.next() {
        Some(c) if word(c) => chars.all(|c| word(c) || c == '.' || c == '-'),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(BadProductName(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_as_recorded() {
        // Paths from codis-3.2/b1_zk_tree_after_setup.json.
        assert_eq!(lock_path("codis-demo"), "/codis3/codis-demo/topom");
        assert_eq!(slot_path("codis-demo", 0), "/codis3/codis-demo/slots/slot-0000");
        assert_eq!(slot_path("codis-demo", 1023), "/codis3/codis-demo/slots/slot-1023");
        assert_eq!(group_path("codis-demo", 1), "/codis3/codis-demo/group/group-0001");
        assert_eq!(
            proxy_path("codis-demo", "91ebd8e7a3491a145e0c03b773f15833"),
            "/codis3/codis-demo/proxy/proxy-91ebd8e7a3491a145e0c03b773f15833"
        );
        assert_eq!(sentinel_path("codis-demo"), "/codis3/codis-demo/sentinel");
        assert_eq!(
            jodis_path("codis-demo", "1a8e58900b5968636957a96bb5d52ab2"),
            "/jodis/codis-demo/proxy-1a8e58900b5968636957a96bb5d52ab2"
        );
        assert_eq!(jodis_compatible_path("codis-demo", "abc"), "/zk/codis/db_codis-demo/proxy/abc");
    }

    #[test]
    fn product_names() {
        for ok in ["codis-demo", "a", "_x.y-z", "9"] {
            assert!(validate_product(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", ".a", "a/b", "a b", "é"] {
            assert_eq!(validate_product(bad).unwrap_err().to_string(), format!("bad product name = {bad}"));
        }
    }
}
