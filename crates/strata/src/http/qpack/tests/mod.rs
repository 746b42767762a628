//! QPACK against RFC 9204, by concern: Appendix B byte for byte and every
//! instruction (`appendix_b`), round trips and Required Insert Count
//! wrap-around (`round_trip`), blocking and eviction (`blocking`), the
//! error codes of §6 (`errors`), and a seeded property test over random
//! connections (`property`). The helpers shared by all are here.

use super::*;

mod appendix_b;
mod blocking;
mod errors;
pub(super) mod property;
mod round_trip;

pub(super) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
        .collect()
}

pub(super) fn fields(list: &[(&str, &str)]) -> Vec<HeaderField> {
    list.iter()
        .map(|(n, v)| HeaderField::new(n.to_string(), v.to_string()))
        .collect()
}

pub(super) fn decoded(list: &[(&str, &str)]) -> Result<Decoded, QpackError> {
    Ok(Decoded::Fields(fields(list)))
}

pub(super) fn table_of(t: &table::DynamicTable) -> Vec<(u64, String, String)> {
    t.iter()
        .map(|(a, f)| {
            let s = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
            (a, s(&f.name), s(&f.value))
        })
        .collect()
}

/// An encoder and a decoder joined by their instruction streams.
pub(super) struct Pair {
    pub(super) enc: QpackEncoder,
    pub(super) dec: QpackDecoder,
}

impl Pair {
    pub(super) fn new(enc_cap: usize, dec_cap: usize, blocked: usize) -> (Self, Vec<u8>) {
        let mut es = Vec::new();
        let mut enc = QpackEncoder::new(enc_cap);
        enc.set_peer_settings(dec_cap as u64, blocked as u64, &mut es);
        let dec = QpackDecoder::new(dec_cap, blocked, 1 << 20);
        (Pair { enc, dec }, es)
    }

    /// Encodes, delivers the encoder stream first, decodes, and feeds the
    /// acknowledgments back: the section's bytes.
    pub(super) fn round_trip(&mut self, es: &mut Vec<u8>, id: u64, f: &[HeaderField]) -> Vec<u8> {
        let mut section = Vec::new();
        self.enc.encode(id, f, &mut section, es).unwrap();
        self.dec.on_encoder_stream(es).unwrap();
        es.clear();
        let mut ds = Vec::new();
        assert_eq!(
            self.dec.decode(id, &section, &mut ds),
            Ok(Decoded::Fields(f.to_vec()))
        );
        self.enc.on_decoder_stream(&ds).unwrap();
        section
    }
}

pub(super) fn request(path: &str) -> Vec<HeaderField> {
    fields(&[
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "www.example.com"),
        (":path", path),
        ("user-agent", "strata/0.1 (a sans-IO protocol framework)"),
        ("accept", "*/*"),
        ("x-custom", "some value that repeats on every request"),
        ("cookie", "short"),
        (
            "authorization",
            "Bearer abcdefghijklmnopqrstuvwxyz0123456789",
        ),
    ])
}
