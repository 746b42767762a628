//! The decoder: the peer's encoder stream in, field sections decoded,
//! acknowledgments out (RFC 9204 §2.2, §4.3, §4.4, §4.5).

use std::collections::HashMap;

use bytes::Bytes;

use super::static_table::STATIC;
use super::table::DynamicTable;
use super::wire::{put_int, ReadError, Reader};
use super::{Decoded, HeaderField, QpackError};

/// The decoder's state; [`super::QpackDecoder`] is its public face.
#[derive(Debug)]
pub(super) struct Decoder {
    /// Our SETTINGS_QPACK_MAX_TABLE_CAPACITY.
    max_capacity: usize,
    /// `max_capacity / 32`, for Required Insert Count (§4.5.1.1).
    max_entries: u64,
    max_blocked: usize,
    max_section: usize,
    table: DynamicTable,
    /// The Insert Count the encoder knows we reached (acknowledged by
    /// Section Acknowledgments and Insert Count Increments).
    acked: u64,
    /// Streams with a blocked section, and its Required Insert Count.
    blocked: HashMap<u64, u64>,
    /// Unparsed encoder-stream bytes (one partial instruction at most).
    input: Vec<u8>,
    /// An encoder-stream error is fatal: it keeps being returned.
    failed: Option<QpackError>,
}

/// One instruction of the encoder stream (§4.3).
enum Instruction {
    SetCapacity(u64),
    InsertStaticName(u64, Bytes),
    InsertDynamicName(u64, Bytes),
    InsertLiteral(Bytes, Bytes),
    Duplicate(u64),
}

impl Decoder {
    pub(super) fn new(max_capacity: usize, max_blocked: usize, max_section: usize) -> Self {
        Decoder {
            max_capacity,
            max_entries: (max_capacity / 32) as u64,
            max_blocked,
            max_section,
            table: DynamicTable::default(),
            acked: 0,
            blocked: HashMap::new(),
            input: Vec::new(),
            failed: None,
        }
    }

    pub(super) fn insert_count(&self) -> u64 {
        self.table.insert_count()
    }

    #[cfg(test)]
    pub(super) fn table(&self) -> &DynamicTable {
        &self.table
    }

    pub(super) fn buffered(&self) -> usize {
        self.input.len()
    }

    pub(super) fn on_encoder_stream(&mut self, bytes: &[u8]) -> Result<Vec<u64>, QpackError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let before = self.table.insert_count();
        let result = self.feed(bytes);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
            self.input = Vec::new();
            return Err(e.clone());
        }
        let mut ready = Vec::new();
        if self.table.insert_count() > before {
            let now = self.table.insert_count();
            self.blocked.retain(|&id, &mut ric| {
                if ric <= now {
                    ready.push(id);
                    false
                } else {
                    true
                }
            });
            ready.sort_unstable();
        }
        Ok(ready)
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), QpackError> {
        // Parse straight from `bytes` when nothing is pending (the common
        // case), else from the pending buffer with `bytes` appended.
        let mut pending = std::mem::take(&mut self.input);
        let src: &[u8] = if pending.is_empty() {
            bytes
        } else {
            pending.extend_from_slice(bytes);
            &pending
        };
        let mut r = Reader::new(src);
        loop {
            if r.is_empty() {
                break;
            }
            let start = r.pos();
            match self.instruction(&mut r) {
                Ok(ins) => self.apply(ins)?,
                Err(ReadError::Incomplete) => {
                    let rest = src.get(start..).unwrap_or_default().to_vec();
                    self.input = rest;
                    return Ok(());
                }
                Err(e) => return Err(QpackError::EncoderStream(e.reason())),
            }
        }
        Ok(())
    }

    /// The longest string on the wire an insert can carry: the entry must
    /// fit the capacity, and Huffman codes are at most 30 bits (3.75 bytes
    /// per decoded byte).
    fn max_wire_string(&self) -> usize {
        self.table.capacity().saturating_mul(4)
    }

    fn instruction(&self, r: &mut Reader<'_>) -> Result<Instruction, ReadError> {
        let first = r.peek()?;
        let max = self.max_wire_string();
        Ok(if first & 0x80 != 0 {
            let index = r.int(6)?;
            let value = r.string(7, max)?;
            if first & 0x40 != 0 {
                Instruction::InsertStaticName(index, value)
            } else {
                Instruction::InsertDynamicName(index, value)
            }
        } else if first & 0x40 != 0 {
            let name = r.string(5, max)?;
            let value = r.string(7, max)?;
            Instruction::InsertLiteral(name, value)
        } else if first & 0x20 != 0 {
            Instruction::SetCapacity(r.int(5)?)
        } else {
            Instruction::Duplicate(r.int(5)?)
        })
    }

    fn apply(&mut self, ins: Instruction) -> Result<(), QpackError> {
        let field = match ins {
            Instruction::SetCapacity(c) => {
                let c = usize::try_from(c).unwrap_or(usize::MAX);
                if c > self.max_capacity {
                    return Err(QpackError::EncoderStream(
                        "Set Dynamic Table Capacity above our maximum",
                    ));
                }
                self.table.set_capacity(c);
                return Ok(());
            }
            Instruction::InsertStaticName(i, value) => {
                let Some(&(name, _)) = usize::try_from(i).ok().and_then(|i| STATIC.get(i)) else {
                    return Err(QpackError::EncoderStream("static index out of range"));
                };
                HeaderField::new(Bytes::from_static(name), value)
            }
            Instruction::InsertDynamicName(rel, value) => {
                let name = self.relative(rel)?.name.clone();
                HeaderField::new(name, value)
            }
            Instruction::InsertLiteral(name, value) => HeaderField::new(name, value),
            Instruction::Duplicate(rel) => self.relative(rel)?.clone(),
        };
        if field.size() > self.table.capacity() {
            return Err(QpackError::EncoderStream(
                "entry larger than the dynamic table capacity",
            ));
        }
        self.table.insert(field);
        Ok(())
    }

    /// An entry by an encoder-stream relative index (§3.2.5).
    fn relative(&self, rel: u64) -> Result<&HeaderField, QpackError> {
        self.table
            .insert_count()
            .checked_sub(rel)
            .and_then(|n| n.checked_sub(1))
            .and_then(|abs| self.table.get(abs))
            .ok_or(QpackError::EncoderStream("dynamic index not in the table"))
    }

    /// Required Insert Count from its encoding (§4.5.1.1).
    pub(super) fn required_insert_count(&self, encoded: u64) -> Result<u64, QpackError> {
        if encoded == 0 {
            return Ok(0);
        }
        let bad = QpackError::DecompressionFailed("invalid Required Insert Count");
        let full_range = 2 * self.max_entries;
        if encoded > full_range {
            return Err(bad);
        }
        let max_value = self.table.insert_count() + self.max_entries;
        let max_wrapped = max_value / full_range * full_range;
        let mut ric = max_wrapped + encoded - 1;
        if ric > max_value {
            if ric <= full_range {
                return Err(bad);
            }
            ric -= full_range;
        }
        if ric == 0 {
            return Err(bad);
        }
        Ok(ric)
    }

    pub(super) fn decode(
        &mut self,
        stream_id: u64,
        section: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Decoded, QpackError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let truncated = |e: ReadError| QpackError::DecompressionFailed(e.reason());
        let mut r = Reader::new(section);
        let ric = self.required_insert_count(r.int(8).map_err(truncated)?)?;
        let sign = r.peek().map_err(truncated)? & 0x80 != 0;
        let delta = r.int(7).map_err(truncated)?;
        let base = if sign {
            ric.checked_sub(delta)
                .and_then(|b| b.checked_sub(1))
                .ok_or(QpackError::DecompressionFailed("negative Base"))?
        } else {
            ric.checked_add(delta)
                .ok_or(QpackError::DecompressionFailed("Base overflows"))?
        };
        if ric > self.table.insert_count() {
            if !self.blocked.contains_key(&stream_id) {
                if self.blocked.len() >= self.max_blocked {
                    return Err(QpackError::DecompressionFailed(
                        "more blocked streams than SETTINGS_QPACK_BLOCKED_STREAMS",
                    ));
                }
                self.blocked.insert(stream_id, ric);
            }
            return Ok(Decoded::Blocked);
        }
        self.blocked.remove(&stream_id);
        let lines = Lines {
            table: &self.table,
            ric,
            base,
            max_section: self.max_section,
        };
        let fields = lines.decode(r)?;
        if ric > 0 {
            put_int(out, 0x80, 7, stream_id);
            self.acked = self.acked.max(ric);
        }
        self.acknowledge_inserts(out);
        match fields {
            Some(fields) => Ok(Decoded::Fields(fields)),
            None => Err(QpackError::FieldSectionTooLarge {
                limit: self.max_section,
            }),
        }
    }

    /// Insert Count Increment for inserts not yet acknowledged (§4.4.3).
    pub(super) fn acknowledge_inserts(&mut self, out: &mut Vec<u8>) {
        let count = self.table.insert_count();
        if count > self.acked {
            put_int(out, 0x00, 6, count - self.acked);
            self.acked = count;
        }
    }

    pub(super) fn cancel_stream(&mut self, stream_id: u64, out: &mut Vec<u8>) {
        self.blocked.remove(&stream_id);
        // §4.4.2: a decoder whose maximum capacity is 0 may omit it.
        if self.max_capacity > 0 {
            put_int(out, 0x40, 6, stream_id);
        }
    }
}

/// The field lines of one section, decoded against the table.
struct Lines<'a> {
    table: &'a DynamicTable,
    ric: u64,
    base: u64,
    max_section: usize,
}

impl Lines<'_> {
    /// The fields, or `None` when they add up to more than `max_section`
    /// (the whole section is still checked, so errors are found).
    fn decode(&self, mut r: Reader<'_>) -> Result<Option<Vec<HeaderField>>, QpackError> {
        let bad = |e: ReadError| QpackError::DecompressionFailed(e.reason());
        let mut fields = Vec::new();
        let mut total = 0usize;
        let mut largest_ref = None::<u64>;
        // Literal strings are bounded by what is left of the section.
        let max = usize::MAX;
        while !r.is_empty() {
            let first = r.peek().map_err(bad)?;
            let field = if first & 0x80 != 0 {
                // Indexed Field Line (§4.5.2).
                let i = r.int(6).map_err(bad)?;
                if first & 0x40 != 0 {
                    static_field(i)?
                } else {
                    self.dynamic(self.relative(i)?, &mut largest_ref)?.clone()
                }
            } else if first & 0x40 != 0 {
                // Literal Field Line with Name Reference (§4.5.4).
                let i = r.int(4).map_err(bad)?;
                let name = if first & 0x10 != 0 {
                    static_field(i)?.name
                } else {
                    self.dynamic(self.relative(i)?, &mut largest_ref)?
                        .name
                        .clone()
                };
                HeaderField::new(name, r.string(7, max).map_err(bad)?)
            } else if first & 0x20 != 0 {
                // Literal Field Line with Literal Name (§4.5.6).
                let name = r.string(3, max).map_err(bad)?;
                HeaderField::new(name, r.string(7, max).map_err(bad)?)
            } else if first & 0x10 != 0 {
                // Indexed Field Line with Post-Base Index (§4.5.3).
                let i = r.int(4).map_err(bad)?;
                self.dynamic(self.post_base(i)?, &mut largest_ref)?.clone()
            } else {
                // Literal Field Line with Post-Base Name Reference (§4.5.5).
                let i = r.int(3).map_err(bad)?;
                let name = self
                    .dynamic(self.post_base(i)?, &mut largest_ref)?
                    .name
                    .clone();
                HeaderField::new(name, r.string(7, max).map_err(bad)?)
            };
            total = total.saturating_add(field.size());
            if total <= self.max_section {
                fields.push(field);
            }
        }
        // §2.2.2 leaves a Required Insert Count above what the section
        // needs to the decoder: we refuse it, as a peer that sends one
        // makes us hold sections back for nothing.
        if self.ric > 0 && largest_ref.map(|a| a + 1) != Some(self.ric) {
            return Err(QpackError::DecompressionFailed(
                "Required Insert Count larger than the section references need",
            ));
        }
        Ok((total <= self.max_section).then_some(fields))
    }

    fn relative(&self, i: u64) -> Result<u64, QpackError> {
        self.base
            .checked_sub(i)
            .and_then(|a| a.checked_sub(1))
            .ok_or(QpackError::DecompressionFailed("relative index below zero"))
    }

    fn post_base(&self, i: u64) -> Result<u64, QpackError> {
        self.base
            .checked_add(i)
            .ok_or(QpackError::DecompressionFailed("post-base index overflows"))
    }

    /// The dynamic entry at `abs`, checked against the Required Insert
    /// Count and eviction (§2.2.3).
    fn dynamic(&self, abs: u64, largest: &mut Option<u64>) -> Result<&HeaderField, QpackError> {
        if abs >= self.ric {
            return Err(QpackError::DecompressionFailed(
                "reference at or above the Required Insert Count",
            ));
        }
        let e = self.table.get(abs).ok_or(QpackError::DecompressionFailed(
            "reference to an evicted entry",
        ))?;
        *largest = Some(largest.map_or(abs, |l| l.max(abs)));
        Ok(e)
    }
}

fn static_field(i: u64) -> Result<HeaderField, QpackError> {
    let &(name, value) = usize::try_from(i)
        .ok()
        .and_then(|i| STATIC.get(i))
        .ok_or(QpackError::DecompressionFailed("static index out of range"))?;
    Ok(HeaderField::new(
        Bytes::from_static(name),
        Bytes::from_static(value),
    ))
}
