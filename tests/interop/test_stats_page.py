

def test_serve_v_logs_lifecycles_and_stats_prints_totals(serve):
    """`-v` logs each connection's lifecycle with its peer and chain;
    `--stats=1` prints one line of totals a second. Without them the same
    exchange logs no lifecycle."""
    import socket
    import time

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
    time.sleep(2.5)  # let at least one --stats line out (not an assertion on timing)
    loud.stop()
    err = loud.proc.stderr.read()
    accepted = [l for l in err.splitlines() if "strata::conn: accepted" in l]
    assert len(accepted) == 1, err[-3000:]
    assert 'chain="tcp"' in accepted[0] and "peer=" in accepted[0]
    assert any("strata::conn: closed" in l for l in err.splitlines()), err[-3000:]
    stats = [l for l in err.splitlines() if l.startswith("strata: stats uptime=")]
    assert stats, err[-3000:]
    assert f"| tcp://127.0.0.1:{port} open=0 total=1 tcp=in:5,out:5,buf:0" in stats[-1], stats[-1]

    quiet = serve("--app", "echo", "tcp://127.0.0.1:0")
    one_exchange(quiet)
    quiet.stop()
    err = quiet.proc.stderr.read()
    assert "strata::conn" not in err and "stats uptime=" not in err, err[-3000:]
