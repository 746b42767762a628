//! Wake handles reach exactly the woken protocol, from another thread, at any
//! depth, and keep working after a layer swap.

mod common;

use common::{Log, Mux, Recorder, Upgrader, Xor};
use strata::{Stack, StreamProtocol};

#[test]
fn a_wake_from_another_thread_reaches_only_that_child() {
    let log = Log::default();
    let kids: Vec<Recorder> = ["c0", "c1", "c2"]
        .into_iter()
        .map(|n| Recorder::new(n, &log))
        .collect();
    let wakers: Vec<_> = kids.iter().map(|k| k.wakers.clone()).collect();
    let mux = Mux {
        children: kids
            .into_iter()
            .map(|k| Box::new(k) as Box<dyn StreamProtocol>)
            .collect(),
    };
    // The mux sits under a plain layer, so the route crosses two depths.
    let mut s = Stack::memory(Box::new(Xor::new(mux, 1, Log::default())));
    log.take();
    let w1 = wakers[1].lock().unwrap()[0].clone();
    std::thread::spawn(move || w1.wake()).join().unwrap();
    assert!(s.wake_hub().unwrap().is_pending());
    let now = s.now();
    s.handle_wakes(now);
    assert_eq!(log.take(), vec!["c1:wake"]);
    // Several wakes of the same handle before delivery merge into one.
    let w2 = wakers[2].lock().unwrap()[0].clone();
    std::thread::spawn(move || {
        w2.wake();
        w2.wake();
    })
    .join()
    .unwrap();
    s.handle_wakes(now);
    assert_eq!(log.take(), vec!["c2:wake"]);
    assert!(!s.wake_hub().unwrap().is_pending());
}

#[test]
fn a_wake_handle_taken_before_an_insert_still_reaches_its_protocol() {
    let log = Log::default();
    let up = Upgrader::new(&log);
    let wakers = up.wakers.clone();
    let mut s = Stack::memory(Box::new(up));
    let now = s.now();
    s.handle_input(now, b"UPGRADE\r\n");
    assert_eq!(s.inspect(|t| t.layer_chain()), vec!["memory"]);
    let w = wakers.lock().unwrap()[0].clone();
    std::thread::spawn(move || w.wake()).join().unwrap();
    s.handle_wakes(now);
    assert_eq!(
        log.take(),
        vec!["up:connection_made", "up:requested", "up:wake"]
    );
}

#[test]
fn an_idle_stack_holds_no_wake_hub_until_asked() {
    struct Quiet;
    impl StreamProtocol for Quiet {
        fn data_received(&mut self, _: &mut dyn strata::StreamTransport, _: &[u8]) {}
        fn eof_received(&mut self, _: &mut dyn strata::StreamTransport) {}
    }
    let s = Stack::memory(Box::new(Quiet));
    assert!(s.wake_hub().is_none());
}
