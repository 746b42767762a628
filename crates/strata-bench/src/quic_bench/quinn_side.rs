//! The anchor: quinn 0.11 on tokio (one worker), at its defaults except
//! for the transport settings both sides share.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{ClientConfig, Endpoint, ServerConfig, TransportConfig, VarInt};

use crate::{announce, count_reply, runtime, self_signed, Transport, Workload, ALPN, CHUNK, SMALL};

fn transport(t: &Transport) -> io::Result<Arc<TransportConfig>> {
    let v = |n: u64| VarInt::from_u64(n).map_err(io::Error::other);
    let mut tc = TransportConfig::default();
    tc.stream_receive_window(v(t.stream_window)?)
        .receive_window(v(t.conn_window)?)
        .send_window(t.send_window)
        .max_concurrent_bidi_streams(v(t.max_streams)?)
        .max_idle_timeout(Some(
            Duration::from_secs(30)
                .try_into()
                .map_err(io::Error::other)?,
        ));
    Ok(Arc::new(tc))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Serves until stdin closes: every stream's bytes are counted and the
/// count is sent back at its end.
pub fn serve(t: Transport) -> io::Result<()> {
    let (cert, key, _, _) = self_signed()?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.clone().into()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.into()),
        )
        .map_err(io::Error::other)?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    tls.max_early_data_size = u32::MAX;
    let crypto = QuicServerConfig::try_from(tls).map_err(io::Error::other)?;
    let mut cfg = ServerConfig::with_crypto(Arc::new(crypto));
    cfg.transport_config(transport(&t)?);
    let rt = runtime()?;
    rt.block_on(async move {
        let ep = Endpoint::server(cfg, "127.0.0.1:0".parse().map_err(io::Error::other)?)?;
        announce(ep.local_addr()?, &cert);
        let accept = async {
            while let Some(incoming) = ep.accept().await {
                tokio::spawn(async move {
                    let Ok(conn) = incoming.await else { return };
                    while let Ok((mut send, mut recv)) = conn.accept_bi().await {
                        tokio::spawn(async move {
                            let mut n = 0u64;
                            while let Ok(Some(chunk)) = recv.read_chunk(usize::MAX, true).await {
                                n += chunk.bytes.len() as u64;
                            }
                            let _ = send.write_all(&count_reply(n)).await;
                            let _ = send.finish();
                            let _ = send.stopped().await;
                        });
                    }
                });
            }
        };
        let stdin = tokio::task::spawn_blocking(crate::until_stdin_closes);
        tokio::select! {
            _ = accept => {}
            r = stdin => { r.map_err(io::Error::other)??; }
        }
        println!("CPU secs={:.6}", crate::cpu_secs()?);
        ep.close(0u32.into(), b"");
        Ok(())
    })
}

async fn one_stream(conn: &quinn::Connection, body: &Bytes, total: u64) -> io::Result<()> {
    let (mut send, mut recv) = conn.open_bi().await.map_err(io::Error::other)?;
    let mut left = total;
    while left > 0 {
        let n = left.min(body.len() as u64) as usize;
        send.write_chunk(body.slice(..n))
            .await
            .map_err(io::Error::other)?;
        left -= n as u64;
    }
    send.finish().map_err(io::Error::other)?;
    let reply = recv.read_to_end(64).await.map_err(io::Error::other)?;
    if reply != count_reply(total) {
        return Err(io::Error::other(format!(
            "the server counted {reply:?}, not {total}"
        )));
    }
    Ok(())
}

/// Runs one workload against `addr`.
pub fn client(
    w: Workload,
    addr: SocketAddr,
    cert: Vec<u8>,
    count: u64,
    t: Transport,
) -> io::Result<()> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.into()).map_err(io::Error::other)?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    // Every handshake a full one, on both sides (strata_side does the
    // same): quinn's client otherwise resumes whenever the server's ticket
    // came before its close, so the two would not do the same TLS work.
    tls.resumption = rustls::client::Resumption::disabled();
    let crypto = QuicClientConfig::try_from(tls).map_err(io::Error::other)?;
    let mut cfg = ClientConfig::new(Arc::new(crypto));
    cfg.transport_config(transport(&t)?);
    let rt = runtime()?;
    rt.block_on(async move {
        let mut ep = Endpoint::client("127.0.0.1:0".parse().map_err(io::Error::other)?)?;
        ep.set_default_client_config(cfg);
        let connect = || async {
            ep.connect(addr, "localhost")
                .map_err(io::Error::other)?
                .await
                .map_err(io::Error::other)
        };
        match w {
            Workload::Bulk => {
                let conn = connect().await?;
                let body = Bytes::from(vec![0x5a; CHUNK]);
                one_stream(&conn, &body, count).await?;
                conn.close(0u32.into(), b"");
            }
            Workload::Streams => {
                let conn = connect().await?;
                let body = Bytes::from(vec![0x5a; SMALL]);
                let lanes = t.lanes.max(1);
                let mut tasks = Vec::new();
                for lane in 0..lanes {
                    let conn = conn.clone();
                    let body = body.clone();
                    let mine = count / lanes + u64::from(lane < count % lanes);
                    tasks.push(tokio::spawn(async move {
                        for _ in 0..mine {
                            one_stream(&conn, &body, SMALL as u64).await?;
                        }
                        Ok::<(), io::Error>(())
                    }));
                }
                for task in tasks {
                    task.await.map_err(io::Error::other)??;
                }
                conn.close(0u32.into(), b"");
            }
            Workload::Handshakes => {
                for _ in 0..count {
                    let conn = connect().await?;
                    conn.close(0u32.into(), b"");
                }
            }
        }
        ep.wait_idle().await;
        Ok(())
    })
}
