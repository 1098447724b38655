//! Finding where one RESP reply ends without building it: a proxy forwards replies as the bytes
//! it received and only needs their boundaries.

use super::FrameError;

/// Resumable scanner for the end of the next complete reply (RESP2 and RESP3 types) in a buffer.
///
/// Progress is kept between calls, so a large array arriving in pieces is walked once. The buffer
/// passed must start at the same reply every time until [`scan`](Self::scan) returns its length.
#[derive(Debug, Default)]
pub struct ReplyScanner {
    /// Bytes of the current reply already walked.
    pos: usize,
    /// Elements still expected by each open aggregate, innermost last.
    stack: Vec<u64>,
}

impl ReplyScanner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the length of the complete reply at the start of `buf`, or `Ok(None)` when more
    /// bytes are needed. After `Some`, the scanner is ready for the next reply.
    pub fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        loop {
            // One value (or an aggregate header) at `pos`.
            if self.pos >= buf.len() {
                return Ok(None);
            }
            let Some(eol) = find_nl(&buf[self.pos..]) else { return Ok(None) };
            let line_end = self.pos + eol + 1;
            let t = buf[self.pos];
            let body = &buf[self.pos + 1..line_end.saturating_sub(2).max(self.pos + 1)];
            let mut children: u64 = 0;
            match t {
                b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => self.pos = line_end,
                b'$' | b'!' | b'=' => {
                    let n = parse_len(body)?;
                    if n < 0 {
                        self.pos = line_end;
                    } else {
                        let end = line_end + n as usize + 2;
                        if buf.len() < end {
                            return Ok(None);
                        }
                        if &buf[end - 2..end] != b"\r\n" {
                            return Err(FrameError::BadTerminator);
                        }
                        self.pos = end;
                    }
                }
                b'*' | b'~' | b'>' | b'%' | b'|' => {
                    let n = parse_len(body)?;
                    self.pos = line_end;
                    if n > 0 {
                        children = n as u64 * if matches!(t, b'%' | b'|') { 2 } else { 1 };
                    }
                }
                other => return Err(FrameError::BadType(other)),
            }
            if children > 0 {
                self.stack.push(children);
                continue;
            }
            // A value completed: close every aggregate it completes.
            loop {
                match self.stack.last_mut() {
                    None => {
                        let n = self.pos;
                        self.pos = 0;
                        return Ok(Some(n));
                    }
                    Some(left) => {
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                        self.stack.pop();
                    }
                }
            }
        }
    }
}

/// The first `\n` in `buf`. Reply lines are mostly a few bytes (`+OK`, `$3`, `:1`): a plain loop
/// over the first bytes costs less than setting up the vectorised search, which takes the rest.
fn find_nl(buf: &[u8]) -> Option<usize> {
    const SHORT: usize = 16;
    let head = &buf[..buf.len().min(SHORT)];
    if let Some(i) = head.iter().position(|&c| c == b'\n') {
        return Some(i);
    }
    memchr::memchr(b'\n', &buf[head.len()..]).map(|i| head.len() + i)
}

fn parse_len(s: &[u8]) -> Result<i64, FrameError> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 18 {
        return Err(FrameError::BadNumber);
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(FrameError::BadNumber);
        }
        v = v * 10 + (c - b'0') as i64;
    }
    match (neg, v) {
        (false, v) => Ok(v),
        (true, 1) => Ok(-1),
        _ => Err(FrameError::BadNumber),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newline_short_and_long_lines() {
        assert_eq!(find_nl(b"+OK\r\n"), Some(4));
        assert_eq!(find_nl(b"+OK\r"), None);
        assert_eq!(find_nl(b""), None);
        let mut long = vec![b'a'; 40];
        long.extend_from_slice(b"\r\n");
        assert_eq!(find_nl(&long), Some(41));
        long[15] = b'\n';
        assert_eq!(find_nl(&long), Some(15));
        long[15] = b'a';
        long[16] = b'\n';
        assert_eq!(find_nl(&long), Some(16));
    }

    #[test]
    fn whole_replies() {
        let cases: &[&[u8]] = &[
            b"+OK\r\n",
            b"-ERR x\r\n",
            b":12\r\n",
            b"$3\r\na\nb\r\n",
            b"$-1\r\n",
            b"*-1\r\n",
            b"*0\r\n",
            b"*2\r\n*2\r\n:1\r\n$0\r\n\r\n+x\r\n",
            b"%1\r\n+a\r\n*1\r\n:1\r\n",
            b"_\r\n",
        ];
        for c in cases {
            let mut s = ReplyScanner::new();
            let mut buf = c.to_vec();
            buf.extend_from_slice(b"+NEXT\r\n");
            assert_eq!(s.scan(&buf).unwrap(), Some(c.len()), "{}", String::from_utf8_lossy(c));
            assert_eq!(s.scan(&buf[c.len()..]).unwrap(), Some(7));
        }
    }

    #[test]
    fn resumes_across_pieces() {
        let wire = b"*3\r\n$5\r\nhello\r\n*2\r\n:1\r\n:2\r\n$-1\r\n";
        for split in 0..wire.len() {
            let mut s = ReplyScanner::new();
            let first = s.scan(&wire[..split]).unwrap();
            assert_eq!(first, None, "split {split}");
            assert_eq!(s.scan(wire).unwrap(), Some(wire.len()), "split {split}");
        }
    }

    #[test]
    fn bad_input() {
        assert!(ReplyScanner::new().scan(b"?x\r\n").is_err());
        assert!(ReplyScanner::new().scan(b"$2\r\nabcd").is_err());
        assert!(ReplyScanner::new().scan(b"*x\r\n").is_err());
    }
}
