# -*- test-case-name: tests.test_debian_stock -*-
"""Debian's stock ProFTPD configuration under ftpredis.

tests/debian/ holds /etc/proftpd/proftpd.conf and /etc/proftpd/modules.conf as Debian 12's
proftpd-core 1.3.8+dfsg-4+deb12u5 installs them, byte for byte (CI installs no
proftpd).  A test copies them and changes only what cannot stay on a test machine: the
Include paths, Port, the SystemLog and TransferLog files, and User/Group (the account
the test runs as).  What a site adds goes into conf.d/, as Debian's layout intends:
ftpredis reads no system accounts, so an AuthUserFile, and Redis logging.

``--check`` passes on it with warnings (twenty-one modules loaded that ftpredis does not
provide, mod_delay's and mod_ctrls' blocks skipped...), the server serves a login and
listings with its ``ListOptions "-l"`` (lftp's ``ls -1`` gets a long listing, as from
ProFTPD) and its ``DisplayLogin welcome.msg`` (read from the user's home), and a conf.d
block for mod_wrap2, which modules.conf loads, is refused with its file and line.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shutil
import subprocess

from passlib.hash import sha512_crypt
from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.config import ConfigErrors, load_config
from tests.support import e2e
from tests.support.redisserver import RedisServerMixin

STOCK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "debian")
USER, PASSWORD = "debuser", "debpass"

SITE = """\
# What this site adds to Debian's configuration (and loopback only: a test listens on
# nothing else).
DefaultAddress 127.0.0.1
AuthUserFile {base}/ftpd.passwd
AuthGroupFile {base}/ftpd.group
RedisEngine on
RedisServer 127.0.0.1:{redis_port}
LogFormat listing "%u %r %s %b"
RedisLogOnCommand LIST,NLST listing
"""

LFTP = ("set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 10; "
        "set ftp:ssl-allow no; set ftp:passive-mode on; set ftp:use-mlsd no; ")


def _adjusted(text: str, changes) -> str:
    """``text`` with each ``(pattern, replacement, count)`` applied to whole lines; the
    count is checked, so the copy stays Debian's file but for these lines."""
    for pattern, replacement, count in changes:
        text, n = re.subn(pattern, replacement, text, flags=re.M)
        assert n == count, (pattern, n)
    return text


def stock_site(base: str, port: int, redis_port: int = 6379, site: str = SITE) -> str:
    """Debian's /etc/proftpd copied under ``base``, adjusted for this machine, with
    ``site`` as conf.d/site.conf and a user whose home holds welcome.msg and a few
    files; returns the path of proftpd.conf."""
    etc = os.path.join(base, "etc", "proftpd")
    os.makedirs(os.path.join(etc, "conf.d"))
    shutil.copy(os.path.join(STOCK, "modules.conf"), etc)
    me = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    with open(os.path.join(STOCK, "proftpd.conf")) as f:
        text = _adjusted(f.read(), [
            (r"^Include /etc/proftpd/", "Include %s/" % etc, 2),
            (r"^Port 21$", "Port %d" % port, 1),
            (r"^(TransferLog|SystemLog) /var/log/proftpd/", r"\1 %s/log/" % base, 2),
            (r"^User proftpd$", "User %s" % me, 1),
            (r"^Group nogroup$", "Group %s" % group, 1),
        ])
    conf = os.path.join(etc, "proftpd.conf")
    with open(conf, "w") as f:
        f.write(text)
    os.makedirs(os.path.join(base, "log"))
    with open(os.path.join(etc, "conf.d", "site.conf"), "w") as f:
        f.write(site.format(base=base, redis_port=redis_port))
    home = os.path.join(base, "home", USER)
    os.makedirs(os.path.join(home, "pub"))
    for name, data in (("welcome.msg", "Welcome, %U.\n"), ("a.txt", "alpha\n"),
                       (".hidden", "h\n"), ("pub/b.txt", "beta\n")):
        with open(os.path.join(home, name), "w") as f:
            f.write(data)
    passwd = os.path.join(base, "ftpd.passwd")
    with open(passwd, "w") as f:
        # RequireValidShell is on in Debian's file: a shell from /etc/shells
        f.write("%s:%s:5001:5001::%s:/bin/sh\n" % (
            USER, sha512_crypt.using(rounds=5000).hash(PASSWORD), home))
    with open(os.path.join(base, "ftpd.group"), "w") as f:
        f.write("debgroup:x:5001:\n")
    os.chmod(passwd, 0o600)
    os.chmod(os.path.join(base, "ftpd.group"), 0o600)
    return conf


class CheckTests(unittest.TestCase):

    def test_check_passes_with_warnings(self):
        """``twistd ftpredis --check`` as an admin runs it on Debian's file."""
        base = os.path.abspath(self.mktemp())
        conf = stock_site(base, 2121)
        etc = os.path.dirname(conf)
        proc = e2e.twistd(["-n", "--pidfile=", "ftpredis", "--config", conf, "--check"],
                          cwd=base)
        out, err = proc.communicate(timeout=60)
        out = out.decode()
        self.assertEqual((proc.returncode, err), (0, b""), out)
        lines = out.splitlines()
        self.assertTrue(lines[-1].startswith("Syntax OK: 1 server (main server "
                                             "127.0.0.1:2121)"),
                        lines[-1])
        modules = os.path.join(etc, "modules.conf")
        self.assertIn("warning: LoadModule: ftpredis does not provide mod_wrap2.c: its "
                      "directives and <IfModule> blocks are refused unless they only "
                      "turn it off on line 77 of '%s'" % modules, lines)
        self.assertEqual(len([w for w in lines if "ftpredis does not provide" in w
                              and w.startswith("warning: LoadModule")]), 21)
        self.assertIn("warning: <IfModule mod_delay.c> on line 118 of '%s' skipped: "
                      "ftpredis does not provide mod_delay.c, which ProFTPD has compiled "
                      "in, and this block does more than turn it off (line 119: "
                      "DelayEngine on)" % conf, lines)
        # mod_quotatab, mod_ratio, mod_ctrls_admin: loaded, and only turned off
        self.assertFalse([w for w in lines if "mod_quotatab.c>" in w or "mod_ratio.c>" in w
                          or "mod_ctrls_admin.c>" in w], lines)

    def test_block_for_a_loaded_module_is_refused(self):
        """mod_wrap2's access rules in conf.d: ProFTPD would apply them, ftpredis would
        not, so the config is refused (file and line of the block and of the
        LoadModule)."""
        base = os.path.abspath(self.mktemp())
        conf = stock_site(base, 2121, site=SITE + "<IfModule mod_wrap2.c>\n  WrapEngine on\n"
                          "  WrapTables file:/etc/ftpd.allow file:/etc/ftpd.deny\n"
                          "</IfModule>\n")
        etc = os.path.dirname(conf)
        with self.assertRaises(ConfigErrors) as caught:
            load_config(conf)
        self.assertEqual([str(e) for e in caught.exception.errors], [
            "<IfModule mod_wrap2.c>: ftpredis does not provide mod_wrap2.c (loaded on line "
            "77 of '%s/modules.conf'), and this block does more than turn it off (line 11: "
            "WrapEngine on) on line 10 of '%s/conf.d/site.conf'; ProFTPD would apply it: "
            "remove the block, or the LoadModule line" % (etc, etc)])


class ServingTests(RedisServerMixin, unittest.TestCase):
    """Debian's file in a real ``twistd -n ftpredis`` process."""

    def setUp(self):
        super().setUp()
        self.base = os.path.abspath(self.mktemp())
        self.port = e2e.free_port()
        conf = stock_site(self.base, self.port, self.redis.port)
        self.proc = e2e.twistd(["-n", "--pidfile=", "ftpredis", "--config", conf],
                               cwd=self.base)
        self.addCleanup(e2e.stop_process, self.proc)
        if not e2e.wait_listening(self.port):
            self.proc.kill()
            out, err = self.proc.communicate()
            self.fail("twistd did not listen (exit %s): %s%s"
                      % (self.proc.returncode, out.decode()[-2000:], err.decode()[-2000:]))

    def lftp(self, script):
        return e2e.in_thread(lambda: subprocess.run([
            "lftp", "-c", LFTP + "open -u %s,%s ftp://127.0.0.1:%d; %s"
            % (USER, PASSWORD, self.port, script)], capture_output=True, timeout=60))

    @defer.inlineCallbacks
    def test_login_shows_the_home_welcome_msg(self):
        """``DisplayLogin welcome.msg`` is relative: the file in the user's home."""
        def session():
            ftp = e2e.ftp_connect(self.port, None)
            reply = ftp.login(USER, PASSWORD)
            ftp.quit()
            return reply
        reply = yield e2e.in_thread(session)
        self.assertEqual(reply, "230-Welcome, %s.\n230 User %s logged in" % (USER, USER))

    @defer.inlineCallbacks
    def test_listings_with_debian_list_options(self):
        """ListOptions "-l" is read after the client's options: lftp's ``ls -1`` gets
        ProFTPD's long listing; ``nlist`` gets names."""
        r = yield self.lftp("ls -1; nlist")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().splitlines()
        self.assertEqual(len(lines), 6, lines)
        self.assertTrue(re.match(r"-rw-r--r-- +1 \S+ +\S+ +6 \w{3} [ \d]\d [ \d]\d:\d\d "
                                 r"a\.txt$", lines[0]), lines)
        self.assertTrue(lines[1].startswith("drwxr-xr-x") and lines[1].endswith(" pub"),
                        lines)
        self.assertTrue(lines[2].endswith(" welcome.msg"), lines)
        self.assertEqual(lines[3:], ["a.txt", "pub", "welcome.msg"])
        records = yield e2e.wait_records(self.redis.client(), b"listing", 2)
        got = [json.loads(r) for r in records]
        self.assertEqual([(g["user"], g["raw_command"], g["response_code"]) for g in got],
                         [(USER, "LIST -1", 226), (USER, "NLST", 226)])
        self.assertEqual(got[0]["bytes_sent"], len("".join(l + "\r\n" for l in lines[:3])))
