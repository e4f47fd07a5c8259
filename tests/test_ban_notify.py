# -*- test-case-name: tests.test_ban_notify -*-
"""Bans at once (ftpredis.ban.notify) and shared BanOnEvent counters: two real nodes
sharing one redis-server; a ban or a lift announced on the channel reaches the other
node without waiting for its poll; a missed announcement is still picked up by the
poll; failed logins on both nodes add up to one rule's count; with Redis gone each node
counts alone and says so once; the message format."""

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


def _not_subscribed(db, nodes):
    numsub = db.command("PUBSUB", "NUMSUB", notify.CHANNEL)[1]
    return "nodes did not subscribe (NUMSUB %s); their logs:\n%s" % (
        numsub, "\n".join("--- %s\n%s" % (n.name, n.logged()) for n in nodes))


class _TwoNodes:
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
            "PUBSUB", "NUMSUB", notify.CHANNEL)[1] >= 2, 30)
        self.assertTrue(ok, _not_subscribed(self.db, self.nodes))


class TwoNodesNotified(_TwoNodes, unittest.TestCase):

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
    def test_subscription_comes_back_with_redis(self):
        b = self.nodes[1].port
        self.redis.stop()
        self.redis.start(same_port=True)
        ok = yield e2e.in_thread(bannodes.until, lambda: self.db.command(
            "PUBSUB", "NUMSUB", notify.CHANNEL)[1] >= 2, 30)
        self.assertTrue(ok, _not_subscribed(self.db, self.nodes))
        bans, permits = yield e2e.in_thread(bannodes.measure, self.db, b, ["127.0.0.85"])
        self.assertNotIn(None, bans + permits)
        self.assertLess(bans[0], 0.4)

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


class SharedCounters(_TwoNodes, unittest.TestCase):
    """BanOnEvent MaxLoginAttempts 3/00:01:00 00:05:00 (tests/support/bannodes.py)."""

    def refused(self, port, source):
        return bannodes.until(lambda: bannodes.first_line(port, source).startswith("530"),
                              3)

    @defer.inlineCallbacks
    def test_events_on_two_nodes_add_up(self):
        a, b = (n.port for n in self.nodes)
        src = "127.0.0.90"
        for port in (a, b):
            yield e2e.in_thread(bannodes.fail_login, port, src)
        # Two events so far: below the count on either node, and together.
        line = yield e2e.in_thread(bannodes.first_line, b, src)
        self.assertTrue(line.startswith("220"), line)
        last = yield e2e.in_thread(bannodes.fail_login, a, src)
        for port in (a, b):
            self.assertTrue((yield e2e.in_thread(self.refused, port, src)), port)
        with open(os.path.join(self.nodes[0].base, "ban.log")) as f:
            self.assertIn("added MaxLoginAttempts-triggered autoban for host '%s'" % src,
                          f.read())
        self.assertIn(last, ("530 Login incorrect.", "530 Host %s has been banned" % src))

    @defer.inlineCallbacks
    def test_redis_gone_counts_on_the_node_and_says_so_once(self):
        a, b = (n.port for n in self.nodes)
        self.redis.stop()
        src = "127.0.0.91"
        for _ in range(2):
            yield e2e.in_thread(bannodes.fail_login, b, src)
        yield e2e.in_thread(bannodes.fail_login, a, src)
        line = yield e2e.in_thread(bannodes.first_line, a, src)
        self.assertTrue(line.startswith("220"), line)      # 1 on A, 2 on B: no ban
        yield e2e.in_thread(bannodes.fail_login, b, src)
        self.assertTrue((yield e2e.in_thread(self.refused, b, src)))
        text = self.nodes[1].logged()
        self.assertEqual(text.count("events are counted on this node only"), 1, text)


def _tool(redis_port, *args):
    import subprocess
    import sys
    p = subprocess.run([sys.executable, "-m", "ftpredis.ban.tool", "--redis",
                        "127.0.0.1:%d" % redis_port] + list(args), capture_output=True,
                       text=True, env=dict(os.environ, PYTHONPATH=e2e.REPO), cwd=e2e.REPO,
                       timeout=30)
    return p.returncode, p.stdout + p.stderr
