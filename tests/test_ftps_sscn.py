# -*- test-case-name: tests.test_ftps_sscn -*-
"""SSCN ON (ftpredis.tls.ftps): ftpredis as the TLS client of a transfer's data
connection, in active mode too, and the check of the peer's certificate that mod_tls's
TLSVerifyServer asks for (ftplib clients acting as the TLS server, certificates from
tests/support/ftps.py).  The replies and records of SSCN in passive mode, against
ProFTPD's, are in tests/test_conformance_ftps.py."""

from __future__ import annotations

import ftplib
import os
import ssl

from twisted.internet import defer
from twisted.trial import unittest

from tests.support.ftps import FTPSMixin, pki


class _SSCNBase(FTPSMixin, unittest.TestCase):

    def server_context(self):
        """What the FTP client, the TLS server of SSCN ON's data connections, presents."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki["rsa_cert"], self.pki["rsa_key"])
        return context

    def transfer(self, f, cmd, data=None, tls=True):
        """``cmd`` with the client as the TLS server of its data connection: the bytes
        read (or ``data`` sent), and the final reply."""
        conn, _ = ftplib.FTP.ntransfercmd(f, cmd)
        got = b""
        try:
            if tls:
                conn = self.server_context().wrap_socket(conn, server_side=True)
            else:
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            if data is not None:
                conn.sendall(data)
                conn = conn.unwrap()
            else:
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    got += chunk
        except OSError:
            pass                # refused after (or in) the handshake
        conn.close()
        try:
            return got, f.voidresp()
        except ftplib.error_temp as e:
            return got, str(e)

    def sscn_client(self, passive=True):
        f = self.tls_client()
        f.set_pasv(passive)
        self.assertEqual(f.sendcmd("SSCN ON"), "200 SSCN:CLIENT METHOD")
        f.voidcmd("TYPE I")
        return f


class VerifiedTests(_SSCNBase):

    def setUp(self):
        self.tls_options = dict(ca_file=pki()["ca"])
        return _SSCNBase.setUp(self)

    @defer.inlineCallbacks
    def test_active_mode(self):
        """PORT: ftpredis connects the data connection and is its TLS client too."""
        payload = os.urandom(200000)
        self.write("down.bin", payload)

        def run():
            f = self.sscn_client(passive=False)
            down = self.transfer(f, "RETR down.bin")
            up = self.transfer(f, "STOR up.bin", payload[::-1])
            f.quit()
            return down, up
        down, up = yield self.inThread(run)
        self.assertEqual(down, (payload, "226 Transfer complete"))
        self.assertEqual(up, (b"", "226 Transfer complete"))
        self.assertEqual(self.stored(), payload[::-1])
        self.assertEqual([(e.response_code, e.bytes_sent) for e in self.commands("STOR")],
                         [(226, len(payload))])

    @defer.inlineCallbacks
    def test_handshake_fails(self):
        """A data connection that answers the server's ClientHello with no TLS: 425,
        logged with %b 0."""
        def run():
            f = self.sscn_client()
            got = self.transfer(f, "RETR down.bin", tls=False)
            f.quit()
            return got
        self.write("down.bin", b"x")
        got = yield self.inThread(run)
        self.assertEqual(got[1], "425 Unable to build data connection: Operation not "
                                 "permitted")
        retr = self.last("RETR")
        self.assertEqual((retr.bytes_sent, retr.transfer_status), (0, "failed"))


class UnverifiedTests(_SSCNBase):
    """No TLSCACertificateFile: no peer certificate can verify."""

    @defer.inlineCallbacks
    def test_peer_certificate_refused(self):
        """As mod_tls with TLSVerifyServer on (its default) refuses the data connection
        (1.3.8's session then dies of a double free; ftpredis answers 425)."""
        self.write("down.bin", b"secret")

        def run():
            f = self.sscn_client()
            got = self.transfer(f, "RETR down.bin")
            f.voidcmd("SSCN OFF")
            names = f.nlst()            # the session goes on
            f.quit()
            return got, names
        got, names = yield self.inThread(run)
        self.assertEqual(got, (b"", "425 Unable to build data connection: Operation not "
                                    "permitted"))
        self.assertEqual(names, ["down.bin"])
        self.assertEqual(self.last("RETR").bytes_sent, 0)


class VerifyServerOffTests(_SSCNBase):
    tls_options = dict(verify_server=False)

    @defer.inlineCallbacks
    def test_any_peer_certificate(self):
        self.write("down.bin", b"hello")

        def run():
            f = self.sscn_client()
            got = self.transfer(f, "RETR down.bin")
            f.quit()
            return got
        got = yield self.inThread(run)
        self.assertEqual(got, (b"hello", "226 Transfer complete"))
