# -*- test-case-name: tests.test_protocol -*-
"""Logging in: USER and PASS, the login policies that refuse a session (MaxClients,
MaxClientsPerHost, MaxClientsPerUser, MaxConnectionsPerHost, <Limit LOGIN>), anonymous and
root names."""

from __future__ import annotations

import functools
import os
import posixpath
import time
from typing import List, Optional

from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin, UnhandledCredentials
from twisted.internet import defer, task
from twisted.python import failure

from ftpredis.auth.portal import (AnonymousLogin, IFTPRedisAvatar, LoginRefused,
                                  anonymous_section)
from ftpredis.ftp import nowait
from ftpredis.ftp import limits
from ftpredis.ftp.filesystem import FSError, JailedFS, SessionFS
from ftpredis.ftp.replies import R, Reply
from ftpredis.ftp.common import blank, log


def _raise(exc):
    raise exc


#: A LoginRefused reason of this module's own: a <Limit LOGIN> refusal.
LIMIT_LOGIN = "limit-login"


def _read_display(path: str, variables: dict) -> List[str]:
    """DisplayLogin's lines, with ProFTPD's %U %u %L %R %T %% filled in (blocking)."""
    try:
        with open(path, "rb") as f:
            text = f.read(64 * 1024).decode("utf-8", "replace")
    except OSError as e:
        log.warn("DisplayLogin {path}: {err}", path=path, err=e.strerror)
        return []
    lines = []
    for line in text.splitlines():
        for k, v in variables.items():
            line = line.replace(k, v)
        lines.append(line.replace("\r", "").replace("\x00", ""))
    return lines


def _initial_dir_file(jail, name: str) -> Optional[str]:
    """A relative DisplayLogin: the real path of ``name`` in the directory the login
    starts in (mod_auth reads it there, after the chroot), None when it is not there:
    ProFTPD shows nothing then and says nothing either (blocking)."""
    try:
        _, real = jail.resolve(posixpath.join(jail.home, name))
    except FSError:
        return None
    return real if os.path.isfile(real) else None


class _PolicyRefusal(Exception):
    """A login refused by policy (MaxClientsPerHost): not a failed login attempt."""

    def __init__(self, reply):
        Exception.__init__(self, reply)
        self.reply = reply


def _max_text(setting, default: str) -> str:
    """The refusal text of a ``Max... N ["message"]`` setting; %m is N."""
    n, message = setting
    return (message or default).replace("%m", str(n))


def _unsent(reply):
    """``reply`` logged for its command but not written: a ban already ended the session."""
    reply.sent = True
    return reply


class LoginMixin:
    """USER, PASS and the policies that refuse a login."""

    def _owner_names(self):
        # Once per server (its config is immutable), not per login: an AuthUserFile of
        # thousands of users made this a dict of thousands per login.
        found = getattr(self.factory, "owner_names", None)
        if found is None:
            s = self.server
            if s.auth_users:
                found = ({u.uid: u.name for u in s.auth_users}, dict(s.auth_groups), False)
            else:
                found = ({}, dict(s.auth_groups), True)
            self.factory.owner_names = found
        return found

    # -- login ----------------------------------------------------------------------------
    def _is_anonymous_name(self, name: str) -> bool:
        for anon in self.server.anonymous:
            if name == anon.user or name in dict(anon.user_aliases):
                return True
        return False

    def _is_root_name(self, name: str) -> bool:
        names = getattr(self.factory, "root_names", None)
        if names is None:       # once per server, not a scan of every user per login
            names = self.factory.root_names = frozenset(
                u.name for u in self.server.auth_users if u.uid == 0)
        return name in names

    def _policyRefusal(self, cmd, directive: str, user: str, reply: Reply, avatar,
                       ban_event: bool = True):
        """Refuse a login by policy ``directive`` (the reply, then the session closes).

        ProFTPD signals the directive's name as a mod_ban event (BanOnEvent) before its
        reply, unless mod_ban has no such event (``ban_event`` False: MaxClients); when
        that ban ends the session the reply is never sent.  ``avatar`` is the account
        whose password was accepted: ProFTPD has taken it on, so the records from here
        on name it (ftpredis.ftp.recording, ``refused_as``), and the session ends
        "Configured policy: Denied by <directive>" without the USER name (%U), as after
        any refused PASS.
        """
        self.refused_as = avatar
        if ban_event and self.policy_event(directive, user=user):
            raise _PolicyRefusal(_unsent(reply))

        def close():
            self.original_user = None
            self.end_reason = "Configured policy: Denied by " + directive
            self.disconnect_details = "Denied by " + directive
            self.transport.loseConnection()
        cmd.after = close
        raise _PolicyRefusal(reply)

    def _othersCounted(self, avatar, same_host: bool = False) -> int:
        """The other logged-in sessions a login limit counts against ``avatar``'s login:
        ProFTPD's mod_auth counts every logged-in session for an ordinary login but only
        those of the same account for an anonymous one, and never connections that
        have not logged in (those are MaxConnectionsPerHost's)."""
        n = 0
        for p in self.factory.instances:
            a = p.avatar
            if p is self or a is None or (avatar.anonymous and a.name != avatar.name):
                continue
            if same_host and p.peer_host != self.peer_host:
                continue
            n += 1
        return n

    def _loginLimits(self, cmd, user: str, avatar, logout) -> None:
        """MaxClientsPerHost, MaxClientsPerUser and MaxClients, in mod_auth's order, once
        the password is accepted: refuse the login (530, then close) beyond one."""
        s = self.server
        per_host = s.max_clients_per_host
        if per_host is not None and self._othersCounted(avatar, same_host=True) >= per_host[0]:
            logout()
            self._policyRefusal(cmd, "MaxClientsPerHost", user, Reply(530, _max_text(
                per_host, "Sorry, the maximum number of clients (%m) from your host are "
                "already connected.")), avatar)
        per_user = getattr(s, "max_clients_per_user", None)
        if per_user is not None:
            n = sum(1 for p in self.factory.instances if p is not self
                    and p.avatar is not None and p.avatar.name == avatar.name)
            if n >= per_user[0]:
                logout()
                self._policyRefusal(cmd, "MaxClientsPerUser", user, Reply(
                    530, _max_text(per_user, "Sorry, the maximum number of clients (%m) "
                                   "for this user are already connected.")), avatar)
        max_clients = s.max_clients
        if max_clients is not None:
            # An ordinary login counts every logged-in session: the factory's count, not
            # a scan (tests/test_conformance_behaviour.py).  mod_ban has no event for it.
            n = self._othersCounted(avatar) if avatar.anonymous else self.factory.logged_in
            if n >= max_clients[0]:
                logout()
                self._policyRefusal(cmd, "MaxClients", user, Reply(530, _max_text(
                    max_clients, "Sorry, the maximum number of allowed clients (%m) are "
                    "already connected.")), avatar, ban_event=False)

    def _overConnectionsPerHost(self) -> bool:
        """MaxConnectionsPerHost, before the banner: True when refused (closing)."""
        limit = self.server.max_connections_per_host
        n = sum(1 for p in self.factory.instances if p.peer_host == self.peer_host)
        if n <= limit[0]:
            return False
        if self.policy_event("MaxConnectionsPerHost"):
            return True
        self.end_reason = "Configured policy"
        self.disconnect_details = "Denied by MaxConnectionsPerHost"
        self.sendLine("530 " + _max_text(limit, "Sorry, the maximum number of connections "
                                         "(%m) for your host are already connected."))
        self.transport.loseConnection()
        return True

    def cmd_USER(self, cmd):
        if blank(cmd.arg):
            raise R("user_noarg")       # mod_auth's own words (measured)
        name = cmd.arg
        if self.avatar is not None:
            if name == self.original_user:
                return R("logged_in", name)
            raise R("reauth")
        policy = self.factory.policy
        if policy is not None:
            policy.check_user(self, name)
        self.client_state.user = name
        self.original_user = name
        if self._is_anonymous_name(name):
            return R("anon_user_ok")
        # ProFTPD's reply names only the first word of the argument (argv[1]).
        return R("user_ok", (name.split(" ", 1)[0].split("\t", 1)[0]) or name)

    def _refusalText(self, error, user: str) -> str:
        """ProFTPD's SystemLog line for a refused login (what fail2ban's filter reads)."""
        reason = getattr(error, "reason", None)
        if reason == LoginRefused.UNKNOWN_USER:
            s = self.session
            return "USER %s: no such user found from %s [%s] to %s:%d" % (
                user, s.remote_dns, s.remote_ip, s.local_ip, s.local_port)
        if reason == LoginRefused.ROOT_LOGIN:
            return "SECURITY VIOLATION: Root login attempted"
        if reason == LoginRefused.BAD_PASSWORD:
            why = "Incorrect password"
        elif reason == LoginRefused.INVALID_SHELL:
            why = "Invalid shell: '%s'" % (getattr(error, "shell", ""),)
        elif reason == LIMIT_LOGIN:
            if getattr(error, "anonymous", False):
                # mod_auth's own words for an <Anonymous> login (measured with 1.3.8)
                return "ANON %s (Login failed): Limit access denies login" % (user,)
            why = "Limit access denies login"
        elif isinstance(error, LoginRefused):
            why = error.detail
        else:
            why = "Login incorrect"
        return "USER %s (Login failed): %s" % (user, why)

    def cmd_PASS(self, cmd):
        if self.avatar is not None:
            raise R("already_logged_in")
        if self.client_state.user is None:
            raise R("pass_first_user")
        user, self.client_state.user = self.client_state.user, None
        anon_found = anonymous_section(self.server, user)
        if anon_found is None and self._is_root_name(user):
            # ProFTPD's mod_auth signals a uid 0 login before any password check, even
            # with RootLogin on; a ban it triggers ends the session unanswered.
            if self.policy_event("RootLogin", user=user):
                return _unsent(R("login_incorrect"))
        if anon_found is not None:
            creds = AnonymousLogin(user, cmd.arg or "")
        else:
            creds = UsernamePassword(user, cmd.arg or "")
        def place(avatar, root_fd=None):
            """The disk side of a login (blocking, a disk job): the jail, its starting
            directory checked, and DisplayLogin's lines.  ``root_fd``: the jail root's
            descriptor, opened already."""
            anon_cfg = anon_found[1] if (avatar.anonymous and anon_found) else None
            try:
                names, groups, system = self._owner_names()
                jail = JailedFS(avatar.root, avatar.cwd, umask=self.server.umask,
                                user_names=names, group_names=groups,
                                use_system_names=system, root_is_real=True)
            except BaseException:
                if root_fd is not None:
                    nowait.release_root(root_fd)    # shared: a count, not just an fd
                raise
            jail.open_root(root_fd)
            if anon_cfg is not None and anon_cfg.show_symlinks is not None:
                jail.show_symlinks = anon_cfg.show_symlinks
            elif not self.server.show_symlinks:
                jail.show_symlinks = False
            # "~/x" is the home's x, as ProFTPD 1.3.8 interpolates it (measured); "~"
            # alone and "~user" it does not resolve, nor does ftpredis.
            jail.home = jail.virtual(avatar.cwd)
            try:
                display = (anon_cfg.display_login if anon_cfg is not None
                           and anon_cfg.display_login else self.server.display_login)
                if display and not display.startswith("/"):
                    display = _initial_dir_file(jail, display)
                lines = _read_display(display, {
                    "%U": user, "%u": avatar.name, "%L": self.local_host,
                    "%R": self.peer_host, "%T": time.ctime(), "%%": "%"}) if display else None
            except BaseException:
                jail.close()
                raise
            return jail, lines

        def ok(result, placed=None):
            if placed is None:
                return accept(result)
            try:
                return accept(result, placed)
            except BaseException:
                placed[0].close()       # a refused login: its jail's root descriptor
                raise

        def accept(result, placed=None):
            _, avatar, logout = result
            if self.disconnected:
                logout()
                raise R("login_incorrect")
            anon_cfg = anon_found[1] if (avatar.anonymous and anon_found) else None
            self._loginLimits(cmd, user, avatar, logout)
            groups = (avatar.group,) if avatar.group else ()
            # No <Limit> anywhere in the server (the usual case): nothing to decide.
            limited = avatar.anonymous or limits.has_limits(self.server)
            if limited and limits.decision(self.server, anon_cfg, "LOGIN", None, avatar.name,
                                           groups, addr=self.peer_host) is False:
                logout()
                refused = LoginRefused(user, LIMIT_LOGIN, "<Limit LOGIN> denies %r"
                                       % (avatar.name,))
                refused.anonymous = bool(avatar.anonymous)
                raise refused
            self.avatar = avatar
            self._logout = logout
            self.counted = True
            self.factory.logged_in += 1
            self.client_state.anon_config = anon_cfg
            self.client_state.limited = limited
            self._cancelTimer("_login_timer")
            self._startNoTransferTimer()
            grant = ((anon_cfg.access_grant_msg if anon_cfg is not None else None)
                     or self.server.access_grant_msg)
            if grant is not None:
                r = Reply(230, grant.replace("%u", user))      # mod_auth: AccessGrantMsg
            elif avatar.anonymous:
                r = R("anon_logged_in")
            else:
                r = R("logged_in", user)
            cmd.fields["system_log"] = ("%s %s: Login successful."
                                        % ("ANON" if avatar.anonymous else "USER", user),)

            def ready(placed):
                jail, lines = placed
                self.fs = SessionFS(jail, self.factory.disk)
                # A partial, not a closure over self: that closure made each ended
                # session a reference cycle (protocol -> fs -> hide -> protocol) which only
                # the cyclic garbage collector could free.
                self.fs.hide = functools.partial(limits.hide_pattern, self.server, anon_cfg)
                self.config_path = self.fs.real_of(self.fs.cwd)
                return Reply(r.code, r.text, lines) if lines is not None else r
            if placed is not None:
                return ready(placed)
            return self.factory.disk.run(place, avatar).addCallback(ready)

        def bad(f):
            if f.check(_PolicyRefusal):
                return f.value.reply
            if f.check(Reply):
                return f
            if (getattr(f.value, "reason", None) == "anon-reject-passwords" and
                    self.policy_event("AnonRejectPasswords", user=user)):
                return _unsent(R("login_incorrect"))
            if not f.check(UnauthorizedLogin, UnhandledCredentials):
                log.failure("login of {user!r} failed", f, user=user)
            reason = getattr(f.value, "reason", None)
            if isinstance(reason, str):
                cmd.fields["auth_failure"] = reason      # for the metrics' auth_error
            self.client_state.login_failures += 1
            limit = self.client_state.login_failures >= self.server.max_login_attempts
            lines = [self._refusalText(f.value, user)]
            if limit:
                lines.append("Maximum login attempts (%d) exceeded, connection refused"
                             % self.server.max_login_attempts)
            cmd.fields["system_log"] = tuple(lines)
            for line in lines:
                # A refused login leaves a line in twistd's log too (never the password).
                log.info("{client}: {line}", client=self.peer_host, line=line)

            def after():
                # ProFTPD forgets the USER name after a failed PASS (not on its record).
                self.original_user = None
                if not cmd.arg:
                    self.policy_event("EmptyPassword", user=user)
                if limit:
                    self.end_reason = "Configured policy"
                    self.disconnect_details = "Denied by MaxLoginAttempts"
                    self.policy_event("MaxLoginAttempts", user=user)
                    self.policy_event("MaxLoginAttemptsFromUser", user=user)
                    self.transport.loseConnection()
            cmd.after = after
            refusal = R("login_incorrect")
            deny = ((anon_found[1].access_deny_msg if anon_found is not None else None)
                    or self.server.access_deny_msg)
            if deny is not None:
                refusal = Reply(530, deny.replace("%u", user))     # mod_auth: AccessDenyMsg
            # A delay before every refusal makes password guessing slow (mod_delay).
            delay = self.factory.loginFailureDelay
            if delay:
                return task.deferLater(self.factory.reactor, delay, _raise, refusal)
            raise refusal

        def slow():
            d = defer.maybeDeferred(self.portal.login, creds, None, IFTPRedisAvatar)
            d.addCallback(ok)
            d.addErrback(bad)
            return d

        login_now = getattr(self.portal, "login_now", None)
        make = login_now(creds) if login_now is not None else None
        if make is None:
            return slow()
        if not self.server.display_login:
            # The home, which is the jail, looked at with one open whose descriptor
            # becomes the jail's root: nothing of this login can wait.
            try:
                cached = make.cached()
            except UnauthorizedLogin:
                return slow()
            if cached is not None:
                result, root_fd = cached
                try:
                    return ok(result, place(result[1], root_fd))
                except BaseException:
                    return bad(failure.Failure())
        if not self.server.display_login and all(nowait.cached_local(p) for p in make.paths):
            # Every directory this login looks at is in the kernel's cache on a local
            # disk: its stats cannot wait, and a thread hop would cost more than they do.
            try:
                result = make()
            except UnauthorizedLogin:
                return slow()
            avatar = result[1]
            start = avatar.root if avatar.cwd == "/" else avatar.root.rstrip("/") + avatar.cwd
            if start in make.paths or nowait.cached_local(start):
                # (A path of make.paths was found cached a moment ago: not asked twice.)
                try:
                    return ok(result, place(avatar))
                except BaseException:
                    return bad(failure.Failure())
            d = self.factory.disk.run(place, avatar)
            d.addCallback(lambda placed: defer.maybeDeferred(ok, result, placed).addErrback(bad))
            return d

        def at_once():
            result = make()
            return result, place(result[1])

        def refused(f):
            # Decided again, and logged, the ordinary way.
            f.trap(UnauthorizedLogin)
            return slow()
        # No hashing to wait for: the avatar's home and the jail in one disk job.
        d = self.factory.disk.run(at_once)
        d.addCallbacks(lambda done: defer.maybeDeferred(ok, *done).addErrback(bad), refused)
        return d
