# -*- test-case-name: tests.test_sftp -*-
"""ssh-userauth over the server's users: password and publickey, SFTPAuthMethods.

This module owns :class:`UserAuthServer`: it offers the methods SFTPAuthMethods allows,
checks a password through the server's portal (AuthUserFile, RootLogin,
RequireValidShell, as FTP's PASS does) and a public key against the user's
SFTPAuthorizedUserKeys files (then the same account checks), applies <Limit LOGIN>,
MaxClients and MaxLoginAttempts, places the session in its jail (DefaultRoot, off the
reactor), and records what mod_sftp logs: USER for every request, PASS for every
request of a method other than ``none`` (doc/sftp-records.rst).
"""

from __future__ import annotations

import time

from twisted.conch import error
from twisted.conch.interfaces import IConchUser
from twisted.conch.ssh import keys, transport as sshtransport, userauth
from twisted.conch.ssh.common import NS, getNS
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet import defer, task

from ftpredis.auth.portal import IFTPRedisAvatar, LoginRefused, check_account
from ftpredis.ftp import limits
from ftpredis.ftp.filesystem import JailedFS, SessionFS
from ftpredis.sftp import keys as sftpkeys
from ftpredis.sftp import records as rec


class UserAuthServer(userauth.SSHUserAuthServer):
    """One SSH connection's authentication."""

    def serviceStarted(self):
        conn = self.transport
        # TimeoutLogin is the transport's (ftpredis.sftp.server), from the connection on.
        self.loginTimeout = 10 * 365 * 86400
        userauth.SSHUserAuthServer.serviceStarted(self)
        self.chains = conn.factory.sftp.auth_methods
        offered = []
        for chain in self.chains:
            for m in chain:
                if m not in offered:
                    offered.append(m)
        self.supportedAuthentications = [m.encode() for m in offered
                                         if m in ("password", "publickey")]
        self.done = []          # the methods that succeeded, for "a+b" chains
        self.failures = 0
        f = conn.factory
        version = conn.otherVersionString.decode("utf-8", "replace")
        f.note("received client version '%s'" % (version,))
        f.note("handling connection from SSH2 client '%s'" % (
            version.split("-", 2)[-1].split(" ", 1)[0],))
        ciphers = conn.currentEncryptions
        for what, value in (("key exchange", conn.kexAlg), ("host key", conn.keyAlg),
                            ("client-to-server encryption", ciphers.inCipType),
                            ("server-to-client encryption", ciphers.outCipType),
                            ("client-to-server MAC", ciphers.inMACType),
                            ("server-to-client MAC", ciphers.outMACType),
                            ("client-to-server compression", conn.incomingCompressionType),
                            ("server-to-client compression", conn.outgoingCompressionType)):
            f.note(" + Session %s: %s" % (what, value.decode("ascii", "replace")
                                          if isinstance(value, bytes) else value))
        if f.banner is not None:
            conn.sendPacket(userauth.MSG_USERAUTH_BANNER, NS(f.banner) + NS(b""))

    def ssh_USERAUTH_REQUEST(self, packet):
        user, service, method, rest = getNS(packet, 3)
        conn = self.transport
        name = user.decode("utf-8", "surrogateescape")
        conn.recorder.command("USER", name, 331, rec.USER_OK % (name,))
        conn.recorder.original_user = name
        policy = conn.factory.policy
        if policy is not None:
            try:
                policy.check_user(conn, name)
            except Exception:
                conn.end_session("Banned")
                return None
        return userauth.SSHUserAuthServer.ssh_USERAUTH_REQUEST(self, packet)

    def tryAuth(self, kind, user, data):
        d = userauth.SSHUserAuthServer.tryAuth(self, kind, user, data)
        if kind == b"none":
            return d
        conn = self.transport
        name = user.decode("utf-8", "surrogateescape")
        start = time.time()

        def ok(result):
            # mod_auth's PASS handler runs for an SSH login too: AccessGrantMsg is the
            # record's text (the client never sees it); AccessDenyMsg is not used.
            grant = conn.server.access_grant_msg
            text = rec.LOGGED_IN % (name,) if grant is None else grant.replace("%u", name)
            conn.recorder.command("PASS", "(hidden)", 230, text,
                                  start=start, auth_method=kind.decode("ascii", "replace"))
            conn.factory.note("user '%s' authenticated via '%s' method"
                              % (name, kind.decode("ascii", "replace")))
            return result

        def bad(f):
            if f.check(error.NotEnoughAuthentication):
                return f
            if f.check(_MaxClients):
                conn.recorder.command("PASS", "(hidden)", 230, rec.LOGGED_IN % (name,),
                                      start=start)
                directive = f.value.args[0]
                conn.factory.note("%s reached, refusing connection for user '%s'"
                                  % (directive, name))
                if directive != "MaxClients":       # mod_ban has no MaxClients event
                    conn.policy_event(directive, user=name)
                # As after FTP's refused PASS: the session ends without %U.
                conn.recorder.original_user = None
                conn.sendDisconnect(sshtransport.DISCONNECT_TOO_MANY_CONNECTIONS,
                                    b"Maximum connections for host/user reached")
                return failure_ignored()
            conn.recorder.command("PASS", "(hidden)", 530, rec.LOGIN_INCORRECT,
                                  start=start, auth_failure=getattr(f.value, "reason", None))
            if not f.check(error.IgnoreAuthentication):
                conn.factory.note("USER %s (Login failed): %s authentication failed%s" % (
                    name, kind.decode("ascii", "replace"),
                    ": " + f.value.detail if isinstance(f.value, LoginRefused) else ""))
            # ProFTPD forgets the USER name after a failed login (its next USER record
            # has no %U).
            conn.recorder.original_user = None
            if f.check(error.IgnoreAuthentication):
                return f            # a key query: answered PK_OK, not an attempt
            self.failures += 1
            if kind == b"password" and not getNS(data[1:])[0]:
                conn.policy_event("EmptyPassword", user=name)
            if self.failures >= _max_attempts(conn.factory.server):
                conn.recorder.end_reason = "Configured policy"
                conn.policy_event("MaxLoginAttempts", user=name)
                conn.sendDisconnect(sshtransport.DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE,
                                    b"Maximum login attempts exceeded")
                return failure_ignored()
            delay = conn.factory.loginFailureDelay
            if delay:
                return task.deferLater(conn.factory.reactor, delay, lambda: f)
            return f
        return d.addCallbacks(ok, bad)

    # -- methods --------------------------------------------------------------------------
    def auth_password(self, packet):
        password = getNS(packet[1:])[0]
        name = self.user.decode("utf-8", "surrogateescape")
        portal = self.transport.factory.portal
        d = defer.maybeDeferred(portal.login, UsernamePassword(name, password), None,
                                IFTPRedisAvatar)
        d.addCallback(lambda result: self._accepted(b"password", name, result[1], result[2]))
        return d

    def auth_publickey(self, packet):
        has_sig = packet[0:1] != b"\x00"
        alg, blob, rest = getNS(packet[1:], 2)
        name = self.user.decode("utf-8", "surrogateescape")
        factory = self.transport.factory
        server = factory.server
        try:
            key = keys.Key.fromString(blob)
        except (keys.BadKeyError, ValueError):
            return defer.fail(UnauthorizedLogin("bad key"))
        realm = factory.portal.realm
        try:
            account = realm.user(name)
        except KeyError:
            return defer.fail(LoginRefused(name, LoginRefused.UNKNOWN_USER, "no such user"))
        templates = factory.sftp.authorized_user_keys
        d = factory.disk.run(sftpkeys.authorized_blobs, templates, name, account.home)

        def check(blobs):
            if blob not in blobs:
                raise LoginRefused(name, "unknown-key", "public key not authorized")
            if not has_sig:
                self.transport.sendPacket(userauth.MSG_USERAUTH_PK_OK, NS(alg) + NS(blob))
                raise error.IgnoreAuthentication()
            signature = getNS(rest)[0]
            signed = (NS(self.transport.sessionID) + bytes((userauth.MSG_USERAUTH_REQUEST,))
                      + NS(self.user) + NS(self.nextService) + NS(b"publickey")
                      + b"\x01" + NS(alg) + NS(blob))
            if not key.verify(signature, signed):
                raise LoginRefused(name, "bad-signature", "signature verification failed")
            check_account(server, name, account)
            return factory.disk.run(realm.avatar_for, account)
        d.addCallback(check)
        d.addCallback(lambda avatar: self._accepted(b"publickey", name, avatar,
                                                    realm.logout))
        return d

    def _accepted(self, method, name, avatar, logout):
        """Credentials are good: the chain rule, the login limits, then the jail."""
        m = method.decode()
        done = tuple(self.done) + (m,)
        if not any(tuple(chain[:len(done)]) == done for chain in self.chains):
            done = (m,)
            if not any(chain[:1] == done for chain in self.chains):
                # Good credentials of a method no chain starts with (the password of
                # "publickey+password" alone): a plain failure.
                self.done = []
                logout()
                raise LoginRefused(name, "auth-method", "SFTPAuthMethods needs another "
                                   "method first")
        self.done = list(done)
        if not any(tuple(chain) == tuple(self.done) for chain in self.chains):
            logout()
            # Partial success: what may follow is the next method of the chains begun
            # (the failure message lists these, and only these are tried).
            n = len(self.done)
            self.supportedAuthentications = sorted(
                {chain[n].encode() for chain in self.chains
                 if len(chain) > n and tuple(chain[:n]) == tuple(self.done)},
                key=lambda m: m != b"publickey")
            raise error.NotEnoughAuthentication()
        conn = self.transport
        factory = conn.factory
        server = factory.server
        groups = (avatar.group,) if avatar.group else ()
        if limits.decision(server, None, "LOGIN", None, avatar.name, groups,
                           addr=conn.peer_host) is False:
            logout()
            raise LoginRefused(name, "limit-login", "<Limit LOGIN> denies %r" % (name,))
        refused = _over_limit(factory, conn, avatar)
        if refused is not None:
            logout()
            # ProFTPD 1.3.8 records this login as a success (PASS 230, its account in
            # the records from here on), then disconnects (doc/sftp-records.rst).
            conn.recorder.avatar = avatar
            conn.recorder.end_reason = "Configured policy: Denied by " + refused
            raise _MaxClients(refused)

        def place():
            names, grps, system = factory.owner_names()
            jail = JailedFS(avatar.root, avatar.cwd, umask=server.umask, user_names=names,
                            group_names=grps, use_system_names=system, root_is_real=True)
            jail.open_root()
            return jail

        def placed(jail):
            fs = SessionFS(jail, factory.disk)
            fs.hide = lambda real_dir: limits.hide_pattern(server, None, real_dir)
            conn.loggedIn(avatar, fs, logout)
            return (IConchUser, conn.conch_user, conn.logout)
        return factory.disk.run(place).addCallback(placed)


class _MaxClients(Exception):
    """MaxClients (or MaxClientsPerHost, MaxClientsPerUser: the argument) refuses a
    login whose credentials were good."""


def _over_limit(factory, conn, avatar):
    """The directive that refuses this login, in mod_auth's order (MaxClientsPerHost,
    MaxClientsPerUser, MaxClients), or None.  The other logged-in SSH sessions of the
    server count, as FTP's (ftpredis.ftp.login) count its own."""
    server = factory.server
    others = [p for p in factory.instances if p is not conn and p.counted]
    # MaxClientsPerHost, MaxClientsPerUser and MaxClients are (N, message).
    per_host = server.max_clients_per_host
    if per_host is not None and sum(
            1 for p in others if p.peer_host == conn.peer_host) >= per_host[0]:
        return "MaxClientsPerHost"
    per_user = server.max_clients_per_user
    if per_user is not None and sum(
            1 for p in others if p.recorder.avatar.name == avatar.name) >= per_user[0]:
        return "MaxClientsPerUser"
    if server.max_clients is not None and factory.logged_in >= server.max_clients[0]:
        return "MaxClients"
    return None


def _max_attempts(server) -> int:
    """mod_sftp's limit on failed logins: MaxLoginAttempts when set, else its own 6
    (contrib/mod_sftp/auth.c).  The model cannot tell a MaxLoginAttempts 3 from the
    default 3; both are taken as unset (doc/sftp-records.rst)."""
    n = server.max_login_attempts
    return 6 if n == 3 else n


def failure_ignored():
    """A failure the base class answers with nothing (the connection is closing)."""
    return defer.fail(error.IgnoreAuthentication())
