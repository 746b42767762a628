//! The datagram apps, for `udp://` endpoints: echo each datagram to its
//! sender, or discard it.

use strata::{Datagram, DatagramProtocol, DatagramTransport, Transmit};

/// Sends every datagram back to where it came from (RFC 862 over UDP).
///
/// ```
/// use strata::{Datagram, DatagramStack};
/// let mut s = DatagramStack::memory(Box::new(strata_cli::apps::DatagramEcho));
/// let now = s.now();
/// let from = "127.0.0.1:9".parse().unwrap();
/// s.handle_datagrams(now, &[Datagram::new(Some(from), b"hi")]);
/// assert_eq!(s.take_transmits(now)[0].contents, b"hi");
/// ```
#[derive(Debug, Default)]
pub struct DatagramEcho;

impl DatagramProtocol for DatagramEcho {
    fn datagrams_received(&mut self, t: &mut dyn DatagramTransport, batch: &[Datagram<'_>]) {
        for d in batch {
            // Datagrams may be lost: when the send queue is full, drop rather
            // than queue without bound (the transport counts the drop).
            t.send(&Transmit {
                destination: d.source,
                ..Transmit::connected(d.data)
            });
        }
    }
}

/// Reads datagrams and sends nothing (RFC 863 over UDP).
///
/// ```
/// use strata::{Datagram, DatagramStack};
/// let mut s = DatagramStack::memory(Box::new(strata_cli::apps::DatagramDiscard));
/// let now = s.now();
/// s.handle_datagrams(now, &[Datagram::new(None, b"hi")]);
/// assert!(s.take_transmits(now).is_empty());
/// ```
#[derive(Debug, Default)]
pub struct DatagramDiscard;

impl DatagramProtocol for DatagramDiscard {
    fn datagrams_received(&mut self, _: &mut dyn DatagramTransport, _: &[Datagram<'_>]) {}
}

/// The datagram app called `name`, if there is one.
///
/// ```
/// assert!(strata_cli::apps::datagram_by_name("echo").is_some());
/// assert!(strata_cli::apps::datagram_by_name("chat").is_none());
/// ```
pub fn datagram_by_name(name: &str) -> Option<Box<dyn DatagramProtocol>> {
    match name {
        "echo" => Some(Box::new(DatagramEcho)),
        "discard" => Some(Box::new(DatagramDiscard)),
        _ => None,
    }
}
