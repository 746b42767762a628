//! Large uploads to an echo that follows `writable()`, from a peer whose own
//! receive window is small (64 KiB, the default of nghttp and Python's h2):
//! the echo's response is held back by that window while the upload fills
//! ours, and when the peer's window opens the held input must reach the
//! echo in pieces it can write back, never as one write past
//! `stream_send_limit` (which was reset with INTERNAL_ERROR).

mod h2_support;

use h2_support::*;
use strata::http::h2::frame::{self, setting};
use strata::http::h2::H2Config;
use strata::{StreamProtocol, StreamTransport};

/// The CLI's `/echo`: writes back what it reads, pauses reading while the
/// stream is not writable, resumes on `resume_writing`.
struct WritableEcho {
    paused: bool,
}

impl StreamProtocol for WritableEcho {
    fn data_received(&mut self, t: &mut dyn StreamTransport, d: &[u8]) {
        t.write(d);
        if !t.writable() && !self.paused {
            self.paused = true;
            t.pause_reading();
        }
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
    fn pause_writing(&mut self, t: &mut dyn StreamTransport) {
        if !self.paused {
            self.paused = true;
            t.pause_reading();
        }
    }
    fn resume_writing(&mut self, t: &mut dyn StreamTransport) {
        if self.paused {
            self.paused = false;
            t.resume_reading();
        }
    }
}

/// Uploads `total` bytes on stream 1 as fast as the server's windows allow,
/// giving back our 64 KiB window only as the echo arrives (in `read_chunk`
/// steps); returns the echoed bytes. Panics on any reset or GOAWAY.
fn upload(cfg: H2Config, total: usize, read_chunk: usize) -> Vec<u8> {
    let want: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
    let mut p = Raw::server(
        service(|_| Box::new(WritableEcho { paused: false })),
        cfg.clone(),
    );
    let evs = p.handshake(&[]);
    let mut stream_win = 65_535i64;
    let mut conn_win = 65_535i64;
    let take = |evs: &[Ev], sw: &mut i64, cw: &mut i64| {
        for e in evs {
            match e {
                Ev::Settings { ack: false, values } => {
                    for &(id, v) in values {
                        if id == setting::INITIAL_WINDOW_SIZE {
                            *sw += v as i64 - 65_535;
                        }
                    }
                }
                Ev::WindowUpdate { stream: 0, inc } => *cw += *inc as i64,
                Ev::WindowUpdate { stream: 1, inc } => *sw += *inc as i64,
                Ev::Rst { .. } | Ev::GoAway { .. } => panic!("server ended the upload: {e:?}"),
                _ => {}
            }
        }
    };
    take(&evs, &mut stream_win, &mut conn_win);
    p.post(1, "/echo");
    let mut sent = 0;
    let mut echoed = Vec::new();
    let mut unacked = 0usize;
    let mut ended = false;
    for _ in 0..100_000 {
        // Send what the windows allow, one read's worth at a time.
        let mut batch = Vec::new();
        while sent < total && stream_win > 0 && conn_win > 0 {
            let n = (total - sent)
                .min(16_384)
                .min(stream_win as usize)
                .min(conn_win as usize);
            frame::write_data(&mut batch, 1, &want[sent..sent + n], false);
            sent += n;
            stream_win -= n as i64;
            conn_win -= n as i64;
        }
        if sent == total && !ended {
            frame::write_data(&mut batch, 1, b"", true);
            ended = true;
        }
        if !batch.is_empty() {
            p.send(&batch);
        }
        let evs = p.read();
        take(&evs, &mut stream_win, &mut conn_win);
        let (data, end) = body(&evs, 1);
        echoed.extend_from_slice(&data);
        unacked += data.len();
        if end {
            assert_eq!(echoed.len(), total);
            assert!(echoed == want, "echoed bytes differ");
            return echoed;
        }
        // Our window (64 KiB) comes back as the application reads it.
        if unacked >= read_chunk || (unacked > 0 && batch.is_empty()) {
            p.window_update(1, unacked as u32);
            p.window_update(0, unacked as u32);
            unacked = 0;
        }
    }
    panic!("upload stuck: sent {sent}, echoed {}", echoed.len());
}

#[test]
fn a_3_mb_upload_to_an_echo_is_not_reset() {
    upload(H2Config::default(), 3_000_000, 32 << 10);
}

#[test]
fn a_large_upload_with_a_small_send_limit_is_not_reset() {
    // The stream's queue limit at its smallest sensible value: one frame
    // past the buffer at which writable() turns false.
    let cfg = H2Config {
        stream_send_buffer: 16 << 10,
        stream_send_limit: 32 << 10,
        ..H2Config::default()
    };
    upload(cfg, 5_000_000, 16 << 10);
}
