# -*- test-case-name: tests.test_auth -*-
"""Virtual users: ``AuthUserFile`` / ``AuthGroupFile`` and the twisted.cred portal.

This module owns reading ProFTPD's ftpasswd-format files (with the permission checks
ProFTPD's mod_auth_file makes), checking passwords against their crypt(3) hashes off the
reactor thread, and turning a successful login into an :class:`Avatar` (who the user is,
where the jail is, where the session starts).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterator, List, Optional, Tuple

from passlib.context import CryptContext
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet import defer
from twisted.internet.threads import deferToThreadPool

from ftpredis.ftp import nowait
from ftpredis.ftp.diskpool import pool_for
from zope.interface import Interface, implementer

from ftpredis.auth import fastcrypt
from ftpredis.config.model import AuthUser, ConfigError, ServerConfig, Source


# --------------------------------------------------------------------------- files

def _check_file(directive: str, path: str, source: Optional[Source],
                insecure_perms: bool, refuse_readable: bool) -> None:
    """Refuse a file that others could read or replace, as ProFTPD 1.3.8's mod_auth_file does.

    An AuthUserFile readable by others leaks offline-crackable hashes; any file writable by
    others, or sitting in a directory writable by others (sticky or not: the file may be
    absent or later replaced), lets a local user add a login.  A symlink is followed, and the
    directories of both the link and its target are checked.  ``AuthFileOptions
    InsecurePerms`` is the admin's explicit opt-out of all of these.
    """
    if not os.path.isabs(path):
        raise ConfigError("%s: unable to use relative path '%s'" % (directive, path), source)
    try:
        st = os.stat(path)
    except OSError as e:
        raise ConfigError("%s: unable to read '%s': %s"
                          % (directive, path, e.strerror), source)
    if stat.S_ISDIR(st.st_mode):
        raise ConfigError("%s: unable to read '%s': %s"
                          % (directive, path, os.strerror(errno.EISDIR)), source)
    if not stat.S_ISREG(st.st_mode):
        # A FIFO would block the parser forever; a device is never what was meant.
        raise ConfigError("%s: unable to use '%s': not a regular file" % (directive, path),
                          source)
    if insecure_perms:
        return
    mode = stat.S_IMODE(st.st_mode)
    what = None
    if mode & stat.S_IWOTH:
        what = "writable"
    elif refuse_readable and mode & stat.S_IROTH:
        what = "readable"
    if what is not None:
        raise ConfigError(
            "%s: unable to use '%s': file is %s by others (mode %04o); chmod %s it, "
            "or set 'AuthFileOptions InsecurePerms'"
            % (directive, path, what, mode, "600" if refuse_readable else "644"), source)
    parents = []
    for p in (os.path.abspath(path), os.path.realpath(path)):
        parent = os.path.dirname(p)
        if parent not in parents:
            parents.append(parent)
    for parent in parents:
        try:
            pmode = stat.S_IMODE(os.stat(parent).st_mode)
        except OSError as e:
            raise ConfigError("%s: unable to read '%s': %s"
                              % (directive, path, e.strerror), source)
        if pmode & stat.S_IWOTH:
            raise ConfigError(
                "%s: unable to use '%s': its directory '%s' is writable by others "
                "(mode %04o); chmod o-w it, or set 'AuthFileOptions InsecurePerms'"
                % (directive, path, parent, pmode), source)


def _read_lines(directive: str, path: str, source: Optional[Source],
                insecure_perms: bool) -> Iterator[Tuple[int, str]]:
    # Only the user file holds secrets; a group file may be world-readable like /etc/group.
    _check_file(directive, path, source, insecure_perms,
                refuse_readable=(directive == "AuthUserFile"))
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigError("%s: unable to read '%s': %s"
                          % (directive, path, e.strerror), source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        lineno = data[:e.start].count(b"\n") + 1
        raise ConfigError("%s: invalid UTF-8 on line %d of '%s'"
                          % (directive, lineno, path), source)
    # split("\n"), not splitlines(): line numbers must be the ones an editor shows.
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        yield lineno, line


def _parse_id(directive: str, what: str, value: str, lineno: int, path: str,
              source: Optional[Source]) -> int:
    if not value.isascii() or not value.isdigit() or int(value) > 0xFFFFFFFE:
        raise ConfigError("%s: bad %s '%s' on line %d of '%s': expected a number "
                          "from 0 to 4294967294" % (directive, what, value, lineno, path),
                          source)
    return int(value)


def read_auth_user_file(path: str, source: Optional[Source] = None,
                        insecure_perms: bool = False) -> Tuple[AuthUser, ...]:
    """Read an ``AuthUserFile``: ``name:hash:uid:gid:gecos:home:shell`` per line."""
    d = "AuthUserFile"
    users = []
    seen: Dict[str, int] = {}
    for lineno, line in _read_lines(d, path, source, insecure_perms):
        fields = line.split(":")
        if len(fields) != 7:
            raise ConfigError("%s: malformed entry on line %d of '%s': expected 7 fields "
                              "separated by ':', got %d" % (d, lineno, path, len(fields)),
                              source)
        name, hash_, uid, gid, gecos, home, shell = fields
        if not name or name != name.strip():
            raise ConfigError("%s: bad user name %r on line %d of '%s'"
                              % (d, name, lineno, path), source)
        if name in seen:
            raise ConfigError("%s: duplicate user '%s' on line %d of '%s' (first on line %d)"
                              % (d, name, lineno, path, seen[name]), source)
        seen[name] = lineno
        uid_n = _parse_id(d, "uid", uid, lineno, path, source)
        gid_n = _parse_id(d, "gid", gid, lineno, path, source)
        if not home.startswith("/"):
            raise ConfigError("%s: home directory '%s' of user '%s' on line %d of '%s' is "
                              "not an absolute path" % (d, home, name, lineno, path), source)
        users.append(AuthUser(name=name, hash=hash_, uid=uid_n, gid=gid_n, gecos=gecos,
                              home=home, shell=shell))
    return tuple(users)


def read_auth_group_file(path: str, source: Optional[Source] = None,
                         insecure_perms: bool = False) -> Dict[int, str]:
    """Read an ``AuthGroupFile``: ``name:x:gid:member,member`` per line; gid -> name."""
    d = "AuthGroupFile"
    groups: Dict[int, str] = {}
    names: Dict[str, int] = {}
    for lineno, line in _read_lines(d, path, source, insecure_perms):
        fields = line.split(":")
        if len(fields) != 4:
            raise ConfigError("%s: malformed entry on line %d of '%s': expected 4 fields "
                              "separated by ':', got %d" % (d, lineno, path, len(fields)),
                              source)
        name, _password, gid, _members = fields
        if not name or name != name.strip():
            raise ConfigError("%s: bad group name %r on line %d of '%s'"
                              % (d, name, lineno, path), source)
        if name in names:
            raise ConfigError("%s: duplicate group '%s' on line %d of '%s' (first on line %d)"
                              % (d, name, lineno, path, names[name]), source)
        gid_n = _parse_id(d, "gid", gid, lineno, path, source)
        names[name] = lineno
        # Several names for one gid are legal in /etc/group; getgrgid() answers the first.
        groups.setdefault(gid_n, name)
    return groups



def read_auth_group_members(path: str, source: Optional[Source] = None,
                            insecure_perms: bool = False) -> Dict[str, Tuple[int, ...]]:
    """The member lists of an ``AuthGroupFile`` (read by :func:`read_auth_group_file`
    already, so well formed): user name -> the gids of the groups naming it, which
    mod_auth_file gives the user's session as supplementary groups."""
    members: Dict[str, List[int]] = {}
    for _lineno, line in _read_lines("AuthGroupFile", path, source, insecure_perms):
        _name, _password, gid, names = line.split(":")
        for user in names.split(","):       # as written: " a" is not "a" (measured)
            if user and int(gid) not in members.setdefault(user, []):
                members[user].append(int(gid))
    return {user: tuple(gids) for user, gids in members.items()}



def session_gids(server, avatar: "Avatar") -> FrozenSet[int]:
    """The groups ProFTPD's session of ``avatar`` runs with (session.gid and
    session.gids): the primary group, and those of AuthGroupFile naming an AuthUserFile
    account as a member, or the system's groups of a system account.  Blocking."""
    gids = {avatar.gid}
    if any(u.name == avatar.name for u in server.auth_users):
        gids.update(server.auth_group_members.get(avatar.name, ()))
    else:
        try:
            gids.update(os.getgrouplist(avatar.name, avatar.gid))
        except (KeyError, OSError, UnicodeError):
            pass
    return frozenset(gids)


# --------------------------------------------------------------------------- passwords

#: The crypt(3) schemes an AuthUserFile may hold (glibc/libxcrypt's, as ProFTPD uses).
#: bcrypt covers $2a$, $2b$ and the $2y$ that htpasswd and PHP write.
SCHEMES = ("sha512_crypt", "sha256_crypt", "md5_crypt", "bcrypt")

_context = CryptContext(schemes=list(SCHEMES), default="sha512_crypt")

#: crypt(3) only ever sees the first 72 bytes for bcrypt; the bcrypt package refuses more.
_BCRYPT_MAX = 72


def hash_password(password: str) -> str:
    """sha512-crypt with glibc's default rounds, as ``ftpasswd --sha512`` and
    ``openssl passwd -6`` write it."""
    return _context.handler("sha512_crypt").using(rounds=5000).hash(password)


def verify_password(password, hashed: str) -> bool:
    """Whether *password* (str or bytes) matches the crypt(3) *hashed*; CPU-heavy, blocking.

    A locked (``*``, ``!...``), empty, malformed or unknown-scheme hash never matches.
    """
    scheme = _context.identify(hashed, required=False) if hashed else None
    if scheme is None:
        return False
    secret = password.encode("utf-8", "surrogateescape") if isinstance(password, str) \
        else bytes(password)
    if scheme == "bcrypt":
        secret = secret[:_BCRYPT_MAX]
    elif fastcrypt.handles(hashed):
        # libxcrypt in C, GIL released (passlib's builtin sha2-crypt holds it ~7 ms).
        ok = fastcrypt.verify(secret, hashed)
        if ok is not None:
            return ok
    try:
        return _context.verify(secret, hashed, scheme=scheme)
    except (ValueError, TypeError):
        # Malformed hash (bad salt/checksum characters) or oversized password.
        return False


def _dummy_hash(users) -> str:
    """A hash of a random secret costing what a real user's check costs.

    Unknown users are checked against it so that the reply time does not tell which
    names exist; it copies the most common (scheme, rounds) among the configured users.
    """
    counts: Dict[Tuple[str, int, Optional[str]], int] = {}
    for user in users:
        scheme = _context.identify(user.hash, required=False) if user.hash else None
        if scheme is None:
            continue
        try:
            parsed = _context.handler(scheme).from_string(user.hash)
        except (ValueError, TypeError):
            continue
        key = (scheme, getattr(parsed, "rounds", None), getattr(parsed, "ident", None))
        counts[key] = counts.get(key, 0) + 1
    scheme, rounds, ident = ("sha512_crypt", 5000, None)
    if counts:
        scheme, rounds, ident = max(counts, key=counts.__getitem__)
    handler = _context.handler(scheme)
    settings = {}
    if rounds is not None and "rounds" in handler.setting_kwds:
        settings["rounds"] = rounds
    if ident is not None and "ident" in handler.setting_kwds:
        # passlib writes $2b$ for $2y$: same algorithm, same cost.
        settings["ident"] = "2b" if ident.strip("$") == "2y" else ident
    return handler.using(**settings).hash(os.urandom(16).hex())


# --------------------------------------------------------------------------- avatars

class IFTPRedisAvatar(Interface):
    """Marker: a logged-in FTP user (an :class:`Avatar`)."""


@implementer(IFTPRedisAvatar)
@dataclass(frozen=True)
class Avatar:
    """Who logged in and where the session lives.

    ``root`` is the real path of the jail ("/" when there is no DefaultRoot); ``cwd`` is
    the virtual start directory inside it ("/" when jailed to the home, the home itself
    when ``root`` is "/").
    """

    name: str
    uid: int
    gid: int
    group: Optional[str]
    home: str
    root: str
    cwd: str
    anonymous: bool = False
    anon_password: Optional[str] = None


class LoginRefused(UnauthorizedLogin):
    """A failed login.  The client sees only "Login incorrect"; the server log may show
    :attr:`reason` (a short code) and the message.  Neither ever holds the password."""

    UNKNOWN_USER = "unknown-user"
    BAD_PASSWORD = "bad-password"
    ROOT_LOGIN = "root-login"
    ANON_REJECT_PASSWORDS = "anon-reject-passwords"
    INVALID_SHELL = "invalid-shell"
    NO_HOME = "no-home"
    NO_ROOT = "no-root"
    #: the start directory exists but the account ftpredis runs as cannot enter it
    NO_ENTRY = "no-entry"

    def __init__(self, user: str, reason: str, detail: str):
        UnauthorizedLogin.__init__(self, "user %r: %s" % (user, detail))
        self.user = user
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return self.args[0]


def _as_text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


#: Recent successful verifications, shared by every server of the process; see
#: ftpredis.auth.fastcrypt.VerifyCache for what it holds and the trade-off.
_verified_cache = fastcrypt.VerifyCache()


@implementer(ICredentialsChecker)
class AuthFileChecker:
    """Checks user name and password against the AuthUserFile users of one server.

    The avatar id it returns is the user's name (str).  Shell and root-login checks come
    after the password check, so a wrong password is all a guesser ever learns.
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, server: ServerConfig, reactor=None):
        if reactor is None:
            from twisted.internet import reactor
        self._reactor = reactor
        self._server = server
        self._users = {u.name: u for u in server.auth_users}
        self._dummy = _dummy_hash(server.auth_users)

    def verified_now(self, credentials) -> Optional[str]:
        """The avatar id when this password was verified recently (no hashing needed),
        else None; raises LoginRefused as requestAvatarId would."""
        name = _as_text(credentials.username)
        user = self._users.get(name)
        if user is None:
            return None
        password = credentials.password
        secret = password.encode("utf-8", "surrogateescape") if isinstance(password, str) \
            else bytes(password)
        if not _verified_cache.check(secret, user.hash):
            return None
        return self._verified(True, name, user)

    def requestAvatarId(self, credentials):
        name = _as_text(credentials.username)
        password = credentials.password
        user = self._users.get(name)
        hashed = user.hash if user is not None else self._dummy
        secret = password.encode("utf-8", "surrogateescape") if isinstance(password, str) \
            else bytes(password)
        if user is not None and _verified_cache.check(secret, hashed):
            # A recent successful check of this very password (ftpredis.auth.fastcrypt).
            return defer.maybeDeferred(self._verified, True, name, user)
        # Hashing takes milliseconds to seconds: never on the reactor thread.
        d = deferToThreadPool(self._reactor, self._reactor.getThreadPool(),
                              verify_password, password, hashed)

        def remember(ok):
            if ok and user is not None:
                _verified_cache.remember(secret, hashed)
            return ok
        d.addCallback(remember)
        d.addCallback(self._verified, name, user)
        return d

    def _verified(self, ok: bool, name: str, user: Optional[AuthUser]) -> str:
        if user is None:
            raise LoginRefused(name, LoginRefused.UNKNOWN_USER, "no such user")
        if not ok:
            raise LoginRefused(name, LoginRefused.BAD_PASSWORD, "incorrect password")
        check_account(self._server, name, user)
        return name


def check_account(server: ServerConfig, name: str, user: AuthUser) -> None:
    """The checks of an account whose credentials (a password, an SSH key) are good:
    RootLogin and RequireValidShell; raises LoginRefused."""
    if user.uid == 0 and not getattr(server, "root_login", False):
        # ProFTPD's RootLogin defaults to off: uid 0 may not log in over FTP.
        raise LoginRefused(name, LoginRefused.ROOT_LOGIN, "uid 0 may not log in "
                           "(RootLogin is off)")
    if server.require_valid_shell and user.shell not in server.valid_shells:
        refused = LoginRefused(name, LoginRefused.INVALID_SHELL,
                               "shell %r is not a valid shell (RequireValidShell on)"
                               % (user.shell,))
        refused.shell = user.shell
        raise refused



class IAnonymousLogin(Interface):
    """Credentials of an ``<Anonymous>`` login: ``username`` (anonymous or a UserAlias
    name) and ``password`` (the e-mail address the client gave, ProFTPD's %A)."""


@implementer(IAnonymousLogin)
@dataclass(frozen=True)
class AnonymousLogin:
    username: str
    password: str


@dataclass(frozen=True)
class AnonymousId:
    """The avatar id of an anonymous login: which <Anonymous> section, and the password."""

    index: int
    login: str
    password: str


def anonymous_section(server: ServerConfig, name: str):
    """``(index, AnonymousConfig)`` whose User or UserAlias is ``name``, or None."""
    for i, anon in enumerate(server.anonymous):
        if name == anon.user or name in dict(anon.user_aliases):
            return i, anon
    return None


@implementer(ICredentialsChecker)
class AnonymousChecker:
    """Accepts any password for a name an ``<Anonymous>`` section maps (User/UserAlias)."""

    credentialInterfaces = (IAnonymousLogin,)

    def __init__(self, server: ServerConfig):
        self._server = server

    def requestAvatarId(self, credentials):
        from twisted.internet import defer
        name = _as_text(credentials.username)
        found = anonymous_section(self._server, name)
        if found is None:
            return defer.fail(LoginRefused(name, LoginRefused.UNKNOWN_USER, "no such user"))
        password = _as_text(credentials.password)
        reject = getattr(found[1], "anon_reject_passwords", None)
        if reject is not None and (re.search(reject[0], password) is None) == reject[1]:
            return defer.fail(LoginRefused(name, LoginRefused.ANON_REJECT_PASSWORDS,
                                           "AnonRejectPasswords denies login"))
        return defer.succeed(AnonymousId(found[0], name, password))


def _expand_root(default_root: str, user: AuthUser) -> str:
    """DefaultRoot's ``~`` (the user's home) and ``%u`` (the user name)."""
    path = default_root.replace("%u", user.name)
    if path == "~" or path.startswith("~/"):
        path = user.home.rstrip("/") + path[1:]
    return path


def _create_home(path: str, uid: int, gid: int, mode: int = 0o700) -> None:
    """CreateHome: missing parents 0711 and root-owned, the home ``mode`` (``CreateHome on
    MODE``, default 0700) owned by the user."""
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        os.makedirs(parent, mode=0o711, exist_ok=True)
    os.mkdir(path, 0o700)           # no wider than 0700 until it is chowned below
    os.chmod(path, mode)            # mkdir's mode is filtered by the process umask
    if os.geteuid() == 0:
        os.chown(path, uid, gid)


@implementer(IRealm)
class AuthFileRealm:
    """Turns a checked user name into an :class:`Avatar` (DefaultRoot, CreateHome)."""

    def __init__(self, server: ServerConfig, reactor=None):
        if reactor is None:
            from twisted.internet import reactor
        self._reactor = reactor
        self._server = server
        self._users = {u.name: u for u in server.auth_users}
        # mkdir/chown (CreateHome) may block on a slow or network file system.
        self.needs_thread = bool(server.create_home)

    @property
    def server(self) -> ServerConfig:
        return self._server

    #: None: the process's own account decides (os.access); ``--check`` sets the one
    #: the server will run as.
    account: Optional[Account] = None

    def _can_enter(self, path: str) -> bool:
        return _enterable(path) if self.account is None else self.account.can_enter(path)

    def user(self, avatar_id) -> AuthUser:
        return self._users[_as_text(avatar_id)]

    def requestAvatar(self, avatarId, mind, *interfaces):
        if IFTPRedisAvatar not in interfaces:
            raise NotImplementedError("only IFTPRedisAvatar is supported")
        if isinstance(avatarId, AnonymousId):
            d = pool_for(self._reactor).run(self.anonymous_avatar, avatarId)
            d.addCallback(lambda avatar: (IFTPRedisAvatar, avatar, self.logout))
            return d
        user = self._users[_as_text(avatarId)]
        # The home and the jail are on a disk that may hang (a network mount): the disk pool.
        d = pool_for(self._reactor).run(self.avatar_for, user)
        d.addCallback(lambda avatar: (IFTPRedisAvatar, avatar, self.logout))
        return d

    @staticmethod
    def logout() -> None:
        pass

    def anonymous_avatar(self, anon_id: AnonymousId) -> Avatar:
        """Blocking: the avatar of an anonymous login, jailed to the section's directory.

        The account named by the section's User (an AuthUserFile user, else a system
        account) gives uid, gid and name (ProFTPD's %u is that account, %U the login).
        """
        import grp
        import pwd
        anon = self._server.anonymous[anon_id.index]
        user = anon.user
        entry = self._users.get(user) if user else None
        if entry is not None:
            uid, gid, shell = entry.uid, entry.gid, entry.shell
        else:
            try:
                pw = pwd.getpwnam(user)
            except (KeyError, TypeError):
                raise LoginRefused(anon_id.login, LoginRefused.UNKNOWN_USER,
                                   "<Anonymous> User %r does not exist" % (user,))
            uid, gid, shell = pw.pw_uid, pw.pw_gid, pw.pw_shell
        # ProFTPD checks the anonymous account's shell too: the section's own
        # RequireValidShell, else the server's (default on).
        require = anon.require_valid_shell
        if require is None:
            require = self._server.require_valid_shell
        if require and shell not in self._server.valid_shells:
            raise LoginRefused(anon_id.login, LoginRefused.INVALID_SHELL,
                               "<Anonymous> User %r: shell %r is not a valid shell "
                               "(RequireValidShell on)" % (user, shell))
        if anon.group is not None:
            try:
                gid = grp.getgrnam(anon.group).gr_gid
            except KeyError:
                pass
        group = anon.group or self._server.auth_groups.get(gid)
        if group is None:
            try:
                group = grp.getgrgid(gid).gr_name
            except KeyError:
                group = None
        root = anon.root
        if not os.path.isdir(root):
            raise LoginRefused(anon_id.login, LoginRefused.NO_ROOT,
                               "<Anonymous> directory '%s' does not exist" % (root,))
        root = os.path.realpath(root)
        if not self._can_enter(root):
            raise LoginRefused(anon_id.login, LoginRefused.NO_ENTRY,
                               _no_entry("<Anonymous> directory", root, self.account))
        return Avatar(name=user, uid=uid, gid=gid, group=group, home=root, root=root,
                      cwd="/", anonymous=True, anon_password=anon_id.password)

    def avatar_for(self, user: AuthUser) -> Avatar:
        """Blocking: resolve the home and the jail, creating the home if allowed."""
        server = self._server
        home = os.path.normpath(user.home)
        if _plain_dir(home):
            # An existing directory reached through no symbolic link: what isdir and
            # realpath would say, for one open instead of a stat and an lstat per component.
            return self.avatar_at(user, home, home, True)
        home_exists = os.path.isdir(home)
        if not home_exists and server.create_home:
            try:
                _create_home(home, user.uid, user.gid, server.create_home_mode)
            except OSError as e:
                raise LoginRefused(user.name, LoginRefused.NO_HOME,
                                   "cannot create home directory '%s': %s"
                                   % (home, e.strerror))
            home_exists = os.path.isdir(home)
        return self.avatar_at(user, home, os.path.realpath(home), home_exists)

    def avatar_at(self, user: AuthUser, plain_home: str, home: str, home_exists: bool) -> Avatar:
        """avatar_for's jail and start: ``home`` is ``plain_home`` resolved (realpath)."""
        server = self._server
        if server.default_root is None:
            root = "/"
        elif (server.default_root == "~" and home_exists
              and os.path.normpath(_expand_root("~", user)) == plain_home):
            root = home         # the common jail: checked and resolved just above
        else:
            root = _expand_root(server.default_root, user)
            if not os.path.isdir(root):
                if server.default_root == "~":
                    raise LoginRefused(user.name, LoginRefused.NO_HOME,
                                       "home directory '%s' does not exist" % (root,))
                raise LoginRefused(user.name, LoginRefused.NO_ROOT,
                                   "DefaultRoot '%s' does not exist" % (root,))
            root = os.path.realpath(root)
        if root == "/":
            if not home_exists:
                raise LoginRefused(user.name, LoginRefused.NO_HOME,
                                   "home directory '%s' does not exist" % (home,))
            cwd = home
        elif home_exists and (home == root or home.startswith(root.rstrip("/") + "/")):
            cwd = "/" + os.path.relpath(home, root) if home != root else "/"
        else:
            # Jailed elsewhere, home missing or outside the jail: ProFTPD starts at the
            # jail's top rather than refusing.
            cwd = "/"
        start = cwd if root == "/" else (root if cwd == "/" else root.rstrip("/") + cwd)
        if not self._can_enter(start):
            # mod_auth chdirs to the start after the chroot and, failing, to the jail's
            # top; failing that (or with no jail) the login is refused.
            if root == "/" or start == root or not self._can_enter(root):
                where = root if root != "/" and start != root else start
                raise LoginRefused(user.name, LoginRefused.NO_ENTRY, _no_entry(
                    "home directory" if where == home else
                    "DefaultRoot directory" if where == root else "directory", where,
                    self.account))
            cwd = "/"
        group = server.auth_groups.get(user.gid)
        return Avatar(name=user.name, uid=user.uid, gid=user.gid, group=group, home=home,
                      root=root, cwd=cwd)


def _enterable(path: str) -> bool:
    """Whether the account ftpredis runs as may enter ``path``: virtual users' sessions
    work as that account (one service account), so a home it cannot search is a login
    ProFTPD's chdir() as the user would refuse, not one to let in and fail at LIST."""
    return os.access(path, os.X_OK, effective_ids=True)


@dataclass(frozen=True)
class Account:
    """The account ftpredis will run as, for ``--check`` (which may run as root)."""
    name: Optional[str]
    uid: int
    gid: int
    groups: FrozenSet[int]

    @classmethod
    def of(cls, uid: int, gid: int) -> "Account":
        """``uid`` with primary group ``gid`` and, as twistd's switch of user sets them
        (initgroups), the groups that list the account as a member."""
        import pwd
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            return cls(None, uid, gid, frozenset((gid,)))
        return cls(name, uid, gid, frozenset(os.getgrouplist(name, gid)) | {gid})

    def can_enter(self, path: str) -> bool:
        """What the kernel would answer the account's chdir(): search permission on every
        directory from / down, by mode bits (owner, else group, else others); ACLs are
        not read."""
        return self.blocker(path) is None

    def blocker(self, path: str) -> Optional[str]:
        """The first directory on ``path`` (from /) the account may not search, or None."""
        if self.uid == 0:
            return None
        current = "/"
        for part in [""] + [p for p in path.split("/") if p]:
            current = os.path.join(current, part) if part else "/"
            try:
                st = os.stat(current)
            except OSError:
                return current
            if st.st_uid == self.uid:
                bit = stat.S_IXUSR
            elif st.st_gid in self.groups:
                bit = stat.S_IXGRP
            else:
                bit = stat.S_IXOTH
            if not st.st_mode & bit:
                return current
        return None

    def describe(self) -> str:
        if self.name is None:
            return "uid %d, gid %d" % (self.uid, self.gid)
        return "'%s' (uid %d, gid %d)" % (self.name, self.uid, self.gid)


def _no_entry(what: str, path: str, account: Optional[Account] = None) -> str:
    """The SystemLog reason of a refused login whose directory cannot be entered: which
    account was refused and what the directory is, so the admin can tell a wrong owner
    or mode (a home left by a run as another account) from a wrong path."""
    import grp
    import pwd
    if account is None:
        account = Account.of(os.geteuid(), os.getegid())
    # The directory that refuses is often a parent (a 0700 directory above the home).
    blocker = account.blocker(path)
    shown = path if blocker in (None, path) else blocker
    try:
        st = os.stat(shown)
    except OSError as e:
        found = e.strerror
    else:
        try:
            owner = pwd.getpwuid(st.st_uid).pw_name
        except KeyError:
            owner = str(st.st_uid)
        try:
            group = grp.getgrgid(st.st_gid).gr_name
        except KeyError:
            group = str(st.st_gid)
        found = "%s owned by %s:%s, mode %04o" % (
            "it is" if shown == path else "'%s' is" % shown, owner, group,
            stat.S_IMODE(st.st_mode))
    return ("%s '%s' cannot be entered by the account ftpredis runs as, %s: Permission "
            "denied (%s)" % (what, path, account.describe(), found))


def unenterable(server: ServerConfig, account: Account) -> List[str]:
    """``--check``: one line per login of ``server`` that ``account`` (the User/Group
    ftpredis will run as) could not start, because it cannot enter the directory the
    login starts in; what the running server would log for it.  Homes CreateHome would
    make are left out (made at login, owned by the user)."""
    realm = AuthFileRealm(server, reactor=False)
    realm.account = account
    out = []
    for user in server.auth_users:
        home = os.path.normpath(user.home)
        if not os.path.isdir(home):
            continue        # no home: a refusal of its own, at login (or CreateHome)
        try:
            realm.avatar_at(user, home, os.path.realpath(home), True)
        except LoginRefused as e:
            if e.reason == LoginRefused.NO_ENTRY:
                out.append("user '%s': %s" % (user.name, e.detail))
    for anon in server.anonymous:
        if not os.path.isdir(anon.root):
            continue
        root = os.path.realpath(anon.root)
        if not account.can_enter(root):
            out.append(_no_entry("<Anonymous> directory", root, account))
    return out


def _plain_dir(path: str) -> bool:
    """Blocking: ``path`` (absolute, normalised) is an existing directory and no component
    of it is a symbolic link, so ``realpath(path) == path``.  False when unsure."""
    if not path.startswith("/") or path.startswith("//"):
        return False        # relative, or POSIX's implementation-defined leading "//"
    fd = nowait.open_beneath(nowait.AT_FDCWD, path, _PLAIN_DIR_FLAGS, nowait.RESOLVE_NO_SYMLINKS)
    if fd is None:
        return False
    os.close(fd)
    return True


_PLAIN_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


class QuickLogin:
    """A login whose password is verified: calling it (blocking: it looks at the home
    directory) gives ``login()``'s result; ``paths`` are the directories it looks at."""

    def __init__(self, realm: AuthFileRealm, user: AuthUser):
        self.realm = realm
        self.user = user
        server = realm.server
        paths = [os.path.normpath(user.home)]
        if server.default_root not in (None, "~"):
            paths.append(_expand_root(server.default_root, user))
        self.paths = tuple(paths)

    def __call__(self):
        return (IFTPRedisAvatar, self.realm.avatar_for(self.user), self.realm.logout)

    def cached(self):
        """``(result, root_fd)``: ``login()``'s result and the jail root's descriptor
        (:func:`~ftpredis.ftp.nowait.cached_root`; None when the jail is elsewhere),
        when the login's one directory, the home, is a directory reached through no
        symbolic link that the kernel
        resolves from its cache on a local disk (nothing here can wait); None when that
        is not certain, and the caller takes the general way."""
        if len(self.paths) != 1:
            return None
        home = self.paths[0]
        fd = nowait.cached_root(home)
        if fd is None:
            return None
        try:
            # Checked just now: an existing directory whose realpath is itself.
            avatar = self.realm.avatar_at(self.user, home, home, True)
        except BaseException:
            nowait.release_root(fd)
            raise
        if avatar.root != home:
            nowait.release_root(fd)
            if avatar.root != "/" or avatar.cwd != home:
                return None     # jailed elsewhere: the general way checks the start
            fd = None           # no DefaultRoot: the session starts in the home
        return (IFTPRedisAvatar, avatar, self.realm.logout), fd


class FTPPortal(Portal):
    """Twisted's portal, plus :meth:`login_now` for the logins that need no waiting."""

    def __init__(self, realm: AuthFileRealm, checkers):
        Portal.__init__(self, realm, checkers)
        self._files = next((c for c in checkers if isinstance(c, AuthFileChecker)), None)

    def login_now(self, credentials):
        """A blocking function making ``login()``'s result, or None when the login needs
        the ordinary way.

        Only an AuthUserFile user whose very password was verified recently
        (:mod:`ftpredis.auth.fastcrypt`) and whose home needs no creating qualifies; anything
        else is None and goes through :meth:`login`.  The function looks at the home
        directory (the disk): the caller runs it in the disk pool, and sends a
        LoginRefused it raises through :meth:`login` (which decides it again, the same
        way).  Three Deferreds and their callbacks were a tenth of a login-churn
        session's CPU.
        """
        files = self._files
        realm = self.realm
        if files is None or not IUsernamePassword.providedBy(credentials) \
                or realm.needs_thread:
            return None
        try:
            name = files.verified_now(credentials)
            if name is None:
                return None
            user = realm.user(name)
        except LoginRefused:
            return None
        return QuickLogin(realm, user)


def make_portal(server: ServerConfig, reactor=None) -> Portal:
    """The portal for one server's virtual users (AuthUserFile) and <Anonymous> logins."""
    checkers = [AuthFileChecker(server, reactor)]
    if server.anonymous:
        checkers.append(AnonymousChecker(server))
    return FTPPortal(AuthFileRealm(server, reactor), checkers)
