//! The static table (RFC 7541 Appendix A) and the dynamic table (§2.3.2,
//! §4): a ring buffer of entries, newest first, bounded by its byte size.

use std::collections::VecDeque;

/// The per-entry overhead that §4.1 adds to `name.len() + value.len()`.
pub(super) const ENTRY_OVERHEAD: usize = 32;

/// Number of entries in the static table; dynamic indices start after it.
pub(super) const STATIC_LEN: usize = STATIC.len();

/// The static table, RFC 7541 Appendix A (index 1 is `STATIC[0]`).
pub(super) const STATIC: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// The static indices of the entries named `name`: the first (1-based) and
/// how many follow with the same name.
pub(super) fn static_name(name: &[u8]) -> Option<(usize, usize)> {
    let (first, count) = match name.len() {
        3 => match name {
            b"age" => (21, 1),
            b"via" => (60, 1),
            _ => return None,
        },
        4 => match name {
            b"date" => (33, 1),
            b"etag" => (34, 1),
            b"from" => (37, 1),
            b"host" => (38, 1),
            b"link" => (45, 1),
            b"vary" => (59, 1),
            _ => return None,
        },
        5 => match name {
            b":path" => (4, 2),
            b"allow" => (22, 1),
            b"range" => (50, 1),
            _ => return None,
        },
        6 => match name {
            b"accept" => (19, 1),
            b"cookie" => (32, 1),
            b"expect" => (35, 1),
            b"server" => (54, 1),
            _ => return None,
        },
        7 => match name {
            b":method" => (2, 2),
            b":scheme" => (6, 2),
            b":status" => (8, 7),
            b"expires" => (36, 1),
            b"referer" => (51, 1),
            b"refresh" => (52, 1),
            _ => return None,
        },
        8 => match name {
            b"if-match" => (39, 1),
            b"if-range" => (42, 1),
            b"location" => (46, 1),
            _ => return None,
        },
        10 => match name {
            b":authority" => (1, 1),
            b"set-cookie" => (55, 1),
            b"user-agent" => (58, 1),
            _ => return None,
        },
        11 => match name {
            b"retry-after" => (53, 1),
            _ => return None,
        },
        12 => match name {
            b"content-type" => (31, 1),
            b"max-forwards" => (47, 1),
            _ => return None,
        },
        13 => match name {
            b"accept-ranges" => (18, 1),
            b"authorization" => (23, 1),
            b"cache-control" => (24, 1),
            b"content-range" => (30, 1),
            b"if-none-match" => (41, 1),
            b"last-modified" => (44, 1),
            _ => return None,
        },
        14 => match name {
            b"accept-charset" => (15, 1),
            b"content-length" => (28, 1),
            _ => return None,
        },
        15 => match name {
            b"accept-encoding" => (16, 1),
            b"accept-language" => (17, 1),
            _ => return None,
        },
        16 => match name {
            b"content-encoding" => (26, 1),
            b"content-language" => (27, 1),
            b"content-location" => (29, 1),
            b"www-authenticate" => (61, 1),
            _ => return None,
        },
        17 => match name {
            b"if-modified-since" => (40, 1),
            b"transfer-encoding" => (57, 1),
            _ => return None,
        },
        18 => match name {
            b"proxy-authenticate" => (48, 1),
            _ => return None,
        },
        19 => match name {
            b"content-disposition" => (25, 1),
            b"if-unmodified-since" => (43, 1),
            b"proxy-authorization" => (49, 1),
            _ => return None,
        },
        25 => match name {
            b"strict-transport-security" => (56, 1),
            _ => return None,
        },
        27 => match name {
            b"access-control-allow-origin" => (20, 1),
            _ => return None,
        },
        _ => return None,
    };
    Some((first, count))
}

/// The field at HPACK index `index` (1-based: the static table, then the
/// dynamic table newest first), or `None` if no entry has that index.
pub(super) fn lookup(table: &DynamicTable, index: usize) -> Option<(&[u8], &[u8])> {
    match index {
        0 => None,
        i if i <= STATIC_LEN => STATIC.get(i - 1).copied(),
        i => table.get(i - STATIC_LEN - 1),
    }
}

/// One dynamic-table entry: name and value in one allocation, and the
/// encoder's hashes of both (0 in a decoder's table).
#[derive(Clone, Debug)]
struct Entry {
    data: Box<[u8]>,
    name_len: usize,
    hashes: Hashes,
}

/// Hashes of a field's name and value (see [`hash`]), so the encoder's
/// table scan compares two integers before any bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Hashes {
    pub(super) name: u32,
    pub(super) value: u32,
}

/// A fast non-cryptographic hash of a byte string (the table only holds
/// what we chose to send, so it needs no flooding resistance).
pub(super) fn hash(bytes: &[u8]) -> u32 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let w = <[u8; 8]>::try_from(w).unwrap_or_default();
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    for &b in words.remainder() {
        h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
    }
    (h >> 32) as u32
}

impl Entry {
    fn fields(&self) -> (&[u8], &[u8]) {
        // Invariant: `name_len <= data.len()`, set in `DynamicTable::insert`.
        self.data.split_at(self.name_len)
    }

    fn size(&self) -> usize {
        self.data.len() + ENTRY_OVERHEAD
    }
}

/// The dynamic table: entries newest first, `size` as §4.1 counts it, never
/// above `capacity` (the maximum size set by the last size update).
#[derive(Clone, Debug)]
pub(super) struct DynamicTable {
    entries: VecDeque<Entry>,
    size: usize,
    capacity: usize,
}

impl DynamicTable {
    /// An empty table of at most `capacity` bytes.
    pub(super) fn new(capacity: usize) -> DynamicTable {
        DynamicTable {
            entries: VecDeque::new(),
            size: 0,
            capacity,
        }
    }

    /// The table's size in bytes (§4.1 accounting).
    pub(super) fn size(&self) -> usize {
        self.size
    }

    /// The table's current maximum size.
    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The entry `i` places from the newest (0 is the newest).
    pub(super) fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.entries.get(i).map(Entry::fields)
    }

    /// Entries, newest first.
    #[cfg(test)]
    pub(super) fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries.iter().map(Entry::fields)
    }

    /// Entries with their hashes, newest first.
    pub(super) fn iter_hashed(&self) -> impl Iterator<Item = (Hashes, &[u8], &[u8])> {
        self.entries.iter().map(|e| {
            let (n, v) = e.fields();
            (e.hashes, n, v)
        })
    }

    /// Sets the maximum size, evicting the oldest entries to fit (§4.3).
    pub(super) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.evict_to(capacity);
    }

    /// Adds an entry (§4.4): evicts until it fits; an entry larger than the
    /// whole table empties the table and is not added. The new entry is
    /// built before anything is evicted, so `name` may borrow from an entry
    /// that the insertion evicts (the caller copies it out first if needed).
    pub(super) fn insert(&mut self, name: &[u8], value: &[u8]) {
        self.insert_hashed(name, value, Hashes::default());
    }

    /// [`insert`](Self::insert), keeping the field's hashes with it.
    pub(super) fn insert_hashed(&mut self, name: &[u8], value: &[u8], hashes: Hashes) {
        let size = name.len() + value.len() + ENTRY_OVERHEAD;
        if size > self.capacity {
            self.clear();
            return;
        }
        let mut data = Vec::with_capacity(name.len() + value.len());
        data.extend_from_slice(name);
        data.extend_from_slice(value);
        self.evict_to(self.capacity - size);
        self.entries.push_front(Entry {
            data: data.into_boxed_slice(),
            name_len: name.len(),
            hashes,
        });
        self.size += size;
    }

    /// Empties the table (an entry larger than the table was added).
    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.size = 0;
    }

    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            match self.entries.pop_back() {
                Some(e) => self.size -= e.size(),
                None => {
                    self.size = 0;
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_name_finds_every_entry() {
        for (i, (name, value)) in STATIC.iter().enumerate() {
            let (first, count) = static_name(name).unwrap();
            assert!((first..first + count).contains(&(i + 1)), "{i}");
            assert_eq!(lookup(&DynamicTable::new(0), i + 1), Some((*name, *value)));
        }
        assert_eq!(static_name(b"x-custom"), None);
        assert_eq!(static_name(b":status"), Some((8, 7)));
    }

    #[test]
    fn eviction_keeps_size_bounded() {
        let mut t = DynamicTable::new(100);
        t.insert(b"aaaa", b"bbbb"); // 40
        t.insert(b"cccc", b"dddd"); // 80
        assert_eq!((t.iter().count(), t.size()), (2, 80));
        t.insert(b"eeee", b"ffff"); // evicts the oldest
        assert_eq!((t.iter().count(), t.size()), (2, 80));
        assert_eq!(t.get(0), Some((&b"eeee"[..], &b"ffff"[..])));
        assert_eq!(t.get(1), Some((&b"cccc"[..], &b"dddd"[..])));
        assert_eq!(lookup(&t, 62), t.get(0));
        assert_eq!(lookup(&t, 64), None);
        t.insert(&[b'x'; 60], &[b'y'; 9]); // 101 > 100: empties the table
        assert_eq!((t.iter().count(), t.size()), (0, 0));
        t.insert(b"a", b"b");
        t.set_capacity(0);
        assert_eq!((t.iter().count(), t.size(), t.capacity()), (0, 0, 0));
    }
}
