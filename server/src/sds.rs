//! `Sds`: the byte string keys and small values are stored as. Up to 22 bytes live inline (no
//! allocation), which covers most keys and small values and keeps per-key memory below Redis's.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

const INLINE_CAP: usize = 22;

#[derive(Clone)]
pub enum Sds {
    Inline { len: u8, data: [u8; INLINE_CAP] },
    Heap(Box<[u8]>),
}

impl Sds {
    #[inline]
    pub fn new(b: &[u8]) -> Sds {
        if b.len() <= INLINE_CAP {
            let mut data = [0u8; INLINE_CAP];
            data[..b.len()].copy_from_slice(b);
            Sds::Inline { len: b.len() as u8, data }
        } else {
            Sds::Heap(b.into())
        }
    }

    pub fn from_vec(v: Vec<u8>) -> Sds {
        if v.len() <= INLINE_CAP {
            Sds::new(&v)
        } else {
            Sds::Heap(v.into_boxed_slice())
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Sds::Inline { len, data } => &data[..*len as usize],
            Sds::Heap(b) => b,
        }
    }

    /// Heap bytes used beyond the struct itself (for memory accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Sds::Inline { .. } => 0,
            Sds::Heap(b) => b.len(),
        }
    }
}

impl Deref for Sds {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Sds {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Sds {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Sds {
    #[inline]
    fn eq(&self, other: &Sds) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for Sds {}

impl PartialOrd for Sds {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Sds {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for Sds {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl From<&[u8]> for Sds {
    fn from(b: &[u8]) -> Sds {
        Sds::new(b)
    }
}

impl From<Vec<u8>> for Sds {
    fn from(v: Vec<u8>) -> Sds {
        Sds::from_vec(v)
    }
}

impl fmt::Debug for Sds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_compact() {
        assert_eq!(std::mem::size_of::<Sds>(), 24);
    }

    #[test]
    fn inline_and_heap() {
        let a = Sds::new(b"key:000000000001");
        assert!(matches!(a, Sds::Inline { .. }));
        let b = Sds::new(&[7u8; 40]);
        assert!(matches!(b, Sds::Heap(_)));
        assert_eq!(&*b, &[7u8; 40][..]);
        assert_eq!(Sds::new(b"x"), Sds::from_vec(b"x".to_vec()));
    }
}
