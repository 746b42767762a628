//! Target `stack_lines`: a whole stack, bytes in and bytes out.

use std::sync::{Arc, Mutex};

use strata::framing::{send_line, LineProtocol, Lines};
use strata::{AbortReason, Close, Stack, StackConfig, StreamTransport, Wake, WakeRoute};

use crate::lines::{config, reference};
use crate::{control, Chunks};

/// Echoes every line; pauses reading on lines starting with `P` and resumes
/// when woken; closes at EOF.
struct Echo {
    waker: Arc<Mutex<Option<Wake>>>,
}

impl LineProtocol for Echo {
    fn connection_made(&mut self, t: &mut dyn StreamTransport) {
        *self.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(t.waker());
    }
    fn line_received(&mut self, t: &mut dyn StreamTransport, line: &[u8]) {
        send_line(t, line);
        if line.first() == Some(&b'P') {
            t.pause_reading();
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport, _: &[u8]) {
        t.close();
    }
    fn on_wake(&mut self, t: &mut dyn StreamTransport, _: WakeRoute<'_>) {
        t.resume_reading();
    }
}

/// Feeds `data` (after three control bytes, as for [`crate::lines`]) in
/// chunks through a [`Stack`] holding `Lines<Echo>`, waking the protocol
/// after every chunk. The stack must end the way the reference splitter
/// says (clean close or `LineTooLong`), echo exactly the reference's lines,
/// never write more than it read, and never hit its memory budget.
pub fn stack_lines(data: &[u8]) {
    let ([a, b, seed], payload) = control::<3>(data);
    let cfg = config(a, b);
    let delim = cfg.delimiter.as_bytes().to_vec();
    let want = reference(payload, &delim, cfg.max_line);
    let waker = Arc::new(Mutex::new(None));
    let echo = Echo {
        waker: waker.clone(),
    };
    let limits = StackConfig {
        high_water: 256,
        low_water: 64,
        memory_budget: 16 * 1024,
        ..StackConfig::default()
    };
    let mut s = Stack::memory_with(Box::new(Lines::with_config(echo, cfg)), limits);
    let now = s.now();
    let wake = || {
        if let Some(w) = waker.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            w.wake();
        }
    };
    let (mut fed, mut out) = (0, Vec::new());
    for chunk in Chunks::new(payload, seed) {
        s.handle_input(now, chunk);
        fed += chunk.len();
        wake();
        s.handle_wakes(now);
        out.extend(s.take_output(now));
        assert!(out.len() <= fed, "wrote more than it read");
        if s.finished().is_some() {
            break;
        }
    }
    s.handle_eof(now);
    while s.is_read_paused() && s.finished().is_none() {
        wake();
        s.handle_wakes(now);
    }
    out.extend(s.take_output(now));
    let echoed: Vec<u8> = want
        .lines
        .iter()
        .flat_map(|l| l.iter().chain(&delim).copied())
        .collect();
    match (s.finished(), &want.eof) {
        (Some(Close::Done), Some(_)) => assert_eq!(out, echoed),
        (
            Some(Close::Aborted {
                layer: "lines",
                reason: AbortReason::LineTooLong { .. },
            }),
            None,
        ) => {
            // Output queued before the abort is discarded with the connection.
            assert!(echoed.starts_with(&out));
        }
        (other, _) => panic!("ended with {other:?}, reference says {:?}", want.eof),
    }
}
