//! Delivery-rate estimation in the style of
//! draft-cheng-iccrg-delivery-rate-estimation: each sent packet remembers how
//! much had been delivered when it left; when it is acknowledged, the data
//! delivered since, over the longer of its send and ACK intervals, is a
//! bandwidth sample that cannot exceed the bottleneck rate.

use std::time::{Duration, Instant};

use super::bytes_per_sec;

/// What the connection stores with each sent packet: two counters, three
/// instants and a flag.
///
/// ```
/// use std::time::Instant;
/// use strata::reliable::cc::DeliveryRateSampler;
/// let mut s = DeliveryRateSampler::new();
/// let info = s.on_packet_sent(Instant::now(), 1200, 0);
/// assert_eq!(info.bytes, 1200);
/// assert_eq!(info.delivered, 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SentPacketInfo {
    /// When the packet was sent.
    pub sent_time: Instant,
    /// Its size in bytes.
    pub bytes: u64,
    /// Total bytes delivered (acknowledged) when it was sent.
    pub delivered: u64,
    /// When `delivered` last grew, as of sending.
    pub delivered_time: Instant,
    /// Send time of the packet acknowledged most recently, as of sending
    /// (the start of this sample's send interval).
    pub first_sent_time: Instant,
    /// Whether the sender was application-limited when it was sent.
    pub app_limited: bool,
}

/// One delivery-rate sample.
///
/// ```
/// use std::time::{Duration, Instant};
/// use strata::reliable::cc::DeliveryRateSampler;
/// let t0 = Instant::now();
/// let mut s = DeliveryRateSampler::new();
/// let a = s.on_packet_sent(t0, 1000, 0);
/// let b = s.on_packet_sent(t0, 1000, 1000);
/// s.on_packet_acked(t0 + Duration::from_millis(10), &a, None);
/// let acked = s.on_packet_acked(t0 + Duration::from_millis(11), &b, None);
/// let sample = acked.rate_sample.unwrap();
/// assert_eq!(sample.delivered, 2000);
/// assert_eq!(sample.interval, Duration::from_millis(11));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateSample {
    /// The estimated delivery rate, bytes per second.
    pub delivery_rate: u64,
    /// Bytes delivered over the interval.
    pub delivered: u64,
    /// The sample interval: the longer of the send and ACK intervals.
    pub interval: Duration,
    /// The sample was taken while application-limited, so it may
    /// underestimate the path: use it only if it raises an estimate.
    pub app_limited: bool,
}

/// A newly acknowledged packet as the congestion controller sees it.
///
/// ```
/// use std::time::Instant;
/// use strata::reliable::cc::DeliveryRateSampler;
/// let t0 = Instant::now();
/// let mut s = DeliveryRateSampler::new();
/// let p = s.on_packet_sent(t0, 1200, 0);
/// let acked = s.on_packet_acked(t0, &p, None);
/// assert_eq!(acked.total_delivered, 1200);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckedPacket {
    /// When the packet was sent.
    pub sent_time: Instant,
    /// Its size in bytes.
    pub bytes: u64,
    /// Total bytes delivered when it was sent (BBR counts round trips
    /// with it).
    pub delivered_at_send: u64,
    /// Total bytes delivered now, this packet included.
    pub total_delivered: u64,
    /// The delivery-rate sample this ACK yields, if valid.
    pub rate_sample: Option<RateSample>,
}

/// The connection-wide delivery-rate state.
///
/// ```
/// use std::time::{Duration, Instant};
/// use strata::reliable::cc::DeliveryRateSampler;
/// let t0 = Instant::now();
/// let mut s = DeliveryRateSampler::new();
/// let p = s.on_packet_sent(t0, 1200, 0);
/// let acked = s.on_packet_acked(t0 + Duration::from_millis(10), &p, None);
/// assert_eq!(acked.rate_sample.unwrap().delivery_rate, 120_000);
/// assert_eq!(s.delivered(), 1200);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryRateSampler {
    delivered: u64,
    delivered_time: Option<Instant>,
    first_sent_time: Option<Instant>,
    /// Nonzero while app-limited: the `delivered` value that ends it.
    app_limited_until: u64,
}

impl DeliveryRateSampler {
    /// A sampler with nothing delivered.
    ///
    /// ```
    /// use strata::reliable::cc::DeliveryRateSampler;
    /// assert_eq!(DeliveryRateSampler::new().delivered(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Total bytes acknowledged so far.
    ///
    /// ```
    /// use strata::reliable::cc::DeliveryRateSampler;
    /// assert_eq!(DeliveryRateSampler::new().delivered(), 0);
    /// ```
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Whether the sender is currently marked application-limited.
    ///
    /// ```
    /// use strata::reliable::cc::DeliveryRateSampler;
    /// let mut s = DeliveryRateSampler::new();
    /// s.on_app_limited(5000);
    /// assert!(s.is_app_limited());
    /// ```
    pub fn is_app_limited(&self) -> bool {
        self.app_limited_until != 0
    }

    /// The sender ran out of data to send (or flow-control credit) with
    /// `bytes_in_flight` outstanding while the window had room: samples
    /// taken until that data is acknowledged are marked app-limited.
    ///
    /// ```
    /// use strata::reliable::cc::DeliveryRateSampler;
    /// let mut s = DeliveryRateSampler::new();
    /// s.on_app_limited(0);
    /// assert!(s.is_app_limited());
    /// ```
    pub fn on_app_limited(&mut self, bytes_in_flight: u64) {
        self.app_limited_until = self.delivered.saturating_add(bytes_in_flight).max(1);
    }

    /// A packet of `bytes` is being sent with `bytes_in_flight` outstanding
    /// before it; returns the state to store with the packet.
    ///
    /// ```
    /// use std::time::Instant;
    /// use strata::reliable::cc::DeliveryRateSampler;
    /// let t = Instant::now();
    /// let info = DeliveryRateSampler::new().on_packet_sent(t, 100, 0);
    /// assert_eq!(info.first_sent_time, t);
    /// ```
    pub fn on_packet_sent(
        &mut self,
        now: Instant,
        bytes: u64,
        bytes_in_flight: u64,
    ) -> SentPacketInfo {
        if bytes_in_flight == 0 || self.first_sent_time.is_none() {
            // Nothing in flight: the send interval starts now.
            self.first_sent_time = Some(now);
            self.delivered_time = Some(now);
        }
        SentPacketInfo {
            sent_time: now,
            bytes,
            delivered: self.delivered,
            delivered_time: self.delivered_time.unwrap_or(now),
            first_sent_time: self.first_sent_time.unwrap_or(now),
            app_limited: self.is_app_limited(),
        }
    }

    /// `packet` was newly acknowledged at `now`. Samples whose interval is
    /// shorter than `min_rtt` (when known) are discarded, as the draft
    /// prescribes: they come from ACK compression and overestimate.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use strata::reliable::cc::DeliveryRateSampler;
    /// let t0 = Instant::now();
    /// let mut s = DeliveryRateSampler::new();
    /// let p = s.on_packet_sent(t0, 1200, 0);
    /// let a = s.on_packet_acked(t0 + Duration::from_millis(5), &p, Some(Duration::from_millis(10)));
    /// assert!(a.rate_sample.is_none());
    /// ```
    pub fn on_packet_acked(
        &mut self,
        now: Instant,
        packet: &SentPacketInfo,
        min_rtt: Option<Duration>,
    ) -> AckedPacket {
        self.delivered = self.delivered.saturating_add(packet.bytes);
        self.delivered_time = Some(now);
        if self.app_limited_until != 0 && self.delivered > self.app_limited_until {
            self.app_limited_until = 0;
        }
        // The next packet sent measures its send interval from this one.
        if self.first_sent_time.is_none_or(|f| packet.sent_time > f) {
            self.first_sent_time = Some(packet.sent_time);
        }
        let send_elapsed = packet
            .sent_time
            .saturating_duration_since(packet.first_sent_time);
        let ack_elapsed = now.saturating_duration_since(packet.delivered_time);
        let interval = send_elapsed.max(ack_elapsed);
        let delivered = self.delivered.saturating_sub(packet.delivered);
        let rate_sample = match min_rtt {
            Some(m) if interval < m => None,
            _ => bytes_per_sec(delivered, interval).map(|delivery_rate| RateSample {
                delivery_rate,
                delivered,
                interval,
                app_limited: packet.app_limited,
            }),
        };
        AckedPacket {
            sent_time: packet.sent_time,
            bytes: packet.bytes,
            delivered_at_send: packet.delivered,
            total_delivered: self.delivered,
            rate_sample,
        }
    }
}
