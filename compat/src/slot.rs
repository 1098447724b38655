//! The Codis slot hash.
//!
//! Codis hashes the text between the first `{` and the first `}` after it (the hash tag), or the
//! whole key when there is no such pair. Unlike Redis Cluster, an empty tag `{}` hashes the empty
//! string (slot 0). The checksum is crc32 IEEE and the slot is its low 10 bits (`% 1024`).

/// Number of slots in a Codis cluster.
pub const MAX_SLOT_NUM: usize = 1024;

/// The part of `key` that decides its slot.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = memchr::memchr(b'{', key) {
        if let Some(close) = memchr::memchr(b'}', &key[open + 1..]) {
            return &key[open + 1..open + 1 + close];
        }
    }
    key
}

/// The slot of `key`, in `0..1024`.
#[inline]
pub fn slot_of(key: &[u8]) -> usize {
    (crc32fast::hash(hash_tag(key)) as usize) % MAX_SLOT_NUM
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_vectors() {
        // SLOTSHASHKEY a b c -> 579 1017 879 (Codis docs and the e1 recording)
        assert_eq!([slot_of(b"a"), slot_of(b"b"), slot_of(b"c")], [579, 1017, 879]);
    }

    #[test]
    fn hash_tag_rules_match_recording() {
        // e1_codis_server_slots_commands: SLOTSHASHKEY {tag}1 {tag}2 tag a{tag} {} {a x{}y
        let keys: [&[u8]; 7] = [b"{tag}1", b"{tag}2", b"tag", b"a{tag}", b"{}", b"{a", b"x{}y"];
        let slots: Vec<usize> = keys.iter().map(|k| slot_of(k)).collect();
        assert_eq!(slots, [899, 899, 899, 899, 0, 780, 0]);
    }

    #[test]
    fn tag_uses_first_open_and_next_close() {
        assert_eq!(hash_tag(b"a{b}{c}"), b"b");
        assert_eq!(hash_tag(b"}{x}"), b"x");
        assert_eq!(hash_tag(b"{{x}}"), b"{x");
        assert_eq!(hash_tag(b"plain"), b"plain");
    }
}
