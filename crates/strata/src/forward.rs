//! The pass-through methods of a layer, written once:
//! [`forward_to_lower!`](crate::forward_to_lower) for its view (the transport
//! side), [`forward_to_inner!`](crate::forward_to_inner) for the callbacks it
//! passes to its inner protocol (the protocol side).

/// Implements, inside an `impl StreamTransport for View` block (or a
/// `DatagramTransport` one: the shared methods have the same shapes), the methods
/// that a layer's view passes straight to the transport below it.
///
/// Name the field that holds the lower transport (`&mut dyn StreamTransport`)
/// and the methods to forward; write the others yourself. Any of `write`,
/// `write_bytes`, `write_eof`, `close`, `abort`, `pause_reading`,
/// `resume_reading`, `buffered`, `writable`, `now`, `waker`, `request_swap`.
///
/// ```
/// use std::any::Any;
/// use strata::{Introspect, StreamTransport};
///
/// /// A view that upper-cases what the protocol above writes.
/// struct Shout<'a> {
///     lower: &'a mut dyn StreamTransport,
/// }
///
/// impl Introspect for Shout<'_> {
///     fn name(&self) -> &'static str { "shout" }
///     fn below(&self) -> Option<&dyn Introspect> { Some(&*self.lower) }
/// }
///
/// impl StreamTransport for Shout<'_> {
///     fn write(&mut self, data: &[u8]) {
///         self.lower.write(&data.to_ascii_uppercase())
///     }
///     strata::forward_to_lower!(lower: write_eof, close, abort, pause_reading,
///         resume_reading, buffered, writable, now, waker);
/// }
///
/// let mut t = strata::testing::MemoryTransport::new();
/// Shout { lower: &mut t }.write(b"hi");
/// assert_eq!(t.take_written(), b"HI");
/// ```
#[macro_export]
macro_rules! forward_to_lower {
    ($lower:ident : $($method:ident),+ $(,)?) => {
        $( $crate::__forward_one!($lower, $method); )+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __forward_one {
    ($l:ident, write) => {
        fn write(&mut self, data: &[u8]) {
            self.$l.write(data)
        }
    };
    ($l:ident, write_bytes) => {
        fn write_bytes(&mut self, data: $crate::__Bytes) {
            self.$l.write_bytes(data)
        }
    };
    ($l:ident, write_eof) => {
        fn write_eof(&mut self) {
            self.$l.write_eof()
        }
    };
    ($l:ident, close) => {
        fn close(&mut self) {
            self.$l.close()
        }
    };
    ($l:ident, abort) => {
        fn abort(&mut self, why: $crate::Close) {
            self.$l.abort(why)
        }
    };
    ($l:ident, pause_reading) => {
        fn pause_reading(&mut self) {
            self.$l.pause_reading()
        }
    };
    ($l:ident, resume_reading) => {
        fn resume_reading(&mut self) {
            self.$l.resume_reading()
        }
    };
    ($l:ident, buffered) => {
        fn buffered(&self) -> usize {
            self.$l.buffered()
        }
    };
    ($l:ident, writable) => {
        fn writable(&self) -> bool {
            self.$l.writable()
        }
    };
    ($l:ident, now) => {
        fn now(&self) -> ::std::time::Instant {
            self.$l.now()
        }
    };
    ($l:ident, waker) => {
        fn waker(&self) -> $crate::Wake {
            self.$l.waker()
        }
    };
    ($l:ident, request_swap) => {
        fn request_swap(
            &mut self,
            req: $crate::SwapRequest,
            leftover: ::std::vec::Vec<u8>,
        ) -> ::std::result::Result<(), $crate::SwapError> {
            self.$l.request_swap(req, leftover)
        }
    };
}

/// Implements, inside an `impl StreamProtocol for Layer` block (or an
/// `impl DatagramProtocol` one, with `datagram:` first), the callbacks a layer
/// passes on to its inner protocol: the protocol-side twin of
/// [`forward_to_lower!`](crate::forward_to_lower).
///
/// `forward_to_inner!(inner via call)` writes every one of
///
/// `connection_made`, `connection_lost`, `pause_writing`, `resume_writing`,
/// `next_deadline`, `on_deadline`, `on_wake`, `on_shutdown`, `buffered`
/// (and, for `datagram:`, `error_received`)
///
/// as a call to the same method of the field `inner` (a name, or `0` for a
/// tuple struct). The callbacks that take a transport go through the layer's
/// own view: `call` is a method of the layer of the shape
///
/// `fn call(&mut self, t: &mut dyn StreamTransport, f: impl FnOnce(&mut Inner, &mut View))`
///
/// (`&mut dyn DatagramTransport` for `t` in a datagram layer; the view may be
/// a `&mut dyn` transport too) that builds the view over `t`, calls `f` with
/// it, and then runs the layer's settle step if it has one. `on_wake` passes
/// the [`WakeRoute`](crate::WakeRoute) on unchanged (a plain layer is not a
/// hop; a multiplexer writes its own), `next_deadline`, `buffered` and
/// `connection_lost` go straight to `inner`. Without `via call` the
/// transport is passed on as it is (a wrapper with no view of its own).
///
/// The methods you write yourself go after `except`; listing one you do not
/// write leaves the trait's default. `data_received` and `eof_received`
/// (`datagrams_received` for a datagram layer) are never written by the
/// macro: the data path is the layer's. So a layer cannot forget `on_wake`:
/// a callback not listed is forwarded, and writing one that is not listed is
/// a compile error (a duplicate definition), as is an unknown name.
///
/// ```
/// use strata::{Stack, StreamProtocol, StreamTransport};
///
/// /// A wrapper that drops every byte with the high bit set.
/// struct Ascii<P>(P);
///
/// impl<P: StreamProtocol> StreamProtocol for Ascii<P> {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
///         let ascii: Vec<u8> = data.iter().copied().filter(u8::is_ascii).collect();
///         self.0.data_received(t, &ascii)
///     }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) {
///         self.0.eof_received(t)
///     }
///     // Everything else, `on_wake` and `on_shutdown` included, reaches `self.0`.
///     strata::forward_to_inner!(0);
/// }
///
/// struct Echo;
/// impl StreamProtocol for Echo {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { t.write(d) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { t.close() }
/// }
/// let mut s = Stack::memory(Box::new(Ascii(Echo)));
/// let now = s.now();
/// s.handle_input(now, "caf\u{e9}".as_bytes());
/// assert_eq!(s.take_output(now), b"caf");
/// ```
///
/// Inside an `impl StreamLayer for Layer` block, `forward_to_inner!(layer:
/// via call)` writes [`with_inner_transport`](crate::StreamLayer::with_inner_transport)
/// as `self.call(t, |_, v| f(v))`: what the stack replays through a newly
/// inserted layer goes through the same view as every callback. A layer
/// that must do more first (TLS starts its handshake there) writes it
/// itself.
///
/// ```
/// use strata::{StreamLayer, StreamProtocol, StreamTransport};
///
/// /// A layer whose view is the transport below (a real one builds its own).
/// struct Plain<P>(P);
///
/// impl<P: StreamProtocol> Plain<P> {
///     fn call(&mut self, t: &mut dyn StreamTransport, f: impl FnOnce(&mut P, &mut dyn StreamTransport)) {
///         f(&mut self.0, t)
///     }
/// }
/// impl<P: StreamProtocol> StreamProtocol for Plain<P> {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { self.0.data_received(t, d) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { self.0.eof_received(t) }
///     strata::forward_to_inner!(0 via call);
/// }
/// impl<P: StreamProtocol> StreamLayer for Plain<P> {
///     strata::forward_to_inner!(layer: via call);
/// }
///
/// struct Quiet;
/// impl StreamProtocol for Quiet {
///     fn data_received(&mut self, _: &mut dyn StreamTransport, _: &[u8]) {}
///     fn eof_received(&mut self, _: &mut dyn StreamTransport) {}
/// }
/// let mut t = strata::testing::MemoryTransport::new();
/// Plain(Quiet).with_inner_transport(&mut t, &mut |v| v.write(b"replayed"));
/// assert_eq!(t.take_written(), b"replayed");
/// ```
///
/// `docs/first-layer.md` builds a layer with a view and `via call`, and one
/// with a timer of its own (`except next_deadline, on_deadline`). Writing a
/// callback without listing it does not compile:
///
/// ```compile_fail
/// # use strata::{StreamProtocol, StreamTransport, WakeRoute};
/// struct Wrap<P>(P);
/// impl<P: StreamProtocol> StreamProtocol for Wrap<P> {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { self.0.data_received(t, d) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { self.0.eof_received(t) }
///     fn on_wake(&mut self, t: &mut dyn StreamTransport, route: WakeRoute<'_>) { self.0.on_wake(t, route) }
///     strata::forward_to_inner!(0); // error: duplicate definitions with name `on_wake`
/// }
/// ```
///
/// nor does a name the macro does not forward:
///
/// ```compile_fail
/// # use strata::{StreamProtocol, StreamTransport};
/// struct Wrap<P>(P);
/// impl<P: StreamProtocol> StreamProtocol for Wrap<P> {
///     fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) { self.0.data_received(t, d) }
///     fn eof_received(&mut self, t: &mut dyn StreamTransport) { self.0.eof_received(t) }
///     strata::forward_to_inner!(0, except on_wakes); // error: `on_wakes` is not a method it forwards
/// }
/// ```
#[macro_export]
macro_rules! forward_to_inner {
    (layer: via $call:ident $(,)?) => {
        fn with_inner_transport(
            &mut self,
            t: &mut dyn $crate::StreamTransport,
            f: &mut dyn ::std::ops::FnMut(&mut dyn $crate::StreamTransport),
        ) {
            self.$call(t, |_, v| f(v))
        }
    };
    (datagram: $inner:tt $(via $call:ident)? $(, except $($skip:ident),+)? $(,)?) => {
        $crate::__forward_inner!(
            (&mut dyn $crate::DatagramTransport; $inner; [$($call)?])
            [$($($skip)+)?]
            connection_made connection_lost pause_writing resume_writing next_deadline
            on_deadline on_wake on_shutdown buffered error_received
        );
    };
    ($inner:tt $(via $call:ident)? $(, except $($skip:ident),+)? $(,)?) => {
        $crate::__forward_inner!(
            (&mut dyn $crate::StreamTransport; $inner; [$($call)?])
            [$($($skip)+)?]
            connection_made connection_lost pause_writing resume_writing next_deadline
            on_deadline on_wake on_shutdown buffered
        );
    };
}

/// Checks the `except` list, then writes each method not in it.
#[doc(hidden)]
#[macro_export]
macro_rules! __forward_inner {
    ($ctx:tt $skip:tt $($m:ident)*) => {
        $crate::__forward_inner_check!($skip);
        $( $crate::__forward_inner_unless!($m $skip $ctx); )*
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __forward_inner_check {
    ([$($skip:ident)*]) => {
        $( $crate::__forward_inner_known!($skip); )*
    };
}

/// Rejects a name in `except` that the macro does not write (a typo would
/// otherwise forward a method the layer meant to write itself).
#[doc(hidden)]
#[macro_export]
macro_rules! __forward_inner_known {
    (connection_made) => {};
    (connection_lost) => {};
    (pause_writing) => {};
    (resume_writing) => {};
    (next_deadline) => {};
    (on_deadline) => {};
    (on_wake) => {};
    (on_shutdown) => {};
    (buffered) => {};
    (error_received) => {};
    ($other:ident) => {
        ::std::compile_error!(::std::concat!(
            "forward_to_inner!: `",
            ::std::stringify!($other),
            "` is not a method it forwards"
        ));
    };
}

/// Writes method `$m` unless it is in the list. macro_rules cannot compare
/// two identifiers, so each name has its own "found it" rule.
#[doc(hidden)]
#[macro_export]
macro_rules! __forward_inner_unless {
    (connection_made [connection_made $($r:ident)*] $ctx:tt) => {};
    (connection_lost [connection_lost $($r:ident)*] $ctx:tt) => {};
    (pause_writing [pause_writing $($r:ident)*] $ctx:tt) => {};
    (resume_writing [resume_writing $($r:ident)*] $ctx:tt) => {};
    (next_deadline [next_deadline $($r:ident)*] $ctx:tt) => {};
    (on_deadline [on_deadline $($r:ident)*] $ctx:tt) => {};
    (on_wake [on_wake $($r:ident)*] $ctx:tt) => {};
    (on_shutdown [on_shutdown $($r:ident)*] $ctx:tt) => {};
    (buffered [buffered $($r:ident)*] $ctx:tt) => {};
    (error_received [error_received $($r:ident)*] $ctx:tt) => {};
    ($m:ident [$x:ident $($r:ident)*] $ctx:tt) => {
        $crate::__forward_inner_unless!($m [$($r)*] $ctx);
    };
    ($m:ident [] $ctx:tt) => {
        $crate::__forward_inner_one!($m $ctx);
    };
}

/// One forwarded method. `[]`: straight to the field; `[call]`: through the
/// layer's view.
#[doc(hidden)]
#[macro_export]
macro_rules! __forward_inner_one {
    (connection_lost ($t:ty; $i:tt; [$($c:ident)?])) => {
        fn connection_lost(&mut self, why: &$crate::Close) {
            self.$i.connection_lost(why)
        }
    };
    (next_deadline ($t:ty; $i:tt; [$($c:ident)?])) => {
        fn next_deadline(&self) -> ::std::option::Option<::std::time::Instant> {
            self.$i.next_deadline()
        }
    };
    (buffered ($t:ty; $i:tt; [$($c:ident)?])) => {
        fn buffered(&self) -> usize {
            self.$i.buffered()
        }
    };
    (on_wake ($t:ty; $i:tt; [])) => {
        fn on_wake(&mut self, t: $t, route: $crate::WakeRoute<'_>) {
            self.$i.on_wake(t, route)
        }
    };
    (on_wake ($t:ty; $i:tt; [$c:ident])) => {
        fn on_wake(&mut self, t: $t, route: $crate::WakeRoute<'_>) {
            self.$c(t, |p, v| p.on_wake(v, route))
        }
    };
    (error_received ($t:ty; $i:tt; [])) => {
        fn error_received(&mut self, t: $t, kind: ::std::io::ErrorKind) {
            self.$i.error_received(t, kind)
        }
    };
    (error_received ($t:ty; $i:tt; [$c:ident])) => {
        fn error_received(&mut self, t: $t, kind: ::std::io::ErrorKind) {
            self.$c(t, |p, v| p.error_received(v, kind))
        }
    };
    // connection_made, pause_writing, resume_writing, on_deadline, on_shutdown:
    // the transport is their only argument.
    ($m:ident ($t:ty; $i:tt; [])) => {
        fn $m(&mut self, t: $t) {
            self.$i.$m(t)
        }
    };
    ($m:ident ($t:ty; $i:tt; [$c:ident])) => {
        fn $m(&mut self, t: $t) {
            self.$c(t, |p, v| p.$m(v))
        }
    };
}
