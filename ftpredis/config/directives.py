# -*- test-case-name: tests.test_config -*-
"""The table of every configuration directive ftpredis knows, and their argument parsers.

This module owns *what a directive may look like*: its canonical spelling, where it may
stand, how many arguments it takes, how its arguments become a value, whether it may
repeat and whether it has any effect in ftpredis at all.  :data:`TABLE` is the only
list of directives: the builder in :mod:`ftpredis.config` looks every line up in it (an
unknown or misplaced directive is therefore an error by construction), ``--check``
reports from it, and :func:`directive_reference` renders it for the documentation.

Where ftpredis deliberately differs from ProFTPD 1.3.8 (DECISIONS.md), the parser
says so in a comment; README.rst lists the differences for users.
"""

from __future__ import annotations

import ipaddress
import json
import os
import posixpath
import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from ftpredis.config.model import FormatExtra, LogRule, Source
from ftpredis.config.model import DEFAULT_BUSY_POLL_US
from ftpredis.config.syntax import PROVIDED_MODULES

from ftpredis.records.events import KNOWN_COMMANDS

# Context names, spelt as ProFTPD's "directive not allowed in <ctx> context" spells them.
SERVER = "server config"
VHOST = "<VirtualHost>"
GLOBAL = "<Global>"
ANON = "<Anonymous>"
DIR = "<Directory>"
LIMIT = "<Limit>"

_SVG = frozenset({SERVER, VHOST, GLOBAL})
_SV = frozenset({SERVER, VHOST})
_S = frozenset({SERVER})
_SVGA = _SVG | {ANON}
_SVGAD = _SVGA | {DIR}
_ANY = _SVGAD | {LIMIT}

#: RedisLogOnEvent class words: case-sensitive, upper case only (observed 1.13).  AUTH is
#: missing on purpose: it is matched first as the FTP AUTH *command*, as 1.3.8 does.
EVENT_CLASSES = frozenset("ALL CONNECT DIRS DISCONNECT INFO MISC READ SEC SFTP SSH WRITE".split())
#: Class words RedisLogOnCommand keeps (DECISIONS: the documented ALL / CONNECT,DISCONNECT).
COMMAND_CLASSES = frozenset({"ALL", "CONNECT", "DISCONNECT"})

_BOOLEANS = {"on": True, "yes": True, "true": True, "1": True,
             "off": False, "no": False, "false": False, "0": False}


class DirectiveError(Exception):
    """A directive's arguments are wrong; ``message`` gets the ``Directive: `` prefix
    unless ``bare`` is set."""

    def __init__(self, message: str, bare: bool = False):
        Exception.__init__(self, message)
        self.message = message
        self.bare = bare


class ParseContext:
    """What an argument parser may know about the line it parses."""

    def __init__(self, name: str, source: Source, warnings: List[str]):
        self.name = name
        self.source = source
        self.base_dir = os.path.dirname(os.path.abspath(source.file))
        self._warnings = warnings

    def warn(self, message: str) -> None:
        self._warnings.append("%s: %s on %s" % (self.name, message, self.source))

    def path(self, value: str) -> str:
        """A path argument; a relative one is taken from the config file's directory
        (an ftpredis extension: ProFTPD wants absolute paths)."""
        if not os.path.isabs(value):
            value = os.path.join(self.base_dir, value)
        return posixpath.normpath(value)


@dataclass(frozen=True)
class Directive:
    name: str                        # canonical spelling ("RedisLogOnCommand", "<Directory>")
    contexts: frozenset              # where it may stand
    min_args: int
    max_args: Optional[int]          # None: no limit
    parse: Callable[[Tuple[str, ...], ParseContext], object]
    doc: str
    multi: bool = False              # may repeat; every occurrence applies
    merge_down: bool = False         # ProFTPD copies it into <Directory>/<Anonymous> at runtime
    effect: bool = True              # False: accepted for compatibility, warned about
    section: bool = False            # <Name ...> ... </Name>
    reader: bool = False             # handled while reading (Include, Define, <IfModule>...)
    extra_ignored: bool = False      # more than max_args: ignored with a warning (ProFTPD)
    usage: str = ""                  # argument synopsis for the reference


# --------------------------------------------------------------------------- parsers

def _boolean(word: str) -> bool:
    try:
        return _BOOLEANS[word.lower()]
    except KeyError:
        raise DirectiveError("expected Boolean parameter")


def p_bool(args, ctx):
    return _boolean(args[0])


def p_word(args, ctx):
    return args[0]


def p_words(args, ctx):
    return tuple(args)


def p_path(args, ctx):
    if not args[0]:
        raise DirectiveError("empty path")
    return ctx.path(args[0])


def p_ignored(args, ctx):
    return None


def _int(word: str, what: str, low: int = 0, high: Optional[int] = None) -> int:
    if not re.fullmatch(r"[0-9]+", word):
        raise DirectiveError("bad %s '%s': expected a number" % (what, word))
    value = int(word)
    if value < low or (high is not None and value > high):
        if high is None:
            raise DirectiveError("bad %s '%s': must be at least %d" % (what, word, low))
        raise DirectiveError("bad %s '%s': must be between %d and %d" % (what, word, low, high))
    return value


def p_port(args, ctx):
    return _int(args[0], "port number", 0, 65535)


def p_nonneg(args, ctx):
    return _int(args[0], "value", 0)


def p_positive(args, ctx):
    return _int(args[0], "value", 1)


def p_busy_poll(args, ctx):
    if args[0].lower() in ("off", "0"):
        return 0
    return _int(args[0], "microseconds", 1, 10000)


def p_command_buffer_size(args, ctx):
    # Below 64 bytes not even a login fits; above 64 KiB is no longer a command line.
    return _int(args[0], "size", 64, 65536)


def p_max_clients(args, ctx):
    if len(args) > 1:
        ctx.warn("the message argument is not used by ftpredis")
    if args[0].lower() == "none":
        return None
    return _int(args[0], "value", 1)


def p_max_with_message(args, ctx):
    """``N|none ["message"]``: (N, message or None), or None; %m in the message is N."""
    if args[0].lower() == "none":
        return None
    return (_int(args[0], "value", 1), args[1] if len(args) > 1 else None)


def p_anon_reject_passwords(args, ctx):
    """``[!]regex``: (pattern, negated)."""
    negated = args[0].startswith("!")
    pattern = args[0][1:] if negated else args[0]
    try:
        re.compile(pattern)
    except re.error as e:
        raise DirectiveError("'%s' is not a valid regular expression: %s" % (pattern, e))
    return (pattern, negated)


def p_server_ident(args, ctx):
    on = _boolean(args[0])
    return (on, args[1] if len(args) > 1 else None)


def p_umask(args, ctx):
    if len(args) > 1:
        ctx.warn("the separate directory umask is not used by ftpredis")
    if not re.fullmatch(r"[0-7]{1,4}", args[0]) or int(args[0], 8) > 0o777:
        raise DirectiveError("bad umask '%s': expected an octal number such as 022" % args[0])
    return int(args[0], 8)


def p_create_home(args, ctx):
    on = _boolean(args[0])
    mode = 0o700
    if len(args) > 1:
        if not re.fullmatch(r"[0-7]{3,4}", args[1]) or int(args[1], 8) > 0o7777:
            raise DirectiveError("bad mode '%s': expected an octal number such as 700"
                                 % args[1])
        mode = int(args[1], 8)
    for word in args[2:]:
        raise DirectiveError("unsupported option '%s' (ftpredis takes only a mode)" % word)
    return (on, mode)


def p_auth_file_options(args, ctx):
    for word in args:
        if word != "InsecurePerms":
            raise DirectiveError("unknown AuthFileOption '%s'" % word)
    return True


def p_default_root(args, ctx):
    path = args[0]
    if len(args) > 1:
        ctx.warn("group expression '%s' ignored: ftpredis applies the root to every user"
                 % " ".join(args[1:]))
    if path == "~":
        return path
    if not path.startswith("/"):
        raise DirectiveError("'%s' is not '~' or an absolute path" % path)
    return posixpath.normpath(path)


def p_log_format(args, ctx):
    if not args[0]:
        raise DirectiveError("missing required name parameter")
    # ProFTPD joins the words of an unquoted format (or one that %{env:...} re-split).
    return (args[0], " ".join(args[1:]))


def p_redis_log(args, ctx):
    if args[0].lower() == "none":
        return None
    return p_path(args, ctx)


def p_passive_ports(args, ctx):
    try:
        low = _int(args[0], "port", 1024, 65535)
        high = _int(args[1], "port", 1024, 65535)
    except DirectiveError as e:
        raise DirectiveError("%s (the range must lie within 1024-65535)" % e.message)
    if low > high:
        raise DirectiveError("bad range %d-%d: the first port is above the second"
                             % (low, high))
    return (low, high)


def p_user_alias(args, ctx):
    return (args[0], args[1])


def p_load_module(args, ctx):
    if args[0] not in PROVIDED_MODULES:
        raise DirectiveError("module '%s' is not provided by ftpredis" % args[0])
    return None


#: <Limit> words ftpredis enforces: command groups and the commands it implements.
LIMIT_CLASSES = frozenset({"ALL", "READ", "WRITE", "DIRS", "LOGIN"})
LIMIT_COMMANDS = frozenset("""ABOR ALLO APPE CDUP CLNT CWD DELE EPRT EPSV FEAT HELP HOST LIST
    MDTM MFMT MKD MLSD MLST MODE NLST NOOP OPTS PASS PASV PORT PWD QUIT REST RETR RMD RNFR
    RNTO SITE SITE_CHMOD SIZE STAT STOR STOU STRU SYST TYPE USER""".split())
_LIMIT_ALIASES = {"XCWD": "CWD", "XCUP": "CDUP", "XPWD": "PWD", "XMKD": "MKD", "XRMD": "RMD"}


def p_limit(args, ctx):
    if not args:
        raise DirectiveError("wrong number of parameters")
    words = set()
    for arg in args:
        for word in arg.replace(",", " ").split():
            up = word.upper()
            up = _LIMIT_ALIASES.get(up, up)
            if up not in LIMIT_CLASSES and up not in LIMIT_COMMANDS:
                # An unknown word would leave a hole in what the admin meant to close.
                raise DirectiveError("<Limit>: unsupported command or class '%s'" % word,
                                     bare=True)
            words.add(up)
    return frozenset(words)


def p_limit_users(args, ctx):
    names = []
    for arg in args:
        names.extend(n for n in arg.split(",") if n)
    if not names:
        raise DirectiveError("missing user or group names")
    for n in names:
        if n.startswith("!"):
            raise DirectiveError("negated names ('%s') are not supported by ftpredis" % n)
    return tuple(names)


def p_order(args, ctx):
    text = "".join(args).replace(" ", "").lower()
    if text not in ("allow,deny", "deny,allow"):
        raise DirectiveError("expected allow,deny or deny,allow")
    return text


def p_hide_files(args, ctx):
    if args[0].lower() == "none":
        return None
    pattern = args[0][1:] if args[0].startswith("!") else args[0]
    if args[0].startswith("!"):
        raise DirectiveError("negated patterns are not supported by ftpredis")
    try:
        re.compile(pattern)
    except re.error as e:
        raise DirectiveError("'%s' is not a valid regular expression: %s" % (pattern, e))
    if len(args) > 1:
        raise DirectiveError("user/group/class restrictions are not supported by ftpredis")
    return pattern


def p_virtual_host(args, ctx):
    for address in args:
        if not address:
            raise DirectiveError("empty address")
    return tuple(args)


def p_global(args, ctx):
    return None


def _section_path(path: str, what: str) -> str:
    """An absolute path, ``~`` or ``~user`` (optionally followed by ``/...``), with an
    optional trailing ``/*``, normalised."""
    if not path:
        raise DirectiveError("empty path")
    star = ""
    if path.endswith("/*"):
        path, star = path[:-2] or "/", "/*"
    if path.startswith("~"):
        head, sep, tail = path.partition("/")
        path = head + (("/" + posixpath.normpath(tail).lstrip("/")) if tail else "")
    elif path.startswith("/"):
        path = posixpath.normpath(path)
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
    else:
        raise DirectiveError("%s '%s' must be an absolute path or start with '~'" % (what, path))
    if star:
        path = path.rstrip("/") + star
    return path


def p_directory(args, ctx):
    return _section_path(args[0], "path")


def p_anonymous(args, ctx):
    return _section_path(args[0], "directory")


# -- Redis ------------------------------------------------------------------------

@dataclass(frozen=True)
class TLSOptions:
    ssl: Optional[bool] = None
    ssl_ca: Optional[str] = None
    ssl_cert: Optional[str] = None
    ssl_key: Optional[str] = None


@dataclass(frozen=True)
class RedisServerValue:
    host: Optional[str]
    port: int
    unix_path: Optional[str]
    username: Optional[str]
    password: Optional[str]
    db: Optional[int]
    tls: TLSOptions


@dataclass(frozen=True)
class RedisSentinelValue:
    sentinels: Tuple[Tuple[str, int], ...]
    master_name: Optional[str]
    tls: TLSOptions


_TLS_WORDS = {"ssl-ca:": ("ssl_ca", "SSL CA"),
              "ssl-cert:": ("ssl_cert", "SSL certificate"),
              "ssl-key:": ("ssl_key", "SSL certificate key")}


def _tls_option(word: str, ctx, found: dict) -> bool:
    """Take an ``ssl*:`` option into ``found``; False when ``word`` is not one."""
    low = word.lower()
    if low.startswith("ssl:"):
        value = word[4:]
        try:
            found["ssl"] = _boolean(value)
        except DirectiveError:
            raise DirectiveError("bad ssl value '%s': expected Boolean parameter" % value)
        return True
    for prefix, (key, what) in _TLS_WORDS.items():
        if low.startswith(prefix):
            path = word[len(prefix):]
            if not path:
                raise DirectiveError("%s: empty path" % what)
            path = ctx.path(path)
            try:
                os.stat(path)
            except OSError as e:
                # ProFTPD only logs this and goes on without the file; a TLS setup that
                # silently lacks its CA or key is worse than refusing to start.
                raise DirectiveError("%s '%s': %s" % (what, path, e.strerror))
            found[key] = path
            return True
    return False


def _check_tls(found: dict, unix: bool, ctx) -> TLSOptions:
    tls = TLSOptions(**found)
    if tls.ssl_cert and not tls.ssl_key:
        raise DirectiveError("ssl-cert requires ssl-key")
    if tls.ssl_key and not tls.ssl_cert:
        raise DirectiveError("ssl-key requires ssl-cert")
    if tls.ssl and unix:
        raise DirectiveError("ssl cannot be used with a Unix socket")
    if not tls.ssl and (tls.ssl_ca or tls.ssl_cert or tls.ssl_key):
        ctx.warn("ssl-ca/ssl-cert/ssl-key are not used because ssl is not on")
    return tls


def parse_redis_address(text: str, default_port: int) -> Tuple[Optional[str], int, Optional[str]]:
    """``(host, port, unix_path)`` of ``host[:port]``, ``[v6]``, ``[v6]:port`` or ``/path``.

    ProFTPD takes ``atoi`` of whatever follows the last colon, so ``::1`` became host
    ``::`` port 1; ftpredis refuses what it cannot read exactly.
    """
    if text.startswith("/"):
        return None, default_port, text
    port_text = None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise DirectiveError("bad address '%s': missing ']'" % text)
        host, rest = text[1:end], text[end + 1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise DirectiveError("bad address '%s': '%s' is not an IPv6 address" % (text, host))
        if rest.startswith(":"):
            port_text = rest[1:]
        elif rest:
            raise DirectiveError("bad address '%s'" % text)
    elif text.count(":") > 1:
        raise DirectiveError("bad address '%s': write an IPv6 address in brackets, "
                             "as [%s] or [%s]:%d" % (text, text, text, default_port))
    elif ":" in text:
        host, port_text = text.rsplit(":", 1)
    else:
        host = text
    if not host:
        raise DirectiveError("bad address '%s': no host" % text)
    port = default_port
    if port_text is not None:
        if not re.fullmatch(r"[0-9]+", port_text) or not 0 < int(port_text) <= 65535:
            raise DirectiveError("bad port '%s' in '%s'" % (port_text, text))
        port = int(port_text)
    return host, port, None


def p_redis_server(args, ctx):
    host, port, unix = parse_redis_address(args[0], 6379)
    found: dict = {}
    positional = []
    for word in args[1:]:
        if not _tls_option(word, ctx, found):
            positional.append(word)
    # DECISIONS: one word = password (as documented), two = user + password,
    # three = user + password + db index; "" = not given.
    if len(positional) > 3:
        raise DirectiveError("too many parameters: expected server [[user] password] "
                             "[db-index] and ssl options, got '%s'" % "' '".join(positional))
    if len(positional) == 1:
        positional.insert(0, "")
    username, password, db_text = (positional + ["", "", ""])[:3]
    db = None
    if db_text:
        if not re.fullmatch(r"[0-9]+", db_text):
            raise DirectiveError("bad db-index '%s': expected an integer >= 0" % db_text)
        db = int(db_text)
    tls = _check_tls(found, unix is not None, ctx)
    return RedisServerValue(host, port, unix, username or None, password or None, db, tls)


def p_redis_sentinel(args, ctx):
    found: dict = {}
    sentinels = []
    master = None
    words = list(args)
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word.lower() == "master":
            # DECISIONS: "master NAME" may stand anywhere among the words.
            if i >= len(words) or not words[i]:
                raise DirectiveError("'master' must be followed by the master's name")
            master = words[i]
            i += 1
            continue
        if _tls_option(word, ctx, found):
            continue
        host, port, unix = parse_redis_address(word, 26379)
        if unix is not None:
            raise DirectiveError("sentinel '%s': a sentinel needs a host, not a Unix socket"
                                 % word)
        sentinels.append((host, port))
    if not sentinels:
        raise DirectiveError("no sentinel address given")
    return RedisSentinelValue(tuple(sentinels), master, _check_tls(found, False, ctx))


def p_redis_timeouts(args, ctx):
    connect, io = args[0], args[1]
    if not re.fullmatch(r"[0-9]+", connect):
        raise DirectiveError("badly formatted connect timeout value: %s" % connect)
    if not re.fullmatch(r"[0-9]+", io):
        raise DirectiveError("badly formatted IO timeout value: %s" % io)
    return (int(connect), int(io))


def p_redis_options(args, ctx):
    if not args:
        raise DirectiveError("wrong number of parameters")
    for word in args:
        if word != "NoReconnect":
            raise DirectiveError(": unknown RedisOption '%s'" % word)
    return True


def _split_list(text: str) -> List[str]:
    sep = "|" if "|" in text else ","
    return [item for item in text.split(sep) if item]


def _parse_log_on(directive: str, args, ctx) -> LogRule:
    if len(args) == 1 and args[0].lower() == "none":
        return LogRule(directive, none=True, source=ctx.source)
    if len(args) not in (2, 3):
        raise DirectiveError("wrong number of parameters")
    commands, classes = set(), set()
    for item in _split_list(args[0]):
        upper = item.upper()
        if upper in KNOWN_COMMANDS:
            commands.add(upper)
        elif directive == "RedisLogOnCommand" and upper in COMMAND_CLASSES:
            classes.add(upper)
        elif directive == "RedisLogOnEvent" and item in EVENT_CLASSES:
            classes.add(item)
        elif directive == "RedisLogOnEvent" and upper in EVENT_CLASSES:
            ctx.warn("'%s' ignored: event classes are written in upper case (%s)"
                     % (item, upper))
        else:
            ctx.warn("unknown %s '%s' ignored"
                     % ("command" if directive == "RedisLogOnCommand" else "event", item))
    if not args[1]:
        raise DirectiveError("missing format name")
    key = args[2] if len(args) == 3 else None
    return LogRule(directive, frozenset(commands), frozenset(classes), args[1], key,
                   source=ctx.source)


def p_log_on_command(args, ctx):
    return _parse_log_on("RedisLogOnCommand", args, ctx)


def p_log_on_event(args, ctx):
    return _parse_log_on("RedisLogOnEvent", args, ctx)


class _Members(list):
    """A JSON object as parsed, members in order, duplicates still there."""


def _reject_constant(name):
    raise ValueError("not JSON: %s" % name)


def p_format_extra(args, ctx):
    name, text = args[0], args[1]
    if len(args) > 2:
        ctx.warn("extra parameters ignored")
    try:
        value = json.loads(text, object_pairs_hook=_Members, parse_constant=_reject_constant)
    except ValueError:
        value = None
    if not isinstance(value, _Members):
        raise DirectiveError("error parsing '%s' as JSON object: invalid JSON" % text)
    members = []
    seen = set()
    for key, member in value:
        if key in seen:
            continue
        seen.add(key)
        if isinstance(member, list):
            continue    # arrays and objects are dropped, as ProFTPD drops them
        members.append((key, member))
    return FormatExtra(name, tuple(members), source=ctx.source)


# -- mod_ban (ftpredis.ban.bans) --------------------------------------------------------

#: BanOnEvent event names, as mod_ban 1.3.8 spells them (matched case-insensitively).
BAN_EVENTS = tuple("""AnonRejectPasswords BadProtocol ClientConnectRate EmptyPassword LoginRate
    MaxClientsPerClass MaxClientsPerHost MaxClientsPerUser MaxCommandRate
    MaxConnectionsPerHost MaxHostsPerUser MaxLoginAttempts MaxLoginAttemptsFromUser
    RootLogin TimeoutIdle TimeoutLogin TimeoutNoTransfer TLSHandshake
    UnhandledCommand""".split())
_BAN_EVENTS = {name.lower(): name for name in BAN_EVENTS}


def _hhmmss(text: str, what: str) -> int:
    # mod_ban reads these with sscanf("%2u:%2u:%2u"); anything else is refused here
    # instead of being half-read.
    m = re.fullmatch(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})", text)
    if m is None:
        raise DirectiveError("badly formatted %s '%s': expected hh:mm:ss" % (what, text))
    h, mi, sec = (int(g) for g in m.groups())
    return h * 3600 + mi * 60 + sec


def p_ban_on_event(args, ctx):
    from ftpredis.config.model import BanRule
    event = _BAN_EVENTS.get(args[0].lower())
    if event is None:
        raise DirectiveError("unknown ban event '%s' (known: %s)"
                             % (args[0], ", ".join(BAN_EVENTS)))
    count_text, slash, window_text = args[1].partition("/")
    if not slash:
        raise DirectiveError("badly formatted frequency '%s': expected count/hh:mm:ss"
                             % args[1])
    count = _int(count_text, "occurrence count", 1)
    window = _hhmmss(window_text, "event window")
    if window == 0:
        raise DirectiveError("event window '%s' must be longer than zero" % window_text)
    expires = _hhmmss(args[2], "ban duration")
    if expires == 0:
        raise DirectiveError("ban duration '%s' must be longer than zero" % args[2])
    message = args[3] if len(args) > 3 and args[3] else None
    return BanRule(event, count, window, expires, message, source=ctx.source)


def p_ban_cache(args, ctx):
    driver = args[0].lower()
    if driver == "redis":
        return "redis"
    if driver == "memcache":
        # ProFTPD only logs an unusable driver at runtime; bans that silently stay on one
        # node are worse than a refused config.
        raise DirectiveError("driver 'memcache' is not supported by ftpredis (use redis)")
    raise DirectiveError("unsupported driver '%s' (expected redis)" % args[0])


def _option_words(args, known):
    found = set()
    for word in args:
        name = known.get(word.lower())
        if name is None:
            raise DirectiveError("unknown option '%s' (expected %s)"
                                 % (word, " or ".join(sorted(known.values()))))
        found.add(name)
    return frozenset(found)


def p_ban_cache_options(args, ctx):
    return _option_words(args, {"usejson": "UseJSON", "matchserver": "MatchServer"})


def p_ban_options(args, ctx):
    return _option_words(args, {"matchanyserver": "MatchAnyServer"})


def p_ban_table(args, ctx):
    path = p_path(args, ctx)
    parent = os.path.dirname(path) or "/"
    if not os.path.isdir(parent):
        raise DirectiveError("unable to use '%s': directory '%s' does not exist"
                             % (path, parent))
    return path


def p_max_command_rate(args, ctx):
    count = _int(args[0], "command count", 1)
    seconds = _int(args[1], "interval", 1) if len(args) > 1 else 1
    return (count, seconds)


# -- mod_tls (ftpredis.tls.ftps) --------------------------------------------------------

def _tls_call(fn, *args):
    try:
        return fn(*args)
    except ValueError as e:
        raise DirectiveError(str(e))


def p_tls_protocol(args, ctx):
    from ftpredis.tls import settings as tls
    protocols, warnings = _tls_call(tls.parse_protocols, args)
    for warning in warnings:
        ctx.warn(warning)
    return protocols


def p_tls_certificate(args, ctx):
    # Loaded now, so that --check finds an unreadable or malformed file (ProFTPD only
    # finds out when a client says AUTH TLS).
    from ftpredis.tls import settings as tls
    path = p_path(args, ctx)
    return tls.CertFile(path, _tls_call(tls.read_certificates, path))


def p_tls_key(args, ctx):
    from ftpredis.tls import settings as tls
    path = p_path(args, ctx)
    key = _tls_call(tls.read_private_key, path)
    return tls.KeyFile(path, key, tls.key_type(key))


def p_tls_verify_client(args, ctx):
    if args[0].lower() == "optional":
        return "optional"
    return "on" if _boolean(args[0]) else "off"


def p_tls_required(args, ctx):
    from ftpredis.tls import settings as tls
    return _tls_call(tls.parse_required, args[0])


def p_tls_cipher_suite(args, ctx):
    from ftpredis.tls import settings as tls
    tls13 = len(args) == 2
    if tls13 and args[0] != "TLSv1.3":
        raise DirectiveError("unknown protocol '%s' (only TLSv1.3 takes its own suites)"
                             % args[0])
    _tls_call(tls.check_cipher_list, args[-1], tls13)
    return (tls13, args[-1])


def p_tls_options(args, ctx):
    from ftpredis.tls import settings as tls
    known = {name.lower(): name for name in tls.OPTIONS | tls.OPTIONS_NO_EFFECT}
    found = set()
    for word in args:
        name = known.get(word.lower())
        if name is None:
            raise DirectiveError("unknown TLSOption '%s'" % word)
        if name in tls.OPTIONS_NO_EFFECT:
            ctx.warn("option '%s' has no effect in ftpredis" % name)
        found.add(name)
    return frozenset(found)


def p_tls_log(args, ctx):
    if args[0].lower() == "none":
        return None
    return p_path(args, ctx)


def p_tls_session_cache(args, ctx):
    text = args[0]
    kind = text.split(":", 1)[0].lower()
    if kind not in ("redis", "internal", "off", "shm", "memcache", "fscache"):
        raise DirectiveError("unknown session cache type '%s' (expected redis:, "
                             "internal: or off)" % text)
    if kind in ("shm", "memcache", "fscache"):
        ctx.warn("'%s' caches are not provided: sessions are cached in the process" % kind)
    timeout = _int(args[1], "timeout", 1) if len(args) > 1 else None
    return (text, timeout)


# --------------------------------------------------------------------------- the table

def _d(name, contexts, min_args, max_args, parse, doc, **kw):
    return Directive(name, frozenset(contexts), min_args, max_args, parse, doc, **kw)


def _noop(name, contexts, doc, min_args=1, parse=p_ignored):
    return Directive(name, frozenset(contexts), min_args, None, parse, doc, effect=False,
                     usage="...")


TABLE: Tuple[Directive, ...] = (
    # -- sections ---------------------------------------------------------------------
    _d("<VirtualHost>", _S, 1, None, p_virtual_host,
       "A virtual server on the given addresses (Port defaults to 21).",
       section=True, usage="address [address...]"),
    _d("<Global>", _SV, 0, 0, p_global,
       "Settings copied into the main server and every <VirtualHost>.", section=True),
    _d("<Anonymous>", _SVG, 1, 1, p_anonymous,
       "Anonymous FTP rooted at the directory; needs User (and Group) inside.",
       section=True, usage="directory"),
    _d("<Directory>", _SVGA, 1, 1, p_directory,
       "Settings for a directory tree (absolute, ~ or ~user; a trailing /* is allowed).",
       section=True, usage="path"),
    _d("<Limit>", _SVGAD, 1, None, p_limit,
       "Access rules for commands or the groups READ, WRITE, DIRS, LOGIN, ALL; only "
       "AllowAll, DenyAll, AllowUser, DenyUser, AllowGroup, DenyGroup and Order may "
       "stand inside.", section=True, usage="cmd|class..."),
    _d("AllowAll", frozenset({LIMIT}), 0, 0, p_ignored, "Allow everyone (inside <Limit>).",
       usage=""),
    _d("DenyAll", frozenset({LIMIT}), 0, 0, p_ignored, "Deny everyone (inside <Limit>).",
       usage=""),
    _d("AllowUser", frozenset({LIMIT}), 1, None, p_limit_users,
       "Allow these users (inside <Limit>).", multi=True, usage="user[,user...]"),
    _d("DenyUser", frozenset({LIMIT}), 1, None, p_limit_users,
       "Deny these users (inside <Limit>).", multi=True, usage="user[,user...]"),
    _d("AllowGroup", frozenset({LIMIT}), 1, None, p_limit_users,
       "Allow these groups (inside <Limit>).", multi=True, usage="group[,group...]"),
    _d("DenyGroup", frozenset({LIMIT}), 1, None, p_limit_users,
       "Deny these groups (inside <Limit>).", multi=True, usage="group[,group...]"),
    _d("Order", frozenset({LIMIT}), 1, 2, p_order,
       "allow,deny (default: an Allow match wins) or deny,allow.", usage="allow,deny|deny,allow"),
    _d("<IfModule>", _ANY, 1, 1, p_ignored,
       "Read the body only if ftpredis provides (or, with !, lacks) the module.",
       section=True, reader=True, usage="[!]mod_name.c"),
    _d("<IfDefine>", _ANY, 1, 1, p_ignored,
       "Read the body only if NAME is (or, with !, is not) defined by Define or -D.",
       section=True, reader=True, usage="[!]NAME"),
    _d("Define", _ANY, 1, None, p_ignored,
       "Define a name for <IfDefine>.", reader=True, multi=True, usage="NAME"),
    _d("Include", _ANY, 1, 1, p_ignored,
       "Read a file, every file of a directory (sorted) or a glob pattern's matches; "
       "a relative path is taken from the including file's directory.",
       reader=True, multi=True, usage="path|pattern"),
    _d("IncludeOptions", _ANY, 1, None, p_ignored,
       "IgnoreTempFiles (skip *~ and *.sw?), AllowSymlinks (allow symlinked directories).",
       reader=True, multi=True, usage="option..."),

    # -- servers ----------------------------------------------------------------------
    _d("ServerName", _SV, 1, 1, p_word, "The server's name (%v).", usage='"name"'),
    _d("ServerIdent", _SVG, 1, 2, p_server_ident,
       "Whether the banner names the server, and with which text.", usage='on|off ["text"]'),
    _d("Port", _SV, 1, 1, p_port, "TCP port (default 21; 0 disables the server).",
       usage="0-65535"),
    _d("DefaultAddress", _S, 1, None, p_words,
       "Addresses the main server listens on (default: all).", usage="address..."),
    _d("MasqueradeAddress", _SV, 1, 1, p_word,
       "Address announced in PASV replies.", usage="address"),
    _d("PassivePorts", _SVG, 2, 2, p_passive_ports,
       "Port range for passive data connections.", usage="min max"),
    _d("MaxClients", _SVGA, 1, 2, p_max_clients,
       "Most simultaneous sessions (none = no limit).", usage="N|none"),
    _d("MaxClientsPerHost", _SVGA, 1, 2, p_max_clients,
       "Most simultaneous sessions from one client address.", usage="N|none"),
    _d("MaxClientsPerUser", _SVG, 1, 2, p_max_with_message,
       "Most simultaneous logins of one user; the 530 text may be given (%m = N).",
       usage='N|none ["message"]'),
    _d("MaxConnectionsPerHost", _SVG, 1, 2, p_max_with_message,
       "Most simultaneous connections from one client address, refused before the "
       "banner; the 530 text may be given (%m = N).", usage='N|none ["message"]'),
    _d("RootLogin", _SVG, 1, 1, p_bool,
       "Whether a uid 0 user may log in (default off).", usage="on|off"),
    _d("AnonRejectPasswords", frozenset({ANON}), 1, 1, p_anon_reject_passwords,
       "Refuse anonymous logins whose password (e-mail address) matches the regex "
       "(with !, does not match).", usage="[!]regex"),
    _d("MaxLoginAttempts", _SVG, 1, 1, p_positive,
       "Failed logins before the session is closed (default 3).", usage="N"),
    _d("CommandBufferSize", _SVG, 1, 1, p_command_buffer_size,
       "Longest command line accepted, in bytes (default 4096, what ProFTPD 1.3.8 "
       "accepts); longer lines are refused without being buffered.", usage="bytes"),
    _d("TimeoutIdle", _SVG, 1, 1, p_nonneg, "Seconds of idle control connection "
       "(default 600; 0 = none).", usage="seconds"),
    _d("TimeoutLogin", _SVG, 1, 1, p_nonneg, "Seconds allowed to log in (default 300).",
       usage="seconds"),
    _d("TimeoutNoTransfer", _SVG, 1, 1, p_nonneg,
       "Seconds logged in without a transfer (default 300).", usage="seconds"),
    _d("TimeoutStalled", _SVG, 1, 1, p_nonneg,
       "Seconds a data transfer may stall (default 3600).", usage="seconds"),
    _d("User", _SVGA, 1, 1, p_word,
       "The account the server runs as; in <Anonymous>, the anonymous account.",
       usage="name"),
    _d("Group", _SVGA, 1, 1, p_word,
       "The group the server runs as; in <Anonymous>, the anonymous group.", usage="name"),
    _d("UserAlias", frozenset({ANON}), 2, 2, p_user_alias,
       "A login name that maps to the <Anonymous> User.", multi=True, usage="alias user"),

    # -- authentication and file system -----------------------------------------------
    _d("AuthUserFile", _SVG, 1, 1, p_path,
       "ftpasswd-format user file, read and checked when the config is loaded.",
       usage="path"),
    _d("AuthGroupFile", _SVG, 1, 1, p_path,
       "Group file, read and checked when the config is loaded.", usage="path"),
    _d("AuthFileOptions", _SVG, 1, None, p_auth_file_options,
       "InsecurePerms: accept auth files others can read or write.", usage="InsecurePerms"),
    _d("DefaultRoot", _SVG, 1, None, p_default_root,
       "Jail users in ~ (their home) or an absolute path.", usage="~|path"),
    _d("RequireValidShell", _SVG, 1, 1, p_bool,
       "Refuse users whose shell is not in /etc/shells (default on).", usage="on|off"),
    _d("CreateHome", _SVG, 1, None, p_create_home,
       "Create a missing home directory at login, with the given mode (default 700).",
       usage="on|off [mode]"),
    _d("Umask", _SVGAD, 1, 2, p_umask, "Umask for new files and directories (default 022).",
       merge_down=True, usage="octal"),
    _d("AllowOverwrite", _SVGAD, 1, 1, p_bool, "Whether uploads may replace files "
       "(default off).", merge_down=True, usage="on|off"),
    _d("AllowStoreRestart", _SVG, 1, 1, p_bool, "Whether APPE and REST before STOR "
       "are allowed (default off).", usage="on|off"),
    _d("AllowRetrieveRestart", _SVG, 1, 1, p_bool, "Whether REST before RETR is allowed "
       "(default on).", usage="on|off"),
    _d("AllowForeignAddress", _SVGA, 1, 1, p_bool, "Whether PORT/EPRT may name another "
       "host than the client's (default off; ports below 1024 are always refused).",
       usage="on|off"),
    _d("HideFiles", frozenset({DIR, ANON}), 1, None, p_hide_files,
       "Regular expression: matching names are left out of listings and refused as "
       "not existing.", usage="regex|none"),
    _d("DisplayLogin", _SVGA, 1, 1, p_path, "File whose lines are sent with the 230 "
       "reply.", usage="path"),

    # -- logging ----------------------------------------------------------------------
    _d("AllowLogSymlinks", _SVG, 1, 1, p_bool,
       "Whether RedisLog may be a symlink.", usage="on|off"),
    _d("LogFormat", _SVG, 2, None, p_log_format,
       "A named format; server-level and <Global> names are visible everywhere, a "
       "<VirtualHost> one only inside it.", multi=True,
       usage='name "format"'),
    _d("RedisEngine", _SVG, 1, 1, p_bool, "Whether anything is logged to Redis.",
       usage="on|off"),
    _d("RedisLog", _SVG, 1, 1, p_redis_log, "File for Redis errors, or none.",
       usage="path|none"),
    _d("RedisServer", _SVG, 1, None, p_redis_server,
       "The Redis server: host[:port], [v6]:port or /unix/path, then password, or user "
       "and password, then db index, and ssl options.",
       usage="server [[user] password] [db] [ssl:bool] [ssl-ca:..] [ssl-cert:..] "
             "[ssl-key:..]"),
    _d("RedisSentinel", _SVG, 1, None, p_redis_sentinel,
       "Sentinels (default port 26379) asked for the master, in order.",
       usage="host[:port]... [master name] [ssl options]"),
    _d("RedisTimeouts", _SVG, 2, 2, p_redis_timeouts,
       "Connect and IO timeouts in milliseconds (default 500 500).", extra_ignored=True,
       usage="connect-ms io-ms"),
    _d("RedisOptions", _SVG, 0, None, p_redis_options,
       "NoReconnect: give up after the first Redis failure.", multi=True,
       usage="NoReconnect"),
    _d("RedisBufferSize", _SVG, 1, 1, p_positive,
       "Records kept while Redis is unreachable (default 100000).", usage="N"),
    _d("RedisLogOnCommand", _SVGAD, 0, None, p_log_on_command,
       "Log the listed commands (or ALL, CONNECT, DISCONNECT) with a LogFormat.",
       multi=True, merge_down=True, usage="none|cmd,cmd... format [key]"),
    _d("RedisLogOnEvent", _SVGAD, 0, None, p_log_on_event,
       "Log the listed commands or event classes with a LogFormat.",
       multi=True, merge_down=True, usage="none|event,event... format [key]"),
    _d("RedisLogFormatExtra", _SVGAD, 2, 2, p_format_extra,
       "Extra JSON members added to every record of a LogFormat.",
       multi=True, merge_down=True, extra_ignored=True, usage="format {json}"),

    # -- mod_ban (ftpredis.ban.bans) -------------------------------------------------------
    _d("BanEngine", _SVG, 1, 1, p_bool, "Whether bans are enforced and BanOnEvent rules "
       "apply.", usage="on|off"),
    _d("BanTable", _S, 1, 1, p_ban_table,
       "Required with BanEngine on (ProFTPD's shared-memory file); ftpredis keeps the "
       "local table in memory and only checks the directory.", usage="path"),
    _d("BanCache", _S, 1, 1, p_ban_cache,
       "redis: ban entries are also kept in the Redis of RedisServer, so every node "
       "sharing it enforces them.", usage="redis"),
    _d("BanCacheOptions", _S, 1, None, p_ban_cache_options,
       "UseJSON (entries are JSON; ftpredis always writes JSON), MatchServer (a cached "
       "ban applies only to the server address and port that added it).",
       usage="UseJSON|MatchServer..."),
    _d("BanOptions", _S, 1, None, p_ban_options,
       "MatchAnyServer: a local ban applies to every server, not only the one that "
       "added it.", usage="MatchAnyServer"),
    _d("BanMessage", _SVG, 1, 1, p_word,
       "Sent as a 530 reply to a banned client; %a client address, %c class, %u user.",
       usage='"message"'),
    _d("BanLog", _S, 1, 1, p_path, "File where bans and ban events are logged "
       "(RedisLog's path checks).", usage="path"),
    _d("BanOnEvent", _SVG, 3, 4, p_ban_on_event,
       "Ban the client (host, user or user@host, by event) when the event happens count "
       "times within hh:mm:ss, for hh:mm:ss.", multi=True,
       usage='event count/hh:mm:ss hh:mm:ss ["message"]'),
    _d("MaxCommandRate", _SVG, 1, 2, p_max_command_rate,
       "More than count commands within the interval (seconds, default 1) is a "
       "MaxCommandRate event for BanOnEvent.", usage="count [seconds]"),
    _noop("BanControlsACLs", _S, "No ftpdctl; use ftpredis-ban."),

    # -- mod_tls (ftpredis.tls.ftps) -------------------------------------------------------
    _d("TLSEngine", _SVG, 1, 1, p_bool, "Whether AUTH TLS (FTPS) is offered.", usage="on|off"),
    _d("TLSProtocol", _SVG, 1, None, p_tls_protocol,
       "TLS versions accepted (default TLSv1.2 TLSv1.3).", usage="TLSv1.2 TLSv1.3|ALL ..."),
    _d("TLSRSACertificateFile", _SVG, 1, 1, p_tls_certificate,
       "PEM server certificate with an RSA key (more certificates after it form the "
       "chain); read when the config is loaded.", usage="path"),
    _d("TLSRSACertificateKeyFile", _SVG, 1, 1, p_tls_key,
       "Its private key (unencrypted PEM); must match the certificate.", usage="path"),
    _d("TLSECCertificateFile", _SVG, 1, 1, p_tls_certificate,
       "PEM server certificate with an EC key (served beside the RSA one).", usage="path"),
    _d("TLSECCertificateKeyFile", _SVG, 1, 1, p_tls_key,
       "Its private key (unencrypted PEM); must match the certificate.", usage="path"),
    _d("TLSCertificateChainFile", _SVG, 1, 1, p_tls_certificate,
       "Intermediate certificates sent after the server certificate.", usage="path"),
    _d("TLSCACertificateFile", _SVG, 1, 1, p_tls_certificate,
       "CA certificates client certificates are verified against.", usage="path"),
    _d("TLSVerifyClient", _SVG, 1, 1, p_tls_verify_client,
       "Ask for (optional) or require (on) a client certificate.",
       usage="on|off|optional"),
    _d("TLSRequired", _SVG, 1, 1, p_tls_required,
       "Where TLS is required: off, on (control and data), ctrl, data, auth (USER/PASS), "
       "auth+data.", usage="off|on|ctrl|data|auth|auth+data"),
    _d("TLSCipherSuite", _SVG, 1, 2, p_tls_cipher_suite,
       "OpenSSL cipher list (TLSv1.2), or TLSv1.3 and its cipher suites.",
       usage="[TLSv1.3] ciphers"),
    _d("TLSOptions", _SVG, 1, None, p_tls_options,
       "NoSessionReuseRequired (data connections need not resume the control session), "
       "AllowClientRenegotiations; other mod_tls options are accepted without effect.",
       usage="option..."),
    _d("TLSTimeoutHandshake", _SVG, 1, 1, p_nonneg,
       "Seconds a TLS handshake may take (default 300; 0 = no limit).", usage="seconds"),
    _d("TLSLog", _SVG, 1, 1, p_tls_log, "File for mod_tls messages, or none.",
       usage="path|none"),
    _d("TLSSessionCache", _SVG, 1, 2, p_tls_session_cache,
       "Accepted; redis: cannot share sessions between processes with this TLS stack "
       "(a warning says why); sessions are cached per process.",
       usage="redis:|internal:|off [timeout]"),

    # -- accepted for compatibility, no effect ----------------------------------------
    _noop("ServerType", _S, "Always standalone."),
    _noop("DefaultServer", _SV, "Connections go to the server owning the address."),
    _noop("ScoreboardFile", _S, "No scoreboard."),
    _noop("PidFile", _S, "Use twistd --pidfile."),
    _noop("WtmpLog", _SVGA, "No wtmp records."),
    _noop("UseIPv6", _S, "IPv6 follows the addresses given."),
    _noop("SocketBindTight", _S, "Each server binds its own addresses."),
    _noop("UseReverseDNS", _S, "Never: %h is the client address."),
    _noop("IdentLookups", _SVG, "Never done."),
    _noop("MaxInstances", _S, "No limit on processes (one process)."),
    _d("ServerWorkers", _S, 1, 1, p_positive,
       "Processes accepting connections on the shared listening sockets, each with its "
       "own Redis sink (ftpredis; default 1 = no worker processes).", usage="N"),
    _d("BusyPoll", _S, 1, 1, p_busy_poll,
       "Microseconds the server keeps polling for more work after a busy turn before it "
       "sleeps; adaptive, it shrinks while polling finds nothing (ftpredis; default %d; "
       "off = 0: always sleep at once)." % DEFAULT_BUSY_POLL_US, usage="MICROSECONDS|off"),
    _noop("SystemLog", _S, "Use twistd --logfile / --syslog."),
    _noop("TransferLog", _SVGA, "No xferlog."),
    _noop("ExtendedLog", _SVGA, "No ExtendedLog files; use RedisLogOn*."),
    _noop("DeferWelcome", _SVG, "The banner never names the server before login."),
    _noop("ModulePath", _S, "No loadable modules."),
    _noop("LoadModule", _S, "Accepted for modules ftpredis provides, an error for others.",
          parse=p_load_module),
    _noop("TraceLog", _S, "Use twistd logging."),
    _noop("Trace", _SVG, "Use twistd logging."),
    _noop("DebugLevel", _SVG, "Use twistd logging."),
)

#: Lower-cased name -> entry (directive names are case-insensitive).
BY_NAME: Dict[str, Directive] = {d.name.lower(): d for d in TABLE}


def lookup(name: str) -> Optional[Directive]:
    return BY_NAME.get(name.lower())


def _contexts_text(contexts) -> str:
    order = [(SERVER, "server config"), (VHOST, "VirtualHost"), (GLOBAL, "Global"),
             (ANON, "Anonymous"), (DIR, "Directory"), (LIMIT, "Limit")]
    return ", ".join(label for ctx, label in order if ctx in contexts)


def _rst(text: str) -> str:
    # Backslash-escape what RST would read as markup.
    return re.sub(r"([\\`*_|<>])", r"\\\1", text) if text else ""


def directive_reference() -> str:
    """Every directive of :data:`TABLE` as an RST ``list-table``."""
    out = [".. list-table:: ftpredis configuration directives",
           "   :header-rows: 1",
           "   :widths: 18 24 20 8 8 8 40",
           "",
           "   * - Directive",
           "     - Arguments",
           "     - Contexts",
           "     - Repeats",
           "     - Merges down",
           "     - Effect",
           "     - Description"]
    for d in TABLE:
        out.append("   * - ``%s``" % d.name)
        out.append("     - %s" % (("``%s``" % d.usage) if d.usage else "(none)"))
        out.append("     - %s" % _contexts_text(d.contexts))
        out.append("     - %s" % ("yes" if d.multi else "no"))
        out.append("     - %s" % ("yes" if d.merge_down else "no"))
        out.append("     - %s" % ("yes" if d.effect else "none (warning)"))
        out.append("     - %s" % _rst(d.doc))
    return "\n".join(out) + "\n"


REFERENCE_HEAD = """Configuration directives
========================

This page is generated from the directive table in ``ftpredis/config/directives.py``
(the same table that drives parsing, validation and ``--check``); regenerate it with::

    python3 -m ftpredis.config > doc/directives.rst

"Effect: no" marks directives ProFTPD has that ftpredis accepts with a warning and
ignores.

"""


def reference_page() -> str:
    """doc/directives.rst, whole."""
    return REFERENCE_HEAD + directive_reference()
