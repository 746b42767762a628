"""An aioquic server (the peer for `strata connect quic+udp://...`) speaking a
custom ALPN. Prints `LISTENING <port>` once bound.

Modes, per bidirectional stream the client opens:
  echo    every byte back, FIN after the client's FIN;
  sink    hashes what arrives; on the client's FIN answers
          `<sha256 hex> <length>\\n` and FIN;
  source  on the stream's first frame, sends --size bytes of the pattern
          (aioquic_common.pattern), then FIN; input is discarded;
  early   as echo, but first answers `early\n` when the stream's first bytes
          came before the handshake was done (in 0-RTT), else `late\n`.

--tickets issues session tickets and resumes with them, each once (the
store pops it), so a client may send 0-RTT data (aioquic accepts it with
any ticket it issued).
"""
import argparse
import asyncio
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from aioquic.asyncio import serve  # noqa: E402
from aioquic.asyncio.protocol import QuicConnectionProtocol  # noqa: E402
from aioquic.quic.configuration import QuicConfiguration  # noqa: E402
from aioquic.quic.events import StreamDataReceived  # noqa: E402

from aioquic_common import pattern  # noqa: E402

ARGS = None


class Peer(QuicConnectionProtocol):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.hashes = {}
        self.started = set()

    def quic_event_received(self, event):
        if not isinstance(event, StreamDataReceived):
            return
        sid = event.stream_id
        if ARGS.mode == "early":
            if sid not in self.started:
                self.started.add(sid)
                early = not self._quic._handshake_complete
                self._quic.send_stream_data(sid, b"early\n" if early else b"late\n", False)
            self._quic.send_stream_data(sid, event.data, event.end_stream)
        elif ARGS.mode == "echo":
            self._quic.send_stream_data(sid, event.data, event.end_stream)
        elif ARGS.mode == "sink":
            h, n = self.hashes.setdefault(sid, [hashlib.sha256(), 0])
            h.update(event.data)
            self.hashes[sid][1] = n + len(event.data)
            if event.end_stream:
                h, n = self.hashes.pop(sid)
                self._quic.send_stream_data(sid, f"{h.hexdigest()} {n}\n".encode(), True)
        elif ARGS.mode == "source" and sid not in self.started:
            self.started.add(sid)
            for block in pattern(ARGS.size):
                self._quic.send_stream_data(sid, block, False)
            self._quic.send_stream_data(sid, b"", True)
        self.transmit()


async def main():
    cfg = QuicConfiguration(is_client=False, alpn_protocols=[ARGS.alpn],
                            idle_timeout=ARGS.idle, max_datagram_frame_size=65536)
    cfg.load_cert_chain(ARGS.cert, ARGS.key)
    tickets = {}
    extra = {}
    if ARGS.tickets:
        extra = dict(session_ticket_handler=lambda t: tickets.__setitem__(t.ticket, t),
                     session_ticket_fetcher=lambda label: tickets.pop(label, None))
    server = await serve(ARGS.host, ARGS.port, configuration=cfg, create_protocol=Peer,
                         **extra)
    port = server._transport.get_extra_info("sockname")[1]
    print("LISTENING", port, flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--alpn", default="strata-echo")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--mode", choices=["echo", "sink", "source", "early"], default="echo")
    p.add_argument("--tickets", action="store_true")
    p.add_argument("--size", type=int, default=0)
    p.add_argument("--idle", type=float, default=30.0)
    ARGS = p.parse_args()
    asyncio.run(main())
