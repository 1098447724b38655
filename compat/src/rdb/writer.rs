//! Streaming RDB writer.

use std::io::{self, Write};

use super::consts::opcode;
use super::crc64::Crc64;
use super::encode::{encode_value, put_len, put_string, EncodeOptions, RdbVersion};
use super::value::RdbValue;

/// The AUX fields Redis writes at the start of every RDB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandardAux<'a> {
    /// `redis-ver`, e.g. `"3.2.11"`.
    pub redis_ver: &'a str,
    /// `ctime`, Unix seconds.
    pub ctime: i64,
    /// `used-mem`, bytes.
    pub used_mem: u64,
    /// Replication info written by Redis >= 4 for replicas and restarts (`repl-stream-db`,
    /// `repl-id`, `repl-offset`). Ignored for version 7, which 3.2 never wrote.
    pub repl: Option<ReplAux<'a>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplAux<'a> {
    pub stream_db: i64,
    pub repl_id: &'a str,
    pub offset: i64,
}

/// Writes an RDB file or stream: magic, then the caller's AUX / SELECTDB / RESIZEDB / entries,
/// then [`RdbWriter::finish`] adds `EOF` and the CRC64. Encodings follow the chosen version
/// (see [`encode_value`]).
///
/// ```
/// # use compat::rdb::{RdbWriter, RdbVersion, RdbValue, StandardAux};
/// let mut w = RdbWriter::new(Vec::new(), RdbVersion::V7)?;
/// w.write_standard_aux(&StandardAux { redis_ver: "3.2.11", ctime: 0, used_mem: 0, repl: None })?;
/// w.select_db(0)?;
/// w.resize_db(1, 0)?;
/// w.write_entry(b"k", &RdbValue::String("v".into()), None)?;
/// let bytes = w.finish()?;
/// assert!(bytes.starts_with(b"REDIS0007"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct RdbWriter<W: Write> {
    w: W,
    crc: Crc64,
    opts: EncodeOptions,
    buf: Vec<u8>,
    written: u64,
}

impl<W: Write> RdbWriter<W> {
    /// Starts an RDB of `version` with Redis's default encoding limits and compression.
    pub fn new(w: W, version: RdbVersion) -> io::Result<Self> {
        Self::with_options(w, EncodeOptions::new(version))
    }

    pub fn with_options(w: W, opts: EncodeOptions) -> io::Result<Self> {
        let mut me = RdbWriter { w, crc: Crc64::new(), opts, buf: Vec::with_capacity(256), written: 0 };
        let magic = format!("REDIS{:04}", opts.version.number());
        me.put_raw(magic.as_bytes())?;
        Ok(me)
    }

    pub fn options(&self) -> &EncodeOptions {
        &self.opts
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    fn put_raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.crc.update(b);
        self.w.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        let buf = std::mem::take(&mut self.buf);
        let r = self.put_raw(&buf);
        self.buf = buf;
        self.buf.clear();
        if self.buf.capacity() > 1 << 20 {
            self.buf.shrink_to(1 << 16);
        }
        r
    }

    /// One `AUX` field (both strings saved as Redis saves them: `"64"` becomes an INT8).
    pub fn write_aux(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.buf.push(opcode::AUX);
        put_string(&mut self.buf, key, self.opts.compression);
        put_string(&mut self.buf, value, self.opts.compression);
        self.flush_buf()
    }

    /// The AUX fields of the chosen version, in Redis's order: 3.2 writes `redis-ver`,
    /// `redis-bits`, `ctime`, `used-mem`; 7.0 adds `repl-stream-db`, `repl-id`, `repl-offset`
    /// (when `repl` is set) and `aof-base` (0).
    pub fn write_standard_aux(&mut self, aux: &StandardAux<'_>) -> io::Result<()> {
        self.write_aux(b"redis-ver", aux.redis_ver.as_bytes())?;
        self.write_aux(b"redis-bits", b"64")?;
        self.write_aux(b"ctime", aux.ctime.to_string().as_bytes())?;
        self.write_aux(b"used-mem", aux.used_mem.to_string().as_bytes())?;
        if self.opts.version != RdbVersion::V7 {
            if let Some(r) = &aux.repl {
                self.write_aux(b"repl-stream-db", r.stream_db.to_string().as_bytes())?;
                self.write_aux(b"repl-id", r.repl_id.as_bytes())?;
                self.write_aux(b"repl-offset", r.offset.to_string().as_bytes())?;
            }
            self.write_aux(b"aof-base", b"0")?;
        }
        Ok(())
    }

    pub fn select_db(&mut self, db: u64) -> io::Result<()> {
        self.buf.push(opcode::SELECTDB);
        put_len(&mut self.buf, db);
        self.flush_buf()
    }

    /// `RESIZEDB` hint: number of keys and of keys with an expiry in the current db.
    pub fn resize_db(&mut self, db_size: u64, expires_size: u64) -> io::Result<()> {
        self.buf.push(opcode::RESIZEDB);
        put_len(&mut self.buf, db_size);
        put_len(&mut self.buf, expires_size);
        self.flush_buf()
    }

    /// One key: optional absolute expiry (Unix ms), type, key, value body.
    pub fn write_entry(&mut self, key: &[u8], value: &RdbValue, expire_ms: Option<i64>) -> io::Result<()> {
        if let Some(ms) = expire_ms {
            self.buf.push(opcode::EXPIRETIME_MS);
            self.buf.extend_from_slice(&ms.to_le_bytes());
        }
        let type_at = self.buf.len();
        self.buf.push(0);
        put_string(&mut self.buf, key, self.opts.compression);
        let t = encode_value(value, &self.opts, &mut self.buf);
        self.buf[type_at] = t;
        self.flush_buf()
    }

    /// A Redis 7 function library (`FUNCTION2`), for version 10 peers.
    pub fn write_function(&mut self, code: &[u8]) -> io::Result<()> {
        self.buf.push(opcode::FUNCTION2);
        put_string(&mut self.buf, code, self.opts.compression);
        self.flush_buf()
    }

    /// Writes `EOF` and the CRC64, flushes, and returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.put_raw(&[opcode::EOF])?;
        let crc = self.crc.value();
        self.w.write_all(&crc.to_le_bytes())?;
        self.written += 8;
        self.w.flush()?;
        Ok(self.w)
    }
}
