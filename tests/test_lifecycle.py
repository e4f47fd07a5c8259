# -*- test-case-name: tests.test_lifecycle -*-
"""Start-up and the service manager (ftpredis.app.lifecycle): a SIGHUP that comes while
the server is starting is one reload once it runs, not the end of the process; under
systemd (``Type=notify``) the server says READY=1 once it listens, RELOADING=1 ...
READY=1 around a reload and STOPPING=1 at shutdown.  ``$NOTIFY_SOCKET`` is a datagram
socket this test binds, as systemd would."""

import os
import signal
import socket
import time

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.app import lifecycle
from ftpredis.config import load_config
from ftpredis.app.service import FTPRedisService
from tests.support import e2e
from tests.support.twistdrun import TwistdMixin
from tests.test_service import RELOAD, SiteMixin, refused, session


class HeldSighupTests(SiteMixin, unittest.TestCase):
    """In-process: twistd's options hold SIGHUP (tap.Options.postOptions) before the
    config is read; the service, once started, applies what the file says by then."""

    def tearDown(self):
        lifecycle.take_held_sighup()
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        return super().tearDown()

    @defer.inlineCallbacks
    def test_sighup_before_start_reloads_once_running(self):
        p, p2 = e2e.free_port(), e2e.free_port()
        lifecycle.hold_sighup()
        self.write(RELOAD, p=p)
        config = load_config(self.conf)
        # The admin edits the file and signals while the server is still starting.
        self.write(RELOAD, p=p2)
        os.kill(os.getpid(), signal.SIGHUP)     # without the hold: the end of this process
        self.service = FTPRedisService(config)
        self.addCleanup(self._stop)
        reloads = []
        original = self.service.reload

        def reload():
            d = original()
            reloads.append(d)
            return d
        self.service.reload = reload
        self.service.startService()
        self.assertEqual(self.service.addresses(), [("127.0.0.1", p)])
        yield e2e.wait_for(lambda: reloads)
        self.assertTrue((yield reloads[0]))
        self.assertEqual(self.service.addresses(), [("127.0.0.1", p2)])
        self.assertTrue((yield e2e.in_thread(refused, "127.0.0.1", p)))
        yield e2e.in_thread(session, "127.0.0.1", p2)
        self.assertEqual(len(reloads), 1)

    def test_nothing_held_nothing_taken(self):
        self.assertFalse(lifecycle.take_held_sighup())
        lifecycle.hold_sighup()
        self.assertFalse(lifecycle.take_held_sighup())


class NotifySocket:
    """What systemd listens on for a Type=notify unit: an abstract datagram socket."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.name = "@ftpredis-test-%d-%d" % (os.getpid(), id(self))
        self.sock.bind("\0" + self.name[1:])
        self.messages = []

    def next(self, timeout=20.0):
        """The next message as {name: value} (blocking; None after ``timeout``)."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        text = data.decode()
        self.messages.append(text)
        return dict(line.split("=", 1) for line in text.splitlines())

    def close(self):
        self.sock.close()


class SystemdNotifyTests(TwistdMixin, unittest.TestCase):
    """A real ``twistd -n ftpredis`` with ``$NOTIFY_SOCKET`` set."""

    def start(self, body, **ports):
        self.notify = NotifySocket()
        self.addCleanup(self.notify.close)
        self.write(body, **ports)
        return self.twistd(env={"NOTIFY_SOCKET": self.notify.name})

    @defer.inlineCallbacks
    def test_ready_reloading_stopping(self):
        p = e2e.free_port()
        proc = self.start(RELOAD, p=p)
        ready = yield e2e.in_thread(self.notify.next)
        self.assertIsNotNone(ready, self.log_or_output())
        self.assertEqual(ready.get("READY"), "1", self.notify.messages)
        self.assertIn("listening on 1 address", ready.get("STATUS", ""))
        # Ready means serving: a session gets its greeting and logs in at once.
        yield e2e.in_thread(session, "127.0.0.1", p)

        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        proc.send_signal(signal.SIGHUP)
        reloading = yield e2e.in_thread(self.notify.next)
        self.assertEqual(reloading.get("RELOADING"), "1", self.notify.messages)
        self.assertGreaterEqual(int(reloading["MONOTONIC_USEC"]), before)
        again = yield e2e.in_thread(self.notify.next)
        self.assertEqual((again.get("READY"), again.get("STATUS")),
                         ("1", "configuration reloaded"), self.notify.messages)

        # A config with an error: refused, and systemd is told the running one is kept.
        with open(self.conf, "a") as f:
            f.write("Bogus 1\n")
        proc.send_signal(signal.SIGHUP)
        self.assertEqual((yield e2e.in_thread(self.notify.next)).get("RELOADING"), "1")
        refused_msg = yield e2e.in_thread(self.notify.next)
        self.assertEqual(refused_msg.get("READY"), "1")
        self.assertIn("refused", refused_msg.get("STATUS", ""))

        proc.send_signal(signal.SIGTERM)
        stopping = yield e2e.in_thread(self.notify.next)
        self.assertEqual(stopping, {"STOPPING": "1"}, self.notify.messages)
        self.assertIn((yield e2e.in_thread(proc.wait, 30)), (0, -signal.SIGTERM))

    @defer.inlineCallbacks
    def test_workers_leave_it_to_the_main_process(self):
        p = e2e.free_port()
        proc = self.start(RELOAD + "ServerWorkers 2\n", p=p)
        ready = yield e2e.in_thread(self.notify.next)
        self.assertEqual((ready or {}).get("READY"), "1", self.log_or_output())
        yield e2e.in_thread(session, "127.0.0.1", p)
        proc.send_signal(signal.SIGTERM)
        stopping = yield e2e.in_thread(self.notify.next)
        self.assertEqual(stopping, {"STOPPING": "1"}, self.notify.messages)
        self.assertIn((yield e2e.in_thread(proc.wait, 30)), (0, -signal.SIGTERM))
        # Nothing more: the workers, which inherit $NOTIFY_SOCKET, said nothing.
        self.assertIsNone((yield e2e.in_thread(self.notify.next, 0.5)), self.notify.messages)

    @defer.inlineCallbacks
    def test_sighup_as_soon_as_it_is_caught_is_one_reload(self):
        """``systemctl reload`` (or an init script) right after the start: the first
        moment the process catches SIGHUP is before its config is read."""
        p = e2e.free_port()
        proc = self.start(RELOAD, p=p)
        caught = yield e2e.in_thread(catches_sighup, proc.pid)
        self.assertTrue(caught, self.log_or_output())
        proc.send_signal(signal.SIGHUP)
        ready = yield e2e.in_thread(self.notify.next)
        self.assertEqual((ready or {}).get("READY"), "1", self.log_or_output())
        reloading = yield e2e.in_thread(self.notify.next)
        self.assertEqual((reloading or {}).get("RELOADING"), "1", self.notify.messages)
        done = yield e2e.in_thread(self.notify.next)
        self.assertEqual((done or {}).get("STATUS"), "configuration reloaded")
        self.assertIsNone(proc.poll())
        yield e2e.in_thread(session, "127.0.0.1", p)


def catches_sighup(pid, timeout=20.0):
    """Wait until process ``pid`` has a handler for SIGHUP (``SigCgt`` in its status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("SigCgt:"):
                        if int(line.split()[1], 16) & (1 << (signal.SIGHUP - 1)):
                            return True
        except OSError:
            return False
        time.sleep(0.001)
    return False
