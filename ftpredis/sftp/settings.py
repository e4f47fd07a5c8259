# -*- test-case-name: tests.test_sftp_config -*-
"""The SFTP settings of one server (mod_sftp's directives, already parsed).

This module owns :class:`SFTPConfig` and :func:`build_sftp_config`, which assembles it
from a server's merged directives (``first(name)``, as :mod:`ftpredis.tls.settings`
does); it imports nothing of :mod:`ftpredis.config`, so the config builder can call it.
The argument parsers are in :mod:`ftpredis.config.args_sftp`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Tuple

#: The directives build_sftp_config reads.
SFTP_DIRECTIVE_NAMES = (
    "SFTPEngine", "SFTPHostKey", "SFTPAuthMethods", "SFTPAuthorizedUserKeys",
    "SFTPCiphers", "SFTPDigests", "SFTPKeyExchanges", "SFTPCompression", "SFTPOptions",
    "SFTPMaxChannels", "SFTPLog", "SFTPDisplayBanner", "SFTPClientMatch")


@dataclass(frozen=True)
class HostKey:
    """One SFTPHostKey: its file and the loaded private key (twisted.conch Key)."""

    path: str
    key: object

    @property
    def type(self) -> bytes:
        return self.key.sshType()


@dataclass(frozen=True)
class ClientMatch:
    """One SFTPClientMatch: a regex on the client's SSH version text and what it sets."""

    pattern: str
    channel_window: Optional[int] = None
    channel_packet_size: Optional[int] = None
    sftp_protocol_version: Optional[Tuple[int, int]] = None


@dataclass(frozen=True)
class SFTPConfig:
    engine: bool = False
    host_keys: Tuple[HostKey, ...] = ()
    # SFTPAuthMethods: the chains of methods, any one of which completes a login
    # ("publickey+password" is one chain of two); default: publickey or password.
    auth_methods: Tuple[Tuple[str, ...], ...] = (("publickey",), ("password",))
    authorized_user_keys: Tuple[str, ...] = ()      # "file:/path/%u" templates
    ciphers: Optional[Tuple[bytes, ...]] = None     # None: conch's defaults
    digests: Optional[Tuple[bytes, ...]] = None
    key_exchanges: Optional[Tuple[bytes, ...]] = None
    compression: str = "delayed"                    # off | on | delayed
    options: frozenset = frozenset()
    max_channels: int = 10
    log: Optional[str] = None
    display_banner: Optional[str] = None
    client_match: Tuple[ClientMatch, ...] = ()


def build_sftp_config(first: Callable, every: Callable, error: Callable,
                      warn: Callable) -> Optional[SFTPConfig]:
    """A server's :class:`SFTPConfig` from its merged directives, or None without any.

    ``first(name)`` gives ``(value, source)`` of the directive in force (or None),
    ``every(name)`` all of them in order, ``error(message, source)`` records a config
    error, ``warn(message)`` a warning.
    """
    found = {name: first(name) for name in SFTP_DIRECTIVE_NAMES}
    if not any(found.values()):
        return None

    def value(name, default=None):
        return found[name][0] if found[name] is not None else default

    kw = dict(engine=bool(value("SFTPEngine", False)))
    if found["SFTPClientMatch"] is not None:
        kw["client_match"] = tuple(v for v, _ in every("SFTPClientMatch"))
    options = value("SFTPOptions", frozenset())
    host_keys = []
    for path, source in every("SFTPHostKey"):
        from ftpredis.sftp.keys import HostKeyError, load_host_key
        try:
            host_keys.append(HostKey(path, load_host_key(
                path, "InsecureHostKeyPerms" in options)))
        except HostKeyError as e:
            error("SFTPHostKey: %s" % (e,), source)
    kw["host_keys"] = tuple(host_keys)
    for name, attr in (("SFTPAuthMethods", "auth_methods"),
                       ("SFTPAuthorizedUserKeys", "authorized_user_keys"),
                       ("SFTPCiphers", "ciphers"), ("SFTPDigests", "digests"),
                       ("SFTPKeyExchanges", "key_exchanges"),
                       ("SFTPCompression", "compression"), ("SFTPOptions", "options"),
                       ("SFTPMaxChannels", "max_channels"), ("SFTPLog", "log"),
                       ("SFTPDisplayBanner", "display_banner")):
        if found[name] is not None:
            kw[attr] = value(name)
    config = SFTPConfig(**kw)
    if config.engine and not config.host_keys and not every("SFTPHostKey"):
        error("SFTPEngine on: no SFTPHostKey configured (mod_sftp needs at least one "
              "host key)", found["SFTPEngine"][1])
    if config.engine and "publickey" in {m for chain in config.auth_methods
                                         for m in chain} \
            and not config.authorized_user_keys and found["SFTPAuthMethods"] is not None:
        warn("%s: SFTPAuthMethods allows publickey but no SFTPAuthorizedUserKeys is "
             "configured: no key will be accepted" % (found["SFTPEngine"][1],))
    return config
