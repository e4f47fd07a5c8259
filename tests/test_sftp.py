# -*- test-case-name: tests.test_sftp -*-
"""SFTP end to end: ``twistd ftpredis`` with an SFTPEngine <VirtualHost> beside an FTP
server, driven by OpenSSH's sftp (password through sshpass, and keys), scp and lftp's
sftp://, with the records compared with what ProFTPD 1.3.8's mod_sftp wrote for the
same sessions (doc/sftp-records.rst)."""

import json
import os
import signal
import socket
import struct
import subprocess

from twisted.internet import defer
from twisted.trial import unittest

from tests.support import e2e
from tests.support.sftp_scenarios import read_exactly
from tests.support.twistdrun import TwistdMixin

FORMAT = "%m %J %s %S %{protocol} %b %F %{file-size} %{transfer-status} %u %U %E"
FIELDS = ("command", "command_params", "response_code", "response_msg", "protocol",
          "bytes_sent", "transfer_path", "file_size", "transfer_status", "user",
          "original_user", "session_end_reason")

BODY = r"""
Port {ftp_port}
DefaultAddress 127.0.0.1
{top}
LogFormat sftp "{fmt}"
<Global>
  RedisLogOnEvent ALL sftp
  RedisLogOnCommand ALL sftp cmd
</Global>
<VirtualHost 127.0.0.1>
  Port {port}
  ServerIdent on "example ready"
  SFTPEngine on
  SFTPHostKey {base}/hostkey
  SFTPAuthorizedUserKeys file:{base}/keys/%u
  SFTPLog {base}/sftp.log
  SFTPDisplayBanner {base}/banner.txt
  SFTPClientMatch "^OpenSSH" channelWindowSize 256KB channelPacketSize 16KB
  DefaultRoot ~
  AllowStoreRestart on
{vhost}
  <Directory {base}/home/ftpuser/nr>
    <Limit READ>
      DenyAll
    </Limit>
  </Directory>
  <Directory {base}/home/ftpuser/ro>
    <Limit WRITE>
      DenyAll
    </Limit>
  </Directory>
</VirtualHost>
"""

SSH_OPTS = ["-oStrictHostKeyChecking=no", "-oUserKnownHostsFile=/dev/null",
            "-oLogLevel=ERROR", "-oConnectTimeout=20"]


def _keygen(path, kind, *extra):
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", path] + list(extra),
                   check=True, stdout=subprocess.DEVNULL)


_OPEN, _CLOSE, _SETSTAT, _FSETSTAT = 3, 4, 9, 10
_u32, _u64 = struct.Struct(">I").pack, struct.Struct(">Q").pack


def _str(data: bytes) -> bytes:
    return _u32(len(data)) + data


class RawSFTP:
    """SFTP v3 packets of our choosing over OpenSSH's ``ssh -s ... sftp`` (for requests
    its sftp(1) has no command for: SETSTAT of a size or of times alone)."""

    def __init__(self, port):
        self.proc = subprocess.Popen(
            ["sshpass", "-p", "ftppass", "ssh"] + SSH_OPTS + [
                "-oPreferredAuthentications=password", "-oPubkeyAuthentication=no",
                "-p", str(port), "-s", "ftpuser@127.0.0.1", "sftp"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.id = 0
        self._send(bytes([1]) + _u32(3))            # INIT, version 3
        self._receive()

    def _send(self, payload):
        self.proc.stdin.write(_str(payload))
        self.proc.stdin.flush()

    def _receive(self):
        length = struct.unpack(">I", self._exactly(4))[0]
        return self._exactly(length)

    def _exactly(self, n):
        return read_exactly(self.proc, n)

    def request(self, kind, body):
        """("STATUS", code) or ("HANDLE", handle) or the packet type."""
        self.id += 1
        self._send(bytes([kind]) + _u32(self.id) + body)
        reply = self._receive()
        if reply[0] == 101:
            return "STATUS", struct.unpack(">I", reply[5:9])[0]
        if reply[0] == 102:
            return "HANDLE", reply[9:9 + struct.unpack(">I", reply[5:9])[0]]
        return reply[0]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(30)


class _SFTPSite(TwistdMixin):
    """An SFTP <VirtualHost> beside an FTP server, with ``TOP`` and ``VHOST`` added to the
    configuration at the top and in the <VirtualHost>."""

    timeout = 240
    BODY = BODY
    FORMAT = FORMAT
    TOP = VHOST = ""

    @defer.inlineCallbacks
    def setUp(self):
        super().setUp()
        self.port, self.ftp_port = e2e.free_port(), e2e.free_port()
        _keygen(os.path.join(self.base, "hostkey"), "rsa", "-b", "2048", "-m", "PEM")
        keys = os.path.join(self.base, "keys")
        os.makedirs(keys)
        self.local = os.path.join(self.base, "local")
        os.makedirs(self.local)
        _keygen(os.path.join(self.local, "id_ed"), "ed25519")
        _keygen(os.path.join(self.local, "id_rsa"), "rsa", "-b", "2048")
        rfc = subprocess.run(["ssh-keygen", "-e", "-f", os.path.join(self.local, "id_rsa.pub")],
                             check=True, stdout=subprocess.PIPE).stdout.decode()
        with open(os.path.join(keys, "ftpuser"), "w") as f:
            # One key in OpenSSH's format, one in RFC 4716's.
            f.write(open(os.path.join(self.local, "id_ed.pub")).read() + rfc)
        self.home = e2e.home(self.base)
        os.makedirs(os.path.join(self.home, "ro"))
        os.makedirs(os.path.join(self.home, "nr"))
        with open(os.path.join(self.home, "nr", "f.txt"), "wb") as f:
            f.write(b"f" * 10)
        with open(os.path.join(self.home, "a.txt"), "wb") as f:
            f.write(b"a" * 50)
        with open(os.path.join(self.base, "banner.txt"), "w") as f:
            f.write("Authorised users only\n")
        self.write(self.BODY.replace("{fmt}", self.FORMAT.replace("{", "{{").replace("}", "}}"))
                   .replace("{top}", self.TOP).replace("{vhost}", self.VHOST),
                   port=self.port, ftp_port=self.ftp_port)
        self.twistd()
        ok = yield e2e.in_thread(e2e.wait_listening, self.port)
        self.assertTrue(ok, self.log_or_output())
        # The readiness probe was a session too (CONNECT, EXIT): forget it.
        yield e2e.wait_records(self.db, b"sftp", 2)
        self.db.command("DEL", b"sftp")

    def sftp(self, batch, password="ftppass", key=None, check=True, extra=()):
        path = os.path.join(self.local, "batch")
        with open(path, "w") as f:
            f.write(batch)
        argv = ["sftp"] + SSH_OPTS + list(extra) + ["-P", str(self.port)]
        if key:
            argv += ["-oIdentitiesOnly=yes", "-oPreferredAuthentications=publickey",
                     "-i", os.path.join(self.local, key), "-b", path]
        else:
            argv = ["sshpass", "-p", password] + argv + [
                "-oBatchMode=no", "-oPreferredAuthentications=password",
                "-oPubkeyAuthentication=no", "-b", path]
        argv.append("ftpuser@127.0.0.1")

        def run():
            return subprocess.run(argv, cwd=self.local, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=120)
        d = e2e.in_thread(run)
        if check:
            d.addCallback(lambda p: self.assertEqual(p.returncode, 0, p.stdout) or p)
        return d

    @defer.inlineCallbacks
    def lines(self, count, key=b"sftp"):
        """The records as "|"-joined FIELDS ("-" for an absent one)."""
        got = yield e2e.wait_records(self.db, key, count, timeout=30)
        out = []
        for r in got:
            d = json.loads(r)
            out.append("|".join("-" if d.get(k) is None else str(d[k]) for k in FIELDS))
        return out


class SFTPTests(_SFTPSite, unittest.TestCase):

    @defer.inlineCallbacks
    def test_password_session(self):
        """Every request of a password session, recorded as ProFTPD's mod_sftp does."""
        with open(os.path.join(self.local, "up.txt"), "wb") as f:
            f.write(b"y" * 300)
        yield self.sftp("ls\nls -l a.txt\nget a.txt\nput up.txt\nmkdir d\nrmdir d\n"
                        "rename up.txt g.txt\nchmod 600 g.txt\nrm g.txt\n-rm missing.txt\n"
                        "-mkdir ro/x\n-put up.txt ro/up.txt\n")
        with open(os.path.join(self.local, "a.txt"), "rb") as f:
            self.assertEqual(f.read(), b"a" * 50)
        self.assertEqual(sorted(os.listdir(self.home)), ["a.txt", "nr", "ro"])
        got = yield self.lines(18)
        self.assertEqual(got, [
            "-|-|-|-|ssh2|-|-|-|-|-|-|-",
            "USER|ftpuser|331|Password required for ftpuser|ssh2|-|-|-|-|-|-|-",
            "USER|ftpuser|331|Password required for ftpuser|ssh2|-|-|-|-|-|ftpuser|-",
            "PASS|(hidden)|230|User ftpuser logged in|ssh2|-|-|-|-|ftpuser|ftpuser|-",
            "MLSD|/|-|-|sftp|%s|-|-|success|ftpuser|ftpuser|-" % got[4].split("|")[5],
            "STAT|/a.txt|-|-|sftp|-|-|-|-|ftpuser|ftpuser|-",
            "RETR|/a.txt|226|Transfer complete|sftp|50|/a.txt|50|success|ftpuser|ftpuser|-",
            "STOR|/up.txt|226|Transfer complete|sftp|300|/up.txt|300|success|ftpuser|ftpuser|-",
            "MKD|/d|-|-|sftp|-|/d|-|-|ftpuser|ftpuser|-",
            "RMD|/d|-|-|sftp|-|/d|-|-|ftpuser|ftpuser|-",
            "RNFR|/up.txt|350|File or directory exists, ready for destination name|sftp|0|"
            "/up.txt|-|-|ftpuser|ftpuser|-",
            "RNTO|/g.txt|250|Rename successful|sftp|0|/g.txt|-|-|ftpuser|ftpuser|-",
            "DELE|/g.txt|250|DELE command successful|sftp|300|/g.txt|-|-|ftpuser|ftpuser|-",
            "DELE|/missing.txt|550|/missing.txt: No such file or directory|sftp|0|"
            "/missing.txt|-|-|ftpuser|ftpuser|-",
            "MKD|/ro/x|550|/ro/x: Permission denied|sftp|-|/ro/x|-|-|ftpuser|ftpuser|-",
            "STAT|/ro/up.txt|2|No such file|sftp|-|-|-|-|ftpuser|ftpuser|-",
            "STOR|/ro/up.txt|451|/ro/up.txt: Operation not permitted|sftp|-|-|-|failed|"
            "ftpuser|ftpuser|-",
            "EXIT|-|-|-|ssh2|-|-|-|-|ftpuser|ftpuser|Quit: disconnected by user",
        ])
        # ProFTPD 1.3.8 writes nothing through RedisLogOnCommand for SSH sessions.
        self.assertEqual(self.db.llen(b"cmd"), 0)
        # The FTP server of the same process still answers.
        ftp = yield e2e.in_thread(e2e.ftp_connect, self.ftp_port)
        yield e2e.in_thread(ftp.quit)

    @defer.inlineCallbacks
    def test_refusals(self):
        """<Limit READ> on STAT, a missing directory, a rename <Limit WRITE> refuses."""
        p = yield self.sftp("-get nr/f.txt\n-ls nothere\n-rmdir nothere\n"
                            "-rename a.txt ro/b.txt\n")
        self.assertIn(b"Permission denied", p.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.local, "f.txt")))
        got = yield self.lines(10)
        self.assertEqual(got[4:], [
            "STAT|/nr/f.txt|3|Permission denied|sftp|-|-|-|-|ftpuser|ftpuser|-",
            "STAT|/nothere|2|No such file|sftp|-|-|-|-|ftpuser|ftpuser|-",
            "RMD|/nothere|-|-|sftp|-|/nothere|-|-|ftpuser|ftpuser|-",
            "RNTO|/ro/b.txt|550|/ro/b.txt: Permission denied|sftp|-|/ro/b.txt|-|-|ftpuser|"
            "ftpuser|-",
            "RNFR|/a.txt|550|/a.txt: Permission denied|sftp|-|-|-|-|ftpuser|ftpuser|-",
            "EXIT|-|-|-|ssh2|-|-|-|-|ftpuser|ftpuser|Quit: disconnected by user"])

    @defer.inlineCallbacks
    def test_setstat_obeys_limit_write(self):
        """SETSTAT/FSETSTAT of a size or times in a <Limit WRITE> DenyAll directory is
        refused like an upload there (it truncated the file); elsewhere it works."""
        keep = os.path.join(self.home, "ro", "keep.txt")
        with open(keep, "wb") as f:
            f.write(b"k" * 1000)
        os.utime(keep, (1_000_000_000, 1_000_000_000))

        def run():
            c = RawSFTP(self.port)
            try:
                size0, times0 = _u32(1) + _u64(0), _u32(8) + _u32(0) + _u32(0)
                out = [c.request(_SETSTAT, _str(b"ro/keep.txt") + size0),
                       c.request(_SETSTAT, _str(b"ro/keep.txt") + times0)]
                kind, handle = c.request(_OPEN, _str(b"ro/keep.txt") + _u32(1) + _u32(0))
                out += [kind,
                        c.request(_FSETSTAT, _str(handle) + _u32(1) + _u64(1)),
                        c.request(_FSETSTAT, _str(handle) + times0),
                        c.request(_CLOSE, _str(handle)),
                        c.request(_SETSTAT, _str(b"a.txt") + times0)]
                return out
            finally:
                c.close()
        out = yield e2e.in_thread(run)
        denied, ok = ("STATUS", 3), ("STATUS", 0)
        self.assertEqual(out, [denied, denied, "HANDLE", denied, denied, ok, ok])
        st = os.stat(keep)
        self.assertEqual((st.st_size, st.st_mtime), (1000, 1_000_000_000))
        self.assertEqual(os.stat(os.path.join(self.home, "a.txt")).st_mtime, 0)

    @defer.inlineCallbacks
    def test_excessive_packet_ends_the_session(self):
        """A packet announced as 2 GiB: the session ends at once, instead of the server
        buffering whatever follows."""
        def run():
            c = RawSFTP(self.port)
            try:
                c.proc.stdin.write(_u32(2 ** 31 - 1) + bytes([_OPEN]) + b"\0" * 65536)
                c.proc.stdin.flush()
            except BrokenPipeError:
                pass
            return c.proc.stdout.read()         # EOF: the server ended the session
        self.assertEqual((yield e2e.in_thread(run)), b"")
        got = yield self.lines(4)
        self.assertEqual(got[-1].split("|")[0], "EXIT")
        self.assertTrue(got[-1].endswith("|Excessive SFTP packet"), got)
        self.assertIn("received excessive SFTP packet (len 2147483647 > max",
                      open(os.path.join(self.base, "sftp.log")).read())

    @defer.inlineCallbacks
    def test_open_files_bounded_per_session(self):
        """1,100 pipelined OPENs: 1,024 handles (MAX_OPEN_FILES), the rest refused; the
        process keeps descriptors for everyone else."""
        from ftpredis.sftp.subsystem import MAX_OPEN_FILES

        def run():
            c = RawSFTP(self.port)
            try:
                n = MAX_OPEN_FILES + 76
                for i in range(n):
                    c._send(bytes([_OPEN]) + _u32(10000 + i) + _str(b"a.txt") + _u32(1)
                            + _u32(0))
                kinds, handle = [], None
                for _ in range(n):
                    reply = c._receive()
                    kinds.append(reply[0])
                    if reply[0] == 102:
                        handle = reply[9:9 + struct.unpack(">I", reply[5:9])[0]]
                closed = c.request(_CLOSE, _str(handle))
                again = c.request(_OPEN, _str(b"a.txt") + _u32(1) + _u32(0))[0]
                ftp = e2e.ftp_connect(self.ftp_port)
                ftp.quit()
                return kinds.count(102), kinds.count(101), closed, again
            finally:
                c.close()
        got = yield e2e.in_thread(run)
        self.assertEqual(got, (MAX_OPEN_FILES, 76, ("STATUS", 0), "HANDLE"))

    @defer.inlineCallbacks
    def test_bad_password(self):
        # One attempt: sshpass may answer a second prompt or not, depending on timing.
        p = yield self.sftp("ls\n", password="wrong", check=False,
                            extra=["-oNumberOfPasswordPrompts=1"])
        self.assertNotEqual(p.returncode, 0)
        got = yield self.lines(5)
        self.assertEqual(got[1:], [
            "USER|ftpuser|331|Password required for ftpuser|ssh2|-|-|-|-|-|-|-",
            "USER|ftpuser|331|Password required for ftpuser|ssh2|-|-|-|-|-|ftpuser|-",
            "PASS|(hidden)|530|Login incorrect.|ssh2|-|-|-|-|-|ftpuser|-",
            "EXIT|-|-|-|ssh2|-|-|-|-|-|-|Read EOF from client"])

    @defer.inlineCallbacks
    def test_log_and_banner(self):
        """SFTPLog's lines for a session; SFTPDisplayBanner shown before the login."""
        # ssh takes the first value of an option: LogLevel before SSH_OPTS' ERROR.
        argv = ["sshpass", "-p", "ftppass", "ssh", "-oLogLevel=INFO"] + SSH_OPTS + [
            "-oPubkeyAuthentication=no", "-p", str(self.port), "-s",
            "ftpuser@127.0.0.1", "sftp"]
        p = yield e2e.in_thread(lambda: subprocess.run(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, timeout=60))
        self.assertIn(b"Authorised users only", p.stderr)
        yield self.lines(5)
        with open(os.path.join(self.base, "sftp.log")) as f:
            text = f.read()
        for expected in ("client (127.0.0.1:", "handling connection from SSH2 client "
                         "'OpenSSH_", " + Session key exchange: ",
                         "user 'ftpuser' authenticated via 'password' method",
                         "disconnecting client ("):
            self.assertIn(expected, text)
        self.assertNotIn("ftppass", text)
        # twistd's log has none of twisted.conch's per-session chatter.
        self.assertNotIn("Got remote error", self.logged())
        self.assertNotIn("trying auth", self.logged())
        self.assertNotIn("Unhandled error", self.logged())

    @defer.inlineCallbacks
    def test_keys(self):
        """An OpenSSH-format key and an RFC 4716 one from SFTPAuthorizedUserKeys."""
        for key in ("id_ed", "id_rsa"):
            self.db.command("DEL", b"sftp")
            yield self.sftp("ls\n", key=key)
            got = yield self.lines(8)
            self.assertEqual([line.split("|")[0] + "|" + line.split("|")[2]
                              for line in got],
                             ["-|-", "USER|331", "USER|331", "PASS|530", "USER|331",
                              "PASS|230", "MLSD|-", "EXIT|-"])
        # A key that is not listed is refused.
        _keygen(os.path.join(self.local, "other"), "ed25519")
        p = yield self.sftp("ls\n", key="other", check=False)
        self.assertNotEqual(p.returncode, 0)

    @defer.inlineCallbacks
    def test_resume(self):
        """reput and reget: APPE from the server's size, RETR from the client's."""
        data = bytes(range(256)) * 400
        with open(os.path.join(self.local, "big.bin"), "wb") as f:
            f.write(data)
        with open(os.path.join(self.home, "big.bin"), "wb") as f:
            f.write(data[:40000])
        with open(os.path.join(self.local, "dl.bin"), "wb") as f:
            f.write(b"a" * 20)
        yield self.sftp("reput big.bin\nreget a.txt dl.bin\n")
        with open(os.path.join(self.home, "big.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        with open(os.path.join(self.local, "dl.bin"), "rb") as f:
            self.assertEqual(f.read(), b"a" * 50)
        got = yield self.lines(9)
        self.assertIn("APPE|/big.bin|226|Transfer complete|sftp|%d|/big.bin|%d|success|"
                      "ftpuser|ftpuser|-" % (len(data) - 40000, len(data)), got)
        self.assertIn("RETR|/a.txt|226|Transfer complete|sftp|30|/a.txt|50|success|"
                      "ftpuser|ftpuser|-", got)

    @defer.inlineCallbacks
    def test_large_files(self):
        """8 MiB up and down: the writes (done side by side in the disk pool) are
        answered in order, or OpenSSH would cut the upload short."""
        data = os.urandom(8 * 1024 * 1024)
        with open(os.path.join(self.local, "big.bin"), "wb") as f:
            f.write(data)
        yield self.sftp("put big.bin\nget big.bin back.bin\n", key="id_ed")
        with open(os.path.join(self.home, "big.bin"), "rb") as f:
            self.assertTrue(f.read() == data, "the upload differs")
        with open(os.path.join(self.local, "back.bin"), "rb") as f:
            self.assertTrue(f.read() == data, "the download differs")

    @defer.inlineCallbacks
    def test_interrupted_download(self):
        """A download cut short by the client's death, then finished with reget: EXIT,
        then the failed RETR, as ProFTPD records them (doc/sftp-records.rst)."""
        data = os.urandom(32 * 1024 * 1024)
        with open(os.path.join(self.home, "big.bin"), "wb") as f:
            f.write(data)
        target = os.path.join(self.local, "big.bin")
        with open(os.path.join(self.local, "cut"), "w") as f:
            f.write("get big.bin\n")
        # A slow reader (-l, Kbit/s), killed once it holds some of the file.
        p = subprocess.Popen(["sftp"] + SSH_OPTS + [
            "-oIdentitiesOnly=yes", "-i", os.path.join(self.local, "id_ed"), "-l", "800",
            "-P", str(self.port), "-b", "cut", "ftpuser@127.0.0.1"], cwd=self.local,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.addCleanup(lambda: p.poll() is None and os.killpg(p.pid, signal.SIGKILL))
        yield e2e.wait_for(lambda: os.path.exists(target)
                           and os.path.getsize(target) >= 1024 * 1024, timeout=60)
        os.killpg(p.pid, signal.SIGKILL)
        yield e2e.in_thread(p.wait)
        got = yield self.lines(9)
        exit_, retr = got[-2].split("|"), got[-1].split("|")
        self.assertEqual(exit_[0] + exit_[4] + exit_[6], "EXITsftp/big.bin")
        self.assertEqual(retr[:5] + retr[8:9], [
            "RETR", "/big.bin", "451", "/big.bin: Connection reset by peer", "sftp",
            "failed"])
        self.assertEqual(retr[11], exit_[11])         # the session's end, on both
        yield self.sftp("reget big.bin\n", key="id_ed")
        with open(target, "rb") as f:
            self.assertTrue(f.read() == data, "reget did not complete the file")

    @defer.inlineCallbacks
    def test_scp(self):
        """scp (over SFTP, OpenSSH's default) both ways, with a key."""
        with open(os.path.join(self.local, "s.bin"), "wb") as f:
            f.write(b"s" * 70000)
        base = ["scp"] + SSH_OPTS + ["-oIdentitiesOnly=yes", "-i",
                                     os.path.join(self.local, "id_ed"), "-P", str(self.port)]

        def run(*args):
            p = subprocess.run(base + list(args), cwd=self.local, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout)
        yield e2e.in_thread(run, "s.bin", "ftpuser@127.0.0.1:s.bin")
        yield e2e.in_thread(run, "ftpuser@127.0.0.1:a.txt", "back.txt")
        with open(os.path.join(self.home, "s.bin"), "rb") as f:
            self.assertEqual(f.read(), b"s" * 70000)
        with open(os.path.join(self.local, "back.txt"), "rb") as f:
            self.assertEqual(f.read(), b"a" * 50)

    @defer.inlineCallbacks
    def test_lftp(self):
        """lftp's sftp:// (it runs ssh itself and answers the password prompt)."""
        with open(os.path.join(self.local, "l.txt"), "wb") as f:
            f.write(b"l" * 1000)
        script = ('set sftp:connect-program "ssh -a -x %s"; set net:max-retries 1; '
                  'open -u ftpuser,ftppass -p %d sftp://127.0.0.1; put l.txt; get a.txt -o '
                  'lget.txt; ls; bye' % (" ".join(SSH_OPTS + ["-oPubkeyAuthentication=no"]),
                                         self.port))

        def run():
            return subprocess.run(["lftp", "-c", script], cwd=self.local,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=120)
        p = yield e2e.in_thread(run)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn(b"l.txt", p.stdout)
        with open(os.path.join(self.home, "l.txt"), "rb") as f:
            self.assertEqual(f.read(), b"l" * 1000)
        with open(os.path.join(self.local, "lget.txt"), "rb") as f:
            self.assertEqual(f.read(), b"a" * 50)


    @defer.inlineCallbacks
    def test_end_of_file_status(self):
        """A READ at the end of a file and a READDIR at the end of a listing are
        answered 1 "End of file", mod_sftp's text (contrib/mod_sftp/fxp.c,
        fxp_strerror): they said "read failed" and "scan directory failed".  lftp's
        debug output shows each status it gets."""
        script = ('set sftp:connect-program "ssh -a -x %s"; set net:max-retries 1; '
                  'open -u ftpuser,ftppass -p %d sftp://127.0.0.1; get a.txt -o '
                  'lget.txt; cls; bye' % (" ".join(SSH_OPTS + ["-oPubkeyAuthentication=no"]),
                                          self.port))

        def run():
            return subprocess.run(["lftp", "-d", "-c", script], cwd=self.local,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=120)
        p = yield e2e.in_thread(run)
        self.assertEqual(p.returncode, 0, p.stdout)
        with open(os.path.join(self.local, "lget.txt"), "rb") as f:
            self.assertEqual(f.read(), b"a" * 50)
        told = [line for line in p.stdout.decode("utf-8", "replace").splitlines()
                if line.startswith("---- status code=1")]
        # At least one READ and one READDIR reached the end.
        self.assertGreaterEqual(len(told), 2, p.stdout)
        self.assertEqual(set(told), {"---- status code=1(EOF), message=End of file"})


class SFTPFileModifiedTests(_SFTPSite, unittest.TestCase):
    FORMAT = "%m %F %s %{file-modified}"

    @defer.inlineCallbacks
    def test_overwrite_is_a_modified_file(self):
        """%{file-modified} of an upload as mod_sftp 1.3.8 writes it: true when the file
        existed when it was opened, as for a put over an existing file (it was false
        for every STOR, and true for every APPE, a new file's too)."""
        with open(os.path.join(self.local, "up.txt"), "wb") as f:
            f.write(b"u" * 10)
        yield self.sftp("put up.txt n.txt\nput up.txt n.txt\n")
        yield e2e.wait_for(lambda: any(json.loads(r).get("command") == "EXIT"
                                       for r in self.db.lrange(b"sftp")), 30)
        got = self.db.lrange(b"sftp")
        stors = [(d["transfer_path"], d["file_modified"]) for d in map(json.loads, got)
                 if d.get("command") == "STOR"]
        self.assertEqual(stors, [("/n.txt", False), ("/n.txt", True)])

    @defer.inlineCallbacks
    def test_upload_cut_short_is_not_modified(self):
        """An upload over an existing file whose session ends with it open: logged
        after EXIT, 451, and not modified, as 1.3.8 logs it (fxp_handle_abort sets no
        file-modified note; measured with the sftp_truncate scenario)."""
        from tests.support.sftp_scenarios import _NOATTRS, _WRITE, OPEN, WRITE, RawClient

        def upload():
            c = RawClient(self.port)
            c.send(bytes([OPEN]) + _u32(1) + _str(b"/a.txt") + _u32(_WRITE) + _NOATTRS)
            reply = c.receive()
            handle = reply[9:9 + struct.unpack(">I", reply[5:9])[0]]
            c.send(bytes([WRITE]) + _u32(2) + _str(handle) + _u64(0) + _str(b"xyz"))
            c.receive()
            c.close()
        yield e2e.in_thread(upload)
        yield e2e.wait_for(lambda: any(json.loads(r).get("response_code") == 451
                                       for r in self.db.lrange(b"sftp")), 30)
        cut = [(d["command"], d["transfer_path"], d["file_modified"])
               for d in map(json.loads, self.db.lrange(b"sftp"))
               if d.get("response_code") == 451]
        self.assertEqual(cut, [("STOR", "/a.txt", False)])


class SFTPDirectoryUmaskTests(_SFTPSite, unittest.TestCase):
    """A <Directory>'s Umask applies to SFTP uploads and MKDIR, as to FTP's STOR and MKD."""

    VHOST = """\
  <Directory {base}/home/ftpuser/private>
    Umask 077
  </Directory>
"""

    @defer.inlineCallbacks
    def test_umask_of_the_directory(self):
        os.makedirs(os.path.join(self.home, "private"))
        up = os.path.join(self.local, "up.txt")
        with open(up, "wb") as f:
            f.write(b"u" * 10)
        os.chmod(up, 0o644)
        yield self.sftp("put up.txt private/up.txt\nmkdir private/d\n"
                        "put up.txt open.txt\nmkdir d\n")

        def mode(*parts):
            return oct(os.stat(os.path.join(self.home, *parts)).st_mode & 0o777)
        self.assertEqual([mode("private", "up.txt"), mode("private", "d"),
                          mode("open.txt"), mode("d")],
                         [oct(0o600), oct(0o700), oct(0o644), oct(0o755)])


class SFTPBanTests(_SFTPSite, unittest.TestCase):
    """mod_ban applies to SFTP logins: MaxLoginAttempts bans the host, whose next SSH
    connection is refused before the key exchange."""

    # The main server speaks SFTP here: ftpredis takes BanTable (server config only) as
    # the main server's, so a <VirtualHost> cannot turn BanEngine on.
    BODY = r"""
Port {port}
DefaultAddress 127.0.0.1
LogFormat sftp "{fmt}"
RedisLogOnEvent ALL sftp
SFTPEngine on
SFTPHostKey {base}/hostkey
DefaultRoot ~
MaxLoginAttempts 1
BanEngine on
BanTable {base}/ban.tab
BanLog {base}/ban.log
BanOnEvent MaxLoginAttempts 1/00:10:00 00:05:00
"""

    @defer.inlineCallbacks
    def test_max_login_attempts_bans(self):
        p = yield self.sftp("ls\n", password="wrong", check=False,
                            extra=["-oNumberOfPasswordPrompts=1"])
        self.assertNotEqual(p.returncode, 0)
        got = yield self.lines(5)
        # The ban that MaxLoginAttempts triggered ends the session (mod_ban's reason).
        self.assertEqual(got[-1], "EXIT|-|-|-|ssh2|-|-|-|-|-|-|Banned")
        self.db.command("DEL", b"sftp")
        p = yield self.sftp("ls\n", check=False)       # the right password, too late
        self.assertNotEqual(p.returncode, 0)
        got = yield self.lines(2)
        self.assertEqual([line.split("|")[0] for line in got], ["-", "EXIT"])
        with open(os.path.join(self.base, "ban.log")) as f:
            self.assertIn("denied due to host ban", f.read())


class SFTPMaxClientsTests(_SFTPSite, unittest.TestCase):
    """MaxClients: a login beyond it is recorded as ProFTPD's mod_sftp records it (PASS
    230, then the session ends "Configured policy: Denied by MaxClients")."""

    DIRECTIVE = "MaxClients"
    VHOST = "  MaxClients 1\n"

    @defer.inlineCallbacks
    def test_second_login_refused(self):
        held = subprocess.Popen(
            ["sshpass", "-p", "ftppass", "ssh"] + SSH_OPTS + [
                "-oPubkeyAuthentication=no", "-p", str(self.port), "-s",
                "ftpuser@127.0.0.1", "sftp"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: held.poll() is None and held.kill() or held.wait())
        yield self.lines(4)             # held: CONNECT, USER, USER, PASS 230
        p = yield self.sftp("ls\n", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"Maximum connections for host/user reached", p.stdout)
        got = yield self.lines(9)
        self.assertEqual(got[4:], [
            "-|-|-|-|ssh2|-|-|-|-|-|-|-",
            "USER|ftpuser|331|Password required for ftpuser|ssh2|-|-|-|-|-|-|-",
            "USER|ftpuser|331|Password required for ftpuser|ssh2|-|-|-|-|-|ftpuser|-",
            "PASS|(hidden)|230|User ftpuser logged in|ssh2|-|-|-|-|ftpuser|ftpuser|-",
            "EXIT|-|-|-|ssh2|-|-|-|-|ftpuser|-|Configured policy: Denied by "
            + self.DIRECTIVE])
        held.stdin.close()
        yield e2e.in_thread(held.wait, 30)
        got = yield self.lines(10)
        self.assertEqual(got[-1], "EXIT|-|-|-|ssh2|-|-|-|-|ftpuser|ftpuser|"
                                  "Quit: disconnected by user")


class SFTPMaxClientsPerHostTests(SFTPMaxClientsTests):
    DIRECTIVE = "MaxClientsPerHost"
    VHOST = "  MaxClientsPerHost 1\n"


class SFTPMaxClientsPerUserTests(SFTPMaxClientsTests):
    DIRECTIVE = "MaxClientsPerUser"
    VHOST = "  MaxClientsPerUser 1\n"


class SFTPMaxConnectionsPerHostTests(_SFTPSite, unittest.TestCase):
    """MaxConnectionsPerHost: the connection beyond it is closed before the SSH
    identification."""

    VHOST = "  MaxConnectionsPerHost 1\n"

    @defer.inlineCallbacks
    def test_second_connection_refused(self):
        held = subprocess.Popen(
            ["sshpass", "-p", "ftppass", "ssh"] + SSH_OPTS + [
                "-oPubkeyAuthentication=no", "-p", str(self.port), "-s",
                "ftpuser@127.0.0.1", "sftp"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: held.poll() is None and held.kill() or held.wait())
        yield self.lines(4)
        p = yield self.sftp("ls\n", check=False)
        self.assertNotEqual(p.returncode, 0)
        got = yield self.lines(6)
        self.assertEqual(got[4:], [
            "-|-|-|-|ssh2|-|-|-|-|-|-|-",
            "EXIT|-|-|-|ssh2|-|-|-|-|-|-|Configured policy: Denied by MaxConnectionsPerHost"])


class SFTPTimeoutIdleTests(_SFTPSite, unittest.TestCase):
    """TimeoutIdle ends an idle SSH session, recorded with the subsystem still running."""

    VHOST = "  TimeoutIdle 2\n"

    @defer.inlineCallbacks
    def test_idle_session_ended(self):
        held = subprocess.Popen(
            ["sshpass", "-p", "ftppass", "ssh"] + SSH_OPTS + [
                "-oPubkeyAuthentication=no", "-p", str(self.port), "-s",
                "ftpuser@127.0.0.1", "sftp"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: held.poll() is None and held.kill() or held.wait())
        # SFTP's INIT (version 3); then nothing more.
        held.stdin.write(b"\x00\x00\x00\x05\x01\x00\x00\x00\x03")
        held.stdin.flush()
        got = yield self.lines(5)
        self.assertEqual(got[-1], "EXIT|-|-|-|sftp|-|-|-|-|ftpuser|ftpuser|"
                                  "Timeout exceeded: TimeoutIdle")
        yield e2e.in_thread(held.wait, 30)


class SFTPAuthChainTests(_SFTPSite, unittest.TestCase):
    """SFTPAuthMethods publickey+password: a key alone or a password alone is not
    enough, both log in."""

    VHOST = "  SFTPAuthMethods publickey+password\n"

    @defer.inlineCallbacks
    def test_chain(self):
        p = yield self.sftp("ls\n", key="id_ed", check=False)
        self.assertNotEqual(p.returncode, 0)
        p = yield self.sftp("ls\n", check=False, extra=["-oNumberOfPasswordPrompts=1"])
        self.assertNotEqual(p.returncode, 0)
        argv = ["sshpass", "-p", "ftppass", "sftp"] + SSH_OPTS + [
            "-oBatchMode=no", "-oIdentitiesOnly=yes", "-i",
            os.path.join(self.local, "id_ed"), "-P", str(self.port), "-b", "-",
            "ftpuser@127.0.0.1"]
        p = yield e2e.in_thread(lambda: subprocess.run(
            argv, input=b"ls\n", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=120))
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn(b"a.txt", p.stdout)


class SFTPTimeoutLoginTests(_SFTPSite, unittest.TestCase):
    """TimeoutLogin counts from the connection: a client that never even starts the key
    exchange is disconnected."""

    VHOST = "  TimeoutLogin 2\n"

    @defer.inlineCallbacks
    def test_silent_client(self):
        def silent():
            with socket.create_connection(("127.0.0.1", self.port), timeout=60) as s:
                got = b""
                while True:
                    data = s.recv(65536)
                    if not data:
                        return got
                    got += data
        got = yield e2e.in_thread(silent)
        self.assertTrue(got.startswith(b"SSH-2.0-example ready\r\n"), got[:100])
        records = yield self.lines(2)
        self.assertEqual(records, ["-|-|-|-|ssh2|-|-|-|-|-|-|-",
                                   "EXIT|-|-|-|ssh2|-|-|-|-|-|-|Timeout exceeded: TimeoutLogin"])


class SFTPConnectDeniedTests(_SFTPSite, unittest.TestCase):
    """<Limit LOGIN> refusing a client's address: its SSH connection is closed before
    the identification string and leaves no record, as ProFTPD's daemon refuses it
    before mod_sftp sees it; other addresses are served."""

    VHOST = "  <Limit LOGIN>\n    Deny from 127.0.0.9\n  </Limit>\n"

    @defer.inlineCallbacks
    def test_denied_address(self):
        def first_bytes():
            s = socket.socket()
            s.settimeout(10)
            s.bind(("127.0.0.9", 0))
            s.connect(("127.0.0.1", self.port))
            try:
                return s.recv(100)
            finally:
                s.close()
        got = yield e2e.in_thread(first_bytes)
        self.assertEqual(got, b"")
        p = yield self.sftp("ls\n", check=False, extra=["-oBindAddress=127.0.0.9"])
        self.assertNotEqual(p.returncode, 0)
        yield self.sftp("pwd\n")
        lines = yield self.lines(5)
        self.assertEqual(lines[0], "-|-|-|-|ssh2|-|-|-|-|-|-|-")
        self.assertTrue(lines[-1].startswith("EXIT|"), lines)
        self.assertEqual(self.db.llen(b"sftp"), 5)
        self.assertTrue((yield self.wait_logged(
            "Connection from 127.0.0.9 [127.0.0.9] denied")), self.logged())
