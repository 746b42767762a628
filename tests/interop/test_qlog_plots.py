"""qlog plots in a real browser (issue 14, point 5): the SVGs in docs/img
that docs/qlog.md shows, and a plot of a trace `strata serve --qlog` and
`strata get --qlog` record over loopback, render in headless Chromium
(Debian's `chromium`) to a screenshot that is not blank, with their
legends in the DOM."""
import os
import pathlib
import subprocess

import pytest

from conftest import BIN
from test_stats_page import WIDTH, HEIGHT, browser, chromium, png_size_and_colours

DOCS_IMG = pathlib.Path(__file__).resolve().parents[2] / "docs" / "img"

LEGENDS = {
    "qlog-reliable-congestion.svg": ["congestion window", "bytes in flight", "packet lost", "smoothed RTT"],
    "qlog-h2-streams.svg": ["stream 1", "headers", "data"],
    "qlog-quic-congestion.svg": ["congestion window", "bytes in flight", "packet lost", "smoothed RTT"],
}


def render(svg, tmp_path):
    """Screenshot and DOM of an SVG file in headless Chromium."""
    url = svg.resolve().as_uri()
    shot = tmp_path / (svg.stem + ".png")
    chromium(f"--screenshot={shot}", url)
    (w, h), colours = png_size_and_colours(shot.read_bytes())
    assert (w, h) == (WIDTH, HEIGHT)
    assert colours > 16, f"{svg.name}: a blank screenshot ({colours} distinct byte values)"
    return chromium("--dump-dom", url).decode()


@pytest.fixture
def have_chromium():
    if browser() is None:
        pytest.skip("chromium is not installed (scripts/test installs Debian's chromium)")


@pytest.mark.parametrize("name", sorted(LEGENDS))
def test_the_doc_images_render(have_chromium, tmp_path, name):
    dom = render(DOCS_IMG / name, tmp_path)
    for text in LEGENDS[name]:
        assert text in dom, f"{name}: no {text!r}"


def test_a_recorded_trace_plots_and_renders(have_chromium, serve, tmp_path):
    sdir, cdir = tmp_path / "server", tmp_path / "client"
    srv = serve("--app", "http", "--qlog", str(sdir), "tls+reliable+udp://127.0.0.1:0")
    host_port = srv.endpoints[0].split("://")[1].split("?")[0]
    r = subprocess.run([BIN, "get", "--insecure", "--transport", "reliable+udp", "-o", os.devnull,
                        "--qlog", str(cdir), f"https://{host_port}/bytes/500000"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    [trace] = list(cdir.iterdir())
    out = tmp_path / "client.svg"
    r = subprocess.run([BIN, "qlog", "plot", str(trace), "-o", str(out), "--view", "congestion"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    dom = render(out, tmp_path)
    assert "congestion window" in dom and "smoothed RTT" in dom
