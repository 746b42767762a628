//! Typed requests a protocol hands the transport right below it:
//! [`Control`], [`Call`] and `ask`.
//!
//! A capability is read-only and found by walking the stack; a control
//! request is the mutable counterpart, for the one transport a protocol sits
//! on (an HTTP exchange takes its response head this way, so a request
//! handler stays an ordinary stream protocol). The core knows no request
//! type: a layer defines one, says what it answers with
//! ([`Control::Reply`]), and answers it in
//! [`StreamTransport::control`]; the
//! protocol above asks with `t.ask(req)` and gets the typed reply back, or
//! `None` when the transport does not know the request. The one downcast
//! happens here, not in every layer.
//!
//! ```
//! use std::time::Instant;
//! use strata::{Call, Control, Introspect, StreamTransport, Wake, testing::MemoryTransport};
//!
//! /// A request of a user's own layer: "how many bytes did you see?"
//! struct Count;
//! impl Control for Count {
//!     type Reply = u64;
//! }
//!
//! /// A transport that answers it, over a memory transport.
//! struct Counting { seen: u64, below: MemoryTransport }
//! impl Introspect for Counting {
//!     fn name(&self) -> &'static str { "counting" }
//!     fn below(&self) -> Option<&dyn Introspect> { Some(&self.below) }
//! }
//! impl StreamTransport for Counting {
//!     fn write(&mut self, data: &[u8]) { self.seen += data.len() as u64; self.below.write(data) }
//!     fn write_eof(&mut self) { self.below.write_eof() }
//!     fn close(&mut self) { self.below.close() }
//!     fn abort(&mut self, why: strata::Close) { self.below.abort(why) }
//!     fn pause_reading(&mut self) {}
//!     fn resume_reading(&mut self) {}
//!     fn buffered(&self) -> usize { 0 }
//!     fn writable(&self) -> bool { true }
//!     fn now(&self) -> Instant { self.below.now() }
//!     fn waker(&self) -> Wake { self.below.waker() }
//!     fn control(&mut self, mut call: Call<'_>) {
//!         call.answer(|Count| self.seen);
//!     }
//! }
//!
//! let mut t = Counting { seen: 0, below: MemoryTransport::new() };
//! let t: &mut dyn StreamTransport = &mut t;
//! t.write(b"hello");
//! assert_eq!(t.ask(Count), Some(5));
//!
//! // A transport that does not know the request leaves it unanswered.
//! let mut m = MemoryTransport::new();
//! let m: &mut dyn StreamTransport = &mut m;
//! assert_eq!(m.ask(Count), None);
//! ```

use std::any::Any;

use crate::StreamTransport;

/// A typed request for the transport right below a protocol, with the type
/// of its answer. See the [module docs](self).
///
/// ```
/// use strata::Control;
/// struct Flush;
/// impl Control for Flush {
///     type Reply = Result<(), String>;
/// }
/// ```
pub trait Control: Any {
    /// What the transport answers.
    type Reply: Any;
}

/// One request on its way to a transport's
/// [`control`](crate::StreamTransport::control): the transport answers it
/// with [`answer`](Call::answer) when it knows the request's type, and
/// ignores it otherwise.
///
/// ```
/// use strata::{Call, Control};
/// struct Ping;
/// impl Control for Ping {
///     type Reply = &'static str;
/// }
/// fn control(mut call: Call<'_>) {
///     // Answers a Ping; anything else is left unanswered.
///     call.answer(|Ping| "pong");
/// }
/// # let _ = control;
/// ```
pub struct Call<'a>(&'a mut dyn Any);

/// What a [`Call`] points at: the request until a transport answers it.
enum Slot<C: Control> {
    Asked(C),
    Answered(C::Reply),
    Taken,
}

impl Call<'_> {
    /// Answers the request with `f` if it is a `C` not answered yet; returns
    /// whether it did. A transport that answers several request types tries
    /// each in turn.
    ///
    /// ```
    /// use strata::{Call, Control};
    /// struct A;
    /// impl Control for A { type Reply = u8; }
    /// struct B;
    /// impl Control for B { type Reply = u16; }
    /// fn control(mut call: Call<'_>) {
    ///     let _ = call.answer(|A| 1) || call.answer(|B| 2);
    /// }
    /// # let _ = control;
    /// ```
    pub fn answer<C: Control>(&mut self, f: impl FnOnce(C) -> C::Reply) -> bool {
        let Some(slot) = self.0.downcast_mut::<Slot<C>>() else {
            return false;
        };
        match std::mem::replace(slot, Slot::Taken) {
            Slot::Asked(req) => {
                *slot = Slot::Answered(f(req));
                true
            }
            done => {
                *slot = done;
                false
            }
        }
    }

    /// Whether the request is a `C` (answered or not).
    ///
    /// ```
    /// use strata::{Call, Control};
    /// struct Ping;
    /// impl Control for Ping { type Reply = (); }
    /// fn control(call: Call<'_>) -> bool {
    ///     call.is::<Ping>()
    /// }
    /// # let _ = control;
    /// ```
    pub fn is<C: Control>(&self) -> bool {
        self.0.is::<Slot<C>>()
    }
}

impl dyn StreamTransport + '_ {
    /// Hands `req` to the transport right below and returns its answer, or
    /// `None` when that transport does not know this request (layers do
    /// not forward control requests). See the [module docs](crate::control).
    ///
    /// ```
    /// use strata::{Control, StreamTransport, testing::MemoryTransport};
    /// struct Ping;
    /// impl Control for Ping { type Reply = (); }
    /// let mut t = MemoryTransport::new();
    /// let t: &mut dyn StreamTransport = &mut t;
    /// assert_eq!(t.ask(Ping), None);
    /// ```
    pub fn ask<C: Control>(&mut self, req: C) -> Option<C::Reply> {
        let mut slot = Slot::Asked(req);
        self.control(Call(&mut slot));
        match slot {
            Slot::Answered(reply) => Some(reply),
            Slot::Asked(_) | Slot::Taken => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct A(u8);
    impl Control for A {
        type Reply = u8;
    }
    struct B;
    impl Control for B {
        type Reply = &'static str;
    }

    #[test]
    fn a_call_is_answered_once_and_only_by_its_own_type() {
        let mut slot = Slot::Asked(A(7));
        let mut call = Call(&mut slot);
        assert!(call.is::<A>() && !call.is::<B>());
        assert!(!call.answer(|B| "wrong type"));
        assert!(call.answer(|A(n)| n + 1));
        assert!(!call.answer(|A(_)| 0), "a second answer is refused");
        assert!(matches!(slot, Slot::Answered(8)));
    }
}
