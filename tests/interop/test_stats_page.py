"""The demo's live statistics page in a real browser: headless Chromium
(Debian's package, installed by scripts/test) loads `/stats`, runs its
script, and the figures it renders must match the server's own counters
(`/stats.json`) and the requests this test made. A screenshot must be a
non-blank PNG of the window's size."""
import html.parser
import http.client
import json
import os
import shutil
import struct
import subprocess
import zlib

import pytest

BROWSERS = ("chromium", "chromium-headless-shell")
WIDTH, HEIGHT = 1024, 768


def browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium(*args, timeout=90):
    """Runs headless Chromium with a virtual-time budget (the page's timers
    run, the network is real) and returns its stdout."""
    exe = browser()
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
           f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=4000", *args]
    r = subprocess.run(cmd, capture_output=True, timeout=timeout)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    return r.stdout


def get(host, port, path, keep=None):
    c = keep or http.client.HTTPConnection(host, port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    if keep is None:
        c.close()
    return r.status, body


class Figures(html.parser.HTMLParser):
    """Collects the text of elements with an id, the body's attributes, and
    the cells of the rows keyed by `data-endpoint` (and `data-layer`)."""

    def __init__(self):
        super().__init__()
        self.by_id, self.body, self.rows = {}, {}, []
        self._id, self._row, self._cell = None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if "id" in a:
            self._id = a["id"]
            self.by_id[self._id] = ""
        if tag == "tr" and "data-endpoint" in a:
            self._row = {"kind": a.get("class"), "endpoint": a["data-endpoint"],
                         "layer": a.get("data-layer")}
            self.rows.append(self._row)
        if tag == "td" and self._row is not None:
            self._cell = (a.get("class") or "").split()[-1]
            self._row[self._cell] = ""

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        if tag == "tr":
            self._row = None
        self._id = None

    def handle_data(self, data):
        if self._id is not None:
            self.by_id[self._id] += data
        if self._row is not None and self._cell is not None:
            self._row[self._cell] += data


def png_size_and_colours(data):
    """Width, height and the number of distinct byte values of the
    decompressed image data (a blank image has a handful)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, size = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            size = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    raw = zlib.decompress(idat)
    return size, len(set(raw))


@pytest.fixture
def page_server(serve):
    if browser() is None:
        pytest.skip("chromium is not installed (scripts/test installs Debian's chromium)")
    srv = serve("--app", "http", "--stats", "tcp://127.0.0.1:0")
    return srv


def test_the_stats_page_renders_the_servers_figures(page_server, tmp_path):
    host, port = page_server.addr()
    # A known load: 6 requests on 6 connections, 4 more on one keep-alive
    # connection; one 404 among them counts as a request too.
    for _ in range(5):
        assert get(host, port, "/hello") == (200, b"hello, world\n")
    assert get(host, port, "/nowhere")[0] == 404
    keep = http.client.HTTPConnection(host, port, timeout=10)
    for _ in range(4):
        assert get(host, port, "/hello", keep)[0] == 200
    keep.close()
    requests, connections = 10, 7

    status, body = get(host, port, "/stats.json")
    assert status == 200
    before = json.loads(body)
    assert before["requests"] == requests, before
    [stack] = before["stacks"]
    assert stack["endpoint"] == page_server.endpoints[0]
    assert stack["chain"] == ["tcp"]
    assert stack["total"] == connections + 1  # and the one asking now

    url = f"http://{host}:{port}/stats"
    dom = chromium("--dump-dom", url).decode()
    f = Figures()
    f.feed(dom)
    # The script ran, polled, and drew.
    assert int(f.body.get("data-updates", "0")) >= 1, dom[:2000]
    assert f.by_id["status"] == "live"
    # The statistics routes are not requests: the page shows exactly ours.
    assert int(f.by_id["requests"]) == requests

    status, body = get(host, port, "/stats.json")
    after = json.loads(body)
    assert after["requests"] == requests
    [later] = after["stacks"]
    # The browser's connections came after ours and before this last look.
    shown_total = int(f.by_id["total"])
    assert before["stacks"][0]["total"] < shown_total <= later["total"]
    assert 0 <= int(f.by_id["open"]) <= shown_total
    stacks = [r for r in f.rows if r["kind"] == "stack"]
    assert [(r["endpoint"], r["chain"], int(r["total"])) for r in stacks] == \
        [(stack["endpoint"], "tcp", shown_total)]
    layers = [r for r in f.rows if r["kind"] == "layer"]
    assert [r["name"] for r in layers] == ["tcp"]
    shown_in, shown_out = int(layers[0]["bytes_in"]), int(layers[0]["bytes_out"])
    tcp_before, tcp_after = before["stacks"][0]["layers"][0], later["layers"][0]
    assert tcp_before["bytes_in"] < shown_in <= tcp_after["bytes_in"]
    assert tcp_before["bytes_out"] < shown_out <= tcp_after["bytes_out"]
    # The chart has a line once there is a sample.
    assert "chart-line" in f.by_id

    shot = tmp_path / "stats.png"
    chromium(f"--screenshot={shot}", url)
    (w, h), colours = png_size_and_colours(shot.read_bytes())
    assert (w, h) == (WIDTH, HEIGHT)
    assert colours > 16, f"a blank screenshot ({colours} distinct byte values)"
    if os.environ.get("STATS_PAGE_SHOT"):
        shutil.copy(shot, os.environ["STATS_PAGE_SHOT"])


def test_serve_v_logs_lifecycles_and_stats_prints_totals(serve):
    """`-v` logs each connection's lifecycle with its peer and chain;
    `--stats` prints one line of totals a second, and once more when the
    server stops. Without them the same exchange logs no lifecycle."""
    import socket

    def one_exchange(srv):
        host, port = srv.addr()
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(b"ping\n")
            assert s.recv(16) == b"ping\n"
            s.shutdown(socket.SHUT_WR)
            assert s.recv(16) == b""
        return port

    loud = serve("--app", "echo", "-v", "--stats=1", "tcp://127.0.0.1:0")
    port = one_exchange(loud)
    loud.stop()
    err = loud.proc.stderr.read()
    lines = err.splitlines()
    accepted = [l for l in lines if "strata::conn: accepted" in l]
    assert len(accepted) == 1, err[-3000:]
    assert 'chain="tcp"' in accepted[0] and "peer=" in accepted[0]
    assert any("strata::conn: closed" in l for l in lines), err[-3000:]
    stats = [l for l in lines if l.startswith("strata: stats uptime=")]
    assert stats, err[-3000:]
    assert stats[-1].endswith(f"| tcp://127.0.0.1:{port} open=0 total=1 tcp=in:5,out:5,buf:0"), stats[-1]

    quiet = serve("--app", "echo", "tcp://127.0.0.1:0")
    one_exchange(quiet)
    quiet.stop()
    err = quiet.proc.stderr.read()
    assert "strata::conn" not in err and "stats uptime=" not in err, err[-3000:]
