//! `strata connect`: a protocol that joins a stack to stdin and stdout, with
//! back-pressure both ways.
//!
//! Two helper threads do the blocking I/O (a protocol never blocks): one reads
//! stdin into a bounded queue and wakes the protocol; one writes what the
//! protocol received to stdout from another bounded queue, and wakes the
//! protocol when it drains so that reading resumes.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{Arc, Condvar, Mutex};

use strata::{Close, StreamProtocol, StreamTransport, Wake, WakeRoute};
use tokio::sync::oneshot;

/// How much of each direction may wait in memory.
const QUEUE_LIMIT: usize = 256 * 1024;

#[derive(Default)]
struct Queue {
    chunks: VecDeque<Vec<u8>>,
    bytes: usize,
    eof: bool,
    /// The protocol is gone: the threads stop.
    closed: bool,
}

#[derive(Default)]
struct Shared {
    q: Mutex<Queue>,
    cv: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.q.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The protocol at the top of the `connect` stack.
pub struct Stdio {
    stdin: Arc<Shared>,
    stdout: Arc<Shared>,
    wake: Arc<Mutex<Option<Wake>>>,
    done: Option<oneshot::Sender<Close>>,
    paused: bool,
    eof_sent: bool,
}

impl Stdio {
    /// A protocol, the receiver that gets the connection's close reason, and
    /// the stdout thread to join before exiting (it drains what is queued).
    pub fn new() -> (Self, oneshot::Receiver<Close>, std::thread::JoinHandle<()>) {
        let (tx, rx) = oneshot::channel();
        let me = Stdio {
            stdin: Arc::default(),
            stdout: Arc::default(),
            wake: Arc::default(),
            done: Some(tx),
            paused: false,
            eof_sent: false,
        };
        let (q, wake) = (me.stdin.clone(), me.wake.clone());
        std::thread::spawn(move || read_stdin(&q, &wake));
        let (q, wake) = (me.stdout.clone(), me.wake.clone());
        let out = std::thread::spawn(move || write_stdout(&q, &wake));
        (me, rx, out)
    }

    /// Moves stdin's queue into the transport while it is writable.
    fn pump_stdin(&mut self, t: &mut dyn StreamTransport) {
        let mut q = self.stdin.lock();
        while t.writable() {
            let Some(c) = q.chunks.pop_front() else { break };
            q.bytes -= c.len();
            t.write(&c);
        }
        if q.chunks.is_empty() && q.eof && !self.eof_sent {
            self.eof_sent = true;
            t.write_eof();
        }
        drop(q);
        self.stdin.cv.notify_all();
    }
}

fn read_stdin(q: &Shared, wake: &Mutex<Option<Wake>>) {
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => 0,
        };
        {
            let mut g = q.lock();
            while g.bytes >= QUEUE_LIMIT && !g.closed {
                g = q.cv.wait(g).unwrap_or_else(|e| e.into_inner());
            }
            if g.closed {
                return;
            }
            if n == 0 {
                g.eof = true;
            } else {
                g.bytes += n;
                g.chunks.push_back(buf[..n].to_vec());
            }
        }
        if let Some(w) = wake.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            w.wake();
        }
        if n == 0 {
            return;
        }
    }
}

fn write_stdout(q: &Shared, wake: &Mutex<Option<Wake>>) {
    let mut out = std::io::stdout().lock();
    loop {
        let chunk = {
            let mut g = q.lock();
            while g.chunks.is_empty() && !g.closed {
                g = q.cv.wait(g).unwrap_or_else(|e| e.into_inner());
            }
            match g.chunks.pop_front() {
                Some(c) => {
                    g.bytes -= c.len();
                    c
                }
                None => return,
            }
        };
        if out.write_all(&chunk).and_then(|_| out.flush()).is_err() {
            q.lock().closed = true;
            return;
        }
        if let Some(w) = wake.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            w.wake();
        }
    }
}

impl Stdio {
    /// Tells both threads to stop: the stdout one then ends once it has
    /// written what is queued, so joining it never waits for a connection
    /// that will not come.
    fn stop_threads(&self) {
        for s in [&self.stdin, &self.stdout] {
            s.lock().closed = true;
            s.cv.notify_all();
        }
    }
}

/// A protocol dropped without `connection_lost` (its connect failed, or it
/// timed out) still stops the threads.
impl Drop for Stdio {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

impl StreamProtocol for Stdio {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        *self.wake.lock().unwrap_or_else(|e| e.into_inner()) = Some(t.waker());
        // Input may have queued before the connection was up.
        self.pump_stdin(t);
    }

    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        let mut g = self.stdout.lock();
        g.bytes += data.len();
        g.chunks.push_back(data.to_vec());
        if g.bytes >= QUEUE_LIMIT && !self.paused {
            self.paused = true;
            t.pause_reading();
        }
        drop(g);
        self.stdout.cv.notify_all();
    }

    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        // Like netcat: when the peer is done, flush what we have and close.
        t.close();
    }

    fn on_wake(&mut self, t: &mut dyn StreamTransport, _: WakeRoute<'_>) {
        if self.paused && self.stdout.lock().bytes < QUEUE_LIMIT / 2 {
            self.paused = false;
            t.resume_reading();
        }
        self.pump_stdin(t);
    }

    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        self.pump_stdin(t);
    }

    fn connection_lost(&mut self, why: &Close) {
        self.stop_threads();
        if let Some(tx) = self.done.take() {
            let _ = tx.send(why.clone());
        }
    }
}
