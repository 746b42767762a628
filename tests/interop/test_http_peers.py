"""strata's HTTP/2 and HTTP/1.1 against peers nobody here wrote: curl,
nghttp, h2load and Python's h2 as clients; Python's h2 and http.server as
servers for `strata get`."""
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest

from conftest import BIN, run_strata

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def http(serve):
    """strata serve --app http on h2c/http1.1 (0) and TLS (1)."""
    return serve("--app", "http", "tcp://127.0.0.1:0", "tls+tcp://127.0.0.1:0")


def curl(*args, data=None):
    r = subprocess.run(["curl", "-sS", "--max-time", "30", *args], input=data,
                       capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def test_curl_http2_over_tls(http):
    host, port = http.addr(1)
    out = curl("--insecure", "--http2", "-w", "\n%{http_version}", f"https://{host}:{port}/bytes/100000")
    body, version = out.rsplit(b"\n", 1)
    assert version == b"2"
    assert len(body) == 100000


def test_curl_http11_over_tls_by_alpn(http):
    host, port = http.addr(1)
    out = curl("--insecure", "--http1.1", "-w", "\n%{http_version}", f"https://{host}:{port}/bytes/5000")
    body, version = out.rsplit(b"\n", 1)
    assert version == b"1.1"
    assert len(body) == 5000


def test_curl_h2c_prior_knowledge_echo_upload(http):
    host, port = http.addr(0)
    payload = os.urandom(3 << 20)
    out = curl("--http2-prior-knowledge", "-w", "\n%{http_version}", "--data-binary", "@-",
               f"http://{host}:{port}/echo", data=payload)
    body, version = out.rsplit(b"\n", 1)
    assert version == b"2"
    assert hashlib.sha256(body).digest() == hashlib.sha256(payload).digest()


def test_curl_plain_http11_keepalive_and_chunked_upload(http):
    host, port = http.addr(0)
    url = f"http://{host}:{port}"
    out = curl("--http1.1", "-w", "\n%{http_version}", f"{url}/bytes/10", f"{url}/bytes/20")
    assert out.count(b"\n1.1") == 1 or out.endswith(b"1.1")
    payload = os.urandom(200_000)
    body = curl("--http1.1", "-H", "Transfer-Encoding: chunked", "--data-binary", "@-",
                f"{url}/echo", data=payload)
    assert body == payload


def test_nghttp_verbose_h2c(http):
    host, port = http.addr(0)
    r = subprocess.run(["nghttp", "-v", "-n", f"http://{host}:{port}/bytes/1000"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "recv SETTINGS frame" in r.stdout
    assert ":status: 200" in r.stdout
    assert "END_STREAM" in r.stdout


def test_nghttp_over_tls_with_upload(http, tmp_path):
    host, port = http.addr(1)
    f = tmp_path / "up"
    f.write_bytes(os.urandom(500_000))
    r = subprocess.run(["nghttp", "-v", "-d", str(f), f"https://{host}:{port}/echo"],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert b":status: 200" in r.stdout


def h2load_ok(out):
    return "0 failed" in out and "0 errored" in out


def test_h2load_zero_failed(http):
    host, port = http.addr(0)
    r = subprocess.run(["h2load", "-n", "20000", "-c", "4", "-m", "20", f"http://{host}:{port}/"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "20000 total" in r.stdout and h2load_ok(r.stdout), r.stdout


def test_h2load_over_tls(http):
    host, port = http.addr(1)
    r = subprocess.run(["h2load", "-n", "5000", "-c", "4", "-m", "10", f"https://{host}:{port}/"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5000 succeeded" in r.stdout and h2load_ok(r.stdout), r.stdout


def h2_client(host, port):
    sock = socket.create_connection((host, port))
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def h2_run(sock, conn, until, timeout=20):
    """Reads events until `until(events_so_far)` is true."""
    events = []
    sock.settimeout(timeout)
    while not until(events):
        data = sock.recv(65536)
        if not data:
            break
        new = conn.receive_data(data)
        for ev in new:
            if isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        events.extend(new)
        sock.sendall(conn.data_to_send())
    return events


def test_python_h2_multiplexed_streams_and_a_reset(http):
    host, port = http.addr(0)
    sock, conn = h2_client(host, port)
    ids = []
    for i in range(10):
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"),
                                (":authority", f"{host}:{port}"), (":path", "/echo")])
        conn.send_data(sid, f"body {i}".encode() * 100, end_stream=True)
        ids.append(sid)
    # One more stream, reset by us before it ends: the others are unaffected.
    rid = conn.get_next_available_stream_id()
    conn.send_headers(rid, [(":method", "POST"), (":scheme", "http"),
                            (":authority", "x"), (":path", "/echo")])
    conn.reset_stream(rid)
    sock.sendall(conn.data_to_send())
    ended = set()

    def done(evs):
        ended.update(e.stream_id for e in evs if isinstance(e, h2.events.StreamEnded))
        return set(ids) <= ended

    evs = h2_run(sock, conn, done)
    bodies = {}
    for e in evs:
        if isinstance(e, h2.events.DataReceived):
            bodies.setdefault(e.stream_id, bytearray()).extend(e.data)
    for i, sid in enumerate(ids):
        assert bytes(bodies[sid]) == f"body {i}".encode() * 100
    sock.close()


def test_python_h2_small_window_is_respected(http):
    """The client allows 1000 bytes per stream; the server never exceeds it."""
    host, port = http.addr(0)
    sock = socket.create_connection((host, port))
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.local_settings = h2.settings.Settings(client=True, initial_values={
        h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1000})
    conn.initiate_connection()
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "GET"), (":scheme", "http"),
                            (":authority", "x"), (":path", "/bytes/50000")], end_stream=True)
    sock.sendall(conn.data_to_send())
    sock.settimeout(20)
    got = 0
    done = False
    while not done:
        data = sock.recv(65536)
        assert data, "server closed early"
        for ev in conn.receive_data(data):  # h2 raises FlowControlError if exceeded
            if isinstance(ev, h2.events.DataReceived):
                got += len(ev.data)
                conn.acknowledge_received_data(ev.flow_controlled_length, sid)
            if isinstance(ev, h2.events.StreamEnded):
                done = True
        sock.sendall(conn.data_to_send())
    assert got == 50000
    sock.close()


def test_python_h2_goaway_on_protocol_error(http):
    """A DATA frame on stream 0 is a connection error: GOAWAY(PROTOCOL_ERROR)."""
    host, port = http.addr(0)
    sock, conn = h2_client(host, port)
    sock.sendall(b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")
    sock.settimeout(10)
    evs = h2_run(sock, conn, lambda evs: any(isinstance(e, h2.events.ConnectionTerminated) for e in evs))
    term = [e for e in evs if isinstance(e, h2.events.ConnectionTerminated)]
    assert term and term[0].error_code == h2.errors.ErrorCodes.PROTOCOL_ERROR
    sock.close()


@pytest.fixture
def cert(tmp_path):
    key, crt = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-addext", "basicConstraints=critical,CA:FALSE"],
                   check=True, capture_output=True)
    return str(crt), str(key)


def start_peer(*args):
    p = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("ready"), line
    return p, int(line.split()[1])


def test_strata_get_against_python_h2_server_h2c(tmp_path):
    p, port = start_peer(os.path.join(HERE, "peers", "h2_server.py"))
    try:
        out = tmp_path / "o"
        r = run_strata("get", "--http2", "-o", str(out), f"http://127.0.0.1:{port}/bytes/3000000")
        assert r.returncode == 0, r.stderr
        assert out.stat().st_size == 3000000
    finally:
        p.kill()


def test_strata_get_against_python_h2_server_tls_alpn(tmp_path, cert):
    crt, key = cert
    p, port = start_peer(os.path.join(HERE, "peers", "h2_server.py"), crt, key)
    try:
        r = run_strata("get", "-v", "--ca", crt, f"https://127.0.0.1:{port}/hello")
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"/hello\n"
        assert b"HTTP/2.0" in r.stderr and b"python-h2" in r.stderr
    finally:
        p.kill()


def test_strata_get_http11_against_python_http_server(tmp_path):
    d = tmp_path / "www"
    d.mkdir()
    (d / "f.bin").write_bytes(os.urandom(1_500_000))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                          "--directory", str(d)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        out = tmp_path / "o"
        r = run_strata("get", "-o", str(out), f"http://127.0.0.1:{port}/f.bin")
        assert r.returncode == 0, r.stderr
        assert out.read_bytes() == (d / "f.bin").read_bytes()
        r = run_strata("get", f"http://127.0.0.1:{port}/missing")
        assert r.returncode == 1 and b"404" in r.stderr
    finally:
        p.kill()


def test_strata_get_against_strata_every_way(http, tmp_path):
    h0, p0 = http.addr(0)
    h1, p1 = http.addr(1)
    for args, url in [((), f"https://{h1}:{p1}/bytes/2000000"),
                      (("--http1",), f"https://{h1}:{p1}/bytes/2000000"),
                      (("--http2",), f"http://{h0}:{p0}/bytes/2000000"),
                      ((), f"http://{h0}:{p0}/bytes/2000000")]:
        out = tmp_path / "o"
        r = run_strata("get", "--insecure", *args, "-o", str(out), url) if url.startswith("https") \
            else run_strata("get", *args, "-o", str(out), url)
        assert r.returncode == 0, (args, url, r.stderr)
        assert out.stat().st_size == 2000000, (args, url)


def test_default_serve_prints_curl_commands(tmp_path):
    """`strata serve` with no arguments: the HTTP demo on 8443 (TLS), 8080,
    udp 8443 (HTTP/3, advertised by Alt-Svc on the TLS endpoint, which
    `strata get --http3` reaches) and udp 8444 (HTTP/2 over TLS over the
    reliable mapping), which `strata get --transport reliable+udp` reaches."""
    for port in (8443, 8080):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                pytest.skip(f"port {port} is taken on this machine")
    p = subprocess.Popen([BIN, "serve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        printed = ""
        while "ready" not in printed:
            line = p.stdout.readline()
            assert line, p.stderr.read()
            printed += line
        for _ in range(20):
            printed += p.stdout.readline()
            if printed.count("-- get ") >= 4:
                break
        assert "curl --insecure --http2 https://127.0.0.1:8443/" in printed
        assert "curl http://127.0.0.1:8080/" in printed
        assert "--transport reliable+udp https://127.0.0.1:8444/" in printed
        assert curl("--insecure", "--http2", "https://127.0.0.1:8443/")
        assert curl("http://127.0.0.1:8080/")
        out = tmp_path / "over-udp"
        r = run_strata("get", "--insecure", "--transport", "reliable+udp", "-v", "-o", str(out),
                       "https://127.0.0.1:8444/bytes/3000000")
        assert r.returncode == 0, r.stderr
        assert b"HTTP/2" in r.stderr
        assert out.stat().st_size == 3000000
        assert "get --http3 --insecure https://127.0.0.1:8443/" in printed
        head = subprocess.run(["curl", "--insecure", "-sI", "https://127.0.0.1:8443/hello"],
                              capture_output=True, text=True, timeout=30).stdout.lower()
        assert 'alt-svc: h3=":8443"' in head, head
        out3 = tmp_path / "over-h3"
        r = run_strata("get", "--http3", "--insecure", "-v", "-o", str(out3),
                       "https://127.0.0.1:8443/bytes/3000000")
        assert r.returncode == 0, r.stderr
        assert b"HTTP/3" in r.stderr
        assert out3.read_bytes() == out.read_bytes()
    finally:
        p.send_signal(2)
        p.wait(15)


def test_a_client_that_never_reads_does_not_hurt_others_or_grow_the_server(http):
    """Ten h2 connections ask for 1 GB each and never read; the server's
    memory stays bounded by its windows and buffers, and other clients are
    served at once."""
    host, port = http.addr(0)
    stuck = []
    rss0 = http.rss_kib()
    for _ in range(10):
        sock, conn = h2_client(host, port)
        for _ in range(8):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, [(":method", "GET"), (":scheme", "http"), (":authority", "x"),
                                    (":path", "/bytes/1000000000")], end_stream=True)
        # A huge window: only the server's own buffers can hold it back.
        conn.increment_flow_control_window(2**31 - 1 - 65535)
        sock.sendall(conn.data_to_send())
        stuck.append(sock)
    time.sleep(2)
    rss1 = http.rss_kib()
    # Others are unaffected: a thousand requests succeed quickly.
    r = subprocess.run(["h2load", "-n", "1000", "-c", "2", "-m", "10", f"http://{host}:{port}/"],
                       capture_output=True, text=True, timeout=60)
    assert "1000 succeeded" in r.stdout and h2load_ok(r.stdout), r.stdout
    out = curl("--http2-prior-knowledge", f"http://{host}:{port}/hello")
    assert out == b"hello, world\n"
    time.sleep(1)
    rss2 = http.rss_kib()
    # Each stuck connection holds at most its socket buffer below, the stack's
    # high-water mark and the streams' send buffers (1 MiB cap): far below
    # the 10 GB asked for.
    assert rss2 - rss0 < 10 * 3 * 1024, f"server grew by {rss2 - rss0} KiB ({rss1 - rss0} KiB after 2 s)"
    for s in stuck:
        s.close()
