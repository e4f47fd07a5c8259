"""A server config head shared by the service and daemon tests, and a port free on
several addresses at once."""

import socket

from tests.support import e2e


HEAD = r"""
<Global>
  AuthUserFile      {base}/ftpd.passwd
  AuthGroupFile     {base}/ftpd.group
  RequireValidShell off
  AllowOverwrite    on
  RedisEngine       on
</Global>
RedisServer         127.0.0.1:{redis_port}
LogFormat           who "%v %p %L %m %s %E"
"""


def free_port_on(*hosts):
    """A port free on every one of ``hosts`` (IPv4 and IPv6 literals)."""
    for _ in range(50):
        port = e2e.free_port()
        try:
            for host in hosts:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                with socket.socket(family) as s:
                    s.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no common free port")
