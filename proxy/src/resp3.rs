//! RESP3 for clients that ask for it with `HELLO 3`.
//!
//! Backends speak RESP2 (a Codis 3.2 server knows no HELLO), so the session rewrites each reply
//! into the shape Redis 7 gives a RESP3 client: nulls become `_`, HGETALL a map, SMEMBERS and
//! friends a set, scores doubles, WITHSCORES replies pairs, INFO a verbatim string. Other replies
//! are the same in both protocols and pass through untouched.

use bytes::{Bytes, BytesMut};
use compat::resp::{parse_frame, Frame};

/// How a command's RESP2 reply maps to RESP3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Only nulls change.
    Plain,
    /// Flat field/value array to a map (HGETALL).
    Map,
    /// Array to a set (SMEMBERS, SINTER, SUNION, SDIFF, SPOP with a count).
    Set,
    /// Bulk score to a double (ZSCORE, ZINCRBY, ZADD INCR).
    Double,
    /// Array of scores to doubles (ZMSCORE).
    Doubles,
    /// Flat member/score array to `[member, double]` pairs (WITHSCORES, ZPOP* with a count).
    ScorePairs,
    /// Flat `member score` to `member, double` (ZPOPMIN/ZPOPMAX without a count).
    FlatScore,
    /// Flat field/value array to `[field, value]` pairs (HRANDFIELD WITHVALUES).
    Pairs,
    /// Bulk text to a verbatim string (INFO).
    Verbatim,
}

fn has_arg(args: &[Bytes], from: usize, word: &[u8]) -> bool {
    args.iter().skip(from).any(|a| a.eq_ignore_ascii_case(word))
}

/// The shape of the reply to `args` (command name upper-cased in `name`).
pub fn shape_of(name: Option<&str>, args: &[Bytes]) -> Shape {
    let Some(name) = name else { return Shape::Plain };
    match name {
        "HGETALL" => Shape::Map,
        "SMEMBERS" | "SINTER" | "SUNION" | "SDIFF" => Shape::Set,
        "SPOP" if args.len() > 2 => Shape::Set,
        "ZSCORE" | "ZINCRBY" => Shape::Double,
        "ZADD" if has_arg(args, 2, b"INCR") => Shape::Double,
        "ZMSCORE" => Shape::Doubles,
        "ZRANGE" | "ZREVRANGE" | "ZRANGEBYSCORE" | "ZREVRANGEBYSCORE" | "ZRANDMEMBER"
            if has_arg(args, 2, b"WITHSCORES") =>
        {
            Shape::ScorePairs
        }
        "ZPOPMIN" | "ZPOPMAX" if args.len() > 2 => Shape::ScorePairs,
        "ZPOPMIN" | "ZPOPMAX" => Shape::FlatScore,
        "HRANDFIELD" if has_arg(args, 2, b"WITHVALUES") => Shape::Pairs,
        "INFO" => Shape::Verbatim,
        _ => Shape::Plain,
    }
}

/// Appends the RESP3 form of the RESP2 `reply` to `out`.
pub fn translate(shape: Shape, reply: &[u8], out: &mut BytesMut) {
    if shape == Shape::Plain {
        match reply.first() {
            Some(b'+' | b'-' | b':') => return out.extend_from_slice(reply),
            Some(b'$') if !reply.starts_with(b"$-1\r\n") => return out.extend_from_slice(reply),
            Some(b'*') if memchr::memmem::find(reply, b"-1\r\n").is_none() => return out.extend_from_slice(reply),
            _ => {}
        }
    }
    match parse_frame(reply) {
        Ok(Some((frame, _))) => convert(shape, frame).encode(out),
        // Not RESP from the backend: pass it on as it came.
        _ => out.extend_from_slice(reply),
    }
}

fn nulls(f: Frame) -> Frame {
    match f {
        Frame::NullBulk | Frame::NullArray => Frame::Null,
        Frame::Array(items) => Frame::Array(items.into_iter().map(nulls).collect()),
        other => other,
    }
}

fn double(f: Frame) -> Frame {
    match f {
        Frame::Bulk(b) => Frame::Double(b),
        other => nulls(other),
    }
}

fn convert(shape: Shape, f: Frame) -> Frame {
    match (shape, f) {
        (_, Frame::Error(e)) => Frame::Error(e),
        (Shape::Map, Frame::Array(items)) => {
            let mut it = items.into_iter();
            let mut pairs = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((nulls(k), nulls(v)));
            }
            Frame::Map(pairs)
        }
        (Shape::Set, Frame::Array(items)) => Frame::Set(items.into_iter().map(nulls).collect()),
        (Shape::Double, f) => double(f),
        (Shape::Doubles, Frame::Array(items)) => Frame::Array(items.into_iter().map(double).collect()),
        (Shape::ScorePairs | Shape::Pairs, Frame::Array(items)) => {
            let scores = shape == Shape::ScorePairs;
            let mut it = items.into_iter();
            let mut pairs = Vec::new();
            while let (Some(m), Some(s)) = (it.next(), it.next()) {
                pairs.push(Frame::Array(vec![nulls(m), if scores { double(s) } else { nulls(s) }]));
            }
            Frame::Array(pairs)
        }
        (Shape::FlatScore, Frame::Array(items)) => Frame::Array(
            items.into_iter().enumerate().map(|(i, x)| if i % 2 == 1 { double(x) } else { nulls(x) }).collect(),
        ),
        (Shape::Verbatim, Frame::Bulk(b)) => Frame::Verbatim(Bytes::from_static(b"txt"), b),
        (_, f) => nulls(f),
    }
}

/// The reply to HELLO: the connection's properties, a map in RESP3 and a flat array in RESP2.
pub fn hello_reply(out: &mut BytesMut, resp3: bool, session_id: u64) {
    let fields = [
        (Frame::Bulk(Bytes::from_static(b"server")), Frame::Bulk(Bytes::from_static(b"redis"))),
        (Frame::Bulk(Bytes::from_static(b"version")), Frame::Bulk(Bytes::from_static(crate::REDIS_VERSION.as_bytes()))),
        (Frame::Bulk(Bytes::from_static(b"proto")), Frame::Integer(if resp3 { 3 } else { 2 })),
        (Frame::Bulk(Bytes::from_static(b"id")), Frame::Integer(session_id as i64)),
        (Frame::Bulk(Bytes::from_static(b"mode")), Frame::Bulk(Bytes::from_static(b"standalone"))),
        (Frame::Bulk(Bytes::from_static(b"role")), Frame::Bulk(Bytes::from_static(b"master"))),
        (Frame::Bulk(Bytes::from_static(b"modules")), Frame::Array(Vec::new())),
    ];
    let frame = if resp3 {
        Frame::Map(fields.into_iter().collect())
    } else {
        Frame::Array(fields.into_iter().flat_map(|(k, v)| [k, v]).collect())
    };
    frame.encode(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: Shape, reply: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        translate(shape, reply, &mut out);
        out.to_vec()
    }

    #[test]
    fn shapes() {
        assert_eq!(t(Shape::Plain, b"$-1\r\n"), b"_\r\n");
        assert_eq!(t(Shape::Plain, b"*2\r\n$1\r\na\r\n$-1\r\n"), b"*2\r\n$1\r\na\r\n_\r\n");
        assert_eq!(t(Shape::Plain, b"+OK\r\n"), b"+OK\r\n");
        assert_eq!(t(Shape::Map, b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n"), b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
        assert_eq!(t(Shape::Set, b"*1\r\n$1\r\nm\r\n"), b"~1\r\n$1\r\nm\r\n");
        assert_eq!(t(Shape::Double, b"$3\r\n1.5\r\n"), b",1.5\r\n");
        assert_eq!(t(Shape::Double, b"$-1\r\n"), b"_\r\n");
        assert_eq!(t(Shape::ScorePairs, b"*2\r\n$1\r\nm\r\n$1\r\n2\r\n"), b"*1\r\n*2\r\n$1\r\nm\r\n,2\r\n");
        assert_eq!(t(Shape::Verbatim, b"$3\r\na:b\r\n"), b"=7\r\ntxt:a:b\r\n");
        assert_eq!(t(Shape::Map, b"-ERR x\r\n"), b"-ERR x\r\n");
    }

    #[test]
    fn shape_selection() {
        let args = |s: &str| s.split(' ').map(|a| Bytes::copy_from_slice(a.as_bytes())).collect::<Vec<_>>();
        assert_eq!(shape_of(Some("ZRANGE"), &args("zrange z 0 -1 withscores")), Shape::ScorePairs);
        assert_eq!(shape_of(Some("ZRANGE"), &args("zrange z 0 -1")), Shape::Plain);
        assert_eq!(shape_of(Some("ZADD"), &args("zadd z incr 1 m")), Shape::Double);
        assert_eq!(shape_of(None, &args("foo")), Shape::Plain);
    }
}
