# -*- test-case-name: tests.test_sftp_config -*-
"""Directive argument parsing for mod_sftp (served by :mod:`ftpredis.sftp`).

This module owns the arguments of SFTPEngine's family: SFTPHostKey (a path; the key is
loaded, and its permissions checked, once SFTPOptions is known, in
:func:`ftpredis.sftp.settings.build_sftp_config`), SFTPAuthMethods (methods and
``a+b`` chains), SFTPAuthorizedUserKeys (``file:`` stores), SFTPCiphers, SFTPDigests,
SFTPKeyExchanges (names twisted.conch implements; others are refused by name),
SFTPCompression, SFTPOptions, SFTPMaxChannels, SFTPLog, SFTPDisplayBanner and
SFTPClientMatch, and :data:`SFTP_UNSUPPORTED`, the other mod_sftp 1.3.8 directives with
what ftpredis does about each.
"""

from __future__ import annotations

from ftpredis.config.args_core import DirectiveError, _boolean, _int, p_path

#: SFTPAuthMethods' method names (mod_sftp 1.3.8); ftpredis serves the first two.
AUTH_METHODS = ("publickey", "password", "keyboard-interactive", "hostbased")
_SERVED_METHODS = ("publickey", "password")

#: SFTPOptions words of mod_sftp 1.3.8 (contrib/mod_sftp/mod_sftp.c, set_sftpoptions);
#: the first set changes what ftpredis does, the others are accepted with a warning.
OPTIONS = frozenset({"InsecureHostKeyPerms"})
OPTIONS_NO_EFFECT = frozenset({
    "IgnoreSFTPSetPerms", "IgnoreSFTPSetTimes", "IgnoreSFTPUploadPerms",
    "IgnoreSFTPSetOwners", "IgnoreSCPUploadPerms", "IgnoreSCPUploadTimes",
    "OldProtocolCompat", "PessimisticKexinit", "MatchKeySubject", "AllowInsecureLogin",
    "AllowWeakDH", "IgnoreFIFOs", "IgnoreSFTPSetExtendedAttributes", "IncludeSFTPTimes",
    "NoExtensionNegotiation", "NoHostkeyRotation"})

#: The other directives of mod_sftp 1.3.8's table: (name, min args, what ftpredis does).
SFTP_UNSUPPORTED = (
    ("SFTPAcceptEnv", 1, "No shell or exec channels: environment requests are refused."),
    ("SFTPAuthorizedHostKeys", 1, "No hostbased authentication."),
    ("SFTPClientAlive", 2, "No keepalive probes; TimeoutIdle ends idle sessions."),
    ("SFTPCryptoDevice", 1, "No OpenSSL engine selection."),
    ("SFTPDHParamFile", 1, "Only fixed Diffie-Hellman groups and elliptic curves."),
    ("SFTPExtensions", 1, "No SFTP extensions are offered."),
    ("SFTPHostKeys", 1, "Use SFTPHostKey."),
    ("SFTPKeyBlacklist", 1, "No key blacklist."),
    ("SFTPKeyLimits", 1, "Key sizes are not limited beyond what the SSH library accepts."),
    ("SFTPPassPhraseProvider", 1, "Host keys must not be encrypted."),
    ("SFTPRekey", 1, "Rekeying follows the client."),
    ("SFTPTrafficPolicy", 1, "No traffic analysis protection."),
)


def _names(args, known, what):
    from twisted.conch.ssh import transport
    have = {n.decode() for n in getattr(transport.SSHTransportBase, known)}
    out = []
    for word in args:
        if word not in have:
            raise DirectiveError("unsupported %s '%s' (supported: %s)"
                                 % (what, word, ", ".join(sorted(have))))
        out.append(word.encode())
    return tuple(out)


def p_sftp_ciphers(args, ctx):
    return _names(args, "supportedCiphers", "cipher")


def p_sftp_digests(args, ctx):
    return _names(args, "supportedMACs", "digest")


def p_sftp_key_exchanges(args, ctx):
    return _names(args, "supportedKeyExchanges", "key exchange")


def p_sftp_host_key(args, ctx):
    text = args[0]
    if text.startswith("agent:") or text.lower() in ("nodsakey", "norsakey", "noecdsakey",
                                                     "noed25519key", "noed448key"):
        raise DirectiveError("'%s' is not supported: give the path of a private key file"
                             % (text,))
    return p_path(args, ctx)


def p_sftp_auth_methods(args, ctx):
    chains = []
    for word in args:
        chain = tuple(m.lower() for m in word.split("+"))
        for m in chain:
            if m not in AUTH_METHODS:
                raise DirectiveError("unsupported authentication method '%s' (known: %s)"
                                     % (m, ", ".join(AUTH_METHODS)))
            if m not in _SERVED_METHODS:
                raise DirectiveError("authentication method '%s' is not provided by "
                                     "ftpredis (use publickey or password)" % (m,))
        if len(set(chain)) != len(chain):
            raise DirectiveError("'%s' names a method twice" % (word,))
        chains.append(chain)
    return tuple(chains)


def p_sftp_authorized_keys(args, ctx):
    for word in args:
        if not word.startswith("file:"):
            raise DirectiveError("unsupported key store '%s' (ftpredis reads file: "
                                 "stores only)" % (word,))
        if len(word) == 5:
            raise DirectiveError("'file:' needs a path")
    return tuple(args)


def p_sftp_compression(args, ctx):
    word = args[0].lower()
    if word == "delayed":
        return "delayed"
    return "on" if _boolean(word) else "off"


def p_sftp_options(args, ctx):
    known = {name.lower(): name for name in OPTIONS | OPTIONS_NO_EFFECT}
    found = set()
    for word in args:
        name = known.get(word.lower())
        if name is None:
            raise DirectiveError("unknown SFTPOption '%s'" % (word,))
        if name in OPTIONS_NO_EFFECT:
            ctx.warn("option '%s' has no effect in ftpredis" % (name,))
        found.add(name)
    return frozenset(found)


def p_sftp_max_channels(args, ctx):
    return _int(args[0], "channel count", 1)


def p_sftp_log(args, ctx):
    if args[0].lower() == "none":
        return None
    return p_path(args, ctx)


def p_sftp_client_match(args, ctx):
    import re
    from ftpredis.sftp.settings import ClientMatch
    pattern = args[0]
    try:
        re.compile(pattern)
    except re.error as e:
        raise DirectiveError("bad regular expression '%s': %s" % (pattern, e))
    if (len(args) - 1) % 2:
        raise DirectiveError("SFTPClientMatch takes a pattern then key value pairs")
    kw = {}
    for key, value in zip(args[1::2], args[2::2]):
        k = key.lower()
        if k == "channelwindowsize":
            kw["channel_window"] = _size(value)
        elif k == "channelpacketsize":
            kw["channel_packet_size"] = _size(value)
        elif k == "sftpprotocolversion":
            lo, _, hi = value.partition("-")
            kw["sftp_protocol_version"] = (_int(lo, "SFTP version", 1, 6),
                                           _int(hi or lo, "SFTP version", 1, 6))
            ctx.warn("sftpProtocolVersion has no effect in ftpredis (it serves SFTP "
                     "version 3)")
        elif k in ("pessimistickexinit", "sftpcompression"):
            ctx.warn("%s has no effect in ftpredis" % (key,))
        else:
            raise DirectiveError("unknown SFTPClientMatch key '%s'" % (key,))
    return ClientMatch(pattern, **kw)


def _size(text):
    units = {"KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}
    for suffix, mult in units.items():
        if text.upper().endswith(suffix):
            return _int(text[:-2], "size", 1) * mult
    return _int(text, "size", 1)
