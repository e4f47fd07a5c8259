"""A server config head shared by the service and daemon tests, the shipped example config
copied for a test, and a port free on several addresses at once."""

import os
import shutil
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


def shipped_site(base, port, redis_port):
    """etc/ as shipped, copied, with only the port numbers changed (tests use free ports)."""
    etc = os.path.join(base, "etc")
    shutil.copytree(os.path.join(e2e.REPO, "etc"), etc)
    conf = os.path.join(etc, "ftpd.conf")
    with open(conf) as f:
        text = f.read()
    text = text.replace("Port                2121", "Port                %d" % port)
    text = text.replace("127.0.0.1:6379", "127.0.0.1:%d" % redis_port)
    # The example user's home is under /tmp; keep each test's files apart.
    with open(conf, "w") as f:
        f.write(text)
    passwd = os.path.join(etc, "ftpd.passwd")
    with open(passwd) as f:
        entry = f.read().replace("/tmp/ftpredis-example", os.path.join(base, "homes"))
    with open(passwd, "w") as f:
        f.write(entry)
    os.chmod(passwd, 0o600)
    return conf
