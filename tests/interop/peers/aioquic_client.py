"""An aioquic client (the peer for `strata serve ... quic+udp://...`) speaking
a custom ALPN. Opens one bidirectional stream and prints one JSON line with
what it saw.

Modes:
  echo     sends --size bytes of the pattern, then FIN, and reads the echo
           to the server's FIN: `sha256` of what came back, `bytes`;
  read     sends one byte (no FIN) and reads --size bytes (of an endless
           stream, such as chargen), then closes: `sha256`, `bytes`.
`seconds` is the time from the handshake to the last byte; `alpn` the
protocol the handshake chose. Exits 1 with `error` on a failure.

With --zero-rtt the client connects twice: the first connection (a full
handshake) keeps the server's session ticket; the second resumes with it
and writes the echo's bytes and FIN before the handshake is done, so they
leave in 0-RTT packets (when the ticket allows early data). It then also
prints `early_data_accepted` (the server's answer), `zero_rtt_stream_packets`
(0-RTT packets sent that carried STREAM frames, from aioquic's qlog) and
`resumed`.
"""
import argparse
import asyncio
import hashlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from aioquic.asyncio import connect  # noqa: E402
from aioquic.quic.configuration import QuicConfiguration  # noqa: E402

from aioquic_common import pattern  # noqa: E402


def count_zero_rtt_stream_packets(logger):
    n = 0
    for trace in logger.to_dict()["traces"]:
        for ev in trace["events"]:
            if ev["name"] != "transport:packet_sent":
                continue
            header, frames = ev["data"]["header"], ev["data"].get("frames", [])
            if header["packet_type"] == "0RTT" and any(
                    f.get("frame_type") == "stream" for f in frames):
                n += 1
    return n


async def run_zero_rtt(args):
    """Two connections; the second sends in 0-RTT with the first's ticket."""
    import ssl

    from aioquic.quic.events import HandshakeCompleted
    from aioquic.quic.logger import QuicLogger

    tickets = []

    def config(ticket=None, logger=None):
        cfg = QuicConfiguration(is_client=True, alpn_protocols=[args.alpn],
                                idle_timeout=args.idle, server_name=args.sni,
                                quic_logger=logger)
        if args.ca:
            cfg.load_verify_locations(args.ca)
        else:
            cfg.verify_mode = ssl.CERT_NONE
        cfg.session_ticket = ticket
        return cfg

    # The first connection: a full handshake; the ticket arrives after it.
    async with connect(args.host, args.port, configuration=config(),
                       session_ticket_handler=tickets.append) as client:
        reader, writer = await client.create_stream()
        writer.write(b"x")
        writer.write_eof()
        await reader.read()
        for _ in range(100):
            if tickets:
                break
            await asyncio.sleep(0.02)
        client.close()
    if not tickets:
        raise RuntimeError("no session ticket from the server")

    logger = QuicLogger()
    handshakes = []

    async with connect(args.host, args.port, configuration=config(tickets[-1], logger),
                       wait_connected=False) as client:
        proto_event = client.quic_event_received

        def spy(event):
            if isinstance(event, HandshakeCompleted):
                handshakes.append(event)
            proto_event(event)

        client.quic_event_received = spy
        reader, writer = await client.create_stream()
        # Written before the handshake is done: 0-RTT.
        for block in pattern(args.size):
            writer.write(block)
        writer.write_eof()
        h = hashlib.sha256()
        got = 0
        while True:
            chunk = await reader.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            got += len(chunk)
        alpn = client._quic.tls.alpn_negotiated
        client.close()
    accepted = handshakes[0].early_data_accepted if handshakes else None
    resumed = handshakes[0].session_resumed if handshakes else None
    return {"alpn": alpn, "bytes": got, "sha256": h.hexdigest(),
            "early_data_accepted": accepted, "resumed": resumed,
            "zero_rtt_stream_packets": count_zero_rtt_stream_packets(logger)}


async def run(args):
    cfg = QuicConfiguration(is_client=True, alpn_protocols=[args.alpn],
                            idle_timeout=args.idle, server_name=args.sni)
    if args.ca:
        cfg.load_verify_locations(args.ca)
    else:
        import ssl
        cfg.verify_mode = ssl.CERT_NONE
    async with connect(args.host, args.port, configuration=cfg) as client:
        alpn = client._quic.tls.alpn_negotiated
        reader, writer = await client.create_stream()
        start = time.monotonic()
        h = hashlib.sha256()
        got = 0

        async def upload():
            if args.mode == "read":
                # A byte opens the stream; no FIN (chargen stops at EOF).
                writer.write(b"x")
                return
            for block in pattern(args.size):
                writer.write(block)
                await asyncio.sleep(0)
            writer.write_eof()

        up = asyncio.ensure_future(upload())
        limit = args.size if args.mode == "read" else None
        while limit is None or got < limit:
            want = 1 << 20 if limit is None else min(1 << 20, limit - got)
            chunk = await reader.read(want)
            if not chunk:
                break
            h.update(chunk)
            got += len(chunk)
        await up
        seconds = time.monotonic() - start
        client.close()
        return {"alpn": alpn, "bytes": got, "sha256": h.hexdigest(), "seconds": seconds}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--alpn", default="strata-echo")
    p.add_argument("--sni", default="localhost")
    p.add_argument("--ca")
    p.add_argument("--mode", choices=["echo", "read"], default="echo")
    p.add_argument("--size", type=int, default=1 << 20)
    p.add_argument("--idle", type=float, default=30.0)
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--zero-rtt", action="store_true")
    args = p.parse_args()
    main_fn = run_zero_rtt if args.zero_rtt else run
    try:
        out = asyncio.run(asyncio.wait_for(main_fn(args), args.timeout))
    except Exception as e:  # the test prints it
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
        sys.exit(1)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
