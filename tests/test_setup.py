# -*- test-case-name: tests.test_setup -*-
"""Setting ftpredis up as README.rst says: the Quick start commands (root without
``sudo`` and an admin with it; the test command is the one ``.ci/run`` runs),
``bin/run-with-redis`` (a Redis where the config sends records, then twistd), and the
files in etc/ that name the install (systemd unit, init script).

Everything runs on loopback and free ports; the Redis that ``bin/run-with-redis``
starts is shut down by each test.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys

from twisted.internet import defer
from twisted.trial import unittest

from tests.support import e2e
from tests.support.redisserver import RedisClient, RedisServerMixin
from tests.support.sites import free_port_on, shipped_site

RUN = os.path.join(e2e.REPO, "bin", "run-with-redis")
UNIT = os.path.join(e2e.REPO, "etc", "systemd", "ftpredis.service")
INIT = os.path.join(e2e.REPO, "etc", "init.d", "ftpredis")


def readme():
    with open(os.path.join(e2e.REPO, "README.rst"), encoding="utf-8") as f:
        return f.read()


def section(text, title):
    """The body of the README section ``title`` (up to the next underlined title)."""
    start = text.index(title + "\n" + "-" * len(title))
    following = re.search(r"\n[^\n]+\n-{3,}\n", text[start + 2 * len(title) + 2:])
    return text[start:start + 2 * len(title) + 2 + (following.start() if following else len(text))]


def literal_lines(text, after):
    """The indented command lines of the first literal block after the paragraph that
    starts with ``after``."""
    rest = text[text.index(after):]
    block = rest[rest.index("::\n\n") + 4:]
    lines = []
    for line in block.splitlines():
        if not line.startswith("    "):
            break
        lines.append(line[4:])
    return lines


def greeting(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=5) as s:
            s.settimeout(5)
            return s.recv(1024).decode()
    except OSError:
        return ""


def redis_answers(port):
    try:
        return RedisClient(port=port).ping()
    except OSError:
        return False


class ReadmeCommandsTests(unittest.TestCase):
    """The Quick start commands, as text: what a root shell without sudo and CI run."""

    def test_no_bare_sudo(self):
        """A root shell may have no sudo: every sudo is ``$(command -v sudo)``."""
        quick = section(readme(), "Quick start (fresh Debian machine)")
        commands = (literal_lines(quick, "Run the server on the shipped") +
                    literal_lines(quick, "Run the test suite"))
        self.assertEqual(len(commands), 3, commands)
        for line in commands:
            self.assertNotRegex(line.replace("$(command -v sudo)", ""), r"\bsudo\b", line)
            if "apt-get install" in line:
                # A fresh machine (or container) has no package lists yet.
                self.assertIn("apt-get update && ", line)

    def test_run_command_uses_run_with_redis(self):
        (run,) = literal_lines(readme(), "Run the server on the shipped")
        self.assertTrue(run.endswith(" && bin/run-with-redis etc/ftpd.conf"), run)
        self.assertTrue(os.access(RUN, os.X_OK))

    def test_ci_runs_the_readme_test_command(self):
        install, suite = literal_lines(readme(), "Run the test suite")
        with open(os.path.join(e2e.REPO, ".ci", "run")) as f:
            ci = f.read().splitlines()
        self.assertIn(suite, ci)
        self.assertTrue(suite.endswith("$(command -v sudo) .venv/bin/python -m twisted.trial tests"))

    def test_readme_installs_what_ci_installs(self):
        """An admin following README gets every Debian package the tests need, as CI does."""
        install, _suite = literal_lines(readme(), "Run the test suite")
        with open(os.path.join(e2e.REPO, ".ci", "run")) as f:
            needed = re.findall(r"missing\+=\(([\w.-]+)\)", f.read())
        self.assertIn("fail2ban", needed)
        for package in needed:
            self.assertIn(" " + package, install, "README's test set-up lacks " + package)


class RunWithRedisTests(RedisServerMixin, unittest.TestCase):
    """``bin/run-with-redis CONFIG`` on the shipped example config, ports made free."""

    redis_autostart = False

    def setUp(self):
        super().setUp()
        self.base = os.path.abspath(self.mktemp())
        self.port = free_port_on("127.0.0.1", "127.0.0.2", "127.0.0.3")

    def site(self, redis_port):
        return shipped_site(self.base, self.port, redis_port)

    def start(self, conf):
        out = open(os.path.join(self.base, "run.out"), "wb")
        self.addCleanup(out.close)
        env = dict(os.environ, PYTHON=sys.executable,
                   PYTHONPATH=e2e.REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   TMPDIR=self.base)
        proc = subprocess.Popen([RUN, conf, "--shutdown-timeout", "5"], cwd=self.base, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
        self.addCleanup(self._reap, proc)
        return proc

    def _reap(self, proc):
        if proc.poll() is None:
            proc.kill()
        proc.wait()

    def output(self):
        with open(os.path.join(self.base, "run.out")) as f:
            return f.read()

    def upload(self):
        ftp = e2e.ftp_connect(self.port, "ftpuser", "ftppass")
        ftp.storbinary("STOR hello.txt", e2e.BytesIO(b"hello\n"))
        ftp.quit()

    def stop_redis_on(self, port):
        """Shut down a Redis the script started (it outlives ftpredis by design)."""
        try:
            pid = int(RedisClient(port=port).info("server")["process_id"])
        except OSError:
            return
        os.kill(pid, signal.SIGKILL)

    @defer.inlineCallbacks
    def test_starts_redis_where_none_answers_then_serves(self):
        redis_port = free_port_on("127.0.0.1")
        self.assertFalse(redis_answers(redis_port))
        proc = self.start(self.site(redis_port))
        self.addCleanup(self.stop_redis_on, redis_port)

        ready = yield e2e.wait_for(lambda: greeting(self.port).startswith("220 "), timeout=20)
        self.assertTrue(ready, self.output())
        self.assertTrue(redis_answers(redis_port))
        self.assertIn("220 ftpredis example server ready", greeting(self.port))
        self.assertIn("bin/run-with-redis: no Redis answered on 127.0.0.1:%d; started "
                      "redis-server there" % redis_port, self.output())
        self.assertIn("redis-cli -h 127.0.0.1 -p %d shutdown" % redis_port, self.output())
        # The script became twistd (same pid), so signals reach ftpredis itself.
        with open("/proc/%d/cmdline" % proc.pid, "rb") as f:
            self.assertIn(b"twistd", f.read())

        # The records reach the Redis it started.
        yield e2e.in_thread(self.upload)
        got = yield e2e.wait_records(RedisClient(port=redis_port), b"file-transfers", 1)
        self.assertEqual([json.loads(r)["raw_command"] for r in got], ["STOR hello.txt"])

        proc.send_signal(signal.SIGTERM)
        self.assertIn((yield e2e.in_thread(proc.wait, 30)), (0, -signal.SIGTERM))
        self.assertEqual(greeting(self.port), "")
        # Redis stays up for the next run; its data is in memory only.
        self.assertTrue(redis_answers(redis_port))
        self.assertEqual(os.listdir(self.base).count("dump.rdb"), 0)

    @defer.inlineCallbacks
    def test_uses_the_redis_that_answers(self):
        redis = self.startRedis()
        proc = self.start(self.site(redis.port))
        ready = yield e2e.wait_for(lambda: greeting(self.port).startswith("220 "), timeout=20)
        self.assertTrue(ready, self.output())
        self.assertNotIn("started redis-server", self.output())
        yield e2e.in_thread(self.upload)
        got = yield e2e.wait_records(redis.client(), b"file-transfers", 1)
        self.assertEqual([json.loads(r)["raw_command"] for r in got], ["STOR hello.txt"])
        proc.send_signal(signal.SIGTERM)
        self.assertIn((yield e2e.in_thread(proc.wait, 30)), (0, -signal.SIGTERM))

    @defer.inlineCallbacks
    def test_redis_that_cannot_start_is_an_error(self):
        """The Redis port is taken by something that is not Redis (bound, not listening)."""
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        self.addCleanup(taken.close)
        redis_port = taken.getsockname()[1]
        conf = self.site(redis_port)
        proc = self.start(conf)
        code = yield e2e.in_thread(proc.wait, 30)
        out = self.output()
        self.assertEqual(code, 1, out)
        self.assertIn("bin/run-with-redis: no Redis answers on 127.0.0.1:%d (%s), and a "
                      "redis-server started there did not come up" % (redis_port, conf), out)
        self.assertIn("Address already in use", out)
        self.assertEqual(greeting(self.port), "")

    @defer.inlineCallbacks
    def test_config_errors_are_twistds_to_report(self):
        conf = self.site(free_port_on("127.0.0.1"))
        with open(conf, "a") as f:
            f.write("Bogus 1\n")
        proc = self.start(conf)
        code = yield e2e.in_thread(proc.wait, 30)
        out = self.output()
        self.assertNotEqual(code, 0, out)
        self.assertIn("Bogus", out)
        self.assertIn(conf, out)
        self.assertNotIn("started redis-server", out)
        self.assertNotIn("Traceback", out)


class InstalledPathsTests(unittest.TestCase):
    """The systemd unit and the init script run the twistd README's install creates."""

    def service_install(self):
        return section(readme(), "Operating ftpredis")

    def test_twistd_path_is_the_readme_install(self):
        install = self.service_install()
        self.assertIn("python3 -m venv /opt/ftpredis && /opt/ftpredis/bin/pip install .",
                      install)
        with open(UNIT) as f:
            unit = f.read()
        execs = [line.split("=", 1)[1].split()[0] for line in unit.splitlines()
                 if line.startswith(("ExecStart", "ExecReload")) and "twistd" in line]
        self.assertEqual(execs, ["/opt/ftpredis/bin/twistd"] * 3)
        with open(INIT) as f:
            self.assertIn("TWISTD=${TWISTD:-/opt/ftpredis/bin/twistd}\n", f.read())

    def test_documentation_is_installed_by_readme(self):
        with open(UNIT) as f:
            (line,) = [l for l in f.read().splitlines() if l.startswith("Documentation=")]
        install = self.service_install()
        self.assertIn("mkdir -p /usr/share/doc/ftpredis && cp -r README.rst doc "
                      "/usr/share/doc/ftpredis/", install)
        docs = line.split("=", 1)[1].split()
        self.assertTrue(docs)
        for url in docs:
            # Each is a file README's install copies there from this checkout.
            self.assertTrue(url.startswith("file:///usr/share/doc/ftpredis/"), url)
            shipped = url[len("file:///usr/share/doc/ftpredis/"):]
            self.assertTrue(os.path.isfile(os.path.join(e2e.REPO, shipped)), url)


class SystemdUnitTests(unittest.TestCase):
    """``systemd-analyze verify`` of etc/systemd/ftpredis.service."""

    def verify(self, text):
        """Verify ``text`` as ftpredis.service, with its twistd at an existing path (it
        would be /opt/ftpredis/bin/twistd after README's install); return what systemd
        says about this unit."""
        analyze = "/usr/bin/systemd-analyze"
        self.assertTrue(os.access(analyze, os.X_OK), "systemd-analyze is needed (Debian: systemd)")
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        twistd = os.path.join(base, "twistd")
        with open(twistd, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(twistd, 0o755)
        unit = os.path.join(base, "ftpredis.service")
        with open(unit, "w") as f:
            f.write(text.replace("/opt/ftpredis/bin/twistd", twistd))
        # --man=no: whether man pages are installed is the machine's business, and the
        # unit names none.  Lines about other units (a container lacks some targets)
        # are the environment's; only this unit's matter.
        proc = subprocess.run([analyze, "verify", "--man=no", unit], capture_output=True,
                              timeout=60, env=dict(os.environ, SYSTEMD_LOG_LEVEL="info",
                                                   SYSTEMD_LOG_COLOR="0"))
        output = (proc.stdout + proc.stderr).decode()
        return [l for l in output.splitlines() if "ftpredis.service" in l or unit in l]

    def shipped(self):
        with open(UNIT) as f:
            return f.read()

    def test_unit_verifies(self):
        self.assertEqual(self.verify(self.shipped()), [])

    def test_verify_sees_a_broken_unit(self):
        """The check above means something here: a mistake in the unit is reported."""
        broken = self.shipped().replace("KillMode=mixed", "KillMode=gently")
        broken = broken.replace("ExecStartPre=/opt/ftpredis/bin/twistd",
                                "ExecStartPre=/no/such/twistd")
        said = "\n".join(self.verify(broken))
        self.assertIn("Failed to parse kill mode specification, ignoring: gently", said)
        self.assertIn("Command /no/such/twistd is not executable", said)
