//! A small RESP client for the servers and sentinels the dashboard manages, with the error texts
//! Go's redigo-based client produced (they reach users through the REST `Cause`).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::BytesMut;
use compat::resp::{parse_frame, Frame, FrameError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What redigo says when the peer does not speak RESP (e.g. an HTTP server).
pub const UNEXPECTED_LINE: &str =
    "redigo: unexpected response line (possible server error or unsupported concurrent read by application)";

/// Why a call to a redis failed; `Display` is the text Go showed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RedisError {
    /// Connecting failed: `dial tcp ADDR: connect: connection refused`.
    #[error("dial tcp {addr}: {reason}")]
    Dial { addr: String, reason: String },
    /// Reading or writing failed after connecting.
    #[error("{op} tcp {addr}: {reason}")]
    Io { op: &'static str, addr: String, reason: String },
    /// The server answered with an error reply.
    #[error("{0}")]
    Reply(String),
    /// The reply could not be parsed or had an unexpected shape.
    #[error("{0}")]
    Protocol(String),
}

pub type Result<T, E = RedisError> = std::result::Result<T, E>;

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".into(),
        std::io::ErrorKind::ConnectionReset => "connection reset by peer".into(),
        std::io::ErrorKind::UnexpectedEof => "EOF".into(),
        std::io::ErrorKind::BrokenPipe => "broken pipe".into(),
        _ => e.to_string(),
    }
}

/// One connection (Go's `redis.Client`). Every read and write is bounded by `timeout`.
pub struct Client {
    addr: String,
    auth: String,
    stream: TcpStream,
    buf: BytesMut,
    timeout: Duration,
    database: i64,
}

impl Client {
    /// `redis.NewClient(addr, auth, timeout)`: dial within min(1s, timeout), AUTH when set.
    pub async fn connect(addr: &str, auth: &str, timeout: Duration) -> Result<Client> {
        let dial = timeout.min(Duration::from_secs(1));
        let dial_err = |reason: String| RedisError::Dial { addr: addr.to_string(), reason };
        let stream = match tokio::time::timeout(dial, TcpStream::connect(addr)).await {
            Err(_) => return Err(dial_err("i/o timeout".into())),
            Ok(Err(e)) => return Err(dial_err(io_reason(&e))),
            Ok(Ok(s)) => s,
        };
        let _ = stream.set_nodelay(true);
        let mut c = Client {
            addr: addr.to_string(),
            auth: auth.to_string(),
            stream,
            buf: BytesMut::with_capacity(4096),
            timeout,
            database: 0,
        };
        if !auth.is_empty() {
            c.call(&["AUTH", auth]).await?;
        }
        Ok(c)
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn auth(&self) -> &str {
        &self.auth
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let addr = self.addr.clone();
        match tokio::time::timeout(self.timeout, self.stream.write_all(bytes)).await {
            Err(_) => Err(RedisError::Io { op: "write", addr, reason: "i/o timeout".into() }),
            Ok(Err(e)) => Err(RedisError::Io { op: "write", addr, reason: io_reason(&e) }),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Writes raw request bytes.
    pub async fn raw_write(&mut self, bytes: &[u8]) -> Result<()> {
        self.write(bytes).await
    }

    /// Reads one reply without the read timeout (pub/sub messages).
    pub async fn read_frame_untimed(&mut self) -> Result<Frame> {
        let saved = self.timeout;
        self.timeout = Duration::from_secs(365 * 24 * 3600);
        let r = self.read_frame().await;
        self.timeout = saved;
        r
    }

    /// Reads one reply; error replies come back as `Frame::Error`.
    pub async fn read_frame(&mut self) -> Result<Frame> {
        loop {
            match parse_frame(&self.buf) {
                Ok(Some((frame, used))) => {
                    let _ = self.buf.split_to(used);
                    return Ok(frame);
                }
                Ok(None) => {}
                Err(FrameError::BadType(_)) => return Err(RedisError::Protocol(UNEXPECTED_LINE.into())),
                Err(e) => return Err(RedisError::Protocol(format!("redigo: {e}"))),
            }
            let addr = self.addr.clone();
            let n = match tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => return Err(RedisError::Io { op: "read", addr, reason: "i/o timeout".into() }),
                Ok(Err(e)) => return Err(RedisError::Io { op: "read", addr, reason: io_reason(&e) }),
                Ok(Ok(n)) => n,
            };
            if n == 0 {
                return Err(RedisError::Protocol("EOF".into()));
            }
        }
    }

    /// Sends every command, then reads every reply (errors stay frames).
    pub async fn pipeline(&mut self, cmds: &[Vec<String>]) -> Result<Vec<Frame>> {
        let mut out = Vec::new();
        for c in cmds {
            compat::resp::write::command(&mut out, c);
        }
        self.write(&out).await?;
        let mut replies = Vec::with_capacity(cmds.len());
        for _ in cmds {
            replies.push(self.read_frame().await?);
        }
        Ok(replies)
    }

    /// One command; an error reply becomes [`RedisError::Reply`].
    pub async fn call<A: AsRef<str>>(&mut self, args: &[A]) -> Result<Frame> {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        let mut r = self.pipeline(std::slice::from_ref(&args)).await?;
        let f = r.pop().unwrap_or(Frame::NullBulk);
        match f {
            Frame::Error(e) => Err(RedisError::Reply(String::from_utf8_lossy(&e).into_owned())),
            f => Ok(f),
        }
    }

    pub async fn select(&mut self, db: i64) -> Result<()> {
        if self.database == db {
            return Ok(());
        }
        self.call(&["SELECT".to_string(), db.to_string()]).await?;
        self.database = db;
        Ok(())
    }

    /// `INFO` as a map of `key: value` lines.
    pub async fn info(&mut self) -> Result<BTreeMap<String, String>> {
        let f = self.call(&["INFO"]).await?;
        Ok(parse_info(&frame_string(&f)?))
    }

    /// `INFO` plus `master_addr` and `maxmemory` (from `CONFIG GET`), as Go's `InfoFull`.
    pub async fn info_full(&mut self) -> Result<BTreeMap<String, String>> {
        let mut info = self.info().await?;
        let host = info.get("master_host").cloned().unwrap_or_default();
        let port = info.get("master_port").cloned().unwrap_or_default();
        if !host.is_empty() || !port.is_empty() {
            info.insert("master_addr".into(), join_host_port(&host, &port));
        }
        let r = self.call(&["CONFIG", "GET", "maxmemory"]).await?;
        let bad = || RedisError::Protocol(format!("invalid response = {r:?}"));
        let Frame::Array(items) = &r else { return Err(bad()) };
        if items.len() != 2 {
            return Err(bad());
        }
        let v: i64 = frame_string(&items[1]).ok().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        info.insert("maxmemory".into(), v.to_string());
        Ok(info)
    }

    /// `INFO keyspace`: the databases that hold keys.
    pub async fn info_keyspace(&mut self) -> Result<Vec<i64>> {
        let f = self.call(&["INFO", "keyspace"]).await?;
        let mut dbs = Vec::new();
        for (k, _) in parse_info(&frame_string(&f)?) {
            if let Some(n) = k.strip_prefix("db") {
                let n: i64 = n.parse().map_err(|_| RedisError::Protocol(format!("invalid keyspace {k}")))?;
                dbs.push(n);
            }
        }
        dbs.sort_unstable();
        Ok(dbs)
    }

    /// Go's `SetMaster`: one MULTI with masterauth, SLAVEOF, CONFIG REWRITE and killing normal
    /// clients, so replication changes survive a restart of the server.
    pub async fn set_master(&mut self, master: &str) -> Result<()> {
        let (host, port) = split_host_port(master)?;
        let auth = self.auth.clone();
        let cmds: Vec<Vec<String>> = vec![
            vec!["MULTI".into()],
            vec!["CONFIG".into(), "SET".into(), "masterauth".into(), auth],
            vec!["SLAVEOF".into(), host, port],
            vec!["CONFIG".into(), "REWRITE".into()],
            vec!["CLIENT".into(), "KILL".into(), "TYPE".into(), "normal".into()],
            vec!["EXEC".into()],
        ];
        let replies = self.pipeline(&cmds).await?;
        for r in &replies[..replies.len() - 1] {
            if let Frame::Error(e) = r {
                return Err(RedisError::Reply(String::from_utf8_lossy(e).into_owned()));
            }
        }
        match replies.last() {
            Some(Frame::Array(items)) => {
                for r in items {
                    if let Frame::Error(e) = r {
                        return Err(RedisError::Reply(String::from_utf8_lossy(e).into_owned()));
                    }
                }
                Ok(())
            }
            Some(Frame::Error(e)) => Err(RedisError::Reply(String::from_utf8_lossy(e).into_owned())),
            other => Err(RedisError::Protocol(format!("invalid response = {other:?}"))),
        }
    }

    /// `SLOTSMGRTTAGSLOT host port timeout slot`: keys left in the slot after one step.
    pub async fn migrate_slot(&mut self, slot: i64, target: &str) -> Result<i64> {
        let (host, port) = split_host_port(target)?;
        let ms = self.timeout.as_millis().to_string();
        let r = self.call(&["SLOTSMGRTTAGSLOT".to_string(), host, port, ms, slot.to_string()]).await?;
        second_int(&r)
    }

    /// `SLOTSMGRTTAGSLOT-ASYNC host port timeout maxbulks maxbytes slot numkeys`.
    pub async fn migrate_slot_async(&mut self, slot: i64, target: &str, opt: &AsyncOptions) -> Result<i64> {
        let (host, port) = split_host_port(target)?;
        let r = self
            .call(&[
                "SLOTSMGRTTAGSLOT-ASYNC".to_string(),
                host,
                port,
                opt.timeout.as_millis().to_string(),
                opt.max_bulks.to_string(),
                opt.max_bytes.to_string(),
                slot.to_string(),
                opt.num_keys.to_string(),
            ])
            .await?;
        second_int(&r)
    }

    /// `SLOTSINFO`: `{slot: keys}` (Go's check that a new group server is a codis-server).
    pub async fn slots_info(&mut self) -> Result<BTreeMap<i64, i64>> {
        let r = self.call(&["SLOTSINFO"]).await?;
        let Frame::Array(items) = &r else {
            return Err(RedisError::Protocol(format!("invalid response = {r:?}")));
        };
        let mut out = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            let pair = match item {
                Frame::Array(p) if p.len() == 2 => (frame_int(&p[0]), frame_int(&p[1])),
                _ => (None, None),
            };
            match pair {
                (Some(a), Some(b)) => {
                    out.insert(a, b);
                }
                _ => return Err(RedisError::Protocol(format!("invalid response[{i}] = {item:?}"))),
            }
        }
        Ok(out)
    }
}

/// The knobs of `SLOTSMGRTTAGSLOT-ASYNC` (`migration_async_*` of dashboard.toml).
#[derive(Clone, Debug)]
pub struct AsyncOptions {
    pub max_bulks: i64,
    pub max_bytes: i64,
    pub num_keys: i64,
    pub timeout: Duration,
}

fn second_int(r: &Frame) -> Result<i64> {
    match r {
        Frame::Array(p) if p.len() == 2 => {
            frame_int(&p[1]).ok_or_else(|| RedisError::Protocol(format!("invalid response = {r:?}")))
        }
        _ => Err(RedisError::Protocol(format!("invalid response = {r:?}"))),
    }
}

/// An integer reply, or a bulk/simple string holding one.
pub fn frame_int(f: &Frame) -> Option<i64> {
    match f {
        Frame::Integer(n) => Some(*n),
        Frame::Bulk(b) | Frame::Simple(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

/// A string reply as text.
pub fn frame_string(f: &Frame) -> Result<String> {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) | Frame::Verbatim(_, b) => Ok(String::from_utf8_lossy(b).into_owned()),
        Frame::Integer(n) => Ok(n.to_string()),
        other => Err(RedisError::Protocol(format!("unexpected type for String, got {other:?}"))),
    }
}

/// A flat `[k, v, k, v...]` reply (SENTINEL masters etc.) as a map.
pub fn frame_map(f: &Frame) -> Result<BTreeMap<String, String>> {
    let Frame::Array(items) = f else {
        return Err(RedisError::Protocol(format!("unexpected type for StringMap, got {f:?}")));
    };
    let mut m = BTreeMap::new();
    for kv in items.chunks(2) {
        if kv.len() == 2 {
            m.insert(frame_string(&kv[0])?, frame_string(&kv[1])?);
        }
    }
    Ok(m)
}

/// `key:value` lines of INFO, trimmed; sections and blank lines skipped.
pub fn parse_info(text: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for line in text.split('\n') {
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim();
            if !k.is_empty() {
                m.insert(k.to_string(), v.trim().to_string());
            }
        }
    }
    m
}

/// Go's `net.SplitHostPort` for `host:port` and `[v6]:port`.
pub fn split_host_port(addr: &str) -> Result<(String, String)> {
    let err = || RedisError::Protocol(format!("address {addr}: missing port in address"));
    if let Some(rest) = addr.strip_prefix('[') {
        let (h, p) = rest.split_once("]:").ok_or_else(err)?;
        return Ok((h.to_string(), p.to_string()));
    }
    let (h, p) = addr.rsplit_once(':').ok_or_else(err)?;
    if h.contains(':') {
        return Err(RedisError::Protocol(format!("address {addr}: too many colons in address")));
    }
    Ok((h.to_string(), p.to_string()))
}

/// Go's `net.JoinHostPort`.
pub fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_and_addresses() {
        let m = parse_info("# Server\r\nredis_version:3.2.11\r\nrole:master\r\n\r\ndb0:keys=1,expires=0\r\n");
        assert_eq!(m.get("role").map(String::as_str), Some("master"));
        assert_eq!(m.get("db0").map(String::as_str), Some("keys=1,expires=0"));
        assert_eq!(split_host_port("127.0.0.1:6379").unwrap(), ("127.0.0.1".into(), "6379".into()));
        assert_eq!(split_host_port("[::1]:6379").unwrap(), ("::1".into(), "6379".into()));
        assert!(split_host_port("NO:ONE").is_ok());
        assert!(split_host_port("nocolon").is_err());
        assert_eq!(join_host_port("::1", "1"), "[::1]:1");
    }

    #[tokio::test]
    async fn refused_and_non_resp_peers_read_like_go() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        let e = Client::connect(&addr, "", Duration::from_secs(1)).await.err().unwrap();
        assert_eq!(e.to_string(), format!("dial tcp {addr}: connect: connection refused"));

        // An HTTP server answering a RESP request: redigo's complaint.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut b = [0u8; 64];
            let _ = s.read(&mut b).await;
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        });
        let mut c = Client::connect(&addr, "", Duration::from_secs(1)).await.unwrap();
        assert_eq!(c.slots_info().await.unwrap_err().to_string(), UNEXPECTED_LINE);
    }
}
