# -*- test-case-name: tests.test_identity -*-
"""Record identity (doc/records.rst, "Record identity" and "mod_unique_id"): the ids of
:mod:`ftpredis.records.identity`, ``%{record-id}`` and ``%{session-seq}`` as the router
gives them to each record, and mod_unique_id's directive.  The same things over real
sessions, processes and restarts are in tests/test_identity_e2e.py."""

from __future__ import annotations

import base64
import json
import os
import re
import struct
import time

from twisted.trial import unittest

from ftpredis.config.model import FormatExtra
from ftpredis.records import identity
from ftpredis.records.events import COMMAND, CONNECT, DISCONNECT, Event, Session
from ftpredis.records.logformat import compile_format
from ftpredis.records.router import Router
from tests.test_config import _Base
from tests.test_router import on_command, on_event, scope, server

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def session(n=1, unique="AAAAAAAAAAAAAAAAAAAAAAAA"):
    return Session(remote_ip="127.0.0.1", remote_port=40000 + n, remote_dns="127.0.0.1",
                   local_ip="127.0.0.1", server_dns="127.0.0.1", server_ip="127.0.0.1",
                   local_port=2121, server_name="example", server_version="1", pid=1,
                   session_id=n, unique_id=unique)


def event(s, verb=None, kind=COMMAND, user="ftpuser"):
    if kind == CONNECT:
        return Event(kind=CONNECT, session=s, time=time.time())
    return Event(kind=kind, session=s, time=time.time(), verb=verb, command=verb,
                 user=user, logged_in=user is not None)


class RecordIdTests(unittest.TestCase):

    def test_format_order_and_clock(self):
        """UUIDv7 text, strictly increasing within a process, its time prefix the clock's
        milliseconds."""
        before = time.time()
        ids = [identity.record_id() for _ in range(20000)]
        after = time.time()
        for rid in ids[:50] + ids[-50:]:
            self.assertRegex(rid, UUID7)
        self.assertEqual(len(set(ids)), len(ids))
        self.assertEqual(ids, sorted(ids))
        self.assertGreaterEqual(identity.record_id_time(ids[0]), int(before * 1000) / 1000.0)
        self.assertLessEqual(identity.record_id_time(ids[-1]), after + 0.002)
        # The random part is the process's: the same in every id.
        self.assertEqual({rid[19:] for rid in ids}, {ids[0][19:]})

    def test_clock_stepping_back_and_counter_overflow_keep_the_order(self):
        now = [1796368271000 * 1000000]
        ids = identity.RecordIds(clock=lambda: now[0])
        first = ids()
        now[0] -= 10 * 10 ** 9        # the clock steps back 10 s
        later = [ids() for _ in range(5000)]     # more than 4096 in one millisecond
        self.assertEqual([first] + later, sorted([first] + later))
        self.assertEqual(len(set([first] + later)), 5001)
        ms = [int(rid[:8] + rid[9:13], 16) for rid in [first] + later]
        self.assertEqual((ms[0], ms[4095], ms[4096], ms[-1]),
                         (1796368271000, 1796368271000, 1796368271001, 1796368271001))
        now[0] += 20 * 10 ** 9        # and forward again
        self.assertEqual(identity.record_id_time(ids()), 1796368281.0)

    def test_a_forked_process_draws_its_own_random_bits(self):
        parent = identity.record_id()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:                # the child: one id to the parent, then gone
            try:
                os.write(w, identity.record_id().encode())
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r) as f:
            child = f.read()
        os.waitpid(pid, 0)
        self.assertRegex(child, UUID7)
        self.assertNotEqual(child[19:], parent[19:])
        self.assertEqual(identity.record_id()[19:], parent[19:])


class UniqueIdTests(unittest.TestCase):

    def test_layout(self):
        """mod_unique_id 0.2's 18 bytes: seconds, host, client, pid, usec / 10 (16 bits)."""
        now = 1796368271.654321
        uid = identity.unique_id("192.0.2.7", now, 22413)
        self.assertRegex(uid, r"^[A-Za-z0-9+/]{24}$")
        sec, host, client, pid, counter = struct.unpack("!I4s4sIH", base64.b64decode(uid))
        self.assertEqual((sec, client, pid, host), (1796368271, bytes([192, 0, 2, 7]), 22413,
                                                    identity.host_address()))
        self.assertEqual(counter, (654321 // 10) & 0xFFFF)
        self.assertEqual(identity.decode_unique_id(uid)["client"], "192.0.2.7")
        # IPv6: the address's first 4 bytes, as mod_unique_id copies them.
        v6 = identity.decode_unique_id(identity.unique_id("2001:db8::1", now, 1))
        self.assertEqual(v6["client"], "32.1.13.184")

    def test_sessions_of_one_process_never_share_an_id(self):
        now = time.time()
        ids = [identity.unique_id("127.0.0.1", now, 7) for _ in range(3000)]
        self.assertEqual(len(set(ids)), 3000)
        # Another client may have the same counter: the address tells them apart.
        self.assertNotEqual(identity.unique_id("127.0.0.2", now + 5, 7),
                            identity.unique_id("127.0.0.3", now + 5, 7))


class VariableTests(unittest.TestCase):

    def test_json_and_absence(self):
        fmt = compile_format("f", "%{record-id} %{session-seq} %m")
        e = event(session(), "NOOP")
        self.assertEqual(fmt.json(e), b'{"command":"NOOP"}')
        e = e.replace(record_id="r-1", session_seq=3)
        self.assertEqual(fmt.json(e), b'{"record_id":"r-1","session_seq":3,"command":"NOOP"}')
        self.assertEqual(fmt.needs, {"record_id", "session_seq"})
        self.assertEqual(compile_format("g", "%m %{time:record_id}").needs, frozenset())

    def test_unique_id_note_and_environment(self):
        fmt = compile_format("f", "%{note:UNIQUE_ID} %{UNIQUE_ID}e")
        self.assertEqual(fmt.json(event(session(unique="x" * 24), "NOOP")),
                         b'{"NOTE:UNIQUE_ID":"%s","ENV:UNIQUE_ID":"%s"}' % (b"x" * 24,
                                                                        b"x" * 24))
        self.assertEqual(fmt.json(event(session(unique=None), "NOOP")), b"{}")


class RouterTests(unittest.TestCase):

    def router(self, *rules, extras=(), formats=None):
        return Router(server(scope(*rules, extras=extras),
                             formats=formats or {"s": "%{session-seq} %m", "p": "%m",
                                                 "i": "%{record-id} %m"}))

    def test_session_seq_counts_the_records_that_carry_it(self):
        """Over all rules and keys of one session, in the order records are made; records
        of formats without %{session-seq} and events no rule logs take no number."""
        r = self.router(on_event("ALL", "s", "all"), on_command("RETR", "s", "xfer:%u"),
                        on_command("ALL", "p", "plain"))
        a, b = session(1), session(2)
        out = []
        for e in (event(a, kind=CONNECT), event(a, "USER", user=None), event(b, "USER"),
                  event(a, "RETR"), event(a, "FOO"), event(b, "RETR"), event(a, "QUIT"),
                  event(a, "EXIT", kind=DISCONNECT)):
            out += [(k.decode(), json.loads(v)) for k, v in r.records(e)]
        seqs = [(k, v.get("session_seq"), v.get("command")) for k, v in out]
        # RedisLogOnCommand rules first, then RedisLogOnEvent (doc/records.rst, "Filter
        # matching"); RedisLogOnEvent ALL takes CONNECT and EXIT but not FOO.
        self.assertEqual(seqs, [
            ("all", 1, None), ("plain", None, "USER"), ("all", 2, "USER"),
            ("plain", None, "USER"), ("all", 1, "USER"),
            ("xfer:ftpuser", 3, "RETR"), ("plain", None, "RETR"), ("all", 4, "RETR"),
            ("plain", None, "FOO"),
            ("xfer:ftpuser", 2, "RETR"), ("plain", None, "RETR"), ("all", 3, "RETR"),
            ("plain", None, "QUIT"), ("all", 5, "QUIT"),
            ("all", 6, "EXIT")])

    def test_one_identity_per_record_for_its_key_json_and_extras(self):
        extras = (FormatExtra("i", (("rid", "%{record-id}"), ("n", "%{session-seq}"))),)
        r = self.router(on_command("NOOP", "i", "k:%{record-id}"),
                        on_command("NOOP", "i", "k:%{record-id}"), extras=extras)
        records = r.records(event(session(), "NOOP"))
        self.assertEqual(len(records), 2)
        ids = []
        for key, value in records:
            v = json.loads(value)
            self.assertEqual(key.decode(), "k:" + v["record_id"])
            self.assertEqual(v["rid"], v["record_id"])
            self.assertEqual(v["n"], str(len(ids) + 1))
            ids.append(v["record_id"])
        self.assertLess(ids[0], ids[1])

    def test_a_record_lost_to_an_empty_key_leaves_a_gap(self):
        r = self.router(on_command("NOOP", "s", "%U"), on_command("NOOP", "s", "k"))
        s = session()
        first = r.records(event(s, "NOOP"))
        self.assertEqual([(k, json.loads(v)["session_seq"]) for k, v in first], [(b"k", 2)])
        self.assertEqual(r.dropped_empty_key, 1)

    def test_written_key_and_no_identity_for_plain_rules(self):
        r = self.router(on_command("NOOP", "p", "audit:%u"), on_command("NOOP", "p"),
                        on_command("NOOP", "s", "plain"))
        targets = r.targets(r.server_scope, True, COMMAND, "NOOP")
        self.assertEqual([t.written_key for t in targets], ["audit:%u", "p", "plain"])
        self.assertEqual([t.identify is None for t in targets], [True, True, False])
        self.assertEqual([t.key for t in targets], [None, b"p", b"plain"])


class UniqueIDEngineConfigTests(_Base):

    def test_default_on_off_per_server_and_global(self):
        self.assertTrue(self.main("Port 2121\n").unique_id_engine)
        self.assertFalse(self.main("UniqueIDEngine off\n").unique_id_engine)
        servers = self.load("<Global>\nUniqueIDEngine off\n</Global>\n"
                            "<VirtualHost 127.0.0.2>\nUniqueIDEngine on\n</VirtualHost>\n"
                            ).servers
        self.assertEqual([s.unique_id_engine for s in servers], [False, True])

    def test_module_is_provided(self):
        conf = self.main("LoadModule mod_unique_id.c\n<IfModule mod_unique_id.c>\n"
                         "UniqueIDEngine off\n</IfModule>\n")
        self.assertFalse(conf.unique_id_engine)

    def test_errors_name_the_line(self):
        self.assertIn(self.where(2), self.error("Port 2121\nUniqueIDEngine maybe\n"))
        error = self.error("<Anonymous /srv/ftp>\nUser ftp\nUniqueIDEngine on\n"
                           "</Anonymous>\n")
        self.assertIn("UniqueIDEngine", error)
        self.assertIn(self.where(3), error)

