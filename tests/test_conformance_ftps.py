# -*- test-case-name: tests.test_conformance_ftps -*-
"""Conformance: FTPS sessions (the scenarios of ``tests/support/ftps_scenarios.py``):
SSCN, and data connections whose TLS handshake fails.

The expected transcripts and records are what proftpd 1.3.8 (Debian 12, mod_tls 2.9.2,
mod_redis, the site of tests/support/ftpsite.py) answered and wrote for the same sessions,
observed with ``python3 tools/compare_proftpd.py ftps_x -v`` (as root) and normalised as
:mod:`tests.support.conformance` does; only the PASV port numbers are masked here.  CI
has no proftpd: the tests run ftpredis only.

SSCN and its replies are not logged: it is not one of the command ids
``RedisLogOnEvent ALL`` selects (ProFTPD's neither).
"""

import os

from twisted.internet import defer

from tests.support import ftps_scenarios    # registers the ftps_* scenarios
from tests.support.conformance import ScenarioCase


class FTPSTests(ScenarioCase):

    maxDiff = None

    @defer.inlineCallbacks
    def test_sscn(self):
        """SSCN: 500 before AUTH, 530 before login, "200 SSCN:SERVER METHOD" /
        "SSCN:CLIENT METHOD" for the query, ON and OFF (case-sensitive), 501 for any
        other word, 504 for two; with SSCN ON a download and an upload whose data
        connection ftpredis opens as the TLS client (the FTP client is the TLS server),
        a listing that stays on the server side, and SSCN OFF again."""
        yield self.checkScenario("ftps_sscn", FTPS_SSCN, FTPS_SSCN_REPLIES)
        with open(os.path.join(self.site.home, "up.txt"), "rb") as f:
            self.assertEqual(f.read(), b"u" * 500)

    def test_failed_data_handshake(self):
        """Data connections that answer the handshake with an HTTP request, for each
        transfer and listing, and one whose handshake does not resume the control
        session: 150, then "425 Unable to build data connection: Operation not
        permitted", logged with %b 0 as a plain 425 is."""
        return self.checkScenario("ftps_data_handshake", FTPS_DATA_HANDSHAKE,
                                  FTPS_DATA_HANDSHAKE_REPLIES)


# Observed on proftpd 1.3.8 (Debian), see the module docstring.
FTPS_SSCN_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> SSCN',
    '< 500 SSCN not understood',
    '> QUIT',
    '< 221 Goodbye.',
    '< 220 example ready',
    '> AUTH TLS',
    '< 234 AUTH TLS successful',
    '> SSCN',
    '< 530 Please login with USER and PASS',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> PBSZ 0',
    '< 200 PBSZ 0 successful',
    '> PROT P',
    '< 200 Protection set to Private',
    '> SSCN',
    '< 200 SSCN:SERVER METHOD',
    '> SSCN ON',
    '< 200 SSCN:CLIENT METHOD',
    '> SSCN',
    '< 200 SSCN:CLIENT METHOD',
    '> SSCN on',
    '< 501 SSCN: Invalid argument',
    '> SSCN ON OFF',
    '< 504 SSCN: Invalid argument',
    '> SSCN foo',
    '< 501 SSCN: Invalid argument',
    '> SSCN OFF',
    '< 200 SSCN:SERVER METHOD',
    '> SSCN',
    '< 200 SSCN:SERVER METHOD',
    '> SSCN ON',
    '< 200 SSCN:CLIENT METHOD',
    '> TYPE I',
    '< 200 Type set to I',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> RETR a.txt',
    '< 150 Opening BINARY mode data connection for a.txt (1000 bytes)',
    '< 226 Transfer complete',
    '# got 1000 bytes',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> STOR up.txt',
    '< 150 Opening BINARY mode data connection for up.txt',
    '< 226 Transfer complete',
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> NLST',
    '< 150 Opening ASCII mode data connection for file list',
    '< 226 Transfer complete',
    '> SSCN OFF',
    '< 200 SSCN:SERVER METHOD',
    '> TYPE I',
    '< 200 Type set to I',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> RETR a.txt',
    '< 150 Opening BINARY mode data connection for a.txt (1000 bytes)',
    '< 226 Transfer complete',
    '> QUIT',
    '< 221 Goodbye.',
]
FTPS_SSCN = [
    '{"protocol":"ftp"}',
    '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","protocol":"ftp"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","protocol":"ftp"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","protocol":"ftp"}',
    '{"command":"EXIT","protocol":"ftp"}',
    '{"protocol":"ftp"}',
    '{"command":"AUTH","raw_command":"AUTH TLS","response_code":234,"response_msg":"AUTH TLS successful","protocol":"ftps"}',
    '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","protocol":"ftps"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","protocol":"ftps"}',
    '{"command":"PBSZ","raw_command":"PBSZ 0","response_code":200,"response_msg":"PBSZ 0 successful","protocol":"ftps"}',
    '{"command":"PROT","raw_command":"PROT P","response_code":200,"response_msg":"Protection set to Private","protocol":"ftps"}',
    '{"command":"TYPE","raw_command":"TYPE I","response_code":200,"response_msg":"Type set to I","protocol":"ftps"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","protocol":"ftps"}',
    '{"command":"RETR","raw_command":"RETR a.txt","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/a.txt","bytes_sent":1000,"protocol":"ftps","transfer_status":"success"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","protocol":"ftps"}',
    '{"command":"STOR","raw_command":"STOR up.txt","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/up.txt","bytes_sent":500,"protocol":"ftps","transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","protocol":"ftps"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","protocol":"ftps"}',
    '{"command":"NLST","raw_command":"NLST","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/","bytes_sent":15,"protocol":"ftps","transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE I","response_code":200,"response_msg":"Type set to I","protocol":"ftps"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","protocol":"ftps"}',
    '{"command":"RETR","raw_command":"RETR a.txt","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/a.txt","bytes_sent":1000,"protocol":"ftps","transfer_status":"success"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","protocol":"ftps"}',
    '{"command":"EXIT","protocol":"ftps"}',
]


FTPS_DATA_HANDSHAKE_REPLIES = [
    '< 220 example ready',
    '> AUTH TLS',
    '< 234 AUTH TLS successful',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> PBSZ 0',
    '< 200 PBSZ 0 successful',
    '> PROT P',
    '< 200 Protection set to Private',
    '> TYPE I',
    '< 200 Type set to I',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> RETR a.txt',
    '< 150 Opening BINARY mode data connection for a.txt (1000 bytes)',
    '< 425 Unable to build data connection: Operation not permitted',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> STOR up.txt',
    '< 150 Opening BINARY mode data connection for up.txt',
    '< 425 Unable to build data connection: Operation not permitted',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> LIST',
    '< 150 Opening BINARY mode data connection for file list',
    '< 425 Unable to build data connection: Operation not permitted',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> NLST',
    '< 150 Opening BINARY mode data connection for file list',
    '< 425 Unable to build data connection: Operation not permitted',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> MLSD',
    '< 150 Opening BINARY mode data connection for MLSD',
    '< 425 Unable to build data connection: Operation not permitted',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> RETR a.txt',
    '< 150 Opening BINARY mode data connection for a.txt (1000 bytes)',
    '< 425 Unable to build data connection: Operation not permitted',
    '> QUIT',
    '< 221 Goodbye.',
]
FTPS_DATA_HANDSHAKE = [
    '{"protocol":"ftp"}',
    '{"command":"AUTH","raw_command":"AUTH TLS","response_code":234,"response_msg":"AUTH TLS successful","protocol":"ftps"}',
    '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","protocol":"ftps"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","protocol":"ftps"}',
    '{"command":"PBSZ","raw_command":"PBSZ 0","response_code":200,"response_msg":"PBSZ 0 successful","protocol":"ftps"}',
    '{"command":"PROT","raw_command":"PROT P","response_code":200,"response_msg":"Protection set to Private","protocol":"ftps"}',
    '{"command":"TYPE","raw_command":"TYPE I","response_code":200,"response_msg":"Type set to I","protocol":"ftps"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","protocol":"ftps"}',
    '{"command":"RETR","raw_command":"RETR a.txt","response_code":425,"response_msg":"Unable to build data connection: Operation not permitted","file":"<BASE>/home/ftpuser/a.txt","bytes_sent":0,"protocol":"ftps","transfer_status":"failed","transfer_failure":"Unable to build data connection: Operation not permitted"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","protocol":"ftps"}',
    '{"command":"STOR","raw_command":"STOR up.txt","response_code":425,"response_msg":"Unable to build data connection: Operation not permitted","file":"<BASE>/home/ftpuser/up.txt","bytes_sent":0,"protocol":"ftps","transfer_status":"failed","transfer_failure":"Unable to build data connection: Operation not permitted"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","protocol":"ftps"}',
    '{"command":"LIST","raw_command":"LIST","response_code":425,"response_msg":"Unable to build data connection: Operation not permitted","file":"<BASE>/home/ftpuser/","bytes_sent":0,"protocol":"ftps","transfer_status":"failed","transfer_failure":"Unable to build data connection: Operation not permitted"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","protocol":"ftps"}',
    '{"command":"NLST","raw_command":"NLST","response_code":425,"response_msg":"Unable to build data connection: Operation not permitted","file":"<BASE>/home/ftpuser/","bytes_sent":0,"protocol":"ftps","transfer_status":"failed","transfer_failure":"Unable to build data connection: Operation not permitted"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","protocol":"ftps"}',
    '{"command":"MLSD","raw_command":"MLSD","response_code":425,"response_msg":"Unable to build data connection: Operation not permitted","file":"<BASE>/home/ftpuser/","bytes_sent":0,"protocol":"ftps","transfer_status":"failed","transfer_failure":"Unable to build data connection: Operation not permitted"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","protocol":"ftps"}',
    '{"command":"RETR","raw_command":"RETR a.txt","response_code":425,"response_msg":"Unable to build data connection: Operation not permitted","file":"<BASE>/home/ftpuser/a.txt","bytes_sent":0,"protocol":"ftps","transfer_status":"failed","transfer_failure":"Unable to build data connection: Operation not permitted"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","protocol":"ftps"}',
    '{"command":"EXIT","protocol":"ftps"}',
]
