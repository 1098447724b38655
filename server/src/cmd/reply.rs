//! `Reply`: builds a connection's replies straight into its output buffer, in the protocol
//! version (RESP2 or RESP3) the client negotiated with HELLO.

use bytes::BytesMut;
use compat::resp::write;

use crate::sds::Sds;
use crate::util::fmt_g17;

pub struct Reply {
    pub buf: BytesMut,
    pub resp3: bool,
}

impl Reply {
    pub fn new(resp3: bool) -> Reply {
        Reply { buf: BytesMut::with_capacity(16 * 1024), resp3 }
    }

    #[inline]
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    #[inline]
    pub fn simple(&mut self, s: &str) {
        write::simple(&mut self.buf, s.as_bytes());
    }

    /// An error reply; `msg` carries its own prefix (`ERR ...`, `WRONGTYPE ...`).
    #[inline]
    pub fn error(&mut self, msg: &str) {
        write::error(&mut self.buf, msg.as_bytes());
    }

    #[inline]
    pub fn int(&mut self, n: i64) {
        write::integer(&mut self.buf, n);
    }

    #[inline]
    pub fn bulk(&mut self, b: &[u8]) {
        write::bulk(&mut self.buf, b);
    }

    /// A bulk string of a stored member. One kept inline (up to 22 bytes) is written in
    /// fixed-size pieces cut back to their length (no per-part copy calls, which dominate
    /// long replies of short members such as ZRANGE's). The header goes out as one 8-byte
    /// word rather than bytes assembled in a buffer and copied again.
    #[inline]
    pub fn bulk_sds(&mut self, m: &Sds) {
        let Sds::Inline { len, data } = m else { return self.bulk(m) };
        let len = *len as usize;
        // `$`, one or two digits, CRLF, in byte order.
        let (word, hlen) = if len < 10 {
            (u64::from_le_bytes([b'$', b'0' + len as u8, b'\r', b'\n', 0, 0, 0, 0]), 4)
        } else {
            (u64::from_le_bytes([b'$', b'0' + (len / 10) as u8, b'0' + (len % 10) as u8, b'\r', b'\n', 0, 0, 0]), 5)
        };
        let at = self.buf.len();
        self.buf.reserve(8 + data.len() + 2);
        self.buf.extend_from_slice(&word.to_le_bytes());
        self.buf.truncate(at + hlen);
        self.buf.extend_from_slice(data);
        self.buf.truncate(at + hlen + len);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An integer sent as a bulk string (e.g. GET on an int-encoded string).
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// The null bulk string (`$-1`, or `_` in RESP3).
    #[inline]
    pub fn null(&mut self) {
        self.buf.extend_from_slice(if self.resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// The null array (`*-1`, or `_` in RESP3).
    pub fn null_array(&mut self) {
        self.buf.extend_from_slice(if self.resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    #[inline]
    pub fn array(&mut self, n: usize) {
        write::header(&mut self.buf, b'*', n as i64);
    }

    /// A map of `n` pairs (`%` in RESP3, a flat array of 2n elements in RESP2).
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            write::header(&mut self.buf, b'%', n as i64);
        } else {
            write::header(&mut self.buf, b'*', 2 * n as i64);
        }
    }

    /// A set of `n` elements (`~` in RESP3, an array in RESP2).
    pub fn set(&mut self, n: usize) {
        write::header(&mut self.buf, if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    /// An out-of-band push of `n` elements (`>` in RESP3, an array in RESP2).
    pub fn push(&mut self, n: usize) {
        write::header(&mut self.buf, if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    /// A double: `,<%.17g>` in RESP3, a bulk string in RESP2.
    pub fn double(&mut self, d: f64) {
        let s = fmt_g17(d);
        if self.resp3 {
            self.buf.extend_from_slice(b",");
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf.extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(b as i64);
        }
    }

    /// Text such as INFO output: a verbatim string (`=`) in RESP3, a bulk string in RESP2.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            write::header(&mut self.buf, b'=', text.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Bytes already encoded as RESP.
    pub fn raw(&mut self, encoded: &[u8]) {
        self.buf.extend_from_slice(encoded);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_sds_matches_bulk() {
        for n in [0usize, 1, 9, 10, 21, 22, 23, 99, 100, 1000] {
            let m: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            let (mut a, mut b) = (Reply::new(false), Reply::new(false));
            a.bulk(b"x");
            b.bulk(b"x");
            a.bulk(&m);
            b.bulk_sds(&Sds::new(&m));
            a.int(7);
            b.int(7);
            assert_eq!(a.buf, b.buf, "length {n}");
        }
    }
}
