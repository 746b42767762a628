//! [`ChatMember`]: the protocol of one connection in a chat room.

use std::time::Instant;

use bytes::Bytes;
use strata::{AbortReason, Addr, Close, PeerAddr, StreamProtocol, StreamTransport, WakeRoute};

use super::{ChatRoom, MemberId};

/// One connection's protocol in a [`ChatRoom`]: splits its input into lines
/// and broadcasts them, drains its inbox into its transport when woken, and
/// aborts itself when it stays stuck for the room's stall timeout.
///
/// ```
/// use strata::Stack;
/// use strata_cli::apps::{ChatConfig, ChatRoom};
/// let room = ChatRoom::new(ChatConfig::default());
/// let mut s = Stack::memory(Box::new(room.member()));
/// assert_eq!(s.take_output(s.now()), b"*** welcome memory:2#1, 0 others here\n");
/// ```
#[derive(Debug)]
pub struct ChatMember {
    room: ChatRoom,
    /// Set in `connection_made`.
    id: Option<MemberId>,
    name: String,
    /// The line being received.
    line: Vec<u8>,
    /// Since when the inbox has been stuck (not empty, transport full, no
    /// progress).
    stalled_since: Option<Instant>,
}

impl ChatMember {
    pub(super) fn new(room: ChatRoom) -> Self {
        ChatMember {
            room,
            id: None,
            name: String::new(),
            line: Vec::new(),
            stalled_since: None,
        }
    }

    fn say(&self, msg: Bytes) {
        if let Some(id) = self.id {
            let limit = self.room.config().inbox_limit;
            self.room.lock().broadcast(id, &msg, limit);
        }
    }

    fn said(&self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return;
        }
        let mut msg = Vec::with_capacity(self.name.len() + line.len() + 3);
        msg.extend_from_slice(self.name.as_bytes());
        msg.extend_from_slice(b": ");
        msg.extend(line.iter().map(|&c| match c {
            b'\t' => c,
            c if c < 0x20 || c == 0x7f => b'?',
            c => c,
        }));
        msg.push(b'\n');
        self.say(msg.into());
    }

    /// Writes from the inbox while the transport takes it, then updates the
    /// stall clock.
    fn drain(&mut self, t: &mut dyn StreamTransport) {
        let Some(id) = self.id else {
            return;
        };
        let mut wrote = false;
        let stuck = {
            let mut room = self.room.lock();
            let Some(m) = room.members.get_mut(&id) else {
                return;
            };
            while t.writable() {
                let Some(msg) = m.pop() else {
                    break;
                };
                t.write_bytes(msg);
                wrote = true;
            }
            !m.inbox.is_empty()
        };
        self.stalled_since = match (stuck, wrote) {
            (false, _) => None,
            (true, true) => Some(t.now()),
            (true, false) => Some(self.stalled_since.unwrap_or(t.now())),
        };
    }

    fn too_long(&self, t: &mut dyn StreamTransport) {
        let limit = self.room.config().max_line;
        t.abort(Close::aborted("chat", AbortReason::LineTooLong { limit }));
    }
}

impl StreamProtocol for ChatMember {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        let peer = t.get::<PeerAddr>().map(|p| p.0.clone());
        let wake = t.waker();
        let (id, name, others) = {
            let mut room = self.room.lock();
            let (id, name) = room.join(|id| member_name(peer.as_ref(), id), wake);
            (id, name, room.members.len() - 1)
        };
        self.id = Some(id);
        self.name = name;
        let s = if others == 1 { "" } else { "s" };
        t.write(format!("*** welcome {}, {others} other{s} here\n", self.name).as_bytes());
        self.say(Bytes::from(format!("*** {} joined\n", self.name)));
    }

    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let max = self.room.config().max_line;
        let mut rest = data;
        while let Some(nl) = rest.iter().position(|&c| c == b'\n') {
            let (head, tail) = (&rest[..nl], &rest[nl + 1..]);
            rest = tail;
            let line = if self.line.is_empty() {
                head
            } else {
                self.line.extend_from_slice(head);
                &self.line[..]
            };
            let content = line.strip_suffix(b"\r").unwrap_or(line).len();
            if content > max {
                return self.too_long(t);
            }
            if self.line.is_empty() {
                self.said(head);
            } else {
                let line = std::mem::take(&mut self.line);
                self.said(&line);
            }
        }
        // Room for a trailing '\r' whose '\n' is still to come.
        if self.line.len() + rest.len() > max + 1 {
            return self.too_long(t);
        }
        self.line.extend_from_slice(rest);
    }

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            if line.strip_suffix(b"\r").unwrap_or(&line).len() <= self.room.config().max_line {
                self.said(&line);
            }
        }
        t.close();
    }

    fn connection_lost(&mut self, _why: &Close) {
        let Some(id) = self.id.take() else {
            return;
        };
        let msg = Bytes::from(format!("*** {} left\n", self.name));
        let limit = self.room.config().inbox_limit;
        let mut room = self.room.lock();
        room.leave(id);
        room.broadcast(id, &msg, limit);
    }

    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.drain(t);
    }

    fn on_wake(&mut self, t: &mut dyn StreamTransport, _route: WakeRoute<'_>) {
        self.drain(t);
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.stalled_since
            .map(|since| since + self.room.config().stall_timeout)
    }

    fn on_deadline(&mut self, t: &mut dyn StreamTransport) {
        self.drain(t);
        if self.next_deadline().is_some_and(|d| d <= t.now()) {
            t.abort(Close::aborted("chat", AbortReason::SlowPeer));
        }
    }
}

fn member_name(peer: Option<&Addr>, id: MemberId) -> String {
    match peer {
        Some(a @ Addr::Inet(_)) => a.to_string(),
        Some(a) => format!("{a}#{id}"),
        None => format!("guest#{id}"),
    }
}
