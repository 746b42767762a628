//! The demo apps `strata serve` runs over any stream stack: the classic
//! `echo` (RFC 862), `discard` (RFC 863) and `chargen` (RFC 864), and a
//! line-based `chat` room.
//!
//! Each app is a plain [`StreamProtocol`](strata::StreamProtocol) with a [`StreamFactory`], and each obeys
//! back-pressure, so a client that never reads cannot grow the server's
//! memory: `echo` pauses reading while its transport is not writable,
//! `chargen` writes only while it is writable, and `chat` keeps a bounded
//! inbox per member and aborts a member that stays stuck (see [`chat`]).
//!
//! ```
//! use strata::Stack;
//! let factory = strata_cli::apps::by_name("echo").unwrap();
//! let mut s = Stack::memory(factory());
//! let now = s.now();
//! s.handle_input(now, b"ping");
//! assert_eq!(s.take_output(now), b"ping");
//! ```

use strata::StreamFactory;

pub mod chargen;
pub mod chat;
pub mod datagram;
pub mod discard;
pub mod echo;
pub mod http;

pub use chargen::Chargen;
pub use chat::{ChatConfig, ChatMember, ChatRoom, MemberStats};
pub use datagram::{datagram_by_name, DatagramDiscard, DatagramEcho};
pub use discard::Discard;
pub use echo::Echo;

/// The names [`by_name`] knows.
pub const NAMES: &[&str] = &["echo", "discard", "chargen", "chat"];

/// The factory of the app called `name`; `chat` gets a new room with the
/// default [`ChatConfig`], shared by every connection the factory serves.
///
/// ```
/// assert!(strata_cli::apps::by_name("chat").is_some());
/// assert!(strata_cli::apps::by_name("daytime").is_none());
/// ```
pub fn by_name(name: &str) -> Option<StreamFactory> {
    match name {
        "echo" => Some(Echo::factory()),
        "discard" => Some(Discard::factory()),
        "chargen" => Some(Chargen::factory()),
        "chat" => Some(ChatRoom::new(ChatConfig::default()).factory()),
        _ => None,
    }
}
