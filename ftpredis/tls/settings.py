# -*- test-case-name: tests.test_tls_settings -*-
"""mod_tls's directive values: parsed, checked, and frozen into a :class:`TLSConfig`.

This module owns what the configuration needs from TLS and nothing that runs a
connection: the parsers :mod:`ftpredis.config.directives` calls for the ``TLS*``
directives (certificate and key files are loaded with pyOpenSSL as the config is read,
so that ``--check`` names the line of an unreadable, malformed or mismatched file), and
:func:`build_tls_config`, which :mod:`ftpredis.config` calls for each server.  It
imports nothing from :mod:`ftpredis.config` or :mod:`ftpredis.ftp`: both the config and
the FTPS runtime (:mod:`ftpredis.tls.ftps`) import it, never the other way round.

``TLSSessionCache redis:`` cannot share sessions between processes with the TLS stack
installed here (see :data:`SESSION_CACHE_LIMITATION`); it is accepted with a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from OpenSSL import SSL, crypto

#: Why ``TLSSessionCache redis:`` shares nothing between processes (for the report, the
#: warning and the README).
SESSION_CACHE_LIMITATION = (
    "sessions are not shared between processes: the installed pyOpenSSL/cryptography "
    "bindings expose neither an external session cache (SSL_CTX_sess_set_new_cb/"
    "get_cb) nor settable ticket keys (SSL_CTX_set_tlsext_ticket_keys), and their "
    "OpenSSL is linked statically with hidden symbols; data connections still resume "
    "their control connection's session inside the process")

#: Every mod_tls directive ftpredis applies; :func:`build_tls_config` reads them.
TLS_DIRECTIVE_NAMES = ("TLSEngine", "TLSProtocol", "TLSRSACertificateFile",
                       "TLSRSACertificateKeyFile", "TLSECCertificateFile",
                       "TLSECCertificateKeyFile", "TLSCertificateChainFile",
                       "TLSCACertificateFile", "TLSVerifyClient", "TLSVerifyServer",
                       "TLSRequired",
                       "TLSCipherSuite", "TLSOptions", "TLSTimeoutHandshake", "TLSLog",
                       "TLSSessionCache")

PROTOCOLS = {"TLSv1": SSL.TLS1_VERSION, "TLSv1.1": SSL.TLS1_1_VERSION,
             "TLSv1.2": SSL.TLS1_2_VERSION, "TLSv1.3": SSL.TLS1_3_VERSION}
DEFAULT_PROTOCOLS = frozenset({"TLSv1.2", "TLSv1.3"})
REQUIRED = {"off": (False, False, False), "on": (True, True, False),
            "ctrl": (True, False, False), "data": (False, True, False),
            "auth": (False, False, True), "auth+data": (False, True, True),
            "ctrl+data": (True, True, False)}
#: TLSOptions ftpredis applies; the other mod_tls options are accepted without effect.
OPTIONS = frozenset({"NoSessionReuseRequired", "AllowClientRenegotiations"})
OPTIONS_NO_EFFECT = frozenset("""AllowDotLogin AllowPerUser AllowWeakSecurity
    CommonNameRequired EnableDiags ExportCertData IgnoreSNI NoCertRequest
    NoEmptyFragments NoSessionTickets StdEnvVars dNSNameRequired iPAddressRequired
    UseImplicitSSL""".split())
DEFAULT_CIPHERS = "DEFAULT:!ADH:!EXPORT:!DES"


@dataclass(frozen=True, slots=True)
class TLSConfig:
    """A server's mod_tls settings (absent directive = mod_tls's default)."""

    engine: bool = False
    protocols: frozenset = DEFAULT_PROTOCOLS
    rsa_cert: Optional[str] = None
    rsa_key: Optional[str] = None
    ec_cert: Optional[str] = None
    ec_key: Optional[str] = None
    chain_file: Optional[str] = None
    ca_file: Optional[str] = None
    verify_client: str = "off"              # off, on, optional
    verify_server: bool = True              # SSCN ON: the peer's chain must verify
    required_ctrl: bool = False
    required_data: bool = False
    required_auth: bool = False
    cipher_suite: Optional[str] = None      # TLSv1.2 and older (OpenSSL cipher list)
    tls13_suites: Optional[str] = None      # TLSCipherSuite TLSv1.3 ...
    options: frozenset = frozenset()
    timeout_handshake: int = 300
    log: Optional[str] = None
    session_cache: Optional[str] = None     # as written ("redis:", "internal:"...)
    session_timeout: int = 1800


# --------------------------------------------------------------------------- files

def read_certificates(path: str) -> Tuple[crypto.X509, ...]:
    """Every PEM certificate in ``path`` (first = the server's own); ValueError says why."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError("unable to read '%s': %s" % (path, e.strerror))
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----",
                        data, re.S)
    if not blocks:
        if data.lstrip().startswith(b"0"):    # DER (ProFTPD accepts it too)
            try:
                return (crypto.load_certificate(crypto.FILETYPE_ASN1, data),)
            except crypto.Error:
                pass
        raise ValueError("'%s' holds no PEM certificate" % path)
    certs = []
    for block in blocks:
        try:
            certs.append(crypto.load_certificate(crypto.FILETYPE_PEM, block))
        except crypto.Error as e:
            raise ValueError("bad certificate in '%s': %s" % (path, ssl_reason(e)))
    return tuple(certs)


def read_private_key(path: str) -> crypto.PKey:
    """The unencrypted PEM or DER private key in ``path``; ValueError says why not."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError("unable to read '%s': %s" % (path, e.strerror))
    for kind in (crypto.FILETYPE_PEM, crypto.FILETYPE_ASN1):
        try:
            return crypto.load_privatekey(kind, data, passphrase=_no_passphrase)
        except (crypto.Error, ValueError, TypeError):
            continue
    raise ValueError("'%s' holds no usable private key (passphrase-protected keys are "
                     "not supported)" % path)


def _no_passphrase(*args):
    raise ValueError("passphrase required")


def ssl_reason(e: Exception) -> str:
    """An OpenSSL error's reasons, readable (pyOpenSSL gives a list of tuples)."""
    try:
        return "; ".join(r[2] for r in e.args[0]) or str(e)
    except Exception:
        return str(e)


def key_type(key: crypto.PKey) -> str:
    return {crypto.TYPE_RSA: "RSA", crypto.TYPE_DSA: "DSA"}.get(key.type(), "EC")


def check_pair(certs, key: crypto.PKey) -> Optional[str]:
    """None when ``key`` is the private key of ``certs[0]``, else why not."""
    ctx = SSL.Context(SSL.TLS_METHOD)
    try:
        ctx.use_certificate(certs[0])
        ctx.use_privatekey(key)
        ctx.check_privatekey()
    except SSL.Error as e:
        return ssl_reason(e)
    return None


# --------------------------------------------------------------------------- config

def parse_protocols(words) -> Tuple[frozenset, Tuple[str, ...]]:
    """``TLSProtocol`` words -> (protocol names, warnings); ValueError when unusable."""
    chosen = set()
    warnings = []
    for word in words:
        if word.upper() == "ALL":
            chosen |= set(PROTOCOLS)
            continue
        sign = ""
        if word[:1] in "+-":
            sign, word = word[0], word[1:]
        name = {p.lower(): p for p in PROTOCOLS}.get(word.lower())
        if name is None:
            if word.lower() in ("sslv3", "sslv2"):
                raise ValueError("%s is not supported (insecure and disabled in OpenSSL)"
                                 % word)
            raise ValueError("unknown protocol '%s'" % word)
        if sign == "-":
            chosen.discard(name)
        else:
            chosen.add(name)
    if not chosen:
        raise ValueError("no protocol left enabled")
    old = sorted(chosen - DEFAULT_PROTOCOLS)
    if old:
        warnings.append("%s enabled: insecure, and refused by OpenSSL's default security "
                        "level" % ", ".join(old))
    names = sorted(chosen, key=lambda n: PROTOCOLS[n])
    span = [n for n in sorted(PROTOCOLS, key=PROTOCOLS.get)
            if PROTOCOLS[names[0]] <= PROTOCOLS[n] <= PROTOCOLS[names[-1]]]
    if len(span) != len(names):
        warnings.append("protocols must form a range; %s to %s are enabled"
                        % (names[0], names[-1]))
    return frozenset(span), tuple(warnings)


def parse_required(word: str) -> Tuple[bool, bool, bool]:
    try:
        return REQUIRED[word.lower()]
    except KeyError:
        raise ValueError("unknown TLSRequired setting '%s': expected one of %s"
                         % (word, ", ".join(REQUIRED)))


def check_cipher_list(text: str, tls13: bool = False) -> None:
    ctx = SSL.Context(SSL.TLS_METHOD)
    try:
        if tls13:
            ctx.set_tls13_ciphersuites(text.encode())
        else:
            ctx.set_cipher_list(text.encode())
    except SSL.Error as e:
        raise ValueError("no usable cipher in '%s': %s" % (text, ssl_reason(e)))


def build_tls_config(first: Callable, error: Callable, warn: Callable) -> Optional[TLSConfig]:
    """A server's :class:`TLSConfig` from its merged directives, or None without any.

    ``first(name)`` gives ``(value, source)`` of the directive in force (or None),
    ``error(message, source)`` records a config error, ``warn(message)`` a warning.
    Certificate/key pairs are checked here, where both halves are known.
    """
    found = {name: first(name) for name in TLS_DIRECTIVE_NAMES}
    if not any(found.values()):
        return None

    def value(name, default=None):
        return found[name][0] if found[name] is not None else default

    kw = dict(engine=value("TLSEngine", False))
    if found["TLSProtocol"] is not None:
        kw["protocols"] = value("TLSProtocol")
    for name, attr in (("TLSRSACertificateFile", "rsa_cert"),
                       ("TLSRSACertificateKeyFile", "rsa_key"),
                       ("TLSECCertificateFile", "ec_cert"),
                       ("TLSECCertificateKeyFile", "ec_key"),
                       ("TLSCertificateChainFile", "chain_file"),
                       ("TLSCACertificateFile", "ca_file")):
        if found[name] is not None:
            kw[attr] = value(name).path
    if found["TLSVerifyClient"] is not None:
        kw["verify_client"] = value("TLSVerifyClient")
    if found["TLSVerifyServer"] is not None:
        kw["verify_server"] = value("TLSVerifyServer")
    if found["TLSRequired"] is not None:
        kw["required_ctrl"], kw["required_data"], kw["required_auth"] = value("TLSRequired")
    cipher = value("TLSCipherSuite")
    if cipher is not None:
        kw["tls13_suites" if cipher[0] else "cipher_suite"] = cipher[1]
    if found["TLSOptions"] is not None:
        kw["options"] = value("TLSOptions")
    if found["TLSTimeoutHandshake"] is not None:
        kw["timeout_handshake"] = value("TLSTimeoutHandshake")
    if found["TLSLog"] is not None:
        kw["log"] = value("TLSLog")
    if found["TLSSessionCache"] is not None:
        kw["session_cache"], timeout = value("TLSSessionCache")
        if timeout is not None:
            kw["session_timeout"] = timeout
    cfg = TLSConfig(**kw)

    for cert_name, key_name, kind in (
            ("TLSRSACertificateFile", "TLSRSACertificateKeyFile", "RSA"),
            ("TLSECCertificateFile", "TLSECCertificateKeyFile", "EC")):
        cert, key = found[cert_name], found[key_name]
        if cert is not None and key is None:
            error("%s: no %s given for '%s'" % (cert_name, key_name, cert[0].path), cert[1])
        elif key is not None and cert is None:
            error("%s: no %s given for '%s'" % (key_name, cert_name, key[0].path), key[1])
        elif cert is not None:
            if key[0].kind != kind:
                error("%s: '%s' holds a%s %s key, not an %s key"
                      % (key_name, key[0].path, "n" if key[0].kind == "EC" else "",
                         key[0].kind, kind), key[1])
            why = check_pair(cert[0].certs, key[0].key)
            if why is not None:
                error("%s: private key '%s' does not match certificate '%s' (%s): %s"
                      % (key_name, key[0].path, cert[0].path, cert_name, why), key[1])
    if cfg.engine and not (cfg.rsa_cert or cfg.ec_cert):
        source = found["TLSEngine"][1]
        error("TLSEngine: no server certificate configured (TLSRSACertificateFile or "
              "TLSECCertificateFile)", source)
    if cfg.verify_client != "off" and not cfg.ca_file:
        error("TLSVerifyClient: client verification needs TLSCACertificateFile",
              found["TLSVerifyClient"][1])
    if cfg.engine and cfg.session_cache and cfg.session_cache.lower().startswith("redis"):
        warn("TLSSessionCache on %s: %s" % (found["TLSSessionCache"][1],
                                             SESSION_CACHE_LIMITATION))
    return cfg


@dataclass(frozen=True)
class CertFile:
    """A certificate directive's value: the file and the certificates read from it."""

    path: str
    certs: tuple


@dataclass(frozen=True)
class KeyFile:
    """A key directive's value: the file, its key, and the key's type (RSA, DSA, EC)."""

    path: str
    key: object
    kind: str
