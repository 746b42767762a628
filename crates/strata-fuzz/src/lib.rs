//! The bodies of strata's fuzz targets, shared by the cargo-fuzz binaries in
//! `fuzz_targets/` and by the seeded smoke test in `tests/smoke.rs` (which
//! runs on a stable toolchain, where libFuzzer cannot).
//!
//! Each target is *differential* where it can be: the layer's output is
//! checked against a naive reference model of the same wire format, fed the
//! same bytes in one piece, so a target catches wrong answers and not only
//! panics. Every target also checks that memory stays within the layer's
//! configured bound.

mod endpoint;
mod h1;
mod h2_frame;
mod h2_server;
mod h3_frames;
mod hpack;
mod http_server;
mod kcp_segment;
mod length;
mod lines;
mod proxy_header;
mod qlog_trace;
mod qpack;
mod reliable_conn;
mod reliable_listener;
mod reliable_wire;
mod stack;
mod tls;
mod ws;

pub use endpoint::endpoint;
pub use h1::h1_server;
pub use h2_frame::h2_frame;
pub use h2_server::h2_server;
pub use h3_frames::h3_frames;
pub use hpack::hpack_decode;
pub use http_server::http_server;
pub use kcp_segment::{kcp_segment, CONV as KCP_CONV};
pub use length::length_prefixed;
pub use lines::lines;
pub use proxy_header::proxy_header;
pub use qlog_trace::qlog_trace;
pub use qpack::qpack;
pub use reliable_conn::reliable_conn;
pub use reliable_listener::reliable_listener;
pub use reliable_wire::reliable_wire;
pub use stack::stack_lines;
pub use tls::tls_server;
pub use ws::ws_frame;

/// The largest chunk [`Chunks`] cuts.
pub const MAX_CHUNK: usize = 67;

/// Cuts a payload into chunks of pseudo-random sizes (1 to [`MAX_CHUNK`])
/// drawn from a seed byte; seed 0 cuts single bytes.
pub struct Chunks<'a> {
    rest: &'a [u8],
    state: u32,
}

impl<'a> Chunks<'a> {
    /// Chunks of `payload`, sized from `seed`.
    pub fn new(payload: &'a [u8], seed: u8) -> Self {
        Chunks {
            rest: payload,
            state: u32::from(seed),
        }
    }
}

impl<'a> Iterator for Chunks<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let n = if self.state == 0 {
            1
        } else {
            self.state = self.state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            1 + (self.state >> 16) as usize % MAX_CHUNK
        };
        let (chunk, rest) = self.rest.split_at(n.min(self.rest.len()));
        self.rest = rest;
        Some(chunk)
    }
}

/// Splits `data` into `N` control bytes (zero-padded) and the rest.
pub fn control<const N: usize>(data: &[u8]) -> ([u8; N], &[u8]) {
    let mut ctl = [0u8; N];
    let n = N.min(data.len());
    ctl[..n].copy_from_slice(&data[..n]);
    (ctl, &data[n..])
}
