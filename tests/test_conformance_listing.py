# -*- test-case-name: tests.test_conformance_listing -*-
"""Conformance: LIST, NLST and STAT with ls options and globs (the scenario of
``tests/support/listing_scenarios.py``).

The expected transcript and records are what proftpd 1.3.8 (Debian 12, mod_redis, the
site of tests/support/ftpsite.py) answered, sent and wrote for the same session, observed
with ``python3 tools/compare_proftpd.py listing_options -v`` (as root) and normalised as
:mod:`tests.support.conformance` does; PASV port numbers and the times of entries changed
during the run are masked, NLST's lines sorted (ProFTPD sends readdir(3) order).  CI has
no proftpd: the tests run ftpredis only.
"""

import re

from twisted.internet import defer

from tests.support import listing_scenarios  # registers listing_options
from tests.support.conformance import ScenarioCase


def _masked(line):
    """PASV ports, and the times of entries changed during the run (STAT's replies)."""
    line = re.sub(r"Passive Mode \([\d,]+\)", "Passive Mode (<PASV>)", line)
    return listing_scenarios._dated(line)


class ListingTests(ScenarioCase):

    @defer.inlineCallbacks
    def test_ls_options_and_globs(self):
        """-a lists "." and ".." and dotfiles (NLST and LIST), -R recurses under
        "\\nname:" heads, -d lists a directory's own line, -1 names only (NLST -1 without
        the directory), -F marks directories with "/"; a glob may stand in directory
        components (*/*.txt); NLST of a glob matching nothing is "450 No files found";
        STAT skips its options and lists like -la, dotfiles included; %b is each
        listing's size."""
        got = yield self.runScenario("listing_options")
        self.assertEqual([_masked(line) for line in self.transcript],
                         [_masked(line) for line in REPLIES])
        self.assertRecords(got, {"h": RECORDS})
        heads = [line for line in self.transcript if re.match(r"# (LIST|NLST) .*: \d+ lines", line)]
        self.assertEqual(len(heads), len(listing_scenarios.NLSTS + listing_scenarios.LISTS))

    @defer.inlineCallbacks
    def test_missing_paths(self):
        """A LIST of a path that does not exist, a glob that matches nothing or a word
        that is no option ("+t") is "450 <path>: No such file or directory", %b absent,
        as mod_ls's code and its NoErrorIfAbsent documentation say; 1.3.8 sends the 450
        after its 150 and then "226 Transfer complete" overrides it (doc/decisions.rst,
        "LIST of a missing path").  Everything else, NLST's and STAT's answers included,
        as 1.3.8 wrote it; "LIST -Z" (an unknown option) lists the directory."""
        got = yield self.runScenario("listing_nothing")
        expected = []
        for record in RECORDS_NOTHING:
            raw = re.search(r'"raw_command":"(LIST [^"]*)","response_code":226,'
                            r'"response_msg":"Transfer complete"', record)
            if raw is not None and raw.group(1) in MISSING:
                path = raw.group(1).split(" ")[-1]
                record = record.replace(
                    '"response_code":226,"response_msg":"Transfer complete"',
                    '"response_code":450,"response_msg":"%s: No such file or directory"'
                    % path).replace('"bytes_sent":0,"transfer_status":"success"',
                                    '"transfer_status":"failed"')
            expected.append(record)
        self.assertRecords(got, {"h": expected})
        answers = [line for line in self.transcript if line.startswith("# 4")
                   or line.startswith("# 2")]
        self.assertEqual(answers.count("# 226 Transfer complete"), 1)    # LIST -Z


#: The LISTs of listing_nothing that 1.3.8 answers 226 and ftpredis 450 (decided).
MISSING = ("LIST nosuch*", "LIST sub/nosuch*", "LIST -l nosuch*", "LIST +t", "LIST nosuch",
           "LIST -l nosuch", "LIST ./nosuch*")


# Observed on proftpd 1.3.8 (Debian), see the module docstring.
RECORDS = [
    '{"dir_name":"/"}',
    '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","dir_name":"/"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","dir_name":"/"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"NLST","raw_command":"NLST -a","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/-a","dir_name":"-a","basename":"-a","bytes_sent":38,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"NLST","raw_command":"NLST nosuch*","response_code":450,"response_msg":"No files found","file":"<BASE>/home/ftpuser/nosuch*","dir_name":"nosuch*","basename":"nosuch*","transfer_status":"failed"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"NLST","raw_command":"NLST */*.txt","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/*/*.txt","dir_name":"*.txt","basename":"*.txt","bytes_sent":11,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"NLST","raw_command":"NLST sub/*","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/sub/*","dir_name":"*","basename":"*","bytes_sent":7,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"NLST","raw_command":"NLST -1 pub","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/-1 pub","dir_name":"-1 pub","basename":"-1 pub","bytes_sent":14,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"NLST","raw_command":"NLST -a pub","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/-a pub","dir_name":"-a pub","basename":"-a pub","bytes_sent":37,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"LIST","raw_command":"LIST -a","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/-a","dir_name":"-a","basename":"-a","bytes_sent":423,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"LIST","raw_command":"LIST -la pub","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/-la pub","dir_name":"-la pub","basename":"-la pub","bytes_sent":241,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"LIST","raw_command":"LIST -R","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/-R","dir_name":"-R","basename":"-R","bytes_sent":515,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"LIST","raw_command":"LIST -lR sub","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/-lR sub","dir_name":"-lR sub","basename":"-lR sub","bytes_sent":130,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"LIST","raw_command":"LIST -d pub","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/-d pub","dir_name":"-d pub","basename":"-d pub","bytes_sent":60,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"LIST","raw_command":"LIST -1","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/-1","dir_name":"-1","basename":"-1","bytes_sent":25,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"LIST","raw_command":"LIST -F","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/-F","dir_name":"-F","basename":"-F","bytes_sent":247,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"LIST","raw_command":"LIST -1F","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/-1F","dir_name":"-1F","basename":"-1F","bytes_sent":27,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"LIST","raw_command":"LIST */*.txt","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/*/*.txt","dir_name":"*.txt","basename":"*.txt","bytes_sent":66,"transfer_status":"success"}',
    '{"command":"STAT","raw_command":"STAT -la","response_code":212,"response_msg":"End of status","dir_name":"/"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","dir_name":"/"}',
    '{"command":"EXIT","dir_name":"/"}',
]
REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> NLST -a',
    '< 150 Opening ASCII mode data connection for file list',
    '< 226 Transfer complete',
    '# NLST -a: 7 lines',
    '#   .',
    '#   ..',
    '#   .hid',
    '#   b.txt',
    '#   cr.txt',
    '#   pub',
    '#   sub',
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> NLST nosuch*',
    '< 450 No files found',
    '# 450 No files found',
    '# NLST nosuch*: 0 lines',
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> NLST */*.txt',
    '< 150 Opening ASCII mode data connection for file list',
    '< 226 Transfer complete',
    '# NLST */*.txt: 1 lines',
    '#   pub/a.txt',
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> NLST sub/*',
    '< 150 Opening ASCII mode data connection for file list',
    '< 226 Transfer complete',
    '# NLST sub/*: 1 lines',
    '#   sub/d',
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> NLST -1 pub',
    '< 150 Opening ASCII mode data connection for file list',
    '< 226 Transfer complete',
    '# NLST -1 pub: 2 lines',
    '#   a.txt',
    '#   c.log',
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> NLST -a pub',
    '< 150 Opening ASCII mode data connection for file list',
    '< 226 Transfer complete',
    '# NLST -a pub: 4 lines',
    '#   pub/.',
    '#   pub/..',
    '#   pub/a.txt',
    '#   pub/c.log',
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> LIST -a',
    '< 150 Opening ASCII mode data connection for file list',
    '< 226 Transfer complete',
    '# LIST -a: 7 lines',
    '#   drwxr-xr-x   4 ftpuser  ftpgroup     4096 <DATE> .',
    '#   drwxr-xr-x   4 ftpuser  ftpgroup     4096 <DATE> ..',
    '#   -rw-r--r--   1 ftpuser  ftpgroup        1 Nov 14  2023 .hid',
    '#   -rw-r--r--   1 ftpuser  ftpgroup        2 Nov 14  2023 b.txt',
    '#   -rw-r--r--   1 ftpuser  ftpgroup        4 Nov 14  2023 cr.txt',
    '#   drwxr-xr-x   2 ftpuser  ftpgroup     4096 Nov 14  2023 pub',
    '#   drwxr-xr-x   3 ftpuser  ftpgroup     4096 Nov 14  2023 sub',
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> LIST -la pub',
    '< 150 Opening ASCII mode data connection for file list',
    '< 226 Transfer complete',
    '# LIST -la pub: 4 lines',
    '#   drwxr-xr-x   2 ftpuser  ftpgroup     4096 Nov 14  2023 .',
    '#   drwxr-xr-x   4 ftpuser  ftpgroup     4096 <DATE> ..',
    '#   -rw-r--r--   1 ftpuser  ftpgroup       60 Nov 14  2023 a.txt',
    '#   -rw-r--r--   1 ftpuser  ftpgroup        1 Nov 14  2023 c.log',
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> LIST -R',
    '< 150 Opening ASCII mode data connection for file list',
    '< 226 Transfer complete',
    '# LIST -R: 14 lines',
    '#   -rw-r--r--   1 ftpuser  ftpgroup        2 Nov 14  2023 b.txt',
    '#   -rw-r--r--   1 ftpuser  ftpgroup        4 Nov 14  2023 cr.txt',
    '#   drwxr-xr-x   2 ftpuser  ftpgroup     4096 Nov 14  2023 pub',
    '#   drwxr-xr-x   3 ftpuser  ftpgroup     4096 Nov 14  2023 sub',
    '#   ',
    '#   pub:',
    '#   -rw-r--r--   1 ftpuser  ftpgroup       60 Nov 14  2023 a.txt',
    '#   -rw-r--r--   1 ftpuser  ftpgroup        1 Nov 14  2023 c.log',
    '#   ',
    '#   sub:',
    '#   drwxr-xr-x   2 ftpuser  ftpgroup     4096 Nov 14  2023 d',
    '#   ',
    '#   sub/d:',
    '#   -rw-r--r--   1 ftpuser  ftpgroup        1 Nov 14  2023 e.txt',
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> LIST -lR sub',
    '< 150 Opening ASCII mode data connection for file list',
    '< 226 Transfer complete',
    '# LIST -lR sub: 4 lines',
    '#   drwxr-xr-x   2 ftpuser  ftpgroup     4096 Nov 14  2023 d',
    '#   ',
    '#   sub/d:',
    '#   -rw-r--r--   1 ftpuser  ftpgroup        1 Nov 14  2023 e.txt',
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> LIST -d pub',
    '< 150 Opening ASCII mode data connection for file list',
    '< 226 Transfer complete',
    '# LIST -d pub: 1 lines',
    '#   drwxr-xr-x   2 ftpuser  ftpgroup     4096 Nov 14  2023 pub',
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> LIST -1',
    '< 150 Opening ASCII mode data connection for file list',
    '< 226 Transfer complete',
    '# LIST -1: 4 lines',
    '#   b.txt',
    '#   cr.txt',
    '#   pub',
    '#   sub',
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> LIST -F',
    '< 150 Opening ASCII mode data connection for file list',
    '< 226 Transfer complete',
    '# LIST -F: 4 lines',
    '#   -rw-r--r--   1 ftpuser  ftpgroup        2 Nov 14  2023 b.txt',
    '#   -rw-r--r--   1 ftpuser  ftpgroup        4 Nov 14  2023 cr.txt',
    '#   drwxr-xr-x   2 ftpuser  ftpgroup     4096 Nov 14  2023 pub/',
    '#   drwxr-xr-x   3 ftpuser  ftpgroup     4096 Nov 14  2023 sub/',
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> LIST -1F',
    '< 150 Opening ASCII mode data connection for file list',
    '< 226 Transfer complete',
    '# LIST -1F: 4 lines',
    '#   b.txt',
    '#   cr.txt',
    '#   pub/',
    '#   sub/',
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> LIST */*.txt',
    '< 150 Opening ASCII mode data connection for file list',
    '< 226 Transfer complete',
    '# LIST */*.txt: 1 lines',
    '#   -rw-r--r--   1 ftpuser  ftpgroup       60 Nov 14  2023 pub/a.txt',
    '> STAT -la',
    '< 212-Status of .:',
    '<  drwxr-xr-x   4 ftpuser  ftpgroup     4096 Dec  4 20:39 .',
    '<  drwxr-xr-x   4 ftpuser  ftpgroup     4096 Dec  4 20:39 ..',
    '<  -rw-r--r--   1 ftpuser  ftpgroup        1 Nov 14  2023 .hid',
    '<  -rw-r--r--   1 ftpuser  ftpgroup        2 Nov 14  2023 b.txt',
    '<  -rw-r--r--   1 ftpuser  ftpgroup        4 Nov 14  2023 cr.txt',
    '<  drwxr-xr-x   2 ftpuser  ftpgroup     4096 Nov 14  2023 pub',
    '<  drwxr-xr-x   3 ftpuser  ftpgroup     4096 Nov 14  2023 sub',
    '< 212 End of status',
    '# 212-Status of .:| drwxr-xr-x   4 ftpuser  ftpgroup     4096 <DATE> .| drwxr-xr-x   4 ftpuser  ftpgroup     4096 <DATE> ..| -rw-r--r--   1 ftpuser  ftpgroup        1 Nov 14  2023 .hid| -rw-r--r--   1 ftpuser  ftpgroup        2 Nov 14  2023 b.txt| -rw-r--r--   1 ftpuser  ftpgroup        4 Nov 14  2023 cr.txt| drwxr-xr-x   2 ftpuser  ftpgroup     4096 Nov 14  2023 pub| drwxr-xr-x   3 ftpuser  ftpgroup     4096 Nov 14  2023 sub|212 End of status',
    '> QUIT',
    '< 221 Goodbye.',
]


# Observed on proftpd 1.3.8 (Debian) for listing_nothing (tools/compare_proftpd.py listing_nothing -v).
RECORDS_NOTHING = [
    '{"dir_name":"/"}',
    '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","dir_name":"/"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","dir_name":"/"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"LIST","raw_command":"LIST nosuch*","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/nosuch*","dir_name":"nosuch*","basename":"nosuch*","bytes_sent":0,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"LIST","raw_command":"LIST sub/nosuch*","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/sub/nosuch*","dir_name":"nosuch*","basename":"nosuch*","bytes_sent":0,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"LIST","raw_command":"LIST -l nosuch*","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/-l nosuch*","dir_name":"-l nosuch*","basename":"-l nosuch*","bytes_sent":0,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"NLST","raw_command":"NLST sub/nosuch*","response_code":450,"response_msg":"No files found","file":"<BASE>/home/ftpuser/sub/nosuch*","dir_name":"nosuch*","basename":"nosuch*","transfer_status":"failed"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"LIST","raw_command":"LIST +t","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/+t","dir_name":"+t","basename":"+t","bytes_sent":0,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"LIST","raw_command":"LIST -Z","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/-Z","dir_name":"-Z","basename":"-Z","bytes_sent":245,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"NLST","raw_command":"NLST +t","response_code":450,"response_msg":"+t: No such file or directory","file":"<BASE>/home/ftpuser/+t","dir_name":"+t","basename":"+t","transfer_status":"failed"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"LIST","raw_command":"LIST nosuch","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/nosuch","dir_name":"nosuch","basename":"nosuch","bytes_sent":0,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"LIST","raw_command":"LIST -l nosuch","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/-l nosuch","dir_name":"-l nosuch","basename":"-l nosuch","bytes_sent":0,"transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"NLST","raw_command":"NLST nosuch","response_code":450,"response_msg":"nosuch: No such file or directory","file":"<BASE>/home/ftpuser/nosuch","dir_name":"nosuch","basename":"nosuch","transfer_status":"failed"}',
    '{"command":"TYPE","raw_command":"TYPE A","response_code":200,"response_msg":"Type set to A","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"LIST","raw_command":"LIST ./nosuch*","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/./nosuch*","dir_name":"nosuch*","basename":"nosuch*","bytes_sent":0,"transfer_status":"success"}',
    '{"command":"STAT","raw_command":"STAT nosuch*","response_code":450,"response_msg":"nosuch*: No such file or directory","dir_name":"/"}',
    '{"command":"STAT","raw_command":"STAT +t","response_code":450,"response_msg":"+t: No such file or directory","dir_name":"/"}',
    '{"command":"STAT","raw_command":"STAT sub/nosuch*","response_code":450,"response_msg":"sub/nosuch*: No such file or directory","dir_name":"/"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","dir_name":"/"}',
    '{"command":"EXIT","dir_name":"/"}',
]
