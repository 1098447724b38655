//! Reading primitives over a byte source, and value decoders.

use std::io::Read;

use bytes::Bytes;

use super::consts::{container, len, types};
use super::crc64::Crc64;
use super::entry::Elem;
use super::error::{FormatError, RdbError};
use super::value::RdbValue;
use super::{intset, listpack, lzf, num, ziplist, zipmap};

/// Largest buffer allocated up front for a length read from the input; longer data grows as it
/// actually arrives, so a corrupt length cannot cause a huge allocation.
const PREALLOC_MAX: usize = 1 << 20;
/// Largest element count used to pre-size a collection.
const PREALLOC_ELEMS: u64 = 4096;
/// An LZF stream expands at most 88 times (3 input bytes -> 264 output bytes).
const LZF_MAX_RATIO: u64 = 88;

pub(crate) fn cap(n: u64) -> usize {
    n.min(PREALLOC_ELEMS) as usize
}

/// A length prefix: either a length or a special string encoding.
enum LenOrEnc {
    Len(u64),
    Enc(u8),
}

/// A byte source that counts its position and, optionally, keeps the running CRC64.
pub(crate) struct Src<R> {
    r: R,
    pos: u64,
    crc: Crc64,
    track_crc: bool,
}

impl<R: Read> Src<R> {
    pub(crate) fn new(r: R, track_crc: bool) -> Self {
        Src { r, pos: 0, crc: Crc64::new(), track_crc }
    }

    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    pub(crate) fn crc(&self) -> u64 {
        self.crc.value()
    }

    pub(crate) fn into_inner(self) -> R {
        self.r
    }

    pub(crate) fn get_ref(&self) -> &R {
        &self.r
    }

    pub(crate) fn corrupt(&self, msg: impl Into<String>) -> RdbError {
        RdbError::corrupt(self.pos, msg)
    }

    fn format_err(&self, e: FormatError) -> RdbError {
        RdbError::corrupt(self.pos, e.to_string())
    }

    pub(crate) fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), RdbError> {
        if let Err(e) = self.r.read_exact(buf) {
            return Err(if e.kind() == std::io::ErrorKind::UnexpectedEof {
                RdbError::UnexpectedEof { offset: self.pos, key: None }
            } else {
                RdbError::Io { offset: self.pos, source: e }
            });
        }
        if self.track_crc {
            self.crc.update(buf);
        }
        self.pos += buf.len() as u64;
        Ok(())
    }

    pub(crate) fn u8(&mut self) -> Result<u8, RdbError> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let mut b = [0u8; N];
        self.read_exact(&mut b)?;
        Ok(b)
    }

    /// Reads exactly `n` bytes, growing the buffer only as data arrives.
    pub(crate) fn bytes_vec(&mut self, n: u64) -> Result<Vec<u8>, RdbError> {
        let n = usize::try_from(n).map_err(|_| self.corrupt(format!("length {n} too large")))?;
        if n <= PREALLOC_MAX {
            let mut v = vec![0u8; n];
            self.read_exact(&mut v)?;
            return Ok(v);
        }
        let mut v: Vec<u8> = Vec::with_capacity(PREALLOC_MAX);
        while v.len() < n {
            let step = (n - v.len()).min(v.len().max(PREALLOC_MAX));
            let start = v.len();
            v.resize(start + step, 0);
            self.read_exact(&mut v[start..])?;
        }
        Ok(v)
    }

    pub(crate) fn skip(&mut self, mut n: u64) -> Result<(), RdbError> {
        let mut scratch = [0u8; 4096];
        while n > 0 {
            let step = n.min(scratch.len() as u64) as usize;
            self.read_exact(&mut scratch[..step])?;
            n -= step as u64;
        }
        Ok(())
    }

    fn len_or_enc(&mut self) -> Result<LenOrEnc, RdbError> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => LenOrEnc::Len((b & 0x3f) as u64),
            1 => LenOrEnc::Len((((b & 0x3f) as u64) << 8) | self.u8()? as u64),
            2 => match b {
                len::LEN_32BIT => LenOrEnc::Len(u32::from_be_bytes(self.array()?) as u64),
                len::LEN_64BIT => LenOrEnc::Len(u64::from_be_bytes(self.array()?)),
                _ => return Err(self.corrupt(format!("unknown length encoding {b:#04x}"))),
            },
            _ => LenOrEnc::Enc(b & 0x3f),
        })
    }

    /// `rdbLoadLen`: a plain length (an encoded-string marker here is an error).
    pub(crate) fn length(&mut self) -> Result<u64, RdbError> {
        match self.len_or_enc()? {
            LenOrEnc::Len(l) => Ok(l),
            LenOrEnc::Enc(e) => Err(self.corrupt(format!("string encoding {e} where a length was expected"))),
        }
    }

    /// `rdbGenericLoadStringObject`: raw, integer-encoded or LZF-compressed string.
    pub(crate) fn string(&mut self) -> Result<Vec<u8>, RdbError> {
        match self.len_or_enc()? {
            LenOrEnc::Len(l) => self.bytes_vec(l),
            LenOrEnc::Enc(len::ENC_INT8) => Ok((self.u8()? as i8).to_string().into_bytes()),
            LenOrEnc::Enc(len::ENC_INT16) => Ok(i16::from_le_bytes(self.array()?).to_string().into_bytes()),
            LenOrEnc::Enc(len::ENC_INT32) => Ok(i32::from_le_bytes(self.array()?).to_string().into_bytes()),
            LenOrEnc::Enc(len::ENC_LZF) => {
                let clen = self.length()?;
                let ulen = self.length()?;
                if ulen > clen.saturating_mul(LZF_MAX_RATIO) || (clen == 0) != (ulen == 0) {
                    return Err(self.corrupt(format!("LZF string of {clen} bytes cannot expand to {ulen}")));
                }
                let c = self.bytes_vec(clen)?;
                lzf::decompress(&c, ulen as usize)
                    .map_err(|e| self.corrupt(format!("invalid LZF compressed string: {e}")))
            }
            LenOrEnc::Enc(e) => Err(self.corrupt(format!("unknown string encoding {e}"))),
        }
    }

    pub(crate) fn bytes(&mut self) -> Result<Bytes, RdbError> {
        self.string().map(Bytes::from)
    }

    pub(crate) fn skip_string(&mut self) -> Result<(), RdbError> {
        match self.len_or_enc()? {
            LenOrEnc::Len(l) => self.skip(l),
            LenOrEnc::Enc(len::ENC_INT8) => self.skip(1),
            LenOrEnc::Enc(len::ENC_INT16) => self.skip(2),
            LenOrEnc::Enc(len::ENC_INT32) => self.skip(4),
            LenOrEnc::Enc(len::ENC_LZF) => {
                let clen = self.length()?;
                let _ulen = self.length()?;
                self.skip(clen)
            }
            LenOrEnc::Enc(e) => Err(self.corrupt(format!("unknown string encoding {e}"))),
        }
    }

    /// `rdbLoadDoubleValue`: score of RDB type ZSET (length-prefixed text, 253 nan, 254 +inf,
    /// 255 -inf).
    pub(crate) fn text_double(&mut self) -> Result<f64, RdbError> {
        let l = self.u8()?;
        match l {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let mut buf = [0u8; 252];
                let s = &mut buf[..l as usize];
                self.read_exact(s)?;
                num::parse_f64(s).ok_or_else(|| self.corrupt("invalid double value"))
            }
        }
    }

    pub(crate) fn binary_double(&mut self) -> Result<f64, RdbError> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    pub(crate) fn blob_elems<'a>(&self, blob: &'a [u8], lp: bool) -> Result<Vec<Elem<'a>>, RdbError> {
        if lp { listpack::decode(blob) } else { ziplist::decode(blob) }.map_err(|e| self.format_err(e))
    }

    fn pairs(&self, elems: Vec<Elem<'_>>, what: &str) -> Result<Vec<(Bytes, Bytes)>, RdbError> {
        if !elems.len().is_multiple_of(2) {
            return Err(self.corrupt(format!("{what} with an odd number of entries")));
        }
        Ok(elems.chunks_exact(2).map(|p| (p[0].to_bytes(), p[1].to_bytes())).collect())
    }

    fn scored(&self, elems: Vec<Elem<'_>>, what: &str) -> Result<Vec<(Bytes, f64)>, RdbError> {
        if !elems.len().is_multiple_of(2) {
            return Err(self.corrupt(format!("{what} with an odd number of entries")));
        }
        elems
            .chunks_exact(2)
            .map(|p| match p[1].to_f64() {
                Some(s) => Ok((p[0].to_bytes(), s)),
                None => Err(self.corrupt(format!("{what} with an invalid score"))),
            })
            .collect()
    }

    /// Decodes the object body of RDB type `t` (`rdbLoadObject`).
    pub(crate) fn object(&mut self, t: u8) -> Result<RdbValue, RdbError> {
        use types::*;
        Ok(match t {
            STRING => RdbValue::String(self.bytes()?),
            LIST | SET => {
                let n = self.length()?;
                let mut v = Vec::with_capacity(cap(n));
                for _ in 0..n {
                    v.push(self.bytes()?);
                }
                if t == LIST {
                    RdbValue::List(v)
                } else {
                    RdbValue::Set(v)
                }
            }
            ZSET | ZSET_2 => {
                let n = self.length()?;
                let mut v = Vec::with_capacity(cap(n));
                for _ in 0..n {
                    let m = self.bytes()?;
                    let s = if t == ZSET { self.text_double()? } else { self.binary_double()? };
                    v.push((m, s));
                }
                RdbValue::ZSet(v)
            }
            HASH => {
                let n = self.length()?;
                let mut v = Vec::with_capacity(cap(n));
                for _ in 0..n {
                    let f = self.bytes()?;
                    let x = self.bytes()?;
                    v.push((f, x));
                }
                RdbValue::Hash(v)
            }
            HASH_ZIPMAP => {
                let blob = self.string()?;
                let pairs = zipmap::decode(&blob).map_err(|e| self.format_err(e))?;
                RdbValue::Hash(
                    pairs.into_iter().map(|(f, v)| (Bytes::copy_from_slice(f), Bytes::copy_from_slice(v))).collect(),
                )
            }
            LIST_ZIPLIST => {
                let blob = self.string()?;
                RdbValue::List(self.blob_elems(&blob, false)?.iter().map(Elem::to_bytes).collect())
            }
            SET_LISTPACK => {
                let blob = self.string()?;
                RdbValue::Set(self.blob_elems(&blob, true)?.iter().map(Elem::to_bytes).collect())
            }
            SET_INTSET => {
                let blob = self.string()?;
                let ints = intset::decode(&blob).map_err(|e| self.format_err(e))?;
                RdbValue::Set(ints.into_iter().map(num::i64_to_bytes).collect())
            }
            ZSET_ZIPLIST | ZSET_LISTPACK => {
                let blob = self.string()?;
                let e = self.blob_elems(&blob, t == ZSET_LISTPACK)?;
                RdbValue::ZSet(self.scored(e, "zset")?)
            }
            HASH_ZIPLIST | HASH_LISTPACK => {
                let blob = self.string()?;
                let e = self.blob_elems(&blob, t == HASH_LISTPACK)?;
                RdbValue::Hash(self.pairs(e, "hash")?)
            }
            LIST_QUICKLIST | LIST_QUICKLIST_2 => {
                let nodes = self.length()?;
                let mut v = Vec::new();
                for _ in 0..nodes {
                    let c = if t == LIST_QUICKLIST_2 { self.length()? } else { container::PACKED };
                    let blob = self.string()?;
                    match c {
                        container::PLAIN => v.push(Bytes::from(blob)),
                        container::PACKED => {
                            let e = self.blob_elems(&blob, t == LIST_QUICKLIST_2)?;
                            v.extend(e.iter().map(Elem::to_bytes));
                        }
                        _ => return Err(self.corrupt(format!("unknown quicklist container {c}"))),
                    }
                }
                RdbValue::List(v)
            }
            _ => return Err(unsupported(t)),
        })
    }

    /// Skips a value this reader does not model, when its layout allows it (streams and
    /// Redis >= 5 module values). Returns `Ok(false)` when it cannot be skipped.
    pub(crate) fn skip_object(&mut self, t: u8) -> Result<bool, RdbError> {
        use types::*;
        match t {
            STREAM_LISTPACKS | STREAM_LISTPACKS_2 | STREAM_LISTPACKS_3 => {
                self.skip_stream(t)?;
                Ok(true)
            }
            MODULE_2 => {
                let _module_id = self.length()?;
                self.skip_module_opcodes()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn skip_stream(&mut self, t: u8) -> Result<(), RdbError> {
        let v2 = t >= types::STREAM_LISTPACKS_2;
        let v3 = t >= types::STREAM_LISTPACKS_3;
        let nodes = self.length()?;
        for _ in 0..nodes {
            self.skip_string()?; // master id
            self.skip_string()?; // listpack
        }
        for _ in 0..3 {
            self.length()?; // length, last id ms, last id seq
        }
        if v2 {
            for _ in 0..5 {
                self.length()?; // first id, max deleted id, entries added
            }
        }
        let groups = self.length()?;
        for _ in 0..groups {
            self.skip_string()?;
            self.length()?;
            self.length()?;
            if v2 {
                self.length()?; // entries read
            }
            let pel = self.length()?;
            for _ in 0..pel {
                self.skip(16 + 8)?; // id, delivery time
                self.length()?; // delivery count
            }
            let consumers = self.length()?;
            for _ in 0..consumers {
                self.skip_string()?;
                self.skip(if v3 { 16 } else { 8 })?; // seen time (and active time)
                let pel = self.length()?;
                self.skip(pel.saturating_mul(16))?;
            }
        }
        Ok(())
    }

    /// Skips module data written with the typed opcodes (`RDB_MODULE_OPCODE_*`) up to its EOF.
    pub(crate) fn skip_module_opcodes(&mut self) -> Result<(), RdbError> {
        loop {
            match self.length()? {
                0 => return Ok(()),
                1 | 2 => {
                    self.length()?;
                }
                3 => self.skip(4)?,
                4 => self.skip(8)?,
                5 => self.skip_string()?,
                op => return Err(self.corrupt(format!("unknown module opcode {op}"))),
            }
        }
    }
}

/// Whether `t` is a value type id (as opposed to an opcode or garbage).
pub(crate) fn is_value_type(t: u8) -> bool {
    matches!(t, 0..=7 | 9..=25)
}

/// Value types the model does not cover.
pub(crate) fn is_unmodelled(t: u8) -> bool {
    use types::*;
    matches!(
        t,
        MODULE_PRE_GA
            | MODULE_2
            | STREAM_LISTPACKS
            | STREAM_LISTPACKS_2
            | STREAM_LISTPACKS_3
            | HASH_METADATA_PRE_GA
            | HASH_LISTPACK_EX_PRE_GA
            | HASH_METADATA
            | HASH_LISTPACK_EX
    )
}

pub(crate) fn unsupported(t: u8) -> RdbError {
    RdbError::Unsupported { type_id: t, what: types::name(t), key: None }
}

/// The name a module id encodes (9 characters of a 64-symbol charset, then a 10-bit version).
pub fn module_name(id: u64) -> String {
    const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut name = String::with_capacity(9);
    let bits = id >> 10;
    for i in (0..9).rev() {
        name.push(CHARSET[((bits >> (6 * i)) & 63) as usize] as char);
    }
    name
}
