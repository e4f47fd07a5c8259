# -*- test-case-name: tests.test_sftp_combos -*-
"""A PROXY protocol version 1 relay for OpenSSH's ``ProxyCommand``: connects to HOST
PORT, sends a header naming SOURCE as the client, then relays stdin and stdout to the
connection both ways (what a TCP proxy without its own listener does).

    ssh -o ProxyCommand="python3 tests/support/proxyrelay.py 127.0.0.1 %p 127.0.0.9" ...
"""

import os
import socket
import sys
import threading


def main(host, port, source):
    sock = socket.create_connection((host, int(port)))
    local = sock.getsockname()
    sock.sendall(("PROXY TCP4 %s %s %d %d\r\n"
                  % (source, local[0], 40000, int(port))).encode())

    def upstream():
        while True:
            data = os.read(0, 65536)
            if not data:
                break
            sock.sendall(data)
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    threading.Thread(target=upstream, daemon=True).start()
    while True:
        data = sock.recv(65536)
        if not data:
            break
        os.write(1, data)


if __name__ == "__main__":
    main(*sys.argv[1:4])
