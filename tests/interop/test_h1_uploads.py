"""HTTP/1.1 uploads from a real curl (issue 9, item 3): a 50 MB upload to
`/echo` with `Expect: 100-continue` gets its `100 Continue` (curl is told to
wait 30 s for it, longer than the whole transfer may take, so a server that
never sends it fails the test rather than slowing it), the body comes back
byte for byte, and the connection is reused for a second request."""
import hashlib
import os
import subprocess

MB50 = 50 * 1024 * 1024


def test_curl_http11_upload_with_expect_is_echoed_and_the_connection_reused(serve, tmp_path):
    s = serve("--app", "http", "tcp://127.0.0.1:0")
    host, port = s.addr()
    data = os.urandom(MB50)
    src = tmp_path / "upload"
    src.write_bytes(data)
    url = f"http://{host}:{port}/echo"
    r = subprocess.run(
        ["curl", "-sS", "-v", "--http1.1", "--max-time", "25", "--expect100-timeout", "30",
         "-H", "Expect: 100-continue", "--data-binary", f"@{src}",
         "-o", str(tmp_path / "first"), "-o", str(tmp_path / "second"),
         "-w", "%{http_code} %{num_connects}\n", url, url],
        capture_output=True)
    log = r.stderr.decode(errors="replace")
    assert r.returncode == 0, log[-2000:]
    # One connection for both requests: the second one made no new connect.
    assert r.stdout.decode().split("\n")[:2] == ["200 1", "200 0"], r.stdout
    assert log.count("< HTTP/1.1 100 Continue") == 2, log[-2000:]
    assert "< connection: close" not in log.lower()
    want = hashlib.sha256(data).hexdigest()
    for name in ("first", "second"):
        got = (tmp_path / name).read_bytes()
        assert len(got) == MB50, name
        assert hashlib.sha256(got).hexdigest() == want, name
