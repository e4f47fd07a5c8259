# -*- test-case-name: tests.test_sftp -*-
"""SFTP sessions for ``tools/compare_proftpd.py``: the sessions doc/sftp-records.rst
describes, run with OpenSSH's ``sftp -b`` against ftpredis and against ProFTPD 1.3.8
with mod_sftp, registered in :data:`tests.support.scenarios.SCENARIOS` (names
``sftp_*``) with the differences doc/sftp-records.rst explains as excuses."""

import os
import re
import select
import struct
import subprocess

from tests.support.ftpsite import PASSWORD, USER
from tests.support.scenarios import EVERY_VAR, REDIS, braces, scenario

BODY = REDIS + braces('LogFormat every "%s"\nRedisLogOnEvent ALL every\n'
                      'RedisLogOnCommand ALL every cmd\n' % EVERY_VAR) + """
LoadModule mod_sftp.c
SFTPEngine on
SFTPHostKey {base}/ssh_host_key
SFTPAuthorizedUserKeys file:{base}/keys/%u
AllowStoreRestart on
<Directory {home}/ro>
  <Limit WRITE>
    DenyAll
  </Limit>
</Directory>
<Directory {home}/nr>
  <Limit READ>
    DenyAll
  </Limit>
</Directory>
"""

FILES = {"a.txt": b"a" * 50, "ro/": b"", "nr/f.txt": b"f" * 10}

EXCUSES = (
    (r"session_bytes_(rcvd|sent): ftpredis",
     "doc/sftp-records.rst: %I/%O count SSH's bytes, which depend on the algorithms"),
)

SSH_OPTS = ["-oStrictHostKeyChecking=no", "-oUserKnownHostsFile=/dev/null",
            "-oLogLevel=ERROR"]


def _local(ctx):
    path = os.path.join(ctx.site.base, "local")
    os.makedirs(path, exist_ok=True)
    return path


def sftp(ctx, batch, password=PASSWORD, key=None, extra=()):
    """One ``sftp -b`` session (password through sshpass, or ``key``); its output goes
    to the transcript."""
    local = _local(ctx)
    path = os.path.join(local, "batch")
    with open(path, "w") as f:
        f.write(batch)
    argv = ["sftp"] + SSH_OPTS + list(extra) + ["-P", str(ctx.port)]
    if key:
        argv += ["-oIdentitiesOnly=yes", "-oPreferredAuthentications=publickey", "-i", key,
                 "-b", path]
    else:
        argv = ["sshpass", "-p", password] + argv + [
            "-oBatchMode=no", "-oPreferredAuthentications=password",
            "-oPubkeyAuthentication=no", "-b", path]
    argv.append(USER + "@127.0.0.1")
    p = subprocess.run(argv, cwd=local, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    ctx.transcript.append(p.stdout.decode("utf-8", "replace"))


def _sftp_scenario(name):
    return scenario(name, BODY, files=FILES, excuses=EXCUSES)


@_sftp_scenario("sftp_session")
def sftp_session(ctx):
    """A password session: ls, stat, get, put, mkdir, rmdir, rename, chmod, rm, a missing
    file, refused writes."""
    with open(os.path.join(_local(ctx), "up.txt"), "wb") as f:
        f.write(b"y" * 300)
    sftp(ctx, "ls\nls -l a.txt\nget a.txt\nput up.txt\nmkdir d\nrmdir d\n"
              "rename up.txt g.txt\nchmod 600 g.txt\nrm g.txt\n-rm missing.txt\n"
              "-mkdir ro/x\n-put up.txt ro/up.txt\nls ro\n")


@_sftp_scenario("sftp_refusals")
def sftp_refusals(ctx):
    """<Limit READ> on STAT, a missing directory, a rename refused at its destination,
    then a wrong password."""
    sftp(ctx, "-get nr/f.txt\n-ls nothere\n-rmdir nothere\n-rename a.txt ro/b.txt\n")
    # One attempt: sshpass may answer a second prompt or not, depending on timing.
    sftp(ctx, "ls\n", password="wrong", extra=["-oNumberOfPasswordPrompts=1"])


@_sftp_scenario("sftp_extensions")
def sftp_extensions(ctx):
    """OpenSSH's sftp with the extensions VERSION offers: rename over posix-rename (which
    replaces an existing file), refused by <Limit> or failing; df over statvfs."""
    with open(os.path.join(_local(ctx), "up.txt"), "wb") as f:
        f.write(b"y" * 300)
    sftp(ctx, "put up.txt\nrename up.txt a.txt\nrename a.txt b.txt\n-rename missing.txt "
              "m.txt\n-rename b.txt ro/b.txt\n-rename b.txt nodir/b.txt\n-rename b.txt b.txt\n"
              "df\ndf -i\n")


@_sftp_scenario("sftp_key")
def sftp_key(ctx):
    """A public key login (RFC 4716 in SFTPAuthorizedUserKeys: the format Debian's 1.3.8
    accepts)."""
    local = _local(ctx)
    key = os.path.join(local, "id_rsa")
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", key],
                   check=True, stdout=subprocess.DEVNULL)
    rfc = subprocess.run(["ssh-keygen", "-e", "-f", key + ".pub"], check=True,
                         stdout=subprocess.PIPE).stdout
    os.makedirs(os.path.join(ctx.site.base, "keys"), exist_ok=True)
    with open(os.path.join(ctx.site.base, "keys", USER), "wb") as f:
        f.write(rfc)
    sftp(ctx, "ls\n", key=key)


@_sftp_scenario("sftp_resume")
def sftp_resume(ctx):
    """reput (APPE from the server's size) and reget."""
    local = _local(ctx)
    with open(os.path.join(local, "big.bin"), "wb") as f:
        f.write(b"z" * 100000)
    with open(os.path.join(ctx.home, "big.bin"), "wb") as f:
        f.write(b"z" * 40000)
    if os.geteuid() == 0:
        os.chown(os.path.join(ctx.home, "big.bin"), 5001, 5001)
    with open(os.path.join(local, "dl.bin"), "wb") as f:
        f.write(b"a" * 20)
    sftp(ctx, "reput big.bin\nreget a.txt dl.bin\n")


def _second_login(ctx):
    """A second login while a session is open."""
    held = subprocess.Popen(["sshpass", "-p", PASSWORD, "ssh"] + SSH_OPTS + [
        "-oPubkeyAuthentication=no", "-p", str(ctx.port), "-s", USER + "@127.0.0.1", "sftp"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        # SFTP's INIT, version 3: the VERSION answer means the held session is logged in.
        held.stdin.write(b"\x00\x00\x00\x05\x01\x00\x00\x00\x03")
        held.stdin.flush()
        held.stdout.read(9)
        sftp(ctx, "ls\n")
    finally:
        held.stdin.close()
        held.wait(30)


@scenario("sftp_idle", BODY, files=FILES, excuses=EXCUSES, timeout_idle=3)
def sftp_idle(ctx):
    """TimeoutIdle 3: a logged-in session that says nothing more."""
    held = subprocess.Popen(["sshpass", "-p", PASSWORD, "ssh"] + SSH_OPTS + [
        "-oPubkeyAuthentication=no", "-p", str(ctx.port), "-s", USER + "@127.0.0.1", "sftp"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    held.stdin.write(b"\x00\x00\x00\x05\x01\x00\x00\x00\x03")     # SFTP's INIT
    held.stdin.flush()
    held.wait(60)               # the server ends it


@scenario("sftp_login_timeout", BODY + "TimeoutLogin 2\n", files=FILES, excuses=EXCUSES)
def sftp_login_timeout(ctx):
    """TimeoutLogin 2: a client that connects and sends nothing."""
    import socket
    with socket.create_connection(("127.0.0.1", ctx.port), timeout=60) as s:
        while s.recv(65536):
            pass


for _name, _directive in (("sftp_maxclients", "MaxClients"),
                          ("sftp_maxclients_per_host", "MaxClientsPerHost"),
                          ("sftp_maxclients_per_user", "MaxClientsPerUser"),
                          ("sftp_maxconnections_per_host", "MaxConnectionsPerHost")):
    scenario(_name, BODY + _directive + " 1\n", files=FILES, excuses=EXCUSES)(_second_login)


@scenario("sftp_lftp", BODY, files=FILES, excuses=EXCUSES + (
    (r'session_end_reason: ftpredis "Quit: disconnected by user", proftpd "Application '
     r'error: Broken pipe"|protocol: ftpredis "ssh2", proftpd "sftp"',
     "doc/sftp-records.rst: lftp kills its ssh; ProFTPD saw a broken pipe"),))
def sftp_lftp(ctx):
    """lftp's sftp://: a download, an upload, a missing file opened directly."""
    local = _local(ctx)
    with open(os.path.join(local, "l.txt"), "wb") as f:
        f.write(b"l" * 1000)
    script = ('set sftp:connect-program "ssh -a -x %s -oPubkeyAuthentication=no"; '
              'set net:max-retries 1; set xfer:clobber on; open -u %s,%s -p %d sftp://127.0.0.1; '
              'get a.txt -o got.txt; put l.txt; get missing.txt -o m.txt; bye'
              % (" ".join(SSH_OPTS), USER, PASSWORD, ctx.port))
    p = subprocess.run(["lftp", "-c", script], cwd=local, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    ctx.transcript.append(p.stdout.decode("utf-8", "replace"))


BIG = 64 * 1024 * 1024


@scenario("sftp_interrupted", BODY, files=FILES, excuses=EXCUSES)
def sftp_interrupted(ctx):
    """A download cut short (the client killed), then finished with reget."""
    import signal
    import time
    with open(os.path.join(ctx.home, "big.bin"), "wb") as f:
        f.write(b"b" * BIG)
    if os.geteuid() == 0:
        os.chown(os.path.join(ctx.home, "big.bin"), 5001, 5001)
    local = _local(ctx)
    target = os.path.join(local, "big.bin")
    with open(os.path.join(local, "batch"), "w") as f:
        f.write("get big.bin\n")
    # A slow reader: the download is cut while it runs, wherever it has got to.
    p = subprocess.Popen(["sshpass", "-p", PASSWORD, "sftp"] + SSH_OPTS + [
        "-oBatchMode=no", "-oPubkeyAuthentication=no", "-l", "800", "-P", str(ctx.port),
        "-b", os.path.join(local, "batch"), USER + "@127.0.0.1"], cwd=local,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
            not os.path.exists(target) or os.path.getsize(target) < 1024 * 1024):
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    ctx.volatile(str(os.path.getsize(target)), "<PARTIAL>")
    sftp(ctx, "reget big.bin\n")


# ---------------------------------------------------------------------------------------
# Each SFTP v3 request's answer, in raw packets

_u32, _u64 = struct.Struct(">I").pack, struct.Struct(">Q").pack


def _s(data: bytes) -> bytes:
    return _u32(len(data)) + data


def read_exactly(proc, n: int, timeout: float = 30) -> bytes:
    """``n`` bytes of an ``ssh -s sftp`` child's output; an AssertionError, not a hang,
    when the server closes the session or stays silent for ``timeout`` seconds."""
    out = b""
    fd = proc.stdout.fileno()
    while len(out) < n:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            raise AssertionError("no answer from the SFTP server")
        data = os.read(fd, n - len(out))
        if not data:
            raise AssertionError("the SFTP server closed the session")
        out += data
    return out


class RawClient:
    """SFTP v3 packets over OpenSSH's ``ssh -s ... sftp``, with a password."""

    def __init__(self, port, password=PASSWORD):
        self.proc = subprocess.Popen(
            ["sshpass", "-p", password, "ssh"] + SSH_OPTS + [
                "-oPreferredAuthentications=password", "-oPubkeyAuthentication=no",
                "-oConnectTimeout=20", "-p", str(port), "-s", USER + "@127.0.0.1", "sftp"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.id = 0
        self.send(bytes([1]) + _u32(3))            # INIT, version 3
        self.receive()

    def send(self, payload):
        self.proc.stdin.write(_s(payload))
        self.proc.stdin.flush()

    def receive(self):
        length = struct.unpack(">I", self._exactly(4))[0]
        return self._exactly(length)

    def _exactly(self, n):
        return read_exactly(self.proc, n)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(30)


#: Request types (draft-ietf-secsh-filexfer-02).
(OPEN, CLOSE, READ, WRITE, LSTAT, FSTAT, SETSTAT, FSETSTAT, OPENDIR, READDIR, REMOVE,
 MKDIR, RMDIR, REALPATH, STAT, RENAME, READLINK, SYMLINK) = range(3, 21)
EXTENDED = 200
_READ, _WRITE, _APPEND, _CREAT, _TRUNC, _EXCL = 1, 2, 4, 8, 16, 32
_NOATTRS, _PERMS = _u32(0), _u32(4) + _u32(0o640)


def _answer(reply: bytes) -> str:
    """An answer as one line without what differs from run to run (handles, times)."""
    kind = reply[0]
    if kind == 101:
        code, n = struct.unpack(">II", reply[5:13])
        lang = reply[17 + n:21 + n + struct.unpack(">I", reply[13 + n:17 + n])[0]]
        return "STATUS %d %r %s" % (code, reply[13:13 + n].decode("utf-8", "replace"),
                                    lang.decode("ascii", "replace"))
    if kind == 102:
        return "HANDLE"
    if kind == 103:
        return "DATA %d bytes" % struct.unpack(">I", reply[5:9])[0]
    if kind == 104:
        count, data, names = struct.unpack(">I", reply[5:9])[0], reply[9:], []
        for _ in range(count):
            n = struct.unpack(">I", data[:4])[0]
            names.append(data[4:4 + n].decode("utf-8", "replace"))
            data = data[4 + n:]
            data = data[4 + struct.unpack(">I", data[:4])[0]:]      # the long name
            flags = struct.unpack(">I", data[:4])[0]
            data = data[4 + 8 * bool(flags & 1) + 8 * bool(flags & 2) + 4 * bool(flags & 4)
                        + 8 * bool(flags & 8):]
        return "NAME %s" % " ".join(sorted(names))
    if kind == 105:
        return "ATTRS"
    if kind == 201:
        return "EXTENDED_REPLY"
    return "type %d" % kind


def _prepare(home):
    """What the requests below need besides the scenario's FILES, owned as ``home``."""
    st = os.stat(home)
    for rel in ("full/", "full/x.txt", "empty/", "ro/r.txt", "ro/sub/", "keep/", "keep/k.txt"):
        path = os.path.join(home, rel)
        if rel.endswith("/"):
            os.makedirs(path)
        else:
            with open(path, "wb") as f:
                f.write(b"x" * 10)
        os.chown(path.rstrip("/"), st.st_uid, st.st_gid)
    os.symlink("a.txt", os.path.join(home, "link"))
    os.lchown(os.path.join(home, "link"), st.st_uid, st.st_gid)
    os.symlink("nowhere.txt", os.path.join(home, "dangling"))
    os.lchown(os.path.join(home, "dangling"), st.st_uid, st.st_gid)


def _asker(c, lines):
    """``ask(label, kind, body, show=_answer)``: one request on ``c``, its answer (as
    ``show`` writes it) appended to ``lines``; the handle a HANDLE answer carries, else
    None."""
    def ask(label, kind, body, show=_answer):
        c.id += 1
        c.send(bytes([kind]) + _u32(c.id) + body)
        reply = c.receive()
        lines.append("%s: %s" % (label, show(reply)))
        if reply[0] == 102:
            return _s(reply[9:9 + struct.unpack(">I", reply[5:9])[0]])
        return None
    return ask


def status_probe(port, home):
    """Every SFTP v3 request, answered and failing in the usual ways (no such file,
    <Limit>, exists, not a directory, a directory not empty): one line per answer,
    its status code and text as the server sent them."""
    _prepare(home)
    c = RawClient(port)
    lines = []
    ask = _asker(c, lines)

    try:
        h = ask("OPEN a.txt read", OPEN, _s(b"/a.txt") + _u32(_READ) + _NOATTRS)
        ask("READ", READ, h + _u64(0) + _u32(100))
        ask("READ at the end", READ, h + _u64(50) + _u32(100))
        ask("WRITE to a file opened for reading", WRITE, h + _u64(0) + _s(b"x"))
        ask("FSTAT", FSTAT, h)
        ask("FSETSTAT permissions", FSETSTAT, h + _PERMS)
        ask("CLOSE file", CLOSE, h)
        ask("CLOSE again", CLOSE, h)
        h = ask("OPEN new.txt write", OPEN, _s(b"/new.txt") + _u32(_WRITE | _CREAT | _TRUNC)
                + _NOATTRS)
        ask("WRITE", WRITE, h + _u64(0) + _s(b"new"))
        ask("FSETSTAT size", FSETSTAT, h + _u32(1) + _u64(2))
        ask("CLOSE written file", CLOSE, h)
        ask("OPEN missing.txt read", OPEN, _s(b"/missing.txt") + _u32(_READ) + _NOATTRS)
        ask("OPEN nodir/x.txt write", OPEN, _s(b"/nodir/x.txt") + _u32(_WRITE | _CREAT)
            + _NOATTRS)
        ask("OPEN a.txt exclusive", OPEN, _s(b"/a.txt") + _u32(_WRITE | _CREAT | _EXCL)
            + _NOATTRS)
        ask("OPEN ro/x.txt write (<Limit>)", OPEN, _s(b"/ro/x.txt")
            + _u32(_WRITE | _CREAT | _TRUNC) + _NOATTRS)
        ask("OPEN nr/f.txt read (<Limit>)", OPEN, _s(b"/nr/f.txt") + _u32(_READ) + _NOATTRS)
        ask("OPEN full write (a directory)", OPEN, _s(b"/full") + _u32(_WRITE | _CREAT)
            + _NOATTRS)
        ask("OPEN full read (a directory)", OPEN, _s(b"/full") + _u32(_READ) + _NOATTRS)
        ask("OPEN keep/k.txt write (AllowOverwrite off)", OPEN, _s(b"/keep/k.txt")
            + _u32(_WRITE | _CREAT | _TRUNC) + _NOATTRS)
        ask("OPEN dangling read", OPEN, _s(b"/dangling") + _u32(_READ) + _NOATTRS)
        ask("LSTAT a.txt", LSTAT, _s(b"/a.txt"))
        ask("LSTAT missing.txt", LSTAT, _s(b"/missing.txt"))
        ask("LSTAT dangling", LSTAT, _s(b"/dangling"))
        ask("STAT link", STAT, _s(b"/link"))
        ask("STAT missing.txt", STAT, _s(b"/missing.txt"))
        ask("STAT nr/f.txt (<Limit>)", STAT, _s(b"/nr/f.txt"))
        ask("STAT dangling", STAT, _s(b"/dangling"))
        ask("SETSTAT permissions", SETSTAT, _s(b"/new.txt") + _PERMS)
        ask("SETSTAT times", SETSTAT, _s(b"/new.txt") + _u32(8) + _u32(1700000000) * 2)
        ask("SETSTAT missing.txt", SETSTAT, _s(b"/missing.txt") + _PERMS)
        ask("SETSTAT ro/r.txt (<Limit>)", SETSTAT, _s(b"/ro/r.txt") + _PERMS)
        h = ask("OPENDIR full", OPENDIR, _s(b"/full"))
        ask("READDIR", READDIR, h)
        ask("READDIR at the end", READDIR, h)
        ask("CLOSE directory", CLOSE, h)
        ask("OPENDIR missing", OPENDIR, _s(b"/missing"))
        ask("OPENDIR a.txt", OPENDIR, _s(b"/a.txt"))
        h = ask("OPENDIR nr (<Limit READ>)", OPENDIR, _s(b"/nr"))
        ask("CLOSE directory", CLOSE, h)
        ask("REMOVE new.txt", REMOVE, _s(b"/new.txt"))
        ask("REMOVE missing.txt", REMOVE, _s(b"/missing.txt"))
        ask("REMOVE ro/r.txt (<Limit>)", REMOVE, _s(b"/ro/r.txt"))
        ask("REMOVE empty (a directory)", REMOVE, _s(b"/empty"))
        ask("MKDIR d", MKDIR, _s(b"/d") + _NOATTRS)
        ask("MKDIR full (exists)", MKDIR, _s(b"/full") + _NOATTRS)
        ask("MKDIR nodir/d", MKDIR, _s(b"/nodir/d") + _NOATTRS)
        ask("MKDIR ro/d (<Limit>)", MKDIR, _s(b"/ro/d") + _NOATTRS)
        ask("RMDIR d", RMDIR, _s(b"/d"))
        ask("RMDIR full (not empty)", RMDIR, _s(b"/full"))
        ask("RMDIR missing", RMDIR, _s(b"/missing"))
        ask("RMDIR a.txt", RMDIR, _s(b"/a.txt"))
        ask("RMDIR ro/sub (<Limit>)", RMDIR, _s(b"/ro/sub"))
        ask("REALPATH .", REALPATH, _s(b"."))
        ask("REALPATH full/..", REALPATH, _s(b"/full/.."))
        ask("REALPATH missing", REALPATH, _s(b"/missing"))
        ask("REALPATH full/x.txt", REALPATH, _s(b"/full/x.txt"))
        ask("RENAME a.txt b.txt", RENAME, _s(b"/a.txt") + _s(b"/b.txt"))
        ask("RENAME missing.txt", RENAME, _s(b"/missing.txt") + _s(b"/m.txt"))
        ask("RENAME b.txt full/x.txt (exists)", RENAME, _s(b"/b.txt") + _s(b"/full/x.txt"))
        ask("RENAME b.txt b.txt (itself)", RENAME, _s(b"/b.txt") + _s(b"/b.txt"))
        ask("RENAME b.txt ro/b.txt (<Limit>)", RENAME, _s(b"/b.txt") + _s(b"/ro/b.txt"))
        ask("RENAME ro/r.txt r.txt (<Limit>)", RENAME, _s(b"/ro/r.txt") + _s(b"/r.txt"))
        ask("READLINK link", READLINK, _s(b"/link"))
        ask("READLINK full/x.txt", READLINK, _s(b"/full/x.txt"))
        ask("READLINK missing", READLINK, _s(b"/missing"))
        ask("SYMLINK", SYMLINK, _s(b"/sym") + _s(b"/full/x.txt"))
        ask("posix-rename missing.txt", EXTENDED, _s(b"posix-rename@openssh.com")
            + _s(b"/missing.txt") + _s(b"/m.txt"))
        ask("statvfs missing", EXTENDED, _s(b"statvfs@openssh.com") + _s(b"/missing"))
        ask("unknown extension", EXTENDED, _s(b"nosuch@example.com"))
    finally:
        c.close()
    return lines


#: The directory of :func:`status_probe` where AllowOverwrite is off.
KEEP = "<Directory {home}/keep>\n  AllowOverwrite off\n</Directory>\n"


@scenario("sftp_statuses", BODY + KEEP, files=FILES, excuses=EXCUSES + (
    (r'only proftpd : .*"raw_command":"RETR /missing.txt"',
     "doc/sftp-records.rst: a v3 client's OPEN of a missing file is not logged"),
    (r'only proftpd : .*"raw_command":"RNTO /r.txt"|response_msg: ftpredis "/ro/r.txt: '
     r'Permission denied"|response_code: ftpredis 550, proftpd 350|missing (bytes_sent=0|'
     r'transfer_secs=|transfer_millis=)',
     "doc/sftp-records.rst: RENAME asks <Limit> about RNFR on the source too"),
))
def sftp_statuses(ctx):
    """Raw SFTP v3 requests, each one's answer (status code and text) in the transcript:
    success and the usual failures."""
    ctx.transcript.extend(status_probe(ctx.port, ctx.home))


def extension_probe(port, home):
    """fsync@openssh.com, hardlink@openssh.com and home-directory in raw packets, where
    OpenSSH's sftp does not send them (a directory's handle, a symbolic link, another
    account): one line per answer."""
    st = os.stat(home)
    os.symlink("a.txt", os.path.join(home, "link"))
    os.lchown(os.path.join(home, "link"), st.st_uid, st.st_gid)
    c = RawClient(port)
    lines = []
    ask = _asker(c, lines)

    try:
        h = ask("OPEN a.txt read", OPEN, _s(b"/a.txt") + _u32(_READ) + _NOATTRS)
        ask("fsync a file opened for reading", EXTENDED, _s(b"fsync@openssh.com") + h)
        ask("CLOSE file", CLOSE, h)
        ask("fsync a closed handle", EXTENDED, _s(b"fsync@openssh.com") + h)
        h = ask("OPENDIR /", OPENDIR, _s(b"/"))
        ask("fsync a directory", EXTENDED, _s(b"fsync@openssh.com") + h)
        ask("CLOSE directory", CLOSE, h)
        ask("home-directory of the session's user", EXTENDED, _s(b"home-directory")
            + _s(b""))
        ask("home-directory " + USER, EXTENDED, _s(b"home-directory") + _s(USER.encode()))
        ask("home-directory nosuchuser", EXTENDED, _s(b"home-directory")
            + _s(b"nosuchuser"))
        ask("home-directory root", EXTENDED, _s(b"home-directory") + _s(b"root"))
        ask("hardlink nr/f.txt (<Limit READ>)", EXTENDED, _s(b"hardlink@openssh.com")
            + _s(b"/nr/f.txt") + _s(b"/f.txt"))
        ask("hardlink link (a symbolic link)", EXTENDED, _s(b"hardlink@openssh.com")
            + _s(b"/link") + _s(b"/link2"))
        ask("hardlink a.txt onto itself", EXTENDED, _s(b"hardlink@openssh.com")
            + _s(b"/a.txt") + _s(b"/a.txt"))
        ask("hardlink a.txt onto nr/f.txt (exists)", EXTENDED, _s(b"hardlink@openssh.com")
            + _s(b"/a.txt") + _s(b"/nr/f.txt"))
        ask("hardlink a directory", EXTENDED, _s(b"hardlink@openssh.com")
            + _s(b"/ro") + _s(b"/ro2"))
        ask("hardlink to nodir/", EXTENDED, _s(b"hardlink@openssh.com")
            + _s(b"/a.txt") + _s(b"/nodir/a.txt"))
    finally:
        c.close()
    return lines


@_sftp_scenario("sftp_links")
def sftp_links(ctx):
    """OpenSSH's sftp over the extensions of mod_sftp beyond posix-rename and statvfs:
    put -f (fsync@openssh.com), ln (hardlink@openssh.com) made or refused; then raw
    requests (extension_probe)."""
    with open(os.path.join(_local(ctx), "up.txt"), "wb") as f:
        f.write(b"y" * 300)
    sftp(ctx, "put -f up.txt\nln a.txt h.txt\n-ln missing.txt m.txt\n-ln a.txt ro/h.txt\n"
              "-ln a.txt a.txt\n-ln up.txt h.txt\n-ln a.txt nodir/h.txt\nls -l a.txt h.txt\n")
    ctx.transcript.extend(extension_probe(ctx.port, ctx.home))


def _realpath_answer(reply: bytes) -> str:
    """REALPATH's answer: a status, or each name with its long name (date masked) and
    the attributes that do not vary from run to run."""
    if reply[0] != 104:
        return _answer(reply)
    count, data, out = struct.unpack(">I", reply[5:9])[0], reply[9:], []
    for _ in range(count):
        n = struct.unpack(">I", data[:4])[0]
        name, data = data[4:4 + n].decode("utf-8", "replace"), data[4 + n:]
        n = struct.unpack(">I", data[:4])[0]
        longname, data = data[4:4 + n].decode("utf-8", "replace"), data[4 + n:]
        flags, data = struct.unpack(">I", data[:4])[0], data[4:]
        attrs = ["flags=%d" % flags]
        if flags & 1:
            attrs.append("size=%d" % struct.unpack(">Q", data[:8])[0])
            data = data[8:]
        if flags & 2:
            data = data[8:]
        if flags & 4:
            attrs.append("mode=%o" % struct.unpack(">I", data[:4])[0])
            data = data[4:]
        if flags & 8:
            data = data[8:]
        longname = re.sub(r"[A-Z][a-z]{2} [ \d]\d (\d\d:\d\d| \d{4})", "<DATE>", longname)
        out.append("%s [%s] %s" % (name, longname, " ".join(attrs)))
    return "NAME %s" % "; ".join(out)


def realpath_probe(port, home):
    """REALPATH of files, directories, and symbolic links (to a file, to a directory,
    through one, absolute inside the jail, dangling, to the jail's parent, out of it):
    one line per answer, long names with their dates masked."""
    st = os.stat(home)
    os.makedirs(os.path.join(home, "sub"), exist_ok=True)
    with open(os.path.join(home, "sub", "b.txt"), "wb") as f:
        f.write(b"b" * 7)
    for name in ("sub", "sub/b.txt"):
        os.lchown(os.path.join(home, name), st.st_uid, st.st_gid)
    for name, target in (("link", "a.txt"), ("sublink", "sub"), ("abslink", "/sub/b.txt"),
                         ("dangling", "nowhere"), ("up", ".."), ("etclink", "/etc")):
        os.symlink(target, os.path.join(home, name))
        os.lchown(os.path.join(home, name), st.st_uid, st.st_gid)
    c = RawClient(port)
    lines = []
    ask = _asker(c, lines)
    try:
        for path in (b".", b"", b"/", b"a.txt", b"/a.txt", b"sub", b"sub/../a.txt", b"missing",
                     b"link", b"sublink", b"sublink/b.txt", b"abslink", b"dangling", b"up",
                     b"up/a.txt", b"etclink", b"/../..", b"sub/missing"):
            ask("REALPATH %r" % path.decode(), REALPATH, _s(path), show=_realpath_answer)
    finally:
        c.close()
    return lines


@scenario("sftp_realpath", BODY, files=FILES, excuses=EXCUSES)
def sftp_realpath(ctx):
    """REALPATH of files, directories and symbolic links (:func:`realpath_probe`)."""
    ctx.transcript.extend(realpath_probe(ctx.port, ctx.home))


def truncate_probe(port, home):
    """SETSTAT and FSETSTAT of size 0 and of a smaller size (each answer, then the size
    STAT finds); uploads and appends to existing and new files, written or not, one
    left open when the session ends (their %{file-modified})."""
    st = os.stat(home)
    for name in ("z1.txt", "z2.txt", "z3.txt"):
        with open(os.path.join(home, name), "wb") as f:
            f.write(b"z" * 30)
        os.chown(os.path.join(home, name), st.st_uid, st.st_gid)
    c = RawClient(port)
    lines = []
    ask = _asker(c, lines)

    def size(name):
        ask("size of %s" % name.decode(), STAT, _s(name),
            show=lambda reply: "%d" % struct.unpack(">Q", reply[9:17])[0])
    try:
        ask("SETSTAT z1.txt size 0", SETSTAT, _s(b"/z1.txt") + _u32(1) + _u64(0))
        size(b"/z1.txt")
        h = ask("OPEN z2.txt write", OPEN, _s(b"/z2.txt") + _u32(_WRITE) + _NOATTRS)
        ask("FSETSTAT size 0", FSETSTAT, h + _u32(1) + _u64(0))
        ask("CLOSE", CLOSE, h)
        size(b"/z2.txt")
        ask("SETSTAT z3.txt size 10", SETSTAT, _s(b"/z3.txt") + _u32(1) + _u64(10))
        size(b"/z3.txt")
        h = ask("OPEN z3.txt read", OPEN, _s(b"/z3.txt") + _u32(_READ) + _NOATTRS)
        ask("CLOSE unread", CLOSE, h)
        h = ask("OPEN empty.txt create", OPEN, _s(b"/empty.txt") + _u32(_WRITE | _CREAT | _TRUNC)
                + _NOATTRS)
        ask("CLOSE unwritten", CLOSE, h)
        h = ask("OPEN z3.txt write+trunc", OPEN, _s(b"/z3.txt") + _u32(_WRITE | _CREAT | _TRUNC)
                + _NOATTRS)
        ask("WRITE", WRITE, h + _u64(0) + _s(b"abc"))
        ask("CLOSE written", CLOSE, h)
        h = ask("OPEN z1.txt append", OPEN, _s(b"/z1.txt") + _u32(_WRITE | _APPEND)
                + _NOATTRS)
        ask("CLOSE unappended", CLOSE, h)
        h = ask("OPEN new2.txt append", OPEN, _s(b"/new2.txt") + _u32(_WRITE | _APPEND | _CREAT)
                + _NOATTRS)
        ask("WRITE", WRITE, h + _u64(0) + _s(b"abc"))
        ask("CLOSE appended", CLOSE, h)
        # Left open when the session ends: logged failed, after EXIT, not modified.
        h = ask("OPEN z1.txt write, left open", OPEN, _s(b"/z1.txt") + _u32(_WRITE)
                + _NOATTRS)
        ask("WRITE", WRITE, h + _u64(0) + _s(b"abc"))
    finally:
        c.close()
    return lines


@scenario("sftp_truncate", BODY, files=FILES, excuses=EXCUSES)
def sftp_truncate(ctx):
    """SETSTAT/FSETSTAT of a file's size (:func:`truncate_probe`)."""
    ctx.transcript.extend(truncate_probe(ctx.port, ctx.home))
