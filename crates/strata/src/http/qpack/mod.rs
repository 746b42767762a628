//! QPACK, the field compression of HTTP/3 (RFC 9204), sans-IO.
//!
//! * [`QpackEncoder`] encodes field sections for our request streams and
//!   writes its table instructions to our encoder stream.
//! * [`QpackDecoder`] decodes the peer's field sections, reads the peer's
//!   encoder stream and writes acknowledgments to our decoder stream.
//!
//! Both sides share HPACK's Huffman code ([`crate::http::hpack::huffman`]).
//! The caller (the HTTP/3 connection) owns every buffer: bytes for the
//! unidirectional streams are appended to `Vec<u8>`s it passes in, and
//! bytes that arrive on them are passed in, split anywhere.
//!
//! ```
//! use bytes::Bytes;
//! use strata::http::qpack::{Decoded, HeaderField, QpackDecoder, QpackEncoder};
//!
//! let fields = vec![
//!     HeaderField::new(":method", "GET"),
//!     HeaderField::new(":authority", "example.com"),
//! ];
//! let mut enc = QpackEncoder::new(4096);
//! let mut dec = QpackDecoder::new(4096, 16, 64 * 1024);
//! let (mut enc_stream, mut dec_stream) = (Vec::new(), Vec::new());
//! enc.set_peer_settings(4096, 16, &mut enc_stream);
//!
//! let mut section = Vec::new();
//! enc.encode(0, &fields, &mut section, &mut enc_stream)?;
//! dec.on_encoder_stream(&enc_stream)?;
//! match dec.decode(0, &section, &mut dec_stream)? {
//!     Decoded::Fields(got) => assert_eq!(got, fields),
//!     Decoded::Blocked => unreachable!("the encoder stream came first"),
//! }
//! enc.on_decoder_stream(&dec_stream)?;
//! # Ok::<(), strata::http::qpack::QpackError>(())
//! ```

use bytes::Bytes;

use crate::{Fault, LayerError};

mod decoder;
mod encoder;
mod static_table;
mod table;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;
mod wire;

/// A suggested SETTINGS_QPACK_MAX_TABLE_CAPACITY (4096 bytes, HPACK's
/// default table size): what an HTTP/3 endpoint offers and uses unless
/// configured otherwise.
pub const DEFAULT_MAX_TABLE_CAPACITY: usize = 4096;

/// A suggested SETTINGS_QPACK_BLOCKED_STREAMS (16): how many streams may
/// wait for encoder-stream inserts at once.
pub const DEFAULT_BLOCKED_STREAMS: usize = 16;

/// The most field sections that reference the dynamic table an encoder
/// keeps track of while the peer has not acknowledged them (1024). Beyond
/// it new sections use the static table and literals only, so a peer that
/// never acknowledges costs bounded memory.
pub const MAX_UNACKED_SECTIONS: usize = 1024;

/// One field line: a name and a value, as bytes.
///
/// ```
/// use strata::http::qpack::HeaderField;
/// let f = HeaderField::new("user-agent", "strata");
/// assert_eq!(f.size(), 10 + 6 + 32);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HeaderField {
    /// The field name (lower case in HTTP/3).
    pub name: Bytes,
    /// The field value.
    pub value: Bytes,
}

impl HeaderField {
    /// A field from anything that converts into [`Bytes`].
    ///
    /// ```
    /// use strata::http::qpack::HeaderField;
    /// let f = HeaderField::new(":status", String::from("200"));
    /// assert_eq!((&f.name[..], &f.value[..]), (&b":status"[..], &b"200"[..]));
    /// ```
    pub fn new(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        HeaderField {
            name: name.into(),
            value: value.into(),
        }
    }

    /// Its size as RFC 9204 §3.2.1 and RFC 9114 §4.2.2 count it: name and
    /// value lengths plus 32.
    ///
    /// ```
    /// use strata::http::qpack::HeaderField;
    /// assert_eq!(HeaderField::new("a", "bc").size(), 1 + 2 + 32);
    /// ```
    pub fn size(&self) -> usize {
        self.name.len() + self.value.len() + 32
    }
}

/// The errors of RFC 9204 §6, each a connection error with its code.
///
/// ```
/// use strata::http::qpack::QpackError;
/// use strata::{Fault, LayerError};
/// let e = QpackError::EncoderStream("insert beyond the table capacity");
/// assert_eq!(e.code(), 0x0201);
/// assert_eq!(e.kind(), Fault::PeerMisbehaved);
/// ```
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum QpackError {
    /// QPACK_DECOMPRESSION_FAILED (0x0200): a field section could not be
    /// decoded.
    #[error("QPACK_DECOMPRESSION_FAILED: {0}")]
    DecompressionFailed(&'static str),
    /// QPACK_ENCODER_STREAM_ERROR (0x0201): bad input on the peer's encoder
    /// stream.
    #[error("QPACK_ENCODER_STREAM_ERROR: {0}")]
    EncoderStream(&'static str),
    /// QPACK_DECODER_STREAM_ERROR (0x0202): bad input on the peer's decoder
    /// stream.
    #[error("QPACK_DECODER_STREAM_ERROR: {0}")]
    DecoderStream(&'static str),
    /// The decoded section is larger than the decoder's
    /// `max_field_section_size` (SETTINGS_MAX_FIELD_SECTION_SIZE, RFC 9114
    /// §4.2.2). Not a QPACK error: the section was decoded to its end, the
    /// table is in step and the section acknowledged, so only the message
    /// fails (a server answers 431; [`code`](QpackError::code) gives
    /// H3_EXCESSIVE_LOAD for a stream reset).
    #[error("field section larger than {limit} bytes")]
    FieldSectionTooLarge {
        /// The decoder's `max_field_section_size`.
        limit: usize,
    },
}

impl QpackError {
    /// The RFC 9204 §6 error code, for CONNECTION_CLOSE (for
    /// [`FieldSectionTooLarge`](QpackError::FieldSectionTooLarge), a stream
    /// error, RFC 9114's H3_EXCESSIVE_LOAD, 0x0107).
    ///
    /// ```
    /// use strata::http::qpack::QpackError;
    /// assert_eq!(QpackError::DecompressionFailed("x").code(), 0x0200);
    /// assert_eq!(QpackError::DecoderStream("x").code(), 0x0202);
    /// ```
    pub fn code(&self) -> u64 {
        match self {
            QpackError::DecompressionFailed(_) => 0x0200,
            QpackError::EncoderStream(_) => 0x0201,
            QpackError::DecoderStream(_) => 0x0202,
            QpackError::FieldSectionTooLarge { .. } => 0x0107,
        }
    }
}

impl LayerError for QpackError {
    fn kind(&self) -> Fault {
        match self {
            QpackError::FieldSectionTooLarge { .. } => Fault::LocalLimit,
            _ => Fault::PeerMisbehaved,
        }
    }
}

/// QPACK's encoder: one per HTTP/3 connection, for the field sections we
/// send.
///
/// Call [`set_peer_settings`](QpackEncoder::set_peer_settings) once the
/// peer's SETTINGS arrive (until then only the static table and literals
/// are used), [`encode`](QpackEncoder::encode) for each HEADERS frame, and
/// [`on_decoder_stream`](QpackEncoder::on_decoder_stream) with whatever
/// arrives on the peer's decoder stream. Whatever lands in `encoder_stream`
/// must be sent on our encoder stream, before or with the section.
///
/// Memory is bounded by the table capacity (at most `max_capacity`) and by
/// [`MAX_UNACKED_SECTIONS`].
///
/// ```
/// use strata::http::qpack::{HeaderField, QpackEncoder};
///
/// let mut enc = QpackEncoder::new(0); // static table and literals only
/// let (mut section, mut enc_stream) = (Vec::new(), Vec::new());
/// enc.encode(0, &[HeaderField::new(":method", "GET")], &mut section, &mut enc_stream)?;
/// assert_eq!(section, [0x00, 0x00, 0xd1]); // RIC 0, Base 0, static index 17
/// assert!(enc_stream.is_empty());
/// # Ok::<(), strata::http::qpack::QpackError>(())
/// ```
#[derive(Debug)]
pub struct QpackEncoder {
    inner: encoder::Encoder,
}

impl QpackEncoder {
    /// `max_capacity`: the most dynamic-table capacity we will use (0:
    /// static table and literals only).
    ///
    /// ```
    /// use strata::http::qpack::{HeaderField, QpackEncoder};
    /// let field = [HeaderField::new("x-trace", "4bf92f3577b34da6")];
    /// let mut enc_stream = Vec::new();
    /// // Without a table every section spells the field out.
    /// let mut plain = QpackEncoder::new(0);
    /// plain.set_peer_settings(4096, 16, &mut enc_stream);
    /// assert!(enc_stream.is_empty(), "no table: nothing on the encoder stream");
    /// // With one, the field is inserted once, then referenced.
    /// let mut table = QpackEncoder::new(4096);
    /// table.set_peer_settings(4096, 16, &mut enc_stream);
    /// let (mut first, mut second) = (Vec::new(), Vec::new());
    /// table.encode(0, &field, &mut first, &mut enc_stream)?;
    /// table.encode(4, &field, &mut second, &mut enc_stream)?;
    /// assert_eq!(table.insert_count(), 1);
    /// assert!(second.len() < 8, "a reference, not the 23 bytes of the field");
    /// # Ok::<(), strata::http::qpack::QpackError>(())
    /// ```
    pub fn new(max_capacity: usize) -> Self {
        QpackEncoder {
            inner: encoder::Encoder::new(max_capacity),
        }
    }

    /// The peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY and
    /// SETTINGS_QPACK_BLOCKED_STREAMS. Writes Set Dynamic Table Capacity to
    /// `encoder_stream` when a table will be used. Only the first call
    /// counts (SETTINGS come once).
    ///
    /// ```
    /// use strata::http::qpack::QpackEncoder;
    /// let mut enc = QpackEncoder::new(4096);
    /// let mut enc_stream = Vec::new();
    /// enc.set_peer_settings(220, 0, &mut enc_stream);
    /// assert_eq!(enc_stream, [0x3f, 0xbd, 0x01]); // capacity 220
    /// ```
    pub fn set_peer_settings(
        &mut self,
        max_table_capacity: u64,
        blocked_streams: u64,
        encoder_stream: &mut Vec<u8>,
    ) {
        self.inner
            .set_peer_settings(max_table_capacity, blocked_streams, encoder_stream);
    }

    /// Encodes one field section for `stream_id` into `out`; instructions
    /// for the peer's decoder go to `encoder_stream` (our encoder stream).
    ///
    /// ```
    /// use strata::http::qpack::{HeaderField, QpackEncoder};
    /// let mut enc = QpackEncoder::new(4096);
    /// let (mut section, mut enc_stream) = (Vec::new(), Vec::new());
    /// enc.set_peer_settings(4096, 16, &mut enc_stream);
    /// let host = [HeaderField::new(":authority", "example.com")];
    /// enc.encode(0, &host, &mut section, &mut enc_stream)?;
    /// // Inserted and referenced: the section is three bytes.
    /// assert_eq!(section.len(), 3);
    /// # Ok::<(), strata::http::qpack::QpackError>(())
    /// ```
    pub fn encode(
        &mut self,
        stream_id: u64,
        fields: &[HeaderField],
        out: &mut Vec<u8>,
        encoder_stream: &mut Vec<u8>,
    ) -> Result<(), QpackError> {
        self.inner.encode(stream_id, fields, out, encoder_stream)
    }

    /// Bytes that arrived on the peer's decoder stream (any split). An
    /// error is a QPACK_DECODER_STREAM_ERROR and is returned again by every
    /// later call.
    ///
    /// ```
    /// use strata::http::qpack::{QpackEncoder, QpackError};
    /// let mut enc = QpackEncoder::new(4096);
    /// // An Insert Count Increment when nothing was inserted.
    /// let err = enc.on_decoder_stream(&[0x01]).unwrap_err();
    /// assert_eq!(err.code(), 0x0202);
    /// ```
    pub fn on_decoder_stream(&mut self, bytes: &[u8]) -> Result<(), QpackError> {
        self.inner.on_decoder_stream(bytes)
    }

    /// The dynamic table capacity in use (0 until the peer's settings, or
    /// when either side allows none).
    ///
    /// ```
    /// let enc = strata::http::qpack::QpackEncoder::new(4096);
    /// assert_eq!(enc.capacity(), 0);
    /// ```
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// Entries inserted so far (the Insert Count).
    ///
    /// ```
    /// let enc = strata::http::qpack::QpackEncoder::new(4096);
    /// assert_eq!(enc.insert_count(), 0);
    /// ```
    pub fn insert_count(&self) -> u64 {
        self.inner.insert_count()
    }

    /// Entries the peer's decoder is known to hold (the Known Received
    /// Count, §2.1.4).
    ///
    /// ```
    /// let enc = strata::http::qpack::QpackEncoder::new(4096);
    /// assert_eq!(enc.known_received_count(), 0);
    /// ```
    pub fn known_received_count(&self) -> u64 {
        self.inner.known_received()
    }

    /// Sections that reference the table and are not yet acknowledged.
    ///
    /// ```
    /// let enc = strata::http::qpack::QpackEncoder::new(4096);
    /// assert_eq!(enc.unacked_sections(), 0);
    /// ```
    pub fn unacked_sections(&self) -> usize {
        self.inner.unacked_sections()
    }
}

/// What [`QpackDecoder::decode`] made of a field section.
#[derive(Clone, Debug, PartialEq, Eq)]
///
/// ```
/// use strata::http::qpack::{Decoded, HeaderField, QpackDecoder, QpackEncoder};
/// let field = [HeaderField::new("x-trace", "4bf92f3577b34da6")];
/// let (mut enc_stream, mut section, mut dec_stream) = (Vec::new(), Vec::new(), Vec::new());
/// let mut enc = QpackEncoder::new(4096);
/// enc.set_peer_settings(4096, 16, &mut enc_stream);
/// enc.encode(0, &field, &mut section, &mut enc_stream)?;
/// let mut dec = QpackDecoder::new(4096, 16, 16 << 10);
/// // The section refers to an entry whose insert has not arrived yet.
/// assert_eq!(dec.decode(0, &section, &mut dec_stream)?, Decoded::Blocked);
/// assert_eq!(dec.on_encoder_stream(&enc_stream)?, [0]); // stream 0 can go on
/// assert_eq!(dec.decode(0, &section, &mut dec_stream)?, Decoded::Fields(field.to_vec()));
/// # Ok::<(), strata::http::qpack::QpackError>(())
/// ```
pub enum Decoded {
    /// The section's fields, in order.
    Fields(Vec<HeaderField>),
    /// The section needs table entries not yet received: call `decode`
    /// again with the same section once [`QpackDecoder::on_encoder_stream`]
    /// names its stream.
    Blocked,
}

/// QPACK's decoder: one per HTTP/3 connection, for the field sections the
/// peer sends.
///
/// Feed it the peer's encoder stream with
/// [`on_encoder_stream`](QpackDecoder::on_encoder_stream), each HEADERS
/// frame's payload with [`decode`](QpackDecoder::decode), and tell it of a
/// reset or abandoned stream with
/// [`cancel_stream`](QpackDecoder::cancel_stream). Whatever lands in
/// `decoder_stream` must be sent on our decoder stream.
///
/// Memory is bounded by `max_table_capacity` (the table and, at most four
/// times it, one partial encoder instruction) and `max_blocked_streams`
/// (a blocked section is kept by the caller, not here).
///
/// ```
/// use strata::http::qpack::{Decoded, HeaderField, QpackDecoder};
///
/// let mut dec = QpackDecoder::new(4096, 16, 16 * 1024);
/// let mut dec_stream = Vec::new();
/// // RFC 9204 B.1: RIC 0, Base 0, `:path: /index.html` with a static name.
/// let section = b"\x00\x00\x51\x0b/index.html";
/// let got = dec.decode(0, section, &mut dec_stream)?;
/// assert_eq!(got, Decoded::Fields(vec![HeaderField::new(":path", "/index.html")]));
/// assert!(dec_stream.is_empty()); // no dynamic reference, no acknowledgment
/// # Ok::<(), strata::http::qpack::QpackError>(())
/// ```
#[derive(Debug)]
pub struct QpackDecoder {
    inner: decoder::Decoder,
}

impl QpackDecoder {
    /// Our SETTINGS_QPACK_MAX_TABLE_CAPACITY, SETTINGS_QPACK_BLOCKED_STREAMS,
    /// and the largest decoded field section (SETTINGS_MAX_FIELD_SECTION_SIZE,
    /// RFC 9114 §4.2.2 sizes).
    ///
    /// ```
    /// let dec = strata::http::qpack::QpackDecoder::new(0, 0, 16 * 1024);
    /// assert_eq!(dec.insert_count(), 0);
    /// ```
    pub fn new(
        max_table_capacity: usize,
        max_blocked_streams: usize,
        max_field_section_size: usize,
    ) -> Self {
        QpackDecoder {
            inner: decoder::Decoder::new(
                max_table_capacity,
                max_blocked_streams,
                max_field_section_size,
            ),
        }
    }

    /// Bytes that arrived on the peer's encoder stream (any split): the ids
    /// of streams whose blocked sections can now be decoded (call `decode`
    /// again). An error is a QPACK_ENCODER_STREAM_ERROR and is returned
    /// again by every later call. Call
    /// [`acknowledge_inserts`](QpackDecoder::acknowledge_inserts) after it
    /// so that the peer learns of the inserts without waiting for a section.
    ///
    /// ```
    /// use strata::http::qpack::QpackDecoder;
    /// let mut dec = QpackDecoder::new(100, 0, 1024);
    /// // Set Dynamic Table Capacity 220: above our 100.
    /// let err = dec.on_encoder_stream(&[0x3f, 0xbd, 0x01]).unwrap_err();
    /// assert_eq!(err.code(), 0x0201);
    /// ```
    pub fn on_encoder_stream(&mut self, bytes: &[u8]) -> Result<Vec<u64>, QpackError> {
        self.inner.on_encoder_stream(bytes)
    }

    /// Decodes one whole field section; acknowledgments go to
    /// `decoder_stream` (a Section Acknowledgment when it referenced the
    /// table, and an Insert Count Increment for inserts not yet
    /// acknowledged). Errors are QPACK_DECOMPRESSION_FAILED, except
    /// [`QpackError::FieldSectionTooLarge`], which fails only this message.
    ///
    /// ```
    /// use strata::http::qpack::QpackDecoder;
    /// let mut dec = QpackDecoder::new(4096, 16, 1024);
    /// // Indexed field line, static index 99: beyond the table.
    /// let err = dec.decode(0, &[0x00, 0x00, 0xff, 0x24], &mut Vec::new()).unwrap_err();
    /// assert_eq!(err.code(), 0x0200);
    /// ```
    pub fn decode(
        &mut self,
        stream_id: u64,
        section: &[u8],
        decoder_stream: &mut Vec<u8>,
    ) -> Result<Decoded, QpackError> {
        self.inner.decode(stream_id, section, decoder_stream)
    }

    /// A stream was reset or abandoned: Stream Cancellation (omitted when
    /// our maximum table capacity is 0, as §4.4.2 allows), and the stream
    /// no longer counts as blocked.
    ///
    /// ```
    /// let mut dec = strata::http::qpack::QpackDecoder::new(4096, 16, 1024);
    /// let mut dec_stream = Vec::new();
    /// dec.cancel_stream(8, &mut dec_stream);
    /// assert_eq!(dec_stream, [0x48]); // RFC 9204 B.4
    /// ```
    pub fn cancel_stream(&mut self, stream_id: u64, decoder_stream: &mut Vec<u8>) {
        self.inner.cancel_stream(stream_id, decoder_stream);
    }

    /// Writes an Insert Count Increment for entries inserted since the
    /// last acknowledgment, if any (§4.4.3). `decode` does it too; call
    /// this after [`on_encoder_stream`](QpackDecoder::on_encoder_stream) so
    /// an encoder that waits for acknowledged entries does not wait for
    /// the next section.
    ///
    /// ```
    /// use strata::http::qpack::QpackDecoder;
    /// let mut dec = QpackDecoder::new(4096, 16, 1024);
    /// // Capacity 220, then Insert With Literal Name custom-key: custom-value.
    /// dec.on_encoder_stream(b"\x3f\xbd\x01\x4acustom-key\x0ccustom-value")?;
    /// let mut dec_stream = Vec::new();
    /// dec.acknowledge_inserts(&mut dec_stream);
    /// assert_eq!(dec_stream, [0x01]);
    /// # Ok::<(), strata::http::qpack::QpackError>(())
    /// ```
    pub fn acknowledge_inserts(&mut self, decoder_stream: &mut Vec<u8>) {
        self.inner.acknowledge_inserts(decoder_stream);
    }

    /// Entries received so far (the Insert Count).
    ///
    /// ```
    /// let dec = strata::http::qpack::QpackDecoder::new(4096, 16, 1024);
    /// assert_eq!(dec.insert_count(), 0);
    /// ```
    pub fn insert_count(&self) -> u64 {
        self.inner.insert_count()
    }

    /// Bytes of a partial encoder instruction held until the rest arrives.
    ///
    /// ```
    /// let mut dec = strata::http::qpack::QpackDecoder::new(4096, 16, 1024);
    /// dec.on_encoder_stream(&[0x3f])?; // half an integer
    /// assert_eq!(dec.buffered(), 1);
    /// # Ok::<(), strata::http::qpack::QpackError>(())
    /// ```
    pub fn buffered(&self) -> usize {
        self.inner.buffered()
    }
}
