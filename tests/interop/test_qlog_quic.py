"""QUIC qlog against a peer nobody here wrote (issue 14, point 5): `strata
get --http3 --qlog DIR` against aioquic's HTTP/3 server, which writes its
own qlog of the same connection. strata's trace holds quinn-proto's events
packet by packet; every packet one end logs received, the other logged
sent, with the same type and number, and on loopback (nothing lost) the
counts agree both ways within a few packets (those crossing the close)."""
import json
import os
import subprocess
import sys
import time

from conftest import BIN

PEERS = os.path.join(os.path.dirname(__file__), "peers")
SIZE = 2 * 1000 * 1000


def strata_trace(path):
    """The events of a JSON-SEQ trace, checked for qlog's required fields."""
    text = path.read_text()
    assert text.startswith("\x1e"), "JSON-SEQ records start with RS"
    records = [json.loads(r) for r in text.split("\x1e")[1:]]
    header, events = records[0], records[1:]
    assert header["qlog_format"] == "JSON-SEQ" and "qlog_version" in header
    assert header["trace"]["vantage_point"]["type"] == "client"
    for e in events:
        assert isinstance(e["time"], (int, float)) and ":" in e["name"], e
        assert isinstance(e["data"], dict), e
    return events


def aioquic_trace(directory, deadline):
    """The events of the one trace aioquic writes into `directory`, once it
    is complete (it is written when its connection has drained)."""
    while True:
        files = list(directory.glob("*.qlog"))
        if files:
            try:
                [trace] = json.loads(files[0].read_text())["traces"]
                return trace["events"]
            except ValueError:
                pass  # still being written
        assert time.time() < deadline, f"no complete aioquic qlog in {directory}"
        time.sleep(0.05)


def packets(events, name):
    """(packet type, packet number) of every event named `name`."""
    return {(e["data"]["header"]["packet_type"], e["data"]["header"]["packet_number"])
            for e in events if e["name"] == name}


def test_strata_get_http3_qlog_numbers_the_packets_aioquic_logs(certs, tmp_path):
    cert, key = certs
    theirs_dir, ours_dir = tmp_path / "aioquic", tmp_path / "strata"
    theirs_dir.mkdir()
    server = subprocess.Popen(
        [sys.executable, os.path.join(PEERS, "aioquic_h3.py"), "server", "--cert", cert,
         "--key", key, "--qlog", str(theirs_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert line.startswith("LISTENING"), line + server.stderr.read()
        port = int(line.split()[1])
        r = subprocess.run([BIN, "get", "--http3", "--ca", cert, "-o", os.devnull,
                            "--qlog", str(ours_dir), f"https://localhost:{port}/bytes/{SIZE}"],
                           capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
        # aioquic writes its trace once the connection has drained.
        theirs = aioquic_trace(theirs_dir, time.time() + 30)
    finally:
        server.kill()
        server.wait()
    [ours_file] = list(ours_dir.iterdir())
    ours = strata_trace(ours_file)
    # One trace per connection: QUIC's packets and HTTP/3's frames.
    assert {e["category"] for e in ours} == {"quic", "h3"}, {e["category"] for e in ours}
    body = sum(e["data"]["length"] for e in ours
               if e["name"] == "http3:frame_parsed" and e["data"]["frame"]["frame_type"] == "data")
    assert body == SIZE, body

    ours_sent = packets(ours, "transport:packet_sent")
    ours_received = packets(ours, "transport:packet_received")
    theirs_sent = packets(theirs, "transport:packet_sent")
    theirs_received = packets(theirs, "transport:packet_received")
    # 2 MB down in packets of at most ~1,450 bytes.
    assert len(ours_received) > SIZE // 1500, len(ours_received)
    assert {"initial", "handshake", "1RTT"} <= {t for t, _ in ours_sent}
    # The same packets, by type and number, on both sides.
    assert ours_received <= theirs_sent, sorted(ours_received - theirs_sent)[:10]
    assert theirs_received <= ours_sent, sorted(theirs_received - ours_sent)[:10]
    assert len(theirs_sent - ours_received) <= 5, sorted(theirs_sent - ours_received)
    assert len(ours_sent - theirs_received) <= 5, sorted(ours_sent - theirs_received)
    # The congestion view's figures are there too.
    metrics = [e["data"] for e in ours if e["name"] == "recovery:metrics_updated"]
    assert any("bytes_in_flight" in m for m in metrics)
    assert any(m.get("smoothed_rtt", 0) > 0 for m in metrics)
