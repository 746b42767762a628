//! File transfer, written once and run over every stream transport.
//!
//! [`Sender`] and [`Receiver`] are ordinary stream protocols: they never
//! learn what carries their bytes. The same two structs move a file over
//! `tcp://`, `tls+tcp://`, `reliable+udp://` (the reliable mapping: a
//! byte stream over UDP), `tls+reliable+udp://` and one QUIC stream
//! (`quic+udp://`): only the endpoint string changes.
//!
//! # The wire
//!
//! ```text
//! sender -> receiver   u32 header length | header | the file's bytes
//!                      header = u16 name length | name (UTF-8) | u64 size
//! receiver -> sender   u64 checksum (FNV-1a, 64 bits) of the bytes received
//! ```
//!
//! All integers are big-endian. The sender half-closes after the last
//! byte. The receiver answers once it has `size` bytes, and closes at the
//! sender's EOF; the sender compares the checksum with its own, and closes.
//! Every bound is the receiver's: a header over [`MAX_HEADER`] or a file
//! over [`ReceiverConfig::max_size`] ends the connection with a typed
//! error ([`TransferError`]), never with unbounded memory.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), strata_examples::Error> {
//! use strata_examples::file_transfer::demo;
//! let got = demo("tcp://127.0.0.1:0", "hello.txt", b"hello, file"[..].into()).await?;
//! assert_eq!((got.name.as_str(), &got.data[..]), ("hello.txt", &b"hello, file"[..]));
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use strata::endpoint::Endpoint;
use strata::{
    AbortReason, Close, Fault, LayerError, StackConfig, StreamFactory, StreamProtocol,
    StreamTransport,
};
use strata_tokio::{ListenConfig, Listening, Server};
use tokio::sync::{mpsc, oneshot};

use crate::{endpoint, reach, Error};

/// The longest header the receiver accepts (bytes, its length prefix
/// excluded).
pub const MAX_HEADER: usize = 4096;

/// The largest file a receiver accepts by default: 64 MiB.
pub const DEFAULT_MAX_SIZE: u64 = 64 << 20;

/// How much the sender hands its transport per write.
const CHUNK: usize = 64 * 1024;

/// The layer name in the close reasons of these protocols.
const LAYER: &str = "file-transfer";

/// The 64-bit FNV-1a hash, the transfer's checksum: it catches corruption,
/// not an attacker (TLS does that part).
///
/// ```
/// use strata_examples::file_transfer::Checksum;
/// let mut c = Checksum::new();
/// c.update(b"a");
/// assert_eq!(c.value(), 0xaf63_dc4c_8601_ec8c);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Checksum(u64);

impl Checksum {
    /// The checksum of nothing.
    pub fn new() -> Checksum {
        Checksum(0xcbf2_9ce4_8422_2325)
    }
    /// Adds `data`.
    pub fn update(&mut self, data: &[u8]) {
        for b in data {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    /// The checksum so far.
    pub fn value(self) -> u64 {
        self.0
    }
    /// The checksum of `data`.
    pub fn of(data: &[u8]) -> u64 {
        let mut c = Checksum::new();
        c.update(data);
        c.value()
    }
}

impl Default for Checksum {
    fn default() -> Self {
        Checksum::new()
    }
}

/// What went wrong in a transfer: the peer broke the protocol, or a
/// receiver's limit was hit.
///
/// ```
/// use strata_examples::file_transfer::TransferError;
/// let e = TransferError::TooLarge { size: 10, limit: 5 };
/// assert_eq!(e.to_string(), "a file of 10 bytes is over the limit of 5");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferError {
    /// The header announced is longer than [`MAX_HEADER`].
    HeaderTooLarge(usize),
    /// The header does not parse (short, or a name that is not UTF-8).
    BadHeader,
    /// The announced size is over the receiver's limit.
    TooLarge {
        /// The announced size.
        size: u64,
        /// The receiver's limit.
        limit: u64,
    },
    /// Bytes after the end of the file.
    Trailing,
    /// The stream ended before the file (or the answer) was complete.
    Truncated,
    /// The receiver's checksum is not the sender's.
    ChecksumMismatch {
        /// The sender's.
        sent: u64,
        /// The receiver's.
        received: u64,
    },
}

impl std::fmt::Display for TransferError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransferError::HeaderTooLarge(n) => {
                write!(f, "a header of {n} bytes is over the limit of {MAX_HEADER}")
            }
            TransferError::BadHeader => write!(f, "malformed header"),
            TransferError::TooLarge { size, limit } => {
                write!(f, "a file of {size} bytes is over the limit of {limit}")
            }
            TransferError::Trailing => write!(f, "bytes after the end of the file"),
            TransferError::Truncated => write!(f, "the stream ended early"),
            TransferError::ChecksumMismatch { sent, received } => {
                write!(f, "checksum {received:016x} received, {sent:016x} sent")
            }
        }
    }
}

impl std::error::Error for TransferError {}

impl LayerError for TransferError {
    fn kind(&self) -> Fault {
        match self {
            TransferError::HeaderTooLarge(_) | TransferError::TooLarge { .. } => Fault::LocalLimit,
            _ => Fault::PeerMisbehaved,
        }
    }
}

/// Ends the connection with `e` as its typed reason.
fn fail(t: &mut dyn StreamTransport, e: TransferError) {
    t.abort(Close::aborted(LAYER, AbortReason::layer(e)))
}

/// The sending side: sends one file, then waits for the checksum.
pub struct Sender {
    header: Bytes,
    data: Bytes,
    sent: usize,
    eof_sent: bool,
    checksum: u64,
    answer: BytesMut,
    done: Option<oneshot::Sender<Result<u64, Close>>>,
}

impl Sender {
    /// A sender of `data` under `name`; the receiver gets the checksum the
    /// receiver acknowledged (equal to the sender's, or the connection ends
    /// with [`TransferError::ChecksumMismatch`]).
    pub fn new(name: &str, data: Bytes) -> (Sender, oneshot::Receiver<Result<u64, Close>>) {
        let mut header = Vec::with_capacity(14 + name.len());
        let body_len = 2 + name.len() + 8;
        header.extend_from_slice(&(body_len as u32).to_be_bytes());
        header.extend_from_slice(&(name.len() as u16).to_be_bytes());
        header.extend_from_slice(name.as_bytes());
        header.extend_from_slice(&(data.len() as u64).to_be_bytes());
        let (tx, rx) = oneshot::channel();
        let sender = Sender {
            header: header.into(),
            checksum: Checksum::of(&data),
            data,
            sent: 0,
            eof_sent: false,
            answer: BytesMut::new(),
            done: Some(tx),
        };
        (sender, rx)
    }

    /// Writes while the transport takes more: back-pressure. When the stack
    /// below is full, `writable()` turns false and the rest waits for
    /// `resume_writing`; memory stays bounded on every transport.
    fn pump(&mut self, t: &mut dyn StreamTransport) {
        while self.sent < self.data.len() && t.writable() {
            let end = self.data.len().min(self.sent + CHUNK);
            t.write_bytes(self.data.slice(self.sent..end)); // no copy
            self.sent = end;
        }
        if self.sent == self.data.len() && !self.eof_sent {
            // Half-close: the file is all sent; the answer still comes back.
            self.eof_sent = true;
            t.write_eof();
        }
    }
}

impl StreamProtocol for Sender {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        t.write_bytes(self.header.clone());
        self.pump(t);
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.pump(t);
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.answer.extend_from_slice(data);
        if self.answer.len() > 8 {
            return fail(t, TransferError::Trailing);
        }
        if self.answer.len() < 8 {
            return;
        }
        let received = self.answer.get_u64();
        if received != self.checksum {
            let e = TransferError::ChecksumMismatch {
                sent: self.checksum,
                received,
            };
            return fail(t, e);
        }
        if let Some(done) = self.done.take() {
            let _ = done.send(Ok(received));
        }
        t.close();
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        if self.done.is_some() {
            return fail(t, TransferError::Truncated);
        }
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        if let Some(done) = self.done.take() {
            let _ = done.send(Err(why.clone()));
        }
    }
}

/// A file as the receiver got it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The name the sender gave.
    pub name: String,
    /// The bytes.
    pub data: Bytes,
    /// The layers it came through, top first (`["tls", "reliable", "udp"]`):
    /// the protocol did not need to know them, but it can ask.
    pub chain: Vec<&'static str>,
}

/// A receiver's settings.
///
/// ```
/// let cfg = strata_examples::file_transfer::ReceiverConfig::default();
/// assert_eq!(cfg.max_size, 64 << 20);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ReceiverConfig {
    /// The largest file accepted (default [`DEFAULT_MAX_SIZE`]); the file is
    /// held in memory, so this bounds a connection's memory.
    pub max_size: u64,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            max_size: DEFAULT_MAX_SIZE,
        }
    }
}

/// Where the receiver is in the exchange: as the wire reads.
enum State {
    /// Reading the length-prefixed header.
    Header,
    /// Reading the file's bytes.
    Body {
        name: String,
        size: u64,
        checksum: Checksum,
    },
    /// Answered; nothing more may arrive.
    Answered,
}

/// The receiving side: reads one file, answers its checksum, hands the
/// file to its inbox and closes.
pub struct Receiver {
    cfg: ReceiverConfig,
    state: State,
    /// Input not yet parsed (the header), or the file so far (the body).
    buf: BytesMut,
    /// The layer chain below, from `connection_made`.
    chain: Vec<&'static str>,
    inbox: mpsc::UnboundedSender<Received>,
}

impl Receiver {
    /// A receiver that puts each file it gets in `inbox`.
    pub fn new(cfg: ReceiverConfig, inbox: mpsc::UnboundedSender<Received>) -> Receiver {
        Receiver {
            cfg,
            state: State::Header,
            buf: BytesMut::new(),
            chain: Vec::new(),
            inbox,
        }
    }

    /// Parses the header once it is complete; `Ok(false)`: not yet.
    fn header(&mut self) -> Result<bool, TransferError> {
        if self.buf.len() < 4 {
            return Ok(false);
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len > MAX_HEADER {
            return Err(TransferError::HeaderTooLarge(len));
        }
        if self.buf.len() < 4 + len {
            return Ok(false);
        }
        self.buf.advance(4);
        let mut h = self.buf.split_to(len);
        if h.len() < 2 {
            return Err(TransferError::BadHeader);
        }
        let name_len = usize::from(h.get_u16());
        if h.len() != name_len + 8 {
            return Err(TransferError::BadHeader);
        }
        let name = std::str::from_utf8(&h[..name_len]).map_err(|_| TransferError::BadHeader)?;
        let name = name.to_string();
        h.advance(name_len);
        let size = h.get_u64();
        if size > self.cfg.max_size {
            let limit = self.cfg.max_size;
            return Err(TransferError::TooLarge { size, limit });
        }
        self.state = State::Body {
            name,
            size,
            checksum: Checksum::new(),
        };
        Ok(true)
    }
}

impl StreamProtocol for Receiver {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.chain = t.layer_chain();
    }
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        if let State::Answered = self.state {
            return fail(t, TransferError::Trailing);
        }
        self.buf.extend_from_slice(data);
        if let State::Header = self.state {
            match self.header() {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => return fail(t, e),
            }
        }
        let State::Body {
            name,
            size,
            checksum,
        } = &mut self.state
        else {
            return;
        };
        // The body bytes of this input (after the header, if it came with it).
        let before = self.buf.len() - data.len().min(self.buf.len());
        checksum.update(&self.buf[before..]);
        if self.buf.len() as u64 > *size {
            return fail(t, TransferError::Trailing);
        }
        if (self.buf.len() as u64) < *size {
            return;
        }
        t.write(&checksum.value().to_be_bytes());
        let file = Received {
            name: std::mem::take(name),
            data: std::mem::take(&mut self.buf).freeze(),
            chain: std::mem::take(&mut self.chain),
        };
        self.state = State::Answered;
        let _ = self.inbox.send(file);
        // Closing now would also stop the sender's side before its EOF
        // (a QUIC stream answers that with STOP_SENDING): wait for it.
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        match self.state {
            State::Answered => t.close(),
            _ => fail(t, TransferError::Truncated),
        }
    }
}

/// Serves a [`Receiver`] on `ep` (any stream endpoint) for each connection;
/// every file received goes to `inbox`.
pub async fn serve(
    server: &Server,
    ep: &Endpoint,
    cfg: ReceiverConfig,
    inbox: mpsc::UnboundedSender<Received>,
) -> Result<Listening, Error> {
    let factory: StreamFactory = Arc::new(move || Box::new(Receiver::new(cfg, inbox.clone())));
    Ok(server.listen(ep, factory, ListenConfig::default()).await?)
}

/// Connects to `to`, sends `data` as `name`; returns the checksum the
/// receiver acknowledged.
pub async fn send(to: &Endpoint, name: &str, data: Bytes) -> Result<u64, Error> {
    let (sender, acked) = Sender::new(name, data);
    let conn =
        strata_tokio::connect(to, Box::new(sender), Arc::new(StackConfig::default())).await?;
    let acked = acked.await.map_err(|_| "the sender was dropped")?;
    conn.closed().await;
    Ok(acked?)
}

/// Listens on `listen`, sends `data` as `name` to itself, and returns the
/// file as received (after checking the acknowledged checksum).
pub async fn demo(listen: &str, name: &str, data: Bytes) -> Result<Received, Error> {
    let server = Server::new();
    let (inbox, mut files) = mpsc::unbounded_channel();
    let l = serve(
        &server,
        &endpoint(listen)?,
        ReceiverConfig::default(),
        inbox,
    )
    .await?;
    let acked = send(&reach::dial(&l)?, name, data).await;
    let file = files.recv().await;
    // Everything is answered: a short drain. (Over `reliable+udp://` the
    // socket lingers in its closing period, which the drain cuts short.)
    server.shutdown(Duration::from_millis(100)).await;
    let acked = acked?;
    let file = file.ok_or("nothing received")?;
    if acked != Checksum::of(&file.data) {
        return Err("the checksum acknowledged is not the file's".into());
    }
    Ok(file)
}
