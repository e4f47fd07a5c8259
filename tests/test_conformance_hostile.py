# -*- test-case-name: tests.test_conformance_hostile -*-
"""Conformance: replies and records for hostile or odd command lines (the scenarios of
``tests/support/hostile_scenarios.py``).

The expected transcripts and records are what proftpd 1.3.8 (Debian 12, mod_redis, the
site of tests/support/ftpsite.py: DefaultRoot ~, AuthUserFile) answered and wrote for the
same sessions, observed with ``python3 tools/compare_proftpd.py hostile_x -v`` (as root;
the client is ftplib, raw bytes sent as surrogate escapes) and normalised as
:mod:`tests.support.conformance` does; only the PASV port numbers are masked here.  CI has
no proftpd: the tests run ftpredis only.
"""

import json

from twisted.internet import defer, threads

from tests.support import hostile_scenarios    # registers the hostile_* scenarios
from tests.support.hostile_scenarios import FILES
from tests.support.conformance import ScenarioCase


class HostileLineTests(ScenarioCase):

    def check(self, name, records, replies):
        return self.checkScenario(name, records, replies)

    @defer.inlineCallbacks
    def test_type_stru_mode(self):
        """TYPE takes its first word in either case and echoes it ("Type set to i"), "A" and
        "I" with any second word, "L 7"/"L 8"; STRU and MODE look at the first letter only
        ("STRU FF" sets F); a code RFC 959 defines that ProFTPD lacks is 504 ("STRU R",
        "MODE B"), anything else 501 "unrecognized"; extra words are 500/501 "not
        understood"."""
        yield self.check("hostile_type", HOSTILE_TYPE, HOSTILE_TYPE_REPLIES)
        # SIZE answers in binary mode only: after "TYPE i", "TYPE I X" and "TYPE l 8"
        self.assertEqual(self.transcript.count("< 213 %d" % len(FILES["b.txt"])), 3)

    @defer.inlineCallbacks
    def test_transfer_without_name(self):
        """RETR, STOR and APPE without a name (or blanks only): "500 'RETR' not
        understood", a failed transfer whose %{transfer-failure} is that text."""
        yield self.check("hostile_noarg", HOSTILE_NOARG, HOSTILE_NOARG_REPLIES)
        # Before any PORT or PASV, %{transfer-port} is the default data port: the
        # client's control port - 1 (normalised away above).
        raw = yield threads.deferToThread(self.redis.client().lrange, "h")
        xfers = [json.loads(r) for r in raw if b'"transfer_port"' in r]
        self.assertEqual(len(xfers), 6)
        for r in xfers:
            self.assertEqual(r["transfer_port"], r["remote_port"] - 1)

    def test_rest_numbers(self):
        """REST reads its number like strtoull: one leading "+" is taken, so are blanks
        around the one word; "-", a second sign, hex and fullwidth digits are 501, two
        words 500."""
        return self.check("hostile_rest", HOSTILE_REST, HOSTILE_REST_REPLIES)

    @defer.inlineCallbacks
    def test_blank_listing_argument(self):
        """NLST and MLSD with blanks only list the current directory; %f keeps the
        blanks after the directory."""
        yield self.check("hostile_listing", HOSTILE_LISTING, HOSTILE_LISTING_REPLIES)
        home = sorted({path.split("/")[0] for path in FILES})
        self.assertEqual(self.transcript.count("# %s" % home), 2)     # both NLSTs

    def test_telnet_commands_inside_a_line(self):
        """IAC IP and IAC DM are dropped wherever they stand ("NO<IAC IP>OP" is NOOP,
        "CWD pu<IAC IP>b" is CWD pub); IAC IAC is one 0xFF byte; IAC before another byte
        (IAC NOP, IAC "x") and a trailing IAC stay as they came."""
        return self.check("hostile_telnet", HOSTILE_TELNET, HOSTILE_TELNET_REPLIES)

    @defer.inlineCallbacks
    def test_telnet_negotiation_not_answered(self):
        """IAC WILL/WONT/DO/DONT and their option byte are dropped too ("NO<IAC WILL
        ECHO>OP" is NOOP, logged as NOOP), but not answered: ProFTPD 1.3.8 wrote
        b"\\xff\\xfe\\x01200 NOOP command successful\\r\\n" (IAC DONT ECHO glued to its
        reply line, which FTP clients then misread; README, "Differences")."""
        def script(ctx):
            ftp = ctx.connect()
            for line in ("NO\udcff\udcfb\x01OP", "NO\udcff\udcfd\x03OP"):
                hostile_scenarios.send(ftp, line)
            ftp.quit()
        got = yield self.runScenario("hostile_telnet", script)
        self.assertEqual([line for line in self.transcript if line.startswith("<")][-3:],
                         ["< 200 NOOP command successful"] * 2 + ["< 221 Goodbye."])
        noop = '{"command":"NOOP","raw_command":"NOOP","response_code":200,' \
               '"response_msg":"NOOP command successful"}'
        self.assertEqual(got["h"][3:5], [noop, noop])

    def test_nul_and_empty_lines(self):
        """A NUL byte ends the line ("CWD pub<NUL>xyz" is CWD pub); an empty line, one
        that is empty up to its NUL, and one starting with a blank get "500 Invalid command:
        try being more creative", before login too, and no record."""
        return self.check("hostile_nul", HOSTILE_NUL, HOSTILE_NUL_REPLIES)

    def test_mkd_star_and_outside_link(self):
        """MKD refuses a name with "*" anywhere ("550 a*b: Invalid directory name",
        XMKD too; "?" is taken); DELE of a symbolic link in the jail that points out of
        it removes the link, %b 0, and leaves the target alone (the transcript's last
        line)."""
        return self.check("hostile_fs", HOSTILE_FS, HOSTILE_FS_REPLIES)

    def test_tilde(self):
        """A path starting with "~/" starts at the home ("/" in the DefaultRoot ~ jail)
        in CWD, SIZE, MDTM, MKD, RMD, RNFR, RNTO, DELE, SITE CHMOD, STOR, RETR; the
        replies echo the path as sent ("550 ~/nosuch: ..."), %f is the resolved one.  "~"
        alone and "~user" are not resolved: 550 (CWD ~ logs the home)."""
        return self.check("hostile_tilde", HOSTILE_TILDE, HOSTILE_TILDE_REPLIES)

    def test_cwd_top_and_chmod_paths(self):
        """CWD to the top of the jail (CWD /, .., ., //, ../, XCWD) logs the chroot without
        its slash and its name as %{basename}; CDUP keeps the slash.  SITE CHMOD logs the
        path as written after the current directory ("pub/../b.txt" unresolved) and its
        last component as %{basename}."""
        return self.check("hostile_paths", HOSTILE_PATHS, HOSTILE_PATHS_REPLIES)


# Observed on proftpd 1.3.8 (Debian), see the module docstring.
HOSTILE_TYPE_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> TYPE L 7',
    '< 200 Type set to L',
    '> SIZE b.txt',
    '< 550 SIZE not allowed in ASCII mode',
    '> TYPE i',
    '< 200 Type set to i',
    '> SIZE b.txt',
    '< 213 2',
    '> TYPE A X',
    '< 200 Type set to A',
    '> SIZE b.txt',
    '< 550 SIZE not allowed in ASCII mode',
    '> TYPE I X',
    '< 200 Type set to I',
    '> SIZE b.txt',
    '< 213 2',
    '> TYPE L',
    "< 504 TYPE not implemented for 'L' parameter",
    '> TYPE L 9',
    "< 504 TYPE not implemented for 'L' parameter",
    '> TYPE A X Y',
    "< 500 'TYPE A X Y' not understood",
    '> TYPE IX',
    "< 504 TYPE not implemented for 'IX' parameter",
    '> TYPE  a',
    '< 200 Type set to a',
    '> TYPE l 8',
    '< 200 Type set to l',
    '> SIZE b.txt',
    '< 213 2',
    '> STRU X',
    "< 501 'STRU X' unrecognized structure type",
    '> STRU R',
    "< 504 'STRU R' unsupported structure type",
    '> STRU P',
    "< 504 'STRU P' unsupported structure type",
    '> STRU f',
    '< 200 Structure set to F',
    '> STRU FF',
    '< 200 Structure set to F',
    '> STRU F X',
    "< 501 'STRU F X' not understood",
    '> STRU \t',
    "< 501 'STRU' not understood",
    '> STRU rr',
    "< 504 'STRU rr' unsupported structure type",
    '> MODE X',
    "< 501 'MODE X' unrecognized transfer mode",
    '> MODE B',
    "< 504 'MODE B' unsupported transfer mode",
    '> MODE C',
    "< 504 'MODE C' unsupported transfer mode",
    '> MODE s',
    '< 200 Mode set to S',
    '> MODE SS',
    '< 200 Mode set to S',
    '> MODE S X',
    "< 501 'MODE S X' not understood",
    '> MODE bx',
    "< 504 'MODE bx' unsupported transfer mode",
    '> MODE é',
    "< 501 'MODE é' unrecognized transfer mode",
    '> QUIT',
    '< 221 Goodbye.',
]

HOSTILE_TYPE = [
    '{}',
    '{"command":"USER","raw_command":"USER ftpuser","command_params":"ftpuser","response_code":331,"response_msg":"Password required for ftpuser"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","response_code":230,"response_msg":"User ftpuser logged in"}',
    '{"command":"TYPE","raw_command":"TYPE L 7","command_params":"L 7","response_code":200,"response_msg":"Type set to L"}',
    '{"command":"SIZE","raw_command":"SIZE b.txt","command_params":"b.txt","response_code":550,"response_msg":"SIZE not allowed in ASCII mode"}',
    '{"command":"TYPE","raw_command":"TYPE i","command_params":"i","response_code":200,"response_msg":"Type set to i"}',
    '{"command":"SIZE","raw_command":"SIZE b.txt","command_params":"b.txt","response_code":213,"response_msg":"2"}',
    '{"command":"TYPE","raw_command":"TYPE A X","command_params":"A X","response_code":200,"response_msg":"Type set to A"}',
    '{"command":"SIZE","raw_command":"SIZE b.txt","command_params":"b.txt","response_code":550,"response_msg":"SIZE not allowed in ASCII mode"}',
    '{"command":"TYPE","raw_command":"TYPE I X","command_params":"I X","response_code":200,"response_msg":"Type set to I"}',
    '{"command":"SIZE","raw_command":"SIZE b.txt","command_params":"b.txt","response_code":213,"response_msg":"2"}',
    '{"command":"TYPE","raw_command":"TYPE L","command_params":"L","response_code":504,"response_msg":"TYPE not implemented for \'L\' parameter"}',
    '{"command":"TYPE","raw_command":"TYPE L 9","command_params":"L 9","response_code":504,"response_msg":"TYPE not implemented for \'L\' parameter"}',
    '{"command":"TYPE","raw_command":"TYPE A X Y","command_params":"A X Y","response_code":500,"response_msg":"\'TYPE A X Y\' not understood"}',
    '{"command":"TYPE","raw_command":"TYPE IX","command_params":"IX","response_code":504,"response_msg":"TYPE not implemented for \'IX\' parameter"}',
    '{"command":"TYPE","raw_command":"TYPE a","command_params":" a","response_code":200,"response_msg":"Type set to a"}',
    '{"command":"TYPE","raw_command":"TYPE l 8","command_params":"l 8","response_code":200,"response_msg":"Type set to l"}',
    '{"command":"SIZE","raw_command":"SIZE b.txt","command_params":"b.txt","response_code":213,"response_msg":"2"}',
    '{"command":"STRU","raw_command":"STRU X","command_params":"X","response_code":501,"response_msg":"\'STRU X\' unrecognized structure type"}',
    '{"command":"STRU","raw_command":"STRU R","command_params":"R","response_code":504,"response_msg":"\'STRU R\' unsupported structure type"}',
    '{"command":"STRU","raw_command":"STRU P","command_params":"P","response_code":504,"response_msg":"\'STRU P\' unsupported structure type"}',
    '{"command":"STRU","raw_command":"STRU f","command_params":"f","response_code":200,"response_msg":"Structure set to F"}',
    '{"command":"STRU","raw_command":"STRU FF","command_params":"FF","response_code":200,"response_msg":"Structure set to F"}',
    '{"command":"STRU","raw_command":"STRU F X","command_params":"F X","response_code":501,"response_msg":"\'STRU F X\' not understood"}',
    '{"command":"STRU","raw_command":"STRU","response_code":501,"response_msg":"\'STRU\' not understood"}',
    '{"command":"STRU","raw_command":"STRU rr","command_params":"rr","response_code":504,"response_msg":"\'STRU rr\' unsupported structure type"}',
    '{"command":"MODE","raw_command":"MODE X","command_params":"X","response_code":501,"response_msg":"\'MODE X\' unrecognized transfer mode"}',
    '{"command":"MODE","raw_command":"MODE B","command_params":"B","response_code":504,"response_msg":"\'MODE B\' unsupported transfer mode"}',
    '{"command":"MODE","raw_command":"MODE C","command_params":"C","response_code":504,"response_msg":"\'MODE C\' unsupported transfer mode"}',
    '{"command":"MODE","raw_command":"MODE s","command_params":"s","response_code":200,"response_msg":"Mode set to S"}',
    '{"command":"MODE","raw_command":"MODE SS","command_params":"SS","response_code":200,"response_msg":"Mode set to S"}',
    '{"command":"MODE","raw_command":"MODE S X","command_params":"S X","response_code":501,"response_msg":"\'MODE S X\' not understood"}',
    '{"command":"MODE","raw_command":"MODE bx","command_params":"bx","response_code":504,"response_msg":"\'MODE bx\' unsupported transfer mode"}',
    '{"command":"MODE","raw_command":"MODE é","command_params":"é","response_code":501,"response_msg":"\'MODE é\' unrecognized transfer mode"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye."}',
    '{"command":"EXIT"}',
]

HOSTILE_NOARG_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> RETR',
    "< 500 'RETR' not understood",
    '> STOR',
    "< 500 'STOR' not understood",
    '> APPE',
    "< 500 'APPE' not understood",
    '> RETR  ',
    "< 500 'RETR' not understood",
    '> STOR \t',
    "< 500 'STOR' not understood",
    '> APPE  ',
    "< 500 'APPE' not understood",
    '> QUIT',
    '< 221 Goodbye.',
]

HOSTILE_NOARG = [
    '{"remote_port":"<PORT>"}',
    '{"command":"USER","raw_command":"USER ftpuser","command_params":"ftpuser","response_code":331,"response_msg":"Password required for ftpuser","remote_port":"<PORT>"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","response_code":230,"response_msg":"User ftpuser logged in","remote_port":"<PORT>"}',
    '{"command":"RETR","raw_command":"RETR","response_code":500,"response_msg":"\'RETR\' not understood","transfer_status":"failed","transfer_failure":"\'RETR\' not understood","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"STOR","raw_command":"STOR","response_code":500,"response_msg":"\'STOR\' not understood","transfer_status":"failed","transfer_failure":"\'STOR\' not understood","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"APPE","raw_command":"APPE","response_code":500,"response_msg":"\'APPE\' not understood","transfer_status":"failed","transfer_failure":"\'APPE\' not understood","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"RETR","raw_command":"RETR","response_code":500,"response_msg":"\'RETR\' not understood","transfer_status":"failed","transfer_failure":"\'RETR\' not understood","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"STOR","raw_command":"STOR","response_code":500,"response_msg":"\'STOR\' not understood","transfer_status":"failed","transfer_failure":"\'STOR\' not understood","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"APPE","raw_command":"APPE","response_code":500,"response_msg":"\'APPE\' not understood","transfer_status":"failed","transfer_failure":"\'APPE\' not understood","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","remote_port":"<PORT>"}',
    '{"command":"EXIT","remote_port":"<PORT>"}',
]

HOSTILE_REST_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> REST +5',
    '< 501 REST: Resuming transfers not allowed in ASCII mode',
    '> REST 5 ',
    '< 501 REST: Resuming transfers not allowed in ASCII mode',
    '> REST ++5',
    '< 501 REST requires a value greater than or equal to 0',
    '> REST +-5',
    '< 501 REST requires a value greater than or equal to 0',
    '> REST -1',
    '< 501 REST requires a value greater than or equal to 0',
    '> REST 0x10',
    '< 501 REST requires a value greater than or equal to 0',
    '> REST 5 6',
    "< 500 'REST 5 6' not understood",
    '> REST ５',
    '< 501 REST requires a value greater than or equal to 0',
    '> REST \t5',
    '< 501 REST: Resuming transfers not allowed in ASCII mode',
    '> REST 0',
    '< 350 Restarting at 0. Send STORE or RETRIEVE to initiate transfer',
    '> TYPE I',
    '< 200 Type set to I',
    '> REST +5',
    '< 350 Restarting at 5. Send STORE or RETRIEVE to initiate transfer',
    '> REST 010',
    '< 350 Restarting at 10. Send STORE or RETRIEVE to initiate transfer',
    '> QUIT',
    '< 221 Goodbye.',
]

HOSTILE_REST = [
    '{}',
    '{"command":"USER","raw_command":"USER ftpuser","command_params":"ftpuser","response_code":331,"response_msg":"Password required for ftpuser"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","response_code":230,"response_msg":"User ftpuser logged in"}',
    '{"command":"REST","raw_command":"REST +5","command_params":"+5","response_code":501,"response_msg":"REST: Resuming transfers not allowed in ASCII mode"}',
    '{"command":"REST","raw_command":"REST 5","command_params":"5 ","response_code":501,"response_msg":"REST: Resuming transfers not allowed in ASCII mode"}',
    '{"command":"REST","raw_command":"REST ++5","command_params":"++5","response_code":501,"response_msg":"REST requires a value greater than or equal to 0"}',
    '{"command":"REST","raw_command":"REST +-5","command_params":"+-5","response_code":501,"response_msg":"REST requires a value greater than or equal to 0"}',
    '{"command":"REST","raw_command":"REST -1","command_params":"-1","response_code":501,"response_msg":"REST requires a value greater than or equal to 0"}',
    '{"command":"REST","raw_command":"REST 0x10","command_params":"0x10","response_code":501,"response_msg":"REST requires a value greater than or equal to 0"}',
    '{"command":"REST","raw_command":"REST 5 6","command_params":"5 6","response_code":500,"response_msg":"\'REST 5 6\' not understood"}',
    '{"command":"REST","raw_command":"REST ５","command_params":"５","response_code":501,"response_msg":"REST requires a value greater than or equal to 0"}',
    '{"command":"REST","raw_command":"REST 5","command_params":"\\t5","response_code":501,"response_msg":"REST: Resuming transfers not allowed in ASCII mode"}',
    '{"command":"REST","raw_command":"REST 0","command_params":"0","response_code":350,"response_msg":"Restarting at 0. Send STORE or RETRIEVE to initiate transfer"}',
    '{"command":"TYPE","raw_command":"TYPE I","command_params":"I","response_code":200,"response_msg":"Type set to I"}',
    '{"command":"REST","raw_command":"REST +5","command_params":"+5","response_code":350,"response_msg":"Restarting at 5. Send STORE or RETRIEVE to initiate transfer"}',
    '{"command":"REST","raw_command":"REST 010","command_params":"010","response_code":350,"response_msg":"Restarting at 10. Send STORE or RETRIEVE to initiate transfer"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye."}',
    '{"command":"EXIT"}',
]

HOSTILE_LISTING_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> NLST  ',
    '< 150 Opening ASCII mode data connection for file list',
    '< 226 Transfer complete',
    "# ['b.txt', 'pub']",
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> NLST \t',
    '< 150 Opening ASCII mode data connection for file list',
    '< 226 Transfer complete',
    "# ['b.txt', 'pub']",
    '> TYPE A',
    '< 200 Type set to A',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> MLSD  ',
    '< 150 Opening ASCII mode data connection for MLSD',
    '< 226 Transfer complete',
    "# ['.', '..', 'b.txt', 'pub']",
    '> QUIT',
    '< 221 Goodbye.',
]

HOSTILE_LISTING = [
    '{}',
    '{"command":"USER","raw_command":"USER ftpuser","command_params":"ftpuser","response_code":331,"response_msg":"Password required for ftpuser"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","response_code":230,"response_msg":"User ftpuser logged in"}',
    '{"command":"TYPE","raw_command":"TYPE A","command_params":"A","response_code":200,"response_msg":"Type set to A"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>)."}',
    '{"command":"NLST","raw_command":"NLST","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/ ","transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","command_params":"A","response_code":200,"response_msg":"Type set to A"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>)."}',
    '{"command":"NLST","raw_command":"NLST","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/\\t","transfer_status":"success"}',
    '{"command":"TYPE","raw_command":"TYPE A","command_params":"A","response_code":200,"response_msg":"Type set to A"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>)."}',
    '{"command":"MLSD","raw_command":"MLSD","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/ ","transfer_status":"success"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye."}',
    '{"command":"EXIT"}',
]

HOSTILE_TELNET_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> NO\udcff\udcf4OP',
    '< 200 NOOP command successful',
    '> NOOP\udcff\udcf2',
    '< 200 NOOP command successful',
    '> CWD pu\udcff\udcf4b',
    '< 250 CWD command successful',
    '> PWD',
    '< 257 "/pub" is the current directory',
    '> CDUP',
    '< 250 CDUP command successful',
    '> \udcff\udcf4\udcff\udcf2NOOP',
    '< 200 NOOP command successful',
    '> NO\udcff\udcffOP',
    '< 500 NO\udcffOP not understood',
    '> NO\udcff\udcf1OP',
    '< 500 NO\udcff\udcf1OP not understood',
    '> NO\udcffxOP',
    '< 500 NO\udcffXOP not understood',
    '> NOOP\udcff',
    '< 500 NOOP\udcff not understood',
    '> \udcff\udcff\udcff\udcf4NOOP',
    '< 500 \udcffNOOP not understood',
    '> QUIT',
    '< 221 Goodbye.',
]

HOSTILE_TELNET = [
    '{}',
    '{"command":"USER","raw_command":"USER ftpuser","command_params":"ftpuser","response_code":331,"response_msg":"Password required for ftpuser"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","response_code":230,"response_msg":"User ftpuser logged in"}',
    '{"command":"NOOP","raw_command":"NOOP","response_code":200,"response_msg":"NOOP command successful"}',
    '{"command":"NOOP","raw_command":"NOOP","response_code":200,"response_msg":"NOOP command successful"}',
    '{"command":"CWD","raw_command":"CWD pub","command_params":"pub","response_code":250,"response_msg":"CWD command successful","file":"<BASE>/home/ftpuser/pub"}',
    '{"command":"PWD","raw_command":"PWD","response_code":257,"response_msg":"\\"/pub\\" is the current directory","file":"<BASE>/home/ftpuser/pub"}',
    '{"command":"CDUP","raw_command":"CDUP","response_code":250,"response_msg":"CDUP command successful","file":"<BASE>/home/ftpuser/"}',
    '{"command":"NOOP","raw_command":"NOOP","response_code":200,"response_msg":"NOOP command successful"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye."}',
    '{"command":"EXIT"}',
]

HOSTILE_NUL_REPLIES = [
    '< 220 example ready',
    '> ',
    '< 500 Invalid command: try being more creative',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> NOOP\x00junk',
    '< 200 NOOP command successful',
    '> CWD pub\x00xyz',
    '< 250 CWD command successful',
    '> PWD',
    '< 257 "/pub" is the current directory',
    '> CDUP',
    '< 250 CDUP command successful',
    '> \x00NOOP',
    '< 500 Invalid command: try being more creative',
    '> NO\x00OP',
    '< 500 NO not understood',
    '> NOOP \x00',
    '< 200 NOOP command successful',
    '> ',
    '< 500 Invalid command: try being more creative',
    '>   NOOP',
    '< 500 Invalid command: try being more creative',
    '> \tNOOP',
    '< 500 Invalid command: try being more creative',
    '> NOOP',
    '< 200 NOOP command successful',
    '> QUIT',
    '< 221 Goodbye.',
]

HOSTILE_NUL = [
    '{}',
    '{"command":"USER","raw_command":"USER ftpuser","command_params":"ftpuser","response_code":331,"response_msg":"Password required for ftpuser"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","response_code":230,"response_msg":"User ftpuser logged in"}',
    '{"command":"NOOP","raw_command":"NOOP","response_code":200,"response_msg":"NOOP command successful"}',
    '{"command":"CWD","raw_command":"CWD pub","command_params":"pub","response_code":250,"response_msg":"CWD command successful","file":"<BASE>/home/ftpuser/pub"}',
    '{"command":"PWD","raw_command":"PWD","response_code":257,"response_msg":"\\"/pub\\" is the current directory","file":"<BASE>/home/ftpuser/pub"}',
    '{"command":"CDUP","raw_command":"CDUP","response_code":250,"response_msg":"CDUP command successful","file":"<BASE>/home/ftpuser/"}',
    '{"command":"NOOP","raw_command":"NOOP","response_code":200,"response_msg":"NOOP command successful"}',
    '{"command":"NOOP","raw_command":"NOOP","response_code":200,"response_msg":"NOOP command successful"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye."}',
    '{"command":"EXIT"}',
]


HOSTILE_FS = [
    '{"dir_name":"/"}',
    '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","dir_name":"/"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","dir_name":"/"}',
    '{"command":"MKD","raw_command":"MKD a*b","response_code":550,"response_msg":"a*b: Invalid directory name","file":"<BASE>/home/ftpuser/a*b","transfer_path":"/a*b","dir_name":"a*b","dir_path":"<BASE>/home/ftpuser/a*b","basename":"a*b"}',
    '{"command":"XMKD","raw_command":"XMKD c*","response_code":550,"response_msg":"c*: Invalid directory name","file":"<BASE>/home/ftpuser/c*","transfer_path":"/c*","dir_name":"c*","dir_path":"<BASE>/home/ftpuser/c*","basename":"c*"}',
    '{"command":"MKD","raw_command":"MKD pub/x*","response_code":550,"response_msg":"pub/x*: Invalid directory name","file":"<BASE>/home/ftpuser/pub/x*","transfer_path":"/pub/x*","dir_name":"x*","dir_path":"<BASE>/home/ftpuser/pub/x*","basename":"x*"}',
    '{"command":"MKD","raw_command":"MKD d?e","response_code":257,"response_msg":"\\"/d?e\\" - Directory successfully created","file":"<BASE>/home/ftpuser/d?e","transfer_path":"/d?e","dir_name":"d?e","dir_path":"<BASE>/home/ftpuser/d?e","basename":"d?e"}',
    '{"command":"RMD","raw_command":"RMD a*b","response_code":550,"response_msg":"a*b: No such file or directory","file":"<BASE>/home/ftpuser/a*b","transfer_path":"/a*b","dir_name":"a*b","dir_path":"<BASE>/home/ftpuser/a*b","basename":"a*b"}',
    '{"command":"DELE","raw_command":"DELE outlink","response_code":250,"response_msg":"DELE command successful","file":"<BASE>/home/ftpuser/outlink","transfer_path":"/outlink","dir_name":"/","basename":"outlink","bytes_sent":0}',
    '{"command":"DELE","raw_command":"DELE outlink","response_code":550,"response_msg":"outlink: No such file or directory","file":"<BASE>/home/ftpuser/outlink","transfer_path":"/outlink","dir_name":"/","basename":"outlink","bytes_sent":0}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","dir_name":"/"}',
    '{"command":"EXIT","dir_name":"/"}',
]
HOSTILE_FS_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> MKD a*b',
    '< 550 a*b: Invalid directory name',
    '> XMKD c*',
    '< 550 c*: Invalid directory name',
    '> MKD pub/x*',
    '< 550 pub/x*: Invalid directory name',
    '> MKD d?e',
    '< 257 "/d?e" - Directory successfully created',
    '> RMD a*b',
    '< 550 a*b: No such file or directory',
    '> DELE outlink',
    '< 250 DELE command successful',
    '> DELE outlink',
    '< 550 outlink: No such file or directory',
    '> QUIT',
    '< 221 Goodbye.',
    '# outside.txt kept',
]

HOSTILE_TILDE = [
    '{"dir_name":"/"}',
    '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","dir_name":"/"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","dir_name":"/"}',
    '{"command":"TYPE","raw_command":"TYPE I","response_code":200,"response_msg":"Type set to I","dir_name":"/"}',
    '{"command":"CWD","raw_command":"CWD ~/","response_code":250,"response_msg":"CWD command successful","file":"<BASE>/home/ftpuser","dir_name":"","dir_path":"<BASE>/home/ftpuser","basename":"ftpuser"}',
    '{"command":"PWD","raw_command":"PWD","response_code":257,"response_msg":"\\"/\\" is the current directory","file":"<BASE>/home/ftpuser/","dir_name":"/","basename":"/"}',
    '{"command":"CWD","raw_command":"CWD pub","response_code":250,"response_msg":"CWD command successful","file":"<BASE>/home/ftpuser/pub","dir_name":"pub","dir_path":"<BASE>/home/ftpuser/pub","basename":"pub"}',
    '{"command":"SIZE","raw_command":"SIZE ~/b.txt","response_code":213,"response_msg":"2","dir_name":"/pub"}',
    '{"command":"MDTM","raw_command":"MDTM ~/b.txt","response_code":213,"response_msg":"<MDTM>","file":"<BASE>/home/ftpuser/b.txt","dir_name":"/pub","basename":"b.txt"}',
    '{"command":"CWD","raw_command":"CWD ~/pub","response_code":250,"response_msg":"CWD command successful","file":"<BASE>/home/ftpuser/pub","dir_name":"pub","dir_path":"<BASE>/home/ftpuser/pub","basename":"pub"}',
    '{"command":"PWD","raw_command":"PWD","response_code":257,"response_msg":"\\"/pub\\" is the current directory","file":"<BASE>/home/ftpuser/pub","dir_name":"/pub","basename":"pub"}',
    '{"command":"CDUP","raw_command":"CDUP","response_code":250,"response_msg":"CDUP command successful","file":"<BASE>/home/ftpuser/","dir_name":"","dir_path":"<BASE>/home/ftpuser/","basename":"/"}',
    '{"command":"SIZE","raw_command":"SIZE ~/pub/a.txt","response_code":213,"response_msg":"50","dir_name":"/"}',
    '{"command":"MKD","raw_command":"MKD ~/d1","response_code":257,"response_msg":"\\"/d1\\" - Directory successfully created","file":"<BASE>/home/ftpuser/d1","transfer_path":"/d1","dir_name":"d1","dir_path":"<BASE>/home/ftpuser/d1","basename":"d1"}',
    '{"command":"RMD","raw_command":"RMD ~/d1","response_code":250,"response_msg":"RMD command successful","file":"<BASE>/home/ftpuser/d1","transfer_path":"/d1","dir_name":"d1","dir_path":"<BASE>/home/ftpuser/d1","basename":"d1"}',
    '{"command":"RNFR","raw_command":"RNFR ~/b.txt","response_code":350,"response_msg":"File or directory exists, ready for destination name","file":"<BASE>/home/ftpuser/b.txt","transfer_path":"/b.txt","dir_name":"/","basename":"b.txt","bytes_sent":0}',
    '{"command":"RNTO","raw_command":"RNTO ~/c.txt","response_code":250,"response_msg":"Rename successful","file":"<BASE>/home/ftpuser/c.txt","transfer_path":"/c.txt","dir_name":"/","basename":"c.txt","bytes_sent":0}',
    '{"command":"RNFR","raw_command":"RNFR ~/c.txt","response_code":350,"response_msg":"File or directory exists, ready for destination name","file":"<BASE>/home/ftpuser/c.txt","transfer_path":"/c.txt","dir_name":"/","basename":"c.txt","bytes_sent":0}',
    '{"command":"RNTO","raw_command":"RNTO b.txt","response_code":250,"response_msg":"Rename successful","file":"<BASE>/home/ftpuser/b.txt","transfer_path":"/b.txt","dir_name":"/","basename":"b.txt","bytes_sent":0}',
    '{"command":"DELE","raw_command":"DELE ~/nosuch","response_code":550,"response_msg":"~/nosuch: No such file or directory","file":"<BASE>/home/ftpuser/nosuch","transfer_path":"/nosuch","dir_name":"/","basename":"nosuch","bytes_sent":0}',
    '{"command":"SITE CHMOD","raw_command":"SITE CHMOD 600 ~/b.txt","response_code":200,"response_msg":"SITE CHMOD command successful","file":"<BASE>/home/ftpuser/b.txt","dir_name":"/","basename":"b.txt"}',
    '{"command":"SIZE","raw_command":"SIZE ~","response_code":550,"response_msg":"~: No such file or directory","dir_name":"/"}',
    '{"command":"SIZE","raw_command":"SIZE ~ftpuser/b.txt","response_code":550,"response_msg":"~ftpuser/b.txt: No such file or directory","dir_name":"/"}',
    '{"command":"CWD","raw_command":"CWD ~","response_code":550,"response_msg":"~: No such file or directory","file":"<BASE>/home/ftpuser","dir_name":"~","dir_path":"<BASE>/home/ftpuser","basename":"ftpuser"}',
    '{"command":"PWD","raw_command":"PWD","response_code":257,"response_msg":"\\"/\\" is the current directory","file":"<BASE>/home/ftpuser/","dir_name":"/","basename":"/"}',
    '{"command":"SIZE","raw_command":"SIZE pub/~/a.txt","response_code":550,"response_msg":"pub/~/a.txt: No such file or directory","dir_name":"/"}',
    '{"command":"TYPE","raw_command":"TYPE I","response_code":200,"response_msg":"Type set to I","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"STOR","raw_command":"STOR ~/new.txt","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/new.txt","transfer_path":"/new.txt","dir_name":"/","basename":"new.txt","bytes_sent":4}',
    '{"command":"TYPE","raw_command":"TYPE I","response_code":200,"response_msg":"Type set to I","dir_name":"/"}',
    '{"command":"PASV","raw_command":"PASV","response_code":227,"response_msg":"Entering Passive Mode (<PASV>).","dir_name":"/"}',
    '{"command":"RETR","raw_command":"RETR ~/pub/a.txt","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/pub/a.txt","transfer_path":"/pub/a.txt","dir_name":"/","basename":"a.txt","bytes_sent":50}',
    '{"command":"DELE","raw_command":"DELE ~/new.txt","response_code":250,"response_msg":"DELE command successful","file":"<BASE>/home/ftpuser/new.txt","transfer_path":"/new.txt","dir_name":"/","basename":"new.txt","bytes_sent":4}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","dir_name":"/"}',
    '{"command":"EXIT","dir_name":"/"}',
]
HOSTILE_TILDE_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> TYPE I',
    '< 200 Type set to I',
    '> CWD ~/',
    '< 250 CWD command successful',
    '> PWD',
    '< 257 "/" is the current directory',
    '> CWD pub',
    '< 250 CWD command successful',
    '> SIZE ~/b.txt',
    '< 213 2',
    '> MDTM ~/b.txt',
    '< 213 20231114221320',
    '> CWD ~/pub',
    '< 250 CWD command successful',
    '> PWD',
    '< 257 "/pub" is the current directory',
    '> CDUP',
    '< 250 CDUP command successful',
    '> SIZE ~/pub/a.txt',
    '< 213 50',
    '> MKD ~/d1',
    '< 257 "/d1" - Directory successfully created',
    '> RMD ~/d1',
    '< 250 RMD command successful',
    '> RNFR ~/b.txt',
    '< 350 File or directory exists, ready for destination name',
    '> RNTO ~/c.txt',
    '< 250 Rename successful',
    '> RNFR ~/c.txt',
    '< 350 File or directory exists, ready for destination name',
    '> RNTO b.txt',
    '< 250 Rename successful',
    '> DELE ~/nosuch',
    '< 550 ~/nosuch: No such file or directory',
    '> SITE CHMOD 600 ~/b.txt',
    '< 200 SITE CHMOD command successful',
    '> SIZE ~',
    '< 550 ~: No such file or directory',
    '> SIZE ~ftpuser/b.txt',
    '< 550 ~ftpuser/b.txt: No such file or directory',
    '> CWD ~',
    '< 550 ~: No such file or directory',
    '> PWD',
    '< 257 "/" is the current directory',
    '> SIZE pub/~/a.txt',
    '< 550 pub/~/a.txt: No such file or directory',
    '> TYPE I',
    '< 200 Type set to I',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> STOR ~/new.txt',
    '< 150 Opening BINARY mode data connection for ~/new.txt',
    '< 226 Transfer complete',
    '> TYPE I',
    '< 200 Type set to I',
    '> PASV',
    '< 227 Entering Passive Mode (<PASV>).',
    '> RETR ~/pub/a.txt',
    '< 150 Opening BINARY mode data connection for ~/pub/a.txt (50 bytes)',
    '< 226 Transfer complete',
    '> DELE ~/new.txt',
    '< 250 DELE command successful',
    '> QUIT',
    '< 221 Goodbye.',
]

HOSTILE_PATHS = [
    '{"dir_name":"/"}',
    '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","dir_name":"/"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","dir_name":"/"}',
    '{"command":"CWD","raw_command":"CWD pub","response_code":250,"response_msg":"CWD command successful","file":"<BASE>/home/ftpuser/pub","dir_name":"pub","dir_path":"<BASE>/home/ftpuser/pub","basename":"pub"}',
    '{"command":"CWD","raw_command":"CWD ..","response_code":250,"response_msg":"CWD command successful","file":"<BASE>/home/ftpuser","dir_name":"..","dir_path":"<BASE>/home/ftpuser","basename":"ftpuser"}',
    '{"command":"CWD","raw_command":"CWD pub","response_code":250,"response_msg":"CWD command successful","file":"<BASE>/home/ftpuser/pub","dir_name":"pub","dir_path":"<BASE>/home/ftpuser/pub","basename":"pub"}',
    '{"command":"CWD","raw_command":"CWD /pub/..","response_code":250,"response_msg":"CWD command successful","file":"<BASE>/home/ftpuser","dir_name":"..","dir_path":"<BASE>/home/ftpuser","basename":"ftpuser"}',
    '{"command":"CWD","raw_command":"CWD .","response_code":250,"response_msg":"CWD command successful","file":"<BASE>/home/ftpuser","dir_name":".","dir_path":"<BASE>/home/ftpuser","basename":"ftpuser"}',
    '{"command":"CWD","raw_command":"CWD /","response_code":250,"response_msg":"CWD command successful","file":"<BASE>/home/ftpuser","dir_name":"/","dir_path":"<BASE>/home/ftpuser","basename":"ftpuser"}',
    '{"command":"CWD","raw_command":"CWD //","response_code":250,"response_msg":"CWD command successful","file":"<BASE>/home/ftpuser","dir_name":"","dir_path":"<BASE>/home/ftpuser","basename":"ftpuser"}',
    '{"command":"CWD","raw_command":"CWD pub","response_code":250,"response_msg":"CWD command successful","file":"<BASE>/home/ftpuser/pub","dir_name":"pub","dir_path":"<BASE>/home/ftpuser/pub","basename":"pub"}',
    '{"command":"CDUP","raw_command":"CDUP","response_code":250,"response_msg":"CDUP command successful","file":"<BASE>/home/ftpuser/","dir_name":"","dir_path":"<BASE>/home/ftpuser/","basename":"/"}',
    '{"command":"XCWD","raw_command":"XCWD pub","response_code":250,"response_msg":"XCWD command successful","file":"<BASE>/home/ftpuser/pub","dir_name":"pub","dir_path":"<BASE>/home/ftpuser/pub","basename":"pub"}',
    '{"command":"XCWD","raw_command":"XCWD ../","response_code":250,"response_msg":"XCWD command successful","file":"<BASE>/home/ftpuser","dir_name":"","dir_path":"<BASE>/home/ftpuser","basename":"ftpuser"}',
    '{"command":"CDUP","raw_command":"CDUP","response_code":250,"response_msg":"CDUP command successful","file":"<BASE>/home/ftpuser/","dir_name":"","dir_path":"<BASE>/home/ftpuser/","basename":"/"}',
    '{"command":"SITE CHMOD","raw_command":"SITE CHMOD 644 pub/../b.txt","response_code":200,"response_msg":"SITE CHMOD command successful","file":"<BASE>/home/ftpuser/pub/../b.txt","dir_name":"/","basename":"b.txt"}',
    '{"command":"SITE CHMOD","raw_command":"SITE CHMOD 755 pub/","response_code":200,"response_msg":"SITE CHMOD command successful","file":"<BASE>/home/ftpuser/pub/","dir_name":"/","basename":""}',
    '{"command":"SITE CHMOD","raw_command":"SITE CHMOD 644 /b.txt","response_code":200,"response_msg":"SITE CHMOD command successful","file":"<BASE>/home/ftpuser/b.txt","dir_name":"/","basename":"b.txt"}',
    '{"command":"SITE CHMOD","raw_command":"SITE CHMOD 644 b.txt","response_code":200,"response_msg":"SITE CHMOD command successful","file":"<BASE>/home/ftpuser/b.txt","dir_name":"/","basename":"b.txt"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","dir_name":"/"}',
    '{"command":"EXIT","dir_name":"/"}',
]


HOSTILE_PATHS_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> CWD pub',
    '< 250 CWD command successful',
    '> CWD ..',
    '< 250 CWD command successful',
    '> CWD pub',
    '< 250 CWD command successful',
    '> CWD /pub/..',
    '< 250 CWD command successful',
    '> CWD .',
    '< 250 CWD command successful',
    '> CWD /',
    '< 250 CWD command successful',
    '> CWD //',
    '< 250 CWD command successful',
    '> CWD pub',
    '< 250 CWD command successful',
    '> CDUP',
    '< 250 CDUP command successful',
    '> XCWD pub',
    '< 250 XCWD command successful',
    '> XCWD ../',
    '< 250 XCWD command successful',
    '> CDUP',
    '< 250 CDUP command successful',
    '> SITE CHMOD 644 pub/../b.txt',
    '< 200 SITE CHMOD command successful',
    '> SITE CHMOD 755 pub/',
    '< 200 SITE CHMOD command successful',
    '> SITE CHMOD 644 /b.txt',
    '< 200 SITE CHMOD command successful',
    '> SITE CHMOD 644 b.txt',
    '< 200 SITE CHMOD command successful',
    '> QUIT',
    '< 221 Goodbye.',
]
