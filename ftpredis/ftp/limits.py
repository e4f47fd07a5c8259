# -*- test-case-name: tests.test_ftpcommands -*-
"""ProFTPD's ``<Limit>`` access rules, evaluated for one command on one path.

This module owns the decision "may this user run this command here": which ``<Limit>``
sections apply (the innermost ``<Directory>`` holding the path first, then enclosing
directories, the ``<Anonymous>`` section of an anonymous session, then the server), which
section within a context wins (one naming the command before one naming its group, before
``ALL``), and how one section decides (ProFTPD's default ``Order allow,deny``: an
AllowUser/AllowGroup match allows, then a DenyUser/DenyGroup match denies, then
AllowAll/DenyAll).  A section that decides nothing passes the question outwards; when no
section decides, the command is allowed.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

from ftpredis.config import dirmatch

#: ProFTPD's command groups (mod_core's Limit documentation, checked against 1.3.8:
#: RNFR is refused by both <Limit WRITE> and <Limit DIRS>).
GROUPS = {
    "DIRS": frozenset("CDUP CWD LIST MDTM MLSD MLST NLST PWD RNFR STAT".split()),
    "READ": frozenset("RETR SIZE".split()),
    "WRITE": frozenset("APPE DELE MKD MFMT RMD RNFR RNTO STOR STOU SITE_CHMOD".split()),
}
#: Commands no <Limit ALL> can take away (the session could not even end).
NEVER_LIMITED = frozenset({"QUIT", "USER", "PASS"})


def _groups_of(verb: str):
    return [g for g, members in GROUPS.items() if verb in members]


def _check(limit, user: Optional[str], groups: frozenset) -> Optional[bool]:
    allow = deny = False
    allow_all = deny_all = False
    for directive, names in limit.rules:
        if directive == "AllowAll":
            allow_all = True
        elif directive == "DenyAll":
            deny_all = True
        elif directive == "AllowUser":
            allow = allow or (user is not None and user in names)
        elif directive == "DenyUser":
            deny = deny or (user is not None and user in names)
        elif directive == "AllowGroup":
            allow = allow or bool(groups.intersection(names))
        elif directive == "DenyGroup":
            deny = deny or bool(groups.intersection(names))
    if limit.order == "deny,allow":
        if deny:
            return False
        if allow:
            return True
    else:
        if allow:
            return True
        if deny:
            return False
    if deny_all:
        return False
    if allow_all:
        return True
    return None


def decide_in(limits: Sequence, verb: str, user: Optional[str],
              groups: frozenset) -> Optional[bool]:
    """The decision of one context's ``<Limit>`` sections (None: no decision)."""
    if not limits:
        return None
    tiers = [lambda c: verb in c]
    for g in _groups_of(verb):
        tiers.append(lambda c, g=g: g in c)
    if verb not in NEVER_LIMITED and verb != "LOGIN":
        tiers.append(lambda c: "ALL" in c)
    for matches in tiers:
        for limit in limits:
            if matches(limit.commands):
                r = _check(limit, user, groups)
                if r is not None:
                    return r
    return None


def contexts_for(server, anonymous, real: Optional[str]) -> list:
    """The ``<Limit>`` lists that may decide for ``real``, innermost first."""
    dirs = list(server.directories)
    if anonymous is not None:
        dirs = list(anonymous.directories) + dirs
    out = [d.limits for d in dirmatch.applicable(dirs, real) if d.limits]
    if anonymous is not None and anonymous.limits:
        out.append(anonymous.limits)
    if server.limits:
        out.append(server.limits)
    return out


def decision(server, anonymous, verb: str, real: Optional[str], user: Optional[str],
             groups: Iterable[str] = ()) -> Optional[bool]:
    """True/False when a ``<Limit>`` decides for ``verb`` on ``real``; None when none does."""
    gs = frozenset(g for g in groups if g)
    for limits in contexts_for(server, anonymous, real):
        r = decide_in(limits, verb, user, gs)
        if r is not None:
            return r
    return None


def allowed(server, anonymous, verb: str, real: Optional[str], user: Optional[str],
            groups: Iterable[str] = ()) -> bool:
    """Whether ``user`` may run ``verb`` on the real path ``real`` (None: no path)."""
    return decision(server, anonymous, verb, real, user, groups) is not False


def is_write(verb: str) -> bool:
    return verb in GROUPS["WRITE"]


def has_limits(server) -> bool:
    if server.limits:
        return True
    for d in server.directories:
        if d.limits:
            return True
    for a in server.anonymous:
        if a.limits or any(d.limits for d in a.directories):
            return True
    return False


def hide_pattern(server, anonymous, real_dir: str) -> Optional[str]:
    """The HideFiles regex in force for entries of the real directory ``real_dir``."""
    dirs = list(server.directories)
    if anonymous is not None:
        dirs = list(anonymous.directories) + dirs
    pattern = dirmatch.dir_setting(dirs, real_dir, "hide_files", None)
    if pattern is None and anonymous is not None:
        pattern = anonymous.hide_files
    return pattern
