"""A Twisted client: sends N lines of random data, half-closes, checks the echo.
Usage: twisted_client.py HOST PORT BYTES. Exits 0 when the echo matched."""
import hashlib
import os
import sys

from twisted.internet import protocol, reactor
from twisted.internet.interfaces import IHalfCloseableProtocol
from zope.interface import implementer

host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
payload = os.urandom(size)
result = {"ok": False}


@implementer(IHalfCloseableProtocol)
class Client(protocol.Protocol):
    def connectionMade(self):
        self.got = bytearray()
        self.transport.write(payload)
        self.transport.loseWriteConnection()

    def dataReceived(self, data):
        self.got += data

    def readConnectionLost(self):
        result["ok"] = hashlib.sha256(self.got).digest() == hashlib.sha256(payload).digest()
        self.transport.loseConnection()

    def writeConnectionLost(self):
        pass

    def connectionLost(self, reason):
        reactor.stop()


class Factory(protocol.ClientFactory):
    protocol = Client

    def clientConnectionFailed(self, connector, reason):
        print("connect failed", reason, file=sys.stderr)
        reactor.stop()


reactor.connectTCP(host, port, Factory())
reactor.callLater(60, reactor.stop)
reactor.run()
print("echo ok" if result["ok"] else "echo MISMATCH")
sys.exit(0 if result["ok"] else 1)
