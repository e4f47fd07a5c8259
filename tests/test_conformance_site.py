# -*- test-case-name: tests.test_conformance_site -*-
"""Conformance: SITE lines with extra blanks (the ``errors_site_blanks`` scenario of
``tests/support/error_scenarios.py``).

ProFTPD 1.3.8 splits a line that starts with SITE keeping its blanks: each word ends at
one blank and a second blank starts an empty word.  So "SITE  CHMOD 600 b.txt" is the
sub-command "" ("500 'SITE ' not understood", %m "SITE "), "SITE CHMOD  644 b.txt" is
mode "" on the path "644 b.txt", and %r shows every blank.

The expected transcript and records are what proftpd 1.3.8 (Debian 12, mod_redis, the
site of tests/support/ftpsite.py) answered and wrote, observed with ``python3
tools/compare_proftpd.py errors_site_blanks -v`` (as root) and normalised as
:mod:`tests.support.conformance` does.  CI has no proftpd: the tests run ftpredis only.
"""

import os
import stat

from twisted.internet import defer

from tests.support import error_scenarios    # registers the errors_* scenarios
from tests.support.conformance import ScenarioCase


class SiteBlankTests(ScenarioCase):

    @defer.inlineCallbacks
    def test_site_blanks(self):
        """Two blanks after SITE: 500 "'SITE ' not understood" whatever follows; two
        blanks before the mode or the path; a tab after SITE (one blank), blanks only,
        quotes, blanks at the end (the path "" is the current directory); SITE HELP's
        unknown topic as written; an empty mode is 0."""
        yield self.checkScenario("errors_site_blanks", ERRORS_SITE_BLANKS,
                                 ERRORS_SITE_BLANKS_REPLIES)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.site.home, "bb")).st_mode),
                         0)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.site.home, "b.txt")).st_mode),
                         0o600)


# Observed on proftpd 1.3.8 (Debian), see the module docstring.
ERRORS_SITE_BLANKS_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> SITE  CHMOD 600 b.txt',
    "< 500 'SITE ' not understood",
    '> SITE   HELP',
    "< 500 'SITE ' not understood",
    '> SITE  chgrp ftpgroup b.txt',
    "< 500 'SITE ' not understood",
    '> SITE CHMOD  644 b.txt',
    '< 550 644 b.txt: No such file or directory',
    '> SITE CHMOD 640  b.txt',
    '< 200 SITE CHMOD command successful',
    '> SITE\tCHMOD 600 b.txt',
    '< 200 SITE CHMOD command successful',
    '> SITE \tHELP',
    "< 500 'SITE ' not understood",
    '> SITE  ',
    "< 500 'SITE ' not understood",
    '> SITE HELP  CHMOD',
    "< 502 Unknown command 'SITE HELP  CHMOD'",
    '> SITE  FOO',
    "< 500 'SITE ' not understood",
    '> site help foo',
    "< 502 Unknown command 'SITE help foo'",
    '> SITE HELP  ',
    "< 502 Unknown command 'SITE HELP  '",
    '> SITE HELP ',
    "< 214-The following SITE commands are recognized (* =>'s unimplemented)",
    '<  HELP',
    '<  CHGRP',
    '<  CHMOD',
    '< 214 Direct comments to root@127.0.0.1',
    '> SITE CHGRP ftpgroup  b.txt',
    '< 200 SITE CHGRP command successful',
    '> SITE CHMOD 644 "b.txt"',
    '< 200 SITE CHMOD command successful',
    '> SITE CHMOD 600 b.txt ',
    '< 200 SITE CHMOD command successful',
    '> SITE CHMOD 755  ',
    '< 200 SITE CHMOD command successful',
    '> SITE CHMOD  bb',
    '< 200 SITE CHMOD command successful',
    '> QUIT',
    '< 221 Goodbye.',
]
ERRORS_SITE_BLANKS = [
    '{"dir_name":"/"}',
    '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","dir_name":"/"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","dir_name":"/"}',
    '{"command":"SITE ","raw_command":"SITE  CHMOD 600 b.txt","response_code":500,"response_msg":"\'SITE \' not understood","dir_name":"/"}',
    '{"command":"SITE ","raw_command":"SITE   HELP","response_code":500,"response_msg":"\'SITE \' not understood","dir_name":"/"}',
    '{"command":"SITE ","raw_command":"SITE  chgrp ftpgroup b.txt","response_code":500,"response_msg":"\'SITE \' not understood","dir_name":"/"}',
    '{"command":"SITE CHMOD","raw_command":"SITE CHMOD  644 b.txt","response_code":550,"response_msg":"644 b.txt: No such file or directory","file":"<BASE>/home/ftpuser/644 b.txt","dir_name":"/","basename":"644 b.txt"}',
    '{"command":"SITE CHMOD","raw_command":"SITE CHMOD 640  b.txt","response_code":200,"response_msg":"SITE CHMOD command successful","file":"<BASE>/home/ftpuser/b.txt","dir_name":"/","basename":"b.txt"}',
    '{"command":"SITE CHMOD","raw_command":"SITE CHMOD 600 b.txt","response_code":200,"response_msg":"SITE CHMOD command successful","file":"<BASE>/home/ftpuser/b.txt","dir_name":"/","basename":"b.txt"}',
    '{"command":"SITE ","raw_command":"SITE  HELP","response_code":500,"response_msg":"\'SITE \' not understood","dir_name":"/"}',
    '{"command":"SITE ","raw_command":"SITE ","response_code":500,"response_msg":"\'SITE \' not understood","dir_name":"/"}',
    '{"command":"SITE HELP","raw_command":"SITE HELP  CHMOD","response_code":502,"response_msg":"Unknown command \'SITE HELP  CHMOD\'","dir_name":"/"}',
    '{"command":"SITE ","raw_command":"SITE  FOO","response_code":500,"response_msg":"\'SITE \' not understood","dir_name":"/"}',
    '{"command":"SITE HELP","raw_command":"SITE help foo","response_code":502,"response_msg":"Unknown command \'SITE help foo\'","dir_name":"/"}',
    '{"command":"SITE HELP","raw_command":"SITE HELP ","response_code":502,"response_msg":"Unknown command \'SITE HELP  \'","dir_name":"/"}',
    '{"command":"SITE HELP","raw_command":"SITE HELP","response_code":214,"response_msg":"Direct comments to root@127.0.0.1","dir_name":"/"}',
    '{"command":"SITE CHGRP","raw_command":"SITE CHGRP ftpgroup  b.txt","response_code":200,"response_msg":"SITE CHGRP command successful","file":"<BASE>/home/ftpuser/b.txt","dir_name":"/","basename":"b.txt"}',
    '{"command":"SITE CHMOD","raw_command":"SITE CHMOD 644 b.txt","response_code":200,"response_msg":"SITE CHMOD command successful","file":"<BASE>/home/ftpuser/b.txt","dir_name":"/","basename":"b.txt"}',
    '{"command":"SITE CHMOD","raw_command":"SITE CHMOD 600 b.txt","response_code":200,"response_msg":"SITE CHMOD command successful","file":"<BASE>/home/ftpuser/b.txt","dir_name":"/","basename":"b.txt"}',
    '{"command":"SITE CHMOD","raw_command":"SITE CHMOD 755 ","response_code":200,"response_msg":"SITE CHMOD command successful","file":"<BASE>/home/ftpuser/","dir_name":"/","basename":""}',
    '{"command":"SITE CHMOD","raw_command":"SITE CHMOD  bb","response_code":200,"response_msg":"SITE CHMOD command successful","file":"<BASE>/home/ftpuser/bb","dir_name":"/","basename":"bb"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","dir_name":"/"}',
    '{"command":"EXIT","dir_name":"/"}',
]
