# -*- test-case-name: tests.test_ftpcommands,tests.test_netacl,tests.test_acl -*-
"""ProFTPD's ``<Limit>`` access rules, evaluated for one command on one path.

This module owns the decision "may this user run this command here": which ``<Limit>``
sections apply (the innermost ``<Directory>`` holding the path first, then enclosing
directories, the ``<Anonymous>`` section of an anonymous session, then the server), which
section within a context wins (one naming the command before one naming its group, before
``ALL``), and how one section decides, as ProFTPD 1.3.8's src/dirtree.c check_limit()
does: under the default ``Order allow,deny`` an AllowUser/AllowGroup/AllowClass/Allow/
AllowAll match allows, else a DenyAll/DenyUser/DenyGroup/DenyClass/Deny match denies, else the section decides
nothing; under ``Order deny,allow`` the deny side is asked first and a section matching
neither denies.  A section that decides nothing passes the question outwards; when no
section decides, the command is allowed.  ``<Limit LOGIN>`` is asked twice, as ProFTPD
asks it: when a client connects (:func:`connect_allowed`, from its address alone) and at
PASS.  The client address is a parameter (the session's ``peer_host``), so the FTP and
SFTP front ends share these decisions.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

from twisted.logger import Logger

from ftpredis.config import dirmatch, netacl

_log = Logger()

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


def _lines(limit, directive: str) -> list:
    return [value for d, value in limit.rules if d == directive]


def _explicit_allow(limit, user, groups, addr, cls=None) -> bool:
    """check_limit_allow(): AllowUser, AllowGroup, AllowClass, Allow, AllowAll.  Before login (user
    or groups None) a mere AllowUser/AllowGroup line allows, as in ProFTPD."""
    users = _lines(limit, "AllowUser")
    if users and (user is None or any(user in names for names in users)):
        return True
    group_lines = _lines(limit, "AllowGroup")
    if group_lines and (groups is None or any(groups.intersection(g) for g in group_lines)):
        return True
    if cls is not None and any(cls in names for names in _lines(limit, "AllowClass")):
        return True
    if addr is not None and netacl.access(_lines(limit, "Allow"), addr):
        return True
    return bool(_lines(limit, "AllowAll"))


def _explicit_deny(limit, user, groups, addr, cls=None) -> bool:
    """check_limit_deny(): DenyAll, DenyUser, DenyGroup, DenyClass, Deny (users and
    groups only once they are known)."""
    if _lines(limit, "DenyAll"):
        return True
    if user is not None and any(user in names for names in _lines(limit, "DenyUser")):
        return True
    if groups is not None and any(groups.intersection(g) for g in _lines(limit, "DenyGroup")):
        return True
    if cls is not None and any(cls in names for names in _lines(limit, "DenyClass")):
        return True
    return addr is not None and netacl.access(_lines(limit, "Deny"), addr)


def _check(limit, user: Optional[str], groups: Optional[frozenset],
           addr=None, cls: Optional[str] = None) -> Optional[bool]:
    """check_limit(): True (explicit allow), False (explicit or, under ``Order
    deny,allow``, implicit deny) or None (no decision: the question goes outwards)."""
    if limit.order == "deny,allow":
        if _explicit_deny(limit, user, groups, addr, cls):
            return False
        return _explicit_allow(limit, user, groups, addr, cls)  # False: implicit deny
    if _explicit_allow(limit, user, groups, addr, cls):
        return True
    if _explicit_deny(limit, user, groups, addr, cls):
        return False
    return None


def _login_limits(limits) -> list:
    return [lim for lim in limits if "LOGIN" in lim.commands]


def _login_and(limits, user, groups, addr, cls=None):
    """login_check_limits() in its AND mode: (allowed, found) over every ``<Limit
    LOGIN>`` of one context; any one that refuses refuses."""
    found = 0
    for limit in _login_limits(limits):
        r = _check(limit, user, groups, addr, cls)
        if r is not None:
            found += 1
        if r is False:
            return False, found
    return True, found


def _login_or(limits, addr, cls=None):
    """login_check_limits() in its OR mode, before USER: (allowed, found)."""
    res, found = False, 0
    for limit in _login_limits(limits):
        r = _check(limit, None, None, addr, cls)
        if r is not None:
            found += 1
        if r is True:
            res = True
    return res, found


def class_of(server, addr: Optional[str]) -> Optional[str]:
    """The name of the first ``<Class>`` the client address satisfies, or None."""
    return netacl.class_of(server.classes, netacl.client_address(addr))


def connect_allowed(server, addr: Optional[str]) -> bool:
    """Whether the ``<Limit LOGIN>`` sections let a client from ``addr`` connect at all
    (ProFTPD's check as a session starts: its src/main.c drops the connection, before
    the banner, when some ``<Limit LOGIN>`` decides and none allows; an ``<Anonymous>``
    one is asked only then)."""
    if not server.limits or not any("LOGIN" in lim.commands for lim in server.limits):
        # No server-wide <Limit LOGIN> decides, so no <Anonymous> one is asked: the
        # usual case needs no parse of the address.
        return True
    a = netacl.client_address(addr)
    cls = netacl.class_of(server.classes, a)
    res, found = _login_or(server.limits, a, cls)
    if not res and found:
        for anon in server.anonymous:
            rres, rfound = _login_or(anon.limits, a, cls)
            if rfound:
                res = res or rres
            found += rfound
            if res:
                break
    if not found:
        return True
    return res


def _login_decision(server, anonymous, user, groups, addr, cls) -> Optional[bool]:
    """mod_auth's check at PASS: the server's ``<Limit LOGIN>`` sections, and for an
    anonymous login its ``<Anonymous>`` ones (which, when they decide, overrule)."""
    aclp, _ = _login_and(server.limits, user, groups, addr, cls)
    if anonymous is not None:
        ok, found = _login_and(anonymous.limits, user, groups, addr, cls)
        if not ok or (not aclp and not found):
            return False
        return True if found else (None if aclp else False)
    return None if aclp else False


def decide_in(limits: Sequence, verb: str, user: Optional[str],
              groups: frozenset, addr=None, cls: Optional[str] = None,
              group: Optional[str] = None) -> Optional[bool]:
    """The decision of one context's ``<Limit>`` sections (None: no decision).
    ``group``: the command group asked after ``verb`` (dir_check()'s argument), for a
    verb that belongs to none (mod_sftp's HARDLINK); else the verb's own groups."""
    if not limits:
        return None
    tiers = [lambda c: verb in c]
    for g in ([group] if group else _groups_of(verb)):
        tiers.append(lambda c, g=g: g in c)
    if verb not in NEVER_LIMITED and verb != "LOGIN":
        tiers.append(lambda c: "ALL" in c)
    for matches in tiers:
        for limit in limits:
            if matches(limit.commands):
                r = _check(limit, user, groups, addr, cls)
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
             groups: Iterable[str] = (), addr: Optional[str] = None,
             group: Optional[str] = None) -> Optional[bool]:
    """True/False when a ``<Limit>`` decides for ``verb`` on ``real``; None when none does.
    ``addr`` is the client's address as the session knows it (behind the PROXY protocol
    the proxied client's), the one ``Allow``/``Deny`` judge; ``LOGIN`` is decided as
    ProFTPD decides it at PASS."""
    gs = frozenset(g for g in groups if g)
    a = netacl.client_address(addr)
    cls = netacl.class_of(server.classes, a)
    if verb == "LOGIN":
        return _login_decision(server, anonymous, user, gs, a, cls)
    for limits in contexts_for(server, anonymous, real):
        r = decide_in(limits, verb, user, gs, a, cls, group)
        if r is not None:
            return r
    return None


def allowed(server, anonymous, verb: str, real: Optional[str], user: Optional[str],
            groups: Iterable[str] = (), addr: Optional[str] = None,
            group: Optional[str] = None) -> bool:
    """Whether ``user`` (from ``addr``) may run ``verb`` on the real path ``real``
    (None: no path); ``group`` as for :func:`decide_in`."""
    return decision(server, anonymous, verb, real, user, groups, addr, group) is not False


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
    return dirmatch.section_setting(server, anonymous, real_dir, "hide_files")


def report_denied_connection(factory, peer_host: str, local_host: str) -> None:
    """A connection ``connect_allowed`` refused, reported as ProFTPD's src/main.c does:
    no record, one line in twistd's log and in the SystemLog; the metrics count it as
    refused with no reason (ProFTPD refuses before session.notes exists, so its "Blocked
    by <Limit LOGIN>" details never reach mod_prometheus).  ``factory`` is the FTP or
    SSH server's, with its ``system_log`` and ``count_refused`` (None when unused)."""
    line = "Connection from %s [%s] denied" % (peer_host, peer_host)
    _log.info("{client}: {line}", client=peer_host, line=line)
    system_log = getattr(factory, "system_log", None)
    if system_log is not None:
        system_log.say(line, local_host, "%s[%s]" % (peer_host, peer_host))
    count_refused = getattr(factory, "count_refused", None)
    if count_refused is not None:
        count_refused("")
