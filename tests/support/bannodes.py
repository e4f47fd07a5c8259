# -*- test-case-name: tests.test_ban_notify -*-
"""Several real ``twistd ftpredis`` nodes sharing one redis-server with ``BanCache
redis``, and the ban propagation measurement (tests/test_ban_notify.py,
tests/test_haproxy.py; README's figures come from :func:`measure`)."""

from __future__ import annotations

import os
import random
import socket
import statistics
import subprocess
import sys
import time

from tests.support import e2e

NODE = r"""
ServerName          "{name}"
DefaultAddress      127.0.0.1
Port                {port}
AuthUserFile        {base}/ftpd.passwd
AuthGroupFile       {base}/ftpd.group
RequireValidShell   off
DefaultRoot         ~
AllowOverwrite      on
MaxLoginAttempts    1

RedisEngine         on
RedisServer         127.0.0.1:{redis_port}
LogFormat           sessions "%a %h %m %s %E"
RedisLogOnCommand   CONNECT,PASS,RETR,STOR,DISCONNECT sessions

<IfModule mod_ban.c>
  BanEngine         on
  BanTable          {base}/ban.tab
  BanLog            {base}/ban.log
  BanCache          redis
  BanCacheOptions   UseJSON
  BanMessage        "Host %a has been banned"
  BanOnEvent        MaxLoginAttempts 3/00:01:00 00:05:00
</IfModule>
{extra}
"""


class Node:
    """One ``twistd -n ftpredis`` process with its own directory, port and log."""

    def __init__(self, base, name, redis_port, port=None, extra="", repo=e2e.REPO,
                 users=((e2e.USER, e2e.PASSWORD),)):
        self.base, self.name = base, name
        self.port = port or e2e.free_port()
        self.log = os.path.join(base, "twistd.log")
        body = NODE.replace("{extra}", extra).replace("{name}", name)
        self.conf = e2e.write_site(base, body, port=self.port, redis_port=redis_port,
                                   users=users)
        env = dict(os.environ, PYTHONPATH=repo)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n",
             "--pidfile=", "--logfile", self.log, "ftpredis", "--config", self.conf],
            cwd=base, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def wait(self) -> None:
        if not e2e.wait_listening(self.port):
            raise AssertionError("node %s did not start:\n%s" % (self.name, self.logged()))

    def logged(self) -> str:
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()

    def stop(self) -> None:
        e2e.stop_process(self.proc)


def first_line(port, source, host="127.0.0.1", header=b"") -> str:
    """The first line a client at ``source`` gets (after sending ``header``)."""
    s = socket.create_connection((host, port), timeout=5, source_address=(source, 0))
    try:
        if header:
            s.sendall(header)
        f = s.makefile("rb")
        line = f.readline().decode(errors="replace").rstrip("\r\n")
        if line.startswith("220"):
            s.sendall(b"QUIT\r\n")
            f.readline()
        return line
    except OSError:
        return ""
    finally:
        s.close()


def fail_login(port, source, host="127.0.0.1", header=b"") -> str:
    """One session from ``source`` that fails its login (MaxLoginAttempts 1 ends it: one
    MaxLoginAttempts event); the server's last line."""
    s = socket.create_connection((host, port), timeout=5, source_address=(source, 0))
    try:
        if header:
            s.sendall(header)
        f = s.makefile("rb")
        line = f.readline()
        if line.startswith(b"220"):
            s.sendall(b"USER %s\r\nPASS wrong\r\n" % e2e.USER.encode())
            while True:
                got = f.readline()
                if not got:
                    break
                line = got
        return line.decode(errors="replace").rstrip("\r\n")
    except OSError:
        return ""
    finally:
        s.close()


def until(predicate, timeout, interval=0.01):
    """Poll ``predicate`` until true or ``timeout`` seconds pass. The pause between
    polls matters on a small CI machine: a loop that never yields starves the nodes and
    the redis-server it is waiting on (a 15 s wait for two SUBSCRIBEs once ran out)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def ban_commands(name: str, op: str, seconds: int = 300):
    """The Redis commands ``ftpredis-ban ban|permit host NAME`` sends, in its order."""
    from ftpredis.ban import notify
    from ftpredis.ban.bans import BAN_TYPE_HOST, BanEntry, cache_key
    key = cache_key(BAN_TYPE_HOST, name)
    if op == "permit":
        return [("DEL", key), ("PUBLISH", notify.CHANNEL,
                               notify.message("permit", BAN_TYPE_HOST, name))]
    now = time.time()
    entry = BanEntry(BAN_TYPE_HOST, name, expires=int(now) + seconds,
                     reason="propagation test", ip_addr="0.0.0.0", port=21,
                     update_ts=int(now))
    return [("SET", key, entry.to_json(), "EX", str(seconds)),
            ("PUBLISH", notify.CHANNEL, notify.message("ban", BAN_TYPE_HOST, name,
                                                       entry.as_dict()))]


def measure(db, port, sources, probe=first_line, timeout=5.0, jitter=0.0):
    """For each of ``sources``: ban it in Redis (as ``ftpredis-ban`` does), then probe
    the node on ``port`` from it until refused; then permit it and probe until
    accepted.  Returns ``(ban delays, permit delays)`` in seconds, measured from the
    Redis reply to the first probe that saw the change (None: not within ``timeout``).
    ``jitter``: up to that many seconds at random before each change, so that trials
    do not fall into step with the nodes' poll (when measuring it)."""
    bans, permits = [], []
    for source in sources:
        if not probe(port, source).startswith("220"):
            raise AssertionError("%s refused before the ban" % source)
        for op, results, want in (("ban", bans, "530"), ("permit", permits, "220")):
            if jitter:
                time.sleep(random.uniform(0, jitter))
            db.pipeline(*ban_commands(source, op))
            t0 = time.monotonic()
            # No pause between probes: each is a connection (it yields), and a pause
            # would blur the delay measured.
            ok = until(lambda: probe(port, source).startswith(want), timeout, interval=0)
            results.append(time.monotonic() - t0 if ok else None)
    return bans, permits


def summary(delays) -> str:
    got = [d for d in delays if d is not None]
    if not got:
        return "no trial saw the change"
    return "median %.1f ms, max %.1f ms over %d trials%s" % (
        statistics.median(got) * 1000, max(got) * 1000, len(got),
        "" if len(got) == len(delays) else " (%d missed)" % (len(delays) - len(got)))
