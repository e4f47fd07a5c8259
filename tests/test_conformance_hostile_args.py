# -*- test-case-name: tests.test_conformance_hostile_args -*-
"""Conformance: replies and records for odd arguments of PORT, EPRT, DELE and of
commands whose words are separated by several blanks or TABs (the ``hostile_*`` scenarios
of ``tests/support/hostile_scenarios.py``).

As in tests/test_conformance_hostile.py, the expected transcripts and records are what
proftpd 1.3.8 (Debian 12, mod_redis, the site of tests/support/ftpsite.py) answered and
wrote for the same sessions, observed with ``python3 tools/compare_proftpd.py hostile_x
-v`` (as root) and normalised as :mod:`tests.support.conformance` does; the data port a
script listens on is masked.  CI has no proftpd: the tests run ftpredis only.
"""

import json
import os
import re

from twisted.internet import defer, threads

# (importing it registers the hostile_* scenarios)
from tests.support.hostile_scenarios import EPRT_LINES
from tests.support.conformance import ScenarioCase


def _masked(transcript):
    out = []
    for line in transcript:
        line = re.sub(r"Passive Mode \([\d,]+\)", "Passive Mode (<PASV>)", line)
        line = re.sub(r"Extended Passive Mode \(\|\|\|\d+\|\)",
                      "Extended Passive Mode (|||<PORT>|)", line)
        out.append(line)
    return out


class HostileArgumentTests(ScenarioCase):

    @defer.inlineCallbacks
    def check(self, name, records, replies):
        got = yield self.runScenario(name)
        self.assertEqual(_masked(self.transcript), replies)
        self.assertRecords(got, {"h": records})

    @defer.inlineCallbacks
    def rawRecords(self):
        raw = yield threads.deferToThread(self.redis.client().lrange, "h")
        return [json.loads(r) for r in raw]

    @defer.inlineCallbacks
    def test_port_numbers(self):
        """PORT reads its six numbers as sscanf("%u,%u,%u,%u,%u,%u") does: anything after
        the sixth is ignored (seven or eight numbers, ",junk", "6x" pass), leading zeros
        and a "+" are taken, a number beyond 32 bits wraps; fewer than six, a number over
        255, a zero address or port are 501, two words 501 "Invalid number of
        parameters"; a port under 1024 or another host 500.  A private address from a
        client on a public one stands for the client's own (the NLST goes there).
        %{transfer-port} is the data port in effect, whatever the reply."""
        yield self.check("hostile_port", HOSTILE_PORT, HOSTILE_PORT_REPLIES)
        self.assertIn("# ['b.txt', 'pub']", self.transcript)
        records = yield self.rawRecords()
        ports = {r["raw_command"]: r["transfer_port"] for r in records
                 if r.get("command") == "PORT"}
        for line, port in (("PORT 127,0,0,1,100,2,7", 100 * 256 + 2),
                           ("PORT 127,0,0,1,100", 100 * 256 + 2),
                           ("PORT 127,000,000,001,0100,007", 100 * 256 + 7),
                           ("PORT 127,0,0,1,+100,8", 100 * 256 + 8),
                           ("PORT 127,0,0,1,-100,9", 100 * 256 + 8),
                           ("PORT 127,0,0,1,4294967396,16", 100 * 256 + 16),
                           ("PORT 127,0,0,1,-4294967196,22", 100 * 256 + 22),
                           ("PORT 192,168,1,1,100,18", 100 * 256 + 18)):
            self.assertEqual(ports[line], port, line)

    @defer.inlineCallbacks
    def test_eprt_fields(self):
        """EPRT reads protocol and port with atoi(): "01" is 1, a sign or letter after the
        delimiter is 501, a protocol other than 1 (2 with UseIPv6 off, 0, 3, none, "x") is
        522 "use (1)"; the address must be what inet_pton takes ("127.0.0.01", "127.1",
        "localhost": 501); a missing delimiter or field is 501; port 0 (65536), under 1024
        or another host 500; a port over 65535 wraps; anything after the last delimiter
        is ignored; any delimiter will do.  EPSV's protocol is read with strtol ("01",
        "+1" are 1, "x" is 501), two words are none."""
        yield self.check("hostile_eprt", HOSTILE_EPRT, HOSTILE_EPRT_REPLIES)
        # every line logged, and the NLST after it went through "!1!127.0.0.1!<PORT>!x"
        self.assertEqual(len([r for r in HOSTILE_EPRT if '"command":"EP' in r]),
                         len(EPRT_LINES) + 1)
        self.assertIn("# ['b.txt', 'pub']", self.transcript)

    def test_eprt_fields_ipv6(self):
        """With UseIPv6 on (ProFTPD's default) protocol 2 is taken: the refusals say
        "use (1,2)", |2|::1| is another host (500) and |2|::ffff:127.0.0.1| the client."""
        return self.check("hostile_eprt6", HOSTILE_EPRT6, HOSTILE_EPRT6_REPLIES)

    @defer.inlineCallbacks
    def test_eprt_ipv4_mapped_transfer(self):
        """EPRT |2| naming the client by its IPv4-mapped address: 200 as in ProFTPD, and
        the transfer works (ProFTPD 1.3.8 then fails it: README, Differences)."""
        yield self.check("hostile_eprt_mapped", HOSTILE_EPRT_MAPPED,
                         HOSTILE_EPRT_MAPPED_REPLIES)
        self.assertIn("# ['b.txt', 'pub']", self.transcript)


    @defer.inlineCallbacks
    def test_dele_directory(self):
        """DELE of a directory is 550 "<name>: Is a directory", and %b is the directory's
        st_size (4096 on ext4; ProFTPD's mod_log stats the path before DELE runs)."""
        yield self.check("hostile_dele_dir", HOSTILE_DELE_DIR, HOSTILE_DELE_DIR_REPLIES)
        records = yield self.rawRecords()
        sizes = [r["bytes_sent"] for r in records if r.get("command") == "DELE"]
        self.assertEqual(sizes[:3], [os.stat(os.path.join(self.site.home, d)).st_size
                                     for d in ("pub", "emptydir", ".")])


    def test_blanks_and_tabs_between_words(self):
        """A TAB ends the command word as a blank does ("TYPE<TAB>I" is TYPE I, "CWD<TAB>pub"
        changes to pub); the argument is what follows that one blank, so "MDTM  b.txt"
        asks for " b.txt" (550) and "MKD  newdir" makes " newdir"; the settings (PROT,
        PBSZ, TYPE, MODE, STRU, REST, PORT, EPRT, EPSV) take their one word whatever the
        blanks around it."""
        return self.check("hostile_blanks", HOSTILE_BLANKS, HOSTILE_BLANKS_REPLIES)


# Observed on proftpd 1.3.8 (Debian), see the module docstring.
HOSTILE_PORT = [
    '{"remote_port":"<PORT>"}',
    '{"command":"USER","raw_command":"USER ftpuser","command_params":"ftpuser","response_code":331,"response_msg":"Password required for ftpuser","remote_port":"<PORT>"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","response_code":230,"response_msg":"User ftpuser logged in","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,100,1","command_params":"127,0,0,1,100,1","response_code":200,"response_msg":"PORT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,100,2,7","command_params":"127,0,0,1,100,2,7","response_code":200,"response_msg":"PORT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,100","command_params":"127,0,0,1,100","response_code":501,"response_msg":"Illegal PORT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,100,3,7,8","command_params":"127,0,0,1,100,3,7,8","response_code":200,"response_msg":"PORT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,100,4,junk","command_params":"127,0,0,1,100,4,junk","response_code":200,"response_msg":"PORT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,100,5,","command_params":"127,0,0,1,100,5,","response_code":200,"response_msg":"PORT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,100,6x","command_params":"127,0,0,1,100,6x","response_code":200,"response_msg":"PORT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,256,1","command_params":"127,0,0,1,256,1","response_code":501,"response_msg":"Illegal PORT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,100,256","command_params":"127,0,0,1,100,256","response_code":501,"response_msg":"Illegal PORT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,256,100,1","command_params":"127,0,0,256,100,1","response_code":501,"response_msg":"Illegal PORT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,0,0","command_params":"127,0,0,1,0,0","response_code":501,"response_msg":"Illegal PORT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 0,0,0,0,100,1","command_params":"0,0,0,0,100,1","response_code":501,"response_msg":"Illegal PORT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,3,255","command_params":"127,0,0,1,3,255","response_code":500,"response_msg":"Illegal PORT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,2,100,1","command_params":"127,0,0,2,100,1","response_code":500,"response_msg":"Illegal PORT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,000,000,001,0100,007","command_params":"127,000,000,001,0100,007","response_code":200,"response_msg":"PORT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,+100,8","command_params":"127,0,0,1,+100,8","response_code":200,"response_msg":"PORT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,-100,9","command_params":"127,0,0,1,-100,9","response_code":501,"response_msg":"Illegal PORT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127, 0,0,1,100,10","command_params":"127, 0,0,1,100,10","response_code":501,"response_msg":"Invalid number of parameters","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127 ,0,0,1,100,11","command_params":"127 ,0,0,1,100,11","response_code":501,"response_msg":"Invalid number of parameters","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,100,12","command_params":"127,0,0,1,100,12 ","response_code":200,"response_msg":"PORT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,100,13","command_params":" 127,0,0,1,100,13","response_code":200,"response_msg":"PORT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,100,14","command_params":"127,0,0,1,100,14\\t","response_code":200,"response_msg":"PORT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,100,15","command_params":"\\"127,0,0,1,100,15\\"","response_code":200,"response_msg":"PORT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,4294967396,16","command_params":"127,0,0,1,4294967396,16","response_code":200,"response_msg":"PORT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,-4294967196,22","command_params":"127,0,0,1,-4294967196,22","response_code":200,"response_msg":"PORT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,99999999999999999999999,1","command_params":"127,0,0,1,99999999999999999999999,1","response_code":501,"response_msg":"Illegal PORT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127.0.0.1,100,17","command_params":"127.0.0.1,100,17","response_code":501,"response_msg":"Illegal PORT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,100,１","command_params":"127,0,0,1,100,１","response_code":501,"response_msg":"Illegal PORT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 192,168,1,1,100,18","command_params":"192,168,1,1,100,18","response_code":200,"response_msg":"PORT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,0x64,19","command_params":"127,0,0,1,0x64,19","response_code":501,"response_msg":"Illegal PORT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT ,127,0,0,1,100,20","command_params":",127,0,0,1,100,20","response_code":501,"response_msg":"Illegal PORT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 127,,0,0,1,100,21","command_params":"127,,0,0,1,100,21","response_code":501,"response_msg":"Illegal PORT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"PORT","raw_command":"PORT 10,0,0,1,<P1>,<P2>","command_params":"10,0,0,1,<P1>,<P2>","response_code":200,"response_msg":"PORT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"NLST","raw_command":"NLST","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/","transfer_status":"success","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","remote_port":"<PORT>"}',
    '{"command":"EXIT","remote_port":"<PORT>"}',
]


HOSTILE_PORT_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> PORT 127,0,0,1,100,1',
    '< 200 PORT command successful',
    '> PORT 127,0,0,1,100,2,7',
    '< 200 PORT command successful',
    '> PORT 127,0,0,1,100',
    '< 501 Illegal PORT command',
    '> PORT 127,0,0,1,100,3,7,8',
    '< 200 PORT command successful',
    '> PORT 127,0,0,1,100,4,junk',
    '< 200 PORT command successful',
    '> PORT 127,0,0,1,100,5,',
    '< 200 PORT command successful',
    '> PORT 127,0,0,1,100,6x',
    '< 200 PORT command successful',
    '> PORT 127,0,0,1,256,1',
    '< 501 Illegal PORT command',
    '> PORT 127,0,0,1,100,256',
    '< 501 Illegal PORT command',
    '> PORT 127,0,0,256,100,1',
    '< 501 Illegal PORT command',
    '> PORT 127,0,0,1,0,0',
    '< 501 Illegal PORT command',
    '> PORT 0,0,0,0,100,1',
    '< 501 Illegal PORT command',
    '> PORT 127,0,0,1,3,255',
    '< 500 Illegal PORT command',
    '> PORT 127,0,0,2,100,1',
    '< 500 Illegal PORT command',
    '> PORT 127,000,000,001,0100,007',
    '< 200 PORT command successful',
    '> PORT 127,0,0,1,+100,8',
    '< 200 PORT command successful',
    '> PORT 127,0,0,1,-100,9',
    '< 501 Illegal PORT command',
    '> PORT 127, 0,0,1,100,10',
    '< 501 Invalid number of parameters',
    '> PORT 127 ,0,0,1,100,11',
    '< 501 Invalid number of parameters',
    '> PORT 127,0,0,1,100,12 ',
    '< 200 PORT command successful',
    '> PORT  127,0,0,1,100,13',
    '< 200 PORT command successful',
    '> PORT 127,0,0,1,100,14\t',
    '< 200 PORT command successful',
    '> PORT "127,0,0,1,100,15"',
    '< 200 PORT command successful',
    '> PORT 127,0,0,1,4294967396,16',
    '< 200 PORT command successful',
    '> PORT 127,0,0,1,-4294967196,22',
    '< 200 PORT command successful',
    '> PORT 127,0,0,1,99999999999999999999999,1',
    '< 501 Illegal PORT command',
    '> PORT 127.0.0.1,100,17',
    '< 501 Illegal PORT command',
    '> PORT 127,0,0,1,100,１',
    '< 501 Illegal PORT command',
    '> PORT 192,168,1,1,100,18',
    '< 200 PORT command successful',
    '> PORT 127,0,0,1,0x64,19',
    '< 501 Illegal PORT command',
    '> PORT ,127,0,0,1,100,20',
    '< 501 Illegal PORT command',
    '> PORT 127,,0,0,1,100,21',
    '< 501 Illegal PORT command',
    '> PORT 10,0,0,1,<P1>,<P2>',
    '< 200 PORT command successful',
    '> NLST',
    '< 150 Opening ASCII mode data connection for file list',
    "# ['b.txt', 'pub']",
    '< 226 Transfer complete',
    '> QUIT',
    '< 221 Goodbye.',
]



HOSTILE_EPRT = [
    '{"remote_port":"<PORT>"}',
    '{"command":"USER","raw_command":"USER ftpuser","command_params":"ftpuser","response_code":331,"response_msg":"Password required for ftpuser","remote_port":"<PORT>"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","response_code":230,"response_msg":"User ftpuser logged in","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|25700|","command_params":"|1|127.0.0.1|25700|","response_code":200,"response_msg":"EPRT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |3|127.0.0.1|25701|","command_params":"|3|127.0.0.1|25701|","response_code":522,"response_msg":"Network protocol not supported, use (1)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |2|::1|25702|","command_params":"|2|::1|25702|","response_code":522,"response_msg":"Network protocol not supported, use (1)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |2|::ffff:127.0.0.1|25703|","command_params":"|2|::ffff:127.0.0.1|25703|","response_code":522,"response_msg":"Network protocol not supported, use (1)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |0|127.0.0.1|25704|","command_params":"|0|127.0.0.1|25704|","response_code":522,"response_msg":"Network protocol not supported, use (1)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |x|127.0.0.1|25705|","command_params":"|x|127.0.0.1|25705|","response_code":522,"response_msg":"Network protocol not supported, use (1)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT ||127.0.0.1|25706|","command_params":"||127.0.0.1|25706|","response_code":522,"response_msg":"Network protocol not supported, use (1)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |01|127.0.0.1|25707|","command_params":"|01|127.0.0.1|25707|","response_code":200,"response_msg":"EPRT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |+1|127.0.0.1|25708|","command_params":"|+1|127.0.0.1|25708|","response_code":501,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1x|127.0.0.1|25709|","command_params":"|1x|127.0.0.1|25709|","response_code":501,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|25710","command_params":"|1|127.0.0.1|25710","response_code":501,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|","command_params":"|1|127.0.0.1|","response_code":501,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1||","command_params":"|1|127.0.0.1||","response_code":500,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1","command_params":"|1|127.0.0.1","response_code":501,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|","command_params":"|1|","response_code":501,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1","command_params":"|1","response_code":501,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |","command_params":"|","response_code":522,"response_msg":"Network protocol not supported, use (1)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT x","command_params":"x","response_code":522,"response_msg":"Network protocol not supported, use (1)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT !1!127.0.0.1!25711!","command_params":"!1!127.0.0.1!25711!","response_code":200,"response_msg":"EPRT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT 1127.0.0.1125712","command_params":"1127.0.0.1125712","response_code":522,"response_msg":"Network protocol not supported, use (1)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|25713|junk","command_params":"|1|127.0.0.1|25713|junk","response_code":200,"response_msg":"EPRT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|65536|","command_params":"|1|127.0.0.1|65536|","response_code":500,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|91072|","command_params":"|1|127.0.0.1|91072|","response_code":200,"response_msg":"EPRT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|99999999999|","command_params":"|1|127.0.0.1|99999999999|","response_code":200,"response_msg":"EPRT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|-1|","command_params":"|1|127.0.0.1|-1|","response_code":501,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|+25714|","command_params":"|1|127.0.0.1|+25714|","response_code":501,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1| 25715|","command_params":"|1|127.0.0.1| 25715|","response_code":501,"response_msg":"Invalid number of parameters","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|1023|","command_params":"|1|127.0.0.1|1023|","response_code":500,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.2|25716|","command_params":"|1|127.0.0.2|25716|","response_code":500,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|10.0.0.1|25717|","command_params":"|1|10.0.0.1|25717|","response_code":200,"response_msg":"EPRT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.01|25718|","command_params":"|1|127.0.0.01|25718|","response_code":501,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|::ffff:127.0.0.1|25719|","command_params":"|1|::ffff:127.0.0.1|25719|","response_code":501,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|localhost|25720|","command_params":"|1|localhost|25720|","response_code":501,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.1|25721|","command_params":"|1|127.1|25721|","response_code":501,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|025722|","command_params":"|1|127.0.0.1|025722|","response_code":200,"response_msg":"EPRT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|25723|","command_params":"|1|127.0.0.1|25723| ","response_code":200,"response_msg":"EPRT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|25724| x","command_params":"|1|127.0.0.1|25724| x","response_code":501,"response_msg":"Invalid number of parameters","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|25725|","command_params":"\\"|1|127.0.0.1|25725|\\"","response_code":200,"response_msg":"EPRT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|25726|x|","command_params":"|1|127.0.0.1|25726|x|","response_code":200,"response_msg":"EPRT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|２|","command_params":"|1|127.0.0.1|２|","response_code":501,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |１|127.0.0.1|25727|","command_params":"|１|127.0.0.1|25727|","response_code":522,"response_msg":"Network protocol not supported, use (1)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |-1|127.0.0.1|25728|","command_params":"|-1|127.0.0.1|25728|","response_code":522,"response_msg":"Network protocol not supported, use (1)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |4294967297|127.0.0.1|25729|","command_params":"|4294967297|127.0.0.1|25729|","response_code":200,"response_msg":"EPRT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPSV","raw_command":"EPSV 3","command_params":"3","response_code":522,"response_msg":"Network protocol not supported, use (1)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPSV","raw_command":"EPSV 2","command_params":"2","response_code":522,"response_msg":"Network protocol not supported, use (1)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPSV","raw_command":"EPSV x","command_params":"x","response_code":501,"response_msg":"EPSV: unknown network protocol","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPSV","raw_command":"EPSV 01","command_params":"01","response_code":229,"response_msg":"Entering Extended Passive Mode (|||<PORT>|)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPSV","raw_command":"EPSV +1","command_params":"+1","response_code":229,"response_msg":"Entering Extended Passive Mode (|||<PORT>|)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPSV","raw_command":"EPSV 1 2","command_params":"1 2","response_code":229,"response_msg":"Entering Extended Passive Mode (|||<PORT>|)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPSV","raw_command":"EPSV","response_code":229,"response_msg":"Entering Extended Passive Mode (|||<PORT>|)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT !1!127.0.0.1!<PORT>!x","command_params":"!1!127.0.0.1!<PORT>!x","response_code":200,"response_msg":"EPRT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"NLST","raw_command":"NLST","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/","transfer_status":"success","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","remote_port":"<PORT>"}',
    '{"command":"EXIT","remote_port":"<PORT>"}',
]


HOSTILE_EPRT_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> EPRT |1|127.0.0.1|25700|',
    '< 200 EPRT command successful',
    '> EPRT |3|127.0.0.1|25701|',
    '< 522 Network protocol not supported, use (1)',
    '> EPRT |2|::1|25702|',
    '< 522 Network protocol not supported, use (1)',
    '> EPRT |2|::ffff:127.0.0.1|25703|',
    '< 522 Network protocol not supported, use (1)',
    '> EPRT |0|127.0.0.1|25704|',
    '< 522 Network protocol not supported, use (1)',
    '> EPRT |x|127.0.0.1|25705|',
    '< 522 Network protocol not supported, use (1)',
    '> EPRT ||127.0.0.1|25706|',
    '< 522 Network protocol not supported, use (1)',
    '> EPRT |01|127.0.0.1|25707|',
    '< 200 EPRT command successful',
    '> EPRT |+1|127.0.0.1|25708|',
    '< 501 Illegal EPRT command',
    '> EPRT |1x|127.0.0.1|25709|',
    '< 501 Illegal EPRT command',
    '> EPRT |1|127.0.0.1|25710',
    '< 501 Illegal EPRT command',
    '> EPRT |1|127.0.0.1|',
    '< 501 Illegal EPRT command',
    '> EPRT |1|127.0.0.1||',
    '< 500 Illegal EPRT command',
    '> EPRT |1|127.0.0.1',
    '< 501 Illegal EPRT command',
    '> EPRT |1|',
    '< 501 Illegal EPRT command',
    '> EPRT |1',
    '< 501 Illegal EPRT command',
    '> EPRT |',
    '< 522 Network protocol not supported, use (1)',
    '> EPRT x',
    '< 522 Network protocol not supported, use (1)',
    '> EPRT !1!127.0.0.1!25711!',
    '< 200 EPRT command successful',
    '> EPRT 1127.0.0.1125712',
    '< 522 Network protocol not supported, use (1)',
    '> EPRT |1|127.0.0.1|25713|junk',
    '< 200 EPRT command successful',
    '> EPRT |1|127.0.0.1|65536|',
    '< 500 Illegal EPRT command',
    '> EPRT |1|127.0.0.1|91072|',
    '< 200 EPRT command successful',
    '> EPRT |1|127.0.0.1|99999999999|',
    '< 200 EPRT command successful',
    '> EPRT |1|127.0.0.1|-1|',
    '< 501 Illegal EPRT command',
    '> EPRT |1|127.0.0.1|+25714|',
    '< 501 Illegal EPRT command',
    '> EPRT |1|127.0.0.1| 25715|',
    '< 501 Invalid number of parameters',
    '> EPRT |1|127.0.0.1|1023|',
    '< 500 Illegal EPRT command',
    '> EPRT |1|127.0.0.2|25716|',
    '< 500 Illegal EPRT command',
    '> EPRT |1|10.0.0.1|25717|',
    '< 200 EPRT command successful',
    '> EPRT |1|127.0.0.01|25718|',
    '< 501 Illegal EPRT command',
    '> EPRT |1|::ffff:127.0.0.1|25719|',
    '< 501 Illegal EPRT command',
    '> EPRT |1|localhost|25720|',
    '< 501 Illegal EPRT command',
    '> EPRT |1|127.1|25721|',
    '< 501 Illegal EPRT command',
    '> EPRT |1|127.0.0.1|025722|',
    '< 200 EPRT command successful',
    '> EPRT |1|127.0.0.1|25723| ',
    '< 200 EPRT command successful',
    '> EPRT |1|127.0.0.1|25724| x',
    '< 501 Invalid number of parameters',
    '> EPRT "|1|127.0.0.1|25725|"',
    '< 200 EPRT command successful',
    '> EPRT |1|127.0.0.1|25726|x|',
    '< 200 EPRT command successful',
    '> EPRT |1|127.0.0.1|２|',
    '< 501 Illegal EPRT command',
    '> EPRT |１|127.0.0.1|25727|',
    '< 522 Network protocol not supported, use (1)',
    '> EPRT |-1|127.0.0.1|25728|',
    '< 522 Network protocol not supported, use (1)',
    '> EPRT |4294967297|127.0.0.1|25729|',
    '< 200 EPRT command successful',
    '> EPSV 3',
    '< 522 Network protocol not supported, use (1)',
    '> EPSV 2',
    '< 522 Network protocol not supported, use (1)',
    '> EPSV x',
    '< 501 EPSV: unknown network protocol',
    '> EPSV 01',
    '< 229 Entering Extended Passive Mode (|||<PORT>|)',
    '> EPSV +1',
    '< 229 Entering Extended Passive Mode (|||<PORT>|)',
    '> EPSV 1 2',
    '< 229 Entering Extended Passive Mode (|||<PORT>|)',
    '> EPSV',
    '< 229 Entering Extended Passive Mode (|||<PORT>|)',
    '> EPRT !1!127.0.0.1!<PORT>!x',
    '< 200 EPRT command successful',
    '> NLST',
    '< 150 Opening ASCII mode data connection for file list',
    "# ['b.txt', 'pub']",
    '< 226 Transfer complete',
    '> QUIT',
    '< 221 Goodbye.',
]


def _ipv6_on(lines, changes):
    """``lines`` with "use (1)" as "use (1,2)" and the lines of ``changes`` replaced."""
    out = [x.replace("supported, use (1)", "supported, use (1,2)") for x in lines]
    for old, new in changes:
        out[out.index(old)] = new
    return out


# UseIPv6 on: the same session, but protocol 2 is known.
HOSTILE_EPRT6 = _ipv6_on(HOSTILE_EPRT, [
    ('{"command":"EPRT","raw_command":"EPRT |2|::1|25702|","command_params":"|2|::1|25702|",'
     '"response_code":522,"response_msg":"Network protocol not supported, use (1,2)",'
     '"transfer_port":"<PORT>","remote_port":"<PORT>"}',
     '{"command":"EPRT","raw_command":"EPRT |2|::1|25702|","command_params":"|2|::1|25702|",'
     '"response_code":500,"response_msg":"Illegal EPRT command","transfer_port":"<PORT>",'
     '"remote_port":"<PORT>"}'),
    ('{"command":"EPRT","raw_command":"EPRT |2|::ffff:127.0.0.1|25703|","command_params":'
     '"|2|::ffff:127.0.0.1|25703|","response_code":522,"response_msg":"Network protocol not '
     'supported, use (1,2)","transfer_port":"<PORT>","remote_port":"<PORT>"}',
     '{"command":"EPRT","raw_command":"EPRT |2|::ffff:127.0.0.1|25703|","command_params":'
     '"|2|::ffff:127.0.0.1|25703|","response_code":200,"response_msg":"EPRT command '
     'successful","transfer_port":"<PORT>","remote_port":"<PORT>"}'),
    ('{"command":"EPSV","raw_command":"EPSV 2","command_params":"2","response_code":522,'
     '"response_msg":"Network protocol not supported, use (1,2)","transfer_port":"<PORT>",'
     '"remote_port":"<PORT>"}',
     '{"command":"EPSV","raw_command":"EPSV 2","command_params":"2","response_code":229,'
     '"response_msg":"Entering Extended Passive Mode (|||<PORT>|)","transfer_port":"<PORT>",'
     '"remote_port":"<PORT>"}'),
])
HOSTILE_EPRT6_REPLIES = _ipv6_on(HOSTILE_EPRT_REPLIES, [])
for _sent, _reply in (("> EPRT |2|::1|25702|", "< 500 Illegal EPRT command"),
                      ("> EPRT |2|::ffff:127.0.0.1|25703|", "< 200 EPRT command successful"),
                      ("> EPSV 2", "< 229 Entering Extended Passive Mode (|||<PORT>|)")):
    HOSTILE_EPRT6_REPLIES[HOSTILE_EPRT6_REPLIES.index(_sent) + 1] = _reply


HOSTILE_EPRT_MAPPED = [
    '{"remote_port":"<PORT>"}',
    '{"command":"USER","raw_command":"USER ftpuser","command_params":"ftpuser","response_code":331,"response_msg":"Password required for ftpuser","remote_port":"<PORT>"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","command_params":"(hidden)","response_code":230,"response_msg":"User ftpuser logged in","remote_port":"<PORT>"}',
    '{"command":"EPRT","raw_command":"EPRT |2|::ffff:127.0.0.1|<PORT>|","command_params":"|2|::ffff:127.0.0.1|<PORT>|","response_code":200,"response_msg":"EPRT command successful","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    # ProFTPD 1.3.8: 425 "Unable to build data connection: Address family not supported
    # by protocol" (README, Differences); the record of the transfer as it goes here:
    '{"command":"NLST","raw_command":"NLST","response_code":226,"response_msg":"Transfer complete","file":"<BASE>/home/ftpuser/","transfer_status":"success","transfer_port":"<PORT>","remote_port":"<PORT>"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","remote_port":"<PORT>"}',
    '{"command":"EXIT","remote_port":"<PORT>"}',
]


HOSTILE_EPRT_MAPPED_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> EPRT |2|::ffff:127.0.0.1|<PORT>|',
    '< 200 EPRT command successful',
    '> NLST',
    # ProFTPD 1.3.8: '< 425 Unable to build data connection: Address family not supported by protocol'
    '< 150 Opening ASCII mode data connection for file list',
    "# ['b.txt', 'pub']",
    '< 226 Transfer complete',
    '> QUIT',
    '< 221 Goodbye.',
]


HOSTILE_DELE_DIR = [
    '{"dir_name":"/"}',
    '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","dir_name":"/"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","dir_name":"/"}',
    '{"command":"DELE","raw_command":"DELE pub","response_code":550,"response_msg":"pub: Is a directory","file":"<BASE>/home/ftpuser/pub","transfer_path":"/pub","dir_name":"/","basename":"pub","bytes_sent":"<DIR_SIZE>"}',
    '{"command":"DELE","raw_command":"DELE emptydir","response_code":550,"response_msg":"emptydir: Is a directory","file":"<BASE>/home/ftpuser/emptydir","transfer_path":"/emptydir","dir_name":"/","basename":"emptydir","bytes_sent":"<DIR_SIZE>"}',
    '{"command":"DELE","raw_command":"DELE /","response_code":550,"response_msg":"/: Is a directory","file":"<BASE>/home/ftpuser/","transfer_path":"/","dir_name":"/","basename":"/","bytes_sent":"<DIR_SIZE>"}',
    '{"command":"DELE","raw_command":"DELE d2","response_code":550,"response_msg":"d2: No such file or directory","file":"<BASE>/home/ftpuser/d2","transfer_path":"/d2","dir_name":"/","basename":"d2","bytes_sent":0}',
    '{"command":"MKD","raw_command":"MKD d2","response_code":257,"response_msg":"\\"/d2\\" - Directory successfully created","file":"<BASE>/home/ftpuser/d2","transfer_path":"/d2","dir_name":"d2","dir_path":"<BASE>/home/ftpuser/d2","basename":"d2"}',
    '{"command":"DELE","raw_command":"DELE d2","response_code":550,"response_msg":"d2: Is a directory","file":"<BASE>/home/ftpuser/d2","transfer_path":"/d2","dir_name":"/","basename":"d2","bytes_sent":"<DIR_SIZE>"}',
    '{"command":"RMD","raw_command":"RMD d2","response_code":250,"response_msg":"RMD command successful","file":"<BASE>/home/ftpuser/d2","transfer_path":"/d2","dir_name":"d2","dir_path":"<BASE>/home/ftpuser/d2","basename":"d2"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","dir_name":"/"}',
    '{"command":"EXIT","dir_name":"/"}',
]


HOSTILE_DELE_DIR_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> DELE pub',
    '< 550 pub: Is a directory',
    '> DELE emptydir',
    '< 550 emptydir: Is a directory',
    '> DELE /',
    '< 550 /: Is a directory',
    '> DELE d2',
    '< 550 d2: No such file or directory',
    '> MKD d2',
    '< 257 "/d2" - Directory successfully created',
    '> DELE d2',
    '< 550 d2: Is a directory',
    '> RMD d2',
    '< 250 RMD command successful',
    '> QUIT',
    '< 221 Goodbye.',
]


HOSTILE_BLANKS = [
    '{"dir_name":"/"}',
    '{"command":"USER","raw_command":"USER ftpuser","response_code":331,"response_msg":"Password required for ftpuser","dir_name":"/"}',
    '{"command":"PASS","raw_command":"PASS (hidden)","response_code":230,"response_msg":"User ftpuser logged in","dir_name":"/"}',
    '{"command":"PROT","raw_command":"PROT P","response_code":500,"response_msg":"PROT not understood","dir_name":"/"}',
    '{"command":"PROT","raw_command":"PROT P","response_code":500,"response_msg":"PROT not understood","dir_name":"/"}',
    '{"command":"PROT","raw_command":"PROT P","response_code":500,"response_msg":"PROT not understood","dir_name":"/"}',
    '{"command":"PROT","raw_command":"PROT P","response_code":500,"response_msg":"PROT not understood","dir_name":"/"}',
    '{"command":"PBSZ","raw_command":"PBSZ 0","response_code":500,"response_msg":"PBSZ not understood","dir_name":"/"}',
    '{"command":"PBSZ","raw_command":"PBSZ 0","response_code":500,"response_msg":"PBSZ not understood","dir_name":"/"}',
    '{"command":"PBSZ","raw_command":"PBSZ 0","response_code":500,"response_msg":"PBSZ not understood","dir_name":"/"}',
    '{"command":"PBSZ","raw_command":"PBSZ 0","response_code":500,"response_msg":"PBSZ not understood","dir_name":"/"}',
    '{"command":"TYPE","raw_command":"TYPE I","response_code":200,"response_msg":"Type set to I","dir_name":"/"}',
    '{"command":"TYPE","raw_command":"TYPE I","response_code":200,"response_msg":"Type set to I","dir_name":"/"}',
    '{"command":"TYPE","raw_command":"TYPE I","response_code":200,"response_msg":"Type set to I","dir_name":"/"}',
    '{"command":"TYPE","raw_command":"TYPE I","response_code":200,"response_msg":"Type set to I","dir_name":"/"}',
    '{"command":"MODE","raw_command":"MODE S","response_code":200,"response_msg":"Mode set to S","dir_name":"/"}',
    '{"command":"MODE","raw_command":"MODE S","response_code":200,"response_msg":"Mode set to S","dir_name":"/"}',
    '{"command":"MODE","raw_command":"MODE S","response_code":200,"response_msg":"Mode set to S","dir_name":"/"}',
    '{"command":"MODE","raw_command":"MODE S","response_code":200,"response_msg":"Mode set to S","dir_name":"/"}',
    '{"command":"STRU","raw_command":"STRU F","response_code":200,"response_msg":"Structure set to F","dir_name":"/"}',
    '{"command":"STRU","raw_command":"STRU F","response_code":200,"response_msg":"Structure set to F","dir_name":"/"}',
    '{"command":"STRU","raw_command":"STRU F","response_code":200,"response_msg":"Structure set to F","dir_name":"/"}',
    '{"command":"STRU","raw_command":"STRU F","response_code":200,"response_msg":"Structure set to F","dir_name":"/"}',
    '{"command":"REST","raw_command":"REST 0","response_code":350,"response_msg":"Restarting at 0. Send STORE or RETRIEVE to initiate transfer","dir_name":"/"}',
    '{"command":"REST","raw_command":"REST 0","response_code":350,"response_msg":"Restarting at 0. Send STORE or RETRIEVE to initiate transfer","dir_name":"/"}',
    '{"command":"REST","raw_command":"REST 0","response_code":350,"response_msg":"Restarting at 0. Send STORE or RETRIEVE to initiate transfer","dir_name":"/"}',
    '{"command":"REST","raw_command":"REST 0","response_code":350,"response_msg":"Restarting at 0. Send STORE or RETRIEVE to initiate transfer","dir_name":"/"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,100,1","response_code":200,"response_msg":"PORT command successful","dir_name":"/"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,100,1","response_code":200,"response_msg":"PORT command successful","dir_name":"/"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,100,1","response_code":200,"response_msg":"PORT command successful","dir_name":"/"}',
    '{"command":"PORT","raw_command":"PORT 127,0,0,1,100,1","response_code":200,"response_msg":"PORT command successful","dir_name":"/"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|25700|","response_code":200,"response_msg":"EPRT command successful","dir_name":"/"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|25700|","response_code":200,"response_msg":"EPRT command successful","dir_name":"/"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|25700|","response_code":200,"response_msg":"EPRT command successful","dir_name":"/"}',
    '{"command":"EPRT","raw_command":"EPRT |1|127.0.0.1|25700|","response_code":200,"response_msg":"EPRT command successful","dir_name":"/"}',
    '{"command":"EPSV","raw_command":"EPSV 1","response_code":229,"response_msg":"Entering Extended Passive Mode (|||<PORT>|)","dir_name":"/"}',
    '{"command":"EPSV","raw_command":"EPSV 1","response_code":229,"response_msg":"Entering Extended Passive Mode (|||<PORT>|)","dir_name":"/"}',
    '{"command":"EPSV","raw_command":"EPSV 1","response_code":229,"response_msg":"Entering Extended Passive Mode (|||<PORT>|)","dir_name":"/"}',
    '{"command":"EPSV","raw_command":"EPSV 1","response_code":229,"response_msg":"Entering Extended Passive Mode (|||<PORT>|)","dir_name":"/"}',
    '{"command":"MDTM","raw_command":"MDTM b.txt","response_code":550,"response_msg":" b.txt: No such file or directory","file":"<BASE>/home/ftpuser/ b.txt","dir_name":"/","basename":" b.txt"}',
    '{"command":"MDTM","raw_command":"MDTM b.txt","response_code":213,"response_msg":"<MDTM>","file":"<BASE>/home/ftpuser/b.txt","dir_name":"/","basename":"b.txt"}',
    '{"command":"MDTM","raw_command":"MDTM b.txt","response_code":550,"response_msg":"\\tb.txt: No such file or directory","file":"<BASE>/home/ftpuser/\\tb.txt","dir_name":"/","basename":"\\tb.txt"}',
    '{"command":"MDTM","raw_command":"MDTM b.txt","response_code":550,"response_msg":"b.txt  : No such file or directory","file":"<BASE>/home/ftpuser/b.txt  ","dir_name":"/","basename":"b.txt  "}',
    '{"command":"SIZE","raw_command":"SIZE b.txt","response_code":550,"response_msg":" b.txt: No such file or directory","dir_name":"/"}',
    '{"command":"SIZE","raw_command":"SIZE b.txt","response_code":213,"response_msg":"2","dir_name":"/"}',
    '{"command":"SIZE","raw_command":"SIZE b.txt","response_code":550,"response_msg":"\\tb.txt: No such file or directory","dir_name":"/"}',
    '{"command":"SIZE","raw_command":"SIZE b.txt","response_code":550,"response_msg":"b.txt  : No such file or directory","dir_name":"/"}',
    '{"command":"MKD","raw_command":"MKD newdir","response_code":257,"response_msg":"\\"/ newdir\\" - Directory successfully created","file":"<BASE>/home/ftpuser/ newdir","transfer_path":"/ newdir","dir_name":" newdir","dir_path":"<BASE>/home/ftpuser/ newdir","basename":" newdir"}',
    '{"command":"MKD","raw_command":"MKD newdir","response_code":257,"response_msg":"\\"/newdir\\" - Directory successfully created","file":"<BASE>/home/ftpuser/newdir","transfer_path":"/newdir","dir_name":"newdir","dir_path":"<BASE>/home/ftpuser/newdir","basename":"newdir"}',
    '{"command":"MKD","raw_command":"MKD newdir","response_code":257,"response_msg":"\\"/\\tnewdir\\" - Directory successfully created","file":"<BASE>/home/ftpuser/\\tnewdir","transfer_path":"/\\tnewdir","dir_name":"\\tnewdir","dir_path":"<BASE>/home/ftpuser/\\tnewdir","basename":"\\tnewdir"}',
    '{"command":"MKD","raw_command":"MKD newdir","response_code":257,"response_msg":"\\"/newdir  \\" - Directory successfully created","file":"<BASE>/home/ftpuser/newdir  ","transfer_path":"/newdir  ","dir_name":"newdir  ","dir_path":"<BASE>/home/ftpuser/newdir  ","basename":"newdir  "}',
    '{"command":"CWD","raw_command":"CWD pub","response_code":250,"response_msg":"CWD command successful","file":"<BASE>/home/ftpuser/pub","dir_name":"pub","dir_path":"<BASE>/home/ftpuser/pub","basename":"pub"}',
    '{"command":"PWD","raw_command":"PWD","response_code":257,"response_msg":"\\"/pub\\" is the current directory","file":"<BASE>/home/ftpuser/pub","dir_name":"/pub","basename":"pub"}',
    '{"command":"XCWD","raw_command":"XCWD /","response_code":250,"response_msg":"XCWD command successful","file":"<BASE>/home/ftpuser","dir_name":"/","dir_path":"<BASE>/home/ftpuser","basename":"ftpuser"}',
    '{"command":"PWD","raw_command":"PWD","response_code":257,"response_msg":"\\"/\\" is the current directory","file":"<BASE>/home/ftpuser/","dir_name":"/","basename":"/"}',
    '{"command":"QUIT","raw_command":"QUIT","response_code":221,"response_msg":"Goodbye.","dir_name":"/"}',
    '{"command":"EXIT","dir_name":"/"}',
]


HOSTILE_BLANKS_REPLIES = [
    '< 220 example ready',
    '> USER ftpuser',
    '< 331 Password required for ftpuser',
    '> PASS (hidden)',
    '< 230 User ftpuser logged in',
    '> PROT  P',
    '< 500 PROT not understood',
    '> PROT\tP',
    '< 500 PROT not understood',
    '> PROT \tP',
    '< 500 PROT not understood',
    '> PROT P  ',
    '< 500 PROT not understood',
    '> PBSZ  0',
    '< 500 PBSZ not understood',
    '> PBSZ\t0',
    '< 500 PBSZ not understood',
    '> PBSZ \t0',
    '< 500 PBSZ not understood',
    '> PBSZ 0  ',
    '< 500 PBSZ not understood',
    '> TYPE  I',
    '< 200 Type set to I',
    '> TYPE\tI',
    '< 200 Type set to I',
    '> TYPE \tI',
    '< 200 Type set to I',
    '> TYPE I  ',
    '< 200 Type set to I',
    '> MODE  S',
    '< 200 Mode set to S',
    '> MODE\tS',
    '< 200 Mode set to S',
    '> MODE \tS',
    '< 200 Mode set to S',
    '> MODE S  ',
    '< 200 Mode set to S',
    '> STRU  F',
    '< 200 Structure set to F',
    '> STRU\tF',
    '< 200 Structure set to F',
    '> STRU \tF',
    '< 200 Structure set to F',
    '> STRU F  ',
    '< 200 Structure set to F',
    '> REST  0',
    '< 350 Restarting at 0. Send STORE or RETRIEVE to initiate transfer',
    '> REST\t0',
    '< 350 Restarting at 0. Send STORE or RETRIEVE to initiate transfer',
    '> REST \t0',
    '< 350 Restarting at 0. Send STORE or RETRIEVE to initiate transfer',
    '> REST 0  ',
    '< 350 Restarting at 0. Send STORE or RETRIEVE to initiate transfer',
    '> PORT  127,0,0,1,100,1',
    '< 200 PORT command successful',
    '> PORT\t127,0,0,1,100,1',
    '< 200 PORT command successful',
    '> PORT \t127,0,0,1,100,1',
    '< 200 PORT command successful',
    '> PORT 127,0,0,1,100,1  ',
    '< 200 PORT command successful',
    '> EPRT  |1|127.0.0.1|25700|',
    '< 200 EPRT command successful',
    '> EPRT\t|1|127.0.0.1|25700|',
    '< 200 EPRT command successful',
    '> EPRT \t|1|127.0.0.1|25700|',
    '< 200 EPRT command successful',
    '> EPRT |1|127.0.0.1|25700|  ',
    '< 200 EPRT command successful',
    '> EPSV  1',
    '< 229 Entering Extended Passive Mode (|||<PORT>|)',
    '> EPSV\t1',
    '< 229 Entering Extended Passive Mode (|||<PORT>|)',
    '> EPSV \t1',
    '< 229 Entering Extended Passive Mode (|||<PORT>|)',
    '> EPSV 1  ',
    '< 229 Entering Extended Passive Mode (|||<PORT>|)',
    '> MDTM  b.txt',
    '< 550  b.txt: No such file or directory',
    '> MDTM\tb.txt',
    '< 213 20231114221320',
    '> MDTM \tb.txt',
    '< 550 \tb.txt: No such file or directory',
    '> MDTM b.txt  ',
    '< 550 b.txt  : No such file or directory',
    '> SIZE  b.txt',
    '< 550  b.txt: No such file or directory',
    '> SIZE\tb.txt',
    '< 213 2',
    '> SIZE \tb.txt',
    '< 550 \tb.txt: No such file or directory',
    '> SIZE b.txt  ',
    '< 550 b.txt  : No such file or directory',
    '> MKD  newdir',
    '< 257 "/ newdir" - Directory successfully created',
    '> MKD\tnewdir',
    '< 257 "/newdir" - Directory successfully created',
    '> MKD \tnewdir',
    '< 257 "/\tnewdir" - Directory successfully created',
    '> MKD newdir  ',
    '< 257 "/newdir  " - Directory successfully created',
    '> CWD\tpub',
    '< 250 CWD command successful',
    '> PWD',
    '< 257 "/pub" is the current directory',
    '> XCWD\t/',
    '< 250 XCWD command successful',
    '> PWD',
    '< 257 "/" is the current directory',
    '> QUIT',
    '< 221 Goodbye.',
]
