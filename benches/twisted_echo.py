"""Twisted anchor for strata's benchmarks: the textbook echo Protocol.

Run by `strata-bench run` (see scripts/bench) from the benchmark venv:

    .venv-bench/bin/python benches/twisted_echo.py --addr 127.0.0.1:0

Prints `LISTENING host:port` once listening, serves until stdin closes.
"""

import argparse
import resource
import sys

from twisted.internet import epollreactor

epollreactor.install()

from twisted.internet import protocol, reactor, stdio  # noqa: E402


class Echo(protocol.Protocol):
    """Writes back what it reads (Twisted buffers writes in the transport)."""

    def connectionMade(self):
        self.transport.setTcpNoDelay(True)

    def dataReceived(self, data):
        self.transport.write(data)


class StopOnStdinClose(protocol.Protocol):
    """The orchestrator closes our stdin to stop us."""

    def dataReceived(self, data):
        pass

    def connectionLost(self, reason):
        if reactor.running:
            reactor.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--addr", default="127.0.0.1:0", help="host:port to listen on")
    args = parser.parse_args()
    host, _, port = args.addr.rpartition(":")
    # The idle benchmark holds 10,000 sockets: raise the soft fd limit.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    factory = protocol.Factory.forProtocol(Echo)
    port = reactor.listenTCP(int(port), factory, backlog=1024, interface=host.strip("[]"))
    bound = port.getHost()
    sys.stdout.write("LISTENING %s:%d\n" % (bound.host, bound.port))
    sys.stdout.flush()
    stdio.StandardIO(StopOnStdinClose())
    reactor.run()


if __name__ == "__main__":
    main()
