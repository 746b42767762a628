"""Large HTTP/2 uploads to `/echo` from peers with their default (small)
windows: nghttp and Python's h2 (64 KiB per stream), h2load with `-w 16`.

With a 64 KiB client window the echo's response is held back while the
upload fills the server's 1 MiB window; the server once handed all of that
to the echo at once when the window opened, the echo wrote it back past the
stream's send limit, and the upload was reset with INTERNAL_ERROR (3 MB was
enough). Each row uploads 50 MB and checks the echo (nghttp and h2: the
bytes, by hash; h2load: every request 2xx, nothing failed or errored)."""
import hashlib
import select
import socket
import subprocess

import h2.config
import h2.connection
import h2.errors
import h2.events
import pytest

SIZE = 50 * 1000 * 1000


@pytest.fixture
def h2c(serve):
    """strata serve --app http on h2c (prior knowledge)."""
    return serve("--app", "http", "tcp://127.0.0.1:0")


@pytest.fixture(scope="module")
def upload_file(tmp_path_factory):
    """A 50 MB file of pseudo-random bytes (a repeated pattern would hide
    reordering), and its SHA-256."""
    path = tmp_path_factory.mktemp("upload") / "body.bin"
    h = hashlib.sha256()
    block = hashlib.sha256(b"strata").digest() * 32768  # 1 MiB
    with open(path, "wb") as f:
        left = SIZE
        i = 0
        while left:
            chunk = (bytes([i % 256]) + block)[: min(left, len(block))]
            f.write(chunk)
            h.update(chunk)
            left -= len(chunk)
            i += 1
    return path, h.hexdigest()


def test_nghttp_default_window_50mb_echo(h2c, upload_file):
    path, digest = upload_file
    host, port = h2c.addr()
    r = subprocess.run(["nghttp", "-d", str(path), f"http://{host}:{port}/echo"],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert len(r.stdout) == SIZE, (len(r.stdout), r.stderr.decode(errors="replace"))
    assert hashlib.sha256(r.stdout).hexdigest() == digest


def test_nghttp_3mb_issue_repro_has_no_reset(h2c, tmp_path):
    """The issue's command: `nghttp -nv -d f .../echo` with 3 MB of zeros."""
    f = tmp_path / "f"
    f.write_bytes(b"\0" * 3_000_000)
    host, port = h2c.addr()
    r = subprocess.run(["nghttp", "-nv", "-d", str(f), f"http://{host}:{port}/echo"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "RST_STREAM" not in r.stdout, r.stdout[-4000:]
    assert ":status: 200" in r.stdout


def test_python_h2_default_window_50mb_echo(h2c, upload_file):
    path, digest = upload_file
    host, port = h2c.addr()
    sock = socket.create_connection((host, port))
    sock.setblocking(False)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"),
                            (":authority", f"{host}:{port}"), (":path", "/echo"),
                            ("content-length", str(SIZE))])
    out = bytearray(conn.data_to_send())
    got = hashlib.sha256()
    got_len = 0
    ended = False
    body = open(path, "rb")
    pending = b""
    sent_all = False
    while not ended:
        # Queue as much of the body as h2's view of the windows allows.
        while not sent_all:
            room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
            if room <= 0:
                break
            if not pending:
                pending = body.read(1 << 20)
                if not pending:
                    conn.end_stream(sid)
                    sent_all = True
                    break
            n = min(room, len(pending))
            conn.send_data(sid, pending[:n])
            pending = pending[n:]
        out += conn.data_to_send()
        r, w, _ = select.select([sock], [sock] if out else [], [], 30)
        assert r or w, f"stuck: echoed {got_len} of {SIZE}"
        if w and out:
            try:
                n = sock.send(out)
                del out[:n]
            except BlockingIOError:
                pass
        if r:
            data = sock.recv(1 << 20)
            assert data, f"server closed: echoed {got_len} of {SIZE}"
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.DataReceived):
                    got.update(ev.data)
                    got_len += len(ev.data)
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    ended = True
                elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                    pytest.fail(f"server ended the upload: {ev} after {got_len} bytes")
            out += conn.data_to_send()
    sock.close()
    assert got_len == SIZE
    assert got.hexdigest() == digest


def test_h2load_w16_50mb_echo(h2c, upload_file):
    path, _ = upload_file
    host, port = h2c.addr()
    r = subprocess.run(["h2load", "-n", "2", "-c", "1", "-m", "2", "-w", "16",
                        "-d", str(path), f"http://{host}:{port}/echo"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 succeeded, 0 failed, 0 errored" in r.stdout, r.stdout
    assert "status codes: 2 2xx" in r.stdout, r.stdout


def test_every_reset_is_logged_with_its_reason(serve, monkeypatch):
    """A stream error (a body longer than its content-length) is reset, and
    the reset is in the server's debug log with its reason."""
    monkeypatch.setenv("RUST_LOG", "strata::http::h2=debug")
    srv = serve("--app", "http", "tcp://127.0.0.1:0")
    host, port = srv.addr()
    sock = socket.create_connection((host, port))
    sock.settimeout(20)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"),
                            (":authority", "x"), (":path", "/echo"),
                            ("content-length", "3")])
    conn.send_data(sid, b"0123456789", end_stream=True)
    sock.sendall(conn.data_to_send())
    reset = None
    while reset is None:
        data = sock.recv(65536)
        assert data, "server closed"
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.StreamReset):
                reset = ev
        sock.sendall(conn.data_to_send())
    sock.close()
    assert reset.error_code == h2.errors.ErrorCodes.PROTOCOL_ERROR
    srv.stop()
    log = srv.proc.stderr.read()
    assert "RST_STREAM sent" in log and "body length differs from content-length" in log, log
