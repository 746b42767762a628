//! What the simulator's tests share: a client that sends, half-closes and
//! records what it sees. (Servers use the CLI's apps: `apps::Echo`.)

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use strata::{Close, StreamProtocol, StreamTransport};

/// What a [`Client`] saw.
#[derive(Default, Debug)]
pub struct Seen {
    /// Every byte read.
    pub data: Vec<u8>,
    /// Why it closed, as text.
    pub lost: Option<String>,
    /// The layer chain at `connection_made`.
    pub chain: Vec<&'static str>,
}

/// A [`Seen`] the test keeps while the protocol runs.
pub type Shared = Arc<Mutex<Seen>>;

/// Sends `out`, half-closes, records what comes back.
pub struct Client {
    pub out: Vec<u8>,
    pub seen: Shared,
}

impl Client {
    /// A client sending `out`, and what it will see.
    pub fn new(out: Vec<u8>) -> (Box<Client>, Shared) {
        let seen = Shared::default();
        (
            Box::new(Client {
                out,
                seen: seen.clone(),
            }),
            seen,
        )
    }
}

impl StreamProtocol for Client {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        self.seen.lock().unwrap().chain = t.layer_chain();
        t.write(&self.out);
        t.write_eof();
    }
    fn data_received(&mut self, _: &mut dyn StreamTransport, d: &[u8]) {
        self.seen.lock().unwrap().data.extend_from_slice(d);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn connection_lost(&mut self, why: &Close) {
        self.seen.lock().unwrap().lost = Some(why.to_string());
    }
}
