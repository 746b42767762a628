"""WebSocket (RFC 6455) against Python's `websockets`, both ways:

* over HTTP/1.1: websockets' own client against `strata serve`'s `/ws`
  echo, and `strata connect ws://` against websockets' own server;
* over HTTP/2 (RFC 8441): Python's `h2` drives the extended CONNECT and
  websockets' sans-IO `Protocol` speaks the frames inside the stream, as a
  client against strata's server and as a server for `strata connect --h2`.
"""
import socket
import subprocess
import threading

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
from websockets.frames import Close, Opcode
from websockets.protocol import Protocol, Side
from websockets.sync.client import connect as ws_connect
from websockets.sync.server import serve as ws_serve

from conftest import BIN, run_strata

TIMEOUT = 10


def http_server(serve):
    return serve("--app", "http", "tcp://127.0.0.1:0")


# --- HTTP/1.1 -----------------------------------------------------------------

def test_websockets_client_against_strata_echo(serve):
    s = http_server(serve)
    host, port = s.addr()
    with ws_connect(f"ws://{host}:{port}/ws", open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
        # websockets offers permessage-deflate; strata's demo accepts it, so
        # every message below is compressed both ways (RFC 7692).
        assert ws.response.headers["Sec-WebSocket-Extensions"] == "permessage-deflate"
        ws.send("héllo")
        assert ws.recv(TIMEOUT) == "héllo"  # text stays text (str)
        ws.send(b"\x00\x01\xff")
        assert ws.recv(TIMEOUT) == b"\x00\x01\xff"  # binary stays binary (bytes)
        # A fragmented message from websockets, reassembled by strata.
        ws.send(["frag", "mented ", "text"])
        assert ws.recv(TIMEOUT) == "fragmented text"
        # A message larger than strata's fragment size (64 KiB) comes back in
        # fragments, which websockets reassembles.
        big = bytes(range(256)) * 1024
        ws.send(big)
        assert ws.recv(TIMEOUT) == big
        pong = ws.ping(b"are you there")
        assert pong.wait(TIMEOUT), "strata answers a ping with a pong"
    assert ws.close_code == 1000


def test_websockets_client_sees_refusals(serve):
    s = http_server(serve)
    host, port = s.addr()
    from websockets.exceptions import InvalidStatus
    with pytest.raises(InvalidStatus) as e:
        ws_connect(f"ws://{host}:{port}/hello", open_timeout=TIMEOUT)
    assert e.value.response.status_code == 200  # /hello is not a WebSocket
    # A raw request with a bad version gets 426 and the version strata speaks.
    with socket.create_connection((host, port), timeout=TIMEOUT) as c:
        c.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
        head = c.recv(4096).decode()
    assert head.startswith("HTTP/1.1 426"), head
    assert "sec-websocket-version: 13" in head.lower(), head


def test_strata_client_against_websockets_server():
    seen = []
    closed = []

    def handler(ws):
        # strata offers permessage-deflate and websockets accepts it.
        assert ws.request.headers["Sec-WebSocket-Extensions"] == "permessage-deflate"
        assert ws.response.headers["Sec-WebSocket-Extensions"].startswith("permessage-deflate")
        seen.append("deflate")
        for msg in ws:
            seen.append(msg)
            ws.send(msg)
        closed.append(ws.protocol.close_rcvd.code)

    with ws_serve(handler, "127.0.0.1", 0) as server:
        port = server.socket.getsockname()[1]
        t = threading.Thread(target=server.serve_forever, daemon=True)
        t.start()
        p = subprocess.Popen([BIN, "connect", f"ws://127.0.0.1:{port}/chat"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Lines go out as text messages; each echo comes back as a line.
        # stdin stays open until every echo is in: websockets sends nothing
        # once it has received our close.
        p.stdin.write("one\ntwö\n\nthree\n".encode())
        p.stdin.flush()
        lines = [p.stdout.readline() for _ in range(4)]
        p.stdin.close()  # EOF: close 1000
        p.stdin = None
        rest, err = p.communicate(timeout=TIMEOUT * 3)
        server.shutdown()
        t.join(TIMEOUT)
    assert p.returncode == 0, err.decode()
    assert lines == ["one\n".encode(), "twö\n".encode(), b"\n", b"three\n"]
    assert rest == b""
    assert seen == ["deflate", "one", "twö", "", "three"], "lines arrive as text messages"
    assert closed == [1000], "the end of stdin closes with 1000"


# --- HTTP/2, RFC 8441 ---------------------------------------------------------

def h2_events(sock, conn):
    data = sock.recv(65536)
    if not data:
        return None
    return conn.receive_data(data)


def test_h2_extended_connect_client_against_strata_echo(serve):
    s = http_server(serve)
    host, port = s.addr()
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    # Wait for the server's SETTINGS: extended CONNECT must be announced.
    while conn.remote_settings.enable_connect_protocol != 1:
        assert h2_events(sock, conn) is not None, "server closed before its SETTINGS"
        sock.sendall(conn.data_to_send())
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [
        (":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"),
        (":path", "/ws"), (":authority", f"{host}:{port}"), ("sec-websocket-version", "13"),
    ])
    sock.sendall(conn.data_to_send())
    ws = Protocol(Side.CLIENT)
    ws.send_text("über h2".encode())
    ws.send_binary(b"\x01\x02")
    ws.send_ping(b"p")
    status, got, pongs, ended = None, [], [], False
    for chunk in ws.data_to_send():
        conn.send_data(sid, chunk)
    sock.sendall(conn.data_to_send())
    while not ended:
        events = h2_events(sock, conn)
        assert events is not None, "connection closed early"
        for ev in events:
            if isinstance(ev, h2.events.ResponseReceived):
                status = dict(ev.headers)[b":status"]
            elif isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                ws.receive_data(ev.data)
            elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                ended = True
        for e in ws.events_received():
            if e.opcode == Opcode.PONG:
                pongs.append(e.data)
            elif e.opcode in (Opcode.TEXT, Opcode.BINARY):
                got.append((e.opcode, e.data))
                if len(got) == 2:
                    ws.send_close(1000, "bye")
        for chunk in ws.data_to_send():
            if chunk:
                conn.send_data(sid, chunk)
            else:
                conn.end_stream(sid)
        sock.sendall(conn.data_to_send())
        if ws.close_rcvd is not None and ws.close_sent is not None:
            break
    sock.close()
    assert status == b"200"
    assert got == [(Opcode.TEXT, "über h2".encode()), (Opcode.BINARY, b"\x01\x02")]
    assert pongs == [b"p"]
    assert ws.close_rcvd.code == 1000


class H2WebSocketServer:
    """A Python HTTP/2 server that accepts one RFC 8441 WebSocket and echoes
    what it receives with websockets' frame layer."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.headers = None
        self.messages = []
        self.close_code = None
        self.error = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            self.serve_one()
        except Exception as e:  # reported by the test
            self.error = e

    def serve_one(self):
        sock, _ = self.listener.accept()
        sock.settimeout(TIMEOUT)
        cfg = h2.config.H2Configuration(client_side=False)
        conn = h2.connection.H2Connection(cfg)
        conn.local_settings = h2.settings.Settings(
            client=False, initial_values={h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1})
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        ws, sid = Protocol(Side.SERVER), None
        while True:
            data = sock.recv(65536)
            if not data:
                break
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    sid = ev.stream_id
                    self.headers = dict(ev.headers)
                    conn.send_headers(sid, [(":status", "200")])
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    ws.receive_data(ev.data)
                elif isinstance(ev, h2.events.StreamEnded):
                    ws.receive_eof()
            for f in ws.events_received():
                if f.opcode in (Opcode.TEXT, Opcode.BINARY):
                    self.messages.append((f.opcode, f.data))
                    if f.opcode == Opcode.TEXT:
                        ws.send_text(f.data)
                    else:
                        ws.send_binary(f.data)
                elif f.opcode == Opcode.CLOSE:
                    self.close_code = Close.parse(f.data).code
            for chunk in ws.data_to_send():
                if sid is None:
                    continue
                if chunk:
                    conn.send_data(sid, chunk)
                else:
                    conn.end_stream(sid)
            sock.sendall(conn.data_to_send())
        sock.close()


def test_strata_client_h2_against_python_h2_websocket_server():
    server = H2WebSocketServer()
    p = subprocess.Popen([BIN, "connect", "--h2", f"ws://127.0.0.1:{server.port}/chat"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(b"alpha\nbeta\n")
    p.stdin.flush()
    lines = [p.stdout.readline() for _ in range(2)]
    p.stdin.close()  # EOF: close 1000
    p.stdin = None
    rest, err = p.communicate(timeout=TIMEOUT * 3)
    server.thread.join(TIMEOUT)
    assert server.error is None, repr(server.error)
    assert p.returncode == 0, err.decode()
    assert lines == [b"alpha\n", b"beta\n"] and rest == b""
    h = server.headers
    assert h[b":method"] == b"CONNECT" and h[b":protocol"] == b"websocket", h
    assert h[b":path"] == b"/chat" and h[b"sec-websocket-version"] == b"13", h
    assert server.messages == [(Opcode.TEXT, b"alpha"), (Opcode.TEXT, b"beta")]
    assert server.close_code == 1000
