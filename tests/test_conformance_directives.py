# -*- test-case-name: tests.test_conformance_directives -*-
"""Conformance: RedisLogOnCommand, RedisLogOnEvent, RedisLogFormatExtra, keys, DISCONNECT.

Each test runs a scenario of ``tests/support/scenarios.py`` (same config body, same ftplib
script) against ftpredis in-process with a private redis-server, and compares every
record, byte for byte after pinning clocks, pids, ports, temp paths and the daemon's own
uid (their formats are checked first, see :mod:`tests.conformance`).  The expected
records are what ProFTPD 1.3.8 + mod_redis wrote for the same session (``python3
tools/compare_proftpd.py SCENARIO -v``), except where a comment cites doc/decisions.rst.
"""

from twisted.internet import defer

from tests.support.conformance import ScenarioCase


class DirectiveTests(ScenarioCase):

    @defer.inlineCallbacks
    def test_event_classes_and_command_lists(self):
        """RedisLogOnEvent INFO/DIRS/READ/WRITE/MISC/AUTH/CONNECT,DISCONNECT/mixed lists/
        "|" lists/ignored words; RedisLogOnCommand names case-insensitively, plus ALL and
        CONNECT (doc/decisions.rst, "RedisLogOnCommand ALL" and "RedisLogOnCommand
        CONNECT,DISCONNECT")."""
        got = yield self.runScenario("event_classes")
        self.assertRecords(got, EVENT_CLASSES)

    @defer.inlineCallbacks
    def test_keys_extras_and_repeated_directives(self):
        """Key templates (%m:ftpxfer:%u, pre.%u.%m.%a with absent variables), two
        RedisLogFormatExtra merged in order (first wins, format keys win, objects and arrays
        dropped, null kept, strings rendered), one event matching three directives."""
        got = yield self.runScenario("extra_keys")
        self.assertRecords(got, EXTRA_KEYS)

    @defer.inlineCallbacks
    def test_failed_logins(self):
        """Wrong password, unknown user, USER then EOF, connect then EOF."""
        got = yield self.runScenario("failed_login")
        self.assertRecords(got, FAILED_LOGIN)

    @defer.inlineCallbacks
    def test_none_at_server_level(self):
        """RedisLogOnCommand none: its siblings log until a login prunes them."""
        got = yield self.runScenario("none_top")
        self.assertRecords(got, NONE_TOP)

    @defer.inlineCallbacks
    def test_disconnect_reasons(self):
        """DISCONNECT (EXIT) after QUIT, client EOF, idle timeout (TimeoutIdle 1) and a
        server shutdown."""
        got = yield self.runScenario("disconnects")
        self.assertRecords(got, DISCONNECTS)


# doc/decisions.rst, "RedisLogOnCommand ALL" / "RedisLogOnCommand CONNECT,DISCONNECT":
# RedisLogOnCommand ALL logs every command, unknown ones too, and CONNECT/
# DISCONNECT log the session with "connecting"/"disconnecting"; ProFTPD 1.3.8 logs only
# the RETR/STOR records of key "cmd".  Every other key is ProFTPD's.
EVENT_CLASSES = {
    'cmd': [
        '{"connecting":true}',
        '{"command":"USER","response_code":331}',
        '{"command":"PASS","response_code":230}',
        '{"command":"PWD","response_code":257}',
        '{"command":"MKD","response_code":257}',
        '{"command":"CWD","response_code":250}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"STOR","response_code":226}',
        '{"command":"CDUP","response_code":250}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"NLST","response_code":226}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"NLST","response_code":226}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"STOR","response_code":226}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"STOR","response_code":226}',
        '{"command":"SIZE","response_code":213}',
        '{"command":"MDTM","response_code":213}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"RETR","response_code":226}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"REST","response_code":350}',
        '{"command":"RETR","response_code":226}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"APPE","response_code":451}',
        '{"command":"PASV","response_code":227}',
        '{"command":"STOU","response_code":226}',
        '{"command":"DELE","response_code":250}',
        '{"command":"SITE CHMOD","response_code":200}',
        '{"command":"RNFR","response_code":350}',
        '{"command":"RNTO","response_code":250}',
        '{"command":"RMD","response_code":250}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"RETR","response_code":550}',
        '{"command":"DELE","response_code":550}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"RETR","response_code":550}',
        '{"command":"FOO","response_code":500}',
        '{"command":"NOOP","response_code":200}',
        '{"command":"QUIT","response_code":221}',
    ],
    'conn': [
        '{}',
        '{"command":"EXIT"}',
    ],
    'dirs': [
        '{"command":"PWD","response_code":257}',
        '{"command":"MKD","response_code":257}',
        '{"command":"CWD","response_code":250}',
        '{"command":"CDUP","response_code":250}',
        '{"command":"NLST","response_code":226}',
        '{"command":"NLST","response_code":226}',
        '{"command":"MDTM","response_code":213}',
        '{"command":"RMD","response_code":250}',
    ],
    'info': [
        '{"command":"PWD","response_code":257}',
        '{"command":"SIZE","response_code":213}',
        '{"command":"MDTM","response_code":213}',
        '{"command":"QUIT","response_code":221}',
    ],
    'misc': [
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"REST","response_code":350}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"PASV","response_code":227}',
        '{"command":"SITE CHMOD","response_code":200}',
        '{"command":"RNFR","response_code":350}',
        '{"command":"RNTO","response_code":250}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"TYPE","response_code":200}',
        '{"command":"PASV","response_code":227}',
        '{"command":"NOOP","response_code":200}',
    ],
    'pipe': [
        '{"command":"STOR","response_code":226}',
        '{"command":"STOR","response_code":226}',
        '{"command":"STOR","response_code":226}',
        '{"command":"RETR","response_code":226}',
        '{"command":"RETR","response_code":226}',
        '{"command":"RETR","response_code":550}',
        '{"command":"RETR","response_code":550}',
    ],
    'read': [
        '{"command":"RETR","response_code":226}',
        '{"command":"RETR","response_code":226}',
        '{"command":"RETR","response_code":550}',
        '{"command":"RETR","response_code":550}',
    ],
    'readpwd': [
        '{"command":"PWD","response_code":257}',
        '{"command":"RETR","response_code":226}',
        '{"command":"RETR","response_code":226}',
        '{"command":"RETR","response_code":550}',
        '{"command":"RETR","response_code":550}',
    ],
    'write': [
        '{"command":"MKD","response_code":257}',
        '{"command":"STOR","response_code":226}',
        '{"command":"STOR","response_code":226}',
        '{"command":"STOR","response_code":226}',
        '{"command":"APPE","response_code":451}',
        '{"command":"STOU","response_code":226}',
        '{"command":"DELE","response_code":250}',
        '{"command":"RNFR","response_code":350}',
        '{"command":"RNTO","response_code":250}',
        '{"command":"RMD","response_code":250}',
        '{"command":"DELE","response_code":550}',
    ],
}


EXTRA_KEYS = {
    'RETR:ftpxfer:ftpuser': [
        '{"remote_dns":"127.0.0.1","user":"ftpuser","local_time":"<TIME>","raw_command":"RETR f.txt","response_code":226,"bytes_sent":120,"custom_property1":"RETR","custom_property2":"custom_value","n":42,"z":null,"second":"yes 120"}',
    ],
    'STOR:ftpxfer:ftpuser': [
        '{"remote_dns":"127.0.0.1","user":"ftpuser","local_time":"<TIME>","raw_command":"STOR f.txt","response_code":226,"bytes_sent":120,"custom_property1":"STOR","custom_property2":"custom_value","n":42,"z":null,"second":"yes 120"}',
    ],
    'k': [
        '{"command":"PASS"}',
        '{"command":"PASS"}',
    ],
    'pre...127.0.0.1': [
        '{}',
    ],
    'pre..USER.127.0.0.1': [
        '{"command":"USER"}',
    ],
    'pre.ftpuser.EXIT.127.0.0.1': [
        '{"command":"EXIT"}',
    ],
    'pre.ftpuser.PASS.127.0.0.1': [
        '{"command":"PASS"}',
    ],
    'pre.ftpuser.PASV.127.0.0.1': [
        '{"command":"PASV"}',
        '{"command":"PASV"}',
    ],
    'pre.ftpuser.QUIT.127.0.0.1': [
        '{"command":"QUIT"}',
    ],
    'pre.ftpuser.RETR.127.0.0.1': [
        '{"command":"RETR"}',
    ],
    'pre.ftpuser.STOR.127.0.0.1': [
        '{"command":"STOR"}',
    ],
    'pre.ftpuser.TYPE.127.0.0.1': [
        '{"command":"TYPE"}',
        '{"command":"TYPE"}',
    ],
}


FAILED_LOGIN = {
    'f': [
        '{"uid":"<DAEMON>","gid":"<DAEMON>","session_bytes_rcvd":0,"session_bytes_sent":0}',
        '{"command":"USER","raw_command":"USER ftpuser","command_params":"ftpuser","response_code":331,"response_msg":"Password required for ftpuser","original_user":"ftpuser","uid":"<DAEMON>","gid":"<DAEMON>","session_bytes_rcvd":14,"session_bytes_sent":19}',
        '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","response_code":530,"response_msg":"Login incorrect.","original_user":"ftpuser","uid":"<DAEMON>","gid":"<DAEMON>","session_bytes_rcvd":26,"session_bytes_sent":54}',
        '{"command":"USER","raw_command":"USER ftpuser","command_params":"ftpuser","response_code":331,"response_msg":"Password required for ftpuser","original_user":"ftpuser","uid":"<DAEMON>","gid":"<DAEMON>","session_bytes_rcvd":40,"session_bytes_sent":76}',
        '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","response_code":230,"response_msg":"User ftpuser logged in","user":"ftpuser","original_user":"ftpuser","group":"ftpgroup","uid":5001,"gid":5001,"session_bytes_rcvd":54,"session_bytes_sent":111}',
        '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","user":"ftpuser","original_user":"ftpuser","group":"ftpgroup","uid":5001,"gid":5001,"session_bytes_rcvd":60,"session_bytes_sent":153}',
        '{"command":"EXIT","user":"ftpuser","original_user":"ftpuser","group":"ftpgroup","uid":5001,"gid":5001,"session_end_reason":"Quit","session_bytes_rcvd":60,"session_bytes_sent":153}',
        '{"uid":"<DAEMON>","gid":"<DAEMON>","session_bytes_rcvd":0,"session_bytes_sent":0}',
        '{"command":"USER","raw_command":"USER nosuchuser","command_params":"nosuchuser","response_code":331,"response_msg":"Password required for nosuchuser","original_user":"nosuchuser","uid":"<DAEMON>","gid":"<DAEMON>","session_bytes_rcvd":17,"session_bytes_sent":19}',
        '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","response_code":530,"response_msg":"Login incorrect.","original_user":"nosuchuser","uid":"<DAEMON>","gid":"<DAEMON>","session_bytes_rcvd":25,"session_bytes_sent":57}',
        '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","uid":"<DAEMON>","gid":"<DAEMON>","session_bytes_rcvd":31,"session_bytes_sent":93}',
        '{"command":"EXIT","uid":"<DAEMON>","gid":"<DAEMON>","session_end_reason":"Quit","session_bytes_rcvd":31,"session_bytes_sent":93}',
        '{"uid":"<DAEMON>","gid":"<DAEMON>","session_bytes_rcvd":0,"session_bytes_sent":0}',
        '{"command":"USER","raw_command":"USER ftpuser","command_params":"ftpuser","response_code":331,"response_msg":"Password required for ftpuser","original_user":"ftpuser","uid":"<DAEMON>","gid":"<DAEMON>","session_bytes_rcvd":14,"session_bytes_sent":19}',
        '{"command":"EXIT","original_user":"ftpuser","uid":"<DAEMON>","gid":"<DAEMON>","session_end_reason":"Read EOF from client","session_bytes_rcvd":14,"session_bytes_sent":54}',
        '{"uid":"<DAEMON>","gid":"<DAEMON>","session_bytes_rcvd":0,"session_bytes_sent":0}',
        '{"command":"EXIT","uid":"<DAEMON>","gid":"<DAEMON>","session_end_reason":"Read EOF from client","session_bytes_rcvd":0,"session_bytes_sent":19}',
    ],
}


NONE_TOP = {
    'ev': [
        '{}',
        '{"command":"USER","response_code":331}',
        '{"command":"PASS","response_code":530}',
        '{"command":"USER","response_code":331}',
        '{"command":"PASS","response_code":230}',
        '{"command":"PWD","response_code":257}',
        '{"command":"QUIT","response_code":221}',
        '{"command":"EXIT"}',
    ],
    'x': [
        '{"command":"USER","response_code":331}',
        '{"command":"PASS","response_code":530}',
        '{"command":"USER","response_code":331}',
    ],
}


DISCONNECTS = {
    'x': [
        '{}',
        '{"command":"USER","response_code":331}',
        '{"command":"PASS","response_code":230}',
        '{"command":"QUIT","response_code":221}',
        '{"command":"EXIT","session_end_reason":"Quit"}',
        '{}',
        '{"command":"USER","response_code":331}',
        '{"command":"PASS","response_code":230}',
        '{"command":"EXIT","session_end_reason":"Read EOF from client"}',
        '{}',
        '{"command":"USER","response_code":331}',
        '{"command":"PASS","response_code":230}',
        '{"command":"EXIT","session_end_reason":"Timeout exceeded: TimeoutIdle"}',
        '{}',
        '{"command":"USER","response_code":331}',
        '{"command":"PASS","response_code":230}',
        '{"command":"NOOP","response_code":200}',
        # ProFTPD, stopped with SIGTERM: "Terminated by signal: Killed by signal".  ftpredis
        # drains (421 "Server shutting down") and says so.
        '{"command":"EXIT","session_end_reason":"Server shutting down"}',
    ],
}
