# -*- test-case-name: tests.test_sftp_bulk -*-
"""SFTP bulk transfers end to end, on the paths bench/sftp_bench.py measures: the 2 MiB
channel window a client gets without SFTPClientMatch, uploads whose writes are batched
into disk jobs and answered in order, large files both ways with OpenSSH's sftp and
lftp's sftp://, and an upload cut short by the client's death, then finished with
reput."""

import hashlib
import json
import os
import signal
import subprocess

from twisted.internet import defer
from twisted.trial import unittest

from tests import test_sftp
from tests.support import e2e

MiB = 1024 * 1024


def _digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    return h.hexdigest()


class SFTPBulkTests(test_sftp._SFTPSite, unittest.TestCase):
    """No SFTPClientMatch: OpenSSH's sftp gets the server's own window and packet size."""

    BODY = test_sftp.BODY.replace(
        '  SFTPClientMatch "^OpenSSH" channelWindowSize 256KB channelPacketSize 16KB\n', "")

    def setUp(self):
        assert self.BODY != test_sftp.BODY, "tests/test_sftp.py's SFTPClientMatch moved"
        return super().setUp()

    def _file(self, name, size):
        path = os.path.join(self.local, name)
        with open(path, "wb") as f:
            for _ in range(size // MiB):
                f.write(os.urandom(MiB))
        return path

    @defer.inlineCallbacks
    def _records(self, count):
        got = yield e2e.wait_records(self.db, b"sftp", count, timeout=60)
        return [json.loads(r) for r in got]

    @defer.inlineCallbacks
    def test_window(self):
        """The channel offers OpenSSH's client 2 MiB of window, packets of 32 KiB."""
        p = yield self.sftp("bye\n", key="id_ed", extra=["-vv"])
        self.assertIn(b"open confirm rwindow 2097152 rmax 32768", p.stdout)

    @defer.inlineCallbacks
    def test_openssh_large(self):
        """48 MiB up and down with OpenSSH's sftp (64 requests in flight): the same
        bytes back, and STOR and RETR recorded with the whole size."""
        size = 48 * MiB
        src = self._file("big.bin", size)
        yield self.sftp("put big.bin\nget big.bin back.bin\n", key="id_ed")
        self.assertEqual(_digest(os.path.join(self.home, "big.bin")), _digest(src))
        self.assertEqual(_digest(os.path.join(self.local, "back.bin")), _digest(src))
        # CONNECT, the key login's five USER and PASS records, STOR, STAT, RETR, EXIT.
        got = yield self._records(10)
        done = [(r["command"], r["bytes_sent"], r["file_size"], r["transfer_status"])
                for r in got if r.get("command") in ("STOR", "RETR")]
        self.assertEqual(done, [("STOR", size, size, "success"),
                                ("RETR", size, size, "success")])

    @defer.inlineCallbacks
    def test_lftp_large(self):
        """24 MiB up and down with lftp's sftp:// (its own requests in flight)."""
        src = self._file("l.bin", 24 * MiB)
        script = ('set sftp:connect-program "ssh -a -x %s"; set net:max-retries 1; '
                  'open -u ftpuser,ftppass -p %d sftp://127.0.0.1; put l.bin; '
                  'get l.bin -o lback.bin; bye'
                  % (" ".join(test_sftp.SSH_OPTS + ["-oPubkeyAuthentication=no"]),
                     self.port))

        def run():
            return subprocess.run(["lftp", "-c", script], cwd=self.local,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=180)
        p = yield e2e.in_thread(run)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(_digest(os.path.join(self.home, "l.bin")), _digest(src))
        self.assertEqual(_digest(os.path.join(self.local, "lback.bin")), _digest(src))

    @defer.inlineCallbacks
    def test_interrupted_upload(self):
        """An upload cut short by the client's death: what the server holds is the
        start of the file, as long as STOR's failed record says, and reput finishes
        it."""
        src = self._file("up.bin", 32 * MiB)
        with open(src, "rb") as f:
            data = f.read()
        stored = os.path.join(self.home, "up.bin")
        with open(os.path.join(self.local, "cut"), "w") as f:
            f.write("put up.bin\n")
        # A slow writer (-l, Kbit/s), killed once the server holds some of the file.
        p = subprocess.Popen(["sftp"] + test_sftp.SSH_OPTS + [
            "-oIdentitiesOnly=yes", "-i", os.path.join(self.local, "id_ed"), "-l", "8000",
            "-P", str(self.port), "-b", "cut", "ftpuser@127.0.0.1"], cwd=self.local,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.addCleanup(lambda: p.poll() is None and os.killpg(p.pid, signal.SIGKILL))
        yield e2e.wait_for(lambda: os.path.exists(stored)
                           and os.path.getsize(stored) >= 2 * MiB, timeout=60)
        os.killpg(p.pid, signal.SIGKILL)
        yield e2e.in_thread(p.wait)
        # ... EXIT, then the transfer the session had open (doc/sftp-records.rst).
        got = yield self._records(8)
        self.assertEqual(got[-2].get("command"), "EXIT")
        stor = got[-1]
        self.assertEqual((stor["command"], stor["transfer_status"]), ("STOR", "failed"))
        held = os.path.getsize(stored)
        self.assertEqual(stor["bytes_sent"], held)
        self.assertLess(held, len(data))
        with open(stored, "rb") as f:
            self.assertTrue(f.read() == data[:held], "the cut upload is not a prefix")
        yield self.sftp("reput up.bin\n", key="id_ed")
        self.assertEqual(_digest(stored), _digest(src))
