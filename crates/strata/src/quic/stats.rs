//! Capabilities a QUIC connection answers.

/// The peer's certificate chain (DER, end entity first), as a capability.
///
/// ```
/// use strata::quic::PeerCertificates;
/// let p = PeerCertificates(vec![vec![0x30]]);
/// assert_eq!(p.end_entity(), Some(&[0x30][..]));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerCertificates(
    /// The certificates, DER-encoded, the end entity first.
    pub Vec<Vec<u8>>,
);

impl PeerCertificates {
    /// The peer's own certificate.
    ///
    /// ```
    /// use strata::quic::PeerCertificates;
    /// let chain = PeerCertificates(vec![b"leaf".to_vec(), b"intermediate".to_vec()]);
    /// assert_eq!(chain.end_entity(), Some(&b"leaf"[..]));
    /// assert_eq!(PeerCertificates::default().end_entity(), None); // a client sent none
    /// ```
    pub fn end_entity(&self) -> Option<&[u8]> {
        self.0.first().map(Vec::as_slice)
    }
}

/// The path's state, from quinn-proto's statistics, as a capability
/// (refreshed before every call into the app): the core's
/// [`stats::PathStats`](crate::stats::PathStats), which the reliable mapping
/// answers too.
///
/// ```
/// use strata::quic::PathStats;
/// let s = PathStats::default();
/// assert_eq!(s.lost_packets, 0);
/// ```
pub use crate::stats::PathStats;

impl PathStats {
    pub(crate) fn of(c: &quinn_proto::Connection) -> PathStats {
        let s = c.stats();
        PathStats {
            rtt: c.rtt(),
            cwnd: s.path.cwnd,
            lost_packets: s.path.lost_packets,
            sent_packets: s.path.sent_packets,
        }
    }
}

/// The watermarks of a stream's write queue, as the connection offers them
/// to apps such as [`PerStream`](super::PerStream) (from
/// [`QuicConfig::high_water`](super::QuicConfig::high_water) and `low_water`).
///
/// ```
/// use strata::quic::StreamBuffer;
/// assert!(StreamBuffer::default().low_water < StreamBuffer::default().high_water);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamBuffer {
    /// `pause_writing` at or over this many queued bytes.
    pub high_water: usize,
    /// `resume_writing` at or under this many.
    pub low_water: usize,
}

impl Default for StreamBuffer {
    fn default() -> Self {
        StreamBuffer {
            high_water: super::config::DEFAULT_HIGH_WATER,
            low_water: super::config::DEFAULT_LOW_WATER,
        }
    }
}
