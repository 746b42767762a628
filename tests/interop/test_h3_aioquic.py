"""HTTP/3 against aioquic's (an HTTP/3 and QPACK stack nobody here wrote),
both ways: aioquic's H3 client against `strata serve --app http` on
`quic+udp://`, and `strata get --http3` against aioquic's H3 server.
Bodies are checked by SHA-256; the large ones are STRATA_QUIC_MB
megabytes (default 100)."""
import hashlib
import json
import os
import subprocess
import sys

import pytest

from conftest import BIN

PEERS = os.path.join(os.path.dirname(__file__), "peers")
sys.path.insert(0, PEERS)

from aioquic_common import pattern_sha256  # noqa: E402

BIG = int(os.environ.get("STRATA_QUIC_MB", "100")) * 1000 * 1000
# The demo's /bytes/N: byte i is ALPHABET[i % 64].
ALPHABET = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/"


def demo_sha256(n):
    h = hashlib.sha256()
    block = ALPHABET * 1024
    while n > 0:
        part = block[:n]
        h.update(part)
        n -= len(part)
    return h.hexdigest()


def h3_client(port, path, ca=None, upload=None, timeout=600):
    args = [sys.executable, os.path.join(PEERS, "aioquic_h3.py"), "client", "--port", str(port),
            "--path", path, "--timeout", str(timeout)]
    if ca:
        args += ["--ca", ca]
    if upload is not None:
        args += ["--upload-size", str(upload)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 30)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture
def h3_server(certs):
    cert, key = certs
    p = subprocess.Popen([sys.executable, os.path.join(PEERS, "aioquic_h3.py"), "server",
                          "--cert", cert, "--key", key],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line.startswith("LISTENING"):
        p.kill()
        raise RuntimeError("aioquic h3 server: " + line + p.stderr.read())
    yield int(line.split()[1])
    p.kill()
    p.wait()


def h3_serve(serve, certs):
    cert, key = certs
    return serve("--app", "http", f"quic+udp://127.0.0.1:0?quic.cert={cert}&quic.key={key}")


# aioquic's HTTP/3 client against `strata serve`.

def test_aioquic_h3_client_gets_hello(serve, certs):
    s = h3_serve(serve, certs)
    out = h3_client(s.addr()[1], "/hello", ca=certs[0])
    assert out["status"] == 200, out
    assert out["len"] == 13
    assert out["sha256"] == hashlib.sha256(b"hello, world\n").hexdigest()
    assert out["headers"].get("content-type") == "text/plain", out


def test_aioquic_h3_client_big_download(serve, certs):
    s = h3_serve(serve, certs)
    out = h3_client(s.addr()[1], f"/bytes/{BIG}", ca=certs[0])
    assert out["status"] == 200, out
    assert (out["len"], out["sha256"]) == (BIG, demo_sha256(BIG))
    assert out["headers"].get("content-length") == str(BIG)


def test_aioquic_h3_client_big_upload_echoed(serve, certs):
    """BIG bytes up to /echo, streamed back as they arrive."""
    s = h3_serve(serve, certs)
    out = h3_client(s.addr()[1], "/echo", ca=certs[0], upload=BIG)
    assert out["status"] == 200, out
    assert (out["len"], out["sha256"]) == (BIG, pattern_sha256(BIG))


def test_aioquic_h3_client_unknown_path_is_404(serve, certs):
    s = h3_serve(serve, certs)
    out = h3_client(s.addr()[1], "/nowhere", ca=certs[0])
    assert out["status"] == 404, out


# `strata get --http3` against aioquic's HTTP/3 server.

def test_strata_get_http3_hello_from_aioquic(h3_server, certs):
    r = subprocess.run([BIN, "get", "--http3", "--ca", certs[0], "-v",
                        f"https://localhost:{h3_server}/hello"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    assert r.stdout == b"hello, world\n"
    assert b"HTTP/3.0 200" in r.stderr


def test_strata_get_http3_big_download_from_aioquic(h3_server, certs, tmp_path):
    out = tmp_path / "body.bin"
    r = subprocess.run([BIN, "get", "--http3", "--ca", certs[0], "-o", str(out),
                        f"https://localhost:{h3_server}/bytes/{BIG}"],
                       capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    h = hashlib.sha256()
    with open(out, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    assert out.stat().st_size == BIG
    assert h.hexdigest() == pattern_sha256(BIG)


def test_strata_get_http3_404_from_aioquic_is_a_failure(h3_server, certs):
    r = subprocess.run([BIN, "get", "--http3", "--ca", certs[0],
                        f"https://localhost:{h3_server}/nowhere"],
                       capture_output=True, timeout=60)
    assert r.returncode != 0
    assert b"404" in r.stderr
