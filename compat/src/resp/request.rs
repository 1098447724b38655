//! Incremental, zero-copy decoding of client requests (multibulk and inline), with Redis's
//! limits and Redis's wording for protocol errors.

use bytes::{Buf, Bytes, BytesMut};

use super::{split_args, DEFAULT_MAX_BULK_LEN, MAX_INLINE_SIZE, MAX_MULTIBULK_LEN};

/// A protocol error; the message is what Redis sends after `-ERR ` before closing the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(msg: impl Into<String>) -> Self {
        ProtocolError(msg.into())
    }
}

/// Limits applied while decoding.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: usize,
    /// Largest element count of a multibulk request.
    pub max_multibulk_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bulk_len: DEFAULT_MAX_BULK_LEN, max_multibulk_len: MAX_MULTIBULK_LEN }
    }
}

/// Decodes requests from a growing buffer. Arguments of multibulk requests are slices of the
/// buffer (no copy); partial requests keep their progress so a large bulk is scanned once.
///
/// Besides taking requests out of the buffer one by one ([`decode_frame`](Self::decode_frame)),
/// a caller can [`peek`](Self::peek) at multibulk requests where they lie, use their bytes and
/// arguments in place, and drop them from the buffer all at once with
/// [`release`](Self::release): a proxy forwarding most requests as they are then builds no
/// `Bytes` per request or argument.
#[derive(Debug, Default)]
pub struct RequestDecoder {
    pub limits: Limits,
    /// Bytes at the start of the buffer that belong to requests already returned by
    /// [`peek`](Self::peek) (or skipped), not yet removed from the buffer.
    consumed: usize,
    /// Offset in the buffer up to which the current request has been parsed.
    pos: usize,
    /// Elements still expected in the current multibulk request (0 = not inside one).
    remaining: usize,
    /// Length of the bulk whose header was read but whose payload has not arrived.
    bulk_len: Option<usize>,
    /// Argument ranges of the current (or last peeked) request, relative to the buffer start.
    ranges: Vec<(usize, usize)>,
    /// The current request is written exactly as [`super::write`] would encode its arguments
    /// (every line ends in CRLF, no `$-0`), so its bytes can be forwarded as they are.
    canonical: bool,
}

/// A complete multibulk request found by [`RequestDecoder::peek`], still in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peeked {
    /// Where its bytes lie in the buffer.
    pub start: usize,
    pub end: usize,
    /// The bytes are the canonical encoding of the arguments (see
    /// [`RequestDecoder::decode_frame`]).
    pub canonical: bool,
}

/// What [`RequestDecoder::peek`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peek {
    Request(Peeked),
    /// An inline request comes next: take it with [`RequestDecoder::decode_frame`].
    Inline,
    /// More bytes are needed.
    Incomplete,
}

/// Progress of the multibulk request at `consumed`.
enum Step {
    Incomplete,
    Inline,
    /// Complete; it ends at this offset.
    Done(usize),
}

impl RequestDecoder {
    pub fn new(limits: Limits) -> Self {
        RequestDecoder { limits, ..Default::default() }
    }

    /// How many bytes the buffer must hold before the pending request can progress; lets the
    /// reader reserve room for a large bulk at once.
    pub fn wanted(&self) -> usize {
        match self.bulk_len {
            Some(len) => self.pos + len + 2,
            None => 0,
        }
    }

    /// Returns the next complete request, `Ok(None)` when more bytes are needed. Empty requests
    /// (`*0`, `*-1`, blank inline lines) are skipped, as Redis does.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let mut args = Vec::new();
        Ok(self.decode_into(buf, &mut args)?.then_some(args))
    }

    /// Like [`decode`](Self::decode), but fills `args` (cleared first) so a connection can reuse
    /// one vector for all its requests. Returns whether a request was decoded.
    pub fn decode_into(&mut self, buf: &mut BytesMut, args: &mut Vec<Bytes>) -> Result<bool, ProtocolError> {
        let mut frame = None;
        self.decode_frame(buf, args, &mut frame)
    }

    /// Like [`decode_into`](Self::decode_into), and also sets `frame` to the request's bytes
    /// when they are a multibulk request in the canonical encoding (byte for byte what encoding
    /// `args` as a multibulk would give), `None` otherwise: a proxy can forward those bytes
    /// without encoding the arguments again.
    pub fn decode_frame(
        &mut self,
        buf: &mut BytesMut,
        args: &mut Vec<Bytes>,
        frame: &mut Option<Bytes>,
    ) -> Result<bool, ProtocolError> {
        args.clear();
        *frame = None;
        self.release(buf);
        let step = self.parse(buf)?;
        match step {
            Step::Incomplete => {
                self.release(buf);
                Ok(false)
            }
            Step::Inline => {
                self.release(buf);
                self.decode_inline(buf, args)
            }
            Step::Done(end) => {
                let start = self.consumed;
                self.split(buf, start, end, self.canonical, args, frame);
                Ok(true)
            }
        }
    }

    /// Finds the next multibulk request after those already peeked, leaving the buffer as it
    /// is; its arguments are then available through [`arg`](Self::arg) until the next call.
    /// Empty multibulk requests are skipped. The caller must not change the buffer's bytes
    /// before [`release`](Self::release) or [`split_peeked`](Self::split_peeked) (appending
    /// is fine).
    pub fn peek(&mut self, buf: &[u8]) -> Result<Peek, ProtocolError> {
        let step = self.parse(buf)?;
        Ok(match step {
            Step::Incomplete => Peek::Incomplete,
            Step::Inline => Peek::Inline,
            Step::Done(end) => {
                // `parse` moves `consumed` past skipped empty requests only.
                let start = self.consumed;
                self.consumed = end;
                Peek::Request(Peeked { start, end, canonical: self.canonical })
            }
        })
    }

    /// Number of arguments of the last peeked request.
    pub fn arg_count(&self) -> usize {
        self.ranges.len()
    }

    /// Argument `i` of the last peeked request, in `buf` (the buffer given to `peek`).
    pub fn arg<'a>(&self, buf: &'a [u8], i: usize) -> Option<&'a [u8]> {
        self.ranges.get(i).and_then(|&(s, e)| buf.get(s..e))
    }

    /// Removes the requests peeked so far from the buffer.
    pub fn release(&mut self, buf: &mut BytesMut) {
        let n = self.consumed;
        if n == 0 {
            return;
        }
        buf.advance(n);
        self.consumed = 0;
        if self.remaining > 0 {
            self.pos -= n;
            for r in &mut self.ranges {
                r.0 -= n;
                r.1 -= n;
            }
        } else {
            self.ranges.clear();
        }
    }

    /// Takes the last peeked request, `req`, out of the buffer as [`decode_frame`] would have
    /// returned it; the requests peeked before it are dropped from the buffer.
    ///
    /// [`decode_frame`]: Self::decode_frame
    pub fn split_peeked(&mut self, buf: &mut BytesMut, req: Peeked, args: &mut Vec<Bytes>, frame: &mut Option<Bytes>) {
        args.clear();
        *frame = None;
        self.split(buf, req.start, req.end, req.canonical, args, frame);
    }

    fn split(
        &mut self,
        buf: &mut BytesMut,
        start: usize,
        end: usize,
        canonical: bool,
        args: &mut Vec<Bytes>,
        frame: &mut Option<Bytes>,
    ) {
        buf.advance(start);
        let whole = buf.split_to(end - start).freeze();
        self.consumed = 0;
        self.pos = 0;
        args.extend(self.ranges.drain(..).map(|(s, e)| whole.slice(s - start..e - start)));
        if canonical {
            *frame = Some(whole);
        }
    }

    /// Parses the multibulk request at `consumed` (resuming where the last call stopped).
    fn parse(&mut self, buf: &[u8]) -> Result<Step, ProtocolError> {
        loop {
            let at = self.consumed;
            if at >= buf.len() {
                return Ok(Step::Incomplete);
            }
            if self.remaining == 0 {
                if buf[at] != b'*' {
                    return Ok(Step::Inline);
                }
                // Multibulk header.
                let Some((eol, count)) = count_line(buf, at) else {
                    if buf.len() - at > MAX_INLINE_SIZE {
                        return Err(ProtocolError::new("too big mbulk count string"));
                    }
                    return Ok(Step::Incomplete);
                };
                if eol + 1 >= buf.len() {
                    return Ok(Step::Incomplete);
                }
                let count = match count {
                    Some(n) if n <= self.limits.max_multibulk_len as i64 => n,
                    _ => return Err(ProtocolError::new("invalid multibulk length")),
                };
                if count <= 0 {
                    self.consumed = eol + 2;
                    continue;
                }
                self.pos = eol + 2;
                self.remaining = count as usize;
                // Redis skips the byte after '\r' unchecked, and so does this decoder.
                self.canonical = buf[eol + 1] == b'\n';
                self.ranges.clear();
                self.ranges.reserve(self.remaining.min(1024));
            }
            while self.remaining > 0 {
                let len = match self.bulk_len {
                    Some(len) => len,
                    None => {
                        if self.pos >= buf.len() {
                            return Ok(Step::Incomplete);
                        }
                        let Some((eol, len)) = count_line(buf, self.pos) else {
                            if buf.len() - self.pos > MAX_INLINE_SIZE {
                                return Err(ProtocolError::new("too big bulk count string"));
                            }
                            return Ok(Step::Incomplete);
                        };
                        if buf[self.pos] != b'$' {
                            let got = buf[self.pos] as char;
                            return Err(ProtocolError(format!("expected '$', got '{got}'")));
                        }
                        if eol + 1 >= buf.len() {
                            return Ok(Step::Incomplete);
                        }
                        let len = match len {
                            Some(n) if n >= 0 && n as usize <= self.limits.max_bulk_len => n as usize,
                            _ => return Err(ProtocolError::new("invalid bulk length")),
                        };
                        // `$-0` parses as 0 but is not how 0 is written.
                        self.canonical &= buf[eol + 1] == b'\n' && buf[self.pos + 1] != b'-';
                        self.pos = eol + 2;
                        self.bulk_len = Some(len);
                        len
                    }
                };
                if buf.len() < self.pos + len + 2 {
                    return Ok(Step::Incomplete);
                }
                self.ranges.push((self.pos, self.pos + len));
                self.canonical &= &buf[self.pos + len..self.pos + len + 2] == b"\r\n";
                self.pos += len + 2;
                self.bulk_len = None;
                self.remaining -= 1;
            }
            return Ok(Step::Done(self.pos));
        }
    }

    fn decode_inline(&mut self, buf: &mut BytesMut, out: &mut Vec<Bytes>) -> Result<bool, ProtocolError> {
        // As with `find_cr`, a NUL byte hides the newline from Redis's `strchr`.
        let nl = match memchr::memchr2(b'\n', 0, buf) {
            Some(i) if buf[i] == b'\n' => Some(i),
            _ => None,
        };
        let Some(nl) = nl else {
            if buf.len() > MAX_INLINE_SIZE {
                return Err(ProtocolError::new("too big inline request"));
            }
            return Ok(false);
        };
        let line = buf.split_to(nl + 1);
        let mut body = &line[..nl];
        if body.last() == Some(&b'\r') {
            body = &body[..body.len() - 1];
        }
        let args = split_args(body).ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?;
        if args.is_empty() {
            // Blank lines are ignored (they keep telnet sessions alive).
            return self.decode_into(buf, out);
        }
        out.extend(args.into_iter().map(Bytes::from));
        Ok(true)
    }
}

/// Finds the `\r` ending a count line. Redis looks for it with `strchr`, which stops at a NUL
/// byte: a line with a NUL before its `\r` is never complete (the client eventually hits the
/// size limit), and we wait the same way.
fn find_cr(buf: &[u8], from: usize) -> Option<usize> {
    // Count lines are a few bytes long: a plain loop over the first ones costs less than
    // setting up the vectorised search, which takes over for longer lines.
    const SHORT: usize = 24;
    let head = &buf[from..buf.len().min(from + SHORT)];
    for (i, &c) in head.iter().enumerate() {
        match c {
            b'\r' => return Some(from + i),
            0 => return None,
            _ => {}
        }
    }
    let rest = from + head.len();
    match memchr::memchr2(b'\r', 0, &buf[rest..]) {
        Some(i) if buf[rest + i] == b'\r' => Some(rest + i),
        _ => None,
    }
}

/// Finds the `\r` ending the count line at `from` (`*N` or `$N`) and parses `N` with
/// [`parse_int`]'s rules. The usual short, plain count is read in the same pass as the search;
/// anything else goes through [`find_cr`] and [`parse_int`].
#[inline(always)]
fn count_line(buf: &[u8], from: usize) -> Option<(usize, Option<i64>)> {
    // At most 18 digits: the value cannot overflow.
    let end = buf.len().min(from + 1 + 18);
    let mut v: i64 = 0;
    for i in from + 1..end {
        let c = buf[i];
        if c.is_ascii_digit() {
            v = v * 10 + (c - b'0') as i64;
            continue;
        }
        let digits = i - from - 1;
        // No digits or a leading zero: parse_int decides.
        if c == b'\r' && digits > 0 && (digits == 1 || buf[from + 1] != b'0') {
            return Some((i, Some(v)));
        }
        break;
    }
    let eol = find_cr(buf, from)?;
    Some((eol, parse_int(&buf[from + 1..eol])))
}

/// Parses a signed decimal the way Redis's `string2ll` does (no spaces, no `+`, no leading zero).
fn parse_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    if digits.is_empty() || (digits[0] == b'0' && digits.len() > 1) {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?;
        v = if neg { v.checked_sub((c - b'0') as i64)? } else { v.checked_add((c - b'0') as i64)? };
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(input: &[u8]) -> (Vec<Vec<Vec<u8>>>, Result<(), ProtocolError>) {
        let mut d = RequestDecoder::default();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match d.decode(&mut buf) {
                Ok(Some(args)) => out.push(args.iter().map(|a| a.to_vec()).collect()),
                Ok(None) => return (out, Ok(())),
                Err(e) => return (out, Err(e)),
            }
        }
    }

    #[test]
    fn multibulk_pipeline() {
        let (cmds, r) = dec(b"*2\r\n$4\r\nPING\r\n$2\r\nhi\r\n*1\r\n$4\r\nPING\r\n");
        r.unwrap();
        assert_eq!(cmds, vec![vec![b"PING".to_vec(), b"hi".to_vec()], vec![b"PING".to_vec()]]);
    }

    #[test]
    fn byte_at_a_time() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\r\nbc\r\n";
        let mut d = RequestDecoder::default();
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            if let Some(a) = d.decode(&mut buf).unwrap() {
                got = Some(a);
            }
        }
        let got = got.unwrap();
        assert_eq!(&got[2][..], b"a\r\nbc");
        assert!(buf.is_empty());
    }

    /// A pipeline cut into three reads at every pair of points decodes to the same requests,
    /// as a connection sees it: decode until nothing is complete, then append the next read.
    #[test]
    fn pipeline_cut_anywhere_decodes_the_same() {
        let mut input = Vec::new();
        let value = vec![b'v'; 50];
        for (i, req) in [
            vec![&b"HSET"[..], b"h17", b"f12345", &value],
            vec![b"INCR", b"counter:23"],
            vec![b"RPUSH", b"log", b"1024"],
            vec![b"SET", b"s1", b""],
            vec![b"PING"],
        ]
        .iter()
        .enumerate()
        {
            super::super::write::command(&mut input, req);
            if i == 2 {
                input.extend_from_slice(b"*0\r\nPING\r\n");
            }
        }
        let (want, r) = dec(&input);
        r.unwrap();
        assert_eq!(want.len(), 6);
        for a in 0..=input.len() {
            for b in a..=input.len() {
                let mut d = RequestDecoder::default();
                let mut buf = BytesMut::new();
                let mut got = Vec::new();
                let mut args = Vec::new();
                for chunk in [&input[..a], &input[a..b], &input[b..]] {
                    buf.extend_from_slice(chunk);
                    while d.decode_into(&mut buf, &mut args).unwrap() {
                        got.push(args.iter().map(|x| x.to_vec()).collect::<Vec<_>>());
                    }
                }
                assert_eq!(got, want, "cut at {a} and {b}");
                assert!(buf.is_empty());
            }
        }
    }

    #[test]
    fn inline_and_blank_lines() {
        let (cmds, r) = dec(b"\r\n  \nset a \"b c\"\r\nPING\n");
        r.unwrap();
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0][2], b"b c");
    }

    #[test]
    fn empty_multibulk_is_skipped() {
        let (cmds, r) = dec(b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n");
        r.unwrap();
        assert_eq!(cmds.len(), 1);
    }

    #[test]
    fn errors_use_redis_wording() {
        assert_eq!(dec(b"*abc\r\n").1.unwrap_err().to_string(), "Protocol error: invalid multibulk length");
        assert_eq!(dec(b"*2000000\r\n").1.unwrap_err().0, "invalid multibulk length");
        assert_eq!(dec(b"*1\r\n$600000000\r\n").1.unwrap_err().0, "invalid bulk length");
        assert_eq!(dec(b"*1\r\n$-1\r\n").1.unwrap_err().0, "invalid bulk length");
        assert_eq!(dec(b"*1\r\nfoo\r\n").1.unwrap_err().0, "expected '$', got 'f'");
        assert_eq!(dec(b"set \"a\r\n").1.unwrap_err().0, "unbalanced quotes in request");
        let big = vec![b'a'; MAX_INLINE_SIZE + 1];
        assert_eq!(dec(&big).1.unwrap_err().0, "too big inline request");
        let mut big = b"*".to_vec();
        big.extend(vec![b'1'; MAX_INLINE_SIZE + 1]);
        assert_eq!(dec(&big).1.unwrap_err().0, "too big mbulk count string");
    }

    #[test]
    fn nul_before_line_end_waits_like_redis() {
        let (cmds, r) = dec(b"\x00\r\nPING\r\n");
        r.unwrap();
        assert!(cmds.is_empty());
        let (cmds, r) = dec(b"*1\x00\r\n$4\r\nPING\r\n");
        r.unwrap();
        assert!(cmds.is_empty());
    }

    /// The frame is handed out only when re-encoding the arguments would give the same bytes.
    #[test]
    fn frame_only_for_canonical_multibulk() {
        let frame_of = |input: &[u8]| {
            let mut d = RequestDecoder::default();
            let mut buf = BytesMut::from(input);
            let mut args = Vec::new();
            let mut frame = None;
            assert!(d.decode_frame(&mut buf, &mut args, &mut frame).unwrap());
            let mut encoded = BytesMut::new();
            crate::resp::write::header(&mut encoded, b'*', args.len() as i64);
            for a in &args {
                crate::resp::write::bulk(&mut encoded, a);
            }
            (frame.map(|f| f.to_vec()), encoded.to_vec())
        };
        let canonical = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n";
        let (frame, encoded) = frame_of(canonical);
        assert_eq!(frame.as_deref(), Some(&canonical[..]));
        assert_eq!(encoded, canonical);
        // Accepted (as by Redis) but written differently from the encoder's output.
        for odd in [
            &b"*2\rx$3\r\nGET\r\n$1\r\nk\r\n"[..],
            b"*2\r\n$3\rxGET\r\n$1\r\nk\r\n",
            b"*2\r\n$3\r\nGETxx$1\r\nk\r\n",
            b"*2\r\n$3\r\nGET\r\n$-0\r\n\r\n",
        ] {
            let (frame, encoded) = frame_of(odd);
            assert_eq!(frame, None, "{:?}", String::from_utf8_lossy(odd));
            assert_ne!(encoded, odd);
        }
        // Inline requests have no multibulk frame.
        assert_eq!(frame_of(b"GET k\r\n").0, None);
        // Split over reads: still the whole frame.
        let mut d = RequestDecoder::default();
        let (mut args, mut frame) = (Vec::new(), None);
        let mut buf = BytesMut::from(&canonical[..10]);
        assert!(!d.decode_frame(&mut buf, &mut args, &mut frame).unwrap());
        buf.extend_from_slice(&canonical[10..]);
        assert!(d.decode_frame(&mut buf, &mut args, &mut frame).unwrap());
        assert_eq!(frame.as_deref(), Some(&canonical[..]));
    }

    #[test]
    fn count_lines_parse_as_parse_int() {
        for line in [
            &b"$3\r\n"[..],
            b"*0\r\n",
            b"$03\r\n",
            b"$00\r\n",
            b"$\r\n",
            b"$-1\r\n",
            b"$-0\r\n",
            b"$+1\r\n",
            b"$ 1\r\n",
            b"$1x\r\n",
            b"$123456789012345678\r\n",
            b"$1234567890123456789\r\n",
            b"$9223372036854775807\r\n",
            b"$9223372036854775808\r\n",
            b"$12\x00\r\n",
            b"$12",
        ] {
            let want = find_cr(line, 0).map(|eol| (eol, parse_int(&line[1..eol])));
            assert_eq!(count_line(line, 0), want, "{:?}", String::from_utf8_lossy(line));
        }
        assert_eq!(count_line(b"xx$42\r\n", 2), Some((5, Some(42))));
    }

    #[test]
    fn find_cr_short_and_long_lines() {
        assert_eq!(find_cr(b"$3\r\n", 0), Some(2));
        assert_eq!(find_cr(b"xx$3\r\n", 2), Some(4));
        assert_eq!(find_cr(b"$3", 0), None);
        assert_eq!(find_cr(b"$\x003\r\n", 0), None);
        let mut long = vec![b'1'; 40];
        long.extend_from_slice(b"\r\n");
        assert_eq!(find_cr(&long, 0), Some(40));
        long[30] = 0;
        assert_eq!(find_cr(&long, 0), None);
    }

    #[test]
    fn large_bulk_waits_and_reports_wanted() {
        let mut d = RequestDecoder::default();
        let mut buf = BytesMut::from(&b"*1\r\n$100000\r\nabc"[..]);
        assert!(d.decode(&mut buf).unwrap().is_none());
        assert_eq!(d.wanted(), 13 + 100000 + 2);
    }

    /// Decodes `input`, fed in pieces of `step` bytes, the way a proxy does with `peek`: every
    /// other request used in place, the others split off; inline ones through `decode_frame`.
    /// Returns (arguments, frame) per request, as `decode_frame` gives them.
    #[allow(clippy::type_complexity)]
    fn dec_peek(input: &[u8], step: usize) -> Result<Vec<(Vec<Vec<u8>>, Option<Vec<u8>>)>, ProtocolError> {
        let mut d = RequestDecoder::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let (mut args, mut frame) = (Vec::new(), None);
        for chunk in input.chunks(step) {
            buf.extend_from_slice(chunk);
            loop {
                match d.peek(&buf)? {
                    Peek::Incomplete => break,
                    Peek::Inline => {
                        if !d.decode_frame(&mut buf, &mut args, &mut frame)? {
                            break;
                        }
                        out.push((args.iter().map(|a| a.to_vec()).collect(), frame.as_ref().map(|f| f.to_vec())));
                    }
                    Peek::Request(req) if out.len() % 2 == 0 => {
                        let a: Vec<Vec<u8>> = (0..d.arg_count()).map(|i| d.arg(&buf, i).unwrap().to_vec()).collect();
                        out.push((a, req.canonical.then(|| buf[req.start..req.end].to_vec())));
                    }
                    Peek::Request(req) => {
                        d.split_peeked(&mut buf, req, &mut args, &mut frame);
                        out.push((args.iter().map(|a| a.to_vec()).collect(), frame.as_ref().map(|f| f.to_vec())));
                    }
                }
            }
            d.release(&mut buf);
        }
        Ok(out)
    }

    /// `peek` finds the same requests, arguments and frames as `decode_frame`, however the
    /// bytes arrive.
    #[test]
    fn peek_agrees_with_decode_frame() {
        let input: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\r\nbc\r\n*0\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n\
              GET  x\r\n\r\n*2\r\n$3\r\nGET\r\n$-0\r\n\r\n*-1\r\n*1\r\n$4\r\nPING\r\n*2\rx$3\r\nGET\r\n$1\r\nk\r\n\
              *1\r\n$4\r\nPING\r\n";
        let mut want = Vec::new();
        let mut d = RequestDecoder::default();
        let mut buf = BytesMut::from(input);
        let (mut args, mut frame) = (Vec::new(), None);
        while d.decode_frame(&mut buf, &mut args, &mut frame).unwrap() {
            want.push((args.iter().map(|a| a.to_vec()).collect::<Vec<_>>(), frame.as_ref().map(|f| f.to_vec())));
        }
        assert_eq!(want.len(), 7);
        assert_eq!(want[0].1.as_deref(), Some(&input[..31]));
        for step in [1, 2, 3, 7, 16, input.len()] {
            assert_eq!(dec_peek(input, step).unwrap(), want, "pieces of {step}");
        }
    }

    #[test]
    fn peek_errors_and_waiting() {
        assert_eq!(dec_peek(b"*1\r\n$4\r\nPING\r\n*abc\r\n", 4).unwrap_err().0, "invalid multibulk length");
        assert_eq!(dec_peek(b"*1\r\nfoo\r\n", 64).unwrap_err().0, "expected '$', got 'f'");
        let mut d = RequestDecoder::default();
        let mut buf = BytesMut::from(&b"*1\r\n$4\r\nPING\r\n*1\r\n$100000\r\nabc"[..]);
        assert!(matches!(d.peek(&buf).unwrap(), Peek::Request(Peeked { start: 0, end: 14, canonical: true })));
        assert_eq!(d.peek(&buf).unwrap(), Peek::Incomplete);
        d.release(&mut buf);
        assert_eq!(&buf[..], b"*1\r\n$100000\r\nabc");
        assert_eq!(d.wanted(), 13 + 100000 + 2);
    }
}
