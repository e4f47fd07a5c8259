# -*- test-case-name: tests.test_config -*-
"""Directive argument parsing for sections and access rules.

This module owns the arguments of the section directives (``<VirtualHost>``,
``<Global>``, ``<Anonymous>``, ``<Directory>``, ``<Limit>``) and of what stands inside a
``<Limit>`` (AllowUser, DenyGroup, Allow/Deny through :mod:`ftpredis.config.netacl`, Order...) or narrows a directory (HideFiles): which
commands and classes a ``<Limit>`` may name and how a section path is normalised.
"""

from __future__ import annotations

import posixpath
import re

from ftpredis.config import netacl
from ftpredis.config.args_core import DirectiveError



#: The context of From and Satisfy, spelt as the errors spell contexts.
CLASS = "<Class>"

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


def p_allow_deny(args, ctx):
    """``Allow``/``Deny [from] all|none|host|network[,...]``: one line's rules."""
    try:
        acls = netacl.parse_list(args, ctx.name)
    except netacl.AclError as e:
        raise DirectiveError(str(e))
    for acl in acls:
        if acl.negated and acl.kind != netacl.DNSGLOB:
            ctx.warn("'%s': in ProFTPD 1.3.8 a negated entry makes this <Limit>'s %s lines "
                     "never match (ftpredis does the same); list the addresses to match"
                     % (acl.text, ctx.name))
        elif acl.kind in (netacl.DNSMATCH, netacl.DNSGLOB):
            ctx.warn("'%s' is a host name: it never matches (ftpredis resolves no names, "
                     "as ProFTPD with UseReverseDNS off)" % acl.text)
        elif acl.kind == netacl.IPMASK and acl.text.endswith("/"):
            ctx.warn("'%s': an empty mask length reads as /0 (every address)" % acl.text)
    return acls


def p_class(args, ctx):
    if not args[0]:
        raise DirectiveError("empty class name")
    return args[0]


def p_from(args, ctx):
    """``From all|none|host|network[,...]`` inside ``<Class>``."""
    try:
        acls = netacl.parse_from(args)
    except netacl.AclError as e:
        raise DirectiveError(str(e))
    for acl in acls:
        if acl.kind in (netacl.DNSMATCH, netacl.DNSGLOB):
            ctx.warn("'%s' is a host name: it never matches (ftpredis resolves no names, "
                     "as ProFTPD with UseReverseDNS off)" % acl.text)
    return acls


def p_satisfy(args, ctx):
    word = args[0].lower()
    if word not in ("any", "all"):
        raise DirectiveError("invalid parameter: %s" % args[0])
    return word


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


def p_command_filter(args, ctx):
    """AllowFilter/DenyFilter: ``regex [flags]``, ``[NC]`` making it case-insensitive
    (mod_core's POSIX extended expression, applied to every command's argument)."""
    nocase = False
    if len(args) == 2:
        flags = args[1].strip()
        if not (flags.startswith("[") and flags.endswith("]")):
            raise DirectiveError("badly formatted flags parameter: '%s'" % args[1])
        words = [w.strip().upper() for w in flags[1:-1].split(",")]
        if not words or any(w != "NC" for w in words):
            raise DirectiveError("unknown filter flags '%s'" % args[1])
        nocase = True
    try:
        return re.compile(args[0], re.IGNORECASE if nocase else 0)
    except re.error as e:
        raise DirectiveError("'%s' is not a valid regular expression: %s" % (args[0], e))


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
