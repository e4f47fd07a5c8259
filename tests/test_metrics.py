# -*- test-case-name: tests.test_metrics -*-
"""The Prometheus exporter (PrometheusEngine on) in-process, scraped with real curl.

Real ftplib sessions (good and failed logins, an upload, a download, a listing, a
missing file, a login left half done, an idle timeout) run against the service; the
exposition is parsed with prometheus_client's own parser, and every counter must have
moved by exactly what the sessions did.  Also: only /metrics answers (404, 405), a
download in flight shows in the in-progress gauge, and the directives' checks.
"""

import ftplib
import io
import os
import socket
import subprocess
import threading
import time

from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import defer
from twisted.trial import unittest

from ftpredis import __version__
from ftpredis.app.service import FTPRedisService
from ftpredis.config import format_check_report, load_config
from tests.support import e2e
from tests.support.redisserver import free_port
from tests.support.waiting import waitFor

CONF = """\
Port                {port}
DefaultAddress      127.0.0.1
AuthUserFile        {base}/ftpd.passwd
AuthGroupFile       {base}/ftpd.group
RequireValidShell   off
AllowOverwrite      on
<IfModule mod_prometheus.c>
  PrometheusEngine    on
  PrometheusExporter  127.0.0.1:%(mport)d
  PrometheusLog       {base}/prometheus.log
  PrometheusTables    {base}/prometheus
</IfModule>
%(extra)s
"""


def curl(*args):
    """``(HTTP status, body)`` of one real curl request."""
    out = subprocess.run(["curl", "-sS", "--max-time", "10", "-o", "-", "-w",
                          "\n%{http_code}"] + list(args),
                         capture_output=True, text=True, timeout=20)
    body, _, status = out.stdout.rpartition("\n")
    return int(status), body


def samples(text):
    """``{(sample name, ((label, value), ...)): value}`` of an exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(scrape, name, **labels):
    labels.setdefault("protocol", "ftp")
    return scrape.get((name, tuple(sorted(labels.items()))), 0)


class ExporterMixin:
    extra = ""

    def setUp(self):
        self.base = os.path.abspath(self.mktemp())
        self.mport = free_port()
        body = CONF % {"mport": self.mport, "extra": self.extra}
        self.conf = e2e.write_site(self.base, body)
        self.config = load_config(self.conf)
        self.port = self.config.servers[0].port
        self.service = FTPRedisService(self.config, shutdown_timeout=2)
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.url = "http://127.0.0.1:%d/metrics" % self.mport

    @defer.inlineCallbacks
    def scrape(self):
        status, body = yield e2e.in_thread(curl, self.url)
        self.assertEqual(status, 200, body)
        return samples(body)

    def open_sessions(self):
        return self.service.exporter.subscriber.metrics.connection_count.values.get(
            ("ftp",), 0)


def good_session(port):
    ftp = e2e.ftp_connect(port)
    ftp.storbinary("STOR up.txt", io.BytesIO(b"12345"))
    got = []
    ftp.retrbinary("RETR up.txt", got.append)
    lines = []
    ftp.retrlines("LIST", lines.append)
    try:
        ftp.retrbinary("RETR missing.txt", got.append)
    except ftplib.error_perm:
        pass
    ftp.quit()
    return b"".join(got), lines


def failed_login(port, user, password):
    ftp = e2e.ftp_connect(port, user=None)
    try:
        ftp.login(user, password)
    except ftplib.error_perm as e:
        result = str(e)
    else:
        result = "logged in"
    ftp.quit()
    return result


def user_only(port):
    ftp = e2e.ftp_connect(port, user=None)
    ftp.sendcmd("USER " + e2e.USER)
    ftp.quit()


class CountersTests(ExporterMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_counters_move_by_exactly_what_happened(self):
        before = yield self.scrape()
        self.assertEqual(value(before, "proftpd_build_info", protocol=None), 0)
        info = [k for k in before if k[0] == "proftpd_build_info"]
        self.assertEqual(info, [("proftpd_build_info", (
            ("mod_prometheus_version", "mod_prometheus/0.2"),
            ("proftpd_version", "ftpredis/%s" % __version__)))])
        startup = before[("proftpd_startup_time", ())]
        self.assertLessEqual(abs(startup - time.time()), 60)

        data, lines = yield e2e.in_thread(good_session, self.port)
        self.assertEqual(data, b"12345")
        self.assertEqual(len(lines), 1)
        bad = yield e2e.in_thread(failed_login, self.port, e2e.USER, "wrong")
        unknown = yield e2e.in_thread(failed_login, self.port, "nobody-here", "x")
        self.assertIn("530", bad)
        self.assertIn("530", unknown)
        yield e2e.in_thread(user_only, self.port)
        yield waitFor(lambda: self.open_sessions() == 0, "every session's DISCONNECT")
        after = yield self.scrape()

        def moved(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        expected = {
            ("proftpd_connection_total", ()): 4,
            ("proftpd_login_total", ()): 1,
            ("proftpd_login_error_total", ()): 2,
            ("proftpd_auth_total", (("method", "password"),)): 1,
            ("proftpd_auth_error_total", (("reason", "bad password"),)): 1,
            ("proftpd_auth_error_total", (("reason", "unknown user"),)): 1,
            ("proftpd_auth_error_total", (("reason", "incomplete"),)): 1,
            ("proftpd_directory_list_total", ()): 1,
            ("proftpd_directory_list_error_total", ()): 0,
            ("proftpd_file_upload_total", ()): 1,
            ("proftpd_file_upload_error_total", ()): 0,
            ("proftpd_file_download_total", ()): 1,
            ("proftpd_file_download_error_total", ()): 1,
            ("proftpd_file_download_bytes_count", ()): 1,
            ("proftpd_file_download_bytes_sum", ()): 5,
            ("proftpd_file_upload_bytes_count", ()): 1,
            ("proftpd_file_upload_bytes_sum", ()): 5,
            ("proftpd_connection_duration_seconds_count", ()): 4,
            ("proftpd_login_delay_seconds_count", ()): 1,
            ("proftpd_timeout_total", (("reason", "TimeoutIdle"),)): 0,
        }
        got = {key: moved(key[0], **dict(key[1])) for key in expected}
        self.assertEqual(got, expected)
        # 5 bytes fall in the first bucket (10240), cumulative in every later one.
        self.assertEqual(moved("proftpd_file_download_bytes_bucket", le="10240.0"), 1)
        self.assertEqual(moved("proftpd_file_download_bytes_bucket", le="+Inf"), 1)
        # Nothing is left open: no session, no login in progress, no transfer.
        for gauge in ("proftpd_connection_count", "proftpd_login_count",
                      "proftpd_directory_list_count", "proftpd_file_download_count",
                      "proftpd_file_upload_count"):
            self.assertEqual(value(after, gauge), 0, gauge)
        with open(os.path.join(self.base, "prometheus.log")) as f:
            self.assertIn("exporter listening on %s" % self.url, f.read())

    @defer.inlineCallbacks
    def test_a_download_in_flight_is_counted_while_it_runs(self):
        with open(os.path.join(e2e.home(self.base), "big.bin"), "wb") as f:
            f.write(os.urandom(8 << 20))
        started, go_on = threading.Event(), threading.Event()
        self.addCleanup(go_on.set)
        d = e2e.in_thread(e2e.slow_download, self.port, started, go_on)
        yield waitFor(started.is_set, "the download's first block")
        during = yield self.scrape()
        self.assertEqual(value(during, "proftpd_file_download_count"), 1)
        self.assertEqual(value(during, "proftpd_connection_count"), 1)
        go_on.set()
        got, reply = yield d
        self.assertEqual(got, 8 << 20)
        yield waitFor(lambda: self.open_sessions() == 0, "the session's DISCONNECT")
        after = yield self.scrape()
        self.assertEqual(value(after, "proftpd_file_download_count"), 0)
        self.assertEqual(value(after, "proftpd_file_download_total"), 1)
        self.assertEqual(value(after, "proftpd_file_download_bytes_bucket", le="10485760.0"), 1)
        self.assertEqual(value(after, "proftpd_file_download_bytes_bucket", le="1048576.0"), 0)

    @defer.inlineCallbacks
    def test_only_metrics_answers(self):
        root = "http://127.0.0.1:%d" % self.mport
        for path in ("/", "/other", "/metrics/more", "/metricsx"):
            status, body = yield e2e.in_thread(curl, root + path)
            self.assertEqual(status, 404, path)
        for method in ("POST", "PUT", "DELETE", "OPTIONS"):
            status, body = yield e2e.in_thread(curl, "-X", method, self.url)
            self.assertEqual(status, 405, method)
        status, body = yield e2e.in_thread(curl, "-I", self.url)
        self.assertEqual(status, 405, "HEAD")
        status, body = yield e2e.in_thread(curl, self.url)
        self.assertEqual(status, 200)
        self.assertIn("# TYPE proftpd_connection_total counter", body)


class TimeoutTests(ExporterMixin, unittest.TestCase):
    extra = "TimeoutIdle 1\n"

    @defer.inlineCallbacks
    def test_an_idle_timeout_is_counted_with_its_reason(self):
        ftp = yield e2e.in_thread(e2e.ftp_connect, self.port)
        self.addCleanup(ftp.close)
        yield waitFor(lambda: self.open_sessions() == 0, "the idle timeout")
        after = yield self.scrape()
        self.assertEqual(value(after, "proftpd_timeout_total", reason="TimeoutIdle"), 1)
        self.assertEqual(value(after, "proftpd_login_total"), 1)
        self.assertEqual(value(after, "proftpd_connection_count"), 0)


class DirectiveTests(unittest.TestCase):

    def write(self, text):
        path = os.path.join(os.path.abspath(self.mktemp()) + ".conf")
        with open(path, "w") as f:
            f.write("Port 0\n" + text)
        return path

    def test_engine_off_starts_no_exporter(self):
        mport = free_port()
        config = load_config(self.write("PrometheusEngine off\n"
                                        "PrometheusExporter 127.0.0.1:%d\n" % mport))
        service = FTPRedisService(config)
        self.assertIsNone(service.exporter)
        self.assertIsNone(service.metrics)

    def test_exporter_addresses(self):
        for text, expected in (("127.0.0.1", ("127.0.0.1", 9273)),
                               ("127.0.0.1:19273", ("127.0.0.1", 19273)),
                               ("[::1]:19273", ("::1", 19273)),
                               ("[::]", ("::", 9273)),
                               ("::1", ("::1", 9273))):
            config = load_config(self.write("PrometheusExporter %s\n" % text))
            self.assertEqual(config.servers[0].prometheus_exporter, expected, text)

    def test_check_reports_what_ftpredis_does(self):
        code, text = format_check_report(self.write(
            "PrometheusEngine on\nPrometheusTables /var/proftpd/prometheus\n"))
        self.assertEqual(code, 0, text)
        self.assertIn("PrometheusTables: accepted, not used: ftpredis keeps its metrics "
                      "in the process", text)
        self.assertIn("no PrometheusExporter is configured, so no exporter runs", text)

    def test_bad_values_name_the_line(self):
        path = self.write("PrometheusExporter 127.0.0.1:0\nPrometheusTables relative\n"
                          "<VirtualHost 127.0.0.1>\nPrometheusEngine on\n</VirtualHost>\n")
        code, text = format_check_report(path)
        self.assertEqual(code, 1)
        self.assertEqual(text.splitlines(), [
            "PrometheusExporter: port must be between 1-65535 (in '127.0.0.1:0') on "
            "line 2 of '%s'" % path,
            "PrometheusTables: must be a full path: 'relative' on line 3 of '%s'" % path,
            "PrometheusEngine: directive not allowed in <VirtualHost> context on line 5 "
            "of '%s'; allowed in server config" % path])

    def test_a_port_in_use_names_the_directive(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            config = load_config(self.write("PrometheusEngine on\n"
                                            "PrometheusExporter 127.0.0.1:%d\n" % port))
            service = FTPRedisService(config)
            e = self.assertRaises(RuntimeError, service.privilegedStartService)
        self.assertIn("PrometheusExporter 127.0.0.1:%d: cannot listen" % port, str(e))


class ReloadTests(ExporterMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_a_reloaded_server_keeps_feeding_the_same_counters(self):
        yield e2e.in_thread(failed_login, self.port, e2e.USER, "wrong")
        with open(self.conf) as f:
            text = f.read()
        with open(self.conf, "w") as f:
            f.write(text.replace("AllowOverwrite      on", "AllowOverwrite      off"))
        ok = yield self.service.reload()
        self.assertTrue(ok)
        data, lines = yield e2e.in_thread(good_session, self.port)
        yield waitFor(lambda: self.open_sessions() == 0, "every session's DISCONNECT")
        after = yield self.scrape()
        self.assertEqual(value(after, "proftpd_connection_total"), 2)
        self.assertEqual(value(after, "proftpd_login_error_total"), 1)
        self.assertEqual(value(after, "proftpd_login_total"), 1)
        self.assertEqual(value(after, "proftpd_file_upload_total"), 1)


class DaemonTests(unittest.TestCase):
    """``twistd ftpredis`` as shipped: the exporter starts with the daemon."""

    @defer.inlineCallbacks
    def start_daemon(self, extra=""):
        """``twistd ftpredis`` on ports picked free (``extra``: more directives);
        ``(port, mport, process)`` once it says it listens.  Not a connection probe: a port picked free can be taken by another
        process before twistd binds it (the exporter binds first, then the FTP port), and
        a probe then reaches that other process; here twistd, which cannot listen, exits,
        and the start is tried again on other ports."""
        for attempt in range(3):
            base = os.path.realpath(self.mktemp())
            mport = free_port()
            conf = e2e.write_site(base, CONF % {"mport": mport, "extra": extra})
            port = load_config(conf).servers[0].port
            log = os.path.join(base, "twistd.log")
            proc = e2e.twistd(["-n", "--pidfile=", "--logfile", log, "ftpredis",
                               "--config", conf], cwd=base)
            self.addCleanup(e2e.stop_process, proc)

            def read_log():
                try:
                    with open(log) as f:
                        return f.read()
                except OSError:
                    return ""
            listening = "listening on 127.0.0.1:%d\n" % port
            yield e2e.wait_for(lambda: proc.poll() is not None or listening in read_log(),
                               timeout=30)
            text = read_log()
            if proc.poll() is None and listening in text:
                return port, mport, proc
            if proc.poll() is None:
                break
            text += proc.communicate()[1].decode()      # a bind error goes to stderr
            if "Address already in use" not in text:
                break
        self.fail("twistd did not listen on %d and %d:\n%s" % (port, mport, text))

    @defer.inlineCallbacks
    def test_twistd_serves_metrics(self):
        port, mport, _ = yield self.start_daemon()
        yield e2e.in_thread(lambda: e2e.ftp_connect(port).quit())
        url = "http://127.0.0.1:%d/metrics" % mport

        def ended():
            scrape = samples(curl(url)[1])
            return (value(scrape, "proftpd_login_total") == 1 and
                    value(scrape, "proftpd_connection_duration_seconds_count") ==
                    value(scrape, "proftpd_connection_total"))
        self.assertTrue((yield e2e.wait_for(ended)), "the session never showed as ended")
        scrape = samples((yield e2e.in_thread(curl, url))[1])
        self.assertEqual(value(scrape, "proftpd_connection_count"), 0)
        self.assertEqual(value(scrape, "proftpd_connection_total"), 1)

    @defer.inlineCallbacks
    def test_with_server_workers_the_parent_alone_serves_the_exporter(self):
        port, mport, proc = yield self.start_daemon("ServerWorkers 2\n")

        def children():
            try:
                with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
                    return [int(pid) for pid in f.read().split()]
            except OSError:
                return []
        self.assertTrue((yield e2e.wait_for(lambda: e2e.wait_listening(mport) and
                                            len(children()) == 1, timeout=15)),
                        "no exporter and worker")
        worker = children()[0]
        for _ in range(4):
            yield e2e.in_thread(lambda: e2e.ftp_connect(port).quit())
        status, body = yield e2e.in_thread(curl, "http://127.0.0.1:%d/metrics" % mport)
        self.assertEqual(status, 200)
        # The worker (which must not bind the exporter's address too) is still there.
        self.assertEqual(children(), [worker])
        self.assertIsNone(proc.poll())

    def test_a_busy_exporter_port_stops_the_start_with_a_message(self):
        base = os.path.realpath(self.mktemp())
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        self.addCleanup(busy.close)
        mport = busy.getsockname()[1]
        conf = e2e.write_site(base, CONF % {"mport": mport, "extra": ""})
        proc = e2e.twistd(["-n", "--pidfile=", "ftpredis", "--config", conf], cwd=base)
        self.addCleanup(e2e.stop_process, proc)
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("ftpredis: PrometheusExporter: cannot listen on 127.0.0.1:%d: "
                      "Address already in use" % mport, err.decode())
        self.assertNotIn("Traceback", err.decode())
