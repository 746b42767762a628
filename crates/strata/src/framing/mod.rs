//! Framing layers: lines, and length-prefixed datagrams over a stream.
