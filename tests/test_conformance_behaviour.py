# -*- test-case-name: tests.test_conformance_behaviour -*-
"""Conformance: behaviour where ftpredis once differed from ProFTPD 1.3.8, not only its
records: MaxClients, RequireValidShell in <Anonymous>, REST/RANG then STOR, and the paths
LIST, NLST and MLSD log.

Each test runs a scenario of ``tests/support/scenarios.py`` (same config body, same ftplib
script) against ftpredis in-process with a private redis-server and compares every record
with what ProFTPD 1.3.8 + mod_redis wrote for the same session (``python3
tools/compare_proftpd.py SCENARIO -v``), byte for byte after the normalisation of
:mod:`tests.support.conformance`; where the client or the disk shows the behaviour, the
test checks that too.
"""

import os

from twisted.internet import defer

from ftpredis.config import load_config
from tests.support.conformance import ScenarioCase


class BehaviourTests(ScenarioCase):

    @defer.inlineCallbacks
    def test_max_clients_counts_logged_in_sessions(self):
        """MaxClients 1: ProFTPD greets every connection (two idle ones beyond the limit
        included) and refuses the second login at PASS with "530 Sorry, the maximum number
        of allowed clients (1) are already connected.", logging the refused account and
        ending the session "Configured policy: Denied by MaxClients"."""
        got = yield self.runScenario("max_clients")
        self.assertRecords(got, MAX_CLIENTS)
        self.assertEqual([line for line in self.transcript if line.startswith("< 220")],
                         ["< 220 example ready"] * 4)

    @defer.inlineCallbacks
    def test_max_clients_and_anonymous_logins(self):
        """MaxClients 1: ProFTPD lets an anonymous login in beside ftpuser's session (it
        counts only the anonymous sessions of the same account), refuses a second
        anonymous one, and refuses a second ordinary login (every session counts)."""
        got = yield self.runScenario("max_clients_anon")
        self.assertRecords(got, MAX_CLIENTS_ANON)

    @defer.inlineCallbacks
    def test_require_valid_shell_in_anonymous(self):
        """ProFTPD accepts RequireValidShell inside <Anonymous> and checks the anonymous
        account's shell (/bin/false here, not in /etc/shells) with it: "530 Login
        incorrect."; a section without it takes the server's setting (off here)."""
        got = yield self.runScenario("anon_valid_shell")
        self.assertRecords(got, ANON_VALID_SHELL)
        anon = load_config(self.site.conf).servers[0].anonymous
        self.assertEqual([a.require_valid_shell for a in anon], [True, None])

    @defer.inlineCallbacks
    def test_rest_or_rang_then_stor_keeps_the_rest(self):
        """REST 3 (or RANG 3 4) then a 2-byte STOR over a 15-byte file: ProFTPD writes the
        bytes at offset 3 and keeps the rest (file_size 15); its RANG STOR opening names
        the range's length."""
        got = yield self.runScenario("rest_stor")
        self.assertRecords(got, REST_STOR)
        for name in ("f.txt", "g.txt"):
            with open(os.path.join(self.site.home, name), "rb") as f:
                self.assertEqual(f.read(), b"012XY56789abcde", name)
        self.assertIn("< 150 Opening BINARY mode data connection for g.txt (2 bytes)",
                      self.transcript)

    @defer.inlineCallbacks
    def test_listing_paths_as_written(self):
        """LIST/NLST/MLSD d/ and d: ProFTPD's %f and %D keep the argument as written after
        the directory, trailing slash included (and %d of "d/" is empty)."""
        got = yield self.runScenario("list_paths")
        self.assertRecords(got, LIST_PATHS)

MAX_CLIENTS = {
    'm': [
        '{}',
        '{}',
        '{}',
        '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","user":"ftpuser","group":"ftpgroup"}',
        '{}',
        '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","response_code":530,"response_msg":"Sorry, the maximum number of allowed clients (1) are already connected.","user":"ftpuser","group":"ftpgroup"}',
        '{"command":"EXIT","user":"ftpuser","group":"ftpgroup","session_end_reason":"Configured policy: Denied by MaxClients"}',
        '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","user":"ftpuser","group":"ftpgroup"}',
        '{"command":"EXIT","user":"ftpuser","group":"ftpgroup","session_end_reason":"Quit"}',
        '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye."}',
        '{"command":"EXIT","session_end_reason":"Quit"}',
        '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye."}',
        '{"command":"EXIT","session_end_reason":"Quit"}',
    ],
}

MAX_CLIENTS_ANON = {
    'm': [
        '{"command":"PASS","response_code":230,"response_msg":"User ftpuser logged in","user":"ftpuser"}',
        '{"command":"PASS","response_code":230,"response_msg":"Anonymous access granted, restrictions apply","user":"ftpanon"}',
        '{"command":"PASS","response_code":530,"response_msg":"Sorry, the maximum number of allowed clients (1) are already connected.","user":"ftpanon"}',
        '{"command":"PASS","response_code":530,"response_msg":"Sorry, the maximum number of allowed clients (1) are already connected.","user":"ftpuser"}',
    ],
}

ANON_VALID_SHELL = {
    'a': [
        '{"command":"USER","raw_command":"USER anonymous","response_code":331,"response_msg":"Anonymous login ok, send your complete email address as your password"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","response_code":530,"response_msg":"Login incorrect."}',
        '{"command":"USER","raw_command":"USER guest","response_code":331,"response_msg":"Anonymous login ok, send your complete email address as your password"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"Anonymous access granted, restrictions apply","user":"ftpanon"}',
        '{"command":"PWD","raw_command":"PWD","response_code":257,"response_msg":"\\"/\\" is the current directory","user":"ftpanon"}',
        '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","user":"ftpuser"}',
        '{"command":"PWD","raw_command":"PWD","response_code":257,"response_msg":"\\"/\\" is the current directory","user":"ftpuser"}',
    ],
}

REST_STOR = {
    'x': [
        '{"command":"REST","raw_command":"REST 3","response_code":350}',
        '{"command":"STOR","raw_command":"STOR f.txt","response_code":226,"file_offset":3,"file_size":15,"bytes_sent":2}',
        '{"command":"SIZE","raw_command":"SIZE f.txt","response_code":213}',
        '{"command":"RETR","raw_command":"RETR f.txt","response_code":226,"file_offset":0,"file_size":15,"bytes_sent":15}',
        '{"command":"RANG","raw_command":"RANG 3 4","response_code":350}',
        '{"command":"STOR","raw_command":"STOR g.txt","response_code":226,"file_offset":3,"file_size":15,"bytes_sent":2}',
        '{"command":"SIZE","raw_command":"SIZE g.txt","response_code":213}',
        '{"command":"RETR","raw_command":"RETR g.txt","response_code":226,"file_offset":0,"file_size":15,"bytes_sent":15}',
    ],
}

LIST_PATHS = {
    'l': [
        '{"command":"LIST","raw_command":"LIST d/","response_code":226,"file":"<BASE>/home/ftpuser/d/","dir_name":"","dir_path":"<BASE>/home/ftpuser/d/","command_params":"d/"}',
        '{"command":"LIST","raw_command":"LIST d","response_code":226,"file":"<BASE>/home/ftpuser/d","dir_name":"d","dir_path":"<BASE>/home/ftpuser/d","command_params":"d"}',
        '{"command":"NLST","raw_command":"NLST d/","response_code":226,"file":"<BASE>/home/ftpuser/d/","dir_name":"","dir_path":"<BASE>/home/ftpuser/d/","command_params":"d/"}',
        '{"command":"NLST","raw_command":"NLST d","response_code":226,"file":"<BASE>/home/ftpuser/d","dir_name":"d","dir_path":"<BASE>/home/ftpuser/d","command_params":"d"}',
        '{"command":"MLSD","raw_command":"MLSD d/","response_code":226,"file":"<BASE>/home/ftpuser/d/","dir_name":"","dir_path":"<BASE>/home/ftpuser/d/","command_params":"d/"}',
        '{"command":"MLSD","raw_command":"MLSD d","response_code":226,"file":"<BASE>/home/ftpuser/d","dir_name":"d","dir_path":"<BASE>/home/ftpuser/d","command_params":"d"}',
        '{"command":"LIST","raw_command":"LIST -la d/","response_code":226,"file":"<BASE>/home/ftpuser/-la d/","dir_name":"","dir_path":"<BASE>/home/ftpuser/-la d/","command_params":"-la d/"}',
        '{"command":"NLST","raw_command":"NLST d/../d","response_code":226,"file":"<BASE>/home/ftpuser/d/../d","dir_name":"d","dir_path":"<BASE>/home/ftpuser/d/../d","command_params":"d/../d"}',
        '{"command":"MLSD","raw_command":"MLSD /","response_code":226,"file":"<BASE>/home/ftpuser/","dir_name":"/","dir_path":"<BASE>/home/ftpuser/","command_params":"/"}',
        '{"command":"LIST","raw_command":"LIST /d/","response_code":226,"file":"<BASE>/home/ftpuser/d/","dir_name":"","dir_path":"<BASE>/home/ftpuser/d/","command_params":"/d/"}',
        '{"command":"LIST","raw_command":"LIST","response_code":226,"file":"<BASE>/home/ftpuser/","dir_name":"","dir_path":"<BASE>/home/ftpuser/"}',
    ],
}
