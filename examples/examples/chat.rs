//! A line-based chat room over any endpoint.
//!
//! ```text
//! cargo run -p strata-examples --example chat                     # a short demo with three clients
//! cargo run -p strata-examples --example chat -- serve tcp://127.0.0.1:7008
//!     # then, in other terminals: nc 127.0.0.1 7008   (first line: your name)
//! ```

use std::time::Duration;

use strata_examples::{chat, endpoint, reach};
use strata_tokio::{connect_bridged, BridgeStream};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines, ReadHalf, WriteHalf};

/// A demo client: an async stream over the same stack as the server's.
struct Client {
    name: &'static str,
    lines: Lines<BufReader<ReadHalf<BridgeStream>>>,
    write: WriteHalf<BridgeStream>,
}

impl Client {
    async fn join(
        to: &strata::endpoint::Endpoint,
        name: &'static str,
    ) -> Result<Client, strata_examples::Error> {
        let stream = connect_bridged(to, Default::default(), Default::default()).await?;
        let (r, write) = tokio::io::split(stream);
        let mut c = Client {
            name,
            lines: BufReader::new(r).lines(),
            write,
        };
        c.hear().await?; // "* welcome! your name?"
        c.say(name).await?;
        c.hear().await?; // "* hello NAME"
        Ok(c)
    }
    async fn say(&mut self, line: &str) -> Result<(), strata_examples::Error> {
        Ok(self.write.write_all(format!("{line}\n").as_bytes()).await?)
    }
    async fn hear(&mut self) -> Result<String, strata_examples::Error> {
        let line = self.lines.next_line().await?.ok_or("the room closed")?;
        println!("  [{}] {line}", self.name);
        Ok(line)
    }
}

#[tokio::main]
async fn main() -> Result<(), strata_examples::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let server = strata_tokio::Server::new();
    let room = chat::Room::new();

    if args.first().map(String::as_str) == Some("serve") {
        let listen = args.get(1).map_or("tcp://127.0.0.1:7008", String::as_str);
        let l = chat::serve(&server, &endpoint(listen)?, room).await?;
        println!("chat on {}; Ctrl-C stops", l.endpoint());
        tokio::signal::ctrl_c().await?;
        server.shutdown(Duration::from_secs(1)).await;
        return Ok(());
    }

    // The demo: three clients in one room, over the reliable mapping on UDP.
    let l = chat::serve(
        &server,
        &endpoint("reliable+udp://127.0.0.1:0")?,
        room.clone(),
    )
    .await?;
    println!("chat on {}", l.endpoint());
    let to = reach::dial(&l)?;
    let mut alice = Client::join(&to, "alice").await?;
    let mut bob = Client::join(&to, "bob").await?;
    alice.hear().await?; // * bob joined
    let mut carol = Client::join(&to, "carol").await?;
    alice.hear().await?; // * carol joined
    bob.hear().await?; // * carol joined
    println!("in the room: {:?}", room.names());

    alice.say("hi all").await?;
    bob.hear().await?;
    carol.hear().await?;
    bob.say("hi alice").await?;
    alice.hear().await?;
    carol.hear().await?;

    server.shutdown(Duration::from_secs(1)).await;
    Ok(())
}
