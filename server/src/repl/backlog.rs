//! The replication backlog: a ring buffer holding the last `repl-backlog-size` bytes of the
//! replication stream, for partial resynchronization.

use std::collections::VecDeque;

pub struct Backlog {
    buf: VecDeque<u8>,
    size: usize,
    /// Stream offset of the last byte held (= `master_repl_offset`).
    end: u64,
}

impl Backlog {
    pub fn new(size: usize) -> Backlog {
        Backlog { buf: VecDeque::with_capacity(size.min(1 << 20)), size, end: 0 }
    }

    /// Empties the backlog; the next byte appended has offset `end + 1`.
    pub fn set_offset(&mut self, end: u64) {
        self.buf.clear();
        self.end = end;
    }

    pub fn append(&mut self, bytes: &[u8]) {
        self.end += bytes.len() as u64;
        if bytes.len() >= self.size {
            self.buf.clear();
            self.buf.extend(&bytes[bytes.len() - self.size..]);
            return;
        }
        let overflow = (self.buf.len() + bytes.len()).saturating_sub(self.size);
        self.buf.drain(..overflow);
        self.buf.extend(bytes);
    }

    /// Changes the capacity, keeping the newest bytes that fit.
    pub fn resize(&mut self, size: usize) {
        if size == self.size {
            return;
        }
        self.size = size;
        let over = self.buf.len().saturating_sub(size);
        self.buf.drain(..over);
    }

    pub fn histlen(&self) -> u64 {
        self.buf.len() as u64
    }

    /// Offset of the first byte held (1-based, as INFO's `repl_backlog_first_byte_offset`).
    pub fn first_offset(&self) -> u64 {
        self.end - self.buf.len() as u64 + 1
    }

    /// The bytes from offset `from` (1-based) to the end, if held.
    pub fn from(&self, from: u64) -> Option<Vec<u8>> {
        if from < self.first_offset() || from > self.end + 1 {
            return None;
        }
        let skip = (from - self.first_offset()) as usize;
        Some(self.buf.iter().skip(skip).copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::Backlog;

    #[test]
    fn ring() {
        let mut b = Backlog::new(8);
        b.set_offset(10);
        b.append(b"abcdef");
        assert_eq!(b.first_offset(), 11);
        assert_eq!(b.from(11).unwrap(), b"abcdef");
        b.append(b"ghij");
        assert_eq!(b.histlen(), 8);
        assert_eq!(b.first_offset(), 13);
        assert_eq!(b.from(12), None);
        assert_eq!(b.from(13).unwrap(), b"cdefghij");
        assert_eq!(b.from(21).unwrap(), b"");
        assert_eq!(b.from(22), None);
        b.append(b"0123456789");
        assert_eq!(b.from(23).unwrap(), b"23456789");
        b.resize(4);
        assert_eq!(b.first_offset(), 27);
        assert_eq!(b.from(27).unwrap(), b"6789");
    }
}
