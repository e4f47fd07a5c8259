# -*- test-case-name: tests.test_diskpool -*-
"""The disk pool: results in the reactor thread, in any order the workers finish, one
blocked job holding one thread only, errors as failures, ``pending`` for busy-poll."""

from __future__ import annotations

import errno
import threading

from twisted.internet import defer, reactor
from twisted.trial import unittest

from ftpredis.ftp.diskpool import DiskPool, pool_for
from ftpredis.ftp.filesystem import FSError


class DiskPoolTests(unittest.TestCase):

    def setUp(self):
        self.pool = DiskPool(reactor, max_threads=4)
        self.addCleanup(self.pool.stop)

    @defer.inlineCallbacks
    def test_result_in_reactor_thread(self):
        seen = []

        def job(x):
            seen.append(threading.current_thread())
            return x * 2
        result = yield self.pool.run(job, 21)
        self.assertEqual(result, 42)
        self.assertIsNot(seen[0], threading.current_thread())
        self.assertFalse(self.pool.pending)

    @defer.inlineCallbacks
    def test_error_is_the_failure(self):
        def job():
            raise FSError(errno.ENOENT, "x")
        with self.assertRaises(FSError) as c:
            yield self.pool.run(job)
        self.assertEqual(c.exception.text, "x: No such file or directory")

    @defer.inlineCallbacks
    def test_blocked_job_holds_one_thread(self):
        gate = threading.Event()
        blocked = self.pool.run(gate.wait, 10)
        self.assertTrue(self.pool.pending)
        # Many more jobs than threads still complete while one worker is stuck.
        done = yield defer.gatherResults([self.pool.run(pow, i, 2) for i in range(50)])
        self.assertEqual(done, [i * i for i in range(50)])
        self.assertFalse(blocked.called)
        self.assertLessEqual(self.pool.threads, 4)
        gate.set()
        self.assertTrue((yield blocked))
        self.assertFalse(self.pool.pending)

    @defer.inlineCallbacks
    def test_stopped_runs_inline(self):
        self.pool.stop()
        self.assertEqual((yield self.pool.run(pow, 3, 2)), 9)

    def test_one_pool_per_reactor(self):
        self.assertIs(pool_for(reactor), pool_for(reactor))
