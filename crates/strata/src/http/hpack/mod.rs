//! HPACK, the header compression of HTTP/2 (RFC 7541), sans-IO.
//!
//! * [`Decoder`] decodes header blocks as they arrive, fragment by fragment
//!   (HEADERS then CONTINUATION frames), under a header-list budget. Fields
//!   go to a callback as slices of the input, the table or a reused scratch
//!   buffer: the only allocation is one per dynamic-table insertion.
//! * [`Encoder`] encodes header blocks into a caller-owned buffer.
//! * [`huffman`] is the static Huffman code both use.
//!
//! Each HTTP/2 connection has one decoder (for the peer's blocks) and one
//! encoder (for ours); both keep a dynamic table that must see every block
//! of its direction, in order.
//!
//! ```
//! use strata::http::hpack::{Decoder, Encoder};
//!
//! let mut enc = Encoder::new();
//! let mut dec = Decoder::new(4096);
//! let fields: [(&[u8], &[u8], bool); 2] =
//!     [(b":method", b"GET", false), (b"cookie", b"id=1", false)];
//! let mut block = Vec::new();
//! enc.encode(fields, &mut block);
//!
//! dec.begin_block(16 * 1024);
//! let mut got = Vec::new();
//! dec.decode_fragment(&block, true, &mut |n, v, sensitive| {
//!     got.push((n.to_vec(), v.to_vec(), sensitive))
//! })?;
//! // A short cookie travels as a never-indexed literal.
//! assert_eq!(got[1], (b"cookie".to_vec(), b"id=1".to_vec(), true));
//! # Ok::<(), strata::http::hpack::HpackError>(())
//! ```

mod decoder;
mod encoder;
pub mod huffman;
mod huffman_codes;
mod table;
#[cfg(test)]
mod tests;

pub use decoder::Decoder;
pub use encoder::Encoder;

/// The header-list budget of a [`Decoder`] until
/// [`Decoder::begin_block`] sets another: 64 KiB, counted as RFC 9113
/// SETTINGS_MAX_HEADER_LIST_SIZE does.
pub const DEFAULT_MAX_HEADER_LIST_SIZE: usize = 64 * 1024;

/// The longest string a [`Decoder`] accepts at all (16 MiB), whatever the
/// budget: a declared length above it is a [`HpackError::StringTooLong`].
pub const MAX_STRING_LEN: usize = 16 * 1024 * 1024;

/// The largest dynamic table an [`Encoder`] keeps, whatever the peer
/// allows (4096, as nghttp2): larger tables buy little and cost memory
/// on every connection.
pub const MAX_ENCODER_TABLE_SIZE: usize = 4096;

/// A decoding error. Every variant is a COMPRESSION_ERROR at the connection
/// level and leaves the [`Decoder`] unusable, except
/// [`HeaderListTooLarge`](HpackError::HeaderListTooLarge), which the caller
/// may treat as a stream error (the dynamic table stays in sync).
///
/// All of them mean the peer misbehaved.
///
/// ```
/// use strata::http::hpack::{Decoder, HpackError};
///
/// let mut dec = Decoder::new(4096);
/// // An indexed field cut in the middle of its integer.
/// let err = dec.decode_fragment(&[0xff], true, &mut |_, _, _| {});
/// assert_eq!(err, Err(HpackError::Truncated));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HpackError {
    /// The block ended inside a representation.
    #[error("header block ends inside a field representation")]
    Truncated,
    /// An integer is longer than 5 continuation bytes or above 2^32 - 1.
    #[error("HPACK integer overflows")]
    IntegerOverflow,
    /// An index is 0 or beyond the static and dynamic tables.
    #[error("HPACK index {index} is not in the tables")]
    BadIndex {
        /// The index the peer sent.
        index: usize,
    },
    /// A Huffman string holds EOS, or its padding is longer than 7 bits or
    /// not all ones.
    #[error("invalid Huffman-coded string")]
    BadHuffman,
    /// A dynamic table size update came after a field in the block.
    #[error("dynamic table size update after the start of the header block")]
    TableSizeUpdateNotAtStart,
    /// A dynamic table size update above the SETTINGS_HEADER_TABLE_SIZE we
    /// advertise.
    #[error("dynamic table size update to {size} above our limit {limit}")]
    TableSizeOverLimit {
        /// The size the peer asked for.
        size: usize,
        /// Our limit.
        limit: usize,
    },
    /// We lowered SETTINGS_HEADER_TABLE_SIZE below the table's size, and the
    /// next block did not start with a size update that honours it (RFC
    /// 7541 §4.2).
    #[error("header block lacks the dynamic table size update a smaller limit requires")]
    MissingTableSizeUpdate,
    /// The decoded header list exceeds the block's budget. The block was
    /// decoded to its end and the table is in sync: a stream error.
    #[error("header list larger than {limit} bytes")]
    HeaderListTooLarge {
        /// The budget given to [`Decoder::begin_block`].
        limit: usize,
    },
    /// A string is declared longer than [`MAX_STRING_LEN`].
    #[error("HPACK string of {len} bytes exceeds {limit}")]
    StringTooLong {
        /// The declared length.
        len: usize,
        /// The limit.
        limit: usize,
    },
}
