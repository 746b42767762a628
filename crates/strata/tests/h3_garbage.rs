//! Random and mutated input on every stream of an `H3Server`: nothing
//! panics, every close carries an RFC 9114 or RFC 9204 code, and what the
//! connection holds stays bounded. Seeded, so a failure replays.

mod h3_support;

use h3_support::*;
use strata::http::h3::H3Config;

/// xorshift64*: a small seeded generator (no dependency).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn random_and_mutated_input_never_panics() {
    let (closed, served) = run(false);
    // The mix reaches both ends: connections closed with a code, requests served.
    assert!(
        closed > 300 && served > 30,
        "closed {closed}, served {served}"
    );
}

#[test]
fn random_and_mutated_responses_never_panic_a_client() {
    let (closed, served) = run(true);
    assert!(
        closed > 300 && served > 30,
        "closed {closed}, answered {served}"
    );
}

/// 3000 seeds against a server (or a client with one request on stream 0);
/// returns how many connections closed and how many requests got answers.
fn run(client: bool) -> (usize, usize) {
    let (mut closed, mut served) = (0, 0);
    for seed in 1..=3000u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let seen = Shared::default();
        let mut h = if client {
            let req = http::Request::post("https://a/").body(()).unwrap();
            let proto = Box::new(Fetch {
                seen: seen.clone(),
                body: b"up".to_vec(),
            });
            Harness::client(strata::http::h3::H3Client::request(
                req,
                proto,
                H3Config::default(),
            ))
        } else {
            Harness::server(recording(seen.clone(), b"ok", true), H3Config::default())
        };
        if rng.below(4) > 0 {
            h.peer_setup(&settings());
        }
        let id = if client { 0 } else { h.next_request_id() };
        // A valid message to mutate.
        let mut valid = if client {
            h.headers(id, &[(":status", "200"), ("content-length", "4")])
        } else {
            h.get(id, "/x")
        };
        valid.extend(Harness::data(b"body"));
        let (control, encoder, decoder) = h.peer_uni_ids();
        for _ in 0..rng.below(12) + 1 {
            let stream = match rng.below(6) {
                0 => control,
                1 => encoder,
                2 => decoder,
                3 => h.next_uni_id(),
                _ => id,
            };
            let mut bytes: Vec<u8> = if rng.below(2) == 0 {
                valid.clone()
            } else {
                (0..rng.below(40)).map(|_| rng.next() as u8).collect()
            };
            for _ in 0..rng.below(4) {
                if !bytes.is_empty() {
                    let at = rng.below(bytes.len() as u64) as usize;
                    bytes[at] = rng.next() as u8;
                }
            }
            let cut = rng.below(bytes.len() as u64 + 1) as usize;
            h.send(stream, &bytes[..cut]);
            h.send(stream, &bytes[cut..]);
            match rng.below(8) {
                0 => h.fin(stream),
                1 => h.reset(stream, 0x10c),
                2 => h.stop(stream, 0x10c),
                3 => h.advance(std::time::Duration::from_secs(rng.below(40))),
                _ => {}
            }
        }
        closed += usize::from(h.close_code().is_some());
        served += if client {
            usize::from(!seen.lock().unwrap().body.is_empty())
        } else {
            usize::from(h.conn.written.get(&id).is_some_and(|w| !w.is_empty()))
        };
        if let Some(code) = h.close_code() {
            assert!(
                (0x100..=0x110).contains(&code) || (0x200..=0x202).contains(&code),
                "seed {seed}: close code 0x{code:x}"
            );
        }
        for (_, code) in h.conn.resets.iter().chain(&h.conn.stops) {
            assert!(
                (0x100..=0x110).contains(code),
                "seed {seed}: code 0x{code:x}"
            );
        }
        let written: usize = h.conn.written.values().map(Vec::len).sum();
        assert!(written < 64 << 10, "seed {seed}: {written} bytes written");
    }
    (closed, served)
}
