"""TLS against OpenSSL, a peer nobody here wrote: `openssl s_client` against
`strata serve tls+tcp://...` (TLS 1.2 and 1.3, ALPN, SNI, the self-signed
default and its printed fingerprint), `strata connect` against
`openssl s_server`, and the CLI's exit code 2 for unusable files."""
import queue
import re
import shutil
import subprocess
import threading
import time

import pytest

from conftest import BIN, run_strata

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


def port_of(endpoint):
    return int(re.search(r":(\d+)$", endpoint).group(1))


def make_cert(tmp_path, name="server"):
    """A self-signed P-256 certificate for localhost and 127.0.0.1, made by
    OpenSSL. It is marked CA:FALSE: `req -x509` marks it a CA by default, and
    rustls (webpki) refuses a CA certificate as a server's own
    (CaUsedAsEndEntity)."""
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-subj", "/CN=localhost", "-days", "2",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-addext", "basicConstraints=critical,CA:FALSE",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30)
    return cert, key


class Talk:
    """A child process fed a line on stdin while its stdout is read in a
    thread, so a test can wait for an answer before closing stdin (a TLS
    client that sees EOF on stdin may close before the answer arrives)."""

    def __init__(self, args):
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.out = b""
        self.chunks = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for chunk in iter(lambda: self.proc.stdout.read1(4096), b""):
            self.chunks.put(chunk)
        self.chunks.put(None)

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def wait_for(self, needle, timeout=15):
        deadline = time.time() + timeout
        while needle not in self.out:
            left = deadline - time.time()
            if left <= 0:
                break
            try:
                chunk = self.chunks.get(timeout=left)
            except queue.Empty:
                break
            if chunk is None:
                break
            self.out += chunk
        return needle in self.out

    def finish(self, timeout=15):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.wait_for(b"\0never", timeout=1)  # drain what is left
        return self.proc.returncode, self.out, self.proc.stderr.read()


def s_client(port, *extra):
    return Talk(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                 *extra])


class Serving:
    """`strata serve` on one endpoint, keeping what it printed until ready
    (conftest's `serve` drops those lines, the certificate's among them)."""

    def __init__(self, endpoint):
        self.proc = subprocess.Popen([BIN, "serve", "--app", "echo", endpoint], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.printed = ""
        deadline = time.time() + 20
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("strata serve exited: " + self.proc.stderr.read())
            self.printed += line
            if line.startswith("strata: ready"):
                break
        self.port = port_of(re.search(r"serving \w+ on (\S+)", self.printed).group(1))

    def stop(self):
        self.proc.send_signal(2)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_s_client_echo_with_alpn(serve, tmp_path, version):
    cert, key = make_cert(tmp_path)
    s = serve(f"tls+tcp://127.0.0.1:0?tls.alpn=h2,http/1.1&tls.cert={cert}&tls.key={key}")
    c = s_client(port_of(s.endpoints[0]), "-alpn", "h2", version, "-CAfile", str(cert),
                 "-verify_return_error")
    c.send(b"hello from openssl\n")
    echoed = c.wait_for(b"hello from openssl\n")
    code, out, err = c.finish()
    text = out.decode(errors="replace")
    assert echoed, text + err.decode(errors="replace")
    assert "ALPN protocol: h2" in text, text
    assert re.search(r"Verify return code: 0 \(ok\)", text), text
    want = "TLSv1.2" if version == "-tls1_2" else "TLSv1.3"
    assert re.search(rf"Protocol\s*: {want}", text) or f"New, {want}" in text, text


def test_s_client_sees_the_self_signed_default_and_its_fingerprint():
    s = Serving("tls+tcp://127.0.0.1:0")
    try:
        printed = re.search(r"^strata: tls certificate sha256 ([0-9a-f]{64})", s.printed, re.M)
        assert printed, s.printed
        c = s_client(s.port, "-showcerts")
        c.send(b"ping\n")
        assert c.wait_for(b"ping\n")
        _, out, _ = c.finish()
    finally:
        s.stop()
    text = out.decode(errors="replace")
    assert "No ALPN negotiated" in text, text
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
    assert pem, text
    fp = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"],
                        input=pem.group(0).encode(), capture_output=True, check=True).stdout
    served = fp.decode().split("=", 1)[1].strip().replace(":", "").lower()
    assert served == printed.group(1)


def test_strata_connect_to_s_server(tmp_path):
    cert, key = make_cert(tmp_path)
    srv = subprocess.Popen(
        ["openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", str(cert), "-key", str(key),
         "-alpn", "h2", "-rev", "-naccept", "2"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = None
        deadline = time.time() + 20
        while time.time() < deadline and port is None:
            line = srv.stdout.readline()
            if not line:
                break
            m = re.match(r"ACCEPT .*:(\d+)$", line.strip())
            if m:
                port = int(m.group(1))
        assert port, "s_server did not start"
        for ep in (f"tls+tcp://127.0.0.1:{port}?tls.ca={cert}&tls.alpn=h2",
                   f"tls+tcp://127.0.0.1:{port}?tls.ca={cert}&tls.sni=localhost"):
            c = Talk([BIN, "connect", ep])
            c.send(b"hello openssl\n")
            ok = c.wait_for(b"lssnepo olleh")
            code, out, err = c.finish()
            assert ok, (out, err)
            assert code == 0, (code, err)
    finally:
        srv.kill()
        srv.wait()


def test_strata_connect_rejects_an_untrusted_s_server(tmp_path):
    cert, key = make_cert(tmp_path)
    other, _ = make_cert(tmp_path, "other")
    srv = subprocess.Popen(
        ["openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", str(cert), "-key", str(key),
         "-naccept", "1"],
        # An open stdin: at EOF on its stdin, s_server drops the connection.
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = srv.stdout.readline()
        while line and not line.startswith("ACCEPT"):
            line = srv.stdout.readline()
        port = int(line.strip().rsplit(":", 1)[1])
        c = Talk([BIN, "connect", "--ca", str(other), f"tls+tcp://127.0.0.1:{port}"])
        c.proc.wait(30)
        code, out, err = c.finish()
        assert code == 1 and out == b"", (code, out, err)
        # Same subject, other key: webpki finds the issuer by name, the signature fails.
        assert b"certificate rejected" in err, err
    finally:
        srv.kill()
        srv.wait()


def test_bad_certificate_file_exits_2_naming_it(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("this is not PEM\n")
    cert, key = make_cert(tmp_path)
    r = run_strata("serve", f"tls+tcp://127.0.0.1:0?tls.cert={bad}&tls.key={key}", timeout=30)
    assert r.returncode == 2, r
    assert str(bad).encode() in r.stderr and b"no PEM certificate" in r.stderr, r.stderr

    _, other_key = make_cert(tmp_path, "other")
    r = run_strata("serve", f"tls+tcp://127.0.0.1:0?tls.cert={cert}&tls.key={other_key}",
                   timeout=30)
    assert r.returncode == 2, r
    assert b"does not match" in r.stderr and str(other_key).encode() in r.stderr, r.stderr

    missing = tmp_path / "missing.pem"
    r = run_strata("connect", "--ca", str(missing), "tls+tcp://127.0.0.1:1", input=b"", timeout=30)
    assert r.returncode == 2, r
    assert str(missing).encode() in r.stderr and b"cannot read" in r.stderr, r.stderr

    r = run_strata("connect", "--insecure", "tcp://127.0.0.1:1", input=b"", timeout=30)
    assert r.returncode == 2, r


def served_fingerprint(port):
    """The SHA-256 fingerprint of the certificate s_client is shown."""
    c = s_client(port, "-showcerts")
    c.send(b"fp\n")
    assert c.wait_for(b"fp\n")
    _, out, _ = c.finish()
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                    out.decode(errors="replace"), re.S)
    assert pem, out
    fp = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"],
                        input=pem.group(0).encode(), capture_output=True, check=True).stdout
    return fp.decode().split("=", 1)[1].strip().replace(":", "").lower()


def test_sighup_reloads_the_certificate_for_new_connections(tmp_path):
    cert, key = make_cert(tmp_path)
    s = Serving(f"tls+tcp://127.0.0.1:0?tls.cert={cert}&tls.key={key}")
    try:
        first = served_fingerprint(s.port)
        # New files at the same paths, then SIGHUP.
        new_cert, new_key = make_cert(tmp_path, "next")
        new_cert.replace(cert)
        new_key.replace(key)
        s.proc.send_signal(1)
        line = ""
        for _ in range(10):  # past the "try:" hints printed after ready
            line = s.proc.stdout.readline()
            if "reload" in line or not line:
                break
        assert "certificate reloaded" in line, line
        second = served_fingerprint(s.port)
        assert second != first
        assert second in line
    finally:
        s.stop()


def line_with(stream, word, secs):
    """The first line read from `stream` that holds `word` (past the "try:"
    hints printed after ready), or "" after `secs` without one: a server
    that says nothing fails the test instead of hanging it."""
    found = queue.Queue()

    def read():
        for line in iter(stream.readline, ""):
            if word in line:
                found.put(line)
                return
        found.put("")

    threading.Thread(target=read, daemon=True).start()
    try:
        return found.get(timeout=secs)
    except queue.Empty:
        return ""


def test_sighup_reloads_the_quic_certificate_for_new_connections(tmp_path):
    """`quic.cert`/`quic.key` are reloaded on SIGHUP as `tls.*` are: a
    client that trusts only the old certificate is refused afterwards, one
    that trusts only the new one is served (OpenSSL makes both)."""
    cert, key = make_cert(tmp_path)
    old = tmp_path / "old.pem"
    shutil.copy(cert, old)
    s = Serving(f"quic+udp://127.0.0.1:0?quic.cert={cert}&quic.key={key}")

    def echo(ca):
        return run_strata("connect", f"quic+udp://127.0.0.1:{s.port}?quic.ca={ca}",
                          input=b"over quic\n", timeout=30)

    try:
        r = echo(old)
        assert r.returncode == 0 and r.stdout == b"over quic\n", r
        new_cert, new_key = make_cert(tmp_path, "next")
        new = tmp_path / "new.pem"
        shutil.copy(new_cert, new)
        new_cert.replace(cert)
        new_key.replace(key)
        s.proc.send_signal(1)
        line = line_with(s.proc.stdout, "reload", 20)
        assert "certificate reloaded" in line, line
        r = echo(new)
        assert r.returncode == 0 and r.stdout == b"over quic\n", r
        # QUIC's handshake is its connect: a refused certificate is a failed
        # connect (exit 3), where over TCP it fails a connection made (1).
        r = echo(old)
        assert r.returncode == 3 and r.stdout == b"", r
        assert b"invalid peer certificate" in r.stderr, r.stderr
    finally:
        s.stop()
