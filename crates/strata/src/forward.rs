//! [`forward_to_lower!`](crate::forward_to_lower): the pass-through half of a
//! layer's view, written once.

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
