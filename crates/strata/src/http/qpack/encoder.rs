//! The encoder: field sections out, table instructions to our encoder
//! stream, the peer's decoder stream in (RFC 9204 §2.1, §4.3-§4.5).
//!
//! Policy. A field that matches a static entry is indexed. Otherwise a
//! dynamic entry that matches is referenced, and a field worth keeping
//! (not sensitive, at most three quarters of the table) is inserted and
//! referenced; a value that changes from one message to the next (`:path`,
//! `content-length`, `date`, ...) only into free space, never evicting.
//! Entries the section itself references are never evicted by it. References
//! are made only while the section may block (the peer's
//! SETTINGS_QPACK_BLOCKED_STREAMS) or the entry is acknowledged; an entry
//! is evicted only once acknowledged and unreferenced by any section the
//! peer has not acknowledged. Everything else is a literal, with a name
//! reference where one exists, Huffman-coded when shorter.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::static_table::{self, StaticMatch};
use super::table::DynamicTable;
use super::wire::{put_int, put_str, ReadError, Reader};
use super::{HeaderField, QpackError, MAX_UNACKED_SECTIONS};

/// One field section the peer has not acknowledged yet.
#[derive(Clone, Copy, Debug)]
struct Section {
    /// Its Required Insert Count.
    ric: u64,
    /// The smallest absolute index it references.
    min_ref: u64,
}

/// The encoder's state; [`super::QpackEncoder`] is its public face.
#[derive(Debug)]
pub(super) struct Encoder {
    max_capacity: usize,
    /// The peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY / 32 (§4.5.1.1).
    max_entries: u64,
    max_blocked: usize,
    settings_seen: bool,
    table: DynamicTable,
    /// Known Received Count (§2.1.4).
    known_received: u64,
    /// Unacknowledged sections that reference the table, per stream,
    /// oldest first.
    sections: HashMap<u64, VecDeque<Section>>,
    unacked: usize,
    /// How many unacknowledged sections reference each smallest index: its
    /// first key is the oldest entry that may not be evicted.
    pinned: BTreeMap<u64, usize>,
    input: Vec<u8>,
    failed: Option<QpackError>,
}

/// A field line before its indices are known relative to the Base.
enum Line<'f> {
    Static(u64),
    Dynamic(u64),
    StaticName(u64, &'f HeaderField, bool),
    DynamicName(u64, &'f HeaderField, bool),
    Literal(&'f HeaderField, bool),
}

impl Encoder {
    pub(super) fn new(max_capacity: usize) -> Self {
        Encoder {
            max_capacity,
            max_entries: 0,
            max_blocked: 0,
            settings_seen: false,
            table: DynamicTable::default(),
            known_received: 0,
            sections: HashMap::new(),
            unacked: 0,
            pinned: BTreeMap::new(),
            input: Vec::new(),
            failed: None,
        }
    }

    pub(super) fn capacity(&self) -> usize {
        self.table.capacity()
    }

    #[cfg(test)]
    pub(super) fn table(&self) -> &DynamicTable {
        &self.table
    }

    pub(super) fn insert_count(&self) -> u64 {
        self.table.insert_count()
    }

    pub(super) fn known_received(&self) -> u64 {
        self.known_received
    }

    pub(super) fn unacked_sections(&self) -> usize {
        self.unacked
    }

    pub(super) fn set_peer_settings(&mut self, max_capacity: u64, blocked: u64, out: &mut Vec<u8>) {
        if self.settings_seen {
            return;
        }
        self.settings_seen = true;
        self.max_entries = max_capacity / 32;
        self.max_blocked = usize::try_from(blocked).unwrap_or(usize::MAX);
        let cap = usize::try_from(max_capacity)
            .unwrap_or(usize::MAX)
            .min(self.max_capacity);
        if cap > 0 {
            put_int(out, 0x20, 5, cap as u64);
            self.table.set_capacity(cap);
        }
    }

    /// Whether a new section on `stream_id` may reference entries the
    /// peer has not acknowledged.
    fn may_block(&self, stream_id: u64) -> bool {
        let kr = self.known_received;
        let blocking = |s: &VecDeque<Section>| s.iter().any(|s| s.ric > kr);
        if self.sections.get(&stream_id).is_some_and(blocking) {
            return true;
        }
        self.sections.values().filter(|s| blocking(s)).count() < self.max_blocked
    }

    /// Whether `f` is sensitive (§7.1.3): never inserted, never indexed,
    /// sent as a literal with the N bit.
    fn sensitive(f: &HeaderField) -> bool {
        match &f.name[..] {
            b"authorization" | b"proxy-authorization" => true,
            b"cookie" | b"set-cookie" => f.value.len() < 20,
            _ => false,
        }
    }

    /// Whether `f` is worth a table entry: `Some(true)` if it may evict
    /// older entries, `Some(false)` only into free space.
    fn worth_inserting(&self, f: &HeaderField) -> Option<bool> {
        if f.size() > self.table.capacity() / 4 * 3 {
            return None;
        }
        // Values that differ from one message to the next: an entry for
        // one must not push out entries that repeat.
        let volatile = matches!(
            &f.name[..],
            b":path"
                | b"content-length"
                | b"content-range"
                | b"date"
                | b"etag"
                | b"last-modified"
                | b"if-modified-since"
                | b"if-none-match"
                | b"age"
                | b"expires"
        );
        Some(!volatile)
    }

    /// Whether `f` goes into the table now, evicting what it may.
    fn try_insert_room(&mut self, f: &HeaderField, keep: u64) -> bool {
        match self.worth_inserting(f) {
            None => false,
            Some(false) => self.table.size() + f.size() <= self.table.capacity(),
            Some(true) => self.make_room(f.size(), keep),
        }
    }

    /// Makes room for `size` bytes, evicting only evictable entries
    /// (acknowledged, unreferenced by unacknowledged sections and by the
    /// section being encoded, whose smallest reference is `keep`).
    fn make_room(&mut self, size: usize, keep: u64) -> bool {
        if size > self.table.capacity() {
            return false;
        }
        let limit = self
            .known_received
            .min(keep)
            .min(self.pinned.keys().next().copied().unwrap_or(u64::MAX));
        let target = self.table.capacity() - size;
        let mut freed_to = self.table.size();
        for (abs, e) in self.table.iter() {
            if freed_to <= target {
                break;
            }
            if abs >= limit {
                return false;
            }
            freed_to -= e.size();
        }
        if freed_to > target {
            return false;
        }
        self.table.evict_to(target);
        true
    }

    /// The newest dynamic entry equal to `f` and one with its name.
    fn find_dynamic(&self, f: &HeaderField, usable: u64) -> (Option<u64>, Option<u64>) {
        let mut name = None;
        for (abs, e) in self.table.iter().rev() {
            if abs >= usable || e.name != f.name {
                continue;
            }
            if e.value == f.value {
                return (Some(abs), name.or(Some(abs)));
            }
            name = name.or(Some(abs));
        }
        (None, name)
    }

    pub(super) fn encode(
        &mut self,
        stream_id: u64,
        fields: &[HeaderField],
        out: &mut Vec<u8>,
        ins: &mut Vec<u8>,
    ) -> Result<(), QpackError> {
        let base = self.table.insert_count();
        let dynamic_ok = self.table.capacity() > 0 && self.unacked < MAX_UNACKED_SECTIONS;
        let may_block = dynamic_ok && self.may_block(stream_id);
        let mut ric = 0u64;
        // Entries this section will reference exactly are spared by its
        // own inserts: the smallest of them starts as the floor.
        let mut min_ref = if dynamic_ok {
            let usable = if may_block {
                u64::MAX
            } else {
                self.known_received
            };
            fields
                .iter()
                .filter(|f| !Self::sensitive(f))
                .filter_map(|f| self.find_dynamic(f, usable).0)
                .min()
                .unwrap_or(u64::MAX)
        } else {
            u64::MAX
        };
        let mut lines = Vec::with_capacity(fields.len());
        for f in fields {
            let sensitive = Self::sensitive(f);
            let st = static_table::find(&f.name, &f.value);
            if let StaticMatch::Field(i) = st {
                lines.push(Line::Static(i as u64));
                continue;
            }
            if !dynamic_ok {
                lines.push(match st {
                    StaticMatch::Name(i) => Line::StaticName(i as u64, f, sensitive),
                    _ => Line::Literal(f, sensitive),
                });
                continue;
            }
            // Entries a reference may use: all of them if the section may
            // block, else the acknowledged ones.
            let usable = if may_block {
                u64::MAX
            } else {
                self.known_received
            };
            let (exact, by_name) = self.find_dynamic(f, usable);
            if let (Some(abs), false) = (exact, sensitive) {
                referenced(abs, &mut ric, &mut min_ref);
                lines.push(Line::Dynamic(abs));
                continue;
            }
            // An equal entry not yet usable (unacknowledged, and this
            // section may not block) is not inserted twice: a literal until
            // the peer acknowledges it.
            let pending = exact.is_none() && self.find_dynamic(f, u64::MAX).0.is_some();
            if !sensitive && !pending && self.try_insert_room(f, min_ref) {
                // The name for the insert: static, else the newest dynamic
                // entry of that name (still held: make_room spared it or
                // the decoder copies it before evicting, §3.2.2).
                let abs = self.table.insert_count();
                match (st, self.find_dynamic(f, u64::MAX).1) {
                    (StaticMatch::Name(i), _) => {
                        put_int(ins, 0xc0, 6, i as u64);
                        put_str(ins, 0, 7, &f.value);
                    }
                    (_, Some(n)) => {
                        put_int(ins, 0x80, 6, abs - n - 1);
                        put_str(ins, 0, 7, &f.value);
                    }
                    _ => {
                        put_str(ins, 0x40, 5, &f.name);
                        put_str(ins, 0, 7, &f.value);
                    }
                }
                self.table.insert(f.clone());
                if may_block {
                    referenced(abs, &mut ric, &mut min_ref);
                    lines.push(Line::Dynamic(abs));
                    continue;
                }
            }
            lines.push(match (st, by_name) {
                (StaticMatch::Name(i), _) => Line::StaticName(i as u64, f, sensitive),
                (_, Some(abs)) if self.table.get(abs).is_some() => {
                    referenced(abs, &mut ric, &mut min_ref);
                    Line::DynamicName(abs, f, sensitive)
                }
                _ => Line::Literal(f, sensitive),
            });
        }
        // The prefix (§4.5.1), then the lines against `base`.
        if ric == 0 {
            out.extend_from_slice(&[0, 0]);
        } else {
            put_int(out, 0, 8, ric % (2 * self.max_entries).max(1) + 1);
            if base >= ric {
                put_int(out, 0, 7, base - ric);
            } else {
                put_int(out, 0x80, 7, ric - base - 1);
            }
        }
        for line in lines {
            write_line(out, line, base);
        }
        if ric > 0 {
            self.sections
                .entry(stream_id)
                .or_default()
                .push_back(Section { ric, min_ref });
            *self.pinned.entry(min_ref).or_default() += 1;
            self.unacked += 1;
        }
        Ok(())
    }

    fn unpin(&mut self, s: Section) {
        if let Some(n) = self.pinned.get_mut(&s.min_ref) {
            *n -= 1;
            if *n == 0 {
                self.pinned.remove(&s.min_ref);
            }
        }
        self.unacked -= 1;
    }

    pub(super) fn on_decoder_stream(&mut self, bytes: &[u8]) -> Result<(), QpackError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut pending = std::mem::take(&mut self.input);
        pending.extend_from_slice(bytes);
        let mut r = Reader::new(&pending);
        let mut result = Ok(());
        while !r.is_empty() {
            let start = r.pos();
            match self.instruction(&mut r) {
                Ok(()) => {}
                Err(Stop::Read(ReadError::Incomplete)) => {
                    self.input = pending.get(start..).unwrap_or_default().to_vec();
                    break;
                }
                Err(Stop::Read(e)) => {
                    result = Err(QpackError::DecoderStream(e.reason()));
                    break;
                }
                Err(Stop::Invalid(e)) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if let Err(e) = &result {
            self.failed = Some(e.clone());
            self.input = Vec::new();
        }
        result
    }

    /// One decoder instruction (§4.4).
    fn instruction(&mut self, r: &mut Reader<'_>) -> Result<(), Stop> {
        let first = r.peek()?;
        if first & 0x80 != 0 {
            // Section Acknowledgment.
            let id = r.int(7)?;
            let Some(s) = self.sections.get_mut(&id).and_then(|q| q.pop_front()) else {
                return Err(Stop::Invalid(QpackError::DecoderStream(
                    "Section Acknowledgment for a stream with no unacknowledged section",
                )));
            };
            if self.sections.get(&id).is_some_and(|q| q.is_empty()) {
                self.sections.remove(&id);
            }
            self.known_received = self.known_received.max(s.ric);
            self.unpin(s);
        } else if first & 0x40 != 0 {
            // Stream Cancellation.
            let id = r.int(6)?;
            for s in self.sections.remove(&id).unwrap_or_default() {
                self.unpin(s);
            }
        } else {
            // Insert Count Increment.
            let inc = r.int(6)?;
            let new = self.known_received.saturating_add(inc);
            if inc == 0 || new > self.table.insert_count() {
                return Err(Stop::Invalid(QpackError::DecoderStream(
                    "Insert Count Increment of zero or beyond the Insert Count",
                )));
            }
            self.known_received = new;
        }
        Ok(())
    }
}

/// Why parsing a decoder instruction stopped.
enum Stop {
    Read(ReadError),
    Invalid(QpackError),
}

impl From<ReadError> for Stop {
    fn from(e: ReadError) -> Self {
        Stop::Read(e)
    }
}

/// Notes a reference to `abs` in the section's Required Insert Count and
/// smallest reference.
fn referenced(abs: u64, ric: &mut u64, min_ref: &mut u64) {
    *ric = (*ric).max(abs + 1);
    *min_ref = (*min_ref).min(abs);
}

/// Writes one field line relative to `base` (§4.5.2-§4.5.6).
fn write_line(out: &mut Vec<u8>, line: Line<'_>, base: u64) {
    let n_bit = |s: bool| if s { 0x20 } else { 0 };
    match line {
        Line::Static(i) => put_int(out, 0xc0, 6, i),
        Line::Dynamic(abs) if abs < base => put_int(out, 0x80, 6, base - abs - 1),
        Line::Dynamic(abs) => put_int(out, 0x10, 4, abs - base),
        Line::StaticName(i, f, s) => {
            put_int(out, 0x50 | n_bit(s), 4, i);
            put_str(out, 0, 7, &f.value);
        }
        Line::DynamicName(abs, f, s) if abs < base => {
            put_int(out, 0x40 | n_bit(s), 4, base - abs - 1);
            put_str(out, 0, 7, &f.value);
        }
        Line::DynamicName(abs, f, s) => {
            put_int(out, if s { 0x08 } else { 0 }, 3, abs - base);
            put_str(out, 0, 7, &f.value);
        }
        Line::Literal(f, s) => {
            put_str(out, 0x20 | if s { 0x10 } else { 0 }, 3, &f.name);
            put_str(out, 0, 7, &f.value);
        }
    }
}
