"""strata's echo server against clients nobody here wrote."""
import asyncio
import os
import socket
import subprocess
import sys
import threading

import pytest

from conftest import run_strata

PEERS = os.path.join(os.path.dirname(__file__), "peers")


def echo_roundtrip(sock, size):
    payload = os.urandom(size)
    got = bytearray()

    def reader():
        while True:
            b = sock.recv(65536)
            if not b:
                return
            got.extend(b)

    t = threading.Thread(target=reader)
    t.start()
    sock.sendall(payload)
    sock.shutdown(socket.SHUT_WR)  # half-close: the server answers after EOF
    t.join(30)
    assert not t.is_alive()
    assert bytes(got) == payload


def test_python_socket_ipv4_4mb_with_half_close(serve):
    s = serve("tcp://127.0.0.1:0")
    with socket.create_connection(s.addr(), timeout=30) as c:
        echo_roundtrip(c, 4 << 20)


def test_python_socket_ipv6(serve):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback")
    s = serve("tcp://[::1]:0")
    with socket.create_connection(s.addr(), timeout=30) as c:
        echo_roundtrip(c, 1 << 20)


def test_python_unix_socket(serve, tmp_path):
    path = tmp_path / "echo.sock"
    s = serve(f"unix://{path}")
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(30)
        c.connect(str(path))
        echo_roundtrip(c, 1 << 20)


def test_asyncio_clients_in_parallel(serve):
    s = serve("tcp://127.0.0.1:0")
    host, port = s.addr()

    async def one(i):
        r, w = await asyncio.open_connection(host, port)
        msg = (f"client {i} ".encode()) * 1000
        w.write(msg)
        await w.drain()
        w.write_eof()
        data = await r.read()
        w.close()
        return data == msg

    async def main():
        return await asyncio.gather(*(one(i) for i in range(50)))

    assert all(asyncio.run(main()))


def test_twisted_client(serve):
    s = serve("tcp://127.0.0.1:0")
    host, port = s.addr()
    r = subprocess.run([sys.executable, os.path.join(PEERS, "twisted_client.py"), host, str(port),
                        str(2 << 20)], capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr


def test_several_endpoints_at_once(serve, tmp_path):
    s = serve("tcp://127.0.0.1:0", f"unix://{tmp_path}/a.sock", "tcp://127.0.0.1:0")
    assert len(s.endpoints) == 3
    for i in (0, 2):
        with socket.create_connection(s.addr(i), timeout=10) as c:
            echo_roundtrip(c, 1000)


def test_udp_echo(serve):
    s = serve("udp://127.0.0.1:0")
    host, port = s.addr()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.settimeout(5)
        for i in range(20):
            msg = f"datagram {i}".encode()
            c.sendto(msg, (host, port))
            data, src = c.recvfrom(2048)
            assert data == msg and src[1] == port


def test_strata_connect_against_twisted_server():
    srv = subprocess.Popen([sys.executable, os.path.join(PEERS, "twisted_echo_server.py")],
                           stdout=subprocess.PIPE, text=True)
    try:
        port = int(srv.stdout.readline().split()[1])
        data = os.urandom(1 << 20)
        r = run_strata("connect", f"tcp://127.0.0.1:{port}", input=data, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout == data
    finally:
        srv.kill()
        srv.wait()


def test_strata_connect_by_name_uses_happy_eyeballs(serve):
    s = serve("tcp://127.0.0.1:0")
    _, port = s.addr()
    r = run_strata("connect", f"tcp://localhost:{port}", input=b"by name\n", timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"by name\n"


def test_ctrl_c_stops_accepting_and_drains(serve):
    s = serve("tcp://127.0.0.1:0")
    c = socket.create_connection(s.addr(), timeout=10)
    c.sendall(b"before")
    assert c.recv(100) == b"before"
    s.proc.send_signal(2)  # Ctrl-C
    # The open connection is closed gracefully (EOF, not a reset) ...
    c.settimeout(15)
    assert c.recv(100) == b""
    # ... the server exits 0 well within its drain deadline ...
    assert s.proc.wait(15) == 0
    # ... and accepts nothing any more.
    with pytest.raises(OSError):
        socket.create_connection(s.addr(), timeout=2)
    c.close()
