# -*- test-case-name: tests.test_systemlog -*-
"""SystemLog: ProFTPD's session log lines, and Debian's fail2ban ``proftpd`` filter
finding every refused login in them (``fail2ban-regex``, the real program)."""

from __future__ import annotations

import ftplib
import os
import re
import subprocess

from twisted.internet import defer
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial import unittest

from ftpredis.app.service import FTPRedisService
from ftpredis.config import load_config
from tests.support import e2e
from tests.support.waiting import waitFor

CONF = """\
ServerName "test"
Port {port}
DefaultAddress 127.0.0.1
AuthUserFile {base}/ftpd.passwd
AuthGroupFile {base}/ftpd.group
RequireValidShell on
DefaultRoot ~
SystemLog {base}/system.log
MaxLoginAttempts 2
<Limit LOGIN>
  DenyUser bob
</Limit>
"""

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \S+ ftpredis\[(\d+)\] "
                  r"127\.0\.0\.1 \(127\.0\.0\.1\[127\.0\.0\.1\]\): (.*)$")

USERS = ((e2e.USER, e2e.PASSWORD), ("bob", "bob-secret"), ("toor", "toor-secret"),
         ("shelly", "shelly-secret"))

FILTER = "/etc/fail2ban/filter.d/proftpd.conf"


class SystemLogTests(unittest.TestCase):

    def setUp(self):
        self.base = os.path.abspath(self.mktemp())
        self.port = e2e.free_port()
        self.conf = e2e.write_site(self.base, CONF, port=self.port, users=USERS)
        # ftpuser and bob get a valid shell, toor uid 0, shelly keeps /bin/false.
        passwd = os.path.join(self.base, "ftpd.passwd")
        with open(passwd) as f:
            lines = f.read().splitlines(True)
        fixed = []
        for line in lines:
            fields = line.rstrip("\n").split(":")
            if fields[0] in (e2e.USER, "bob", "toor"):
                fields[6] = "/bin/sh"
            if fields[0] == "toor":
                fields[2] = "0"
            fixed.append(":".join(fields) + "\n")
        with open(passwd, "w") as f:
            f.writelines(fixed)
        self.log = os.path.join(self.base, "system.log")
        self.service = FTPRedisService(load_config(self.conf))
        self.service.startService()
        self.addCleanup(self.service.stopService)

    def sessions(self):
        def attempt(*logins):
            f = ftplib.FTP()
            f.connect("127.0.0.1", self.port, timeout=10)
            try:
                for user, password in logins:
                    try:
                        f.login(user, password)
                    except ftplib.error_perm:
                        pass
                f.quit()
            except (EOFError, OSError, ftplib.Error):
                f.close()
        attempt((e2e.USER, e2e.PASSWORD))
        attempt((e2e.USER, "wrong-1"))
        attempt(("nosuch", "nosuch-secret"))
        attempt(("toor", "toor-secret"))
        attempt(("shelly", "shelly-secret"))
        attempt(("bob", "bob-secret"))
        attempt((e2e.USER, "wrong-2"), (e2e.USER, "wrong-3"))

    def messages(self):
        with open(self.log, encoding="utf-8") as f:
            return f.read().splitlines()

    @defer.inlineCallbacks
    def test_lines_and_fail2ban(self):
        logged = []
        observer = lambda event: logged.append(formatEvent(event))
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        yield e2e.in_thread(self.sessions)
        yield waitFor(lambda: sum(1 for line in self.messages()
                                  if line.endswith("FTP session closed.")) == 7,
                      "seven sessions closed in the SystemLog")
        lines = self.messages()
        # The daemon's own line first, as ProFTPD's "... standalone mode STARTUP".
        from ftpredis import __version__
        self.assertRegex(lines.pop(0), r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \S+ "
                         r"ftpredis\[%d\] 127\.0\.0\.1: ftpredis %s standalone mode STARTUP$"
                         % (os.getpid(), re.escape(__version__)))
        for line in lines:
            self.assertRegex(line, LINE)
        self.assertEqual({LINE.match(line).group(1) for line in lines}, {str(os.getpid())})
        said = [LINE.match(line).group(2) for line in lines]
        said = [m for m in said if m not in ("FTP session opened.", "FTP session closed.")]
        self.assertEqual(said, [
            "USER ftpuser: Login successful.",
            "USER ftpuser (Login failed): Incorrect password",
            "USER nosuch: no such user found from 127.0.0.1 [127.0.0.1] to 127.0.0.1:%d"
            % self.port,
            "SECURITY VIOLATION: Root login attempted",
            "USER shelly (Login failed): Invalid shell: '/bin/false'",
            "USER bob (Login failed): Limit access denies login",
            "USER ftpuser (Login failed): Incorrect password",
            "USER ftpuser (Login failed): Incorrect password",
            "Maximum login attempts (2) exceeded, connection refused",
        ])
        # the same refusals in twistd's log
        for message in said[1:]:
            self.assertIn("127.0.0.1: " + message, logged)
        text = "\n".join(lines + logged)
        for _, password in USERS:
            self.assertNotIn(password, text)
        for password in ("wrong-1", "wrong-2", "wrong-3", "nosuch-secret"):
            self.assertNotIn(password, text)

        # Debian's stock filter, told the daemon's name as a jail would be
        # (filter = proftpd[_daemon=ftpredis]): every refusal, nothing else.
        self.assertTrue(os.path.exists(FILTER), "fail2ban is not installed")
        out = subprocess.run(["fail2ban-regex", "--print-all-matched", self.log,
                              FILTER + "[_daemon=ftpredis]"],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        counts = re.search(r"Lines: (\d+) lines, (\d+) ignored, (\d+) matched", out.stdout)
        self.assertIsNotNone(counts, out.stdout)
        self.assertEqual(int(counts.group(3)), 8, out.stdout)
        section = out.stdout.split("Matched line(s):", 1)[1].split("Missed line(s)", 1)[0]
        matched = [line for line in section.splitlines() if "ftpredis[" in line]
        self.assertEqual(len(matched), 8, out.stdout)
        self.assertFalse([line for line in matched if "Login successful" in line
                          or "session" in line], out.stdout)


class SystemLogReloadTests(unittest.TestCase):
    """SIGHUP: a new SystemLog takes every session's lines from then on, the kept
    <VirtualHost>'s and the open sessions' included; the same one is reopened, so
    logrotate's rename-then-SIGHUP starts a fresh file."""

    def setUp(self):
        self.base = os.path.abspath(self.mktemp())
        self.port, self.vport = e2e.free_port(), e2e.free_port()
        self.body = (CONF.replace("MaxLoginAttempts 2\n", "")
                     .replace("RequireValidShell on", "RequireValidShell off")
                     + "<VirtualHost 127.0.0.1>\n  Port {vport}\n  AuthUserFile "
                     "{base}/ftpd.passwd\n  AuthGroupFile {base}/ftpd.group\n"
                     "  RequireValidShell off\n</VirtualHost>\n"
                     ).replace("{vport}", str(self.vport))
        self.conf = e2e.write_site(self.base, self.body, port=self.port)
        self.service = FTPRedisService(load_config(self.conf))
        self.service.startService()
        self.addCleanup(lambda: self.service.running and self.service.stopService())

    def lines(self, name):
        path = os.path.join(self.base, name)
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()

    def reload_with(self, name):
        with open(self.conf, encoding="utf-8") as f:
            text = f.read()
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(re.sub(r"SystemLog \S+", "SystemLog %s/%s" % (self.base, name), text))
        return self.service.reload()

    @defer.inlineCallbacks
    def test_new_file_for_kept_vhost_and_open_session(self):
        def login(port):
            f = ftplib.FTP()
            f.connect("127.0.0.1", port, timeout=10)
            f.login(e2e.USER, e2e.PASSWORD)
            return f
        open_session = yield e2e.in_thread(login, self.port)
        self.assertTrue((yield self.reload_with("other.log")))
        yield e2e.in_thread(open_session.quit)
        vhost = yield e2e.in_thread(login, self.vport)
        yield e2e.in_thread(vhost.quit)
        yield waitFor(lambda: sum(line.endswith("FTP session closed.")
                                  for line in self.lines("other.log")) == 2,
                      "both sessions' closing lines in the new SystemLog")
        self.assertFalse(any(line.endswith("FTP session closed.")
                             for line in self.lines("system.log")))


    @defer.inlineCallbacks
    def test_logrotate(self):
        os.rename(os.path.join(self.base, "system.log"),
                  os.path.join(self.base, "system.log.1"))
        self.assertTrue((yield self.service.reload()))

        def session():
            f = ftplib.FTP()
            f.connect("127.0.0.1", self.port, timeout=10)
            f.quit()
        yield e2e.in_thread(session)
        yield waitFor(lambda: any(line.endswith("FTP session closed.")
                                  for line in self.lines("system.log")),
                      "the session's lines in the fresh SystemLog")
        self.assertFalse(any("session" in line for line in self.lines("system.log.1")))
        yield self.service.stopService()
        from ftpredis import __version__
        self.assertTrue(self.lines("system.log")[-1].endswith(
            " 127.0.0.1: ftpredis %s standalone mode SHUTDOWN" % (__version__,)))
