# -*- test-case-name: tests.test_sink -*-
"""A private ``redis-server`` for tests, and a tiny synchronous client to check what it holds.

This module owns the test-side Redis: :class:`RedisServer` starts Debian's
``/usr/bin/redis-server`` on a free loopback port (no persistence, its own temp dir),
waits until it answers ``PING`` and makes sure it is gone afterwards (SIGTERM, then
SIGKILL; an ``atexit`` hook and ``PR_SET_PDEATHSIG`` catch a test run that dies).
:class:`RedisClient` speaks RESP over a plain blocking socket so that assertions never
depend on the code under test (txredisapi).  :class:`RedisServerMixin` gives a trial
``TestCase`` one server per test.

Typical use::

    class T(RedisServerMixin, unittest.TestCase):
        def test_x(self):
            server = self.redis                 # started in setUp
            other = self.startRedis("--requirepass", "s3cret")
            ...
            self.assertEqual(server.client().lrange(b"k"), [b"v"])
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Iterable, List, Optional

REDIS_SERVER = "/usr/bin/redis-server"

_running: "set[RedisServer]" = set()


def _kill_leftovers() -> None:
    for server in list(_running):
        server.stop()


atexit.register(_kill_leftovers)


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: a test run killed with SIGKILL must not
    # leave redis-servers behind, and atexit cannot help then.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (another process may still take it: retry)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class RedisReplyError(Exception):
    """An error reply (``-ERR ...``) from Redis; ``str()`` is the reply text."""


class RedisClient:
    """A blocking RESP2 client: one short connection per command, so it survives restarts.

    Replies: simple strings as ``str``, bulk strings as ``bytes``, integers as ``int``,
    nil as ``None``, arrays as lists; an error reply raises :class:`RedisReplyError`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 6379, unix_path: Optional[str] = None,
                 password: Optional[str] = None, username: Optional[str] = None,
                 db: Optional[int] = None, timeout: float = 10.0):
        self.host = host
        self.port = port
        self.unix_path = unix_path
        self.password = password
        self.username = username
        self.db = db
        self.timeout = timeout

    # -- RESP ---------------------------------------------------------------------------
    @staticmethod
    def encode(*args) -> bytes:
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode("utf-8")
            elif isinstance(a, int):
                a = str(a).encode("ascii")
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    class _Reader:
        def __init__(self, sock):
            self.sock = sock
            self.buf = b""

        def _fill(self):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("Redis closed the connection")
            self.buf += chunk

        def line(self) -> bytes:
            while b"\r\n" not in self.buf:
                self._fill()
            line, self.buf = self.buf.split(b"\r\n", 1)
            return line

        def exact(self, n: int) -> bytes:
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data

        def reply(self):
            line = self.line()
            kind, rest = line[:1], line[1:]
            if kind == b"+":
                return rest.decode("utf-8", "replace")
            if kind == b"-":
                return RedisReplyError(rest.decode("utf-8", "replace"))
            if kind == b":":
                return int(rest)
            if kind == b"$":
                n = int(rest)
                return None if n < 0 else self.exact(n)
            if kind == b"*":
                n = int(rest)
                return None if n < 0 else [self.reply() for _ in range(n)]
            raise ConnectionError("unexpected RESP line %r" % (line,))

    def _connect(self) -> socket.socket:
        if self.unix_path:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(self.timeout)
            s.connect(self.unix_path)
        else:
            s = socket.create_connection((self.host, self.port), timeout=self.timeout)
        return s

    def pipeline(self, *commands):
        """Send several commands on one connection (after AUTH/SELECT); return every reply.

        Error replies are returned as :class:`RedisReplyError` instances, not raised.
        """
        prelude = []
        if self.password is not None:
            prelude.append(("AUTH", self.username, self.password) if self.username
                           else ("AUTH", self.password))
        if self.db is not None:
            prelude.append(("SELECT", self.db))
        allcmds = prelude + [tuple(c) for c in commands]
        with self._connect() as s:
            s.sendall(b"".join(self.encode(*c) for c in allcmds))
            reader = self._Reader(s)
            replies = [reader.reply() for _ in allcmds]
        for r in replies[:len(prelude)]:
            if isinstance(r, RedisReplyError):
                raise r
        return replies[len(prelude):]

    def command(self, *args):
        reply = self.pipeline(args)[0]
        if isinstance(reply, RedisReplyError):
            raise reply
        return reply

    # -- conveniences used by assertions --------------------------------------------------
    def ping(self) -> bool:
        return self.command("PING") == "PONG"

    def lrange(self, key, start: int = 0, stop: int = -1) -> List[bytes]:
        return self.command("LRANGE", key, start, stop)

    def llen(self, key) -> int:
        return self.command("LLEN", key)

    def keys(self, pattern="*", ledgers: bool = False) -> List[bytes]:
        """The keys, sorted; without the sinks' exactly-once ledger hashes
        (``ftpredis:ledger:*``, ftpredis/redis/ledger.py) unless ``ledgers``."""
        keys = sorted(self.command("KEYS", pattern))
        if ledgers:
            return keys
        return [k for k in keys if not k.startswith(b"ftpredis:ledger:")]

    def info(self, section: str = "default") -> dict:
        text = self.command("INFO", section).decode("utf-8")
        out = {}
        for line in text.splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def commandstats(self) -> dict:
        """``{"rpush": calls, ...}`` from INFO commandstats."""
        out = {}
        for k, v in self.info("commandstats").items():
            if k.startswith("cmdstat_"):
                fields = dict(f.split("=", 1) for f in v.split(","))
                out[k[len("cmdstat_"):]] = int(fields["calls"])
        return out


class RedisServer:
    """One private redis-server process.

    ``RedisServer(extra_args=("--requirepass", "pw"), unixsocket=True).start()``; then
    ``.port``, ``.host``, ``.unix_path``, ``.client()``.  ``pause()``/``resume()`` send
    SIGSTOP/SIGCONT; ``restart()`` stops it and starts a fresh, empty one on the same port.
    ``tls_port=True`` also opens a TLS port (``.tls_port``); pass the ``--tls-*`` file
    arguments in ``extra_args`` (absolute paths: ``--dir`` changes the cwd first).
    ``plain_port=False`` listens on TLS only.  ``port=N`` insists on that port (it retries
    for a while when the port is still taken, then fails).
    """

    start_timeout = 10.0
    stop_timeout = 5.0

    def __init__(self, extra_args: Iterable[str] = (), unixsocket: bool = False,
                 password: Optional[str] = None, tls_port: bool = False,
                 plain_port: bool = True, host: str = "127.0.0.1", port: Optional[int] = None):
        self.extra_args = tuple(extra_args)
        self.password = password
        self.host = host
        self.port: Optional[int] = port
        self._fixed_port = port is not None
        self.tls_port: Optional[int] = None
        self._want_tls = tls_port
        self._plain = plain_port
        self.dir = tempfile.mkdtemp(prefix="ftpredis-redis-")
        self.unix_path = os.path.join(self.dir, "redis.sock") if unixsocket else None
        self.process: Optional[subprocess.Popen] = None
        self.paused = False

    @property
    def pid(self) -> Optional[int]:
        return self.process.pid if self.process else None

    @property
    def logfile(self) -> str:
        return os.path.join(self.dir, "redis.log")

    def _args(self) -> List[str]:
        args = [REDIS_SERVER,
                "--port", str(self.port if self._plain else 0),
                "--bind", self.host,
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--dir", self.dir,
                "--logfile", self.logfile,
                "--databases", "16"]
        if self.tls_port:
            args += ["--tls-port", str(self.tls_port)]
        if self.unix_path:
            args += ["--unixsocket", self.unix_path, "--unixsocketperm", "700"]
        if self.password is not None:
            args += ["--requirepass", self.password]
        return args + list(self.extra_args)

    def start(self, same_port: bool = False) -> "RedisServer":
        if self.process is not None:
            raise RuntimeError("redis-server already running")
        last_error = None
        same_port = same_port or self._fixed_port
        for _ in range(10):
            if not same_port or self.port is None:
                self.port = free_port(self.host)
                if self._want_tls:
                    self.tls_port = free_port(self.host)
            try:
                self._spawn()
                return self
            except _PortTaken as e:
                last_error = e
                if same_port:
                    time.sleep(0.05)
        raise RuntimeError("could not start redis-server: %s" % (last_error,))

    def _spawn(self) -> None:
        if self.unix_path and os.path.exists(self.unix_path):
            os.unlink(self.unix_path)
        try:
            os.unlink(self.logfile)
        except FileNotFoundError:
            pass
        self.process = subprocess.Popen(self._args(), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=_die_with_parent, close_fds=True)
        _running.add(self)
        self.paused = False
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.process.poll() is not None:
                log = self._log_tail()
                self.process = None
                _running.discard(self)
                if "Address already in use" in log:
                    raise _PortTaken(log)
                raise RuntimeError("redis-server exited at start:\n" + log)
            if self._answers_ping():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not answer PING in %ss:\n%s"
                                   % (self.start_timeout, self._log_tail()))
            time.sleep(0.01)

    def _log_tail(self) -> str:
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-20:])
        except OSError:
            return ""

    def _answers_ping(self) -> bool:
        if not self._plain:
            # The TLS port cannot be probed with a raw socket; the log says when it is ready.
            return "Ready to accept connections" in self._log_tail()
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                data = s.recv(64)
            # NOAUTH (requirepass) also proves the server is up.
            return data.startswith(b"+PONG") or data.startswith(b"-NOAUTH")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server (idempotent); never leaves the process behind."""
        p = self.process
        if p is None:
            return
        self.process = None
        try:
            if self.paused:
                p.send_signal(signal.SIGCONT)
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(self.stop_timeout)
        except ProcessLookupError:
            pass
        finally:
            self.paused = False
            _running.discard(self)

    def kill(self) -> None:
        """SIGKILL: a crash, not a clean shutdown."""
        p = self.process
        if p is None:
            return
        self.process = None
        p.kill()
        p.wait(self.stop_timeout)
        self.paused = False
        _running.discard(self)

    def restart(self) -> "RedisServer":
        """Stop and start again on the same port(s); the new server is empty."""
        self.stop()
        return self.start(same_port=True)

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)
        self.paused = False

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self, password: Optional[str] = None, username: Optional[str] = None,
               db: Optional[int] = None, unix: bool = False) -> RedisClient:
        if password is None:
            password = self.password
        return RedisClient(self.host, self.port, unix_path=self.unix_path if unix else None,
                           password=password, username=username, db=db)


class _PortTaken(Exception):
    pass


class RedisServerMixin:
    """For trial TestCases: ``self.redis`` is a fresh server per test (set ``redis_autostart
    = False`` to start none), ``self.startRedis(...)`` starts more; all are stopped by
    ``addCleanup`` even when the test fails."""

    redis_autostart = True
    redis_args: tuple = ()

    def setUp(self):
        result = super().setUp()
        if self.redis_autostart:
            self.redis = self.startRedis(*self.redis_args)
        return result

    def startRedis(self, *extra_args, **kwargs) -> RedisServer:
        server = RedisServer(extra_args, **kwargs)
        self.addCleanup(server.cleanup)
        return server.start()


class SentinelServer(RedisServer):
    """One ``redis-server sentinel.conf --sentinel`` (Debian ships no redis-sentinel).

    ``SentinelServer([("mymaster", "127.0.0.1", 6379, 2)], down_after_ms=1000,
    failover_timeout_ms=2000).start()``.  The config lives in the server's temp dir
    (Sentinel rewrites it).  ``.client()`` talks to the sentinel.
    """

    def __init__(self, monitors, down_after_ms: int = 1000, failover_timeout_ms: int = 2000,
                 host: str = "127.0.0.1", port: Optional[int] = None):
        super().__init__(host=host, port=port)
        self.monitors = list(monitors)
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms

    def _args(self) -> List[str]:
        conf = os.path.join(self.dir, "sentinel.conf")
        lines = ["port %d" % self.port, "bind %s" % self.host, "daemonize no",
                 'dir "%s"' % self.dir, 'logfile "%s"' % self.logfile]
        for name, host, port, quorum in self.monitors:
            lines += ["sentinel monitor %s %s %d %d" % (name, host, port, quorum),
                      "sentinel down-after-milliseconds %s %d" % (name, self.down_after_ms),
                      "sentinel failover-timeout %s %d" % (name, self.failover_timeout_ms),
                      "sentinel parallel-syncs %s 1" % (name,)]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        return [REDIS_SERVER, conf, "--sentinel"]

    def master_addr(self, name: str):
        reply = self.client().command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
        return None if reply is None else (reply[0].decode(), int(reply[1]))

    def replicas(self, name: str) -> List[dict]:
        out = []
        for flat in self.client().command("SENTINEL", "REPLICAS", name):
            out.append({flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)})
        return out
