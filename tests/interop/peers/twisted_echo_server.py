"""A Twisted echo server (the peer for `strata connect`). Prints LISTENING port."""
import sys

from twisted.internet import protocol, reactor


class Echo(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(data)

    def readConnectionLost(self):
        self.transport.loseConnection()


class Factory(protocol.Factory):
    protocol = Echo


f = Factory()
port = reactor.listenTCP(0, f, interface="127.0.0.1")
print("LISTENING", port.getHost().port, flush=True)
reactor.run()
