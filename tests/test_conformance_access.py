# -*- test-case-name: tests.test_conformance_access -*-
"""Conformance: ``Allow``/``Deny`` by client address in ``<Limit>`` sections.

The scenario ``access_rules`` of ``tests/support/scenarios.py`` runs against ftpredis
in-process with a private redis-server (each session binding another loopback address),
and every record is compared with what ProFTPD 1.3.8 + mod_redis wrote for the same
sessions (``python3 tools/compare_proftpd.py access_rules -v``: identical), byte for byte
after the normalisation of :mod:`tests.support.conformance`.
"""

from twisted.internet import defer

from tests.support.conformance import ScenarioCase


class AccessRulesTests(ScenarioCase):

    @defer.inlineCallbacks
    def test_access_rules(self):
        """127.0.0.9 (outside 127.0.0.0/29 and 127.0.1.) is dropped before the banner,
        leaving no record at all; 127.0.1.9 gets in by the prefix, but its MKD is refused
        ("Order deny,allow" matching nothing denies); 127.0.0.3's STOR is refused by a
        <Directory>'s Deny; DenyUser refuses DELE except from 127.0.0.4 (allow,deny: an
        Allow match wins); RMD is refused from 127.0.0.5 although AllowUser names the user
        (deny,allow: a Deny match wins)."""
        got = yield self.runScenario("access_rules")
        self.assertRecords(got, ACCESS_RULES)
        self.assertNotIn("127.0.0.9", " ".join(r for rs in got.values() for r in rs))
        self.assertIn("< 550 b.txt: Operation not permitted", self.transcript)

    @defer.inlineCallbacks
    def test_access_classes(self):
        """<Class>: 127.0.1.3 (class blocked) is dropped before the banner by DenyClass in
        <Limit LOGIN>; only class internal (a network and an address) may MKD; RMD under
        Order deny,allow is allowed to class both (Satisfy all) and to class outside
        (From !127.0.0.1: every other address), refused to internal."""
        got = yield self.runScenario("access_classes")
        self.assertRecords(got, ACCESS_CLASSES)


ACCESS_RULES = {
    'm': [
        '{"remote_ip":"127.0.1.9"}',
        '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","remote_ip":"127.0.1.9"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","user":"ftpuser","remote_ip":"127.0.1.9"}',
        '{"command":"TYPE","raw_command":"TYPE I","response_code":200,"response_msg":"Type set to I","user":"ftpuser","remote_ip":"127.0.1.9"}',
        '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","user":"ftpuser","remote_ip":"127.0.1.9"}',
        '{"command":"STOR","raw_command":"STOR a.txt","response_code":226,"response_msg":"Transfer complete","user":"ftpuser","remote_ip":"127.0.1.9"}',
        '{"command":"MKD","raw_command":"MKD d","response_code":550,"response_msg":"d: Permission denied","user":"ftpuser","remote_ip":"127.0.1.9"}',
        '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","user":"ftpuser","remote_ip":"127.0.1.9"}',
        '{"command":"EXIT","user":"ftpuser","remote_ip":"127.0.1.9"}',
        '{"remote_ip":"127.0.0.2"}',
        '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","remote_ip":"127.0.0.2"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","user":"ftpuser","remote_ip":"127.0.0.2"}',
        '{"command":"MKD","raw_command":"MKD d","response_code":257,"response_msg":"\\"/d\\" - Directory successfully created","user":"ftpuser","remote_ip":"127.0.0.2"}',
        '{"command":"MKD","raw_command":"MKD e","response_code":257,"response_msg":"\\"/e\\" - Directory successfully created","user":"ftpuser","remote_ip":"127.0.0.2"}',
        '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","user":"ftpuser","remote_ip":"127.0.0.2"}',
        '{"command":"EXIT","user":"ftpuser","remote_ip":"127.0.0.2"}',
        '{"remote_ip":"127.0.0.3"}',
        '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","remote_ip":"127.0.0.3"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","user":"ftpuser","remote_ip":"127.0.0.3"}',
        '{"command":"TYPE","raw_command":"TYPE I","response_code":200,"response_msg":"Type set to I","user":"ftpuser","remote_ip":"127.0.0.3"}',
        '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","user":"ftpuser","remote_ip":"127.0.0.3"}',
        '{"command":"STOR","raw_command":"STOR b.txt","response_code":550,"response_msg":"b.txt: Operation not permitted","user":"ftpuser","remote_ip":"127.0.0.3"}',
        '{"command":"DELE","raw_command":"DELE a.txt","response_code":550,"response_msg":"a.txt: Operation not permitted","user":"ftpuser","remote_ip":"127.0.0.3"}',
        '{"command":"RMD","raw_command":"RMD e","response_code":250,"response_msg":"RMD command successful","user":"ftpuser","remote_ip":"127.0.0.3"}',
        '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","user":"ftpuser","remote_ip":"127.0.0.3"}',
        '{"command":"EXIT","user":"ftpuser","remote_ip":"127.0.0.3"}',
        '{"remote_ip":"127.0.0.4"}',
        '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","remote_ip":"127.0.0.4"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","user":"ftpuser","remote_ip":"127.0.0.4"}',
        '{"command":"DELE","raw_command":"DELE a.txt","response_code":250,"response_msg":"DELE command successful","user":"ftpuser","remote_ip":"127.0.0.4"}',
        '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","user":"ftpuser","remote_ip":"127.0.0.4"}',
        '{"command":"EXIT","user":"ftpuser","remote_ip":"127.0.0.4"}',
        '{"remote_ip":"127.0.0.5"}',
        '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","remote_ip":"127.0.0.5"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","user":"ftpuser","remote_ip":"127.0.0.5"}',
        '{"command":"RMD","raw_command":"RMD d","response_code":550,"response_msg":"d: Permission denied","user":"ftpuser","remote_ip":"127.0.0.5"}',
        '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","user":"ftpuser","remote_ip":"127.0.0.5"}',
        '{"command":"EXIT","user":"ftpuser","remote_ip":"127.0.0.5"}',
    ],
}


ACCESS_CLASSES = {
    'm': [
        '{"remote_ip":"127.0.0.2"}',
        '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","remote_ip":"127.0.0.2"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","user":"ftpuser","remote_ip":"127.0.0.2"}',
        '{"command":"MKD","raw_command":"MKD d127.0.0.2","response_code":257,"response_msg":"\\"/d127.0.0.2\\" - Directory successfully created","user":"ftpuser","remote_ip":"127.0.0.2"}',
        '{"command":"RMD","raw_command":"RMD d127.0.0.2","response_code":550,"response_msg":"d127.0.0.2: Permission denied","user":"ftpuser","remote_ip":"127.0.0.2"}',
        '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","user":"ftpuser","remote_ip":"127.0.0.2"}',
        '{"command":"EXIT","user":"ftpuser","remote_ip":"127.0.0.2"}',
        '{"remote_ip":"127.0.2.1"}',
        '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","remote_ip":"127.0.2.1"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","user":"ftpuser","remote_ip":"127.0.2.1"}',
        '{"command":"MKD","raw_command":"MKD d127.0.2.1","response_code":257,"response_msg":"\\"/d127.0.2.1\\" - Directory successfully created","user":"ftpuser","remote_ip":"127.0.2.1"}',
        '{"command":"RMD","raw_command":"RMD d127.0.2.1","response_code":550,"response_msg":"d127.0.2.1: Permission denied","user":"ftpuser","remote_ip":"127.0.2.1"}',
        '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","user":"ftpuser","remote_ip":"127.0.2.1"}',
        '{"command":"EXIT","user":"ftpuser","remote_ip":"127.0.2.1"}',
        '{"remote_ip":"127.0.0.5"}',
        '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","remote_ip":"127.0.0.5"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","user":"ftpuser","remote_ip":"127.0.0.5"}',
        '{"command":"MKD","raw_command":"MKD d127.0.0.5","response_code":550,"response_msg":"d127.0.0.5: Permission denied","user":"ftpuser","remote_ip":"127.0.0.5"}',
        '{"command":"RMD","raw_command":"RMD d127.0.0.5","response_code":550,"response_msg":"d127.0.0.5: No such file or directory","user":"ftpuser","remote_ip":"127.0.0.5"}',
        '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","user":"ftpuser","remote_ip":"127.0.0.5"}',
        '{"command":"EXIT","user":"ftpuser","remote_ip":"127.0.0.5"}',
        '{"remote_ip":"127.0.0.9"}',
        '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","remote_ip":"127.0.0.9"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","user":"ftpuser","remote_ip":"127.0.0.9"}',
        '{"command":"MKD","raw_command":"MKD d127.0.0.9","response_code":550,"response_msg":"d127.0.0.9: Permission denied","user":"ftpuser","remote_ip":"127.0.0.9"}',
        '{"command":"RMD","raw_command":"RMD d127.0.0.9","response_code":550,"response_msg":"d127.0.0.9: No such file or directory","user":"ftpuser","remote_ip":"127.0.0.9"}',
        '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","user":"ftpuser","remote_ip":"127.0.0.9"}',
        '{"command":"EXIT","user":"ftpuser","remote_ip":"127.0.0.9"}',
    ],
}
