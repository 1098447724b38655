//! Low-level reply encoding into a byte buffer; the server's reply builder and the proxy use it.

use bytes::{BufMut, BytesMut};

#[inline]
pub fn header(out: &mut BytesMut, prefix: u8, n: i64) {
    let mut b = itoa::Buffer::new();
    let s = b.format(n);
    out.reserve(s.len() + 3);
    out.put_u8(prefix);
    out.put_slice(s.as_bytes());
    out.put_slice(b"\r\n");
}

#[inline]
pub fn simple(out: &mut BytesMut, s: &[u8]) {
    out.reserve(s.len() + 3);
    out.put_u8(b'+');
    out.put_slice(s);
    out.put_slice(b"\r\n");
}

/// `-<msg>\r\n`; CR and LF inside `msg` become spaces so the reply stays one line, as Redis does.
#[inline]
pub fn error(out: &mut BytesMut, msg: &[u8]) {
    out.reserve(msg.len() + 3);
    out.put_u8(b'-');
    for &c in msg {
        out.put_u8(if c == b'\r' || c == b'\n' { b' ' } else { c });
    }
    out.put_slice(b"\r\n");
}

#[inline]
pub fn integer(out: &mut BytesMut, n: i64) {
    header(out, b':', n)
}

#[inline]
pub fn bulk(out: &mut BytesMut, b: &[u8]) {
    header(out, b'$', b.len() as i64);
    out.reserve(b.len() + 2);
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

/// Appends a request (multibulk of bulk strings) to `out`, as replication and the AOF write it.
pub fn command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    let mut b = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(b.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(b.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}
