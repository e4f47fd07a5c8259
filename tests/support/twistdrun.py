# -*- test-case-name: tests.test_daemon -*-
"""``TwistdMixin``: a site in a temp dir, real ``twistd -n ftpredis`` processes (always
reaped), their log file, and the records they write to a private redis-server."""

import json
import os
import time

from twisted.internet import defer

from tests.support import e2e
from tests.support.redisserver import RedisServerMixin
from tests.support.sites import HEAD


class TwistdMixin(RedisServerMixin):
    """A site in a temp dir and ``twistd -n ftpredis`` processes that are always reaped."""

    def setUp(self):
        super().setUp()
        self.base = os.path.abspath(self.mktemp())
        e2e.write_site(self.base, "")
        os.chmod(self.base, 0o755)
        self.db = self.redis.client()
        self.log = os.path.join(self.base, "twistd.log")

    def write(self, body, **ports):
        self.conf = os.path.join(self.base, "ftpd.conf")
        with open(self.conf, "w") as f:
            f.write((HEAD + body).format(base=self.base, redis_port=self.redis.port, **ports))
        return self.conf

    def twistd(self, *extra, twistd_args=(), env=None):
        proc = e2e.twistd(["-n", "--pidfile=", "--logfile", self.log] + list(twistd_args) +
                          ["ftpredis", "--config", self.conf] + list(extra), cwd=self.base,
                          env=env)
        self.addCleanup(self._reap, proc)
        return proc

    def _reap(self, proc):
        if proc.poll() is None:
            proc.kill()
        proc.communicate()

    def logged(self):
        if not os.path.exists(self.log):
            return ""
        with open(self.log) as f:
            return f.read()

    def log_or_output(self):
        return self.logged() or "(no log)"

    def wait_logged(self, text, timeout=15.0):
        def check():
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if os.path.exists(self.log) and text in self.logged():
                    return True
                time.sleep(0.05)
            return False
        return e2e.in_thread(check)

    @defer.inlineCallbacks
    def records(self, key, count):
        got = yield e2e.wait_records(self.db, key, count)
        return [json.loads(r) for r in got]
