//! The transport an [`H1Client`](super::H1Client) presents to its protocol:
//! request body bytes out, the response head and trailers as capabilities.

use std::any::{Any, TypeId};
use std::time::Instant;

use http::HeaderMap;

use super::body::{chunk_head, last_chunk_with, LAST_CHUNK};
use super::H1;
use crate::http::{HttpControl, HttpError, HttpVersion, RequestHead, ResponseHead, Trailers};
use crate::{Call, Close, Introspect, StreamTransport, Wake};

/// Where the request body stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReqBody {
    /// The head is not sent yet (during `connection_made`): writes, the
    /// end and trailers are held until the framing is chosen.
    Deciding,
    /// Chunked.
    Chunked,
    /// `Content-Length`: bytes still to send.
    Length(u64),
    /// A CONNECT or `Upgrade` request: no body; writes wait for the tunnel.
    TunnelWait,
    /// The tunnel is open: raw bytes.
    Tunnel,
    /// The body has ended (or there is none): writes are dropped.
    Ended,
}

/// The client's state that its view works on.
pub(crate) struct ClientState {
    pub(crate) head: RequestHead,
    pub(crate) version: HttpVersion,
    pub(crate) response: Option<ResponseHead>,
    pub(crate) trailers: Option<Trailers>,
    pub(crate) body: ReqBody,
    /// Writes held while `Deciding` or `TunnelWait`.
    pub(crate) held: Vec<u8>,
    /// Past this much held, the view stops being writable.
    pub(crate) held_limit: usize,
    /// The protocol ended the body while `Deciding` or `TunnelWait`:
    /// `Some(close)`.
    pub(crate) held_end: Option<bool>,
    /// Trailers given while `Deciding`.
    pub(crate) held_trailers: Option<HeaderMap>,
    pub(crate) read_paused: bool,
    pub(crate) aborted: bool,
}

impl ClientState {
    pub(crate) fn write(&mut self, below: &mut dyn StreamTransport, data: &[u8]) {
        if data.is_empty() || self.aborted {
            return;
        }
        match &mut self.body {
            ReqBody::Deciding | ReqBody::TunnelWait if self.held_end.is_none() => {
                self.held.extend_from_slice(data)
            }
            ReqBody::Chunked => {
                let mut buf = [0; 18];
                below.write(chunk_head(data.len(), &mut buf));
                below.write(data);
                below.write(b"\r\n");
            }
            ReqBody::Length(rem) => {
                let n = usize::try_from(*rem).unwrap_or(usize::MAX).min(data.len());
                if n < data.len() {
                    tracing::warn!(
                        extra = data.len() - n,
                        "http1: request body longer than its Content-Length; excess dropped"
                    );
                }
                *rem -= n as u64;
                below.write(&data[..n]);
            }
            ReqBody::Tunnel => below.write(data),
            ReqBody::Deciding | ReqBody::TunnelWait | ReqBody::Ended => {
                tracing::debug!("http1: request body write after its end dropped");
            }
        }
    }

    /// `close()` or `write_eof()` from the protocol: the request body ends
    /// (in a tunnel, the connection's write side or the connection).
    pub(crate) fn end(&mut self, below: &mut dyn StreamTransport, close: bool) {
        if self.aborted {
            return;
        }
        match self.body {
            ReqBody::Deciding | ReqBody::TunnelWait => {
                if self.held_end != Some(true) {
                    self.held_end = Some(close);
                }
                return;
            }
            ReqBody::Tunnel => {
                if close {
                    below.close();
                } else {
                    below.write_eof();
                }
                return;
            }
            ReqBody::Chunked => below.write(LAST_CHUNK),
            ReqBody::Length(rem) if rem > 0 => {
                tracing::warn!(
                    missing = rem,
                    "http1: request body ended short of its Content-Length"
                );
            }
            ReqBody::Length(_) | ReqBody::Ended => {}
        }
        self.body = ReqBody::Ended;
    }

    pub(crate) fn send_trailers(
        &mut self,
        below: &mut dyn StreamTransport,
        trailers: HeaderMap,
    ) -> Result<(), HttpError> {
        if self.aborted {
            return Err(HttpError::BodyEnded);
        }
        match self.body {
            ReqBody::Deciding if self.held_end.is_none() => {
                self.held_trailers = Some(trailers);
                self.held_end = Some(false);
                Ok(())
            }
            ReqBody::Chunked => {
                below.write(&last_chunk_with(&trailers));
                self.body = ReqBody::Ended;
                Ok(())
            }
            ReqBody::Length(_) => {
                tracing::debug!("http1: trailers dropped: the request is not chunked");
                self.end(below, false);
                Ok(())
            }
            ReqBody::TunnelWait | ReqBody::Tunnel => Err(HttpError::NotHttp),
            ReqBody::Deciding | ReqBody::Ended => Err(HttpError::BodyEnded),
        }
    }
}

/// The `http1` view of a client exchange.
pub(crate) struct ClientView<'a> {
    below: &'a mut dyn StreamTransport,
    st: &'a mut ClientState,
}

impl<'a> ClientView<'a> {
    pub(crate) fn new(below: &'a mut dyn StreamTransport, st: &'a mut ClientState) -> Self {
        ClientView { below, st }
    }
}

impl Introspect for ClientView<'_> {
    fn name(&self) -> &'static str {
        H1
    }
    fn local_capability(&self, id: TypeId) -> Option<&dyn Any> {
        if id == TypeId::of::<ResponseHead>() {
            return self.st.response.as_ref().map(|r| r as &dyn Any);
        }
        if id == TypeId::of::<Trailers>() {
            return self.st.trailers.as_ref().map(|t| t as &dyn Any);
        }
        crate::capability!(id, self.st.head, self.st.version)
    }
    fn below(&self) -> Option<&dyn Introspect> {
        Some(&*self.below)
    }
}

impl StreamTransport for ClientView<'_> {
    fn write(&mut self, data: &[u8]) {
        self.st.write(self.below, data);
    }
    fn write_eof(&mut self) {
        self.st.end(self.below, false);
    }
    fn close(&mut self) {
        self.st.end(self.below, true);
    }
    fn abort(&mut self, why: Close) {
        self.st.aborted = true;
        self.below.abort(why);
    }
    fn pause_reading(&mut self) {
        self.st.read_paused = true;
    }
    fn resume_reading(&mut self) {
        self.st.read_paused = false;
    }
    fn buffered(&self) -> usize {
        self.st.held.len() + self.below.buffered()
    }
    fn writable(&self) -> bool {
        let open = match self.st.body {
            ReqBody::Deciding | ReqBody::TunnelWait => {
                self.st.held_end.is_none() && self.st.held.len() < self.st.held_limit
            }
            ReqBody::Chunked | ReqBody::Length(_) | ReqBody::Tunnel => true,
            ReqBody::Ended => false,
        };
        open && !self.st.aborted && self.below.writable()
    }
    fn now(&self) -> Instant {
        self.below.now()
    }
    fn waker(&self) -> Wake {
        self.below.waker()
    }
    fn control(&mut self, mut call: Call<'_>) {
        call.answer(|msg: HttpControl| match msg {
            // A client sends requests, not responses.
            HttpControl::Respond(_) => Err(HttpError::NotHttp),
            HttpControl::Trailers(t) => self.st.send_trailers(self.below, t),
        });
    }
}
