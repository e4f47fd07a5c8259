"""The floor of a Twisted FTP server on this machine, for W3 (login churn).

A line server on ftpredis's reactor that answers what ``../shared/bench/ftpbench.py``'s
W3 client sends (greeting, USER, PASS, PWD, QUIT) with fixed replies: no login check, no
file system, no session state, no logging.  Whatever sessions/s it reaches is the most
any Twisted server can reach with that client on the same machine::

    python3 ../shared/bench/ftpbench.py --servers ours,proftpd_redis --reps 3 \\
        --workloads W3_churn_c16 --workdir /tmp/fb-floor --results /tmp/fb-floor \\
        --ours-cmd "env PYTHONPATH=$PWD python3 bench/twisted_floor.py {port}" --ours-cwd .

(The harness then reports every record as lost: this server writes none.)  Loopback
only: it binds 127.0.0.1.
"""

import sys

from ftpredis.app import reactor as _reactor

_reactor.install()

from twisted.internet import protocol, reactor  # noqa: E402  (after the reactor install)

REPLIES = {b"USER": b"331 Password required\r\n", b"PASS": b"230 Logged in\r\n",
           b"PWD": b'257 "/" is the current directory\r\n', b"QUIT": b"221 Goodbye.\r\n"}


class Floor(protocol.Protocol):
    def connectionMade(self):
        self.transport.setTcpNoDelay(True)
        self.transport.write(b"220 floor ready\r\n")

    def dataReceived(self, data):
        for line in data.split(b"\r\n"):
            if not line:
                continue
            verb = line.split(b" ", 1)[0].upper()
            self.transport.write(REPLIES.get(verb, b"500 not understood\r\n"))
            if verb == b"QUIT":
                self.transport.loseConnection()


def main(argv):
    port = int(argv[1]) if len(argv) > 1 else 2121
    reactor.listenTCP(port, protocol.Factory.forProtocol(Floor), interface="127.0.0.1")
    reactor.run()


if __name__ == "__main__":
    main(sys.argv)
