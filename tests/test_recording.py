# -*- test-case-name: tests.test_recording -*-
"""Tests for ftpredis.ftp.recording: the fields of the events a session builds follow what
the session did (USER, login, RNFR, a new <Directory>, AUTH TLS), and only Event fields
reach an event."""

from __future__ import annotations

import ftplib
import os

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.auth.portal import Avatar
from ftpredis.ftp.common import _Command
from ftpredis.ftp.recording import LoggingMixin
from ftpredis.ftp.replies import Reply
from ftpredis.ftp.session import SessionState
from ftpredis.records.events import COMMAND, CONNECT, DISCONNECT, EVENT_FIELDS, Session
from tests.support.ftphelpers import FTPServerMixin

SESSION = Session(
    remote_ip="127.0.0.1", remote_port=40123, remote_dns="127.0.0.1", local_ip="127.0.0.1",
    server_dns="127.0.0.1", server_ip="127.0.0.1", local_port=2121, server_name="example",
    server_version="1.3.8", pid=1)


class _FS:
    cwd = "/"


class _Session(LoggingMixin):
    """The state of a session that the mixin reads, set by hand."""

    proxy_notes: dict = {}
    connection_class = None
    fs = None

    def __init__(self):
        self.events = []
        self.factory = self
        self.client_state = SessionState()
        self.session = SESSION

    def emit(self, event):
        self.events.append(event)

    def command(self, verb, arg=None, code=200, **fields):
        cmd = _Command(verb, arg)
        cmd.fields.update(fields)
        self.logCommand(cmd, Reply(code, "ok"))
        return self.events[-1]


class FieldsFollowTheSessionTests(unittest.TestCase):

    def test_each_change_shows_in_the_next_event(self):
        s = _Session()
        s.logConnect()
        self.assertEqual((s.events[0].kind, s.events[0].user, s.events[0].uid),
                         (CONNECT, None, os.geteuid()))
        s.original_user = "bob"
        e = s.command("USER", "bob", 331)
        self.assertEqual((e.original_user, e.user, e.notes), ("bob", None,
                                                              {"mod_auth.orig-user": "bob"}))
        s.avatar = Avatar(name="bob", uid=7, gid=8, group="staff", home="/h", root="/h",
                          cwd="/")
        s.fs = _FS()
        e = s.command("PASS", "pw", 230, config_path="/h")
        self.assertEqual((e.user, e.group, e.uid, e.gid, e.logged_in, e.config_path),
                         ("bob", "staff", 7, 8, True, "/h"))
        self.assertEqual(s.command("PWD").config_path, "/h")
        s.client_state.rnfr = ("/h/a", "/a")
        self.assertEqual(s.command("RNFR", "a", 350).notes["mod_core.rnfr-path"], "/h/a")
        s.client_state.rnfr = None
        e = s.command("RNTO", "b", 250, config_path="/h/sub", notes={"x": "1"})
        self.assertEqual(e.notes, {"x": "1", "mod_auth.orig-user": "bob"})
        e = s.command("NOOP")
        self.assertEqual((e.config_path, e.notes), ("/h/sub", {"mod_auth.orig-user": "bob"}))
        s.protocol_name = "ftps"
        s.fs.cwd = "/sub"
        s.bytes_in, s.bytes_out = 10, 20
        e = s.command("NOOP")
        self.assertEqual((e.protocol, e.cwd, e.dir_name, e.session_bytes_rcvd,
                          e.session_bytes_sent), ("ftps", "/sub", "/sub", 10, 20))
        s.logExit()
        e = s.events[-1]
        self.assertEqual((e.kind, e.verb, e.user, e.protocol), (DISCONNECT, "EXIT", "bob",
                                                                 "ftps"))
        # Every event keeps the values of its own moment.
        self.assertEqual([x.original_user for x in s.events[:2]], [None, "bob"])
        self.assertEqual([x.kind for x in s.events[1:-1]], [COMMAND] * 7)

    def test_refused_login_names_the_account(self):
        s = _Session()
        s.refused_as = Avatar(name="bob", uid=7, gid=8, group="staff", home="/h", root="/h",
                              cwd="/")
        e = s.command("PASS", "pw", 530)
        self.assertEqual((e.user, e.uid, e.logged_in), ("bob", 7, False))

    def test_misspelt_command_field(self):
        s = _Session()
        self.assertRaises(TypeError, s.command, "STOR", "f", 226, bytes_snet=1)


class EventNamesTests(FTPServerMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_only_event_fields(self):
        self.write("a", b"x")

        def run():
            f = self.client()
            f.pwd()
            f.rename("a", "b")
            try:
                f.sendcmd("RETR missing")
            except ftplib.error_perm:
                pass
            f.quit()
        yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual([e.verb for e in self.events],
                         [None, "USER", "PASS", "PWD", "RNFR", "RNTO", "RETR", "QUIT", "EXIT"])
        for e in self.events:
            self.assertLessEqual(set(vars(e)), EVENT_FIELDS)
            self.assertIn("notes", vars(e))
