//! The streamed responses: `/echo`, `/sink`, and bodies of a known length produced a
//! chunk at a time (`/bytes/N`, files), each written only while the
//! transport is writable.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use strata::http::request;
use strata::{Close, StreamProtocol, StreamTransport};

use super::{fail, respond, DemoError, CHUNK};

/// The characters `/bytes/N` repeats: byte `i` of a body is `ALPHABET[i % 64]`.
pub(super) const ALPHABET: &[u8; 64] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/";

/// One [`CHUNK`] of the pattern; every write of `/bytes/N` is a slice of it
/// (no copy, no allocation), and since `CHUNK` is a multiple of 64 the
/// pattern runs on unbroken from one chunk to the next.
static PATTERN: [u8; CHUNK] = pattern();

const fn pattern() -> [u8; CHUNK] {
    let mut p = [0u8; CHUNK];
    let mut i = 0;
    while i < CHUNK {
        p[i] = ALPHABET[i % ALPHABET.len()];
        i += 1;
    }
    p
}

/// `/echo`: answers 200 when the first byte of the request body arrives (or
/// its end), writes back every byte of the body and closes after the
/// request's end.
///
/// The head waits for the body so that a request refused while its body
/// arrives (bad chunk framing, a body too slow) still gets its error status
/// rather than a cut `200`; and an HTTP/1.1 client sending `Expect:
/// 100-continue` gets its `100 Continue` because the echo reads the body.
///
/// Back-pressure both ways: when a write leaves the transport not writable
/// (or `pause_writing` arrives), it pauses reading the request, which the
/// HTTP layer turns into flow control toward the client; `resume_writing`
/// resumes reading.
#[derive(Debug)]
pub(super) struct Echo {
    /// The response head, until sent.
    headers: Option<HeaderMap>,
    head_only: bool,
    paused: bool,
}

impl Echo {
    pub(super) fn new(req: &request::Parts) -> Echo {
        let mut headers = HeaderMap::new();
        let content_type = req
            .headers
            .get(header::CONTENT_TYPE)
            .cloned()
            .unwrap_or(HeaderValue::from_static("application/octet-stream"));
        headers.insert(header::CONTENT_TYPE, content_type);
        // The HTTP layer checks the request body against its length, so the
        // echo has the same length: no chunked encoding needed on HTTP/1.1.
        if let Some(len) = req.headers.get(header::CONTENT_LENGTH) {
            headers.insert(header::CONTENT_LENGTH, len.clone());
        }
        Echo {
            headers: Some(headers),
            head_only: req.method == Method::HEAD,
            paused: false,
        }
    }

    /// Sends the head if not yet sent; false if the transport refused it.
    fn head(&mut self, t: &mut dyn StreamTransport) -> bool {
        match self.headers.take() {
            Some(mut headers) => {
                if self.head_only {
                    // A HEAD response has no body to echo into.
                    headers.remove(header::CONTENT_LENGTH);
                }
                respond(t, StatusCode::OK, headers)
            }
            None => true,
        }
    }

    fn hold(&mut self, t: &mut dyn StreamTransport) {
        if !self.paused {
            self.paused = true;
            t.pause_reading();
        }
    }
}

impl StreamProtocol for Echo {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if self.head_only || !self.head(t) {
            return;
        }
        t.write(data);
        if !t.writable() {
            self.hold(t);
        }
    }

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        if self.head(t) {
            t.close();
        }
    }

    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        self.hold(t);
    }

    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        if self.paused {
            self.paused = false;
            t.resume_reading();
        }
    }
}

/// `/sink`: reads the request body and drops it, then answers `200` with an
/// empty body at the request's end (the upload benchmark's target: every
/// byte is read, none is kept or sent back).
#[derive(Debug, Default)]
pub(super) struct Sink;

impl StreamProtocol for Sink {
    fn data_received(&mut self, _t: &mut dyn StreamTransport, _data: &[u8]) {}

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0u32));
        if respond(t, StatusCode::OK, headers) {
            t.close();
        }
    }
}

/// Where the chunks of a [`Streamed`] body come from.
pub(super) trait Chunks: Send {
    /// The next `len` bytes of the body (`len` ≤ [`CHUNK`]).
    fn chunk(&mut self, len: usize) -> Result<Bytes, DemoError>;
}

/// The `/bytes/N` pattern.
#[derive(Debug)]
pub(super) struct Pattern;

impl Chunks for Pattern {
    fn chunk(&mut self, len: usize) -> Result<Bytes, DemoError> {
        // Invariant: `Streamed::fill` asks for at most CHUNK bytes.
        Ok(Bytes::from_static(&PATTERN[..len.min(CHUNK)]))
    }
}

/// A file, read from its current position (the start of the range served).
#[derive(Debug)]
pub(super) struct FileChunks {
    pub(super) file: File,
    pub(super) path: PathBuf,
}

impl Chunks for FileChunks {
    fn chunk(&mut self, len: usize) -> Result<Bytes, DemoError> {
        let mut buf = vec![0u8; len];
        // A file that shrank since its length was sent ends in an error, and
        // the exchange is aborted: its head promised more bytes.
        self.file
            .read_exact(&mut buf)
            .map_err(|source| DemoError::Read {
                path: self.path.clone(),
                source,
            })?;
        Ok(Bytes::from(buf))
    }
}

/// A response of known length: the head at `connection_made`, then the body
/// in chunks of at most [`CHUNK`] bytes, written while the transport is
/// writable and again on each `resume_writing`; closed after the last byte.
/// It never holds more than one chunk.
#[derive(Debug)]
pub(super) struct Streamed<C> {
    head: Option<(StatusCode, HeaderMap)>,
    remaining: u64,
    chunks: C,
    done: bool,
}

impl Streamed<Pattern> {
    /// `/bytes/N`.
    pub(super) fn pattern(n: u64, head_only: bool) -> Streamed<Pattern> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        Streamed::new(
            StatusCode::OK,
            headers,
            if head_only { 0 } else { n },
            Pattern,
        )
    }
}

impl<C: Chunks> Streamed<C> {
    /// Sends `status` and `headers` (which carry the content length), then
    /// `len` bytes from `chunks` (0 for a HEAD request).
    pub(super) fn new(status: StatusCode, headers: HeaderMap, len: u64, chunks: C) -> Self {
        Streamed {
            head: Some((status, headers)),
            remaining: len,
            chunks,
            done: false,
        }
    }

    fn fill(&mut self, t: &mut dyn StreamTransport) {
        while !self.done && self.remaining > 0 && t.writable() {
            let len = usize::try_from(self.remaining).map_or(CHUNK, |r| r.min(CHUNK));
            match self.chunks.chunk(len) {
                Ok(data) => {
                    self.remaining = self.remaining.saturating_sub(data.len() as u64);
                    t.write_bytes(data);
                }
                Err(e) => {
                    self.done = true;
                    fail(t, e);
                    return;
                }
            }
        }
        if !self.done && self.remaining == 0 {
            self.done = true;
            t.close();
        }
    }
}

impl<C: Chunks + 'static> StreamProtocol for Streamed<C> {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        if let Some((status, headers)) = self.head.take()
            && !respond(t, status, headers)
        {
            self.done = true;
            return;
        }
        self.fill(t);
    }

    fn data_received(&mut self, _t: &mut dyn StreamTransport, _data: &[u8]) {}

    // The response goes on to its end whatever the request body does.
    fn eof_received(&mut self, _t: &mut dyn StreamTransport) {}

    fn connection_lost(&mut self, _why: &Close) {
        self.done = true;
    }

    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.fill(t);
    }
}
