# -*- test-case-name: tests.test_conformance_variables -*-
"""The site both servers of a conformance run get, and what is read back from it.

Owns the shared half of the comparison harness: the per-server preambles, the
temp-dir :class:`Site` (config body, virtual users, files), the recording ftplib client and
the :class:`Context` a scenario script drives, the servers (ftpredis under twistd,
ProFTPD) started on a site with a private redis-server (:func:`run_one`), the
:class:`Result` of one run, and the normalisation of what legitimately differs (clocks, pids, ports, temp paths, the daemon's
own uid/gid).  The conformance tests use it in-process; ``tools/compare_proftpd.py`` uses it
to run ftpredis and ProFTPD side by side.
"""

from __future__ import annotations

import base64
import ftplib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from tests.support.redisserver import RedisServer, free_port

# The checkout ftpredis runs from when started as a twistd subprocess.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


USER, PASSWORD = "ftpuser", "ftppass"
UID = GID = 5001
# A fixed mtime for the files a scenario creates, so MDTM and LIST agree on both sides.
FIXED_MTIME = 1700000000        # 2023-11-14 22:13:20 UTC

REDIS = """\
RedisEngine on
RedisServer 127.0.0.1:{redis_port}
RedisLog {base}/redis.log
"""

_COMMON = """\
ServerName "example"
ServerIdent on "example ready"
Port {port}
DefaultAddress 127.0.0.1
AuthUserFile {base}/ftpd.passwd
AuthGroupFile {base}/ftpd.group
RequireValidShell off
{default_root}
AllowOverwrite on
Umask 022
TimeoutIdle {timeout_idle}
# 3-digit p1,p2 in every PASV reply, so its length (and %O) is the same on both sides.
PassivePorts 51300 51455
"""

PROFTPD_PREAMBLE = _COMMON + """\
ServerType standalone
DefaultServer on
SocketBindTight on
UseIPv6 off
User nobody
Group nogroup
PidFile {base}/proftpd.pid
ScoreboardFile {base}/proftpd.scoreboard
WtmpLog off
UseReverseDNS off
DelayEngine off
AuthOrder mod_auth_file.c
SystemLog {base}/proftpd.log
TransferLog none
ModulePath /usr/lib/proftpd
LoadModule mod_redis.c
"""

FTPREDIS_PREAMBLE = _COMMON


def _crypt(password: str) -> str:
    from passlib.hash import sha512_crypt
    return sha512_crypt.using(rounds=5000, salt="ftpredisconform").hash(password)


# ---------------------------------------------------------------------------------------
# The site: one temp dir per server run

class Site:
    """A temp dir with the config, the AuthUserFile/AuthGroupFile and the user's home."""

    def __init__(self, body: str, preamble: str, files: Dict[str, bytes] = None,
                 users: Sequence[Tuple[str, str]] = ((USER, PASSWORD),),
                 timeout_idle: int = 600, prefix: str = "ftpcmp-", chroot: bool = True,
                 groups: Sequence[str] = ()):
        self.base = os.path.realpath(tempfile.mkdtemp(prefix=prefix))
        os.chmod(self.base, 0o755)      # ProFTPD's session runs as the user
        self.port = free_port()
        self.port2 = free_port()
        self.home = os.path.join(self.base, "home", users[0][0])
        self.users = users
        self.files = files or {}
        self.timeout_idle = timeout_idle
        self.chroot = chroot
        self.groups = groups        # more AuthGroupFile lines ("name:x:gid:members")
        self.body = body
        self.preamble = preamble
        self.conf = os.path.join(self.base, "ftpd.conf")

    def write(self, redis_port: int) -> str:
        homes = os.path.join(self.base, "home")
        os.makedirs(homes, exist_ok=True)
        os.chmod(homes, 0o755)
        lines = []
        for i, (name, password) in enumerate(self.users):
            home = os.path.join(homes, name)
            os.makedirs(home, exist_ok=True)
            if os.geteuid() == 0:
                os.chown(home, UID + i, GID)
            lines.append("%s:%s:%d:%d::%s:/bin/false\n" % (name, _crypt(password), UID + i,
                                                            GID, home))
        for rel, data in sorted(self.files.items()):
            path = os.path.join(self.home, rel)
            if rel.endswith("/"):
                os.makedirs(path, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        for dirpath, dirs, names in os.walk(self.home):
            for n in dirs + names:
                p = os.path.join(dirpath, n)
                if os.geteuid() == 0:
                    os.chown(p, UID, GID)
                os.utime(p, (FIXED_MTIME, FIXED_MTIME))
        passwd = os.path.join(self.base, "ftpd.passwd")
        with open(passwd, "w") as f:
            f.writelines(lines)
        os.chmod(passwd, 0o600)
        group = os.path.join(self.base, "ftpd.group")
        with open(group, "w") as f:
            f.write("ftpgroup:x:%d:\n" % GID)
            f.writelines(line + "\n" for line in self.groups)
        os.chmod(group, 0o600)
        fill = dict(port=self.port, port2=self.port2, redis_port=redis_port, base=self.base,
                    home=self.home, timeout_idle=self.timeout_idle,
                    default_root="DefaultRoot ~" if self.chroot else "")
        if "{base}/ssh_host_key" in self.body:
            # An SFTP scenario's host key (tests/support/sftp_scenarios.py): made before
            # the server starts, private as mod_sftp requires.
            key = os.path.join(self.base, "ssh_host_key")
            subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM",
                            "-N", "", "-f", key], check=True, stdout=subprocess.DEVNULL)
        if "{base}/pki/" in self.body:
            # An FTPS scenario's certificates (tests/support/ftps_scenarios.py).
            from tests.support.ftps import make_pki
            make_pki(os.path.join(self.base, "pki"))
        with open(self.conf, "w") as f:
            f.write(self.preamble.format(**fill))
            f.write("\n")
            f.write(self.body.format(**fill))
        return self.conf

    def cleanup(self):
        shutil.rmtree(self.base, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# The client side

class RecordingFTP(ftplib.FTP):
    """ftplib that can send any bytes (surrogateescape) and keeps a transcript."""

    def __init__(self, transcript: list, *a, **kw):
        self.transcript = transcript
        kw.setdefault("encoding", "utf-8")
        ftplib.FTP.__init__(self, *a, **kw)

    def putline(self, line):
        self.transcript.append("> " + (line if not line.upper().startswith("PASS ")
                                       else "PASS (hidden)"))
        if "\r" in line or "\n" in line:
            raise ValueError("an illegal newline character should not be contained")
        self.sock.sendall((line + "\r\n").encode(self.encoding, "surrogateescape"))

    def getline(self):
        line = self.file.readline(self.maxline + 1)
        if not line:
            raise EOFError
        line = line.rstrip("\r\n")
        self.transcript.append("< " + line)
        return line

    def quit(self):
        """QUIT, then wait until the server has closed the connection: its DISCONNECT
        record is then written before anything the next session does."""
        resp = self.voidcmd("QUIT")
        try:
            while self.sock.recv(4096):
                pass
        except OSError:
            pass
        self.close()
        return resp

    def connect(self, *a, **kw):
        r = ftplib.FTP.connect(self, *a, **kw)
        # ftplib decodes strictly; keep odd bytes from the server visible instead.
        self.file = self.sock.makefile("r", encoding=self.encoding, errors="surrogateescape")
        return r


class Context:
    """What a scenario script gets: connect(), the home dir, a way to stop the server."""

    def __init__(self, site: Site, runner, transcript: list):
        self.site = site
        self.runner = runner
        self.home = site.home
        self.port = site.port
        self.port2 = site.port2
        self.transcript = transcript
        self.substitutions: List[Tuple[str, str]] = []

    def connect(self, user: Optional[str] = USER, password: str = PASSWORD,
                port: Optional[int] = None, host: str = "127.0.0.1",
                source: Optional[str] = None) -> RecordingFTP:
        """A session; ``source`` binds the client to another loopback address (127.0.0.7)
        so that the server sees a different client address."""
        f = RecordingFTP(self.transcript)
        f.connect(host, port or self.port, timeout=10,
                  source_address=(source, 0) if source else None)
        if user is not None:
            f.login(user, password)
        return f

    def volatile(self, text: str, placeholder: str):
        """Replace ``text`` by ``placeholder`` in this run's records (e.g. a STOU name)."""
        if text:
            self.substitutions.append((text, placeholder))

    def try_(self, fn, *args):
        """Run an ftplib call that is expected to fail; returns the error text."""
        try:
            fn(*args)
        except ftplib.all_errors as e:
            return str(e)
        return None

    def stop_server(self):
        self.runner.stop()

    def sleep(self, seconds):
        time.sleep(seconds)


class Result:
    """What one server pushed: ``records[key] = [json bytes, ...]`` plus the transcript."""

    def __init__(self, server: str, site: Site):
        self.server = server
        self.site = site
        self.records: Dict[bytes, List[bytes]] = {}
        self.transcript: List[str] = []
        self.substitutions: List[Tuple[str, str]] = []
        self.error: Optional[str] = None



# ---------------------------------------------------------------------------------------
# Normalisation

_STR = rb'"(?:[^"\\]|\\.)*"'
_VAL = rb'(?:' + _STR + rb'|[^,}]*)'


def _key_re(key: bytes):
    return re.compile(rb'("' + re.escape(key) + rb'":)' + _VAL)


_VOLATILE = {
    # clocks
    b"local_time": b'"<TIME>"', b"timestamp": b'"<TIME>"', b"epoch": b'"<EPOCH>"',
    b"microsecs": b'"<USEC>"', b"millisecs": b'"<MSEC>"', b"response_millis": b'"<MS>"',
    b"transfer_millis": b'"<MS>"', b"transfer_secs": b'"<SECS>"',
    b"transfer_speed": b'"<SPEED>"',
    # processes, ports, the server software's own version
    b"pid": b'"<PID>"', b"local_port": b'"<PORT>"', b"remote_port": b'"<PORT>"',
    b"transfer_port": b'"<PORT>"', b"server_version": b'"<VERSION>"',
}
_VOLATILE_RES = [(_key_re(k), v) for k, v in _VOLATILE.items()]
# strftime-keyed time variables: the key is the format, its value is the clock.
_TIME_KEY = re.compile(rb'("%[^"]*":)' + _STR)
_PASV = re.compile(rb"Entering Passive Mode \(\d+,\d+,\d+,\d+,\d+,\d+\)")
_EPSV = re.compile(rb"Entering Extended Passive Mode \(\|\|\|\d+\|\)")
_NOTE_KEY = re.compile(rb'"NOTE:(?:[^"\\]|\\.)*":')
_MDTM = re.compile(rb'("response_msg":)"\d{14}(?:\.\d+)?"')
# mod_unique_id's UNIQUE_ID (ftpredis.records.identity): 18 bytes in base64.
_UNIQUE_ID = re.compile(rb'"([A-Za-z0-9+/]{24})"')


def _unique_id(m) -> bytes:
    """A UNIQUE_ID of a session of this host from 127.0.0.1 becomes a marker."""
    from ftpredis.records.identity import host_address
    raw = base64.b64decode(m.group(1))
    if raw[4:12] == host_address() + b"\x7f\0\0\x01":
        return b'"<UNIQUE_ID>"'
    return m.group(0)


def normalise(record: bytes, site: Site, server: str, substitutions=()) -> bytes:
    """``record`` with what legitimately differs between two runs replaced by markers."""
    r = record
    r = r.replace(site.base.encode(), b"<BASE>")
    for text, placeholder in substitutions:
        r = r.replace(text.encode("utf-8", "surrogateescape"), placeholder.encode())
    for rx, marker in _VOLATILE_RES:
        r = rx.sub(lambda m: m.group(1) + marker, r)
    r = _TIME_KEY.sub(lambda m: m.group(1) + b'"<TIME>"', r)
    r = _PASV.sub(b"Entering Passive Mode (<PASV>).", r)
    r = r.replace(b"(<PASV>)..", b"(<PASV>).")
    r = _EPSV.sub(b"Entering Extended Passive Mode (|||<PORT>|)", r)
    r = _MDTM.sub(lambda m: m.group(1) + b'"<MDTM>"', r)
    r = _UNIQUE_ID.sub(_unique_id, r)
    # %{note:NAME}: ProFTPD keys it NOTE:<value>, ftpredis NOTE:NAME (doc/decisions.rst).
    r = _NOTE_KEY.sub(b'"NOTE:<NAME>":', r)
    # The daemon's own identity before login: ProFTPD's "User nobody" vs whoever runs
    # ftpredis (root here).
    daemon = (b"65534", b"65534") if server == "proftpd" else (
        str(os.geteuid()).encode(), str(os.getegid()).encode())
    r = re.sub(rb'("uid":)' + daemon[0] + rb'(?=[,}])', rb'\1"<DAEMON>"', r)
    r = re.sub(rb'("gid":)' + daemon[1] + rb'(?=[,}])', rb'\1"<DAEMON>"', r)
    return r


def normalised(result: Result) -> Dict[bytes, List[bytes]]:
    out = {}
    for key, records in result.records.items():
        nkey = normalise(key, result.site, result.server, result.substitutions)
        out[nkey] = [normalise(r, result.site, result.server, result.substitutions)
                     for r in records]
    return out


# ---------------------------------------------------------------------------------------
# The servers

class ServerRun:
    name = "?"

    def __init__(self, site: Site):
        self.site = site
        self.proc: Optional[subprocess.Popen] = None
        self.stderr = b""

    def command(self, conf: str) -> List[str]:
        raise NotImplementedError

    env = None
    # %{FOO}e reads the server's environment at log time.
    ENV = {"FOO": "bar-env-value"}

    def start(self, conf: str):
        self.errfile = open(os.path.join(self.site.base, self.name + ".stderr"), "w+b")
        argv = self.command(conf)
        env = dict(self.env or os.environ, **self.ENV)
        self.proc = subprocess.Popen(argv, cwd=self.site.base, env=env,
                                     stdin=subprocess.DEVNULL, stdout=self.errfile,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited at start:\n%s" % (self.name, self.output()))
            try:
                socket.create_connection(("127.0.0.1", self.site.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("%s did not listen:\n%s" % (self.name, self.output()))

    def output(self) -> str:
        self.errfile.seek(0)
        return self.errfile.read().decode("utf-8", "replace")

    def stop(self):
        p = self.proc
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


class FTPRedisRun(ServerRun):
    name = "ftpredis"

    def command(self, conf):
        self.env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
        return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
                "-n", "--pidfile=", "--logfile=" + os.path.join(self.site.base, "twistd.log"),
                "ftpredis", "--config", conf]


class ProFTPDRun(ServerRun):
    name = "proftpd"

    def command(self, conf):
        check = subprocess.run(["proftpd", "-t", "-c", conf], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
        if check.returncode != 0:
            raise RuntimeError("proftpd -t failed:\n" + check.stdout.decode("utf-8", "replace"))
        return ["proftpd", "-n", "-q", "-c", conf]


def proftpd_available() -> bool:
    return shutil.which("proftpd") is not None and os.path.exists(
        "/usr/lib/proftpd/mod_redis.so") and os.geteuid() == 0



def _settle(client, quiet=0.4, timeout=10.0):
    """Wait until no list in Redis has grown for ``quiet`` seconds."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        keys = sorted(client.keys())
        sizes = tuple((k, client.llen(k)) for k in keys)
        if sizes != last:
            last, since = sizes, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.05)


def run_one(runner_cls, body: str, script: Callable, files=None, timeout_idle=600,
            users=((USER, PASSWORD),), keep=False, chroot=True, groups=()) -> Result:
    preamble = PROFTPD_PREAMBLE if runner_cls is ProFTPDRun else FTPREDIS_PREAMBLE
    site = Site(body, preamble, files=files, users=users, timeout_idle=timeout_idle,
                chroot=chroot, groups=groups)
    redis = RedisServer().start()
    result = Result(runner_cls.name, site)
    runner = runner_cls(site)
    try:
        conf = site.write(redis.port)
        runner.start(conf)
        client = redis.client()
        # The readiness probe was a session too: forget what it logged.
        _settle(client, quiet=0.3, timeout=5)
        client.command("FLUSHALL")
        ctx = Context(site, runner, result.transcript)
        try:
            script(ctx)
        except Exception as e:          # report, still show what was logged
            result.error = "%s: %s" % (type(e).__name__, e)
        client = redis.client()
        _settle(client)
        runner.stop()
        _settle(client, quiet=0.2, timeout=3)
        for key in sorted(client.keys()):
            result.records[key] = client.lrange(key)
        result.substitutions = ctx.substitutions
        if runner.proc is not None and runner.proc.returncode not in (0, None, -15):
            result.error = (result.error or "") + " exit %s" % runner.proc.returncode
    finally:
        runner.stop()
        redis.cleanup()
        if not keep:
            site.cleanup()
    return result


def run_ftpredis(body, script, **kw) -> Result:
    return run_one(FTPRedisRun, body, script, **kw)


def run_proftpd(body, script, **kw) -> Result:
    return run_one(ProFTPDRun, body, script, **kw)
