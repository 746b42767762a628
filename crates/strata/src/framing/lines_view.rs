//! The transport a [`Lines`](crate::framing::Lines) layer presents to its
//! inner protocol.

use std::any::{Any, TypeId};

use crate::framing::lines::{State, LINES};
use crate::{Introspect, StreamTransport, SwapError, SwapRequest};

/// The `lines` view: writes and control pass through to `below`; reading
/// pauses are tracked here as well (the layer stops between two lines of a
/// chunk); a swap takes the bytes the layer still holds.
pub(crate) struct LinesView<'a> {
    below: &'a mut dyn StreamTransport,
    st: &'a mut State,
    /// The input the layer holds after the line being delivered.
    rest: &'a [u8],
}

impl<'a> LinesView<'a> {
    pub(crate) fn new(
        below: &'a mut dyn StreamTransport,
        st: &'a mut State,
        rest: &'a [u8],
    ) -> Self {
        LinesView { below, st, rest }
    }
}

impl Introspect for LinesView<'_> {
    fn name(&self) -> &'static str {
        LINES
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        crate::capability!(id, self.st.delim)
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.below)
    }
}

impl StreamTransport for LinesView<'_> {
    fn pause_reading(&mut self) {
        self.st.paused = true;
        self.below.pause_reading();
    }
    fn resume_reading(&mut self) {
        self.st.paused = false;
        self.below.resume_reading();
    }
    fn request_swap(&mut self, req: SwapRequest, leftover: Vec<u8>) -> Result<(), SwapError> {
        if self.st.handed_over {
            return Err(SwapError::AlreadyPending);
        }
        // Stream order: what the protocol above read but did not consume
        // came before what this layer has not delivered yet.
        let mut all = leftover;
        all.extend_from_slice(self.rest);
        self.below.request_swap(req, all)?;
        self.st.handed_over = true;
        Ok(())
    }
    crate::forward_to_lower!(below: write, write_bytes, write_eof, close, abort, buffered, writable, now, waker);
}
