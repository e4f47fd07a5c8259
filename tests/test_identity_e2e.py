# -*- test-case-name: tests.test_identity_e2e -*-
"""Record identity over real sessions (ftplib, lftp, a raw socket) against ``twistd
ftpredis`` processes and a private redis-server, records read back from Redis:
``%{record-id}`` unique and time-sorted across two server processes (one with
ServerWorkers), a restart and a SIGHUP reload; ``%{session-seq}`` without a gap per
session over several rules and keys; per-user and per-day keys, and what the key bytes
are for a user name with a space and an invalid UTF-8 byte; mod_unique_id's UNIQUE_ID as
ProFTPD 1.3.8 writes it (doc/records.rst, "Record identity", "mod_unique_id", "Keys")."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections import defaultdict

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.records import identity
from tests.support import e2e
from tests.support.conformance import ScenarioCase
from tests.support.sites import HEAD
from tests.support.twistdrun import TwistdMixin

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
LFTP_SETTINGS = ("set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 10; "
                 "set ftp:ssl-allow no; set xfer:clobber on; set ftp:passive-mode on; ")
WAIT = 60.0     # generous: the suite runs beside other helpers' suites on 2 CPUs


def ftplib_session(port, noops, user=e2e.USER):
    """login, ``noops`` NOOPs, PWD, QUIT, then wait for the server to close: records
    CONNECT USER PASS NOOP... PWD QUIT EXIT (noops + 6)."""
    ftp = e2e.ftp_connect(port, user)
    for _ in range(noops):
        ftp.voidcmd("NOOP")
    ftp.pwd()
    ftp.voidcmd("QUIT")
    try:
        while ftp.sock.recv(4096):
            pass
    except OSError:
        pass
    ftp.close()
    return noops + 6


def raw_session(port, lines):
    """Send ``lines`` (bytes) one by one, each after the previous reply, then QUIT."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rb")
        f.readline()
        for line in list(lines) + [b"QUIT"]:
            s.sendall(line + b"\r\n")
            reply = f.readline()
            while reply[3:4] == b"-":
                reply = f.readline()
        s.recv(100)


def parsed(values):
    return [json.loads(v) for v in values]


class _Processes(TwistdMixin):

    def conf(self, name, port, body, workers=1):
        path = os.path.join(self.base, name + ".conf")
        text = HEAD + ('ServerName "%s"\nPort %d\nDefaultAddress 127.0.0.1\n'
                       "ServerWorkers %d\n" % (name, port, workers)) + body
        with open(path, "w") as f:
            f.write(text.format(base=self.base, redis_port=self.redis.port))
        return path

    def start(self, name, conf, port):
        log = os.path.join(self.base, name + ".log")
        proc = e2e.twistd(["-n", "--pidfile=", "--logfile", log, "ftpredis", "--config",
                           conf], cwd=self.base)
        self.addCleanup(self._reap, proc)
        if not e2e.wait_listening(port, WAIT):
            proc.kill()
            with open(log) as f:
                self.fail("%s did not listen: %s" % (name, f.read()))
        return proc

    def stop(self, proc):
        proc.send_signal(signal.SIGTERM)
        self.assertIn(proc.wait(WAIT), (0, -signal.SIGTERM))

    def quiet(self, seconds=1.0):
        """Every list once none has changed for ``seconds`` (blocking: call in a thread)."""
        sizes, since = None, time.monotonic()
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            now = [(k, self.db.llen(k)) for k in sorted(self.db.keys("*"))]
            if now != sizes:
                sizes, since = now, time.monotonic()
            elif time.monotonic() - since >= seconds:
                break
            time.sleep(0.1)
        return {k: parsed(self.db.lrange(k)) for k, _ in sizes}

    def forget_probes(self):
        """The readiness probes were sessions too (CONNECT, EXIT): start from nothing."""
        self.quiet()
        self.db.command("FLUSHALL")

    @defer.inlineCallbacks
    def wait_count(self, keys, count):
        def enough():
            return sum(self.db.llen(k) for k in keys) >= count
        self.assertTrue((yield e2e.wait_for(enough, WAIT)),
                        "%s of %d records" % ([self.db.llen(k) for k in keys], count))


ID_FORMAT = ('LogFormat id "%{{record-id}} %{{session-seq}} %{{note:UNIQUE_ID}} %m %P '
             '%{{epoch}} %{{millisecs}} %v"\nRedisLogOnEvent ALL id ids\n')


class RecordIdAcrossProcessesTests(_Processes, unittest.TestCase):

    timeout = 240

    @defer.inlineCallbacks
    def test_unique_and_time_sorted_across_processes_workers_and_a_restart(self):
        pa, pb = e2e.free_port(), e2e.free_port()
        conf_a = self.conf("a", pa, ID_FORMAT)
        conf_b = self.conf("b", pb, ID_FORMAT, workers=2)
        a = yield e2e.in_thread(self.start, "a", conf_a, pa)
        yield e2e.in_thread(self.start, "b", conf_b, pb)
        yield e2e.in_thread(self.forget_probes)

        def round_of_sessions():
            # Sessions on both servers at once, so their records interleave in Redis.
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(6) as pool:
                jobs = [pool.submit(ftplib_session, port, n)
                        for n in (3, 5, 8) for port in (pa, pb)]
                return sum(j.result() for j in jobs)

        expected = yield e2e.in_thread(round_of_sessions)
        yield self.wait_count(["ids"], expected)
        before_restart = parsed(self.db.lrange("ids"))

        yield e2e.in_thread(self.stop, a)
        yield e2e.in_thread(self.start, "a", conf_a, pa)
        probe = yield e2e.in_thread(self.quiet)     # the restart's probe: CONNECT, EXIT
        expected = len(probe[b"ids"]) + (yield e2e.in_thread(round_of_sessions))
        yield self.wait_count(["ids"], expected)
        records = parsed(self.db.lrange("ids"))
        # A loaded machine may deliver a readiness probe's records (a session with no
        # USER) after forget_probes' FLUSHALL: they are not this test's sessions.
        kept = {r["NOTE:UNIQUE_ID"] for r in records if r.get("command") == "USER"}
        # the restart's readiness probes (one or more: each is CONNECT, EXIT)
        probes = {r["NOTE:UNIQUE_ID"] for r in probe[b"ids"]} - kept
        kept |= probes
        records = [r for r in records if r["NOTE:UNIQUE_ID"] in kept]
        before_restart = [r for r in before_restart if r["NOTE:UNIQUE_ID"] in kept]
        self.assertEqual(len(records), expected)

        ids = [r["record_id"] for r in records]
        for rid in ids:
            self.assertRegex(rid, UUID7)
        self.assertEqual(len(set(ids)), len(ids), "a record id was repeated")

        # Each process pushes its records in the order it made them: its ids increase,
        # and each has its own random part (pids: a, b's 2 workers, a again).
        by_pid = defaultdict(list)
        for r in records:
            by_pid[r["pid"]].append(r["record_id"])
        self.assertGreaterEqual(len(by_pid), 3)
        for pid, pids_ids in by_pid.items():
            self.assertEqual(pids_ids, sorted(pids_ids), "pid %d" % pid)
        tails = {pid: {rid[19:] for rid in v} for pid, v in by_pid.items()}
        self.assertTrue(all(len(t) == 1 for t in tails.values()), tails)
        self.assertEqual(len({t.pop() for t in tails.values()}), len(by_pid))

        # Sorted as text is sorted by time: the id's clock is the record's, taken just
        # after the event's own %{epoch}.%{millisecs}.
        for r in records:
            made = identity.record_id_time(r["record_id"])
            logged = r["epoch"] + r["millisecs"] / 1000.0
            self.assertTrue(logged - 0.002 <= made <= logged + 10, (made, r))
        in_id_order = sorted(records, key=lambda r: r["record_id"])
        made = [identity.record_id_time(r["record_id"]) for r in in_id_order]
        self.assertEqual(made, sorted(made))
        # The restarted server's ids all sort after everything written before it stopped.
        first_after = min(r["record_id"] for r in records[len(before_restart):]
                          if r["server_name"] == "a")
        self.assertGreater(first_after, max(r["record_id"] for r in before_restart))

        # session_seq: 1..n in the order of each session's records, ending with EXIT.
        sessions = defaultdict(list)
        for r in records:
            sessions[r["NOTE:UNIQUE_ID"]].append(r)
        self.assertEqual(len(sessions), 12 + len(probes))     # and the restart's probes
        self.assertGreaterEqual(len(probes), 1)
        for uid, rs in sessions.items():
            self.assertEqual([r["session_seq"] for r in rs], list(range(1, len(rs) + 1)), uid)
            self.assertEqual(rs[-1]["command"], "EXIT")
            self.assertEqual({r["pid"] for r in rs}, {identity.decode_unique_id(uid)["pid"]})


SEQ_FORMATS = r"""
<Global>
  AllowOverwrite on
</Global>
LogFormat s "%{{session-seq}} %{{note:UNIQUE_ID}} %m %u %{{epoch}}"
LogFormat p "%m"
RedisLogOnEvent ALL s audit:%u
RedisLogOnCommand RETR,STOR s xfer:%{{time:%Y%m%d}}
RedisLogOnCommand ALL p plain
RedisLogOnCommand USER s orig:%U
"""


class SessionSeqAndKeysTests(_Processes, unittest.TestCase):

    timeout = 180

    @defer.inlineCallbacks
    def test_session_seq_without_gaps_over_rules_and_per_user_and_per_day_keys(self):
        users = (("alice", e2e.PASSWORD), ("bob", e2e.PASSWORD))
        e2e.write_site(self.base, "", users=users)
        port = e2e.free_port()
        conf = self.conf("keys", port, SEQ_FORMATS)
        proc = yield e2e.in_thread(self.start, "keys", conf, port)
        yield e2e.in_thread(self.forget_probes)

        local = os.path.abspath(self.mktemp())
        os.makedirs(local)
        with open(os.path.join(local, "up.bin"), "wb") as f:
            f.write(os.urandom(70000))

        def clients():
            script = ("put %s -o f.bin; get f.bin -o %s; ls; put %s -o g.bin; bye"
                      % (os.path.join(local, "up.bin"), os.path.join(local, "down.bin"),
                         os.path.join(local, "up.bin")))
            lftp = subprocess.run(
                ["lftp", "-c", LFTP_SETTINGS + "open -u alice,%s ftp://127.0.0.1:%d; %s"
                 % (e2e.PASSWORD, port, script)], capture_output=True, timeout=60)
            ftp = e2e.ftp_connect(port, "bob")
            ftp.storbinary("STOR b.txt", e2e.BytesIO(b"bob\n"))
            ftp.retrbinary("RETR b.txt", lambda b: None)
            ftp.quit()
            # A user name with a space and an invalid UTF-8 byte, as USER sends it.
            raw_session(port, [b"USER m\xfcller x"])
            return lftp
        lftp = yield e2e.in_thread(clients)
        self.assertEqual(lftp.returncode, 0, lftp.stderr)

        exits = lambda: sum(r.get("command") == "EXIT" for k in self.db.keys("audit:*")
                            for r in parsed(self.db.lrange(k)))
        self.assertTrue((yield e2e.wait_for(lambda: exits() >= 3, WAIT)))
        lists = yield e2e.in_thread(self.quiet)
        yield e2e.in_thread(self.stop, proc)

        # Per user and per UTC day.
        users_of = {k: {r.get("user") for r in v} for k, v in lists.items()
                    if k.startswith(b"audit:")}
        self.assertEqual(users_of, {b"audit:": {None}, b"audit:alice": {"alice"},
                                    b"audit:bob": {"bob"}})
        days = [k for k in lists if k.startswith(b"xfer:")]
        self.assertTrue(days)
        for k in days:
            for r in lists[k]:
                self.assertEqual(k, b"xfer:" + time.strftime(
                    "%Y%m%d", time.gmtime(r["epoch"])).encode())
        xfers = sorted((r["user"], r["command"]) for k in days for r in lists[k])
        self.assertEqual(xfers, [("alice", "RETR"), ("alice", "STOR"), ("alice", "STOR"),
                                 ("bob", "RETR"), ("bob", "STOR")])
        # The key's bytes: the text as rendered, UTF-8, the invalid byte as U+FFFD (as
        # in the record), the space kept.
        self.assertIn(b"orig:m\xef\xbf\xbdller x", lists)

        # session_seq: every record that carries it, over all keys, 1..n per session
        # with no gap; within each key in increasing order; "plain" takes no number.
        sessions = defaultdict(list)
        for key, records in lists.items():
            per_key = defaultdict(list)
            for r in records:
                if key == b"plain":
                    self.assertNotIn("session_seq", r)
                    continue
                sessions[r["NOTE:UNIQUE_ID"]].append(r["session_seq"])
                per_key[r["NOTE:UNIQUE_ID"]].append(r["session_seq"])
            for seqs in per_key.values():
                self.assertEqual(seqs, sorted(seqs), key)
        self.assertEqual(len(sessions), 3)
        for uid, seqs in sessions.items():
            self.assertEqual(sorted(seqs), list(range(1, len(seqs) + 1)), uid)
            self.assertGreaterEqual(len(seqs), 5)


class SessionSeqOverReloadTests(_Processes, unittest.TestCase):

    timeout = 120

    @defer.inlineCallbacks
    def test_a_session_open_across_a_reload_keeps_its_numbering_and_unique_id(self):
        """The numbering and UNIQUE_ID belong to the session, made at connect: a reload
        (here turning UniqueIDEngine off) changes neither for a session already open; a
        session after it has no UNIQUE_ID and numbers from 1."""
        port = e2e.free_port()
        conf = self.conf("r", port, ID_FORMAT)
        proc = yield e2e.in_thread(self.start, "r", conf, port)
        yield e2e.in_thread(self.forget_probes)
        ftp = yield e2e.in_thread(e2e.ftp_connect, port)
        yield e2e.in_thread(ftp.voidcmd, "NOOP")
        self.conf("r", port, "UniqueIDEngine off\n" + ID_FORMAT)
        proc.send_signal(signal.SIGHUP)
        log = os.path.join(self.base, "r.log")
        self.assertTrue((yield e2e.wait_for(
            lambda: "configuration reloaded" in open(log).read(), WAIT)))

        def finish():
            ftp.voidcmd("NOOP")
            ftp.quit()
            return ftplib_session(port, 1)
        after = yield e2e.in_thread(finish)
        yield self.wait_count(["ids"], 7 + after)
        records = parsed(self.db.lrange("ids"))
        old = [r for r in records if "NOTE:UNIQUE_ID" in r]
        new = [r for r in records if "NOTE:UNIQUE_ID" not in r]
        self.assertEqual([(r.get("command"), r["session_seq"]) for r in old],
                         [(None, 1), ("USER", 2), ("PASS", 3), ("NOOP", 4), ("NOOP", 5),
                          ("QUIT", 6), ("EXIT", 7)])
        self.assertEqual(len({r["NOTE:UNIQUE_ID"] for r in old}), 1)
        self.assertEqual([r["session_seq"] for r in new], list(range(1, after + 1)))
        yield e2e.in_thread(self.stop, proc)


UNIQUE_ID_KEYS = {
    'audit:': [
        '{"NOTE:<NAME>":"<UNIQUE_ID>","ENV:UNIQUE_ID":"<UNIQUE_ID>","pid":"<PID>"}',
        '{"command":"USER","NOTE:<NAME>":"<UNIQUE_ID>","ENV:UNIQUE_ID":"<UNIQUE_ID>","pid":"<PID>"}',
    ] * 2,
    'audit:ftpuser': [
        '{"command":"PASS","NOTE:<NAME>":"<UNIQUE_ID>","ENV:UNIQUE_ID":"<UNIQUE_ID>","user":"ftpuser","pid":"<PID>"}',
        '{"command":"NOOP","NOTE:<NAME>":"<UNIQUE_ID>","ENV:UNIQUE_ID":"<UNIQUE_ID>","user":"ftpuser","pid":"<PID>"}',
        '{"command":"QUIT","NOTE:<NAME>":"<UNIQUE_ID>","ENV:UNIQUE_ID":"<UNIQUE_ID>","user":"ftpuser","pid":"<PID>"}',
        '{"command":"EXIT","NOTE:<NAME>":"<UNIQUE_ID>","ENV:UNIQUE_ID":"<UNIQUE_ID>","user":"ftpuser","pid":"<PID>"}',
    ] * 2,
    'ftp:<DAY>': [
        '{"command":"PASS","NOTE:<NAME>":"<UNIQUE_ID>","ENV:UNIQUE_ID":"<UNIQUE_ID>","user":"ftpuser","pid":"<PID>"}',
        '{"command":"QUIT","NOTE:<NAME>":"<UNIQUE_ID>","ENV:UNIQUE_ID":"<UNIQUE_ID>","user":"ftpuser","pid":"<PID>"}',
    ] * 2,
}


class UniqueIdAsProFTPDTests(ScenarioCase):

    @defer.inlineCallbacks
    def test_unique_id_and_keys_as_proftpd_writes_them(self):
        """The records ProFTPD 1.3.8 + mod_unique_id + mod_redis wrote for scenario
        unique_id_keys (``python3 tools/compare_proftpd.py unique_id_keys -v``): the
        per-user and per-day keys, and UNIQUE_ID in the note and the environment, whose
        18 bytes carry this host's and the client's address (anything else would not
        have become the marker)."""
        got = yield self.runScenario("unique_id_keys")
        self.assertRecords(got, UNIQUE_ID_KEYS)
        raw = yield self.settled()
        records = [json.loads(r) for k in sorted(raw) if k.startswith(b"audit:")
                   for r in raw[k]]
        ids = defaultdict(set)
        for r in records:
            self.assertEqual(r["NOTE:UNIQUE_ID"], r["ENV:UNIQUE_ID"])
            ids[r["NOTE:UNIQUE_ID"]].add(r["pid"])
        self.assertEqual(len(ids), 2)           # one per session
        for uid, pids in ids.items():
            fields = identity.decode_unique_id(uid)
            self.assertEqual(fields["client"], "127.0.0.1")
            self.assertEqual({fields["pid"]}, pids)
            self.assertLess(abs(fields["time"] - time.time()), 120)
