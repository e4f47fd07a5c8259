# -*- test-case-name: tests.test_spool -*-
"""RedisSpool (ftpredis.redis.spool) against real redis-servers and real twistd processes:
a SIGKILL of ftpredis while Redis is down loses nothing that was replied to, a replay
after a crash applies nothing twice, a torn tail is skipped and reported, the size bound
refuses without blocking, the directory is 0700."""

import collections
import os
import signal
import stat
import subprocess
import sys

from twisted.internet import defer, threads
from twisted.trial import unittest

from ftpredis.config.model import RedisTarget
from ftpredis.redis import spool as _spool
from ftpredis.redis.redislog import RedisLog
from ftpredis.redis.sink import RedisSink
from tests.support import e2e
from tests.support.redisserver import RedisServerMixin
from tests.support.twistdrun import TwistdMixin
from tests.support.waiting import waitFor


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = """
import os, signal
from twisted.internet import reactor, task
from ftpredis.config.model import RedisTarget
from ftpredis.redis import spool
from ftpredis.redis.sink import RedisSink
target = RedisTarget(host="127.0.0.1", port=%(port)d, spool_dir=%(directory)r,
                     connect_timeout_ms=200)
sink = RedisSink(target, reactor=reactor)
assert spool.attach(sink, target) is not None
sink.startService()
for i in range(%(sent)d):
    sink.push(b"k", b"%%d" %% i)

def check():
    if sink.sent >= %(sent)d:
        for i in range(%(sent)d, %(sent)d + %(unsent)d):
            sink.push(b"other", b"%%d" %% i)
        os.kill(os.getpid(), signal.SIGKILL)
task.LoopingCall(check).start(0.01)
reactor.run()
"""


class SpoolSinkTests(RedisServerMixin, unittest.TestCase):

    def spoolDir(self):
        return os.path.join(os.path.abspath(self.mktemp()), "spool")

    def makeSink(self, directory, port=None, **kw):
        target = RedisTarget(host="127.0.0.1", port=port or self.redis.port,
                             spool_dir=directory, **kw)
        logdir = os.path.abspath(self.mktemp())
        os.makedirs(logdir)
        self.log = RedisLog(os.path.join(logdir, "redis.log"))
        self.addCleanup(self.log.close)
        sink = RedisSink(target, [self.log])
        self.messages = []
        sink.report = self.messages.append
        spool = _spool.attach(sink, target)
        self.assertIsNotNone(spool, self.messages)
        sink.startService()
        self.addCleanup(lambda: sink.stopService() if sink.running else None)
        return sink

    def crashingChild(self, directory, port, sent, unsent):
        """A process with a spooled sink: ``sent`` records to ``k`` acknowledged by
        Redis (when ``sent``), then ``unsent`` to ``other``, then SIGKILL at once."""
        script = CHILD % dict(directory=directory, port=port, sent=sent, unsent=unsent)
        proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, timeout=60,
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, -signal.SIGKILL, proc.stderr)

    def restarted(self, directory):
        target = RedisTarget(host="127.0.0.1", port=self.redis.port, spool_dir=directory)
        sink = RedisSink(target)
        self.messages = []
        sink.report = self.messages.append
        self.assertIsNotNone(_spool.attach(sink, target), self.messages)
        sink.startService()
        self.addCleanup(lambda: sink.stopService() if sink.running else None)
        return sink

    @defer.inlineCallbacks
    def test_replayAfterCrashAppliesOnce(self):
        """Records Redis already has are still in the spool's live file at a crash; the
        next process replays them and the ledger skips every one."""
        d = self.spoolDir()
        yield threads.deferToThread(self.crashingChild, d, self.redis.port, 50, 30)
        self.assertEqual(stat.S_IMODE(os.stat(d).st_mode), 0o700)
        self.assertEqual(self.redis.client().llen(b"other"), 0)
        second = self.restarted(d)
        self.assertEqual(second.recovered, 80)
        yield waitFor(lambda: second.sent == 80 and second.buffered == 0, "replayed")
        client = self.redis.client()
        self.assertEqual(client.lrange(b"k"), [b"%d" % i for i in range(50)])
        self.assertEqual(client.lrange(b"other"), [b"%d" % i for i in range(50, 80)])
        self.assertEqual(second.duplicates_avoided, 50)

    @defer.inlineCallbacks
    def test_tornTailSkippedAndReported(self):
        d = self.spoolDir()
        port = self.redis.port
        self.redis.stop()
        yield threads.deferToThread(self.crashingChild, d, port, 0, 10)
        live = sorted(f for f in os.listdir(d) if f.endswith(".spool"))[-1]
        with open(os.path.join(d, live), "r+b") as f:
            f.seek(-3, os.SEEK_END)
            f.truncate()            # the last record loses its end: a torn write
        self.redis.start(same_port=True)
        second = self.restarted(d)
        yield waitFor(lambda: second.sent == 9, "9 replayed")
        self.assertEqual(self.redis.client().lrange(b"other"),
                         [b"%d" % i for i in range(9)])
        self.assertTrue(any("damaged or torn record" in m and "the 9 records before it"
                            in m for m in self.messages), self.messages)

    @defer.inlineCallbacks
    def test_sizeBoundRefusesWithoutBlocking(self):
        d = self.spoolDir()
        self.redis.stop()
        sink = self.makeSink(d, spool_max_bytes=1024 * 1024)
        value = b"x" * 4000
        for _ in range(400):
            sink.push(b"k", value)
        self.assertEqual(sink.buffered, 400)        # kept in memory all the same
        self.assertGreater(sink.spool.refused, 100)
        self.assertLessEqual(sink.spool.bytes, 1024 * 1024)
        yield sink.stopService()
        with open(self.log.path) as f:
            text = f.read()
        self.assertIn("full (", text)
        self.assertIn("records are kept in memory only until there is room", text)

    @defer.inlineCallbacks
    def test_syncPolicies(self):
        for policy in ("always", "everysec", "no"):
            d = self.spoolDir()
            sink = self.makeSink(d, spool_sync=policy)
            sink.push(b"k", b"v")
            self.assertEqual(sink.spool.records, 1)
            yield waitFor(lambda: sink.spool.records == 0, "acknowledged")
            yield sink.stopService()
            # everything acknowledged: nothing is left to replay
            self.assertEqual([f for f in os.listdir(d) if f.endswith(".spool")], [])


CONF = r"""
ServerName          "spooled"
DefaultAddress      127.0.0.1
Port                {p}
RedisSpool          {base}/spool
LogFormat           dl "%m %r %s"
RedisLogOnCommand   CWD dl cmds
"""


class SpoolCrashTests(TwistdMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_sigkillWhileRedisDownLosesNothing(self):
        """Redis is down; every CWD the client got a reply for is delivered exactly once
        after ftpredis is SIGKILLed and started again with Redis back."""
        p = e2e.free_port()
        self.write(CONF, p=p)
        self.redis.stop()
        proc = self.twistd()
        self.assertTrue((yield e2e.in_thread(e2e.wait_listening, p)), self.log_or_output())

        def session():
            ftp = e2e.ftp_connect(p)
            for i in range(40):
                try:
                    ftp.cwd("/n%d" % i)
                except Exception:
                    pass            # 550: logged all the same
            return ftp
        ftp = yield e2e.in_thread(session)
        proc.send_signal(signal.SIGKILL)        # at once, after the last reply
        yield e2e.in_thread(proc.wait)
        ftp.close()
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.base, "spool")).st_mode),
                         0o700)
        self.redis.start(same_port=True)
        self.twistd()
        got = yield self.records(b"cmds", 40)
        counts = collections.Counter(r["raw_command"] for r in got)
        self.assertEqual(counts, collections.Counter("CWD /n%d" % i for i in range(40)))


class SpoolProcessTests(TwistdMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_filesPerWorker(self):
        """ServerWorkers 2: the parent and the worker each have their own spool files;
        after a clean stop with everything delivered, no records are left to replay."""
        p = e2e.free_port()
        self.write(CONF + "ServerWorkers 2\n", p=p)
        proc = self.twistd()
        self.assertTrue((yield e2e.in_thread(e2e.wait_listening, p)), self.log_or_output())
        spool = os.path.join(self.base, "spool")

        def sessions():
            for i in range(20):
                ftp = e2e.ftp_connect(p)
                try:
                    ftp.cwd("/n%d" % i)
                except Exception:
                    pass
                ftp.quit()
        yield e2e.in_thread(sessions)
        yield self.records(b"cmds", 20)
        self.assertTrue((yield e2e.wait_for(lambda: sorted(
            f.split("-")[0] for f in os.listdir(spool) if f.endswith(".lock"))
            == ["w0", "w1"], 30)), os.listdir(spool))
        proc.send_signal(signal.SIGTERM)
        yield e2e.in_thread(proc.wait)
        self.assertEqual([f for f in os.listdir(spool) if f.endswith(".spool")], [])

    @defer.inlineCallbacks
    def test_ownedByTheConfiguredUser(self):
        """Started as root with User/Group: the directory is made 0700 by the account
        ftpredis runs as, which can then rotate and delete its files."""
        self.assertEqual(os.getuid(), 0, "this test needs root, as in CI")
        var = os.path.join(self.base, "var")
        os.makedirs(var)
        os.chown(var, 65534, 65534)
        os.chmod(os.path.dirname(self.base), 0o711)
        p = e2e.free_port()
        self.write(CONF.replace("{base}/spool", "{base}/var/spool")
                   + "User nobody\nGroup nogroup\n", p=p)
        self.twistd()
        self.assertTrue((yield e2e.in_thread(e2e.wait_listening, p)), self.log_or_output())

        def session():
            ftp = e2e.ftp_connect(p)
            try:
                ftp.cwd("/n0")
            except Exception:
                pass
            ftp.quit()
        yield e2e.in_thread(session)
        yield self.records(b"cmds", 1)
        st = os.stat(os.path.join(var, "spool"))
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (65534, 0o700))
