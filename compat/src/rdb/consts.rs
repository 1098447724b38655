//! RDB object type ids and opcodes.

/// Value type ids (the byte before each key, and the first byte of a DUMP payload).
pub mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
    pub const HASH_METADATA_PRE_GA: u8 = 22;
    pub const HASH_LISTPACK_EX_PRE_GA: u8 = 23;
    pub const HASH_METADATA: u8 = 24;
    pub const HASH_LISTPACK_EX: u8 = 25;

    /// A short human name for a type id, for messages.
    pub fn name(t: u8) -> &'static str {
        match t {
            STRING => "string",
            LIST => "list (linked list)",
            SET => "set",
            ZSET => "zset (text scores)",
            HASH => "hash",
            ZSET_2 => "zset (binary scores)",
            MODULE_PRE_GA | MODULE_2 => "module value",
            HASH_ZIPMAP => "hash (zipmap)",
            LIST_ZIPLIST => "list (ziplist)",
            SET_INTSET => "set (intset)",
            ZSET_ZIPLIST => "zset (ziplist)",
            HASH_ZIPLIST => "hash (ziplist)",
            LIST_QUICKLIST => "list (quicklist)",
            STREAM_LISTPACKS | STREAM_LISTPACKS_2 | STREAM_LISTPACKS_3 => "stream",
            HASH_LISTPACK => "hash (listpack)",
            ZSET_LISTPACK => "zset (listpack)",
            LIST_QUICKLIST_2 => "list (quicklist of listpacks)",
            SET_LISTPACK => "set (listpack)",
            HASH_METADATA_PRE_GA | HASH_LISTPACK_EX_PRE_GA | HASH_METADATA | HASH_LISTPACK_EX => {
                "hash with field expiration"
            }
            _ => "unknown type",
        }
    }
}

/// Opcodes between entries.
pub mod opcode {
    pub const SLOT_INFO: u8 = 244;
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Length-prefix forms (`rdbSaveLen` / `rdbLoadLen`).
pub(crate) mod len {
    pub const ENC_INT8: u8 = 0;
    pub const ENC_INT16: u8 = 1;
    pub const ENC_INT32: u8 = 2;
    pub const ENC_LZF: u8 = 3;
    pub const LEN_32BIT: u8 = 0x80;
    pub const LEN_64BIT: u8 = 0x81;
}

/// Quicklist 2 node containers.
pub(crate) mod container {
    pub const PLAIN: u64 = 1;
    pub const PACKED: u64 = 2;
}
