//! Framing layers: lines, and length-prefixed datagrams over a stream.
//!
//! * [`Lines`] splits a byte stream into delimited lines for a
//!   [`LineProtocol`] (text protocols: SMTP, IRC, Redis inline, line-based
//!   test peers).
//! * [`LengthPrefixed`] maps datagrams onto a stream: each datagram is one
//!   frame behind a big-endian length, so boundaries survive and nothing is
//!   ever lost. It is a stream protocol below and a datagram transport above.
//! * [`StreamOverFrames`] goes back the other way over a *reliable* datagram
//!   transport: each datagram carries a chunk of a byte stream. Over
//!   `LengthPrefixed` it makes a stream transport again.
//!
//! All three keep memory bounded by their configuration, never by the peer,
//! and end bad input with a typed [`Close`](crate::Close).

mod delimiter;
mod length;
mod lines;
mod lines_view;
mod stream_over_frames;

pub use delimiter::{Delimiter, EmptyDelimiter};
pub use length::{LengthConfig, LengthPrefixed, Prefix, DEFAULT_MAX_FRAME};
pub use lines::{send_line, LineProtocol, Lines, LinesConfig, DEFAULT_MAX_LINE};
pub use stream_over_frames::StreamOverFrames;
