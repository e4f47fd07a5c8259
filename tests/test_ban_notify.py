# -*- test-case-name: tests.test_ban_notify -*-
"""Bans at once (ftpredis.ban.notify): two real nodes sharing one redis-server; a ban
or a lift announced on the channel reaches the other node without waiting for its
poll; a missed announcement is still picked up by the poll; the message format."""

import os

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.ban import notify
from ftpredis.ban.bans import BAN_TYPE_HOST
from tests.support import bannodes, e2e
from tests.support.redisserver import RedisServer


class MessageTests(unittest.TestCase):
    def test_round_trip_and_junk(self):
        data = notify.message("ban", BAN_TYPE_HOST, "10.0.0.7", {"expires_ts": 0})
        self.assertEqual(notify.parse(data), ("ban", 2, "10.0.0.7", {"expires_ts": 0}))
        self.assertEqual(notify.parse(notify.message("permit", 2, "x")),
                         ("permit", 2, "x", None))
        for junk in (b"", b"\xff", b"[]", b'{"op":"ban","ban_type_id":2,"ban_name":"x"}',
                     b'{"op":"drop","ban_type_id":2,"ban_name":"x"}'):
            self.assertIsNone(notify.parse(junk), junk)


class TwoNodesNotified(unittest.TestCase):
    def setUp(self):
        self.redis = RedisServer()
        self.addCleanup(self.redis.cleanup)
        self.redis.start()
        self.db = self.redis.client()
        self.nodes = []
        for name in ("a", "b"):
            base = os.path.realpath(self.mktemp()) + "-" + name
            node = bannodes.Node(base, name, self.redis.port)
            self.addCleanup(node.stop)
            self.nodes.append(node)
        for node in self.nodes:
            node.wait()
        # Both subscribed (a channel with two subscribers), so a failure below is not
        # a node still starting.
        ok = bannodes.until(lambda: self.db.command(
            "PUBSUB", "NUMSUB", notify.CHANNEL)[1] >= 2, 15)
        self.assertTrue(ok, "nodes did not subscribe")

    @defer.inlineCallbacks
    def test_ban_and_permit_reach_the_other_node_before_its_poll(self):
        b = self.nodes[1].port
        bans, permits = yield e2e.in_thread(
            bannodes.measure, self.db, b, ["127.0.0.%d" % i for i in range(60, 65)])
        self.assertNotIn(None, bans + permits)
        # Generous, for a loaded machine: the poll alone takes up to 500 ms.
        self.assertLess(sorted(bans)[2], 0.4, bannodes.summary(bans))
        self.assertLess(sorted(permits)[2], 0.4, bannodes.summary(permits))

    @defer.inlineCallbacks
    def test_autoban_and_tool_cross_nodes(self):
        a, b = (n.port for n in self.nodes)
        src = "127.0.0.70"
        # Three failed logins on node A: the autoban is stored, announced, enforced on B.
        for _ in range(3):
            yield e2e.in_thread(bannodes.fail_login, a, src)
        refused = yield e2e.in_thread(
            bannodes.until, lambda: bannodes.first_line(b, src).startswith("530"), 5)
        self.assertTrue(refused)
        # ftpredis-ban permit lifts it on both, the node-local copy on A included.
        code, out = yield e2e.in_thread(_tool, self.redis.port, "permit", "host", src)
        self.assertEqual(code, 0, out)
        for port in (a, b):
            back = yield e2e.in_thread(
                bannodes.until, lambda: bannodes.first_line(port, src).startswith("220"), 5)
            self.assertTrue(back, port)
        with open(os.path.join(self.nodes[0].base, "ban.log")) as f:
            self.assertIn("removed '%s' from ban list" % src, f.read())

    @defer.inlineCallbacks
    def test_missed_announcement_is_polled(self):
        b = self.nodes[1].port
        src = "127.0.0.80"
        cmds = bannodes.ban_commands(src, "ban")[:1]      # the SET, never announced
        yield e2e.in_thread(self.db.pipeline, *cmds)
        refused = yield e2e.in_thread(bannodes.until,
                                      lambda: bannodes.first_line(b, src).startswith("530"),
                                      5)
        self.assertTrue(refused)


def _tool(redis_port, *args):
    import subprocess
    import sys
    p = subprocess.run([sys.executable, "-m", "ftpredis.ban.tool", "--redis",
                        "127.0.0.1:%d" % redis_port] + list(args), capture_output=True,
                       text=True, env=dict(os.environ, PYTHONPATH=e2e.REPO), cwd=e2e.REPO,
                       timeout=30)
    return p.returncode, p.stdout + p.stderr
