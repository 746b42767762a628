"""aioquic's HTTP/3 (its H3Connection over its QUIC), as a client against
`strata serve` and as a server for `strata get --http3`.

  client --host H --port P --path /x [--ca FILE] [--upload-size N]
      One request (GET, or POST of N bytes of aioquic_common.pattern);
      prints one JSON line: status, headers, body length and SHA-256.
  server --cert FILE --key FILE [--port P] [--qlog DIR]
      Prints `LISTENING <port>`; answers GET /bytes/N with N bytes of the
      pattern (content-length set), GET /hello with `hello, world\\n`, and
      POST /sink with `<sha256 hex> <length>\\n` of the request body; 404
      otherwise. With --qlog, aioquic writes each connection's qlog (JSON,
      one file per connection, once it has ended) into DIR.
"""
import argparse
import asyncio
import hashlib
import json
import os
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from aioquic.asyncio import connect, serve  # noqa: E402
from aioquic.asyncio.protocol import QuicConnectionProtocol  # noqa: E402
from aioquic.h3.connection import H3_ALPN, H3Connection  # noqa: E402
from aioquic.h3.events import DataReceived, HeadersReceived  # noqa: E402
from aioquic.quic.configuration import QuicConfiguration  # noqa: E402
from aioquic.quic.events import ConnectionTerminated  # noqa: E402
from aioquic.quic.logger import QuicFileLogger  # noqa: E402

from aioquic_common import pattern  # noqa: E402


class Server(QuicConnectionProtocol):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.h3 = H3Connection(self._quic)
        self.reqs = {}

    def quic_event_received(self, event):
        for ev in self.h3.handle_event(event):
            if isinstance(ev, HeadersReceived):
                head = dict(ev.headers)
                self.reqs[ev.stream_id] = [head, hashlib.sha256(), 0]
                if ev.stream_ended:
                    self.answer(ev.stream_id)
            elif isinstance(ev, DataReceived):
                r = self.reqs.get(ev.stream_id)
                if r is None:
                    continue
                r[1].update(ev.data)
                r[2] += len(ev.data)
                if ev.stream_ended:
                    self.answer(ev.stream_id)
        self.transmit()

    def respond(self, sid, status, body=b"", length=None):
        n = len(body) if length is None else length
        self.h3.send_headers(sid, [(b":status", str(status).encode()),
                                   (b"content-length", str(n).encode())])
        if length is None:
            self.h3.send_data(sid, body, True)

    def answer(self, sid):
        head, h, n = self.reqs.pop(sid)
        method, path = head.get(b":method", b""), head.get(b":path", b"")
        if method == b"GET" and path == b"/hello":
            self.respond(sid, 200, b"hello, world\n")
        elif method == b"GET" and path.startswith(b"/bytes/") and path[7:].isdigit():
            size = int(path[7:])
            self.respond(sid, 200, length=size)
            for block in pattern(size):
                self.h3.send_data(sid, block, False)
            self.h3.send_data(sid, b"", True)
        elif method == b"POST" and path == b"/sink":
            self.respond(sid, 200, f"{h.hexdigest()} {n}\n".encode())
        else:
            self.respond(sid, 404, b"")


class Client(QuicConnectionProtocol):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.h3 = H3Connection(self._quic)
        self.done = asyncio.get_event_loop().create_future()
        self.status, self.headers, self.hash, self.len = None, {}, hashlib.sha256(), 0

    def quic_event_received(self, event):
        if isinstance(event, ConnectionTerminated) and not self.done.done():
            self.done.set_exception(RuntimeError(f"connection closed: {event.reason_phrase} "
                                                 f"(0x{event.error_code:x})"))
        for ev in self.h3.handle_event(event):
            if isinstance(ev, HeadersReceived):
                for k, v in ev.headers:
                    if k == b":status":
                        self.status = int(v)
                    else:
                        self.headers[k.decode()] = v.decode()
            elif isinstance(ev, DataReceived):
                self.hash.update(ev.data)
                self.len += len(ev.data)
            if getattr(ev, "stream_ended", False) and not self.done.done():
                self.done.set_result(None)


async def client(args):
    cfg = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, idle_timeout=30,
                            server_name="localhost")
    if args.ca:
        cfg.load_verify_locations(args.ca)
    else:
        cfg.verify_mode = ssl.CERT_NONE
    async with connect(args.host, args.port, configuration=cfg, create_protocol=Client) as c:
        sid = c._quic.get_next_available_stream_id()
        method = b"POST" if args.upload_size is not None else b"GET"
        c.h3.send_headers(sid, [(b":method", method), (b":scheme", b"https"),
                                (b":authority", f"localhost:{args.port}".encode()),
                                (b":path", args.path.encode()),
                                (b"user-agent", b"aioquic-h3-interop")],
                          end_stream=method == b"GET")
        if method == b"POST":
            for block in pattern(args.upload_size):
                c.h3.send_data(sid, block, False)
                c.transmit()
                await asyncio.sleep(0)
            c.h3.send_data(sid, b"", True)
        c.transmit()
        await asyncio.wait_for(c.done, args.timeout)
        print(json.dumps({"status": c.status, "headers": c.headers, "len": c.len,
                          "sha256": c.hash.hexdigest()}), flush=True)


async def server(args):
    cfg = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN, idle_timeout=30)
    cfg.load_cert_chain(args.cert, args.key)
    if args.qlog:
        cfg.quic_logger = QuicFileLogger(args.qlog)
    srv = await serve("127.0.0.1", args.port, configuration=cfg, create_protocol=Server)
    port = srv._transport.get_extra_info("sockname")[1]
    print(f"LISTENING {port}", flush=True)
    await asyncio.Future()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("client")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--path", default="/")
    c.add_argument("--ca")
    c.add_argument("--upload-size", type=int)
    c.add_argument("--timeout", type=float, default=300)
    s = sub.add_parser("server")
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--qlog")
    args = p.parse_args()
    asyncio.run(client(args) if args.cmd == "client" else server(args))


if __name__ == "__main__":
    main()
