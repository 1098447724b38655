//! Streaming RDB reader.

use std::io::Read;

use bytes::Bytes;

use super::consts::{opcode, types};
use super::decode::{self, Src};
use super::error::{key_label, RdbError};
use super::value::RdbValue;

/// Lowest and highest RDB versions accepted.
pub const MIN_READ_VERSION: u32 = 1;
pub const MAX_READ_VERSION: u32 = 12;

/// One key with its value and metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The database selected by the last `SELECTDB` (0 before any).
    pub db: u64,
    pub key: Bytes,
    pub value: RdbValue,
    /// Absolute expiry in Unix milliseconds (`EXPIRETIME` seconds are converted).
    pub expire_ms: Option<i64>,
    /// LRU idle time in seconds (`IDLE`, RDB >= 9).
    pub idle: Option<u64>,
    /// LFU counter (`FREQ`, RDB >= 9).
    pub freq: Option<u8>,
    /// The RDB type id the value was stored with (e.g. 14 = quicklist), see [`super::types`].
    pub type_id: u8,
}

/// What [`RdbReader::read_item`] yields, in file order.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// An `AUX` field (`redis-ver`, `ctime`, `repl-id`, ...). Also collected in
    /// [`RdbReader::aux`].
    Aux {
        key: Bytes,
        value: Bytes,
    },
    SelectDb(u64),
    ResizeDb {
        db_size: u64,
        expires_size: u64,
    },
    Entry(Entry),
    /// A value of a type the model does not cover (stream, module value), skipped because
    /// [`RdbReader::skip_unsupported`] was set.
    Skipped {
        db: u64,
        key: Bytes,
        type_id: u8,
        what: &'static str,
        expire_ms: Option<i64>,
    },
    /// A Redis 7 function library (`FUNCTION2` opcode): its source code.
    Function(Bytes),
    /// Module auxiliary data (`MODULE_AUX`), skipped.
    ModuleAux {
        module_id: u64,
        module_name: String,
    },
    /// Redis 7.4 cluster slot sizing hint (`SLOT_INFO`).
    SlotInfo {
        slot: u64,
        size: u64,
        expires_size: u64,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Done,
    Failed,
}

/// Reads an RDB stream item by item; values are materialised one key at a time.
///
/// The reader does no buffering of its own: wrap files and sockets in a `BufReader`. It never
/// reads past the checksum that follows the `EOF` opcode, so on a replication link the bytes
/// after the RDB (the diskless `$EOF:` mark, the command stream) stay in the source, which
/// [`RdbReader::into_inner`] gives back.
///
/// ```no_run
/// # use compat::rdb::{RdbReader, Item};
/// let f = std::io::BufReader::new(std::fs::File::open("dump.rdb")?);
/// let mut rdb = RdbReader::new(f)?;
/// while let Some(item) = rdb.read_item()? {
///     if let Item::Entry(e) = item {
///         println!("db{} {:?} {:?}", e.db, e.key, e.value.type_name());
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RdbReader<R> {
    src: Src<R>,
    version: u32,
    db: u64,
    aux: Vec<(Bytes, Bytes)>,
    skip_unsupported: bool,
    state: State,
    checksum: Option<u64>,
}

impl<R: Read> RdbReader<R> {
    /// Reads and checks the `REDIS000N` magic.
    pub fn new(r: R) -> Result<Self, RdbError> {
        let mut src = Src::new(r, true);
        let magic: [u8; 9] = src.array().map_err(|e| match e {
            RdbError::UnexpectedEof { .. } => RdbError::BadMagic,
            e => e,
        })?;
        if &magic[..5] != b"REDIS" || !magic[5..].iter().all(u8::is_ascii_digit) {
            return Err(RdbError::BadMagic);
        }
        let version: u32 = std::str::from_utf8(&magic[5..]).unwrap().parse().unwrap();
        if !(MIN_READ_VERSION..=MAX_READ_VERSION).contains(&version) {
            return Err(RdbError::UnsupportedVersion(version));
        }
        Ok(RdbReader {
            src,
            version,
            db: 0,
            aux: Vec::new(),
            skip_unsupported: false,
            state: State::Running,
            checksum: None,
        })
    }

    /// Skip streams and module values (yielding [`Item::Skipped`]) instead of failing with
    /// [`RdbError::Unsupported`]. Values that cannot be skipped still fail.
    pub fn skip_unsupported(mut self, yes: bool) -> Self {
        self.skip_unsupported = yes;
        self
    }

    /// The RDB version from the magic.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// AUX fields seen so far, in order.
    pub fn aux(&self) -> &[(Bytes, Bytes)] {
        &self.aux
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.src.pos()
    }

    /// After the end: the stored checksum (`Some(0)` when the writer disabled checksums,
    /// `None` for versions before 5 that have none).
    pub fn checksum(&self) -> Option<u64> {
        self.checksum
    }

    /// Whether the `EOF` opcode and checksum have been read.
    pub fn is_finished(&self) -> bool {
        self.state == State::Done
    }

    pub fn get_ref(&self) -> &R {
        self.src.get_ref()
    }

    /// The underlying source, positioned after what was read.
    pub fn into_inner(self) -> R {
        self.src.into_inner()
    }

    /// The next item, or `None` once `EOF` and the checksum (verified unless zero) are read.
    /// After an error the reader yields `None`.
    pub fn read_item(&mut self) -> Result<Option<Item>, RdbError> {
        if self.state != State::Running {
            return Ok(None);
        }
        let r = self.read_item_inner();
        if r.is_err() {
            self.state = State::Failed;
        }
        r
    }

    fn read_item_inner(&mut self) -> Result<Option<Item>, RdbError> {
        let mut expire_ms = None;
        let mut idle = None;
        let mut freq = None;
        loop {
            let at = self.src.pos();
            let t = self.src.u8()?;
            match t {
                opcode::EXPIRETIME_MS => expire_ms = Some(i64::from_le_bytes(self.src.array()?)),
                opcode::EXPIRETIME => expire_ms = Some(i32::from_le_bytes(self.src.array()?) as i64 * 1000),
                opcode::IDLE => idle = Some(self.src.length()?),
                opcode::FREQ => freq = Some(self.src.u8()?),
                opcode::SELECTDB => {
                    self.db = self.src.length()?;
                    return Ok(Some(Item::SelectDb(self.db)));
                }
                opcode::RESIZEDB => {
                    let db_size = self.src.length()?;
                    let expires_size = self.src.length()?;
                    return Ok(Some(Item::ResizeDb { db_size, expires_size }));
                }
                opcode::AUX => {
                    let key = self.src.bytes()?;
                    let value = self.src.bytes()?;
                    self.aux.push((key.clone(), value.clone()));
                    return Ok(Some(Item::Aux { key, value }));
                }
                opcode::MODULE_AUX => {
                    let module_id = self.src.length()?;
                    let when_opcode = self.src.length()?;
                    let _when = self.src.length()?;
                    if when_opcode != 2 {
                        return Err(self.src.corrupt("module aux data with a bad 'when' opcode"));
                    }
                    self.src.skip_module_opcodes()?;
                    return Ok(Some(Item::ModuleAux { module_id, module_name: decode::module_name(module_id) }));
                }
                opcode::FUNCTION2 => return Ok(Some(Item::Function(self.src.bytes()?))),
                opcode::FUNCTION_PRE_GA => {
                    return Err(RdbError::Unsupported {
                        type_id: t,
                        what: "function (Redis 7.0 release-candidate format)",
                        key: None,
                    })
                }
                opcode::SLOT_INFO => {
                    let slot = self.src.length()?;
                    let size = self.src.length()?;
                    let expires_size = self.src.length()?;
                    return Ok(Some(Item::SlotInfo { slot, size, expires_size }));
                }
                opcode::EOF => {
                    let computed = self.src.crc();
                    if self.version >= 5 {
                        let stored = u64::from_le_bytes(self.src.array()?);
                        self.checksum = Some(stored);
                        if stored != 0 && stored != computed {
                            return Err(RdbError::Checksum { stored, computed });
                        }
                    }
                    self.state = State::Done;
                    return Ok(None);
                }
                t if decode::is_value_type(t) => {
                    let key = self.src.bytes()?;
                    if decode::is_unmodelled(t) {
                        if self.skip_unsupported && self.src.skip_object(t).map_err(|e| e.with_key(&key))? {
                            return Ok(Some(Item::Skipped {
                                db: self.db,
                                key,
                                type_id: t,
                                what: types::name(t),
                                expire_ms,
                            }));
                        }
                        return Err(RdbError::Unsupported {
                            type_id: t,
                            what: types::name(t),
                            key: Some(key_label(&key)),
                        });
                    }
                    let value = self.src.object(t).map_err(|e| e.with_key(&key))?;
                    return Ok(Some(Item::Entry(Entry { db: self.db, key, value, expire_ms, idle, freq, type_id: t })));
                }
                t => return Err(RdbError::UnknownType { type_id: t, offset: at, key: None }),
            }
        }
    }
}

impl<R: Read> Iterator for RdbReader<R> {
    type Item = Result<Item, RdbError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read_item().transpose()
    }
}
