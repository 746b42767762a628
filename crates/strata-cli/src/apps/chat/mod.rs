//! `chat`: a line-based room where every line goes to every other member.
//!
//! Members share a [`ChatRoom`] (`Arc<Mutex<_>>`: apps are not layers, so a
//! std lock is fine). A line from one member is pushed into every other
//! member's **inbox** and that member's [`Wake`] handle is woken; the
//! member's protocol then drains its inbox into its own transport from
//! `on_wake` (and from `resume_writing`), while `t.writable()`.
//!
//! # A member that does not read
//!
//! * Its inbox is bounded by [`ChatConfig::inbox_limit`]: a message that
//!   would not fit is dropped and counted, and when the member drains to
//!   that point it reads `*** you missed N messages`.
//! * What it holds is therefore at most `inbox_limit` in the room plus the
//!   stack's high-water mark plus one message in its transport.
//! * If it stays unable to drain (inbox not empty, transport not writable,
//!   no progress) for [`ChatConfig::stall_timeout`], it is aborted with
//!   `Close::aborted("chat", AbortReason::SlowPeer)`. Time is `t.now()`.
//!
//! Lines end with LF or CRLF and hold at most [`ChatConfig::max_line`]
//! bytes; a longer one aborts its sender with `AbortReason::LineTooLong`.
//! Control characters other than tab are shown as `?`. Joins and leaves
//! are announced as `*** NAME joined` / `*** NAME left`, where NAME is the
//! member's peer address (with `#id` added for non-IP peers such as Unix
//! sockets, whose addresses do not tell clients apart).
//!
//! ```
//! use strata::Stack;
//! use strata_cli::apps::{ChatConfig, ChatRoom};
//! let room = ChatRoom::new(ChatConfig::default());
//! let mut a = Stack::memory(Box::new(room.member()));
//! let mut b = Stack::memory(Box::new(room.member()));
//! let now = a.now();
//! a.take_output(now);
//! b.take_output(now);
//! a.handle_input(now, b"hello\r\n");
//! b.handle_wakes(now);
//! assert_eq!(b.take_output(now), b"memory:2#1: hello\n");
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use strata::Wake;

use strata::StreamFactory;

mod member;

pub use member::ChatMember;

/// Limits of a chat room. Every bound on memory is here.
///
/// ```
/// use strata_cli::apps::ChatConfig;
/// let cfg = ChatConfig::default();
/// assert_eq!(cfg.inbox_limit, 64 * 1024);
/// assert_eq!(cfg.max_line, 4096);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatConfig {
    /// Bytes a member's inbox may hold before messages for it are dropped
    /// (default 64 KiB).
    pub inbox_limit: usize,
    /// How long a member may stay unable to drain its inbox before it is
    /// aborted with `SlowPeer` (default 30 s).
    pub stall_timeout: Duration,
    /// Longest line accepted, without its line ending (default 4 KiB).
    pub max_line: usize,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            inbox_limit: 64 * 1024,
            stall_timeout: Duration::from_secs(30),
            max_line: 4096,
        }
    }
}

/// A room: the members and their inboxes. Cloning gives another handle to
/// the same room.
///
/// ```
/// use strata::Stack;
/// use strata_cli::apps::{ChatConfig, ChatRoom};
/// let room = ChatRoom::new(ChatConfig::default());
/// let factory = room.factory();
/// let _a = Stack::memory(factory());
/// assert_eq!(room.stats().len(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct ChatRoom {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    cfg: ChatConfig,
    room: Mutex<Room>,
}

/// What the room holds for one member, for monitoring and tests.
///
/// ```
/// use strata_cli::apps::{ChatConfig, ChatRoom};
/// assert!(ChatRoom::new(ChatConfig::default()).stats().is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStats {
    /// The name other members see.
    pub name: String,
    /// Bytes waiting in the member's inbox.
    pub inbox_bytes: usize,
    /// Messages dropped for this member since it joined.
    pub dropped: u64,
}

impl ChatRoom {
    /// An empty room.
    pub fn new(cfg: ChatConfig) -> Self {
        ChatRoom {
            shared: Arc::new(Shared {
                cfg,
                room: Mutex::new(Room::default()),
            }),
        }
    }

    /// The room's limits.
    pub fn config(&self) -> &ChatConfig {
        &self.shared.cfg
    }

    /// A protocol for one connection; it joins in `connection_made`.
    pub fn member(&self) -> ChatMember {
        ChatMember::new(self.clone())
    }

    /// A factory of members of this room.
    pub fn factory(&self) -> StreamFactory {
        let room = self.clone();
        Arc::new(move || Box::new(room.member()))
    }

    /// One entry per member, in the order they joined.
    pub fn stats(&self) -> Vec<MemberStats> {
        self.lock()
            .members
            .values()
            .map(|m| MemberStats {
                name: m.name.clone(),
                inbox_bytes: m.inbox_bytes,
                dropped: m.dropped,
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Room> {
        // Poisoning needs a panic while the lock is held; nothing under it
        // panics, and the room stays consistent at every await-free step.
        self.shared.room.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Member id, unique within a room.
type MemberId = u64;

#[derive(Debug, Default)]
struct Room {
    members: BTreeMap<MemberId, Member>,
    next_id: MemberId,
}

#[derive(Debug)]
struct Member {
    name: String,
    wake: Wake,
    inbox: VecDeque<Entry>,
    inbox_bytes: usize,
    dropped: u64,
}

/// One thing waiting for a member: a message, or the place where a run of
/// dropped messages would have been.
#[derive(Debug)]
enum Entry {
    Message(Bytes),
    Missed(u64),
}

impl Room {
    fn join(&mut self, name: impl FnOnce(MemberId) -> String, wake: Wake) -> (MemberId, String) {
        self.next_id += 1;
        let id = self.next_id;
        let name = name(id);
        let m = Member {
            name: name.clone(),
            wake,
            inbox: VecDeque::new(),
            inbox_bytes: 0,
            dropped: 0,
        };
        self.members.insert(id, m);
        (id, name)
    }

    fn leave(&mut self, id: MemberId) -> Option<Member> {
        self.members.remove(&id)
    }

    /// Pushes `msg` to every member but `from`, dropping it for those whose
    /// inbox it would take over `limit`.
    fn broadcast(&mut self, from: MemberId, msg: &Bytes, limit: usize) {
        for (_, m) in self.members.iter_mut().filter(|(id, _)| **id != from) {
            m.deliver(msg, limit);
        }
    }
}

impl Member {
    fn deliver(&mut self, msg: &Bytes, limit: usize) {
        if self.inbox_bytes + msg.len() > limit {
            self.dropped += 1;
            match self.inbox.back_mut() {
                Some(Entry::Missed(n)) => *n += 1,
                _ => self.inbox.push_back(Entry::Missed(1)),
            }
            return;
        }
        self.inbox_bytes += msg.len();
        self.inbox.push_back(Entry::Message(msg.clone()));
        self.wake.wake();
    }

    fn pop(&mut self) -> Option<Bytes> {
        Some(match self.inbox.pop_front()? {
            Entry::Message(b) => {
                self.inbox_bytes -= b.len();
                b
            }
            Entry::Missed(n) => {
                let s = if n == 1 { "" } else { "s" };
                Bytes::from(format!("*** you missed {n} message{s}\n"))
            }
        })
    }
}
