//! The `Config.String()` text (BurntSushi/toml's encoder): `key = value` lines in field order.

use std::fmt::Write;

pub(crate) struct TomlOut(pub String);

impl TomlOut {
    pub fn new() -> Self {
        TomlOut(String::new())
    }

    pub fn str(&mut self, key: &str, v: &str) {
        let _ = writeln!(self.0, "{key} = {}", quote(v));
    }

    pub fn raw(&mut self, key: &str, v: impl std::fmt::Display) {
        let _ = writeln!(self.0, "{key} = {v}");
    }
}

/// A TOML basic string with the escapes BurntSushi writes.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
