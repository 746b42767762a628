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
    args = p.parse_args()
    try:
        out = asyncio.run(asyncio.wait_for(run(args), args.timeout))
    except Exception as e:  # the test prints it
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
        sys.exit(1)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
