//! How much room the driver's stream reads are given. A bulk echo keeps
//! pace with the raw tokio idiom (a 64 KiB buffer, `read` then `write_all`)
//! only if every read may take a full 64 KiB: a read into the leftover of a
//! buffer that an earlier short read split from costs an extra read and
//! write pair (issue 12: 5,002 reads per 256 MiB against tokio's 4,636).
//!
//! Deterministic: the test runs on one thread, and the client's writes land
//! whole in the Unix socket's queue before the server task runs again, so
//! what each read finds is fixed; only the room the driver offers varies.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use strata::{BottomInfo, StackConfig, StreamProtocol, StreamTransport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

const K: usize = 1024;

/// An echo that keeps the owned input (as the bench's does) and records
/// the size of every read handed to it.
struct RecordingEcho(Arc<Mutex<Vec<usize>>>);

impl StreamProtocol for RecordingEcho {
    fn data_received(&mut self, t: &mut dyn StreamTransport, data: &[u8]) {
        self.0.lock().unwrap().push(data.len());
        t.write(data);
    }
    fn data_received_bytes(&mut self, t: &mut dyn StreamTransport, data: Bytes) {
        self.0.lock().unwrap().push(data.len());
        t.write_bytes(data);
    }
    fn eof_received(&mut self, t: &mut dyn StreamTransport) {
        t.close();
    }
}

fn pattern(n: usize, seed: usize) -> Vec<u8> {
    (0..n).map(|i| ((i + seed) % 251) as u8).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn a_read_after_a_short_one_is_offered_a_full_64_kib() {
    let (mut client, server) = UnixStream::pair().unwrap();
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let proto = Box::new(RecordingEcho(sizes.clone()));
    let task = strata_tokio::spawn_stream(
        server,
        proto,
        BottomInfo::new("unix"),
        Arc::new(StackConfig::default()),
    );

    // A short read: 40 KiB, echoed back before anything else is sent.
    let first = pattern(40 * K, 0);
    client.write_all(&first).await.unwrap();
    let mut back = vec![0; first.len()];
    client.read_exact(&mut back).await.unwrap();
    assert_eq!(back, first);

    // Then 128 KiB at once: two full reads, whatever the first one left.
    let second = pattern(128 * K, 7);
    client.write_all(&second).await.unwrap();
    let mut back = vec![0; second.len()];
    client.read_exact(&mut back).await.unwrap();
    assert_eq!(back, second);

    client.shutdown().await.unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    assert!(task.await.unwrap().is_clean());
    assert_eq!(*sizes.lock().unwrap(), [40 * K, 64 * K, 64 * K]);
}
