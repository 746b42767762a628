//! Chat: a line-based chat room, written once as a stream protocol over
//! the `lines` framing layer, served on any endpoint.
//!
//! Each connection is a [`Member`]: its first line is the member's name,
//! every later line goes to everyone else as `name: text`. Joins and leaves
//! are announced as `* name joined` / `* name left`. Try it by hand with
//! `cargo run -p strata-examples --example chat -- serve` and a few
//! `nc 127.0.0.1 PORT`.
//!
//! # How the connections talk to each other
//!
//! Every connection runs in its own task, possibly on another thread, and a
//! protocol only ever writes to its *own* transport. So the members share a
//! [`Room`] (a mutex around each member's outbox and its [`Wake`] handle).
//! To send to Bob, Alice's connection pushes the line on Bob's outbox and
//! wakes Bob: the driver then calls Bob's `on_wake`, which writes the
//! outbox to Bob's transport, as much as it takes (`writable()`); the rest
//! waits for `resume_writing`. No connection ever touches another's
//! transport, and a member who stops reading is dropped once
//! [`MAX_BACKLOG`] lines wait for it, so memory stays bounded.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), strata_examples::Error> {
//! let server = strata_tokio::Server::new();
//! let ep = strata_examples::endpoint("tcp://127.0.0.1:0")?;
//! let l = strata_examples::chat::serve(&server, &ep, strata_examples::chat::Room::new()).await?;
//! println!("chat on {}", l.endpoint());
//! server.shutdown(std::time::Duration::ZERO).await;
//! # Ok(()) }
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use strata::endpoint::Endpoint;
use strata::framing::{send_line, Delimiter, LineProtocol, Lines, LinesConfig};
use strata::{AbortReason, Close, StreamFactory, StreamProtocol, StreamTransport, Wake, WakeRoute};
use strata_tokio::{ListenConfig, Listening, Server};

use crate::Error;

/// The longest line a member may send (bytes, newline excluded): a longer
/// one ends that member's connection (`AbortReason::LineTooLong`).
pub const MAX_LINE: usize = 1024;

/// How many lines may wait for a member that does not read: past it, the
/// member is dropped (`AbortReason::SlowPeer`), so one stalled client
/// cannot make the server buffer without bound.
pub const MAX_BACKLOG: usize = 1000;

/// The room: who is in it, and what waits to be written to each.
#[derive(Clone, Default)]
pub struct Room(Arc<Mutex<Members>>);

#[derive(Default)]
struct Members {
    next_id: u64,
    by_id: HashMap<u64, Seat>,
}

/// One member's place in the room.
struct Seat {
    /// `None` until the member has said its name.
    name: Option<String>,
    outbox: VecDeque<Vec<u8>>,
    /// More than [`MAX_BACKLOG`] lines were waiting.
    overflowed: bool,
    /// Reaches the member's connection: its `on_wake` runs soon after.
    wake: Wake,
}

impl Room {
    /// An empty room.
    pub fn new() -> Room {
        Room::default()
    }

    /// The names of the members who have said theirs, sorted.
    ///
    /// ```
    /// assert!(strata_examples::chat::Room::new().names().is_empty());
    /// ```
    pub fn names(&self) -> Vec<String> {
        let m = self.lock();
        let mut names: Vec<String> = m.by_id.values().filter_map(|s| s.name.clone()).collect();
        names.sort();
        names
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Members> {
        // A panic elsewhere poisons the lock; the room's data is still whole.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn join(&self, wake: Wake) -> u64 {
        let mut m = self.lock();
        let id = m.next_id;
        m.next_id += 1;
        let seat = Seat {
            name: None,
            outbox: VecDeque::new(),
            overflowed: false,
            wake,
        };
        m.by_id.insert(id, seat);
        id
    }

    /// Queues `line` for every named member except `from`, and wakes them.
    fn broadcast(&self, from: u64, line: &[u8]) {
        let mut m = self.lock();
        for (id, seat) in m.by_id.iter_mut() {
            if *id == from || seat.name.is_none() {
                continue;
            }
            if seat.outbox.len() >= MAX_BACKLOG {
                seat.overflowed = true;
            } else {
                seat.outbox.push_back(line.to_vec());
            }
            seat.wake.wake();
        }
    }

    /// Leaves the room; returns the member's name if it had said it.
    fn leave(&self, id: u64) -> Option<String> {
        self.lock().by_id.remove(&id).and_then(|s| s.name)
    }
}

/// One connection of the chat: a [`LineProtocol`], run by a [`Lines`] layer
/// that cuts the byte stream into lines.
pub struct Member {
    room: Room,
    /// Set once joined (in `connection_made`).
    id: Option<u64>,
}

impl Member {
    /// A member of `room`, wrapped in the `lines` layer (`\n`-terminated
    /// lines of at most [`MAX_LINE`] bytes): the stream protocol a listener
    /// runs for each connection.
    pub fn protocol(room: Room) -> Box<dyn StreamProtocol> {
        let cfg = LinesConfig {
            delimiter: Delimiter::LF,
            max_line: MAX_LINE,
        };
        Box::new(Lines::with_config(Member { room, id: None }, cfg))
    }

    /// Moves this member's outbox to its transport while the transport
    /// takes more (`writable()`): a member that does not read keeps its
    /// lines in the outbox, where [`MAX_BACKLOG`] bounds them.
    fn flush(&mut self, t: &mut dyn StreamTransport) {
        let Some(id) = self.id else { return };
        let mut m = self.room.lock();
        let Some(seat) = m.by_id.get_mut(&id) else {
            return;
        };
        if seat.overflowed {
            drop(m);
            self.leave();
            return t.abort(Close::aborted("chat", AbortReason::SlowPeer));
        }
        while t.writable() {
            let Some(line) = seat.outbox.pop_front() else {
                break;
            };
            send_line(t, &line);
        }
    }

    fn leave(&mut self) {
        if let Some(name) = self.id.take().and_then(|id| self.room.leave(id)) {
            // Sent from no one: `u64::MAX` is never an id.
            self.room
                .broadcast(u64::MAX, format!("* {name} left").as_bytes());
        }
    }
}

impl LineProtocol for Member {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        // The waker reaches this connection's `on_wake` from any thread.
        self.id = Some(self.room.join(t.waker()));
        send_line(t, b"* welcome! your name?");
    }

    fn line_received(&mut self, t: &mut dyn StreamTransport, line: &[u8]) {
        let Some(id) = self.id else { return };
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        let mut m = self.room.lock();
        let Some(seat) = m.by_id.get_mut(&id) else {
            return;
        };
        match seat.name.clone() {
            None => {
                let name = if text.is_empty() {
                    format!("guest{id}")
                } else {
                    text.to_string()
                };
                seat.name = Some(name.clone());
                drop(m);
                send_line(t, format!("* hello {name}").as_bytes());
                self.room
                    .broadcast(id, format!("* {name} joined").as_bytes());
            }
            Some(name) => {
                drop(m);
                self.room
                    .broadcast(id, format!("{name}: {text}").as_bytes());
            }
        }
    }

    fn on_wake(&mut self, t: &mut dyn StreamTransport, _route: WakeRoute<'_>) {
        self.flush(t);
    }

    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        // The transport drained below its low mark: write what waited.
        self.flush(t);
    }

    fn eof_received(&mut self, t: &mut dyn StreamTransport, _unterminated: &[u8]) {
        self.leave();
        t.close();
    }

    fn connection_lost(&mut self, _why: &Close) {
        // Also reached after an abort or a reset: leave in every case.
        self.leave();
    }
}

/// Serves the chat room `room` on `ep` (any stream endpoint).
pub async fn serve(server: &Server, ep: &Endpoint, room: Room) -> Result<Listening, Error> {
    let factory: StreamFactory = Arc::new(move || Member::protocol(room.clone()));
    Ok(server.listen(ep, factory, ListenConfig::default()).await?)
}
