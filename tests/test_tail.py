"""``ftpredis-tail`` against a real redis-server: peek, pop, pretty-print."""

import json
import os
import subprocess
import sys

from twisted.trial import unittest

from tests.support import e2e
from tests.support.redisserver import RedisServerMixin


class TailTests(RedisServerMixin, unittest.TestCase):
    def tail(self, *args):
        env = dict(os.environ, PYTHONPATH=e2e.REPO)
        proc = subprocess.run(
            [sys.executable, "-m", "ftpredis.redis.tail", "--port", str(self.redis.port)] + list(args),
            env=env, capture_output=True, timeout=30)
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()

    def test_peek_from_start_leaves_the_list(self):
        db = self.redis.client()
        db.command("RPUSH", "k", '{"a":1}', '{"b":"\u00e9"}')
        code, out, err = self.tail("k", "--from-start", "--count", "2")
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out, '{"a":1}\n{"b":"\u00e9"}\n')
        self.assertEqual(db.llen("k"), 2)

    def test_pop_pretty(self):
        db = self.redis.client()
        db.command("RPUSH", "k", '{"user":"ftpuser","response_code":226}')
        code, out, err = self.tail("k", "--pop", "--pretty", "--count", "1")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out), {"user": "ftpuser", "response_code": 226})
        self.assertIn('\n  "user": "ftpuser"', out)
        self.assertEqual(db.llen("k"), 0)

    def test_unreachable_redis_is_one_line(self):
        port = e2e.free_port()
        proc = subprocess.run(
            [sys.executable, "-m", "ftpredis.redis.tail", "--port", str(port), "k"],
            env=dict(os.environ, PYTHONPATH=e2e.REPO), capture_output=True, timeout=30)
        self.assertNotEqual(proc.returncode, 0)
        self.assertNotIn(b"Traceback", proc.stderr)
        self.assertIn(b"ftpredis-tail:", proc.stderr)
