# -*- test-case-name: tests.test_conformance_variables -*-
"""Conformance: every LogFormat variable (doc/records.rst), byte for byte against 1.3.8.

Each test runs a scenario of ``tests/support/scenarios.py`` (same config body, same ftplib
script) against ftpredis in-process with a private redis-server, and compares every
record, byte for byte after pinning clocks, pids, ports, temp paths and the daemon's own
uid (their formats are checked first, see :mod:`tests.conformance`).  The expected
records are what ProFTPD 1.3.8 + mod_redis wrote for the same session (``python3
tools/compare_proftpd.py SCENARIO -v``), except where a comment cites doc/decisions.rst.
"""

import json
import os

from twisted.internet import defer

from tests.support.conformance import ScenarioCase


class VariableTests(ScenarioCase):

    def setUp(self):
        super().setUp()
        # %{FOO}e reads the server's environment at log time (the tool sets it for both
        # servers it starts).
        old = os.environ.get("FOO")
        os.environ["FOO"] = "bar-env-value"
        self.addCleanup(lambda: os.environ.pop("FOO") if old is None
                        else os.environ.__setitem__("FOO", old))

    @defer.inlineCallbacks
    def test_session_variables(self):
        """%a %h %H %L %V %v %p %P %{version} %{protocol} %{remote-port} %{uid} %{gid} %U %u
        %g %E %I %O %A %c %l: CONNECT, login, STOR, QUIT, EXIT (byte counters exact)."""
        got = yield self.runScenario("vars_session")
        self.assertRecords(got, VARS_SESSION)

    @defer.inlineCallbacks
    def test_command_variables(self):
        """%m %r %J %s %S %b %f %F %d %D %w %{basename} %{transfer-*} %{file-*} %T %R per
        command, failed ones included."""
        got = yield self.runScenario("vars_command")
        self.assertRecords(got, VARS_COMMAND)

    @defer.inlineCallbacks
    def test_time_environment_notes_literals(self):
        """%t %{iso8601} %{epoch} %{microsecs} %{millisecs} %{FMT}t %{time:FMT}, %{NAME}e,
        %{note:...}, unknown %{x} and %Z dropped, no %% escape, duplicates kept."""
        got = yield self.runScenario("vars_time")
        self.assertRecords(got, VARS_TIME)
        raw = (yield self.settled())[b"t"][1]
        # doc/decisions.rst, "Note keys": NOTE:<name> as documented (ProFTPD: NOTE:<value>).
        self.assertIn(b'"ENV:FOO":"bar-env-value","NOTE:mod_auth.orig-user":"ftpuser"', raw)

    @defer.inlineCallbacks
    def test_notes(self):
        """The notes ProFTPD sets: mod_auth.orig-user, mod_xfer.retr-path/store-path (STOU
        too), mod_xfer.file-modified, mod_core.rnfr-path (from RNFR through RNTO)."""
        got = yield self.runScenario("notes")
        self.assertRecords(got, NOTES)
        raw = [json.loads(r, object_pairs_hook=list) for r in (yield self.settled())[b"n"]]
        self.assertEqual(raw[8][1:], [("NOTE:mod_auth.orig-user", "ftpuser"),
                                      ("NOTE:mod_xfer.store-path", "/f.txt"),
                                      ("NOTE:mod_xfer.file-modified", "true")])

    @defer.inlineCallbacks
    def test_transfer_speed(self):
        """%{transfer-speed}: "<n>.<nn>KB/s" on transfers with a file size.  Not in 1.3.8's
        Jot (ProFTPD logs nothing for it); kept as documented (doc/decisions.rst,
        "Transfer speed")."""
        got = yield self.runScenario("speed")
        self.assertRecords(got, SPEED)


VARS_SESSION = {
    's': [
        '{"remote_ip":"127.0.0.1","remote_dns":"127.0.0.1","server_ip":"127.0.0.1","local_ip":"127.0.0.1","server_dns":"127.0.0.1","server_name":"example","local_port":"<PORT>","pid":"<PID>","server_version":"<VERSION>","protocol":"ftp","remote_port":"<PORT>","uid":"<DAEMON>","gid":"<DAEMON>","session_bytes_rcvd":0,"session_bytes_sent":0}',
        '{"remote_ip":"127.0.0.1","remote_dns":"127.0.0.1","server_ip":"127.0.0.1","local_ip":"127.0.0.1","server_dns":"127.0.0.1","server_name":"example","local_port":"<PORT>","pid":"<PID>","server_version":"<VERSION>","protocol":"ftp","remote_port":"<PORT>","uid":"<DAEMON>","gid":"<DAEMON>","original_user":"ftpuser","session_bytes_rcvd":14,"session_bytes_sent":19}',
        '{"remote_ip":"127.0.0.1","remote_dns":"127.0.0.1","server_ip":"127.0.0.1","local_ip":"127.0.0.1","server_dns":"127.0.0.1","server_name":"example","local_port":"<PORT>","pid":"<PID>","server_version":"<VERSION>","protocol":"ftp","remote_port":"<PORT>","uid":5001,"gid":5001,"original_user":"ftpuser","user":"ftpuser","group":"ftpgroup","session_bytes_rcvd":28,"session_bytes_sent":54}',
        '{"remote_ip":"127.0.0.1","remote_dns":"127.0.0.1","server_ip":"127.0.0.1","local_ip":"127.0.0.1","server_dns":"127.0.0.1","server_name":"example","local_port":"<PORT>","pid":"<PID>","server_version":"<VERSION>","protocol":"ftp","remote_port":"<PORT>","uid":5001,"gid":5001,"original_user":"ftpuser","user":"ftpuser","group":"ftpgroup","session_bytes_rcvd":33,"session_bytes_sent":82}',
        '{"remote_ip":"127.0.0.1","remote_dns":"127.0.0.1","server_ip":"127.0.0.1","local_ip":"127.0.0.1","server_dns":"127.0.0.1","server_name":"example","local_port":"<PORT>","pid":"<PID>","server_version":"<VERSION>","protocol":"ftp","remote_port":"<PORT>","uid":5001,"gid":5001,"original_user":"ftpuser","user":"ftpuser","group":"ftpgroup","session_bytes_rcvd":41,"session_bytes_sent":116}',
        '{"remote_ip":"127.0.0.1","remote_dns":"127.0.0.1","server_ip":"127.0.0.1","local_ip":"127.0.0.1","server_dns":"127.0.0.1","server_name":"example","local_port":"<PORT>","pid":"<PID>","server_version":"<VERSION>","protocol":"ftp","remote_port":"<PORT>","uid":5001,"gid":5001,"original_user":"ftpuser","user":"ftpuser","group":"ftpgroup","session_bytes_rcvd":47,"session_bytes_sent":135}',
        '{"remote_ip":"127.0.0.1","remote_dns":"127.0.0.1","server_ip":"127.0.0.1","local_ip":"127.0.0.1","server_dns":"127.0.0.1","server_name":"example","local_port":"<PORT>","pid":"<PID>","server_version":"<VERSION>","protocol":"ftp","remote_port":"<PORT>","uid":5001,"gid":5001,"original_user":"ftpuser","user":"ftpuser","group":"ftpgroup","session_bytes_rcvd":179,"session_bytes_sent":234}',
        '{"remote_ip":"127.0.0.1","remote_dns":"127.0.0.1","server_ip":"127.0.0.1","local_ip":"127.0.0.1","server_dns":"127.0.0.1","server_name":"example","local_port":"<PORT>","pid":"<PID>","server_version":"<VERSION>","protocol":"ftp","remote_port":"<PORT>","uid":5001,"gid":5001,"original_user":"ftpuser","user":"ftpuser","group":"ftpgroup","session_bytes_rcvd":185,"session_bytes_sent":271}',
        '{"remote_ip":"127.0.0.1","remote_dns":"127.0.0.1","server_ip":"127.0.0.1","local_ip":"127.0.0.1","server_dns":"127.0.0.1","server_name":"example","local_port":"<PORT>","pid":"<PID>","server_version":"<VERSION>","protocol":"ftp","remote_port":"<PORT>","uid":5001,"gid":5001,"original_user":"ftpuser","user":"ftpuser","group":"ftpgroup","session_end_reason":"Quit","session_bytes_rcvd":185,"session_bytes_sent":271}',
    ],
}


VARS_COMMAND = {
    'c': [
        '{"dir_name":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"USER","raw_command":"USER ftpuser","command_params":"ftpuser","response_code":331,"response_msg":"Password required for ftpuser","dir_name":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","response_code":230,"response_msg":"User ftpuser logged in","dir_name":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"PWD","raw_command":"PWD","response_code":257,"response_msg":"\\"/\\" is the current directory","file":"<BASE>/home/ftpuser/","dir_name":"/","basename":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"MKD","raw_command":"MKD d","command_params":"d","response_code":257,"response_msg":"\\"/d\\" - Directory successfully created","file":"<BASE>/home/ftpuser/d","transfer_path":"/d","dir_name":"d","dir_path":"<BASE>/home/ftpuser/d","basename":"d","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"CWD","raw_command":"CWD d","command_params":"d","response_code":250,"response_msg":"CWD command successful","file":"<BASE>/home/ftpuser/d","dir_name":"d","dir_path":"<BASE>/home/ftpuser/d","basename":"d","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"TYPE","raw_command":"TYPE I","command_params":"I","response_code":200,"response_msg":"Type set to I","dir_name":"/d","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/d","file_modified":false,"transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"STOR","raw_command":"STOR inner.txt","command_params":"inner.txt","response_code":226,"response_msg":"Transfer complete","bytes_sent":120,"file":"<BASE>/home/ftpuser/d/inner.txt","transfer_path":"/d/inner.txt","dir_name":"/d","basename":"inner.txt","transfer_status":"success","transfer_type":"binary","file_modified":false,"file_offset":0,"file_size":120,"transfer_secs":"<SECS>","transfer_millis":"<MS>","transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"CDUP","raw_command":"CDUP","response_code":250,"response_msg":"CDUP command successful","file":"<BASE>/home/ftpuser/","dir_name":"","dir_path":"<BASE>/home/ftpuser/","basename":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"TYPE","raw_command":"TYPE A","command_params":"A","response_code":200,"response_msg":"Type set to A","dir_name":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/","file_modified":false,"transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"NLST","raw_command":"NLST","response_code":226,"response_msg":"Transfer complete","bytes_sent":8,"file":"<BASE>/home/ftpuser/","dir_name":"","dir_path":"<BASE>/home/ftpuser/","basename":"","transfer_status":"success","transfer_type":"ASCII","file_modified":false,"transfer_secs":"<SECS>","transfer_millis":"<MS>","transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"TYPE","raw_command":"TYPE A","command_params":"A","response_code":200,"response_msg":"Type set to A","dir_name":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/","file_modified":false,"transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"NLST","raw_command":"NLST d","command_params":"d","response_code":226,"response_msg":"Transfer complete","bytes_sent":13,"file":"<BASE>/home/ftpuser/d","dir_name":"d","dir_path":"<BASE>/home/ftpuser/d","basename":"d","transfer_status":"success","transfer_type":"ASCII","file_modified":false,"transfer_secs":"<SECS>","transfer_millis":"<MS>","transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"TYPE","raw_command":"TYPE I","command_params":"I","response_code":200,"response_msg":"Type set to I","dir_name":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/","file_modified":false,"transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"STOR","raw_command":"STOR f.txt","command_params":"f.txt","response_code":226,"response_msg":"Transfer complete","bytes_sent":120,"file":"<BASE>/home/ftpuser/f.txt","transfer_path":"/f.txt","dir_name":"/","basename":"f.txt","transfer_status":"success","transfer_type":"binary","file_modified":false,"file_offset":0,"file_size":120,"transfer_secs":"<SECS>","transfer_millis":"<MS>","transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"TYPE","raw_command":"TYPE I","command_params":"I","response_code":200,"response_msg":"Type set to I","dir_name":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/","file_modified":false,"transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"STOR","raw_command":"STOR f.txt","command_params":"f.txt","response_code":226,"response_msg":"Transfer complete","bytes_sent":120,"file":"<BASE>/home/ftpuser/f.txt","transfer_path":"/f.txt","dir_name":"/","basename":"f.txt","transfer_status":"success","transfer_type":"binary","file_modified":true,"file_offset":0,"file_size":120,"transfer_secs":"<SECS>","transfer_millis":"<MS>","transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"SIZE","raw_command":"SIZE f.txt","command_params":"f.txt","response_code":213,"response_msg":"120","dir_name":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"MDTM","raw_command":"MDTM pub/a.txt","command_params":"pub/a.txt","response_code":213,"response_msg":"<MDTM>","file":"<BASE>/home/ftpuser/pub/a.txt","dir_name":"/","basename":"a.txt","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"TYPE","raw_command":"TYPE I","command_params":"I","response_code":200,"response_msg":"Type set to I","dir_name":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/","file_modified":false,"transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"RETR","raw_command":"RETR f.txt","command_params":"f.txt","response_code":226,"response_msg":"Transfer complete","bytes_sent":120,"file":"<BASE>/home/ftpuser/f.txt","transfer_path":"/f.txt","dir_name":"/","basename":"f.txt","transfer_status":"success","transfer_type":"binary","file_modified":false,"file_offset":0,"file_size":120,"transfer_secs":"<SECS>","transfer_millis":"<MS>","transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"TYPE","raw_command":"TYPE I","command_params":"I","response_code":200,"response_msg":"Type set to I","dir_name":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/","file_modified":false,"transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"REST","raw_command":"REST 100","command_params":"100","response_code":350,"response_msg":"Restarting at 100. Send STORE or RETRIEVE to initiate transfer","dir_name":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"RETR","raw_command":"RETR f.txt","command_params":"f.txt","response_code":226,"response_msg":"Transfer complete","bytes_sent":20,"file":"<BASE>/home/ftpuser/f.txt","transfer_path":"/f.txt","dir_name":"/","basename":"f.txt","transfer_status":"success","transfer_type":"binary","file_modified":false,"file_offset":100,"file_size":120,"transfer_secs":"<SECS>","transfer_millis":"<MS>","transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"TYPE","raw_command":"TYPE I","command_params":"I","response_code":200,"response_msg":"Type set to I","dir_name":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/","file_modified":false,"transfer_port":"<PORT>","response_millis":"<MS>"}',
        # doc/decisions.rst, "Transfer failure text": after ". " (ProFTPD: "xt: ...").
        '{"command":"APPE","raw_command":"APPE f.txt","command_params":"f.txt","response_code":451,"response_msg":"f.txt: Append/Restart not permitted, try again","dir_name":"/","transfer_status":"failed","transfer_failure":"f.txt: Append/Restart not permitted, try again","transfer_type":"binary","file_modified":false,"transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/","file_modified":false,"transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"STOU","raw_command":"STOU","response_code":226,"response_msg":"Transfer complete","bytes_sent":7,"file":"<BASE>/home/ftpuser/<STOU>","transfer_path":"/<STOU>","dir_name":"/","basename":"<STOU>","transfer_status":"success","transfer_type":"binary","file_modified":false,"file_offset":0,"file_size":7,"transfer_secs":"<SECS>","transfer_millis":"<MS>","transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"DELE","raw_command":"DELE d/inner.txt","command_params":"d/inner.txt","response_code":250,"response_msg":"DELE command successful","bytes_sent":120,"file":"<BASE>/home/ftpuser/d/inner.txt","transfer_path":"/d/inner.txt","dir_name":"/","basename":"inner.txt","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"SITE CHMOD","raw_command":"SITE chmod 600 f.txt","command_params":"chmod 600 f.txt","response_code":200,"response_msg":"SITE CHMOD command successful","file":"<BASE>/home/ftpuser/f.txt","dir_name":"/","basename":"f.txt","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"RNFR","raw_command":"RNFR f.txt","command_params":"f.txt","response_code":350,"response_msg":"File or directory exists, ready for destination name","bytes_sent":0,"file":"<BASE>/home/ftpuser/f.txt","transfer_path":"/f.txt","dir_name":"/","basename":"f.txt","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"RNTO","raw_command":"RNTO g.txt","command_params":"g.txt","response_code":250,"response_msg":"Rename successful","bytes_sent":0,"file":"<BASE>/home/ftpuser/g.txt","transfer_path":"/g.txt","dir_name":"/","rename_from":"/f.txt","basename":"g.txt","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"RMD","raw_command":"RMD d","command_params":"d","response_code":250,"response_msg":"RMD command successful","file":"<BASE>/home/ftpuser/d","transfer_path":"/d","dir_name":"d","dir_path":"<BASE>/home/ftpuser/d","basename":"d","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"TYPE","raw_command":"TYPE I","command_params":"I","response_code":200,"response_msg":"Type set to I","dir_name":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/","file_modified":false,"transfer_port":"<PORT>","response_millis":"<MS>"}',
        # doc/decisions.rst: as above (ProFTPD: "xt: No such file or directory").
        '{"command":"RETR","raw_command":"RETR missing.txt","command_params":"missing.txt","response_code":550,"response_msg":"missing.txt: No such file or directory","dir_name":"/","transfer_status":"failed","transfer_failure":"missing.txt: No such file or directory","transfer_type":"binary","file_modified":false,"transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"DELE","raw_command":"DELE missing.txt","command_params":"missing.txt","response_code":550,"response_msg":"missing.txt: No such file or directory","bytes_sent":0,"file":"<BASE>/home/ftpuser/missing.txt","transfer_path":"/missing.txt","dir_name":"/","basename":"missing.txt","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"TYPE","raw_command":"TYPE I","command_params":"I","response_code":200,"response_msg":"Type set to I","dir_name":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/","file_modified":false,"transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"RETR","raw_command":"RETR pub","command_params":"pub","response_code":550,"response_msg":"pub: Not a regular file","dir_name":"/","transfer_status":"failed","transfer_failure":"pub: Not a regular file","transfer_type":"binary","file_modified":false,"transfer_port":"<PORT>","response_millis":"<MS>"}',
        '{"command":"NOOP","raw_command":"NOOP","response_code":200,"response_msg":"NOOP command successful","dir_name":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","dir_name":"/","file_modified":false,"response_millis":"<MS>"}',
        '{"command":"EXIT","dir_name":"/","file_modified":false,"response_millis":"<MS>"}',
    ],
}


VARS_TIME = {
    't': [
        '{"local_time":"<TIME>","timestamp":"<TIME>","epoch":"<EPOCH>","microsecs":"<USEC>","millisecs":"<MSEC>","%Y-%m-%d":"<TIME>","%H:%M":"<TIME>","YYYY-MM-DD":"YYYY-MM-DD","ENV:FOO":"bar-env-value","timestamp":"<TIME>"}',
        '{"local_time":"<TIME>","timestamp":"<TIME>","epoch":"<EPOCH>","microsecs":"<USEC>","millisecs":"<MSEC>","%Y-%m-%d":"<TIME>","%H:%M":"<TIME>","YYYY-MM-DD":"YYYY-MM-DD","ENV:FOO":"bar-env-value","NOTE:<NAME>":"ftpuser","timestamp":"<TIME>"}',
        '{"local_time":"<TIME>","timestamp":"<TIME>","epoch":"<EPOCH>","microsecs":"<USEC>","millisecs":"<MSEC>","%Y-%m-%d":"<TIME>","%H:%M":"<TIME>","YYYY-MM-DD":"YYYY-MM-DD","ENV:FOO":"bar-env-value","NOTE:<NAME>":"ftpuser","user":"ftpuser","timestamp":"<TIME>"}',
        '{"local_time":"<TIME>","timestamp":"<TIME>","epoch":"<EPOCH>","microsecs":"<USEC>","millisecs":"<MSEC>","%Y-%m-%d":"<TIME>","%H:%M":"<TIME>","YYYY-MM-DD":"YYYY-MM-DD","ENV:FOO":"bar-env-value","NOTE:<NAME>":"ftpuser","user":"ftpuser","timestamp":"<TIME>"}',
        '{"local_time":"<TIME>","timestamp":"<TIME>","epoch":"<EPOCH>","microsecs":"<USEC>","millisecs":"<MSEC>","%Y-%m-%d":"<TIME>","%H:%M":"<TIME>","YYYY-MM-DD":"YYYY-MM-DD","ENV:FOO":"bar-env-value","NOTE:<NAME>":"ftpuser","user":"ftpuser","timestamp":"<TIME>"}',
    ],
}


NOTES = {
    'n': [
        '{}',
        '{"command":"USER","NOTE:<NAME>":"ftpuser"}',
        '{"command":"PASS","NOTE:<NAME>":"ftpuser"}',
        '{"command":"TYPE","NOTE:<NAME>":"ftpuser"}',
        '{"command":"PASV","NOTE:<NAME>":"ftpuser"}',
        '{"command":"STOR","NOTE:<NAME>":"ftpuser","NOTE:<NAME>":"/f.txt"}',
        '{"command":"TYPE","NOTE:<NAME>":"ftpuser"}',
        '{"command":"PASV","NOTE:<NAME>":"ftpuser"}',
        '{"command":"STOR","NOTE:<NAME>":"ftpuser","NOTE:<NAME>":"/f.txt","NOTE:<NAME>":"true"}',
        '{"command":"TYPE","NOTE:<NAME>":"ftpuser"}',
        '{"command":"PASV","NOTE:<NAME>":"ftpuser"}',
        '{"command":"RETR","NOTE:<NAME>":"ftpuser","NOTE:<NAME>":"/pub/a.txt"}',
        '{"command":"TYPE","NOTE:<NAME>":"ftpuser"}',
        '{"command":"PASV","NOTE:<NAME>":"ftpuser"}',
        '{"command":"RETR","NOTE:<NAME>":"ftpuser"}',
        '{"command":"PASV","NOTE:<NAME>":"ftpuser"}',
        '{"command":"STOU","NOTE:<NAME>":"ftpuser","NOTE:<NAME>":"/<STOU>"}',
        '{"command":"RNFR","NOTE:<NAME>":"ftpuser","NOTE:<NAME>":"/f.txt"}',
        '{"command":"NOOP","NOTE:<NAME>":"ftpuser","NOTE:<NAME>":"/f.txt"}',
        '{"command":"RNTO","NOTE:<NAME>":"ftpuser","NOTE:<NAME>":"/f.txt"}',
        '{"command":"NOOP","NOTE:<NAME>":"ftpuser"}',
        '{"command":"RNFR","NOTE:<NAME>":"ftpuser"}',
        '{"command":"QUIT","NOTE:<NAME>":"ftpuser"}',
        '{"command":"EXIT","NOTE:<NAME>":"ftpuser"}',
    ],
}


# ProFTPD 1.3.8: the same without transfer_speed.
SPEED = {
    'x': [
        '{"command":"PWD"}',
        '{"command":"STOR","transfer_speed":"<SPEED>","file_size":120}',
        '{"command":"RETR","transfer_speed":"<SPEED>","file_size":120}',
        '{"command":"NLST"}',
    ],
}
