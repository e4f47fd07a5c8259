# -*- test-case-name: tests.test_ftps -*-
"""FTPS test fixtures: a throwaway PKI (CA, RSA and EC server certificates), ftplib
clients that resume the control connection's TLS session on data connections (before
and after CCC), and :class:`FTPSMixin`, an in-process FTPS server with curl/lftp/raw
socket drivers."""

from __future__ import annotations

import datetime
import ftplib
import ipaddress
import os
import socket
import ssl
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ftpredis.tls.settings import TLSConfig
from tests.support.ftphelpers import FTPServerMixin, PASSWORD, USER

_PKI = {}


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path, key):
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))


def make_pki(directory):
    """A CA, a server certificate for 127.0.0.1 signed by it (RSA), an EC one, and an
    unrelated RSA key; generated once per test run."""
    if directory in _PKI:
        return _PKI[directory]
    os.makedirs(directory, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("ftpredis test CA"))
          .issuer_name(_name("ftpredis test CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    paths = {"ca": os.path.join(directory, "ca.pem")}
    with open(paths["ca"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                       x509.DNSName("localhost")])
    for kind, key in (("rsa", rsa.generate_private_key(65537, 2048)),
                      ("ec", ec.generate_private_key(ec.SECP256R1()))):
        cert = (x509.CertificateBuilder().subject_name(_name("127.0.0.1"))
                .issuer_name(ca.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(san, critical=False)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        paths[kind + "_cert"] = os.path.join(directory, kind + "-cert.pem")
        paths[kind + "_key"] = os.path.join(directory, kind + "-key.pem")
        with open(paths[kind + "_cert"], "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(paths[kind + "_key"], key)
        os.chmod(paths[kind + "_key"], 0o600)
    paths["other_key"] = os.path.join(directory, "other-key.pem")
    _write_key(paths["other_key"], rsa.generate_private_key(65537, 2048))
    _PKI[directory] = paths
    return paths


def pki():
    return make_pki(os.path.abspath(os.path.join("_ftps_pki")))


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """ftplib.FTP_TLS resuming the control session on data connections, as curl, lftp
    and FileZilla do (stock ftplib does not, bpo-19500)."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
        return conn, size


def bio_handshake(context, raw, session=None):
    """A client TLS handshake over the connected socket ``raw`` through memory BIOs, for
    tests that choose when each byte goes out: ``(tls, incoming, outgoing)``, the last
    flight (the client's Finished) still in ``outgoing``, not sent."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1", session=session)
    while True:
        try:
            tls.do_handshake()
            return tls, incoming, outgoing
        except ssl.SSLWantReadError:
            raw.sendall(outgoing.read())
            data = raw.recv(65536)
            if not data:
                raise AssertionError("data connection closed in the handshake")
            incoming.write(data)


class FTPSMixin(FTPServerMixin):
    tls_options: dict = {}

    def stored(self, name="up.bin"):
        """The bytes of the home's file ``name``; None when the server stored none."""
        try:
            with open(self.path(name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def setUp(self):
        self.pki = pki()
        opts = dict(engine=True, rsa_cert=self.pki["rsa_cert"], rsa_key=self.pki["rsa_key"],
                    timeout_handshake=10)
        opts.update(self.tls_options)
        self.server_options = dict(self.server_options, tls=TLSConfig(**opts))
        FTPServerMixin.setUp(self)

    def context(self):
        ctx = ssl.create_default_context(cafile=self.pki["ca"])
        return ctx

    def tls_client(self, cls=ReusingFTP_TLS, login=True, prot_p=True):
        f = cls(context=self.context(), encoding="utf-8")
        f.connect("127.0.0.1", self.port, timeout=10)
        if login:
            f.login(USER, PASSWORD)       # FTP_TLS.login sends AUTH TLS first
            if prot_p:
                f.prot_p()
        return f

    def raw(self, lines, secure_after_auth=True):
        """Send ``lines`` one by one on a raw socket; returns the replies (lists)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        f = s.makefile("rb")

        def read():
            out = []
            while True:
                line = f.readline().decode().rstrip("\r\n")
                out.append(line)
                if len(line) > 3 and line[3] == " " and line[:3].isdigit():
                    return out
        read()
        replies = []
        for line in lines:
            s.sendall(line.encode() + b"\r\n")
            r = read()
            replies.append(r[-1] if len(r) == 1 else r)
            if line.upper().startswith("AUTH") and r[-1].startswith("234") \
                    and secure_after_auth:
                s = self.context().wrap_socket(s, server_hostname="127.0.0.1")
                f = s.makefile("rb")
            if line.upper() == "CCC" and r[-1].startswith("200"):
                s = s.unwrap()          # the TLS shutdown; clear text from here on
                f = s.makefile("rb")
        s.close()
        return replies

    def curl(self, *args):
        cmd = ["curl", "-sS", "--ssl-reqd", "--cacert", self.pki["ca"], "--max-time", "20",
               "-u", "%s:%s" % (USER, PASSWORD)] + list(args)
        return subprocess.run(cmd, capture_output=True, timeout=30)

    def lftp(self, script):
        prelude = ("set ftp:ssl-force true; set ftp:ssl-protect-data true; "
                   "set ssl:ca-file %s; set ssl:verify-certificate true; "
                   "set net:max-retries 1; set net:timeout 10; set cmd:fail-exit true; "
                   % self.pki["ca"])
        cmd = ["lftp", "-u", "%s,%s" % (USER, PASSWORD), "-p", str(self.port),
               "-e", prelude + script + "; bye", "127.0.0.1"]
        return subprocess.run(cmd, capture_output=True, timeout=30,
                              env=dict(os.environ, HOME=os.path.dirname(self.home)))


class CCCFTP_TLS(ReusingFTP_TLS):
    """ftplib.FTP_TLS whose data connections resume the control connection's session
    even after CCC (ftplib's ``ccc()`` drops the TLS socket that holds it)."""

    tls_session = None

    def ccc(self):
        self.tls_session = self.sock.session
        return ftplib.FTP_TLS.ccc(self)

    def ntransfercmd(self, cmd, rest=None):
        if self.tls_session is None:
            return ReusingFTP_TLS.ntransfercmd(self, cmd, rest)
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.tls_session)
        return conn, size
