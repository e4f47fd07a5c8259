"""End to end: ProFTPD-style config -> FTP session with a real client -> JSON in a real Redis.

These tests run the whole service tree (config parser, FTP server, router, LogFormat,
sink) against a private redis-server, with ftplib as the client, and compare the records
byte for byte with what ProFTPD 1.3.8's mod_redis writes for the same session
(doc/records.rst), clocks pinned.
"""

import json
import os

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.config import load_config
from ftpredis.app.service import FTPRedisService
from tests.support import e2e
from tests.support.redisserver import RedisServerMixin

SEED_CONFIG = r"""
ServerName          "e2e"
DefaultAddress      127.0.0.1
Port                {port}
AuthUserFile        {base}/ftpd.passwd
AuthGroupFile       {base}/ftpd.group
RequireValidShell   off
DefaultRoot         ~
AllowOverwrite      on

<IfModule mod_redis.c>
  RedisEngine       on
  RedisServer       127.0.0.1:{redis_port}
  RedisLog          {base}/redis.log

  LogFormat         file-transfers "%h %l %u %t \"%r\" %s %b"
  RedisLogOnCommand APPE,RETR,STOR,STOU file-transfers

  LogFormat         sessions "%{{iso8601}} %a"
  RedisLogOnCommand CONNECT,DISCONNECT sessions

  LogFormat         texts "%r %s %S %U %u %g %b %F %w"
  RedisLogOnCommand USER,PASS,LIST,STOR,RETR,RNFR,RNTO,DELE,QUIT texts

  LogFormat         every "%m %s %u"
  RedisLogOnEvent   ALL every
</IfModule>
"""

PAYLOAD = b"x" * 119 + b"\n"     # 120 bytes, as in the observed seed example


class ServiceMixin(RedisServerMixin):
    config_body = SEED_CONFIG

    def setUp(self):
        super().setUp()
        self.base = os.path.abspath(self.mktemp())
        self.port = e2e.free_port()
        self.conf = e2e.write_site(self.base, self.config_body, port=self.port,
                                   redis_port=self.redis.port)
        self.service = FTPRedisService(load_config(self.conf))
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.db = self.redis.client()


class SeedExampleTests(ServiceMixin, unittest.TestCase):
    """The seed's two example formats, plus full-session formats, on one session."""

    def session(self):
        ftp = e2e.ftp_connect(self.port)
        listing = []
        ftp.retrlines("LIST", listing.append)
        ftp.storbinary("STOR f.txt", e2e.BytesIO(PAYLOAD))
        got = bytearray()
        ftp.retrbinary("RETR f.txt", got.extend)
        ftp.rename("f.txt", "g.txt")
        ftp.delete("g.txt")
        ftp.quit()
        return bytes(got)

    @defer.inlineCallbacks
    def test_seed_example_records(self):
        got = yield e2e.in_thread(self.session)
        self.assertEqual(got, PAYLOAD)
        records = yield e2e.wait_records(self.db, b"file-transfers", 2)
        self.assertEqual([e2e.normalise(r) for r in records], [
            b'{"remote_dns":"127.0.0.1","user":"ftpuser","local_time":"T",'
            b'"raw_command":"STOR f.txt","response_code":226,"bytes_sent":120}',
            b'{"remote_dns":"127.0.0.1","user":"ftpuser","local_time":"T",'
            b'"raw_command":"RETR f.txt","response_code":226,"bytes_sent":120}',
        ])
        sessions = yield e2e.wait_records(self.db, b"sessions", 2)
        self.assertEqual([e2e.normalise(r) for r in sessions], [
            b'{"connecting":true,"timestamp":"T","remote_ip":"127.0.0.1"}',
            b'{"disconnecting":true,"timestamp":"T","remote_ip":"127.0.0.1"}',
        ])

    @defer.inlineCallbacks
    def test_command_texts(self):
        yield e2e.in_thread(self.session)
        records = yield e2e.wait_records(self.db, b"texts", 9)
        self.assertEqual([json.loads(r) for r in records], [
            {"raw_command": "USER ftpuser", "response_code": 331,
             "response_msg": "Password required for ftpuser", "original_user": "ftpuser"},
            {"raw_command": "PASS (hidden)", "response_code": 230,
             "response_msg": "User ftpuser logged in", "original_user": "ftpuser",
             "user": "ftpuser", "group": "ftpgroup"},
            {"raw_command": "LIST", "response_code": 226, "response_msg": "Transfer complete",
             "original_user": "ftpuser", "user": "ftpuser", "group": "ftpgroup",
             "bytes_sent": 0},
            {"raw_command": "STOR f.txt", "response_code": 226,
             "response_msg": "Transfer complete", "original_user": "ftpuser",
             "user": "ftpuser", "group": "ftpgroup", "bytes_sent": 120,
             "transfer_path": "/f.txt"},
            {"raw_command": "RETR f.txt", "response_code": 226,
             "response_msg": "Transfer complete", "original_user": "ftpuser",
             "user": "ftpuser", "group": "ftpgroup", "bytes_sent": 120,
             "transfer_path": "/f.txt"},
            {"raw_command": "RNFR f.txt", "response_code": 350,
             "response_msg": "File or directory exists, ready for destination name",
             "original_user": "ftpuser", "user": "ftpuser", "group": "ftpgroup",
             "bytes_sent": 0, "transfer_path": "/f.txt"},
            {"raw_command": "RNTO g.txt", "response_code": 250,
             "response_msg": "Rename successful", "original_user": "ftpuser",
             "user": "ftpuser", "group": "ftpgroup", "bytes_sent": 0,
             "transfer_path": "/g.txt", "rename_from": "/f.txt"},
            {"raw_command": "DELE g.txt", "response_code": 250,
             "response_msg": "DELE command successful", "original_user": "ftpuser",
             "user": "ftpuser", "group": "ftpgroup", "bytes_sent": 120,
             "transfer_path": "/g.txt"},
            {"raw_command": "QUIT", "response_code": 221, "response_msg": "Goodbye.",
             "original_user": "ftpuser", "user": "ftpuser", "group": "ftpgroup"},
        ])

    @defer.inlineCallbacks
    def test_event_all_sequence(self):
        yield e2e.in_thread(self.session)
        records = yield e2e.wait_records(self.db, b"every", 16)
        commands = [(r.get("command"), r.get("response_code")) for r in map(json.loads, records)]
        # ftplib: TYPE A + PASV before LIST, TYPE I + PASV before STOR and RETR.
        self.assertEqual(commands, [
            (None, None), ("USER", 331), ("PASS", 230),
            ("TYPE", 200), ("PASV", 227), ("LIST", 226),
            ("TYPE", 200), ("PASV", 227), ("STOR", 226),
            ("TYPE", 200), ("PASV", 227), ("RETR", 226),
            ("RNFR", 350), ("RNTO", 250), ("DELE", 250), ("QUIT", 221), ("EXIT", None),
        ])
        self.assertEqual(records[0], b"{}")

    @defer.inlineCallbacks
    def test_failed_login(self):
        def bad():
            import ftplib
            ftp = e2e.ftp_connect(self.port, user=None)
            with self.assertRaises(ftplib.error_perm) as caught:
                ftp.login("ftpuser", "wrong password")
            ftp.quit()
            return str(caught.exception)

        reply = yield e2e.in_thread(bad)
        self.assertEqual(reply, "530 Login incorrect.")
        records = yield e2e.wait_records(self.db, b"texts", 3)
        self.assertEqual([json.loads(r) for r in records], [
            {"raw_command": "USER ftpuser", "response_code": 331,
             "response_msg": "Password required for ftpuser", "original_user": "ftpuser"},
            {"raw_command": "PASS (hidden)", "response_code": 530,
             "response_msg": "Login incorrect.", "original_user": "ftpuser"},
            {"raw_command": "QUIT", "response_code": 221, "response_msg": "Goodbye."},
        ])
        every = yield e2e.wait_records(self.db, b"every", 5)
        self.assertEqual(json.loads(every[-1]), {"command": "EXIT"})
        # The password is in no record and in no log line.
        for record in records + every:
            self.assertNotIn(b"wrong password", record)

    @defer.inlineCallbacks
    def test_redis_down_costs_the_client_nothing(self):
        """Records pushed while Redis is down arrive, in order, once it is back."""
        self.redis.stop()
        got = yield e2e.in_thread(self.session)
        self.assertEqual(got, PAYLOAD)
        self.redis.start(same_port=True)
        records = yield e2e.wait_records(self.db, b"file-transfers", 2, timeout=15)
        self.assertEqual([json.loads(r)["raw_command"] for r in records],
                         ["STOR f.txt", "RETR f.txt"])
