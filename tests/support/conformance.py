# -*- test-case-name: tests.test_conformance_variables -*-
"""Shared machinery of the conformance tests: a scenario of tests/support/scenarios.py run
against ftpredis in-process, its records read back from a private redis-server.

The scenarios (config body + ftplib script) are the ones the comparison tool runs against
ProFTPD 1.3.8 + mod_redis; the expected bytes in the test modules are ProFTPD's records
for the same session, normalised the same way, except where doc/decisions.rst says otherwise
(each such place says so).  Volatile values (clocks, pids, ports, temp paths, the daemon's
own uid) are checked against their format here and then replaced by markers, never
dropped.
"""

from __future__ import annotations

import json
import re

from twisted.internet import defer, reactor, task, threads
from twisted.trial import unittest

from ftpredis.config import load_config
from ftpredis.app.service import FTPRedisService
from tests.support.redisserver import RedisServerMixin
from tests.support import ftpsite
from tests.support.scenarios import SCENARIOS

# What each volatile value must look like before it is replaced by its marker.
_NUM = r"-?\d+"
VOLATILE_FORMATS = {
    "local_time": r'"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000"',
    "timestamp": r'"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"',
    "epoch": r"1\d{9}",
    "microsecs": r"\d{1,6}",
    "millisecs": r"\d{1,3}",
    "response_millis": r"\d+",
    "transfer_millis": r"\d+",
    "transfer_secs": r"\d+(\.\d{1,3})?",
    "transfer_speed": r'"\d+\.\d\dKB/s"',
    "pid": r"\d+",
    "local_port": r"\d+",
    "remote_port": r"\d+",
    "transfer_port": r"\d+",
    "server_version": r'"[0-9][^"]*"',
    "%Y-%m-%d": r'"\d{4}-\d\d-\d\d"',
    "%H:%M": r'"\d\d:\d\d"',
}


def masked_pasv(transcript):
    """``transcript`` with the PASV reply's address and port masked."""
    return [re.sub(r"Passive Mode \([\d,]+\)", "Passive Mode (<PASV>)", line)
            for line in transcript]


def check_volatile(testcase, record: bytes):
    """Fail unless every volatile value in ``record`` has its documented format."""
    pairs = json.loads(record.decode("utf-8"), object_pairs_hook=list)
    text = record.decode("utf-8")
    for key, _ in pairs:
        fmt = VOLATILE_FORMATS.get(key)
        if fmt is None:
            continue
        m = re.search(r'"%s":(%s)(?=[,}])' % (re.escape(key), fmt), text)
        testcase.assertIsNotNone(m, "%s has a bad format in %s" % (key, text))


class _InProcessRunner:
    """What Context.stop_server needs, for a service running in this process."""

    def __init__(self, case):
        self.case = case

    def stop(self):
        threads.blockingCallFromThread(reactor, self.case.stopService)


class ScenarioCase(RedisServerMixin, unittest.TestCase):
    """Runs :data:`tests.support.scenarios.SCENARIOS` scenarios against ftpredis."""

    timeout = 60

    def startScenario(self, name: str):
        sc = SCENARIOS[name]
        self.sc = sc
        site = ftpsite.Site(sc.body, ftpsite.FTPREDIS_PREAMBLE, files=sc.files, users=sc.users,
                        timeout_idle=sc.timeout_idle, chroot=sc.chroot, prefix="conform-",
                        groups=sc.groups)
        self.addCleanup(site.cleanup)
        self.site = site
        conf = site.write(self.redis.port)
        self.service = FTPRedisService(load_config(conf))
        self.service.startService()
        self._stopped = False
        self.addCleanup(self.stopService)
        return site

    def stopService(self):
        if self._stopped:
            return None
        self._stopped = True
        return self.service.stopService()

    @defer.inlineCallbacks
    def runScenario(self, name: str, script=None):
        """Run scenario ``name`` (or ``script`` on its config); returns the normalised records
        as ``{key: [record, ...]}`` (str keys and values)."""
        site = self.startScenario(name)
        transcript: list = []
        ctx = ftpsite.Context(site, _InProcessRunner(self), transcript)
        yield threads.deferToThread(script or self.sc.script, ctx)
        self.transcript = transcript
        records = yield self.settled()
        result = ftpsite.Result("ftpredis", site)
        result.records = records
        result.substitutions = ctx.substitutions
        for values in records.values():
            for r in values:
                check_volatile(self, r)
        out = {}
        for key, values in ftpsite.normalised(result).items():
            out[key.decode("utf-8")] = [v.decode("utf-8") for v in values]
        return out

    @defer.inlineCallbacks
    def settled(self, quiet=0.3):
        """Every list in Redis once none has grown for ``quiet`` seconds."""
        client = self.redis.client()
        last = None
        for _ in range(200):
            sizes = yield threads.deferToThread(
                lambda: tuple((k, client.llen(k)) for k in sorted(client.keys())))
            if sizes == last:
                break
            last = sizes
            yield task.deferLater(reactor, quiet, lambda: None)
        records = {}
        for key, _ in last:
            records[key] = yield threads.deferToThread(client.lrange, key)
        return records

    @defer.inlineCallbacks
    def checkScenario(self, name: str, records: list, replies: list, mask=None):
        """Run scenario ``name``; its transcript (PASV ports masked, then ``mask``) must be
        ``replies`` and key ``h`` must hold ``records`` (ProFTPD's, for the
        conformance modules that use it)."""
        got = yield self.runScenario(name)
        transcript = masked_pasv(self.transcript)
        if mask is not None:
            transcript = [mask(line) for line in transcript]
        self.assertEqual(transcript, replies)
        self.assertRecords(got, {"h": records})

    def assertRecords(self, got: dict, expected: dict):
        """Key by key, record by record, so a failure shows the first differing record."""
        self.assertEqual(sorted(got), sorted(expected))
        for key in expected:
            for i, (g, e) in enumerate(zip(got[key], expected[key])):
                self.assertEqual(g, e, "key %s record #%d" % (key, i))
            self.assertEqual(len(got[key]), len(expected[key]), "key %s" % key)


def rec(**pairs) -> str:
    """A normalised record written as keyword arguments (keys that are identifiers)."""
    return json.dumps(pairs, separators=(",", ":"), ensure_ascii=False)


BASE_HOME = "<BASE>/home/ftpuser"
DAEMON = "<DAEMON>"
