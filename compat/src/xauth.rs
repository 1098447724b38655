//! Proxy/dashboard tokens and the xauth secrets of the admin APIs (`pkg/utils/rpc/crypto.go`).
//!
//! - token = `hex(md5("Codis-Token@" + fmt.Sprint(sorted MACs) + Σ "-{" + seg + "}"))`;
//!   proxy segs `(product, proxy_addr, admin_addr)`, dashboard segs `(product, admin_addr)`.
//!   The MAC list makes the token depend on the host, and only on it: a restarted proxy keeps
//!   its token.
//! - xauth = `hex(sha256("Codis-XAuth" + Σ "-[" + seg + "]")[..16])`; dashboard segs
//!   `(product)`, proxy segs `(product, product_auth, token)`.

use md5::{Digest, Md5};
use sha2::Sha256;

fn hex(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(HEX[(x >> 4) as usize] as char);
        s.push(HEX[(x & 0xf) as usize] as char);
    }
    s
}

/// `rpc.NewXAuth(segs...)`.
pub fn new_xauth(segs: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(b"Codis-XAuth");
    for s in segs {
        h.update(b"-[");
        h.update(s.as_bytes());
        h.update(b"]");
    }
    hex(&h.finalize()[..16])
}

/// The dashboard's xauth: `NewXAuth(product_name)` (product_auth is not part of it).
pub fn dashboard_xauth(product: &str) -> String {
    new_xauth(&[product])
}

/// A proxy's xauth: `NewXAuth(product_name, product_auth, token)`.
pub fn proxy_xauth(product: &str, product_auth: &str, token: &str) -> String {
    new_xauth(&[product, product_auth, token])
}

/// `rpc.NewToken(segs...)` with an explicit MAC list (already in Go's `%v` order: sorted).
pub fn new_token_with_macs(macs: &[String], segs: &[&str]) -> String {
    let mut h = Md5::new();
    // fmt.Sprintf("%v", []string{...}) = "[a b c]"; a nil list prints "[]".
    h.update(b"Codis-Token@[");
    h.update(macs.join(" ").as_bytes());
    h.update(b"]");
    for s in segs {
        h.update(b"-{");
        h.update(s.as_bytes());
        h.update(b"}");
    }
    hex(&h.finalize())
}

/// `rpc.NewToken(segs...)` on this host.
pub fn new_token(segs: &[&str]) -> String {
    new_token_with_macs(&host_macs(), segs)
}

/// A proxy's token from its listen addresses (as the listeners report them).
pub fn proxy_token(product: &str, proxy_addr: &str, admin_addr: &str) -> String {
    new_token(&[product, proxy_addr, admin_addr])
}

/// The dashboard's token.
pub fn dashboard_token(product: &str, admin_addr: &str) -> String {
    new_token(&[product, admin_addr])
}

/// The hardware addresses Go's `net.Interfaces()` reports, sorted: every interface with a
/// non-zero link-layer address, except IP-in-IP/GRE/SIT tunnels whose "address" is an IP.
pub fn host_macs() -> Vec<String> {
    let mut list = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/sys/class/net") {
        for entry in dir.flatten() {
            let p = entry.path();
            let Ok(addr) = std::fs::read_to_string(p.join("address")) else { continue };
            let addr = addr.trim().to_ascii_lowercase();
            if addr.is_empty() || addr.bytes().all(|b| b == b'0' || b == b':') {
                continue;
            }
            let kind = std::fs::read_to_string(p.join("type")).unwrap_or_default();
            // ARPHRD_TUNNEL 768, TUNNEL6 769, SIT 776, IPGRE 778, IP6GRE 823 (Go skips these).
            if matches!(kind.trim(), "768" | "769" | "776" | "778" | "823") {
                continue;
            }
            list.push(addr);
        }
    }
    list.sort();
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_xauths() {
        // codis-3.2/c1_dashboard_api_calls.jsonl: the dashboard accepts 95b6... for codis-demo.
        assert_eq!(dashboard_xauth("codis-demo"), "95b62887719520f17e312eaa76d28f2b");
        // codis-3.2/c2_proxy_api_calls.jsonl: proxy 19000 (token 91eb...) accepts 76a9...
        assert_eq!(
            proxy_xauth("codis-demo", "", "91ebd8e7a3491a145e0c03b773f15833"),
            "76a97687c20df831d92deca9daf72a7a"
        );
    }

    #[test]
    fn recorded_tokens() {
        // codis-3.2/g1_jodis_node_format_and_zk_layout.txt: the recording host's MACs and the
        // tokens the Go proxy (b1 tree) and dashboard (b0 tree) derived from them.
        let macs: Vec<String> =
            ["02:fc:00:00:00:01", "76:ef:6a:14:c7:07", "de:3d:36:7e:a7:45"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            new_token_with_macs(&macs, &["codis-demo", "127.0.0.1:19000", "127.0.0.1:11080"]),
            "91ebd8e7a3491a145e0c03b773f15833"
        );
        assert_eq!(new_token_with_macs(&macs, &["codis-demo", "127.0.0.1:18080"]), "fa905448007c79ba3f788688a2ec4649");
        // No interfaces with an address: Go prints an empty list as "[]".
        assert_eq!(new_token_with_macs(&[], &["codis-demo", "127.0.0.1:18080"]), "2dec2fdcbc36df36fb62cfe371ff0d65");
    }

    #[test]
    fn host_token_is_stable() {
        assert_eq!(proxy_token("p", "a:1", "b:2"), proxy_token("p", "a:1", "b:2"));
        assert_ne!(proxy_token("p", "a:1", "b:2"), proxy_token("p", "a:1", "b:3"));
    }
}
