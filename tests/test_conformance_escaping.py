# -*- test-case-name: tests.test_conformance_escaping -*-
"""Conformance: file and user names with quotes, backslashes, tabs, emoji, control bytes
and invalid UTF-8 in records.

Each test runs a scenario of ``tests/support/scenarios.py`` (same config body, same ftplib
script) against ftpredis in-process with a private redis-server, and compares every
record, byte for byte after pinning clocks, pids, ports, temp paths and the daemon's own
uid (their formats are checked first, see :mod:`tests.conformance`).  The expected
records are what ProFTPD 1.3.8 + mod_redis wrote for the same session (``python3
tools/compare_proftpd.py SCENARIO -v``), except where a comment cites doc/decisions.rst.
"""

import json

from twisted.internet import defer

from tests.support.conformance import ScenarioCase


class EscapingTests(ScenarioCase):

    @defer.inlineCallbacks
    def test_file_names(self):
        """STOR/MKD of odd names: %r joins words with one space, %J keeps tabs, paths keep
        every byte; 0x1F/0x7F escaped and invalid UTF-8 as U+FFFD (doc/decisions.rst)."""
        got = yield self.runScenario("escaping")
        self.assertRecords(got, ESCAPING)
        # The JSON on the wire is valid UTF-8 and valid JSON.
        for raw in (yield self.settled())[b"e"]:
            json.loads(raw.decode("utf-8"))

    @defer.inlineCallbacks
    def test_user_names(self):
        """USER with odd names (failed logins): %U/%J keep them whole, the 331 text names
        the first word only, as ProFTPD's does."""
        got = yield self.runScenario("user_names")
        self.assertRecords(got, USER_NAMES)


# doc/decisions.rst, "Control bytes 0x1F and 0x7F" and "Invalid UTF-8":
# "ctl-\x01\x1f\x7f.txt" has 0x1F/0x7F escaped (ProFTPD: raw bytes), and the
# invalid bytes of "bad-\xfe\xfd.txt" are U+FFFD each (ProFTPD's session aborts; its last
# records are missing accordingly).
ESCAPING = {
    'e': [
        '{}',
        '{"raw_command":"USER ftpuser","command_params":"ftpuser","original_user":"ftpuser","response_msg":"Password required for ftpuser"}',
        '{"raw_command":"PASS (hidden)","command_params":"(hidden)","original_user":"ftpuser","response_msg":"User ftpuser logged in"}',
        '{"raw_command":"TYPE I","command_params":"I","original_user":"ftpuser","response_msg":"Type set to I"}',
        '{"raw_command":"TYPE I","command_params":"I","original_user":"ftpuser","response_msg":"Type set to I"}',
        '{"raw_command":"PASV","original_user":"ftpuser","response_msg":"Entering Passive Mode (<PASV>)."}',
        '{"raw_command":"STOR q\\"uote.txt","command_params":"q\\"uote.txt","file":"<BASE>/home/ftpuser/q\\"uote.txt","transfer_path":"/q\\"uote.txt","original_user":"ftpuser","basename":"q\\"uote.txt","response_msg":"Transfer complete"}',
        '{"raw_command":"TYPE I","command_params":"I","original_user":"ftpuser","response_msg":"Type set to I"}',
        '{"raw_command":"PASV","original_user":"ftpuser","response_msg":"Entering Passive Mode (<PASV>)."}',
        '{"raw_command":"STOR back\\\\slash.txt","command_params":"back\\\\slash.txt","file":"<BASE>/home/ftpuser/back\\\\slash.txt","transfer_path":"/back\\\\slash.txt","original_user":"ftpuser","basename":"back\\\\slash.txt","response_msg":"Transfer complete"}',
        '{"raw_command":"TYPE I","command_params":"I","original_user":"ftpuser","response_msg":"Type set to I"}',
        '{"raw_command":"PASV","original_user":"ftpuser","response_msg":"Entering Passive Mode (<PASV>)."}',
        '{"raw_command":"STOR tab here.txt","command_params":"tab\\there.txt","file":"<BASE>/home/ftpuser/tab\\there.txt","transfer_path":"/tab\\there.txt","original_user":"ftpuser","basename":"tab\\there.txt","response_msg":"Transfer complete"}',
        '{"raw_command":"TYPE I","command_params":"I","original_user":"ftpuser","response_msg":"Type set to I"}',
        '{"raw_command":"PASV","original_user":"ftpuser","response_msg":"Entering Passive Mode (<PASV>)."}',
        '{"raw_command":"STOR emoji-😀.txt","command_params":"emoji-😀.txt","file":"<BASE>/home/ftpuser/emoji-😀.txt","transfer_path":"/emoji-😀.txt","original_user":"ftpuser","basename":"emoji-😀.txt","response_msg":"Transfer complete"}',
        '{"raw_command":"TYPE I","command_params":"I","original_user":"ftpuser","response_msg":"Type set to I"}',
        '{"raw_command":"PASV","original_user":"ftpuser","response_msg":"Entering Passive Mode (<PASV>)."}',
        '{"raw_command":"STOR ctl-\\u0001\\u001F\\u007F.txt","command_params":"ctl-\\u0001\\u001F\\u007F.txt","file":"<BASE>/home/ftpuser/ctl-\\u0001\\u001F\\u007F.txt","transfer_path":"/ctl-\\u0001\\u001F\\u007F.txt","original_user":"ftpuser","basename":"ctl-\\u0001\\u001F\\u007F.txt","response_msg":"Transfer complete"}',
        '{"raw_command":"MKD dir with tabs","command_params":"dir\\twith\\ttabs","file":"<BASE>/home/ftpuser/dir\\twith\\ttabs","transfer_path":"/dir\\twith\\ttabs","original_user":"ftpuser","basename":"dir\\twith\\ttabs","response_msg":"\\"/dir\\twith\\ttabs\\" - Directory successfully created"}',
        '{"raw_command":"TYPE I","command_params":"I","original_user":"ftpuser","response_msg":"Type set to I"}',
        '{"raw_command":"PASV","original_user":"ftpuser","response_msg":"Entering Passive Mode (<PASV>)."}',
        '{"raw_command":"STOR bad-��.txt","command_params":"bad-��.txt","file":"<BASE>/home/ftpuser/bad-��.txt","transfer_path":"/bad-��.txt","original_user":"ftpuser","basename":"bad-��.txt","response_msg":"Transfer complete"}',
        '{"raw_command":"QUIT","original_user":"ftpuser","response_msg":"Goodbye."}',
        '{"original_user":"ftpuser"}',
    ],
}


# doc/decisions.rst, "Control bytes 0x1F and 0x7F": escaped in the ctl name (ProFTPD: raw).
USER_NAMES = {
    'u': [
        '{}',
        '{"command":"USER","raw_command":"USER we\\"ird","command_params":"we\\"ird","original_user":"we\\"ird","response_msg":"Password required for we\\"ird"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","original_user":"we\\"ird","response_msg":"Login incorrect."}',
        '{"command":"QUIT","raw_command":"QUIT","response_msg":"Goodbye."}',
        '{"command":"EXIT"}',
        '{}',
        '{"command":"USER","raw_command":"USER back\\\\slash","command_params":"back\\\\slash","original_user":"back\\\\slash","response_msg":"Password required for back\\\\slash"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","original_user":"back\\\\slash","response_msg":"Login incorrect."}',
        '{"command":"QUIT","raw_command":"QUIT","response_msg":"Goodbye."}',
        '{"command":"EXIT"}',
        '{}',
        '{"command":"USER","raw_command":"USER tab name","command_params":"tab\\tname","original_user":"tab\\tname","response_msg":"Password required for tab"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","original_user":"tab\\tname","response_msg":"Login incorrect."}',
        '{"command":"QUIT","raw_command":"QUIT","response_msg":"Goodbye."}',
        '{"command":"EXIT"}',
        '{}',
        '{"command":"USER","raw_command":"USER 😀","command_params":"😀","original_user":"😀","response_msg":"Password required for 😀"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","original_user":"😀","response_msg":"Login incorrect."}',
        '{"command":"QUIT","raw_command":"QUIT","response_msg":"Goodbye."}',
        '{"command":"EXIT"}',
        '{}',
        '{"command":"USER","raw_command":"USER ctl\\u0001\\u001F\\u007F","command_params":"ctl\\u0001\\u001F\\u007F","original_user":"ctl\\u0001\\u001F\\u007F","response_msg":"Password required for ctl\\u0001\\u001F\\u007F"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","original_user":"ctl\\u0001\\u001F\\u007F","response_msg":"Login incorrect."}',
        '{"command":"QUIT","raw_command":"QUIT","response_msg":"Goodbye."}',
        '{"command":"EXIT"}',
        '{}',
        '{"command":"USER","raw_command":"USER two spaces","command_params":"two  spaces","original_user":"two  spaces","response_msg":"Password required for two"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","original_user":"two  spaces","response_msg":"Login incorrect."}',
        '{"command":"QUIT","raw_command":"QUIT","response_msg":"Goodbye."}',
        '{"command":"EXIT"}',
        '{}',
        '{"command":"USER","raw_command":"USER nb\xa0sp","command_params":"nb\xa0sp","original_user":"nb\xa0sp","response_msg":"Password required for nb\xa0sp"}',
        '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","original_user":"nb\xa0sp","response_msg":"Login incorrect."}',
        '{"command":"QUIT","raw_command":"QUIT","response_msg":"Goodbye."}',
        '{"command":"EXIT"}',
    ],
}
