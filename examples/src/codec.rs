//! tokio-util's [`LengthDelimitedCodec`] over a QUIC stream: the codec's
//! `Framed` runs on a bridged stream of `quic+udp://` exactly as on a
//! `TcpStream`. The server echoes every frame upper-cased.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), strata_examples::Error> {
//! let back = strata_examples::codec::demo("quic+udp://127.0.0.1:0", "quic.insecure=true", &["a", "b"]).await?;
//! assert_eq!(back, ["A", "B"]);
//! # Ok(()) }
//! ```

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use strata_tokio::{connect_bridged, BridgeListener, Server};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use crate::{client_endpoint, endpoint, Error};

/// Serves every stream of `l`: each frame comes back upper-cased, until
/// the peer ends its side.
pub async fn serve(mut l: BridgeListener) {
    while let Some(stream) = l.accept().await {
        tokio::spawn(async move {
            let mut framed = Framed::new(stream, LengthDelimitedCodec::new());
            while let Some(Ok(frame)) = framed.next().await {
                let up = Bytes::from(frame.to_ascii_uppercase());
                if framed.send(up).await.is_err() {
                    return;
                }
            }
            let _ = SinkExt::<Bytes>::close(&mut framed).await;
        });
    }
}

/// Listens on `listen`, connects (with `client_opts`), sends `frames` one
/// by one and returns what came back, frame by frame.
pub async fn demo(listen: &str, client_opts: &str, frames: &[&str]) -> Result<Vec<String>, Error> {
    let server = Server::new();
    let l = BridgeListener::bind(
        &server,
        &endpoint(listen)?,
        Default::default(),
        Default::default(),
    )
    .await?;
    let to = client_endpoint(&l, client_opts)?;
    let serving = tokio::spawn(serve(l));
    let stream = connect_bridged(&to, Default::default(), Default::default()).await?;
    let mut framed = Framed::new(stream, LengthDelimitedCodec::new());
    let mut back = Vec::new();
    for f in frames {
        framed.send(Bytes::copy_from_slice(f.as_bytes())).await?;
        let frame = framed.next().await.ok_or("the stream ended early")??;
        back.push(String::from_utf8(frame.to_vec())?);
    }
    SinkExt::<Bytes>::close(&mut framed).await?;
    server.shutdown(std::time::Duration::from_secs(1)).await;
    serving.abort();
    Ok(back)
}
