# -*- test-case-name: tests.test_config -*-
"""Directive argument parsing, the common part: contexts, errors and the plain parsers.

This module owns what every argument parser shares: the context names as ProFTPD's
messages spell them, :class:`DirectiveError` and :class:`ParseContext` (how a parser
reports a problem or a warning against its line), and the parsers of plain values
(booleans, numbers, paths, words) and of the server, file system and login directives.
The table that names which directive uses which parser is :mod:`ftpredis.config.directives`.
"""

from __future__ import annotations

import os
import posixpath
import re
from typing import List, Optional

from ftpredis.config.model import ListOptions, Source
from ftpredis.config.syntax import PROVIDED_MODULES


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


def p_display_path(args, ctx):
    """An absolute path, or a relative one kept as it is: mod_auth reads a relative
    DisplayLogin from the session's first directory, not the config's."""
    if not args[0]:
        raise DirectiveError("empty path")
    return p_path(args, ctx) if args[0].startswith("/") else args[0]


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


def p_max_instances(args, ctx):
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
    """A module ftpredis does not provide is accepted with a warning, for Debian's
    modules.conf; ftpredis.config.syntax refuses its directives and <IfModule> blocks
    that do more than turn it off."""
    name = args[0]
    if not re.fullmatch(r"mod_.+\.(c|cpp)", name):
        # mod_dso's dso_load_module() wants the source file's name
        raise DirectiveError("error loading module '%s': %s" % (name, os.strerror(22)))
    if name not in PROVIDED_MODULES:
        ctx.warn("ftpredis does not provide %s: its directives and <IfModule> blocks "
                 "are refused unless they only turn it off" % name)
    return None


#: The ls options mod_ls 1.3.8 knows, all of which ftpredis's listings implement
#: (ftpredis.ftp.lsoptions; -B changes nothing in a build with NLS, as in 1.3.8's).
LS_OPTIONS = frozenset("1aAdFlRBCchLnrStUu")
_LIST_FLAGS = {"listonly": "list_only", "nlstonly": "nlst_only",
               "noerrorifabsent": "no_error_if_absent", "sortednlst": None,
               "adjustedsymlinks": None, "noadjustedsymlinks": None}


def _list_limit(args, i: int, what: str) -> int:
    if i >= len(args):
        raise DirectiveError("%s needs a number after it" % what)
    word = args[i]
    m = re.match(r"[ \t]*[+-]?[0-9]+", word)       # mod_ls reads it with atoi(3)
    if (int(m.group()) if m else 0) < 1:
        raise DirectiveError("%s must be greater than 0: '%s'" % (what, word))
    if not re.fullmatch(r"[0-9]+", word):
        raise DirectiveError("bad %s '%s': expected a number" % (what, word))
    return int(word)


def p_list_options(args, ctx):
    """``ListOptions options [strict] [maxdepth N] [maxfiles N] [maxdirs N] [LISTOnly]
    [NLSTOnly] [NoErrorIfAbsent] [SortedNLST] [AdjustedSymlinks]`` (mod_ls's
    set_listoptions: keywords in any order and case)."""
    options = args[0]
    words = options.split()
    if words and not words[0].startswith(("-", "+")):
        ctx.warn("'%s' starts with neither '-' nor '+', so mod_ls reads no option from it"
                 % options)
    for word in words:
        if word[:1] not in "-+":
            break
        for letter in word[1:]:
            if not letter.isalnum():
                break
            if letter not in LS_OPTIONS:
                ctx.warn("option '%s%s' is not one mod_ls knows; ignored" % (word[0], letter))
    kw = {}
    i = 1
    while i < len(args):
        key = args[i].lower()
        if key == "strict":
            kw["strict"] = True
        elif key in ("maxdepth", "maxfiles", "maxdirs"):
            i += 1
            kw["max_" + key[3:]] = _list_limit(args, i, key)
        elif key in _LIST_FLAGS:
            if _LIST_FLAGS[key] is not None:
                kw[_LIST_FLAGS[key]] = True
            elif key == "adjustedsymlinks":
                ctx.warn("AdjustedSymlinks has no effect in ftpredis: a link's target is "
                         "listed as it is stored")
            # SortedNLST: ftpredis always sends NLST sorted
        else:
            raise DirectiveError("unknown keyword: '%s'" % args[i])
        i += 1
    return ListOptions(options, source=ctx.source, **kw)
