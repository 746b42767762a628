"""The PROXY protocol against a real HAProxy (Debian's package, started here
with a config in a temp dir, 127.0.0.1 only):

* HAProxy `send-proxy` / `send-proxy-v2` in front of `strata serve
  proxy+tcp://`: the chat app greets the client by its own address (not
  HAProxy's), and the server's log names it;
* `strata relay` sending a PROXY header (v1 and v2) in front of HAProxy
  `accept-proxy`: HAProxy's `%[src]` is the client's address;
* against strata directly: a malformed header, a truncated one and a
  silent client are closed with the layer's error in the log."""
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from conftest import BIN

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy not installed")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    deadline = time.time() + 15
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {proc.stderr.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} is not listening on {port}")


@pytest.fixture
def haproxy(tmp_path):
    started = []

    def start(body):
        cfg = tmp_path / f"haproxy{len(started)}.cfg"
        cfg.write_text(
            "global\n    maxconn 100\n"
            "defaults\n    timeout connect 5s\n    timeout client 10s\n    timeout server 10s\n"
            + body)
        p = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(p)
        return p

    yield start
    for p in started:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def recv_line(sock):
    data = b""
    while not data.endswith(b"\n"):
        d = sock.recv(4096)
        if not d:
            break
        data += d
    return data.decode()


@pytest.mark.parametrize("send_proxy", ["send-proxy", "send-proxy-v2"])
def test_haproxy_in_front_of_strata_gives_the_real_client_address(
        serve, haproxy, monkeypatch, send_proxy):
    monkeypatch.setenv("RUST_LOG", "info,strata::proxy_protocol=debug")
    s = serve("proxy+tcp://127.0.0.1:0", "--app", "chat")
    _, sport = s.addr()
    front = free_port()
    hp = haproxy(
        f"frontend fe\n    mode tcp\n    bind 127.0.0.1:{front}\n    default_backend be\n"
        f"backend be\n    mode tcp\n"
        f"    server s1 127.0.0.1:{sport} {send_proxy} check check-send-proxy inter 200\n")
    wait_port(front, hp, "haproxy")
    c = socket.create_connection(("127.0.0.1", front), timeout=10)
    me = "127.0.0.1:%d" % c.getsockname()[1]
    welcome = recv_line(c)
    assert welcome.startswith(f"*** welcome {me},"), (welcome, me)
    c.sendall(b"hello\n")
    c.close()
    time.sleep(0.5)  # a few health checks (every 200 ms), which send a header too
    s.stop()
    log = s.proc.stderr.read()
    assert "aborted by proxy" not in log, log
    if send_proxy == "send-proxy-v2":
        # HAProxy's health checks send a v2 LOCAL header: the TCP addresses stand.
        assert "PROXY v2 header read client=local" in log, log
    version = "v1" if send_proxy == "send-proxy" else "v2"
    assert re.search(rf"PROXY {version} header read client={re.escape(me)}\b", log), log


def test_haproxy_terminating_tls_sends_its_tlvs(serve, haproxy, monkeypatch, certs, tmp_path):
    """HAProxy terminates TLS and sends the SSL and authority TLVs with
    `send-proxy-v2-ssl`: strata reads them (its log shows the TLS version
    and the SNI the client sent), and the client's address still stands."""
    import ssl
    cert, key = certs
    pem = tmp_path / "haproxy.pem"
    pem.write_text(open(cert).read() + open(key).read())
    monkeypatch.setenv("RUST_LOG", "info,strata::proxy_protocol=debug")
    s = serve("proxy+tcp://127.0.0.1:0", "--app", "chat")
    _, sport = s.addr()
    front = free_port()
    hp = haproxy(
        f"frontend fe\n    mode tcp\n    bind 127.0.0.1:{front} ssl crt {pem}\n    default_backend be\n"
        f"backend be\n    mode tcp\n"
        f"    server s1 127.0.0.1:{sport} send-proxy-v2-ssl proxy-v2-options authority\n")
    wait_port(front, hp, "haproxy")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", front), timeout=10)
    me = "127.0.0.1:%d" % raw.getsockname()[1]
    c = ctx.wrap_socket(raw, server_hostname="localhost")
    version = c.version()
    welcome = recv_line(c)
    assert welcome.startswith(f"*** welcome {me},"), (welcome, me)
    c.close()
    s.stop()
    log = s.proc.stderr.read()
    line = [l for l in log.splitlines() if f"client={me}" in l]
    assert line, log
    assert "authority=localhost" in line[0], line[0]
    assert f"ssl={version}" in line[0], (line[0], version)


@pytest.mark.parametrize("send", ["1", "2"])
def test_strata_relay_in_front_of_haproxy_accept_proxy(haproxy, send, tmp_path):
    back = free_port()
    hp = haproxy(
        f"frontend fe\n    mode http\n    bind 127.0.0.1:{back} accept-proxy\n"
        '    http-request return status 200 content-type text/plain lf-string "src=%[src]:%[src_port]\\n"\n')
    # HAProxy refuses a connection without a header: wait on the process
    # (the port check itself sends none, which HAProxy just drops).
    wait_port(back, hp, "haproxy")
    relay = subprocess.Popen(
        [BIN, "relay", "tcp://127.0.0.1:0", f"proxy+tcp://127.0.0.1:{back}?proxy.send={send}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = relay.stdout.readline()
        m = re.search(r"relaying tcp://127\.0\.0\.1:(\d+) ->", line)
        assert m, line + relay.stderr.read()
        c = socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=10)
        me = "127.0.0.1:%d" % c.getsockname()[1]
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        resp = b""
        while True:
            d = c.recv(4096)
            if not d:
                break
            resp += d
        resp = resp.decode()
        assert resp.startswith("HTTP/1.1 200"), resp
        assert f"src={me}\n" in resp, (resp, me)
    finally:
        relay.send_signal(2)
        try:
            relay.wait(15)
        except subprocess.TimeoutExpired:
            relay.kill()


def closed_by_server(sock):
    """True once the server closed (EOF or reset) without sending a byte."""
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


def test_bad_headers_and_a_silent_client_are_closed_with_the_layers_error(serve):
    s = serve("proxy+tcp://127.0.0.1:0?proxy.timeout=500", "--app", "echo")
    addr = s.addr()
    bad = socket.create_connection(addr, timeout=10)
    bad.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert closed_by_server(bad)
    v2 = socket.create_connection(addr, timeout=10)
    v2.sendall(b"\r\n\r\n\x00\r\nQUIT\n\x2f\x11\x00\x0c" + b"\x00" * 12)
    assert closed_by_server(v2)
    cut = socket.create_connection(addr, timeout=10)
    cut.sendall(b"PROXY TCP4 127.0.0.1 ")
    cut.shutdown(socket.SHUT_WR)
    assert closed_by_server(cut)
    silent = socket.create_connection(addr, timeout=10)
    t0 = time.time()
    assert closed_by_server(silent)
    assert 0.3 < time.time() - t0 < 5
    s.stop()
    log = s.proc.stderr.read()
    assert "no PROXY protocol header" in log, log
    assert "command is not LOCAL or PROXY" in log, log
    assert "connection closed after 21 bytes of a PROXY header" in log, log
    assert "PROXY header not complete after 500ms (0 bytes received)" in log, log
