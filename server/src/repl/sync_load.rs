//! Replica side of a full sync: the master's RDB is parsed while it streams in, into a fresh
//! keyspace that replaces ours once complete (the old one is kept until then, as Redis's
//! `repl-diskless-load swapdb`). Memory for the transfer itself is bounded by one read buffer,
//! for sized (`$<len>`) and diskless (`$EOF:<mark>`) payloads alike.
//!
//! Parsing is blocking code (compat's `RdbReader` pulls from `io::Read`), so the socket is
//! handed to a blocking thread for the transfer and back to tokio afterwards. The state lock is
//! not held meanwhile: clients keep being served from the old dataset.

use std::io::{self, Read};
use std::time::Duration;

use bytes::{Buf, BytesMut};

use crate::config::Config;
use crate::db::Db;
use crate::persist::rdb::{load_into, LoadStats};

/// How the master framed the RDB.
#[derive(Debug, Clone)]
pub enum Framing {
    /// `$<len>`: exactly `len` bytes.
    Sized(u64),
    /// `$EOF:<mark>`: the RDB, then the 40-byte mark.
    Eof(Vec<u8>),
}

impl Framing {
    /// Parses the line after `+FULLRESYNC` (without CRLF).
    pub fn parse(header: &str) -> Result<Framing, String> {
        let Some(h) = header.strip_prefix('$') else {
            return Err(format!("Bad protocol from MASTER, the first byte is not '$' (we received '{header}')"));
        };
        if let Some(mark) = h.strip_prefix("EOF:") {
            if mark.len() != 40 {
                return Err(format!("Bad EOF mark from MASTER: '{mark}'"));
            }
            return Ok(Framing::Eof(mark.as_bytes().to_vec()));
        }
        h.parse().map(Framing::Sized).map_err(|_| format!("Bad RDB length from MASTER: '{h}'"))
    }
}

/// Reads the payload from the socket with a bounded buffer. In sized mode it never reads past
/// the payload; in EOF mode what it read past the RDB stays in `buf` (the mark and the start of
/// the command stream).
struct PayloadReader<'a> {
    sock: &'a std::net::TcpStream,
    buf: BytesMut,
    /// Sized mode: payload bytes still to be read from the socket.
    sock_left: Option<u64>,
    /// Bytes received from the socket (INFO's input counter).
    received: u64,
}

const READ_CHUNK: usize = 64 * 1024;

impl PayloadReader<'_> {
    fn fill(&mut self) -> io::Result<usize> {
        let want = match self.sock_left {
            Some(0) => return Ok(0),
            Some(left) => (left as usize).min(READ_CHUNK),
            None => READ_CHUNK,
        };
        let at = self.buf.len();
        self.buf.resize(at + want, 0);
        let r = (&*self.sock).read(&mut self.buf[at..]);
        let n = match r {
            Ok(n) => n,
            Err(e) => {
                self.buf.truncate(at);
                return Err(match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                        io::Error::new(io::ErrorKind::TimedOut, "timeout receiving the RDB from the master")
                    }
                    _ => e,
                });
            }
        };
        self.buf.truncate(at + n);
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed by master during the sync"));
        }
        self.received += n as u64;
        if let Some(left) = &mut self.sock_left {
            *left -= n as u64;
        }
        Ok(n)
    }

    /// Makes `n` bytes available in `buf`.
    fn want(&mut self, n: usize) -> io::Result<()> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "RDB shorter than announced"));
            }
        }
        Ok(())
    }
}

impl Read for PayloadReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.buf.is_empty() && self.fill()? == 0 {
            return Ok(0);
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf.advance(n);
        Ok(n)
    }
}

/// What a completed transfer gives back.
pub struct Loaded {
    pub dbs: Vec<Db>,
    pub stats: LoadStats,
    /// Bytes received after the payload (the command stream).
    pub after: BytesMut,
    pub received: u64,
}

/// Receives and parses the payload from `sock` (blocking, with `timeout` per read). `leftover`
/// holds what was already read after the header line.
pub fn receive(
    sock: &std::net::TcpStream,
    mut leftover: BytesMut,
    framing: &Framing,
    config: &Config,
    clock: u32,
    timeout: Duration,
) -> Result<Loaded, String> {
    sock.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let (buf, sock_left, after) = match framing {
        Framing::Sized(len) => {
            let len = *len;
            if leftover.len() as u64 >= len {
                let after = leftover.split_off(len as usize);
                (leftover, Some(0), after)
            } else {
                let left = len - leftover.len() as u64;
                (leftover, Some(left), BytesMut::new())
            }
        }
        Framing::Eof(_) => (leftover, None, BytesMut::new()),
    };
    let mut src = PayloadReader { sock, buf, sock_left, received: 0 };
    let mut dbs: Vec<Db> = (0..config.databases).map(Db::new).collect();
    let fail = |e: String| format!("Failed trying to load the MASTER synchronization DB: {e}");
    let (_, stats) = load_into(&mut dbs, config, clock, &mut src).map_err(|e| fail(e.0))?;
    let after = match framing {
        Framing::Sized(_) => {
            // Bytes of the payload after the RDB's checksum are ignored, as when Redis loads
            // the received file.
            let mut sink = [0u8; 8192];
            while src.read(&mut sink).map_err(|e| fail(e.to_string()))? > 0 {}
            after
        }
        Framing::Eof(mark) => {
            src.want(mark.len()).map_err(|e| fail(e.to_string()))?;
            if src.buf[..mark.len()] != mark[..] {
                return Err(fail("the RDB is not followed by the EOF mark".into()));
            }
            src.buf.advance(mark.len());
            src.buf
        }
    };
    Ok(Loaded { dbs, stats, after, received: src.received })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn rdb_bytes() -> Vec<u8> {
        let mut w = compat::rdb::RdbWriter::new(Vec::new(), compat::rdb::RdbVersion::V7).unwrap();
        w.select_db(2).unwrap();
        for i in 0..1000 {
            w.write_entry(format!("k{i}").as_bytes(), &compat::rdb::RdbValue::String("v".repeat(100).into()), None)
                .unwrap();
        }
        w.finish().unwrap()
    }

    /// Serves `wire` on a loopback socket in small writes; returns the client side.
    fn serve(wire: Vec<u8>) -> std::net::TcpStream {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            for part in wire.chunks(777) {
                s.write_all(part).unwrap();
            }
            std::thread::sleep(Duration::from_millis(200));
        });
        std::net::TcpStream::connect(addr).unwrap()
    }

    fn check(framing: Framing, wire: Vec<u8>, split: usize) {
        let sock = serve(wire[split..].to_vec());
        let leftover = BytesMut::from(&wire[..split]);
        let config = Config::default();
        let got = receive(&sock, leftover, &framing, &config, 0, Duration::from_secs(5)).unwrap();
        assert_eq!(got.stats.keys, 1000);
        assert_eq!(got.dbs[2].len(), 1000);
        // The stream after the payload is kept (what arrived with the payload; the rest is
        // still in the socket).
        let mut rest = got.after.to_vec();
        let mut tail = Vec::new();
        let mut s = &sock;
        s.read_to_end(&mut tail).unwrap();
        rest.extend_from_slice(&tail);
        assert_eq!(rest, b"*1\r\n$4\r\nPING\r\n");
    }

    #[test]
    fn sized_and_eof_payloads_parse_while_streaming() {
        let rdb = rdb_bytes();
        let mark = b"0123456789abcdef0123456789abcdef01234567".to_vec();
        let mut eof = rdb.clone();
        eof.extend_from_slice(&mark);
        eof.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        let mut sized = rdb.clone();
        sized.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        for split in [0, 5, 1000, rdb.len(), rdb.len() + 3] {
            check(Framing::Eof(mark.clone()), eof.clone(), split.min(eof.len()));
            check(Framing::Sized(rdb.len() as u64), sized.clone(), split.min(sized.len()));
        }
    }

    #[test]
    fn wrong_mark_and_short_payload_fail() {
        let rdb = rdb_bytes();
        let config = Config::default();
        let mut wire = rdb.clone();
        wire.extend_from_slice(&[b'x'; 40]);
        let sock = serve(wire);
        let mark = Framing::Eof(vec![b'y'; 40]);
        let err = receive(&sock, BytesMut::new(), &mark, &config, 0, Duration::from_secs(5)).err().unwrap();
        assert!(err.contains("EOF mark"), "{err}");
        let sock = serve(rdb[..rdb.len() / 2].to_vec());
        let sized = Framing::Sized(rdb.len() as u64);
        let err = receive(&sock, BytesMut::new(), &sized, &config, 0, Duration::from_secs(5)).err().unwrap();
        assert!(err.contains("Failed trying to load the MASTER synchronization DB"), "{err}");
    }
}
