"""Bad input gets a clear error and a clean close; the server serves on."""
import socket
import struct
import time

from conftest import run_strata


def test_unparsable_endpoint_exits_2_pointing_at_the_error():
    r = run_strata("serve", "tcp://127.0.0.1:99999")
    assert r.returncode == 2
    err = r.stderr.decode()
    lines = err.splitlines()
    # The message, the input, then a caret under the offending character.
    i = next(k for k, l in enumerate(lines) if "tcp://127.0.0.1:99999" in l)
    caret = lines[i + 1]
    assert caret.strip() == "^", err
    assert lines[i][caret.index("^")] == "9", err


def test_connect_with_an_unknown_scheme_exits_2():
    r = run_strata("connect", "sctp://127.0.0.1:1")
    assert r.returncode == 2
    assert b"sctp" in r.stderr


def test_a_peer_reset_affects_nobody_else(serve):
    s = serve("tcp://127.0.0.1:0")
    keep = socket.create_connection(s.addr(), timeout=10)
    for _ in range(20):
        c = socket.create_connection(s.addr(), timeout=10)
        c.sendall(b"x" * 10000)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()  # RST
    keep.sendall(b"still here")
    assert keep.recv(100) == b"still here"
    keep.close()


def test_a_line_over_the_limit_closes_only_that_chat_client(serve):
    s = serve("tcp://127.0.0.1:0", "--app", "chat")
    a = socket.create_connection(s.addr(), timeout=10)
    b = socket.create_connection(s.addr(), timeout=10)
    bad = socket.create_connection(s.addr(), timeout=10)
    time.sleep(0.2)
    bad.sendall(b"y" * 100_000)
    bad.settimeout(10)
    got = b""
    try:
        while True:
            d = bad.recv(65536)
            if not d:
                break
            got += d
    except ConnectionResetError:
        pass
    # The others still chat.
    a.sendall(b"hello b\n")
    b.settimeout(10)
    buf = b""
    while b"hello b" not in buf:
        d = b.recv(4096)
        assert d
        buf += d
    for c in (a, b):
        c.close()
