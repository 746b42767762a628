//! The HPACK encoder (RFC 7541 §6), with nghttp2's indexing policy.

use super::huffman;
use super::table::{self, DynamicTable, Hashes, ENTRY_OVERHEAD, STATIC, STATIC_LEN};
use super::MAX_ENCODER_TABLE_SIZE;

/// Fields whose values change with nearly every message, so indexing them
/// would only churn the table (nghttp2's list).
const UNINDEXED_VALUES: [&[u8]; 8] = [
    b":path",
    b"age",
    b"content-length",
    b"etag",
    b"if-modified-since",
    b"if-none-match",
    b"location",
    b"set-cookie",
];

/// Cookies shorter than this are never indexed: short secrets are the ones
/// a compression side channel (CRIME-style) can guess byte by byte.
const SHORT_COOKIE: usize = 20;

/// An HPACK encoder: one per HTTP/2 connection, for every header block we
/// send, in order.
///
/// Each field is sent as an index when the static or dynamic table holds
/// it, else as a literal that names an indexed name where it can. Literals
/// are Huffman-coded when that is strictly shorter. A literal is added to
/// the dynamic table unless its value changes with every message
/// (`:path`, `content-length`, `etag`, `set-cookie`, ...), it would take
/// more than three quarters of the table, or it is sensitive. Sensitive
/// fields, and by default `authorization`, `proxy-authorization` and
/// cookies shorter than 20 bytes, are sent as never-indexed literals (RFC
/// 7541 §7.1.3), as nghttp2 does.
///
/// The table follows the peer's SETTINGS_HEADER_TABLE_SIZE, capped at
/// [`MAX_ENCODER_TABLE_SIZE`] so the peer cannot make us hold more.
///
/// ```
/// use strata::http::hpack::{Decoder, Encoder};
///
/// let mut enc = Encoder::new();
/// let mut block = Vec::new();
/// let fields: [(&[u8], &[u8], bool); 3] = [
///     (b":method", b"GET", false),
///     (b":path", b"/", false),
///     (b"x-trace", b"abc123", false),
/// ];
/// enc.encode(fields, &mut block);
/// assert_eq!(block[..2], [0x82, 0x84]); // both fully indexed in the static table
///
/// let mut dec = Decoder::new(4096);
/// let mut got = Vec::new();
/// dec.decode_fragment(&block, true, &mut |n, v, _| got.push((n.to_vec(), v.to_vec())))?;
/// assert_eq!(got[2], (b"x-trace".to_vec(), b"abc123".to_vec()));
/// # Ok::<(), strata::http::hpack::HpackError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Encoder {
    table: DynamicTable,
    /// Table sizes the peer announced since the last block: the smallest
    /// and the last.
    pending: Option<(usize, usize)>,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

impl Encoder {
    /// An encoder with the protocol's initial table size, 4096.
    ///
    /// ```
    /// let mut enc = strata::http::hpack::Encoder::new();
    /// let mut out = Vec::new();
    /// enc.encode([(&b":status"[..], &b"200"[..], false)], &mut out);
    /// assert_eq!(out, [0x88]);
    /// ```
    pub fn new() -> Encoder {
        Encoder {
            table: DynamicTable::new(4096),
            pending: None,
        }
    }

    /// The peer announced a new SETTINGS_HEADER_TABLE_SIZE. The next block
    /// starts with the size updates it needs: the smallest size announced
    /// since the last block if that is below the current one (so the peer's
    /// decoder sees the table shrink), then the last one.
    ///
    /// ```
    /// let mut enc = strata::http::hpack::Encoder::new();
    /// enc.set_max_table_size(0);
    /// enc.set_max_table_size(4096);
    /// let mut out = Vec::new();
    /// enc.encode([(&b":status"[..], &b"200"[..], false)], &mut out);
    /// // Size update to 0, size update to 4096, then index 8.
    /// assert_eq!(out, [0x20, 0x3f, 0xe1, 0x1f, 0x88]);
    /// ```
    pub fn set_max_table_size(&mut self, size: usize) {
        let size = size.min(MAX_ENCODER_TABLE_SIZE);
        let (min, _) = self.pending.unwrap_or((size, size));
        self.pending = Some((min.min(size), size));
    }

    /// Encodes one header block into `out`: `fields` are `(name, value,
    /// sensitive)`, names already lowercase as HTTP/2 requires.
    ///
    /// ```
    /// let mut enc = strata::http::hpack::Encoder::new();
    /// let mut first = Vec::new();
    /// enc.encode([(&b"x-id"[..], &b"0123456789"[..], false)], &mut first);
    /// let mut second = Vec::new();
    /// enc.encode([(&b"x-id"[..], &b"0123456789"[..], false)], &mut second);
    /// assert_eq!(second, [0xbe]); // now dynamic index 62
    /// ```
    pub fn encode<'a>(
        &mut self,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8], bool)>,
        out: &mut Vec<u8>,
    ) {
        if let Some((min, last)) = self.pending.take() {
            if min < self.table.capacity() {
                integer(out, min, 5, 0x20);
                self.table.set_capacity(min);
            }
            if last != self.table.capacity() {
                integer(out, last, 5, 0x20);
                self.table.set_capacity(last);
            }
        }
        for (name, value, sensitive) in fields {
            self.field(name, value, sensitive, out);
        }
    }

    fn field(&mut self, name: &[u8], value: &[u8], sensitive: bool, out: &mut Vec<u8>) {
        let never = sensitive
            || name == b"authorization"
            || name == b"proxy-authorization"
            || (name == b"cookie" && value.len() < SHORT_COOKIE);
        let (full, name_index) = self.find(name, value, !never);
        if let Some(index) = full {
            integer(out, index, 7, 0x80);
            return;
        }
        let indexing = !never
            && !UNINDEXED_VALUES.contains(&name)
            && (name.len() + value.len() + ENTRY_OVERHEAD) * 4 <= self.table.capacity() * 3;
        let (bits, flags) = match (never, indexing) {
            (true, _) => (4, 0x10),
            (false, true) => (6, 0x40),
            (false, false) => (4, 0x00),
        };
        match name_index {
            Some(index) => integer(out, index, bits, flags),
            None => {
                out.push(flags);
                string(out, name);
            }
        }
        string(out, value);
        if indexing {
            let hashes = Hashes {
                name: table::hash(name),
                value: table::hash(value),
            };
            self.table.insert_hashed(name, value, hashes);
        }
    }

    /// The index of the field (if `full` is wanted and a table holds it) and
    /// of its name, preferring the static table.
    fn find(&self, name: &[u8], value: &[u8], full: bool) -> (Option<usize>, Option<usize>) {
        let mut name_index = None;
        if let Some((first, count)) = table::static_name(name) {
            name_index = Some(first);
            if full {
                let hit = STATIC
                    .get(first - 1..first - 1 + count)
                    .and_then(|e| e.iter().position(|&(_, v)| v == value));
                if let Some(i) = hit {
                    return (Some(first + i), name_index);
                }
            }
        }
        if (!full && name_index.is_some()) || self.table.size() == 0 {
            return (None, name_index);
        }
        let want = Hashes {
            name: table::hash(name),
            value: if full { table::hash(value) } else { 0 },
        };
        for (i, (hashes, n, v)) in self.table.iter_hashed().enumerate() {
            if hashes.name != want.name || n != name {
                continue;
            }
            let index = STATIC_LEN + 1 + i;
            if full && hashes.value == want.value && v == value {
                return (Some(index), name_index.or(Some(index)));
            }
            name_index = name_index.or(Some(index));
            if !full {
                break;
            }
        }
        (None, name_index)
    }

    /// The dynamic table's current size in bytes (RFC 7541 §4.1).
    ///
    /// ```
    /// let mut enc = strata::http::hpack::Encoder::new();
    /// enc.encode([(&b"x-a"[..], &b"1"[..], false)], &mut Vec::new());
    /// assert_eq!(enc.table_size(), 3 + 1 + 32);
    /// ```
    pub fn table_size(&self) -> usize {
        self.table.size()
    }
}

/// Appends an integer with a `bits`-bit prefix (§5.1), `flags` in the
/// first byte's high bits.
fn integer(out: &mut Vec<u8>, v: usize, bits: u32, flags: u8) {
    let mask = (1usize << bits) - 1;
    if v < mask {
        out.push(flags | v as u8);
        return;
    }
    out.push(flags | mask as u8);
    let mut v = v - mask;
    while v >= 0x80 {
        out.push(0x80 | (v & 0x7f) as u8);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a string literal (§5.2), Huffman-coded when strictly shorter.
fn string(out: &mut Vec<u8>, s: &[u8]) {
    let h = huffman::encoded_len(s);
    if h < s.len() {
        integer(out, h, 7, 0x80);
        huffman::encode(s, out);
    } else {
        integer(out, s.len(), 7, 0);
        out.extend_from_slice(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_match_rfc_examples() {
        // C.1.1 - C.1.3
        let mut out = Vec::new();
        integer(&mut out, 10, 5, 0);
        assert_eq!(out, [0x0a]);
        out.clear();
        integer(&mut out, 1337, 5, 0);
        assert_eq!(out, [0x1f, 0x9a, 0x0a]);
        out.clear();
        integer(&mut out, 42, 8, 0);
        assert_eq!(out, [0x2a]);
    }

    #[test]
    fn sensitive_fields_are_never_indexed() {
        let mut enc = Encoder::new();
        let mut out = Vec::new();
        enc.encode(
            [(&b"authorization"[..], &b"Basic abc"[..], false)],
            &mut out,
        );
        assert_eq!(out[0], 0x10 | 0x0f); // never indexed, name index 23 > 15
        assert_eq!(enc.table_size(), 0);
        out.clear();
        enc.encode([(&b"x-secret"[..], &b"v"[..], true)], &mut out);
        assert_eq!(out[0], 0x10);
        enc.encode([(&b"cookie"[..], &b"short=1"[..], false)], &mut out);
        assert_eq!(enc.table_size(), 0);
        let long = b"session=0123456789abcdef0123456789";
        enc.encode([(&b"cookie"[..], &long[..], false)], &mut out);
        assert_eq!(enc.table_size(), 6 + long.len() + 32);
    }

    #[test]
    fn large_and_volatile_fields_are_not_indexed() {
        let mut enc = Encoder::new();
        let big = vec![b'a'; 3100];
        let mut out = Vec::new();
        enc.encode([(&b"x-big"[..], &big[..], false)], &mut out);
        enc.encode([(&b"content-length"[..], &b"1234"[..], false)], &mut out);
        assert_eq!(enc.table_size(), 0);
    }

    #[test]
    fn a_shrink_alone_sends_one_update() {
        let mut enc = Encoder::new();
        enc.set_max_table_size(100);
        let mut out = Vec::new();
        enc.encode([], &mut out);
        assert_eq!(out, [0x3f, 0x45]);
        // Growing past the cap stops at the cap.
        enc.set_max_table_size(1 << 20);
        out.clear();
        enc.encode([], &mut out);
        let mut want = Vec::new();
        integer(&mut want, MAX_ENCODER_TABLE_SIZE, 5, 0x20);
        assert_eq!(out, want);
        // The same size again needs no update.
        enc.set_max_table_size(MAX_ENCODER_TABLE_SIZE);
        out.clear();
        enc.encode([], &mut out);
        assert!(out.is_empty());
    }
}
