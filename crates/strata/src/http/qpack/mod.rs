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
    pub fn new(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        HeaderField {
            name: name.into(),
            value: value.into(),
        }
    }

    /// Its size as RFC 9204 §3.2.1 and RFC 9114 §4.2.2 count it: name and
    /// value lengths plus 32.
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
}

impl QpackError {
    /// The RFC 9204 §6 error code, for CONNECTION_CLOSE.
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
        }
    }
}

impl LayerError for QpackError {
    fn kind(&self) -> Fault {
        Fault::PeerMisbehaved
    }
}

/// QPACK's encoder (one per HTTP/3 connection, for our field sections).
pub struct QpackEncoder {}

impl QpackEncoder {
    /// `max_capacity`: the most dynamic-table capacity we will use (0:
    /// static table and literals only).
    pub fn new(max_capacity: usize) -> Self {
        let _ = max_capacity;
        todo!()
    }

    /// The peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY and
    /// SETTINGS_QPACK_BLOCKED_STREAMS.
    pub fn set_peer_settings(
        &mut self,
        max_table_capacity: u64,
        blocked_streams: u64,
        encoder_stream: &mut Vec<u8>,
    ) {
        let _ = (max_table_capacity, blocked_streams, encoder_stream);
        todo!()
    }

    /// Encodes one field section for `stream_id` into `out`; instructions
    /// for the peer's decoder go to `encoder_stream` (our encoder stream).
    pub fn encode(
        &mut self,
        stream_id: u64,
        fields: &[HeaderField],
        out: &mut Vec<u8>,
        encoder_stream: &mut Vec<u8>,
    ) -> Result<(), QpackError> {
        let _ = (stream_id, fields, out, encoder_stream);
        todo!()
    }

    /// Bytes that arrived on the peer's decoder stream (any split).
    pub fn on_decoder_stream(&mut self, bytes: &[u8]) -> Result<(), QpackError> {
        let _ = bytes;
        todo!()
    }
}

/// What [`QpackDecoder::decode`] made of a field section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// The section's fields, in order.
    Fields(Vec<HeaderField>),
    /// The section needs table entries not yet received: call `decode`
    /// again with the same section once [`QpackDecoder::on_encoder_stream`]
    /// names its stream.
    Blocked,
}

/// QPACK's decoder (one per HTTP/3 connection, for the peer's sections).
pub struct QpackDecoder {}

impl QpackDecoder {
    /// Our SETTINGS_QPACK_MAX_TABLE_CAPACITY, SETTINGS_QPACK_BLOCKED_STREAMS,
    /// and the largest decoded field section (SETTINGS_MAX_FIELD_SECTION_SIZE,
    /// RFC 9114 §4.2.2 sizes).
    pub fn new(
        max_table_capacity: usize,
        max_blocked_streams: usize,
        max_field_section_size: usize,
    ) -> Self {
        let _ = (
            max_table_capacity,
            max_blocked_streams,
            max_field_section_size,
        );
        todo!()
    }

    /// Bytes that arrived on the peer's encoder stream (any split): the ids
    /// of streams whose blocked sections can now be decoded (call `decode`
    /// again).
    pub fn on_encoder_stream(&mut self, bytes: &[u8]) -> Result<Vec<u64>, QpackError> {
        let _ = bytes;
        todo!()
    }

    /// Decodes one whole field section; acknowledgments go to
    /// `decoder_stream`.
    pub fn decode(
        &mut self,
        stream_id: u64,
        section: &[u8],
        decoder_stream: &mut Vec<u8>,
    ) -> Result<Decoded, QpackError> {
        let _ = (stream_id, section, decoder_stream);
        todo!()
    }

    /// A stream was reset or abandoned: Stream Cancellation.
    pub fn cancel_stream(&mut self, stream_id: u64, decoder_stream: &mut Vec<u8>) {
        let _ = (stream_id, decoder_stream);
        todo!()
    }
}
