//! The streaming HPACK decoder (RFC 7541 §3, §6).

use super::huffman::HuffmanState;
use super::table::{self, DynamicTable, ENTRY_OVERHEAD};
use super::{HpackError, DEFAULT_MAX_HEADER_LIST_SIZE, MAX_STRING_LEN};

/// Scratch buffers keep at most this much capacity between header blocks,
/// so one large header does not pin its memory for the connection's life.
const SCRATCH_KEEP: usize = 16 * 1024;

/// The field callback of [`Decoder::decode_fragment`].
type Emit<'a> = dyn FnMut(&[u8], &[u8], bool) + 'a;

/// Integers above this are refused (no HPACK quantity needs more).
const MAX_INT: u64 = u32::MAX as u64;

/// A streaming HPACK decoder: one per HTTP/2 connection, fed every header
/// block the peer sends, in order.
///
/// A block may arrive in fragments (a HEADERS frame, then CONTINUATION
/// frames); each fragment is decoded as it comes, without reassembling the
/// block. Between fragments the decoder keeps only the representation in
/// progress: at most one name and one value, each bounded by the larger of
/// the header-list budget and the dynamic table's size (longer strings are
/// checked and skipped, not stored).
///
/// Driving contract: call [`begin_block`](Decoder::begin_block) with the
/// block's budget (optional: the previous budget is kept, initially
/// [`DEFAULT_MAX_HEADER_LIST_SIZE`]), then
/// [`decode_fragment`](Decoder::decode_fragment) once per fragment with
/// `end` set on the last one. Call
/// [`set_max_table_size`](Decoder::set_max_table_size) between blocks, when
/// the peer acknowledges a new SETTINGS_HEADER_TABLE_SIZE. Any error but
/// [`HpackError::HeaderListTooLarge`] is fatal: the decoder keeps returning
/// it, and the connection must end with COMPRESSION_ERROR.
///
/// ```
/// use strata::http::hpack::Decoder;
///
/// let mut dec = Decoder::new(4096);
/// let mut fields = Vec::new();
/// dec.begin_block(16 * 1024);
/// // RFC 7541 C.3.1, split in two fragments.
/// let block = [0x82, 0x86, 0x84, 0x41, 0x0f, b'w', b'w', b'w', b'.', b'e', b'x', b'a', b'm',
///              b'p', b'l', b'e', b'.', b'c', b'o', b'm'];
/// let (a, b) = block.split_at(9);
/// let mut emit = |n: &[u8], v: &[u8], _sensitive: bool| fields.push((n.to_vec(), v.to_vec()));
/// dec.decode_fragment(a, false, &mut emit)?;
/// dec.decode_fragment(b, true, &mut emit)?;
/// assert_eq!(fields[3], (b":authority".to_vec(), b"www.example.com".to_vec()));
/// assert_eq!(dec.table_size(), 57);
/// # Ok::<(), strata::http::hpack::HpackError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Decoder {
    table: DynamicTable,
    /// The SETTINGS_HEADER_TABLE_SIZE we advertise: size updates above it fail.
    limit: usize,
    /// Set when `limit` fell below the table's size since the last block: the
    /// next block must start with a size update at most this large.
    required_update: Option<usize>,
    budget: Budget,
    /// A field representation was seen in this block (size updates now fail).
    fields_seen: bool,
    step: Step,
    name_buf: Vec<u8>,
    value_buf: Vec<u8>,
    failed: Option<HpackError>,
}

/// The header-list budget of the current block.
#[derive(Clone, Debug)]
struct Budget {
    max: usize,
    used: usize,
    over: bool,
}

impl Budget {
    /// Counts a field and emits it if the block is still within budget.
    fn emit(&mut self, name: &[u8], value: &[u8], sensitive: bool, emit: &mut Emit<'_>) {
        let size = name.len() + value.len() + ENTRY_OVERHEAD;
        self.used = self.used.saturating_add(size);
        if self.over || self.used > self.max {
            self.over = true;
        } else {
            emit(name, value, sensitive);
        }
    }

    /// Room left for `name + value` of one more field (0 once over budget).
    fn room(&self) -> usize {
        if self.over {
            0
        } else {
            self.max
                .saturating_sub(self.used)
                .saturating_sub(ENTRY_OVERHEAD)
        }
    }
}

/// Where the parser is inside the current representation.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Before the first byte of a representation.
    Start,
    /// Inside the continuation bytes of the representation's first integer.
    Head { kind: Kind, int: Int },
    /// Before or inside a string's length; `int` is `None` before its first byte.
    StrLen {
        field: Field,
        target: Target,
        int: Option<(bool, Int)>,
    },
    /// Inside a string's bytes.
    Str {
        field: Field,
        target: Target,
        len: usize,
        remaining: usize,
        huffman: Option<HuffmanState>,
        /// The string is being stored (else checked and dropped).
        keep: bool,
        /// Decoded longer than this, the string is useless and dropped.
        keep_limit: usize,
    },
}

/// The kind of representation, from its first byte (§6).
#[derive(Clone, Copy, Debug)]
enum Kind {
    Indexed,
    SizeUpdate,
    Literal(Literal),
}

/// The three literal representations (§6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Literal {
    Incremental,
    NoIndex,
    NeverIndexed,
}

/// A literal field in progress.
#[derive(Clone, Copy, Debug)]
struct Field {
    literal: Literal,
    name: Loc,
}

/// Which string of the field is being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Name,
    Value,
}

/// Where a decoded string (or an indexed name) is.
#[derive(Clone, Copy, Debug)]
enum Loc {
    /// The name of the table entry at this HPACK index.
    Indexed(usize),
    /// `frag[start..end]` of the fragment being decoded (raw, unsplit).
    Input(usize, usize),
    /// The decoder's scratch buffer for this string.
    Buf,
    /// Too long to be emitted or inserted: checked and dropped.
    Dropped,
}

/// A partly read integer (§5.1).
#[derive(Clone, Copy, Debug)]
struct Int {
    value: u64,
    shift: u32,
}

impl Int {
    /// Reads continuation bytes from `frag[*pos..]`; returns the value once
    /// its last byte has been read, `None` if the fragment ran out first.
    fn resume(&mut self, frag: &[u8], pos: &mut usize) -> Result<Option<usize>, HpackError> {
        while let Some(&b) = frag.get(*pos) {
            *pos += 1;
            if self.shift > 28 {
                return Err(HpackError::IntegerOverflow);
            }
            self.value += u64::from(b & 0x7f) << self.shift;
            self.shift += 7;
            if b & 0x80 == 0 {
                return match usize::try_from(self.value) {
                    Ok(v) if self.value <= MAX_INT => Ok(Some(v)),
                    _ => Err(HpackError::IntegerOverflow),
                };
            }
        }
        Ok(None)
    }
}

/// Splits a first byte into its `bits`-bit prefix value: `Ok(value)` when it
/// fits, else the integer to resume.
fn prefix(b: u8, bits: u32) -> Result<usize, Int> {
    let mask = (1u8 << bits) - 1;
    let v = b & mask;
    if v < mask {
        Ok(usize::from(v))
    } else {
        Err(Int {
            value: u64::from(mask),
            shift: 0,
        })
    }
}

impl Decoder {
    /// A decoder whose table may grow to `max_table_size` bytes: the
    /// SETTINGS_HEADER_TABLE_SIZE we advertise (the protocol's initial value
    /// is 4096). Size updates above it are errors.
    ///
    /// ```
    /// let dec = strata::http::hpack::Decoder::new(4096);
    /// assert_eq!(dec.table_size(), 0);
    /// ```
    pub fn new(max_table_size: usize) -> Decoder {
        Decoder {
            table: DynamicTable::new(max_table_size),
            limit: max_table_size,
            required_update: None,
            budget: Budget {
                max: DEFAULT_MAX_HEADER_LIST_SIZE,
                used: 0,
                over: false,
            },
            fields_seen: false,
            step: Step::Start,
            name_buf: Vec::new(),
            value_buf: Vec::new(),
            failed: None,
        }
    }

    /// Changes the limit we advertise; call it when the peer acknowledges
    /// our new SETTINGS_HEADER_TABLE_SIZE, between header blocks.
    ///
    /// Following RFC 7541 §4.2, the table keeps its size until the peer's
    /// encoder sends a size update. If the new limit is below the table's
    /// current maximum, the next block must start with a size update no
    /// larger than the smallest limit set since the last block; otherwise the
    /// block fails with [`HpackError::MissingTableSizeUpdate`].
    ///
    /// ```
    /// use strata::http::hpack::{Decoder, HpackError};
    ///
    /// let mut dec = Decoder::new(4096);
    /// dec.set_max_table_size(0);
    /// // An update to 0 (0x20) first, then an indexed field.
    /// dec.decode_fragment(&[0x20, 0x82], true, &mut |_, _, _| {})?;
    /// dec.set_max_table_size(256);
    /// // 512 is above the limit.
    /// let err = dec.decode_fragment(&[0x3f, 0xe1, 0x03], true, &mut |_, _, _| {});
    /// assert_eq!(err, Err(HpackError::TableSizeOverLimit { size: 512, limit: 256 }));
    /// # Ok::<(), HpackError>(())
    /// ```
    pub fn set_max_table_size(&mut self, size: usize) {
        if size < self.table.capacity() {
            let min = self.required_update.map_or(size, |m| m.min(size));
            self.required_update = Some(min);
        }
        self.limit = size;
    }

    /// Starts a new header block whose decoded fields may add up to
    /// `max_list_size` (RFC 9113 SETTINGS_MAX_HEADER_LIST_SIZE accounting:
    /// the sum of `name.len() + value.len() + 32`). Abandons any unfinished
    /// block. Dynamic table size updates are accepted only at the start of a
    /// block.
    ///
    /// ```
    /// use strata::http::hpack::{Decoder, HpackError};
    ///
    /// let mut dec = Decoder::new(4096);
    /// dec.begin_block(40); // ":method: GET" takes 42
    /// let mut n = 0;
    /// let r = dec.decode_fragment(&[0x82], true, &mut |_, _, _| n += 1);
    /// assert_eq!((r, n), (Err(HpackError::HeaderListTooLarge { limit: 40 }), 0));
    /// ```
    pub fn begin_block(&mut self, max_list_size: usize) {
        self.budget = Budget {
            max: max_list_size,
            used: 0,
            over: false,
        };
        self.fields_seen = false;
        self.step = Step::Start;
    }

    /// Decodes one fragment of the current header block; `end` is true on
    /// the last one (END_HEADERS).
    ///
    /// For each complete field, calls `emit(name, value, sensitive)`, where
    /// `sensitive` marks a never-indexed literal (a proxy must forward it as
    /// never-indexed too). Once the block exceeds its budget, fields are
    /// still decoded (to keep the dynamic table in sync) but no longer
    /// emitted, and the call with `end` returns
    /// [`HpackError::HeaderListTooLarge`]; the decoder stays usable. Any
    /// other error leaves the decoder unusable: it is returned again by every
    /// later call (a connection error, COMPRESSION_ERROR).
    ///
    /// ```
    /// use strata::http::hpack::{Decoder, HpackError};
    ///
    /// let mut dec = Decoder::new(4096);
    /// let mut out = Vec::new();
    /// // RFC 7541 C.2.4: indexed field 2.
    /// dec.decode_fragment(&[0x82], true, &mut |n, v, _| out.push((n.to_vec(), v.to_vec())))?;
    /// assert_eq!(out, [(b":method".to_vec(), b"GET".to_vec())]);
    /// // Index 70 does not exist.
    /// assert_eq!(
    ///     dec.decode_fragment(&[0xc6], true, &mut |_, _, _| {}),
    ///     Err(HpackError::BadIndex { index: 70 })
    /// );
    /// # Ok::<(), HpackError>(())
    /// ```
    #[allow(clippy::type_complexity)] // spelled out for readers of the API
    pub fn decode_fragment(
        &mut self,
        frag: &[u8],
        end: bool,
        emit: &mut dyn FnMut(&[u8], &[u8], bool),
    ) -> Result<(), HpackError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut result = self.run(frag, emit);
        if result.is_ok() && end {
            result = self.finish_block();
        }
        match result {
            Err(e) if e != self.too_large() => {
                self.failed = Some(e.clone());
                Err(e)
            }
            r => r,
        }
    }

    /// The dynamic table's current size in bytes (RFC 7541 §4.1: each entry
    /// counts its name and value lengths plus 32).
    ///
    /// ```
    /// let mut dec = strata::http::hpack::Decoder::new(4096);
    /// // Literal with incremental indexing, new name "a", value "b".
    /// dec.decode_fragment(&[0x40, 0x01, b'a', 0x01, b'b'], true, &mut |_, _, _| {})?;
    /// assert_eq!(dec.table_size(), 34);
    /// # Ok::<(), strata::http::hpack::HpackError>(())
    /// ```
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    fn too_large(&self) -> HpackError {
        HpackError::HeaderListTooLarge {
            limit: self.budget.max,
        }
    }

    /// Ends the block: checks it ended on a representation boundary, resets
    /// the block state and reports an exceeded budget.
    fn finish_block(&mut self) -> Result<(), HpackError> {
        if !matches!(self.step, Step::Start) {
            return Err(HpackError::Truncated);
        }
        if self.required_update.is_some() {
            return Err(HpackError::MissingTableSizeUpdate);
        }
        let over = self.budget.over;
        self.budget.used = 0;
        self.budget.over = false;
        self.fields_seen = false;
        for buf in [&mut self.name_buf, &mut self.value_buf] {
            buf.clear();
            if buf.capacity() > SCRATCH_KEEP {
                buf.shrink_to(SCRATCH_KEEP);
            }
        }
        if over {
            Err(self.too_large())
        } else {
            Ok(())
        }
    }

    /// Decodes as much of `frag` as possible, leaving `self.step` where it
    /// stopped, with no reference into `frag`.
    fn run(&mut self, frag: &[u8], emit: &mut Emit<'_>) -> Result<(), HpackError> {
        let mut pos = 0;
        loop {
            match self.step {
                Step::Start => {
                    let Some(&b) = frag.get(pos) else { break };
                    pos += 1;
                    let (kind, bits) = if b & 0x80 != 0 {
                        (Kind::Indexed, 7)
                    } else if b & 0x40 != 0 {
                        (Kind::Literal(Literal::Incremental), 6)
                    } else if b & 0x20 != 0 {
                        (Kind::SizeUpdate, 5)
                    } else if b & 0x10 != 0 {
                        (Kind::Literal(Literal::NeverIndexed), 4)
                    } else {
                        (Kind::Literal(Literal::NoIndex), 4)
                    };
                    match prefix(b, bits) {
                        Ok(v) => self.head(kind, v, emit)?,
                        Err(int) => self.step = Step::Head { kind, int },
                    }
                }
                Step::Head { kind, mut int } => match int.resume(frag, &mut pos)? {
                    Some(v) => {
                        self.step = Step::Start;
                        self.head(kind, v, emit)?;
                    }
                    None => {
                        self.step = Step::Head { kind, int };
                        break;
                    }
                },
                Step::StrLen { field, target, int } => {
                    let (huffman, mut int) = match int {
                        Some(partial) => partial,
                        None => {
                            let Some(&b) = frag.get(pos) else { break };
                            pos += 1;
                            match prefix(b, 7) {
                                Ok(len) => {
                                    self.begin_string(field, target, b & 0x80 != 0, len)?;
                                    continue;
                                }
                                Err(int) => (b & 0x80 != 0, int),
                            }
                        }
                    };
                    match int.resume(frag, &mut pos)? {
                        Some(len) => self.begin_string(field, target, huffman, len)?,
                        None => {
                            self.step = Step::StrLen {
                                field,
                                target,
                                int: Some((huffman, int)),
                            };
                            break;
                        }
                    }
                }
                Step::Str {
                    field,
                    target,
                    len,
                    remaining,
                    mut huffman,
                    mut keep,
                    keep_limit,
                } => {
                    let rest = frag.get(pos..).unwrap_or_default();
                    if remaining > 0 && rest.is_empty() {
                        break;
                    }
                    let (chunk, _) = rest.split_at(remaining.min(rest.len()));
                    let start = pos;
                    pos += chunk.len();
                    let remaining = remaining - chunk.len();
                    let buf = match target {
                        Target::Name => &mut self.name_buf,
                        Target::Value => &mut self.value_buf,
                    };
                    let mut whole_input = false;
                    match &mut huffman {
                        Some(h) if keep => {
                            h.feed(chunk, buf)?;
                            if buf.len() > keep_limit {
                                buf.clear();
                                keep = false;
                            }
                        }
                        Some(h) => {
                            h.skip(chunk)?;
                        }
                        None if !keep => {}
                        None if remaining == 0 && chunk.len() == len => whole_input = true,
                        None => buf.extend_from_slice(chunk),
                    }
                    if remaining > 0 {
                        self.step = Step::Str {
                            field,
                            target,
                            len,
                            remaining,
                            huffman,
                            keep,
                            keep_limit,
                        };
                        continue;
                    }
                    if let Some(h) = huffman {
                        h.finish()?;
                    }
                    let loc = if !keep {
                        Loc::Dropped
                    } else if whole_input {
                        Loc::Input(start, pos)
                    } else {
                        Loc::Buf
                    };
                    match target {
                        Target::Name => {
                            self.step = Step::StrLen {
                                field: Field { name: loc, ..field },
                                target: Target::Value,
                                int: None,
                            };
                        }
                        Target::Value => {
                            self.step = Step::Start;
                            self.literal(field, loc, frag, emit)?;
                        }
                    }
                }
            }
        }
        // A name borrowed from this fragment must outlive it: copy it.
        if let Step::StrLen { field, .. } | Step::Str { field, .. } = &mut self.step
            && let Loc::Input(start, end) = field.name
        {
            self.name_buf.clear();
            self.name_buf
                .extend_from_slice(frag.get(start..end).unwrap_or_default());
            field.name = Loc::Buf;
        }
        Ok(())
    }

    /// Acts on a representation's first integer.
    fn head(&mut self, kind: Kind, v: usize, emit: &mut Emit<'_>) -> Result<(), HpackError> {
        match kind {
            Kind::SizeUpdate => {
                if self.fields_seen {
                    return Err(HpackError::TableSizeUpdateNotAtStart);
                }
                if v > self.limit {
                    return Err(HpackError::TableSizeOverLimit {
                        size: v,
                        limit: self.limit,
                    });
                }
                self.table.set_capacity(v);
                if self.required_update.is_some_and(|m| v <= m) {
                    self.required_update = None;
                }
            }
            Kind::Indexed => {
                self.start_field()?;
                let (name, value) =
                    table::lookup(&self.table, v).ok_or(HpackError::BadIndex { index: v })?;
                self.budget.emit(name, value, false, emit);
            }
            Kind::Literal(literal) => {
                self.start_field()?;
                self.step = if v == 0 {
                    Step::StrLen {
                        field: Field {
                            literal,
                            name: Loc::Buf,
                        },
                        target: Target::Name,
                        int: None,
                    }
                } else {
                    if table::lookup(&self.table, v).is_none() {
                        return Err(HpackError::BadIndex { index: v });
                    }
                    Step::StrLen {
                        field: Field {
                            literal,
                            name: Loc::Indexed(v),
                        },
                        target: Target::Value,
                        int: None,
                    }
                };
            }
        }
        Ok(())
    }

    /// A field representation begins: size updates are over for this block.
    fn start_field(&mut self) -> Result<(), HpackError> {
        if self.required_update.is_some() {
            return Err(HpackError::MissingTableSizeUpdate);
        }
        self.fields_seen = true;
        Ok(())
    }

    /// A string's length is known: decides whether it is worth storing.
    fn begin_string(
        &mut self,
        field: Field,
        target: Target,
        huffman: bool,
        len: usize,
    ) -> Result<(), HpackError> {
        if len > MAX_STRING_LEN {
            return Err(HpackError::StringTooLong {
                len,
                limit: MAX_STRING_LEN,
            });
        }
        let name_len = match (target, field.name) {
            (Target::Name, _) => Some(0),
            (Target::Value, Loc::Indexed(i)) => table::lookup(&self.table, i).map(|(n, _)| n.len()),
            (Target::Value, Loc::Input(start, end)) => Some(end - start),
            (Target::Value, Loc::Buf) => Some(self.name_buf.len()),
            (Target::Value, Loc::Dropped) => None,
        };
        // A string is stored only if the field could still be emitted or
        // inserted in the table; a dropped name dooms both.
        let keep_limit = name_len.map_or(0, |name_len| {
            let emit_room = self.budget.room().saturating_sub(name_len);
            let table_room = if field.literal == Literal::Incremental {
                self.table
                    .capacity()
                    .saturating_sub(ENTRY_OVERHEAD + name_len)
            } else {
                0
            };
            emit_room.max(table_room)
        });
        // A Huffman string of `len` bytes decodes to at least `8 * len / 30`.
        let keep = if huffman {
            len * 8 / 30 <= keep_limit
        } else {
            len <= keep_limit
        };
        match target {
            Target::Name => self.name_buf.clear(),
            Target::Value => self.value_buf.clear(),
        }
        self.step = Step::Str {
            field,
            target,
            len,
            remaining: len,
            huffman: huffman.then(HuffmanState::default),
            keep,
            keep_limit,
        };
        Ok(())
    }

    /// A literal field is complete: emits it and, for incremental indexing,
    /// inserts it in the table.
    fn literal(
        &mut self,
        field: Field,
        value: Loc,
        frag: &[u8],
        emit: &mut Emit<'_>,
    ) -> Result<(), HpackError> {
        let sensitive = field.literal == Literal::NeverIndexed;
        let incremental = field.literal == Literal::Incremental;
        let value = match value {
            Loc::Input(start, end) => frag.get(start..end),
            Loc::Buf => Some(&self.value_buf[..]),
            Loc::Indexed(_) | Loc::Dropped => None,
        };
        match (field.name, value) {
            (Loc::Indexed(i), Some(value)) => {
                let (name, _) =
                    table::lookup(&self.table, i).ok_or(HpackError::BadIndex { index: i })?;
                self.budget.emit(name, value, sensitive, emit);
                if incremental {
                    // The insertion may evict the entry the name comes from.
                    self.name_buf.clear();
                    self.name_buf.extend_from_slice(name);
                    self.table.insert(&self.name_buf, value);
                }
            }
            (Loc::Input(start, end), Some(value)) => {
                let name = frag.get(start..end).unwrap_or_default();
                self.budget.emit(name, value, sensitive, emit);
                if incremental {
                    self.table.insert(name, value);
                }
            }
            (Loc::Buf, Some(value)) => {
                self.budget.emit(&self.name_buf, value, sensitive, emit);
                if incremental {
                    self.table.insert(&self.name_buf, value);
                }
            }
            (Loc::Dropped, _) | (_, None) => {
                // Too long both to emit within budget and to fit in the table.
                self.budget.over = true;
                if incremental {
                    self.table.clear();
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
impl Decoder {
    /// The dynamic table's entries, newest first.
    pub(super) fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.table
            .iter()
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect()
    }

    /// Capacity held by the scratch buffers.
    pub(super) fn scratch_capacity(&self) -> usize {
        self.name_buf.capacity() + self.value_buf.capacity()
    }
}
