# -*- test-case-name: tests.test_ftps -*-
"""FTPS (ftpredis.tls.ftps) driven over loopback by ftplib.FTP_TLS, curl and lftp, with
certificates generated here; and the mod_tls directives through load_config/--check."""

from __future__ import annotations

import ftplib
import io
import os
import select
import socket
import ssl
import struct
import textwrap

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.config import ConfigErrors, format_check_report, load_config
from ftpredis.records.events import CONNECT
from tests.support.ftphelpers import FTPServerMixin, PASSWORD, USER
from tests.support.ftps import CCCFTP_TLS, FTPSMixin, ReusingFTP_TLS, bio_handshake, pki


class CommandTests(FTPSMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_feat_lists_tls(self):
        def run():
            f = self.client(login=False)
            feat = f.sendcmd("FEAT")
            f.quit()
            return feat.splitlines()
        feat = yield self.inThread(run)
        for word in (" AUTH TLS", " CCC", " PBSZ", " PROT", " SSCN"):
            self.assertIn(word, feat)
        body = feat[1:-1]
        self.assertEqual(body, sorted(body))

    @defer.inlineCallbacks
    def test_help_marks_tls_commands_implemented(self):
        """As ProFTPD with mod_tls: AUTH, PBSZ, PROT unstarred; CCC starred (though it
        works, as in ProFTPD's HELP)."""
        def run():
            f = self.client()
            text = f.sendcmd("HELP")
            f.quit()
            return text
        text = yield self.inThread(run)
        words = text.split()
        for word in ("AUTH", "PBSZ", "PROT", "CCC*", "CONF*", "ENC*", "MIC*"):
            self.assertIn(word, words)
        for word in ("AUTH*", "PBSZ*", "PROT*", "CCC"):
            self.assertNotIn(word, words)

    @defer.inlineCallbacks
    def test_replies_before_auth(self):
        replies = yield self.inThread(self.raw, ["PBSZ 0", "PROT P", "CCC", "AUTH",
                                                 "AUTH FOO", "QUIT"])
        self.assertEqual(replies, ["500 PBSZ not understood", "500 PROT not understood",
                                   "530 Please login with USER and PASS",
                                   "504 AUTH requires at least one argument",
                                   "500 AUTH not understood", "221 Goodbye."])

    @defer.inlineCallbacks
    def test_replies_after_auth(self):
        replies = yield self.inThread(self.raw, [
            "AUTH tls", "AUTH TLS", "AUTH SSL", "PROT P", "PBSZ", "PBSZ 1", "PBSZ 0", "PROT",
            "PROT X", "PROT S", "PROT E", "PROT c", "PROT C", "PROT P", "PROT P extra",
            "HOST 127.0.0.1", "USER " + USER, "PASS " + PASSWORD, "CCC", "QUIT"])
        self.assertEqual(replies, [
            "234 AUTH TLS successful", "503 Unwilling to accept second AUTH",
            "503 Unwilling to accept second AUTH", "200 Protection set to Private",
            "501 Invalid number of parameters", "200 PBSZ=0 successful",
            "200 PBSZ 0 successful", "501 Invalid number of parameters",
            "504 PROT X unsupported", "536 PROT S unsupported", "536 PROT E unsupported",
            "504 PROT c unsupported", "200 Protection set to Clear",
            "200 Protection set to Private", "501 Invalid number of parameters",
            "503 Bad sequence of commands", "331 Password required for alice", "230 User alice logged in",
            "200 Clearing control channel protection", "221 Goodbye."])
        auth = self.commands("AUTH")
        self.assertEqual([(e.response_code, e.protocol) for e in auth],
                         [(234, "ftps"), (503, "ftps"), (503, "ftps")])
        self.assertEqual(self.events[0].kind, CONNECT)
        self.assertEqual(self.events[0].protocol, "ftp")
        self.assertTrue(all(e.protocol == "ftps" for e in self.events[2:]))

    @defer.inlineCallbacks
    def test_auth_ssl_protects_data(self):
        self.write("a.txt", b"hello\n")

        def run():
            f = self.tls_client(login=False)
            f.auth = lambda: None
            resp = f.voidcmd("AUTH SSL")
            f.sock = f.context.wrap_socket(f.sock, server_hostname="127.0.0.1")
            f.file = f.sock.makefile("r", encoding=f.encoding)
            ftplib.FTP.login(f, USER, PASSWORD)
            f._prot_p = True                    # AUTH SSL implies PROT P (mod_tls)
            data = f.nlst()
            f.quit()
            return resp, data
        resp, data = yield self.inThread(run)
        self.assertEqual(resp, "234 AUTH SSL successful")
        self.assertEqual(data, ["a.txt"])

    @defer.inlineCallbacks
    def test_plain_pipelined_after_auth_is_dropped(self):
        # Lines sent in clear behind AUTH TLS are never taken as commands.
        def run():
            s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"AUTH TLS\r\nUSER alice\r\n")
            first = f.readline()
            t = self.context().wrap_socket(s, server_hostname="127.0.0.1")
            t.sendall(b"NOOP\r\n")
            second = t.recv(1000)
            t.close()
            return first, second
        first, second = yield self.inThread(run)
        self.assertEqual(first, b"234 AUTH TLS successful\r\n")
        self.assertEqual(second, b"200 NOOP command successful\r\n")
        self.assertEqual([e.verb for e in self.commands()], ["AUTH", "NOOP"])

    @defer.inlineCallbacks
    def test_handshake_failure_is_an_event(self):
        def run():
            s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"AUTH TLS\r\n")
            f.readline()
            s.sendall(b"HELP\r\n" * 200)       # not a ClientHello
            try:
                rest = s.recv(1000)
            except OSError:
                rest = b""
            s.close()
            return rest
        yield self.inThread(run)
        yield self.waitExits()
        auth = self.last("AUTH")
        self.assertEqual((auth.response_code, auth.response_msg, auth.protocol),
                         (421, "TLS handshake failed", "ftp"))
        self.assertEqual(self.exits()[0].session_end_reason, "TLS handshake failed")


class TransferTests(FTPSMixin, unittest.TestCase):

    def _session(self, passive):
        payload = os.urandom(300000)
        self.write("down.bin", payload)

        def run():
            f = self.tls_client()
            f.set_pasv(passive)
            names = f.nlst()
            lines = []
            f.retrlines("LIST", lines.append)
            got = io.BytesIO()
            f.retrbinary("RETR down.bin", got.write)
            f.storbinary("STOR up.bin", io.BytesIO(payload[::-1]))
            stou = f.storbinary("STOU", io.BytesIO(b"unique"))
            facts = dict(f.mlsd())
            f.quit()
            return names, lines, got.getvalue(), stou, facts
        return payload, run

    @defer.inlineCallbacks
    def test_ftplib_passive(self):
        payload, run = self._session(True)
        names, lines, got, stou, facts = yield self.inThread(run)
        yield self.waitExits()
        self.assertEqual(names, ["down.bin"])
        self.assertEqual(len(lines), 1)
        self.assertTrue(lines[0].endswith(" down.bin"))
        self.assertEqual(got, payload)
        with open(self.path("up.bin"), "rb") as f:
            self.assertEqual(f.read(), payload[::-1])
        retr = self.last("RETR")
        self.assertEqual((retr.response_code, retr.protocol, retr.transfer_status,
                          retr.bytes_sent), (226, "ftps", "success", len(payload)))
        self.assertEqual(self.last("STOR").bytes_sent, len(payload))
        self.assertEqual(stou, "226 Transfer complete")
        self.assertEqual(self.last("STOU").protocol, "ftps")
        self.assertEqual(facts["down.bin"]["size"], str(len(payload)))
        self.assertEqual(self.last("MLSD").response_code, 226)
        self.assertEqual(self.last("PROT").response_msg, "Protection set to Private")


    @defer.inlineCallbacks
    def test_ftplib_active(self):
        self.server_options = dict(self.server_options)
        payload, run = self._session(False)
        names, lines, got, stou, facts = yield self.inThread(run)
        self.assertEqual(got, payload)
        with open(self.path("up.bin"), "rb") as f:
            self.assertEqual(f.read(), payload[::-1])
        self.assertEqual(self.last("RETR").transfer_status, "success")
        self.assertEqual(self.last("PORT").protocol, "ftps")

    @defer.inlineCallbacks
    def test_no_session_reuse_refused(self):
        self.write("a.txt", b"x")

        def run():
            f = self.tls_client(cls=ftplib.FTP_TLS)       # stock: no session reuse
            try:
                f.nlst()
            except ftplib.error_temp as e:
                err = str(e)
            else:
                err = None
            # The session goes on: a resuming data connection works.
            f.__class__ = ReusingFTP_TLS
            names = f.nlst()
            f.quit()
            return err, names
        err, names = yield self.inThread(run)
        self.assertEqual(err, "425 Unable to build data connection: Operation not permitted")
        self.assertEqual(names, ["a.txt"])
        first = self.commands("NLST")[0]
        self.assertEqual((first.response_code, first.transfer_status),
                         (425, "failed"))

    @defer.inlineCallbacks
    def test_prot_c_data_in_clear(self):
        self.write("a.txt", b"x")

        def run():
            f = self.tls_client(cls=ftplib.FTP_TLS)
            f.prot_c()
            names = f.nlst()
            f.quit()
            return names
        names = yield self.inThread(run)
        self.assertEqual(names, ["a.txt"])

    @defer.inlineCallbacks
    def test_curl(self):
        payload = os.urandom(200000)
        self.write("c.bin", payload)
        src = os.path.join(os.path.dirname(self.home), "src.bin")
        with open(src, "wb") as f:
            f.write(payload[::-1])
        out = os.path.join(os.path.dirname(self.home), "out.bin")
        base = "ftp://127.0.0.1:%d/" % self.port
        listing = yield self.inThread(self.curl, base)
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertIn(b" c.bin", listing.stdout)
        down = yield self.inThread(self.curl, "-o", out, base + "c.bin")
        self.assertEqual(down.returncode, 0, down.stderr)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), payload)
        up = yield self.inThread(self.curl, "-T", src, base + "up.bin")
        self.assertEqual(up.returncode, 0, up.stderr)
        with open(self.path("up.bin"), "rb") as f:
            self.assertEqual(f.read(), payload[::-1])
        self.assertEqual({e.protocol for e in self.commands("PASS")}, {"ftps"})
        self.assertEqual([e.response_code for e in self.commands("STOR")], [226])

    @defer.inlineCallbacks
    def test_lftp(self):
        payload = os.urandom(150000)
        self.write("l.bin", payload)
        work = os.path.dirname(self.home)
        with open(os.path.join(work, "put.bin"), "wb") as f:
            f.write(payload[::-1])
        r = yield self.inThread(
            self.lftp, "ls; get l.bin -o %s/got.bin; put %s/put.bin -o put.bin"
            % (work, work))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"l.bin", r.stdout)
        with open(os.path.join(work, "got.bin"), "rb") as f:
            self.assertEqual(f.read(), payload)
        with open(self.path("put.bin"), "rb") as f:
            self.assertEqual(f.read(), payload[::-1])
        self.assertEqual(self.last("PROT").response_code, 200)
        self.assertEqual(self.last("STOR").protocol, "ftps")


class NoReuseRequiredTests(FTPSMixin, unittest.TestCase):
    tls_options = {"options": frozenset({"NoSessionReuseRequired"})}

    @defer.inlineCallbacks
    def test_stock_ftplib_allowed(self):
        self.write("a.txt", b"x")

        def run():
            f = self.tls_client(cls=ftplib.FTP_TLS)
            names = f.nlst()
            f.quit()
            return names
        names = yield self.inThread(run)
        self.assertEqual(names, ["a.txt"])


class RequiredTests(FTPSMixin, unittest.TestCase):
    tls_options = {"required_ctrl": True, "required_data": True}

    @defer.inlineCallbacks
    def test_plain_login_refused(self):
        replies = yield self.inThread(self.raw, ["USER " + USER, "PASS " + PASSWORD, "PWD",
                                                 "FEAT", "QUIT"])
        self.assertEqual(replies[:3], ["550 SSL/TLS required on the control channel"] * 3)
        self.assertEqual(replies[4], "221 Goodbye.")
        self.assertIsNone(self.last("PASS").user)

    @defer.inlineCallbacks
    def test_data_protection_required(self):
        def run():
            f = self.tls_client(cls=ReusingFTP_TLS, prot_p=False)
            errors = []
            for call in (lambda: f.voidcmd("PROT C"), f.nlst):
                try:
                    call()
                except ftplib.Error as e:
                    errors.append(str(e))
            f.prot_p()
            names = f.nlst()
            f.quit()
            return errors, names
        errors, names = yield self.inThread(run)
        self.assertEqual(errors, ["534 Unwilling to accept security parameters",
                                  "522 SSL/TLS required on the data channel"])
        self.assertEqual(names, [])


class AuthRequiredTests(FTPSMixin, unittest.TestCase):
    tls_options = {"required_auth": True}

    @defer.inlineCallbacks
    def test_only_login_needs_tls(self):
        replies = yield self.inThread(self.raw, ["SYST", "USER " + USER, "AUTH TLS",
                                                 "USER " + USER, "QUIT"])
        self.assertEqual(replies, ["215 UNIX Type: L8",
                                   "550 SSL/TLS required on the control channel",
                                   "234 AUTH TLS successful",
                                   "331 Password required for alice", "221 Goodbye."])


class EngineOffTests(FTPServerMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_no_tls(self):
        def run():
            f = self.client(login=False)
            feat = f.sendcmd("FEAT")
            try:
                f.sendcmd("AUTH TLS")
            except ftplib.error_perm as e:
                err = str(e)
            f.quit()
            return feat, err
        feat, err = yield self.inThread(run)
        self.assertNotIn("AUTH", feat)
        self.assertEqual(err, "500 AUTH not understood")


class ConfigTests(unittest.TestCase):

    def conf(self, body):
        self.pki = pki()
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write(textwrap.dedent(body) % self.pki)
        return path

    def test_full_config(self):
        path = self.conf("""\
            Port 0
            <IfModule mod_tls.c>
              TLSEngine on
              TLSProtocol TLSv1.2 TLSv1.3
              TLSRSACertificateFile %(rsa_cert)s
              TLSRSACertificateKeyFile %(rsa_key)s
              TLSECCertificateFile %(ec_cert)s
              TLSECCertificateKeyFile %(ec_key)s
              TLSCertificateChainFile %(ca)s
              TLSCACertificateFile %(ca)s
              TLSVerifyClient optional
              TLSVerifyServer off
              TLSRequired auth+data
              TLSCipherSuite HIGH:!aNULL
              TLSOptions NoSessionReuseRequired AllowClientRenegotiations
              TLSTimeoutHandshake 30
              TLSSessionCache redis: 600
            </IfModule>
            """)
        config = load_config(path)
        tls = config.servers[0].tls
        self.assertTrue(tls.engine)
        self.assertEqual(tls.protocols, frozenset({"TLSv1.2", "TLSv1.3"}))
        self.assertEqual((tls.required_ctrl, tls.required_data, tls.required_auth),
                         (False, True, True))
        self.assertEqual(tls.verify_client, "optional")
        self.assertFalse(tls.verify_server)
        self.assertEqual(tls.options, frozenset({"NoSessionReuseRequired",
                                                 "AllowClientRenegotiations"}))
        self.assertEqual((tls.timeout_handshake, tls.session_timeout), (30, 600))
        self.assertTrue(any("TLSSessionCache" in w and "not shared" in w
                            for w in config.warnings))
        from ftpredis.tls.ftps import ServerTLS
        ServerTLS(tls).context()        # both certificates load into one context

    def test_key_mismatch_found_by_check(self):
        path = self.conf("""\
            TLSEngine on
            TLSRSACertificateFile %(rsa_cert)s
            TLSRSACertificateKeyFile %(other_key)s
            """)
        code, text = format_check_report(path)
        self.assertEqual(code, 1)
        self.assertIn("TLSRSACertificateKeyFile: private key '%s' does not match "
                      "certificate" % self.pki["other_key"], text)
        self.assertIn("line 3 of '%s'" % path, text)

    def test_bad_files(self):
        garbage = os.path.abspath(self.mktemp())
        with open(garbage, "w") as f:
            f.write("not a certificate\n")
        path = self.conf("""\
            TLSEngine on
            TLSRSACertificateFile %s
            TLSRSACertificateKeyFile /nonexistent/key.pem
            TLSECCertificateFile %%(rsa_cert)s
            TLSECCertificateKeyFile %%(ec_key)s
            TLSRequired sometimes
            TLSProtocol SSLv3
            TLSOptions Bogus
            TLSCipherSuite NOSUCHCIPHER
            """ % garbage)
        with self.assertRaises(ConfigErrors) as cm:
            load_config(path)
        text = [str(e) for e in cm.exception.errors]
        expect = [(2, "holds no PEM certificate"), (3, "unable to read '/nonexistent/key.pem'"),
                  (5, "does not match certificate"), (6, "unknown TLSRequired setting"),
                  (7, "SSLv3 is not supported"), (8, "unknown TLSOption 'Bogus'"),
                  (9, "no usable cipher")]
        self.assertEqual(len(text), len(expect), text)
        for (line, words), message in zip(expect, text):
            self.assertIn(words, message)
            self.assertIn("line %d of" % line, message)

    def test_verify_server(self):
        """mod_tls's default is on; NoReverseDNS verifies the chain as on does."""
        for line, expected in (("", True), ("TLSVerifyServer NoReverseDNS", True),
                               ("TLSVerifyServer on", True), ("TLSVerifyServer off", False)):
            path = self.conf("TLSEngine on\nTLSRSACertificateFile %(rsa_cert)s\n"
                             "TLSRSACertificateKeyFile %(rsa_key)s\n" + line + "\n")
            self.assertEqual(load_config(path).servers[0].tls.verify_server, expected, line)

    def test_engine_needs_certificate(self):
        path = self.conf("""\
            TLSEngine on
            """)
        with self.assertRaises(ConfigErrors) as cm:
            load_config(path)
        self.assertIn("no server certificate configured", str(cm.exception.errors[0]))


class _MemoryTLS:
    """A TLS client over a raw socket through memory BIOs, so that the test decides
    which bytes go out in which ``send`` (close_notify and the next command together)."""

    def __init__(self, sock, ctx):
        self.sock = sock
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname="127.0.0.1")
        self.pump(self.obj.do_handshake)

    def pump(self, op):
        while True:
            try:
                result = op()
            except ssl.SSLWantReadError:
                self.sock.sendall(self.outgoing.read())
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError("connection closed")
                self.incoming.write(data)
                continue
            self.sock.sendall(self.outgoing.read())
            return result

    def reply(self):
        text = b""
        while not (text.endswith(b"\r\n") and text.splitlines()[-1][3:4] == b" "):
            text += self.pump(lambda: self.obj.read(65536))
        return text.decode()

    def command(self, line):
        self.obj.write(line.encode() + b"\r\n")
        self.sock.sendall(self.outgoing.read())
        return self.reply()

    def unwrap_then(self, clear: bytes):
        """The TLS shutdown (waiting for the server's close_notify), then our close_notify
        and ``clear`` in one send."""
        while True:
            try:
                self.obj.unwrap()
                break
            except ssl.SSLWantReadError:
                self.sock.sendall(self.outgoing.read())
                self.incoming.write(self.sock.recv(65536))
        self.sock.sendall(self.outgoing.read() + clear)
        return self.incoming.read()             # nothing may follow the server's alert


def _plain_reply(f):
    text = b""
    while not (text.endswith(b"\r\n") and text.splitlines()[-1][3:4] == b" "):
        chunk = f.recv(65536)
        if not chunk:
            break
        text += chunk
    return text.decode()


class CCCTests(FTPSMixin, unittest.TestCase):
    """CCC (RFC 4217 section 6): the control connection goes back to clear text after
    the TLS shutdown; data connections keep their PROT level.  Replies as ProFTPD 1.3.8's
    mod_tls gives them (measured against Debian's proftpd)."""

    def _ftplib_session(self, ctx):
        self.write("a.txt", b"hello\n")

        def run():
            f = CCCFTP_TLS(context=ctx, encoding="utf-8")
            f.connect("127.0.0.1", self.port, timeout=10)
            f.login(USER, PASSWORD)
            f.prot_p()
            out = {"ccc": f.ccc()}
            # ftplib's ccc() unwrapped the socket: the rest is read and written in clear.
            out["plain"] = getattr(f.sock, "version", lambda: None)() is None
            out["pwd"] = f.pwd()
            out["private"] = f.nlst()                    # PROT P: the data is still TLS
            replies = []
            for line in ("PBSZ 0", "CCC", "AUTH TLS", "PROT C"):
                try:
                    replies.append(f.sendcmd(line))
                except ftplib.Error as e:
                    replies.append(str(e))
            out["replies"] = replies
            f._prot_p = False
            out["clear"] = f.nlst()
            out["quit"] = f.quit()
            return out
        return self.inThread(run)

    def _check_session(self, out):
        self.assertEqual(out["ccc"], "200 Clearing control channel protection")
        self.assertTrue(out["plain"])
        self.assertEqual(out["pwd"], "/")
        self.assertEqual(out["private"], ["a.txt"])
        self.assertEqual(out["replies"], [
            "503 PBSZ not allowed on insecure control connection",
            "533 CCC not allowed on insecure control connection",
            "534 Unwilling to accept security parameters",
            "200 Protection set to Clear"])
        self.assertEqual(out["clear"], ["a.txt"])
        self.assertEqual(out["quit"], "221 Goodbye.")
        ccc = self.commands("CCC")
        self.assertEqual([(e.response_code, e.response_msg) for e in ccc],
                         [(200, "Clearing control channel protection"),
                          (533, "CCC not allowed on insecure control connection")])
        # As with ProFTPD, %{protocol} stays "ftps" for the rest of the session.
        after = self.events[[e.verb for e in self.events].index("CCC"):]
        self.assertEqual({e.protocol for e in after}, {"ftps"})
        self.assertEqual([e.response_code for e in self.commands("NLST")], [226, 226])

    @defer.inlineCallbacks
    def test_ftplib_ccc_tls13(self):
        out = yield self._ftplib_session(self.context())
        yield self.waitExits()
        self._check_session(out)
        self.assertEqual(self.exits()[0].session_end_reason, "Quit")

    @defer.inlineCallbacks
    def test_ftplib_ccc_tls12(self):
        ctx = self.context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2      # close_notify as an alert record
        out = yield self._ftplib_session(ctx)
        self._check_session(out)

    @defer.inlineCallbacks
    def test_close_notify_and_command_in_one_segment(self):
        """Bytes following the client's close_notify in the same read are clear text."""
        def run():
            s, t, ccc = self._login_then_ccc()
            leftover = t.unwrap_then(b"PWD\r\nNOOP\r\n")
            replies = _plain_reply(s)
            while replies.count("\r\n") < 2:
                replies += _plain_reply(s)
            s.sendall(b"QUIT\r\n")
            bye = _plain_reply(s)
            s.close()
            return ccc, leftover, replies, bye
        ccc, leftover, replies, bye = yield self.inThread(run)
        self.assertEqual(ccc, "200 Clearing control channel protection\r\n")
        self.assertEqual(leftover, b"")
        self.assertEqual(replies, '257 "/" is the current directory\r\n'
                                  "200 NOOP command successful\r\n")
        self.assertEqual(bye, "221 Goodbye.\r\n")

    @defer.inlineCallbacks
    def test_curl_ccc_passive_and_active(self):
        """curl's default (passive) CCC mode never sends its own close_notify: it waits
        for ours and goes on in clear; the active mode sends one.  In passive mode curl
        cannot resume its session on the data connection (OpenSSL drops a session whose
        connection ended without close_notify); like mod_tls, which has no control
        session left to compare with, ftpredis no longer requires the reuse after CCC."""
        payload = os.urandom(100000)
        self.write("c.bin", payload)
        out = os.path.join(os.path.dirname(self.home), "out.bin")
        url = "ftp://127.0.0.1:%d/c.bin" % self.port
        for mode in ("passive", "active"):
            r = yield self.inThread(self.curl, "--ftp-ssl-ccc", "--ftp-ssl-ccc-mode", mode,
                                    "-o", out, url)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out, "rb") as f:
                self.assertEqual(f.read(), payload)
            os.unlink(out)
        yield self.waitExits(2)
        self.assertEqual([e.response_code for e in self.commands("CCC")], [200, 200])
        self.assertEqual([(e.response_code, e.transfer_status)
                          for e in self.commands("RETR")],
                         [(226, "success"), (226, "success")])

    def _login_then_ccc(self):
        """A raw control connection: AUTH TLS, login, CCC; (socket, TLS layer, CCC reply)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        _plain_reply(s)
        s.sendall(b"AUTH TLS\r\n")
        _plain_reply(s)
        t = _MemoryTLS(s, self.context())
        t.command("USER " + USER)
        t.command("PASS " + PASSWORD)
        return s, t, t.command("CCC")

    def _after_ccc(self, send):
        def run():
            s, t, ccc = self._login_then_ccc()
            rest = send(s)
            s.close()
            return ccc, rest
        return self.inThread(run)

    @defer.inlineCallbacks
    def test_client_gone_during_shutdown(self):
        ccc, _ = yield self._after_ccc(lambda s: None)
        self.assertEqual(ccc, "200 Clearing control channel protection\r\n")
        yield self.waitExits()
        self.assertEqual(self.exits()[0].protocol, "ftps")

    @defer.inlineCallbacks
    def test_bad_record_after_ccc_ends_session(self):
        def send(s):
            s.sendall(b"\x17\x03\x03\x00\x05hello")   # not decryptable
            out = b""
            while True:
                chunk = s.recv(1000)
                if not chunk:
                    return out
                out += chunk
        ccc, rest = yield self._after_ccc(send)
        self.assertEqual(ccc, "200 Clearing control channel protection\r\n")
        yield self.waitExits()
        self.assertEqual(len(self.exits()), 1)

    @defer.inlineCallbacks
    def test_plain_session_ccc_not_understood(self):
        """Without AUTH, mod_tls declines CCC: ProFTPD answers 500 (530 before login)."""
        replies = yield self.inThread(self.raw, ["CCC", "USER " + USER, "PASS " + PASSWORD,
                                                 "CCC", "QUIT"])
        self.assertEqual(replies, ["530 Please login with USER and PASS",
                                   "331 Password required for alice",
                                   "230 User alice logged in", "500 CCC not understood",
                                   "221 Goodbye."])


class CCCRequiredTests(FTPSMixin, unittest.TestCase):
    tls_options = {"required_ctrl": True}

    @defer.inlineCallbacks
    def test_ccc_refused_when_control_tls_required(self):
        def run():
            f = CCCFTP_TLS(context=self.context(), encoding="utf-8")
            f.connect("127.0.0.1", self.port, timeout=10)
            f.login(USER, PASSWORD)
            f.prot_p()
            try:
                f.ccc()
            except ftplib.error_perm as e:
                err = str(e)
            else:
                err = None
            secure = f.sock.version() is not None
            noop = f.voidcmd("NOOP")                 # still under TLS
            f.quit()
            return err, secure, noop
        err, secure, noop = yield self.inThread(run)
        self.assertEqual(err, "534 Unwilling to accept security parameters")
        self.assertTrue(secure)
        self.assertEqual(noop, "200 NOOP command successful")
        self.assertEqual(self.last("CCC").response_code, 534)


class UploadEndTests(FTPSMixin, unittest.TestCase):
    """How the client ends a TLS upload's data connection decides whether the upload is
    whole, as mod_tls judges it: its close_notify (even with a TCP reset right after)
    or a plain FIN ends the data; a reset with no close_notify before it is a cut
    stream, since the client's kernel drops what it had not sent yet when it resets
    (curl resets after its close_notify; lftp can be reset when our session ticket
    reaches the socket it has just closed)."""

    def upload(self, payload, end, version=None):
        def run():
            ctx = self.context()
            if version is not None:
                ctx.maximum_version = version
            f = ReusingFTP_TLS(context=ctx, encoding="utf-8")
            f.connect("127.0.0.1", self.port, timeout=10)
            f.login(USER, PASSWORD)
            f.prot_p()
            f.voidcmd("TYPE I")
            conn = f.transfercmd("STOR up.bin")
            # Nothing held back for Nagle: a reset would drop it.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.sendall(payload)
            end(conn)
            try:
                reply = f.voidresp()
            except ftplib.Error as e:
                reply = str(e)
            conn.close()
            f.quit()
            return reply
        return self.inThread(run)

    @staticmethod
    def reset(conn):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    @defer.inlineCallbacks
    def test_reset_without_close_notify_fails(self):
        # More than the server's receive window: the reset cuts the stream.
        payload = os.urandom(400000)
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            reply = yield self.upload(payload, self.reset, version)
            self.assertEqual(reply, "426 Transfer aborted. Data connection closed")
            self.assertIsNone(self.stored())
        self.assertEqual([(e.response_code, e.transfer_status) for e in self.commands("STOR")],
                         [(426, "failed")] * 2)

    @defer.inlineCallbacks
    def test_reset_after_close_notify_is_whole(self):
        """curl's way: its close_notify, then our close_notify meets its closed socket
        and its kernel resets the connection.  The reset comes after the server read
        the client's close_notify (it answers it), so the upload is whole."""
        def close_notify_then_reset(conn):
            conn.setblocking(False)
            try:
                conn.unwrap()       # sends close_notify; ours has not come yet
            except ssl.SSLWantReadError:
                pass
            # Ours arrives (the server read the client's), then the reset.
            select.select([conn], [], [], 30)
            self.reset(conn)
        # Within the server's receive window: all of it is sent before the reset.
        payload = os.urandom(20000)
        reply = yield self.upload(payload, close_notify_then_reset)
        self.assertEqual(reply, "226 Transfer complete")
        self.assertEqual(self.stored(), payload)

    @defer.inlineCallbacks
    def test_last_records_close_notify_and_fin_in_one_segment(self):
        """Every size, the stream's end coming all at once: the last records, the
        close_notify and the FIN in one segment (TCP_CORK), either with the client's
        Finished in the same read (Twisted's record-by-record path) or after the
        server's session ticket showed its handshake done (the bulk path)."""
        sizes = (0, 1, 16383, 16384, 16385, 100007)
        sent = {}

        def run():
            ctx = self.context()
            f = ReusingFTP_TLS(context=ctx, encoding="utf-8")
            f.connect("127.0.0.1", self.port, timeout=10)
            f.login(USER, PASSWORD)
            f.prot_p()
            f.voidcmd("TYPE I")
            replies = []
            for size in sizes:
                for handshake_first in (False, True):
                    payload = sent[size, handshake_first] = os.urandom(size)
                    raw = ftplib.FTP.ntransfercmd(f, "STOR up%d-%d.bin" % (size, handshake_first))[0]
                    tls, _wire, out = bio_handshake(ctx, raw, f.sock.session)
                    if handshake_first:
                        self.assertEqual(tls.version(), "TLSv1.3")
                        raw.sendall(out.read())
                        raw.recv(65536)         # the ticket: the server is past its handshake
                    if payload:
                        tls.write(payload)
                    try:
                        tls.unwrap()
                    except ssl.SSLWantReadError:
                        pass                    # our close_notify is out; theirs has not come
                    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
                    raw.sendall(out.read())
                    raw.shutdown(socket.SHUT_WR)  # uncorks: the FIN goes with the last bytes
                    replies.append(f.voidresp())
                    raw.close()
            f.quit()
            return replies
        replies = yield self.inThread(run)
        self.assertEqual(replies, ["226 Transfer complete"] * (2 * len(sizes)))
        for (size, handshake_first), payload in sent.items():
            with open(self.path("up%d-%d.bin" % (size, handshake_first)), "rb") as f:
                self.assertEqual(f.read(), payload)

    @defer.inlineCallbacks
    def test_fin_without_close_notify_is_whole(self):
        payload = os.urandom(400000)
        reply = yield self.upload(payload, lambda conn: conn.shutdown(socket.SHUT_WR))
        self.assertEqual(reply, "226 Transfer complete")
        self.assertEqual(self.stored(), payload)
