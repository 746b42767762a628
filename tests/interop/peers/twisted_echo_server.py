"""A Twisted echo server (the peer for `strata connect`). Prints LISTENING port."""
import sys

from twisted.internet import protocol, reactor
from twisted.internet.interfaces import IHalfCloseableProtocol
from zope.interface import implementer


@implementer(IHalfCloseableProtocol)
class Echo(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(data)

    def readConnectionLost(self):
        # The client half-closed: everything is echoed, so finish.
        self.transport.loseConnection()

    def writeConnectionLost(self):
        pass


class Factory(protocol.Factory):
    protocol = Echo


f = Factory()
port = reactor.listenTCP(0, f, interface="127.0.0.1")
print("LISTENING", port.getHost().port, flush=True)
reactor.run()
