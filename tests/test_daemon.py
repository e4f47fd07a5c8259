# -*- test-case-name: tests.test_daemon -*-
"""ftpredis as an admin runs it, in real twistd processes: SIGHUP reload with sessions
open, SIGTERM with a transfer in flight, binding a privileged port as root and then
running as the configured User/Group, the init script (start, status, reload, stop).
The systemd unit is checked in tests/test_setup.py.

These tests run as root (here and in CI): twistd switches identity only when it is
started as root.
"""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

from twisted.internet import defer
from twisted.trial import unittest

from tests.support import e2e
from tests.support.redisserver import RedisServerMixin
from tests.support.twistdrun import TwistdMixin
from tests.support.sites import free_port_on

NOBODY, NOGROUP = 65534, 65534


def closed(host, port):
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError:
        return True
    return False


def client(host, port, user=e2e.USER, password=e2e.PASSWORD):
    return e2e.ftp_connect(port, user, password, host=host)


def ids(pid):
    """(real uid, real gid, effective uid, effective gid) from /proc."""
    with open("/proc/%d/status" % pid) as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    uid = fields["Uid"].split()
    gid = fields["Gid"].split()
    return int(uid[0]), int(gid[0]), int(uid[1]), int(gid[1]), uid, gid


def free_privileged_port(host="127.0.0.1"):
    # In random order: two trial -j workers scanning from 900 both found 900 free, and
    # the second twistd could not bind it
    ports = list(range(900, 1000))
    random.shuffle(ports)
    for port in ports:
        try:
            with socket.socket() as s:
                s.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port between 900 and 999")


MAIN = r"""
ServerName          "main"
DefaultAddress      127.0.0.1
Port                {p}
RedisLogOnCommand   CONNECT,PASS,STOR,RETR,DISCONNECT who main-key
"""

VHOST = r"""
<VirtualHost 127.0.0.2>
  ServerName        "{name}"
  Port              {q}
  RedisLogOnCommand CONNECT,PASS,STOR,DISCONNECT who {name}-key
</VirtualHost>
"""


class SighupTests(TwistdMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_add_and_remove_vhost_while_a_session_stays_open(self):
        p, q, r = e2e.free_port(), free_port_on("127.0.0.2"), free_port_on("127.0.0.2")
        self.write(MAIN + VHOST, p=p, q=q, name="old")
        proc = self.twistd()
        self.assertTrue((yield self.wait_logged("listening on 127.0.0.2:%d\n" % q)),
                        self.log_or_output())
        ftp = yield e2e.in_thread(client, "127.0.0.2", q)

        # Swap the vhost: "old" on port q goes, "new" on port r comes.
        self.write(MAIN + VHOST.replace("{q}", "{r}"), p=p, r=r, name="new")
        proc.send_signal(signal.SIGHUP)
        self.assertTrue((yield self.wait_logged("listening on 127.0.0.2:%d\n" % r)),
                        self.log_or_output())
        self.assertTrue((yield self.wait_logged("stopped listening on 127.0.0.2:%d\n" % q)))
        self.assertTrue((yield e2e.in_thread(closed, "127.0.0.2", q)))
        self.assertTrue((yield self.wait_logged("configuration reloaded")))

        def finish_old_and_use_new():
            ftp.storbinary("STOR late.txt", e2e.BytesIO(b"late\n"))
            ftp.quit()
            new = client("127.0.0.2", r)
            new.storbinary("STOR new.txt", e2e.BytesIO(b"new\n"))
            new.quit()
        yield e2e.in_thread(finish_old_and_use_new)
        old = yield self.records(b"old-key", 4)
        self.assertEqual([(x.get("command"), x["server_name"], x["local_port"]) for x in old],
                         [(None, "old", q), ("PASS", "old", q), ("STOR", "old", q),
                          ("EXIT", "old", q)])
        new = yield self.records(b"new-key", 4)
        self.assertEqual([(x.get("command"), x["server_name"], x["local_port"]) for x in new],
                         [(None, "new", r), ("PASS", "new", r), ("STOR", "new", r),
                          ("EXIT", "new", r)])
        self.assertIsNone(proc.poll())
        proc.send_signal(signal.SIGTERM)
        self.assertIn((yield e2e.in_thread(proc.wait, 30)), (0, -signal.SIGTERM))

    @defer.inlineCallbacks
    def test_config_with_errors_is_refused_with_file_and_line(self):
        p = e2e.free_port()
        self.write(MAIN, p=p)
        proc = self.twistd()
        self.assertTrue((yield self.wait_logged("listening on 127.0.0.1:%d\n" % p)),
                        self.log_or_output())
        with open(self.conf, "a") as f:
            f.write("Port {p}\nBogus 1\n".format(p=e2e.free_port()))
        with open(self.conf) as f:
            line = f.read().splitlines().index("Bogus 1") + 1
        proc.send_signal(signal.SIGHUP)
        self.assertTrue((yield self.wait_logged("reload refused")))
        self.assertIn("line %d of '%s'" % (line, self.conf), self.logged())
        yield e2e.in_thread(lambda: client("127.0.0.1", p).quit())
        self.assertIsNone(proc.poll())


BIG = 24 * 1024 * 1024


class SigtermTests(TwistdMixin, unittest.TestCase):

    def setUp(self):
        super().setUp()
        with open(os.path.join(e2e.home(self.base), "big.bin"), "wb") as f:
            f.write(os.urandom(1024) * (BIG // 1024))

    def slow_download(self, port, started, go_on):
        return e2e.slow_download(port, started, go_on, wait=60)

    @defer.inlineCallbacks
    def sigterm_during_download(self, *extra):
        p = e2e.free_port()
        self.write(MAIN.replace("CONNECT,PASS,STOR,RETR,DISCONNECT", "RETR,DISCONNECT"), p=p)
        proc = self.twistd(*extra)
        self.assertTrue((yield self.wait_logged("listening on 127.0.0.1:%d\n" % p)),
                        self.log_or_output())
        started, go_on = threading.Event(), threading.Event()
        download = e2e.in_thread(self.slow_download, p, started, go_on)
        yield e2e.wait_for(started.is_set)
        proc.send_signal(signal.SIGTERM)
        # Stops accepting at once; the process stays until the transfer is over.
        self.assertTrue((yield self.wait_logged("stopped listening on 127.0.0.1:%d\n" % p)))
        self.assertTrue((yield e2e.in_thread(closed, "127.0.0.1", p)))
        self.assertIsNone(proc.poll())
        go_on.set()
        size, reply = yield download
        code = yield e2e.in_thread(proc.wait, 60)
        self.assertIn(code, (0, -signal.SIGTERM), self.logged())
        got = [json.loads(r) for r in self.db.lrange(b"main-key")]
        return size, reply, got

    @defer.inlineCallbacks
    def test_transfer_in_flight_finishes_then_421(self):
        size, reply, got = yield self.sigterm_during_download("--shutdown-timeout", "60")
        self.assertEqual(size, BIG)
        self.assertEqual(reply, "error_temp: 421 Server shutting down: closing control "
                                "connection")
        self.assertEqual([(r["command"], r.get("response_code"), r.get("session_end_reason"))
                          for r in got],
                         [("RETR", 226, None), ("EXIT", None, "Server shutting down")])

    @defer.inlineCallbacks
    def test_stalled_transfer_cut_short_at_the_bound(self):
        # The client reads nothing until the process has gone.
        p = e2e.free_port()
        self.write(MAIN.replace("CONNECT,PASS,STOR,RETR,DISCONNECT", "RETR,DISCONNECT"), p=p)
        proc = self.twistd("--shutdown-timeout", "0.5")
        self.assertTrue((yield self.wait_logged("listening on 127.0.0.1:%d\n" % p)),
                        self.log_or_output())
        started, go_on = threading.Event(), threading.Event()
        download = e2e.in_thread(self.slow_download, p, started, go_on)
        yield e2e.wait_for(started.is_set)
        proc.send_signal(signal.SIGTERM)
        code = yield e2e.in_thread(proc.wait, 60)
        go_on.set()
        size, reply = yield download
        self.assertIn(code, (0, -signal.SIGTERM), self.logged())
        self.assertLess(size, BIG)
        got = [json.loads(r) for r in self.db.lrange(b"main-key")]
        self.assertEqual([r["command"] for r in got], ["RETR", "EXIT"])
        self.assertGreaterEqual(got[0]["response_code"], 400)
        self.assertEqual(got[1]["session_end_reason"], "Server shutting down")


PRIVILEGED = r"""
ServerName          "privileged"
DefaultAddress      127.0.0.1
Port                {p}
User                nobody
Group               nogroup
DefaultRoot         ~
RedisLog            {base}/rootonly/redis.log
RedisLogOnCommand   PASS,LIST who main-key
"""


class PrivilegeTests(TwistdMixin, unittest.TestCase):

    def setUp(self):
        super().setUp()
        self.assertEqual(os.getuid(), 0, "these tests need root, as in CI")
        os.makedirs(os.path.join(self.base, "rootonly"), mode=0o700)
        # Sessions run as nobody: the user's home must be reachable (trial's temp dirs
        # are 0700) and readable for LIST.
        os.chmod(os.path.dirname(self.base), 0o711)
        with open(os.path.join(e2e.home(self.base), "hello.txt"), "w") as f:
            f.write("hello\n")

    @defer.inlineCallbacks
    def test_privileged_port_then_configured_user(self):
        p = free_privileged_port()
        self.write(PRIVILEGED, p=p)
        proc = self.twistd()
        self.assertTrue((yield self.wait_logged("listening on 127.0.0.1:%d\n" % p)),
                        self.log_or_output())
        ruid, rgid, euid, egid, uid, gid = ids(proc.pid)
        self.assertEqual(uid, [str(NOBODY)] * 4)
        self.assertEqual(gid, [str(NOGROUP)] * 4)

        def listing():
            ftp = client("127.0.0.1", p)
            names = ftp.nlst()
            ftp.quit()
            return names
        self.assertEqual((yield e2e.in_thread(listing)), ["hello.txt"])
        got = yield self.records(b"main-key", 1)
        self.assertEqual(got[0]["server_name"], "privileged")
        # The RedisLog was opened as root, before the switch, in a directory nobody
        # cannot even enter.
        log = os.path.join(self.base, "rootonly", "redis.log")
        self.assertEqual(os.stat(log).st_uid, 0)
        self.assertIn("set uid/gid %d/%d" % (NOBODY, NOGROUP), self.logged())

    @defer.inlineCallbacks
    def test_reload_after_the_switch(self):
        """Set up as README says (files readable by the run user's group, the RedisLog
        directory owned by it), reload works as nobody; a new port below 1024 cannot be
        bound any more, and that reload is refused with the reason."""
        p = free_privileged_port()
        logs = os.path.join(self.base, "logs")
        os.makedirs(logs, mode=0o750)
        os.chown(logs, NOBODY, NOGROUP)
        body = PRIVILEGED.replace("{base}/rootonly/redis.log", logs + "/redis.log")
        self.write(body, p=p)
        for name in ("ftpd.passwd", "ftpd.group", "ftpd.conf"):
            os.chown(os.path.join(self.base, name), 0, NOGROUP)
            os.chmod(os.path.join(self.base, name), 0o640)
        proc = self.twistd()
        self.assertTrue((yield self.wait_logged("listening on 127.0.0.1:%d\n" % p)),
                        self.log_or_output())
        self.assertEqual(ids(proc.pid)[:2], (NOBODY, NOGROUP))

        p2 = free_privileged_port("127.0.0.2")
        with open(self.conf, "a") as f:
            f.write("<VirtualHost 127.0.0.2>\n  Port %d\n</VirtualHost>\n" % p2)
        proc.send_signal(signal.SIGHUP)
        self.assertTrue((yield self.wait_logged("reload refused")))
        self.assertIn("restart ftpredis to bind it", self.logged())

        q = free_port_on("127.0.0.2")
        self.write(body + "<VirtualHost 127.0.0.2>\n  ServerName \"late\"\n  Port {q}\n"
                          "  RedisLogOnCommand PASS who late-key\n</VirtualHost>\n", p=p, q=q)
        proc.send_signal(signal.SIGHUP)
        self.assertTrue((yield self.wait_logged("listening on 127.0.0.2:%d\n" % q)),
                        self.log_or_output())
        yield e2e.in_thread(lambda: client("127.0.0.2", q).quit())
        got = yield self.records(b"late-key", 1)
        self.assertEqual(got[0]["server_name"], "late")

    @defer.inlineCallbacks
    def test_home_the_account_cannot_enter_is_refused_and_logged(self):
        """A home left 0700 by another account (the README's quick start run as root,
        then by an admin): the login is refused, as ProFTPD's chdir() as the user would
        be, and the log says which directory, which account and why (it used to log in
        and answer LIST with "450 /: Permission denied", the log silent)."""
        port = e2e.free_port()
        self.write(PRIVILEGED.replace("RedisLog            {base}/rootonly/redis.log\n", ""),
                   p=port)
        home = e2e.home(self.base)
        os.chmod(home, 0o700)
        self.twistd()
        self.assertTrue((yield self.wait_logged("listening on 127.0.0.1:%d\n" % port)),
                        self.log_or_output())

        def login():
            try:
                client("127.0.0.1", port).quit()
            except Exception as e:
                return str(e)
        self.assertEqual((yield e2e.in_thread(login)), "530 Login incorrect.")
        got = yield self.records(b"main-key", 1)
        self.assertEqual((got[0]["command"], got[0]["response_code"]), ("PASS", 530))
        why = ("home directory '%s' cannot be entered by the account ftpredis runs as, "
               "'nobody' (uid %d, gid %d): Permission denied (it is owned by root:root, "
               "mode 0700)" % (os.path.realpath(home), NOBODY, NOGROUP))
        self.assertTrue((yield self.wait_logged(why)), self.logged())
        # Given the account, the same login works.
        os.chown(home, NOBODY, NOGROUP)
        yield e2e.in_thread(lambda: client("127.0.0.1", port).quit())

    def test_check_names_logins_the_account_cannot_start(self):
        """``--check`` (run as root) judges the homes as the User/Group the server will
        run as: a parent directory nobody may search is named with the login it stops;
        the warning is what the running server logs at that login."""
        self.write(PRIVILEGED, p=2121)
        home = e2e.home(self.base)
        parent = os.path.dirname(home)
        os.chmod(parent, 0o700)
        self.addCleanup(os.chmod, parent, 0o755)
        proc = self.twistd("--check")
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn(
            "warning: the main server: user '%s': home directory '%s' cannot be entered "
            "by the account ftpredis runs as, 'nobody' (uid %d, gid %d): Permission denied "
            "('%s' is owned by root:root, mode 0700); that login will be refused\n"
            % (e2e.USER, os.path.realpath(home), NOBODY, NOGROUP, os.path.realpath(parent)),
            out.decode())
        os.chmod(parent, 0o755)
        proc = self.twistd("--check")
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, err)
        self.assertNotIn("cannot be entered", out.decode())

    def test_check_judges_as_twistd_uid_and_gid(self):
        """With twistd's ``--uid``/``--gid``, which win over User/Group at start,
        ``--check`` judges the homes as that account: the warning names it (daemon, not
        the config's nobody), and none comes for root, which enters anything."""
        import grp
        import pwd
        self.write(PRIVILEGED, p=2121)
        home = e2e.home(self.base)
        parent = os.path.dirname(home)
        os.chmod(parent, 0o700)
        self.addCleanup(os.chmod, parent, 0o755)
        proc = self.twistd("--check", twistd_args=["--uid=daemon", "--gid=daemon"])
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn(
            "by the account ftpredis runs as, 'daemon' (uid %d, gid %d): Permission denied"
            % (pwd.getpwnam("daemon").pw_uid, grp.getgrnam("daemon").gr_gid), out.decode())
        proc = self.twistd("--check", twistd_args=["--uid=root", "--gid=root"])
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, err)
        self.assertNotIn("cannot be entered", out.decode())

    def test_check_refuses_an_unknown_user(self):
        """``--check`` passed a config whose User names no account; starting it failed."""
        self.write(PRIVILEGED.replace("User                nobody",
                                      "User                no-such-user-here"), p=2121)
        proc = self.twistd("--check")
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("User: no such user 'no-such-user-here' in %s" % self.conf, err.decode())

    @defer.inlineCallbacks
    def test_twistd_uid_and_gid_win(self):
        p = free_privileged_port()
        self.write(PRIVILEGED, p=p)
        proc = self.twistd(twistd_args=["--uid=daemon", "--gid=daemon"])
        self.assertTrue((yield self.wait_logged("listening on 127.0.0.1:%d\n" % p)),
                        self.log_or_output())
        import grp
        import pwd
        uid, gid = pwd.getpwnam("daemon").pw_uid, grp.getgrnam("daemon").gr_gid
        self.assertEqual(ids(proc.pid)[:4], (uid, gid, uid, gid))

    def test_unknown_user_is_a_config_error(self):
        self.write(PRIVILEGED.replace("User                nobody",
                                      "User                no-such-user-here"), p=2121)
        proc = self.twistd()
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("no such user 'no-such-user-here'", err.decode())
        self.assertNotIn("Traceback", err.decode())


class InitScriptTests(TwistdMixin, unittest.TestCase):
    """etc/init.d/ftpredis pointed at a temp dir through its environment."""

    def setUp(self):
        super().setUp()
        wrapper = os.path.join(self.base, "twistd")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nPYTHONPATH=%s exec %s -c '
                    '"from twisted.scripts.twistd import run; run()" "$@"\n'
                    % (e2e.REPO, sys.executable))
        os.chmod(wrapper, 0o755)
        self.pidfile = os.path.join(self.base, "run", "ftpredis.pid")
        self.env = dict(os.environ, TWISTD=wrapper, PIDFILE=self.pidfile, LOGFILE=self.log,
                        FTPREDIS_DEFAULTS="/dev/null", STOP_TIMEOUT="30",
                        FTPREDIS_ARGS="--shutdown-timeout 5")
        self.addCleanup(self._kill_daemon)

    def _kill_daemon(self):
        try:
            with open(self.pidfile) as f:
                os.kill(int(f.read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass

    def init(self, action):
        env = dict(self.env, CONFIG=self.conf)
        proc = subprocess.run(["sh", os.path.join(e2e.REPO, "etc", "init.d", "ftpredis"),
                               action], env=env, cwd=self.base, capture_output=True,
                              timeout=90)
        return proc.returncode, (proc.stdout + proc.stderr).decode()

    @defer.inlineCallbacks
    def test_start_status_reload_stop(self):
        p, q = e2e.free_port(), free_port_on("127.0.0.2")
        self.write(MAIN, p=p)
        code, out = yield e2e.in_thread(self.init, "status")
        self.assertEqual((code, out.strip()), (3, "ftpredis is not running"))

        code, out = yield e2e.in_thread(self.init, "start")
        self.assertEqual(code, 0, out)
        with open(self.pidfile) as f:
            pid = int(f.read())
        self.assertIn("ftpredis started (pid %d)" % pid, out)
        self.assertTrue((yield self.wait_logged("listening on 127.0.0.1:%d\n" % p)),
                        self.log_or_output())
        # Daemonized: its own session, not our child.
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read().rsplit(")", 1)[1].split()
        self.assertNotEqual(int(stat[1]), os.getpid())       # ppid
        self.assertNotEqual(int(stat[3]), os.getsid(0))      # its own session
        code, out = yield e2e.in_thread(self.init, "status")
        self.assertEqual((code, out.strip()), (0, "ftpredis is running (pid %d)" % pid))
        code, out = yield e2e.in_thread(self.init, "start")
        self.assertEqual((code, out.strip()), (0, "ftpredis is already running (pid %d)" % pid))

        # reload: a new vhost is bound by the same process.
        self.write(MAIN + VHOST, p=p, q=q, name="added")
        code, out = yield e2e.in_thread(self.init, "reload")
        self.assertEqual(code, 0, out)
        self.assertTrue((yield self.wait_logged("listening on 127.0.0.2:%d\n" % q)),
                        self.log_or_output())
        yield e2e.in_thread(lambda: client("127.0.0.2", q).quit())
        got = yield self.records(b"added-key", 3)
        self.assertEqual(got[0]["server_name"], "added")
        # A broken config: reload says so and the daemon keeps running the old one.
        with open(self.conf, "a") as f:
            f.write("Bogus 1\n")
        code, out = yield e2e.in_thread(self.init, "reload")
        self.assertEqual(code, 1, out)
        self.assertIn("Bogus", out)
        code, out = yield e2e.in_thread(self.init, "status")
        self.assertEqual(code, 0, out)
        self.write(MAIN + VHOST, p=p, q=q, name="added")

        code, out = yield e2e.in_thread(self.init, "stop")
        self.assertEqual((code, out.strip()), (0, "ftpredis stopped"))
        self.assertFalse(os.path.exists("/proc/%d" % pid))
        self.assertFalse(os.path.exists(self.pidfile))
        code, out = yield e2e.in_thread(self.init, "status")
        self.assertEqual(code, 3, out)
        self.assertIn("configuration reloaded", self.logged())

    @defer.inlineCallbacks
    def test_start_refuses_a_broken_config(self):
        self.write(MAIN + "Bogus 1\n", p=e2e.free_port())
        code, out = yield e2e.in_thread(self.init, "start")
        self.assertEqual(code, 1)
        self.assertIn("not started: configuration errors", out)
        self.assertFalse(os.path.exists(self.pidfile))

    @defer.inlineCallbacks
    def test_start_reports_a_port_in_use(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        self.addCleanup(busy.close)
        self.write(MAIN, p=busy.getsockname()[1])
        code, out = yield e2e.in_thread(self.init, "start")
        self.assertEqual(code, 1, out)
        self.assertIn("failed to start", out)
        self.assertIn("ftpredis: cannot listen on 127.0.0.1:%d: Address already in use"
                      % busy.getsockname()[1], out)
        self.assertNotIn("Traceback", out)


class ShippedVirtualHostsTests(RedisServerMixin, unittest.TestCase):
    """The two <VirtualHost> blocks of the shipped etc/ftpd.conf, in twistd."""

    @defer.inlineCallbacks
    def test_each_vhost_logs_to_its_keys(self):
        from tests.support.sites import shipped_site

        base = os.path.abspath(self.mktemp())
        port = free_port_on("127.0.0.1", "127.0.0.2", "127.0.0.3")
        conf = shipped_site(base, port, self.redis.port)
        log = os.path.join(base, "twistd.log")
        proc = e2e.twistd(["-n", "--pidfile=", "--logfile", log, "ftpredis", "--config", conf],
                          cwd=base)
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.communicate()))

        def started():
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if os.path.exists(log):
                    with open(log) as f:
                        if "listening on 127.0.0.3:%d\n" % port in f.read():
                            return True
                time.sleep(0.05)
            return False
        self.assertTrue((yield e2e.in_thread(started)))

        def sessions():
            # Both servers jail ftpuser in the same home; the downloads server refuses
            # to overwrite, so each stores its own file.
            for host, name in (("127.0.0.2", "x.txt"), ("127.0.0.3", "y.txt")):
                ftp = client(host, port, "ftpuser", "ftppass")
                ftp.storbinary("STOR " + name, e2e.BytesIO(b"x\n"))
                got = bytearray()
                ftp.retrbinary("RETR " + name, got.extend)
                ftp.quit()
        yield e2e.in_thread(sessions)
        db = self.redis.client()
        uploads = yield e2e.wait_records(db, b"uploads:sessions", 2)
        downloads = yield e2e.wait_records(db, b"downloads:sessions", 2)
        self.assertEqual({(r["server_name"], r["local_ip"], r["local_port"])
                          for r in map(json.loads, uploads)},
                         {("ftpredis uploads", "127.0.0.2", port)})
        self.assertEqual({(r["server_name"], r["local_ip"])
                          for r in map(json.loads, downloads)},
                         {("ftpredis downloads", "127.0.0.3")})
        self.assertEqual([json.loads(r)["raw_command"] for r in
                          (yield e2e.wait_records(db, b"uploads:transfers", 1))], ["STOR x.txt"])
        self.assertEqual([json.loads(r)["raw_command"] for r in
                          (yield e2e.wait_records(db, b"downloads:transfers", 1))],
                         ["RETR y.txt"])
        # The main server's keys saw none of it.
        self.assertEqual(db.llen(b"file-transfers"), 0)
        proc.send_signal(signal.SIGTERM)
        self.assertIn((yield e2e.in_thread(proc.wait, 30)), (0, -signal.SIGTERM))
