"""``twistd ftpredis`` as an admin runs it: --check, bad config files, the shipped example
config end to end in a real twistd process, SIGHUP and SIGTERM."""

import json
import os
import signal

from twisted.internet import defer
from twisted.trial import unittest

from tests.support import e2e
from tests.support.redisserver import RedisServerMixin
from tests.support.sites import shipped_site


class CheckTests(unittest.TestCase):
    def run_check(self, conf, *extra):
        proc = e2e.twistd(["-n", "--pidfile=", "ftpredis", "--config", conf, "--check"] + list(extra))
        out, err = proc.communicate(timeout=60)
        return proc.returncode, out.decode(), err.decode()

    def test_shipped_example_is_valid(self):
        base = os.path.abspath(self.mktemp())
        conf = shipped_site(base, 2121, 6379)
        code, out, err = self.run_check(conf)
        self.assertEqual(code, 0, err)
        self.assertEqual(len(out.strip().splitlines()[-1:]), 1)
        self.assertNotIn("Traceback", out + err)

    def test_errors_name_file_and_line(self):
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        conf = os.path.join(base, "bad.conf")
        with open(conf, "w") as f:
            f.write("ServerName x\nBogusDirective 1\nPort notaport\nAlsoBogus\n")
        code, out, err = self.run_check(conf)
        self.assertEqual(code, 1)
        self.assertIn("unknown configuration directive 'BogusDirective' on line 2 of '%s'" % conf, err)
        self.assertIn("unknown configuration directive 'AlsoBogus' on line 4 of '%s'" % conf, err)
        self.assertIn("line 3 of '%s'" % conf, err)
        self.assertNotIn("Traceback", out + err)

    def test_missing_config_is_one_line(self):
        conf = os.path.abspath(self.mktemp())
        proc = e2e.twistd(["-n", "--pidfile=", "ftpredis", "--config", conf])
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 1)
        lines = err.decode().strip().splitlines()
        self.assertEqual(len(lines), 1, err)
        self.assertIn(conf, lines[0])
        self.assertNotIn("Traceback", err.decode())

    def test_port_in_use_is_one_line(self):
        import socket
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        self.addCleanup(busy.close)
        port = busy.getsockname()[1]
        base = os.path.abspath(self.mktemp())
        conf = shipped_site(base, port, 6379)
        proc = e2e.twistd(["-n", "--pidfile=", "ftpredis", "--config", conf])
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(err.decode().strip().splitlines(),
                         ["ftpredis: cannot listen on 127.0.0.1:%d: Address already in use"
                          % port])
        self.assertNotIn(b"Traceback", out + err)

    def test_unpermitted_passwd_is_explained(self):
        """A fresh git checkout leaves ftpd.passwd 0644: the message says what to do."""
        base = os.path.abspath(self.mktemp())
        conf = shipped_site(base, 2121, 6379)
        os.chmod(os.path.join(base, "etc", "ftpd.passwd"), 0o644)
        code, out, err = self.run_check(conf)
        self.assertEqual(code, 1)
        self.assertIn("ftpd.passwd", err)
        self.assertIn("chmod", err)


class VersionTests(unittest.TestCase):

    def test_version_names_ours_and_what_we_run_on(self):
        """``twistd ftpredis --version``: ftpredis's version with Twisted's, txredisapi's
        and Python's, one per line, without reading any config."""
        import platform
        from importlib.metadata import version

        import twisted

        from ftpredis import __version__
        proc = e2e.twistd(["ftpredis", "--config", os.path.abspath(self.mktemp()),
                           "--version"])
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, err)
        lines = out.decode().splitlines()
        self.assertEqual(lines[:3], ["ftpredis %s" % (__version__,),
                                     "Twisted %s" % (twisted.__version__,),
                                     "txredisapi %s" % (version("txredisapi"),)])
        self.assertTrue(lines[3].startswith("Python %s (" % (platform.python_version(),)),
                        lines)
        self.assertEqual(len(lines), 4)
        self.assertEqual(err, b"")


class ShippedExampleTests(RedisServerMixin, unittest.TestCase):
    """The shipped etc/ftpd.conf, in a real `twistd -n ftpredis` process."""

    def setUp(self):
        super().setUp()
        self.base = os.path.abspath(self.mktemp())
        self.port = e2e.free_port()
        self.conf = shipped_site(self.base, self.port, self.redis.port)
        self.proc = e2e.twistd(["-n", "--pidfile=", "ftpredis", "--config", self.conf],
                               cwd=self.base)
        self.addCleanup(self._stop)
        self.assertTrue(e2e.wait_listening(self.port), self._output())

    def _stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()

    def _output(self):
        if self.proc.poll() is None:
            return "(still running)"
        out, err = self.proc.communicate()
        return (out + err).decode()

    @defer.inlineCallbacks
    def test_session_logged_and_clean_shutdown(self):
        def session():
            ftp = e2e.ftp_connect(self.port, "ftpuser", "ftppass")
            ftp.storbinary("STOR hello.txt", e2e.BytesIO(b"hello\n"))
            ftp.quit()
            # An idle session still open at shutdown gets its DISCONNECT record too.
            return e2e.ftp_connect(self.port, "ftpuser", "ftppass")

        idle = yield e2e.in_thread(session)
        db = self.redis.client()
        records = yield e2e.wait_records(db, b"file-transfers", 1)
        self.assertEqual([e2e.normalise(r) for r in records], [
            b'{"remote_dns":"127.0.0.1","user":"ftpuser","local_time":"T",'
            b'"raw_command":"STOR hello.txt","response_code":226,"bytes_sent":6}'])
        self.proc.send_signal(signal.SIGTERM)
        code = yield e2e.in_thread(self.proc.wait, 30)
        # twistd re-raises the signal it stopped on, so the status is "killed by SIGTERM".
        self.assertIn(code, (0, -signal.SIGTERM), self._output())
        idle.close()
        sessions = [json.loads(r) for r in db.lrange(b"sessions")]
        # Three sessions: setUp's probe that the port is open, the STOR session, the idle
        # one that the shutdown ended; each has its start and its end.
        self.assertEqual(sorted(tuple(s)[0] for s in sessions),
                         ["connecting"] * 3 + ["disconnecting"] * 3)
        self.assertEqual(tuple(sessions[-1])[0], "disconnecting")

    @defer.inlineCallbacks
    def test_sighup_with_broken_config_keeps_running(self):
        with open(self.conf, "a") as f:
            f.write("\nNoSuchDirective on\n")
        self.proc.send_signal(signal.SIGHUP)

        def still_serving():
            ftp = e2e.ftp_connect(self.port, "ftpuser", "ftppass")
            ftp.voidcmd("NOOP")
            ftp.quit()
            return True

        yield e2e.wait_for(lambda: True, timeout=0.5)
        self.assertIsNone(self.proc.poll(), self._output())
        self.assertTrue((yield e2e.in_thread(still_serving)))
