//! Human-readable forms of commands, replies and raw bytes for reports and snapshots.

use compat::resp::Frame;

/// Bytes as a double-quoted string with C escapes (`"a\r\n\x00"`).
pub fn quote(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

/// A command line: arguments that need no quoting are shown bare, the others quoted.
pub fn args<A: AsRef<[u8]>>(args: &[A]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&arg(a.as_ref()));
    }
    out
}

/// One argument, quoted only when needed; long ones are shortened.
pub fn arg(a: &[u8]) -> String {
    let plain = !a.is_empty() && a.iter().all(|&c| c.is_ascii_graphic() && c != b'"' && c != b'\'' && c != b'\\');
    let shown = if a.len() > 100 {
        let mut s = quote(&a[..60]);
        s.pop();
        format!("{s}...\"({} bytes)", a.len())
    } else if plain {
        String::from_utf8_lossy(a).into_owned()
    } else {
        quote(a)
    };
    shown
}

/// A reply frame in a compact one-line form: `+OK`, `-ERR x`, `:1`, `"bulk"`, `(nil)`,
/// `[a, b]`, `{k: v}`, `~[set]`, `,1.5`, `#t`, `_`.
pub fn frame(f: &Frame) -> String {
    let mut s = String::new();
    write_frame(&mut s, f);
    s
}

fn write_frame(s: &mut String, f: &Frame) {
    match f {
        Frame::Simple(b) => {
            s.push('+');
            s.push_str(&String::from_utf8_lossy(b));
        }
        Frame::Error(b) => {
            s.push('-');
            s.push_str(&String::from_utf8_lossy(b));
        }
        Frame::Integer(i) => s.push_str(&format!(":{i}")),
        Frame::Bulk(b) => s.push_str(&arg_quoted(b)),
        Frame::NullBulk => s.push_str("(nil)"),
        Frame::NullArray => s.push_str("(nil array)"),
        Frame::Null => s.push('_'),
        Frame::Double(d) => {
            s.push(',');
            s.push_str(&String::from_utf8_lossy(d));
        }
        Frame::Boolean(b) => s.push_str(if *b { "#t" } else { "#f" }),
        Frame::BigNumber(n) => {
            s.push('(');
            s.push_str(&String::from_utf8_lossy(n));
        }
        Frame::Verbatim(fmt, t) => {
            s.push_str(&format!("={}:", String::from_utf8_lossy(fmt)));
            s.push_str(&arg_quoted(t));
        }
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            match f {
                Frame::Set(_) => s.push('~'),
                Frame::Push(_) => s.push('>'),
                _ => {}
            }
            s.push('[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                if i >= 200 {
                    s.push_str(&format!("... {} more", items.len() - i));
                    break;
                }
                write_frame(s, it);
            }
            s.push(']');
        }
        Frame::Map(pairs) | Frame::Attribute(pairs) => {
            if matches!(f, Frame::Attribute(_)) {
                s.push('|');
            }
            s.push('{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_frame(s, k);
                s.push_str(": ");
                write_frame(s, v);
            }
            s.push('}');
        }
    }
}

fn arg_quoted(b: &[u8]) -> String {
    if b.len() > 100 {
        let mut q = quote(&b[..60]);
        q.pop();
        format!("{q}...\"({} bytes)", b.len())
    } else {
        quote(b)
    }
}

/// Raw wire bytes as an escaped string, shortened past `max` bytes.
pub fn raw(b: &[u8], max: usize) -> String {
    if b.len() > max {
        let mut q = quote(&b[..max]);
        q.pop();
        format!("{q}...\"({} bytes)", b.len())
    } else {
        quote(b)
    }
}
