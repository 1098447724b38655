//! Splitting of inline commands and config lines the way Redis's `sdssplitargs` does.

/// Splits `line` into arguments: whitespace separated, with `"..."` (C escapes and `\xHH`) and
/// `'...'` (only `\'`) quoting. Returns `None` on unbalanced quotes, or when a closing quote is
/// not followed by whitespace, as Redis does.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    // Redis splits a C string: a NUL byte ends the line.
    let line = &line[..memchr::memchr(0, line).unwrap_or(line.len())];
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 3 < n && line[i + 1] == b'x' && is_hex(line[i + 2]) && is_hex(line[i + 3]) {
                    cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    // The closing quote must be followed by a space or nothing.
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    in_dq = false;
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if in_sq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    in_sq = false;
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        let _ = (in_dq, in_sq);
        args.push(cur);
    }
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::split_args;

    fn s(line: &str) -> Option<Vec<String>> {
        split_args(line.as_bytes()).map(|v| v.into_iter().map(|a| String::from_utf8(a).unwrap()).collect())
    }

    #[test]
    fn plain_and_quoted() {
        assert_eq!(s("set a b").unwrap(), ["set", "a", "b"]);
        assert_eq!(s("  set   \"a b\" 'c d'  ").unwrap(), ["set", "a b", "c d"]);
        assert_eq!(s("x \"\\x41\\n\"").unwrap(), ["x", "A\n"]);
        assert_eq!(s("x 'it\\'s'").unwrap(), ["x", "it's"]);
        assert_eq!(s("").unwrap(), Vec::<String>::new());
        assert_eq!(s("save \"\"").unwrap(), ["save", ""]);
    }

    #[test]
    fn nul_ends_the_line() {
        assert_eq!(s("\0").unwrap(), Vec::<String>::new());
        assert_eq!(s("get a\0b").unwrap(), ["get", "a"]);
    }

    #[test]
    fn unbalanced() {
        assert!(s("set \"a").is_none());
        assert!(s("set 'a").is_none());
        assert!(s("set \"a\"b").is_none());
    }
}
