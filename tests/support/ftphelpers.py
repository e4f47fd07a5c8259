# -*- test-case-name: tests.test_protocol -*-
"""A real ftpredis FTP server on loopback for tests, with the events it emits collected.

Clients (ftplib, curl, lftp) run in threads or subprocesses so the reactor keeps serving.
"""

from __future__ import annotations

import ftplib
import os
import time

from passlib.hash import sha512_crypt
from twisted.internet import reactor, task
from twisted.internet.threads import deferToThread

from ftpredis.auth.portal import make_portal
from ftpredis.config.model import AuthUser, ServerConfig
from ftpredis.records.events import DISCONNECT
from ftpredis.ftp.factory import FTPRedisFactory

USER, PASSWORD = "alice", "s3cret"
UID = GID = 65534
_HASH = sha512_crypt.using(rounds=1000).hash(PASSWORD)


class FTPServerMixin:
    """setUp starts a server jailed to a fresh home; ``self.events`` collects its events."""

    server_options: dict = {}

    def setUp(self):
        base = os.path.abspath(self.mktemp())
        self.home = os.path.join(base, "home")
        os.makedirs(self.home)
        self.outside = os.path.join(base, "outside")
        os.makedirs(self.outside)
        with open(os.path.join(self.outside, "secret.txt"), "w") as f:
            f.write("top secret\n")
        opts = dict(is_main=True, source=None, addresses=("127.0.0.1",), port=2121,
                    server_name="test", auth_users=(AuthUser(USER, _HASH, UID, GID, "",
                                                             self.home, "/bin/false"),),
                    auth_groups={GID: "nogroup"}, default_root="~",
                    require_valid_shell=False, allow_overwrite=True, timeout_idle=30)
        opts.update(self.server_options)
        self.server = ServerConfig(**opts)
        self.events = []
        self.factory = FTPRedisFactory(self.server, make_portal(self.server), self.events.append)
        self.listener = reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        self.port = self.listener.getHost().port
        self.addCleanup(self.listener.stopListening)

    def path(self, *parts):
        return os.path.join(self.home, *parts)

    def write(self, name, data: bytes):
        with open(self.path(name), "wb") as f:
            f.write(data)

    def client(self, login=True) -> ftplib.FTP:
        f = ftplib.FTP(encoding="utf-8")
        f.connect("127.0.0.1", self.port, timeout=10)
        if login:
            f.login(USER, PASSWORD)
        return f

    def inThread(self, fn, *args, **kw):
        return deferToThread(fn, *args, **kw)

    def waitFor(self, predicate, timeout=10.0):
        deadline = time.time() + timeout

        def check():
            if predicate():
                return None
            if time.time() > deadline:
                raise AssertionError("condition not met in time")
            return task.deferLater(reactor, 0.02, check)
        return task.deferLater(reactor, 0, check)

    def exits(self):
        return [e for e in self.events if e.kind == DISCONNECT]

    def waitExits(self, n=1):
        return self.waitFor(lambda: len(self.exits()) >= n)

    def commands(self, verb=None):
        return [e for e in self.events if e.verb is not None and e.verb != "EXIT"
                and (verb is None or e.verb == verb)]

    def last(self, verb):
        found = self.commands(verb)
        assert found, "no %s event in %r" % (verb, [e.verb for e in self.events])
        return found[-1]
