"""Fixtures for the interop tests: start `strata` and talk to it with peers
nobody here wrote (Python's socket/asyncio, Twisted)."""
import os
import re
import subprocess
import sys
import time

import pytest

BIN = os.environ.get("STRATA_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "target", "release", "strata")


class Server:
    def __init__(self, args):
        # The byte tests serve echo unless they name an app (http is the default).
        if "--app" not in args:
            args = ("--app", "echo", *args)
        self.proc = subprocess.Popen(
            [BIN, "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.endpoints = []
        deadline = time.time() + 20
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("strata serve exited: " + self.proc.stderr.read())
            m = re.search(r"serving \w+ on (\S+)", line)
            if m:
                self.endpoints.append(m.group(1))
            if line.startswith("strata: ready"):
                return
        raise RuntimeError("strata serve did not get ready")

    def addr(self, i=0):
        ep = self.endpoints[i]
        m = re.match(r"[\w+]+://\[?([^\]]*?)\]?:(\d+)$", ep)
        return m.group(1), int(m.group(2))

    def path(self, i=0):
        return self.endpoints[i][len("unix://"):]

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(2)  # Ctrl-C: graceful drain
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def serve():
    started = []

    def start(*args):
        s = Server(args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def run_strata(*args, input=None, timeout=30):
    return subprocess.run([BIN, *args], input=input, capture_output=True, timeout=timeout)


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """A self-signed certificate for localhost and 127.0.0.1, and its key
    (CA:FALSE: rustls refuses a CA certificate as a server's own), for the
    QUIC and HTTP/3 peers."""
    d = tmp_path_factory.mktemp("quic-certs")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-addext", "basicConstraints=critical,CA:FALSE"],
        check=True, capture_output=True)
    return str(cert), str(key)
