# -*- test-case-name: tests.test_conformance_abort -*-
"""Conformance: ABOR and data connections the client resets (the scenarios of
``tests/support/abort_scenarios.py``).

The expected transcripts and records are what proftpd 1.3.8 (Debian 12, mod_redis, the
site of tests/support/ftpsite.py) answered and wrote for the same sessions, observed with
``python3 tools/compare_proftpd.py abort_x -v`` (as root) and normalised as
:mod:`tests.support.conformance` does; only the PASV port numbers are masked here.  CI has
no proftpd: the tests run ftpredis only.

ProFTPD has two 426 texts: its "lingering abort" for an ABOR during a transfer
(src/netio.c) ends with a period, pr_data_abort's for a connection reset or broken
(src/data.c) does not; %{transfer-failure} is the text after ". " either way.
"""

import re

from twisted.internet import defer

from tests.support import abort_scenarios    # registers the abort_* scenarios
from tests.support.conformance import ScenarioCase


class AbortTests(ScenarioCase):

    def test_abor_without_transfer(self):
        """ABOR with nothing to abort, before and after a transfer: "226 Abort
        successful", and its record's %{transfer-status} is "cancelled" (Jot gives ABOR
        one, from its reply)."""
        return self.checkScenario("abort_idle", ABORT_IDLE, ABORT_IDLE_REPLIES)

    @defer.inlineCallbacks
    def test_reset_data_connection(self):
        """An upload and a download reset by the client: "426 Transfer aborted. Data
        connection closed" (no period), "failed", "Data connection closed"."""
        yield self.checkScenario("abort_reset", ABORT_RESET, ABORT_RESET_REPLIES)
        # The download was reset while most of it was still to be sent.
        self.assertIn("(%d bytes)" % len(abort_scenarios.FILES["big.bin"]),
                      self.transcript[16])

    def test_reset_transfer_fields(self):
        """A reset upload or download logs its %f, %F, %{basename} and %{file-offset}
        with the 426 (an upload's are known once its file is open)."""
        return self.checkScenario("abort_fields", ABORT_FIELDS, ABORT_FIELDS_REPLIES)

    def test_refused_data_connection(self):
        """PORT to a port nothing listens on: 425 "Unable to build data connection:
        Connection refused" at once, logged with %b 0 (and an upload's paths)."""
        return self.checkScenario(
            "abort_refused", ABORT_REFUSED, ABORT_REFUSED_REPLIES,
            mask=lambda line: re.sub(r"^> PORT [\d,]+$", "> PORT <ADDR>", line))

    def test_stalled_transfer_ends_the_session(self):
        """TimeoutStalled ends the session, without a word to the client: the transfer's
        record (426) and EXIT's carry "Timeout exceeded: TimeoutStalled during data
        transfer"."""
        return self.checkScenario("abort_stalled", ABORT_STALLED, ABORT_STALLED_REPLIES)


# Observed on proftpd 1.3.8 (Debian), see the module docstring.
ABORT_IDLE_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> ABOR',
    '< 226 Abort successful',
    '> TYPE I',
    '< 200 Type set to I',
    '> TYPE I',
    '< 200 Type set to I',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> RETR a.txt',
    '< 150 Opening BINARY mode data connection for a.txt (10 bytes)',
    '< 226 Transfer complete',
    '> ABOR',
    '< 226 Abort successful',
    '> QUIT',
    '< 221 Goodbye.',
]
ABORT_IDLE = [
    '{}',
    '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in"}',
    '{"command":"ABOR","raw_command":"ABOR","response_code":226,"response_msg":"Abort successful","transfer_status":"cancelled"}',
    '{"command":"TYPE","raw_command":"TYPE I","response_code":200,"response_msg":"Type set to I"}',
    '{"command":"TYPE","raw_command":"TYPE I","response_code":200,"response_msg":"Type set to I"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>)."}',
    '{"command":"RETR","raw_command":"RETR a.txt","response_code":226,"response_msg":"Transfer complete","transfer_status":"success"}',
    '{"command":"ABOR","raw_command":"ABOR","response_code":226,"response_msg":"Abort successful","transfer_status":"cancelled"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye."}',
    '{"command":"EXIT"}',
]
ABORT_RESET_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> TYPE I',
    '< 200 Type set to I',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> STOR up.bin',
    '< 150 Opening BINARY mode data connection for up.bin',
    '< 426 Transfer aborted. Data connection closed',
    '# 426',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> RETR big.bin',
    '< 150 Opening BINARY mode data connection for big.bin (8388608 bytes)',
    '< 426 Transfer aborted. Data connection closed',
    '# 426',
    '> QUIT',
    '< 221 Goodbye.',
]
ABORT_RESET = [
    '{}',
    '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in"}',
    '{"command":"TYPE","raw_command":"TYPE I","response_code":200,"response_msg":"Type set to I"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>)."}',
    '{"command":"STOR","raw_command":"STOR up.bin","response_code":426,"response_msg":"Transfer aborted. Data connection closed","transfer_status":"failed","transfer_failure":"Data connection closed"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>)."}',
    '{"command":"RETR","raw_command":"RETR big.bin","response_code":426,"response_msg":"Transfer aborted. Data connection closed","transfer_status":"failed","transfer_failure":"Data connection closed"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye."}',
    '{"command":"EXIT"}',
]

ABORT_FIELDS_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> TYPE I',
    '< 200 Type set to I',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> STOR up.bin',
    '< 150 Opening BINARY mode data connection for up.bin',
    '< 426 Transfer aborted. Data connection closed',
    '# 426',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> RETR big.bin',
    '< 150 Opening BINARY mode data connection for big.bin (8388608 bytes)',
    '< 426 Transfer aborted. Data connection closed',
    '# 426',
    '> QUIT',
    '< 221 Goodbye.',
]
ABORT_FIELDS = [
    '{"command":"STOR","raw_command":"STOR up.bin","response_code":426,"file":"<BASE>/home/ftpuser/up.bin","transfer_path":"/up.bin","basename":"up.bin","file_offset":0,"transfer_status":"failed"}',
    '{"command":"RETR","raw_command":"RETR big.bin","response_code":426,"file":"<BASE>/home/ftpuser/big.bin","transfer_path":"/big.bin","basename":"big.bin","file_offset":0,"transfer_status":"failed"}',
]

ABORT_REFUSED_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> TYPE I',
    '< 200 Type set to I',
    '> PORT <ADDR>',
    '< 200 PORT command successful',
    '> RETR a.txt',
    '< 425 Unable to build data connection: Connection refused',
    '# 425',
    '> PORT <ADDR>',
    '< 200 PORT command successful',
    '> STOR up.txt',
    '< 425 Unable to build data connection: Connection refused',
    '# 425',
    '> PORT <ADDR>',
    '< 200 PORT command successful',
    '> LIST',
    '< 425 Unable to build data connection: Connection refused',
    '# 425',
    '> PORT <ADDR>',
    '< 200 PORT command successful',
    '> NLST',
    '< 425 Unable to build data connection: Connection refused',
    '# 425',
    '> PORT <ADDR>',
    '< 200 PORT command successful',
    '> MLSD',
    '< 425 Unable to build data connection: Connection refused',
    '# 425',
    '> QUIT',
    '< 221 Goodbye.',
]
ABORT_REFUSED = [
    '{"command":"RETR","raw_command":"RETR a.txt","response_code":425,"response_msg":"Unable to build data connection: Connection refused","file":"<BASE>/home/ftpuser/a.txt","transfer_path":"/a.txt","bytes_sent":0,"file_offset":0,"transfer_status":"failed"}',
    '{"command":"STOR","raw_command":"STOR up.txt","response_code":425,"response_msg":"Unable to build data connection: Connection refused","file":"<BASE>/home/ftpuser/up.txt","transfer_path":"/up.txt","bytes_sent":0,"file_offset":0,"transfer_status":"failed"}',
    '{"command":"LIST","raw_command":"LIST","response_code":425,"response_msg":"Unable to build data connection: Connection refused","file":"<BASE>/home/ftpuser/","bytes_sent":0,"transfer_status":"failed"}',
    '{"command":"NLST","raw_command":"NLST","response_code":425,"response_msg":"Unable to build data connection: Connection refused","file":"<BASE>/home/ftpuser/","bytes_sent":0,"transfer_status":"failed"}',
    '{"command":"MLSD","raw_command":"MLSD","response_code":425,"response_msg":"Unable to build data connection: Connection refused","file":"<BASE>/home/ftpuser/","bytes_sent":0,"transfer_status":"failed"}',
]

ABORT_STALLED_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> TYPE I',
    '< 200 Type set to I',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> RETR big.bin',
    '< 150 Opening BINARY mode data connection for big.bin (8388608 bytes)',
]
ABORT_STALLED = [
    '{}',
    '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in"}',
    '{"command":"TYPE","raw_command":"TYPE I","response_code":200,"response_msg":"Type set to I"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>)."}',
    '{"command":"RETR","raw_command":"RETR big.bin","response_code":426,"response_msg":"Transfer aborted. Data connection closed","session_end_reason":"Timeout exceeded: TimeoutStalled during data transfer","transfer_status":"failed","transfer_failure":"Data connection closed"}',
    '{"command":"EXIT","session_end_reason":"Timeout exceeded: TimeoutStalled during data transfer"}',
]
