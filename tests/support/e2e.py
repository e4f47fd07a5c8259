"""Helpers for end-to-end tests: a config written to a temp dir, the whole service tree
started in-process (or twistd as a subprocess), ftplib sessions in a thread, and waiting
for records to show up in a real redis-server."""

import io
import os
import re
import socket
import subprocess
import sys
import time

from passlib.hash import sha512_crypt
from twisted.internet import defer, reactor, task, threads

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

USER, PASSWORD = "ftpuser", "ftppass"
_HASH = sha512_crypt.using(rounds=5000).hash(PASSWORD)

LOCAL_TIME = re.compile(rb'"local_time":"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000"')
TIMESTAMP = re.compile(rb'"timestamp":"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"')


def normalise(record):
    """Pin the clock fields (after checking their format) so records compare byte for byte."""
    record = LOCAL_TIME.sub(b'"local_time":"T"', record)
    return TIMESTAMP.sub(b'"timestamp":"T"', record)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_site(base, body, port=None, redis_port=None, users=((USER, PASSWORD),)):
    """Write ftpd.conf (``body`` with {port}, {redis_port}, {base} filled) and an
    AuthUserFile whose users live under base/home/<name>; returns the config path."""
    os.makedirs(base, exist_ok=True)
    home_root = os.path.join(base, "home")
    lines = []
    for i, (name, password) in enumerate(users):
        home = os.path.join(home_root, name)
        os.makedirs(home, exist_ok=True)
        pw_hash = _HASH if password == PASSWORD else sha512_crypt.using(rounds=5000).hash(password)
        lines.append("%s:%s:%d:%d::%s:/bin/false\n" % (name, pw_hash, 5001 + i, 5001, home))
    passwd = os.path.join(base, "ftpd.passwd")
    with open(passwd, "w") as f:
        f.writelines(lines)
    os.chmod(passwd, 0o600)
    with open(os.path.join(base, "ftpd.group"), "w") as f:
        f.write("ftpgroup:x:5001:\n")
    os.chmod(os.path.join(base, "ftpd.group"), 0o600)
    conf = os.path.join(base, "ftpd.conf")
    with open(conf, "w") as f:
        f.write(body.format(port=port or free_port(), redis_port=redis_port, base=base))
    return conf


def home(base, name=USER):
    return os.path.join(base, "home", name)


def in_thread(fn, *args):
    """Run a blocking client in a thread so the reactor (and the server) keep running."""
    return threads.deferToThread(fn, *args)


def ftp_connect(port, user=USER, password=PASSWORD, host="127.0.0.1"):
    import ftplib

    ftp = ftplib.FTP(timeout=10)
    ftp.connect(host, port)
    if user is not None:
        ftp.login(user, password)
    return ftp


def slow_download(port, started, go_on, name="big.bin", wait=60):
    """RETR ``name``; after the first block set ``started`` and wait for ``go_on``.
    Returns (bytes received, the reply to a NOOP after the transfer, or the error)."""
    import ftplib

    ftp = ftp_connect(port)
    got = [0]

    def block(data):
        if got[0] == 0:
            started.set()
            go_on.wait(wait)
        got[0] += len(data)
    try:
        ftp.retrbinary("RETR " + name, block, blocksize=65536)
        reply = ftp.voidcmd("NOOP")
    except (ftplib.Error, EOFError, OSError) as e:
        reply = "%s: %s" % (type(e).__name__, e)
    ftp.close()
    return got[0], reply


@defer.inlineCallbacks
def wait_for(predicate, timeout=10.0, interval=0.02):
    """Poll ``predicate`` (a blocking call, run in a thread) until it is true."""
    deadline = time.monotonic() + timeout
    while True:
        value = yield threads.deferToThread(predicate)
        if value or time.monotonic() > deadline:
            return value
        yield task.deferLater(reactor, interval, lambda: None)


@defer.inlineCallbacks
def wait_records(client, key, count, timeout=10.0):
    """Wait until ``key`` holds at least ``count`` records, then give stragglers a moment."""
    yield wait_for(lambda: client.llen(key) >= count, timeout)
    # A negative check: callers assert the exact list, so a record that should not be
    # there (a duplicate, one too many) must have had the time to arrive.  The sink
    # flushes every 100 ms; two flushes is the bound.
    yield task.deferLater(reactor, 0.2, lambda: None)
    return (yield threads.deferToThread(client.lrange, key))


def twistd(args, cwd=REPO, env=None, **kw):
    """Start ``twistd`` with this checkout's plugin on the path (and ``env`` added to the
    environment)."""
    env = dict(os.environ, **(env or {}))
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"] + list(args)
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kw)


def wait_listening(port, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


BytesIO = io.BytesIO


def stop_process(proc) -> None:
    """SIGTERM ``proc`` (a Popen), give it 10 s to end (twistd drains its sessions and
    flushes its sink), then SIGKILL; always reaped."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.communicate()
