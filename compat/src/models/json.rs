//! JSON written byte for byte like Go's `encoding/json`.
//!
//! Codis stores every model with `json.MarshalIndent(v, "", "    ")` and answers REST calls the
//! same way, so our bytes must match: 4-space indent, `{}`/`[]` for empty containers, and Go's
//! string escaping (`<`, `>`, `&`, U+2028, U+2029 as `\u00XX`/`\u20XX`; `\b` and `\f` as
//! `\u0008`/`\u000c`, as Go 1.19 did). Floats follow Go's `float64` encoding (shortest form,
//! exponent only below 1e-6 or from 1e21 on).
//!
//! Decoding goes through plain `serde_json`; the models accept `null` where Go would (see
//! [`nullable`]).

use std::io;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::ser::{CharEscape, CompactFormatter, Formatter, PrettyFormatter};

/// `json.MarshalIndent(v, "", "    ")`.
pub fn to_vec_indent<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let fmt = GoFormatter { inner: PrettyFormatter::with_indent(b"    ") };
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    // Our models have string keys and no fallible Serialize impls: failure is a programming error.
    value.serialize(&mut ser).expect("models always serialize to JSON");
    out
}

/// `json.Marshal(v)`.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let fmt = GoFormatter { inner: CompactFormatter };
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    value.serialize(&mut ser).expect("models always serialize to JSON");
    out
}

/// [`to_vec_indent`] as a `String` (Go's encoder only produces UTF-8).
pub fn to_string_indent<T: Serialize + ?Sized>(value: &T) -> String {
    String::from_utf8(to_vec_indent(value)).expect("JSON output is UTF-8")
}

/// Go's `json.Unmarshal` into a fresh value. Unknown fields are ignored, as in Go.
pub fn from_slice<'a, T: Deserialize<'a>>(b: &'a [u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(b)
}

/// `deserialize_with` helper: Go decodes `null` into a field by leaving its zero value.
pub fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `skip_serializing_if` helper for Go's `omitempty` on numbers and bools.
pub fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

struct GoFormatter<F> {
    inner: F,
}

fn write_go_fragment<W: ?Sized + io::Write>(w: &mut W, fragment: &str) -> io::Result<()> {
    let bytes = fragment.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let esc: Option<&[u8]> = match bytes[i] {
            b'<' => Some(b"\\u003c"),
            b'>' => Some(b"\\u003e"),
            b'&' => Some(b"\\u0026"),
            // U+2028 / U+2029 are E2 80 A8 / E2 80 A9 in UTF-8.
            0xE2 if i + 2 < bytes.len() && bytes[i + 1] == 0x80 && bytes[i + 2] == 0xA8 => Some(b"\\u2028"),
            0xE2 if i + 2 < bytes.len() && bytes[i + 1] == 0x80 && bytes[i + 2] == 0xA9 => Some(b"\\u2029"),
            _ => None,
        };
        match esc {
            Some(e) => {
                w.write_all(&bytes[start..i])?;
                w.write_all(e)?;
                i += if bytes[i] == 0xE2 { 3 } else { 1 };
                start = i;
            }
            None => i += 1,
        }
    }
    w.write_all(&bytes[start..])
}

/// Go's `float64` encoding (`encoding/json: floatEncoder`).
pub(crate) fn go_float(f: f64) -> String {
    if !f.is_finite() {
        // Go refuses to encode these (UnsupportedValueError); null is the least surprising output.
        return "null".to_string();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Shortest round-trip digits in exponent form, exponent with a sign and at least 2
        // digits trimmed back to 1 for negatives like Go does ("1e-07" -> "1e-7").
        let s = format!("{:e}", f);
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        let digits = if sign == '+' && digits.len() < 2 { format!("0{digits}") } else { digits.to_string() };
        format!("{mant}e{sign}{digits}")
    } else {
        let s = format!("{}", f);
        s
    }
}

impl<F: Formatter> Formatter for GoFormatter<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        write_go_fragment(w, fragment)
    }

    fn write_char_escape<W: ?Sized + io::Write>(&mut self, w: &mut W, esc: CharEscape) -> io::Result<()> {
        let s: &[u8] = match esc {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"/",
            CharEscape::Backspace => b"\\u0008",
            CharEscape::FormFeed => b"\\u000c",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(b) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let buf = [b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]];
                return w.write_all(&buf);
            }
        };
        w.write_all(s)
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        w.write_all(go_float(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        w.write_all(go_float(value as f64).as_bytes())
    }

    // Everything below only forwards to the inner formatter (indentation and punctuation).
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.inner.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.inner.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn indent_and_empty_containers_like_marshal_indent() {
        let v = json!({"a": [], "b": {}, "c": [1, 2], "d": {"e": "x"}});
        // serde_json's Value sorts keys, like a Go map.
        let want = "{\n    \"a\": [],\n    \"b\": {},\n    \"c\": [\n        1,\n        2\n    ],\n    \"d\": {\n        \"e\": \"x\"\n    }\n}";
        assert_eq!(to_string_indent(&v), want);
    }

    #[test]
    fn html_and_control_escapes_like_go() {
        // The recorded xauth error: `&` is written as \u0026 (c1_dashboard_api_calls.jsonl).
        assert_eq!(
            String::from_utf8(to_vec(&"check product name & auth")).unwrap(),
            "\"check product name \\u0026 auth\""
        );
        assert_eq!(
            String::from_utf8(to_vec(&"<a>\u{8}\u{c}\n\t\u{1}\"\\/\u{2028}\u{2029}é")).unwrap(),
            "\"\\u003ca\\u003e\\u0008\\u000c\\n\\t\\u0001\\\"\\\\/\\u2028\\u2029é\""
        );
    }

    #[test]
    fn floats_like_go() {
        assert_eq!(go_float(0.0), "0");
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(100.0), "100");
        assert_eq!(go_float(1e20), "100000000000000000000");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1.5e-7), "1.5e-7");
        assert_eq!(go_float(-2.5e-9), "-2.5e-9");
        assert_eq!(go_float(0.000001), "0.000001");
    }
}
