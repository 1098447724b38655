//! RESP2/RESP3 frames as a client sees them: parsing replies and encoding requests.

use bytes::{Bytes, BytesMut};

/// One RESP value. Null kinds are kept apart so a frame re-encodes to the exact bytes it came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Simple(Bytes),
    Error(Bytes),
    Integer(i64),
    Bulk(Bytes),
    /// RESP2 `$-1`.
    NullBulk,
    /// RESP2 `*-1`.
    NullArray,
    Array(Vec<Frame>),
    /// RESP3 `_`.
    Null,
    /// RESP3 `,`: kept as its text so it re-encodes byte for byte.
    Double(Bytes),
    Boolean(bool),
    BigNumber(Bytes),
    /// RESP3 `=`: a 3-byte format and the text.
    Verbatim(Bytes, Bytes),
    Map(Vec<(Frame, Frame)>),
    Set(Vec<Frame>),
    Push(Vec<Frame>),
    Attribute(Vec<(Frame, Frame)>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("invalid RESP type byte {0:#04x}")]
    BadType(u8),
    #[error("invalid RESP length or number")]
    BadNumber,
    #[error("missing CRLF after bulk payload")]
    BadTerminator,
}

impl Frame {
    /// Builds the multibulk request for `args`.
    pub fn command<I, A>(args: I) -> Frame
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        Frame::Array(args.into_iter().map(|a| Frame::Bulk(Bytes::copy_from_slice(a.as_ref()))).collect())
    }

    /// Appends the wire form of this frame to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        fn line(out: &mut BytesMut, t: u8, body: &[u8]) {
            out.extend_from_slice(&[t]);
            out.extend_from_slice(body);
            out.extend_from_slice(b"\r\n");
        }
        fn len(out: &mut BytesMut, t: u8, n: usize) {
            line(out, t, n.to_string().as_bytes());
        }
        match self {
            Frame::Simple(s) => line(out, b'+', s),
            Frame::Error(s) => line(out, b'-', s),
            Frame::Integer(i) => line(out, b':', i.to_string().as_bytes()),
            Frame::Bulk(b) => {
                len(out, b'$', b.len());
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Frame::NullBulk => out.extend_from_slice(b"$-1\r\n"),
            Frame::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Frame::Null => out.extend_from_slice(b"_\r\n"),
            Frame::Double(d) => line(out, b',', d),
            Frame::Boolean(b) => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Frame::BigNumber(n) => line(out, b'(', n),
            Frame::Verbatim(fmt, text) => {
                len(out, b'=', text.len() + 4);
                out.extend_from_slice(fmt);
                out.extend_from_slice(b":");
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
            Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
                let t = match self {
                    Frame::Array(_) => b'*',
                    Frame::Set(_) => b'~',
                    _ => b'>',
                };
                len(out, t, items.len());
                for f in items {
                    f.encode(out);
                }
            }
            Frame::Map(pairs) | Frame::Attribute(pairs) => {
                len(out, if matches!(self, Frame::Map(_)) { b'%' } else { b'|' }, pairs.len());
                for (k, v) in pairs {
                    k.encode(out);
                    v.encode(out);
                }
            }
        }
    }

    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }

    /// True for `-ERR ...` style replies.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }
}

/// Parses one frame from the start of `buf`. Returns the frame and the bytes it used, or
/// `Ok(None)` when `buf` holds only part of a frame.
pub fn parse_frame(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
    let mut p = Parser { buf, pos: 0 };
    match p.frame() {
        Ok(f) => Ok(Some((f, p.pos))),
        Err(Incomplete::More) => Ok(None),
        Err(Incomplete::Bad(e)) => Err(e),
    }
}

enum Incomplete {
    More,
    Bad(FrameError),
}

impl From<FrameError> for Incomplete {
    fn from(e: FrameError) -> Self {
        Incomplete::Bad(e)
    }
}

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn line(&mut self) -> Result<&[u8], Incomplete> {
        let rest = &self.buf[self.pos..];
        let Some(i) = memchr::memchr(b'\n', rest) else { return Err(Incomplete::More) };
        let end = if i > 0 && rest[i - 1] == b'\r' { i - 1 } else { i };
        self.pos += i + 1;
        Ok(&rest[..end])
    }

    fn int(&mut self) -> Result<i64, Incomplete> {
        let l = self.line()?;
        std::str::from_utf8(l).ok().and_then(|s| s.parse().ok()).ok_or(Incomplete::Bad(FrameError::BadNumber))
    }

    fn bytes(&mut self, n: usize) -> Result<Bytes, Incomplete> {
        if self.buf.len() < self.pos + n + 2 {
            return Err(Incomplete::More);
        }
        let b = Bytes::copy_from_slice(&self.buf[self.pos..self.pos + n]);
        if &self.buf[self.pos + n..self.pos + n + 2] != b"\r\n" {
            return Err(FrameError::BadTerminator.into());
        }
        self.pos += n + 2;
        Ok(b)
    }

    fn items(&mut self, n: i64) -> Result<Vec<Frame>, Incomplete> {
        let mut v = Vec::with_capacity(n.clamp(0, 1024) as usize);
        for _ in 0..n {
            v.push(self.frame()?);
        }
        Ok(v)
    }

    fn pairs(&mut self, n: i64) -> Result<Vec<(Frame, Frame)>, Incomplete> {
        let mut v = Vec::with_capacity(n.clamp(0, 1024) as usize);
        for _ in 0..n {
            let k = self.frame()?;
            v.push((k, self.frame()?));
        }
        Ok(v)
    }

    fn frame(&mut self) -> Result<Frame, Incomplete> {
        if self.pos >= self.buf.len() {
            return Err(Incomplete::More);
        }
        let t = self.buf[self.pos];
        self.pos += 1;
        Ok(match t {
            b'+' => Frame::Simple(Bytes::copy_from_slice(self.line()?)),
            b'-' => Frame::Error(Bytes::copy_from_slice(self.line()?)),
            b':' => Frame::Integer(self.int()?),
            b'$' => match self.int()? {
                -1 => Frame::NullBulk,
                n if n >= 0 => Frame::Bulk(self.bytes(n as usize)?),
                _ => return Err(FrameError::BadNumber.into()),
            },
            b'*' => match self.int()? {
                -1 => Frame::NullArray,
                n if n >= 0 => Frame::Array(self.items(n)?),
                _ => return Err(FrameError::BadNumber.into()),
            },
            b'_' => {
                self.line()?;
                Frame::Null
            }
            b',' => Frame::Double(Bytes::copy_from_slice(self.line()?)),
            b'#' => Frame::Boolean(self.line()? == b"t"),
            b'(' => Frame::BigNumber(Bytes::copy_from_slice(self.line()?)),
            b'!' => {
                let n = self.int()?;
                Frame::Error(self.bytes(n.max(0) as usize)?)
            }
            b'=' => {
                let n = self.int()?;
                let all = self.bytes(n.max(0) as usize)?;
                if all.len() < 4 {
                    return Err(FrameError::BadNumber.into());
                }
                Frame::Verbatim(all.slice(..3), all.slice(4..))
            }
            b'~' => {
                let n = self.int()?;
                Frame::Set(self.items(n)?)
            }
            b'>' => {
                let n = self.int()?;
                Frame::Push(self.items(n)?)
            }
            b'%' => {
                let n = self.int()?;
                Frame::Map(self.pairs(n)?)
            }
            b'|' => {
                let n = self.int()?;
                Frame::Attribute(self.pairs(n)?)
            }
            other => return Err(FrameError::BadType(other).into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_resp2_and_resp3() {
        let wire: &[&[u8]] = &[
            b"+OK\r\n",
            b"-ERR x\r\n",
            b":-42\r\n",
            b"$3\r\na\rb\r\n",
            b"$-1\r\n",
            b"*-1\r\n",
            b"*2\r\n:1\r\n*1\r\n$0\r\n\r\n",
            b"_\r\n",
            b",1.5\r\n",
            b"#t\r\n",
            b"%1\r\n+a\r\n:1\r\n",
            b"~1\r\n+a\r\n",
            b"=8\r\ntxt:abcd\r\n",
            b">2\r\n$7\r\nmessage\r\n:1\r\n",
        ];
        for w in wire {
            let (f, n) = parse_frame(w).unwrap().unwrap();
            assert_eq!(n, w.len());
            assert_eq!(&f.to_bytes()[..], *w, "{f:?}");
        }
    }

    #[test]
    fn incomplete_and_bad() {
        assert!(parse_frame(b"*2\r\n:1\r\n").unwrap().is_none());
        assert!(parse_frame(b"$5\r\nab").unwrap().is_none());
        assert!(parse_frame(b"?x\r\n").is_err());
    }
}
