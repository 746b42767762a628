//! Capabilities are looked up by type through the stack, top first; the
//! layer chain is a walk, correct before and after a swap.

mod common;

use std::any::{Any, TypeId};

use common::{Log, Xor};
use strata::{
    Addr, BottomInfo, HalfClose, Introspect, LocalAddr, PeerAddr, Stack, StackConfig,
    StreamProtocol, StreamTransport,
};

/// A user-defined capability type.
#[derive(Debug, PartialEq)]
struct TenantId(u32);

/// Looks things up from the top of the stack when data arrives.
struct Probe {
    log: Log,
}

impl StreamProtocol for Probe {
    fn data_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
        let t: &dyn StreamTransport = t;
        self.log.push(format!(
            "peer={:?} local={:?} tenant={:?} half_close={:?} chain={:?}",
            t.get::<PeerAddr>().map(|p| p.0.to_string()),
            t.get::<LocalAddr>().map(|p| p.0.to_string()),
            t.get::<TenantId>(),
            t.get::<HalfClose>(),
            t.layer_chain(),
        ));
    }
    fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
}

/// A layer that answers a user-defined capability and nothing else.
struct Tenant<P> {
    inner: P,
    id: TenantId,
}

struct TenantView<'a> {
    lower: &'a mut dyn StreamTransport,
    id: &'a TenantId,
}

impl Introspect for TenantView<'_> {
    fn name(&self) -> &'static str {
        "tenant"
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        strata::capability!(id, *self.id)
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.lower)
    }
}

impl StreamTransport for TenantView<'_> {
    strata::forward_to_lower!(lower: write, write_eof, close, abort, pause_reading, resume_reading, buffered, writable, now, waker);
}

impl<P: StreamProtocol> StreamProtocol for Tenant<P> {
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        self.inner.data_received(
            &mut TenantView {
                lower: t,
                id: &self.id,
            },
            d,
        )
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        self.inner.eof_received(&mut TenantView {
            lower: t,
            id: &self.id,
        })
    }
}

fn tcp_like(proto: Box<dyn StreamProtocol>) -> Stack {
    let info = BottomInfo::new("tcp")
        .peer(Addr::Inet("127.0.0.1:4000".parse().unwrap()))
        .local(Addr::Inet("127.0.0.1:80".parse().unwrap()));
    let now = strata::testing::epoch();
    let mut s = Stack::new(proto, info, StackConfig::default().into(), now);
    s.start(now);
    s
}

#[test]
fn a_layer_above_tcp_that_reports_another_peer_wins() {
    let log = Log::default();
    let mut proxy = Xor::new(
        Tenant {
            inner: Probe { log: log.clone() },
            id: TenantId(42),
        },
        0,
        Log::default(),
    );
    // As a PROXY-protocol layer would: the client's address, not the proxy's.
    proxy.peer = Some(PeerAddr(Addr::Inet("127.0.0.9:5555".parse().unwrap())));
    let mut s = tcp_like(Box::new(proxy));
    let now = s.now();
    s.handle_input(now, b"?");
    assert_eq!(
        log.take(),
        vec![
            r#"peer=Some("127.0.0.9:5555") local=Some("127.0.0.1:80") tenant=Some(TenantId(42)) half_close=Some(HalfClose(true)) chain=["tenant", "xor", "tcp"]"#
        ]
    );
}

#[test]
fn without_the_override_the_bottom_answers() {
    let log = Log::default();
    let mut s = tcp_like(Box::new(Probe { log: log.clone() }));
    let now = s.now();
    s.handle_input(now, b"?");
    assert_eq!(
        log.take(),
        vec![
            r#"peer=Some("127.0.0.1:4000") local=Some("127.0.0.1:80") tenant=None half_close=Some(HalfClose(true)) chain=["tcp"]"#
        ]
    );
}
