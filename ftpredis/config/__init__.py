# -*- test-case-name: tests.test_config -*-
"""Reading a ProFTPD-syntax configuration file into a :class:`~ftpredis.config.model.Config`.

This package owns the configuration language.  :mod:`ftpredis.config.syntax` reads the
text (quoting, continuation, ``Include``, ``<IfModule>``...), :mod:`ftpredis.config.directives`
is the table of directives and their argument parsers, :mod:`ftpredis.config.model` holds
the immutable result.  This module puts sections together into servers:

- the main server first, then each ``<VirtualHost>`` in file order;
- ``<Global>`` (wherever it stands) is appended to every server: a server's own
  single-valued directive wins, multi-valued ones from both apply, the server's own first;
- the first occurrence of a single-valued directive wins (ProFTPD); later ones are
  reported as warnings;
- ``LogFormat`` names are resolved after the whole file is read (ProFTPD's "must come
  before" is dropped, doc/decisions.rst, "Format names and virtual hosts"): server-level
  and ``<Global>`` names are visible to every server, a ``<VirtualHost>``'s own only
  inside it;
- the model objects are filled from the table: a row's ``fills`` names the model field
  its value goes to (:func:`_fill` copies it, nothing is mapped by hand), ``built_by``
  the step below that assembles it (Redis target, bans, TLS, logging scopes);
- ``<Directory>`` and ``<Anonymous>`` keep their own logging scope; merge-down is the
  router's job at runtime;
- a ``<VirtualHost>`` with no ``RedisServer``/``RedisSentinel``/``RedisTimeouts``/
  ``RedisOptions``/``RedisBufferSize`` inherits the main server's, as ProFTPD's
  process-wide Redis settings make it do.

Every error is collected; :func:`load_config` raises :class:`ConfigErrors` with all of
them.  Paths and files named by directives (AuthUserFile, AuthGroupFile, RedisLog,
/etc/shells) are checked here, at load time, so ``--check`` catches them.
"""

from __future__ import annotations

import dataclasses

import ipaddress
from typing import Dict, Iterable, List, Optional, Tuple

from ftpredis.config.directives import (
    ANON, CLASS, DIR, GLOBAL, LIMIT, SERVER, TABLE, VHOST, DirectiveError, ParseContext,
    RedisSentinelValue, RedisServerValue, allowed_text, directive_reference, lookup, suggest,
    turns_module_off, unprovided_modules,
)
from ftpredis.config.model import (
    AnonymousConfig, Config, ConfigError, ConfigErrors, DirectoryConfig, LogScope,
    RedisTarget, ServerConfig, Source,
)
from ftpredis.config.syntax import PROVIDED_MODULES, read_config

__all__ = ["load_config", "format_check_report", "directive_reference", "Config",
           "ConfigError", "ConfigErrors", "PROVIDED_MODULES", "TABLE"]

SHELLS_FILE = "/etc/shells"
_LOG_DIRECTIVES = ("RedisLogOnCommand", "RedisLogOnEvent")


class _Scope:
    """One context while building: the top level, or one section."""

    def __init__(self, kind: str, value=None, source: Optional[Source] = None,
                 swallow: bool = False, name: str = ""):
        self.kind = kind            # SERVER, VHOST, GLOBAL, ANON, DIR or LIMIT
        self.value = value          # the section's parsed arguments
        self.source = source
        self.swallow = swallow      # an unknown or refused section: ignore its body
        self.name = name            # the section name as to be closed
        self.entries: List[Tuple[object, object, Source]] = []   # (Directive, value, source)
        self.children: List["_Scope"] = []

    def first(self, name: str):
        for d, value, source in self.entries:
            if d.name == name:
                return value, source
        return None

    def all(self, *names: str):
        return [(value, source) for d, value, source in self.entries if d.name in names]


def _limits(children) -> tuple:
    """The ``<Limit>`` sections among a scope's children, as LimitConfig."""
    from ftpredis.config.model import LimitConfig
    out = []
    for c in children:
        if c.kind != LIMIT or c.swallow:
            continue
        rules = []
        for d, value, source in c.entries:
            if d.name in ("AllowAll", "DenyAll"):
                rules.append((d.name, ()))
            elif d.name in ("AllowUser", "DenyUser", "AllowGroup", "DenyGroup", "Allow",
                            "Deny", "AllowClass", "DenyClass"):
                rules.append((d.name, value))
        out.append(LimitConfig(c.value, tuple(rules), source=c.source,
                               **_fill("limit", c.first, c.all)))
    return tuple(out)


class _Builder:
    def __init__(self, path: str, defines: Iterable[str], environ, shells_file: str):
        self.path = path
        self.defines = tuple(defines)
        self.environ = environ
        self.shells_file = shells_file
        self.errors: List[ConfigError] = []
        self.warnings: List[str] = []
        self._seen_errors = set()
        self._auth_cache: Dict[tuple, object] = {}
        self._log_cache: Dict[tuple, Optional[str]] = {}
        self._shells: Optional[Tuple[str, ...]] = None

    def error(self, error: ConfigError) -> None:
        key = str(error)
        if key not in self._seen_errors:
            self._seen_errors.add(key)
            self.errors.append(error)

    # -- lines into scopes ------------------------------------------------------------

    def build_tree(self, lines) -> _Scope:
        root = _Scope(SERVER)
        stack = [root]
        for line in lines:
            top = stack[-1]
            if line.is_close:
                opening = "<" + line.name[2:]
                if top is root or top.name.lower() != opening.lower():
                    if not top.swallow:
                        self.error(ConfigError("%s: no matching %s section"
                                               % (_canonical_close(line.name),
                                                  _canonical_open(opening)), line.source))
                    continue
                if line.args and not top.swallow:
                    self.error(ConfigError("%s: wrong number of parameters"
                                           % _canonical_close(line.name), line.source))
                stack.pop()
                continue
            if top.swallow:
                if line.is_open:
                    stack.append(_Scope(LIMIT, swallow=True, name=line.name))
                continue
            directive = lookup(line.name)
            if directive is None or directive.reader:
                self.error(ConfigError("unknown configuration directive '%s'" % line.name,
                                       line.source, _unknown_hint(line.name, directive)))
                if line.is_open:
                    stack.append(_Scope(LIMIT, swallow=True, name=line.name))
                continue
            value, ok = self._parse(directive, line, top.kind)
            if directive.section:
                # A refused section (bad arguments, <Limit>) keeps its body from
                # producing a cascade of follow-up errors.
                scope = _Scope(directive.name, value, line.source, swallow=not ok,
                               name=directive.name)
                if ok:
                    top.children.append(scope)
                stack.append(scope)
            elif ok:
                top.entries.append((directive, value, line.source))
        for scope in stack[1:]:
            self.error(ConfigError("unclosed %s context" % scope.name, scope.source))
        return root

    def _parse(self, directive, line, context: str):
        name = directive.name
        if context not in directive.contexts:
            self.error(ConfigError("%s: directive not allowed in %s context"
                                   % (name, context), line.source,
                                   "allowed in %s" % (allowed_text(directive.contexts),)))
            return None, False
        args = line.args
        if len(args) < directive.min_args:
            self.error(ConfigError("%s: missing parameters" % name, line.source))
            return None, False
        if directive.max_args is not None and len(args) > directive.max_args:
            if directive.extra_ignored:
                self.warnings.append("%s: extra parameters ignored on %s"
                                     % (name, line.source))
                args = args[:directive.max_args]
            elif directive.section and directive.max_args == 0:
                self.error(ConfigError("%s: Too many parameters" % name, line.source))
                return None, False
            else:
                self.error(ConfigError("%s: wrong number of parameters" % name, line.source))
                return None, False
        ctx = ParseContext(name, line.source, self.warnings)
        warned = len(self.warnings)
        try:
            value = directive.parse(tuple(args), ctx)
        except DirectiveError as e:
            message = e.message if e.bare else "%s: %s" % (name, e.message)
            self.error(ConfigError(message, line.source))
            return None, False
        if not directive.effect and len(self.warnings) == warned:
            # one warning a line: the parser's own says more (LoadModule)
            self.warnings.append("%s on %s has no effect in ftpredis" % (name, line.source))
        for where, reason in directive.ignored_in:
            if where == context:
                self.warnings.append("%s on %s has no effect in %s context in ftpredis: %s"
                                     % (name, line.source, context, reason))
        return value, True

    # -- scopes into servers ----------------------------------------------------------

    def warn_duplicates(self, scope: _Scope) -> None:
        first: Dict[str, Source] = {}
        for d, value, source in scope.entries:
            if d.multi or not d.effect:
                continue
            if d.name in first:
                self.warnings.append("%s: duplicate directive on %s ignored; the first one, "
                                     "on line %d, wins" % (d.name, source, first[d.name].line))
            else:
                first[d.name] = source
        for child in scope.children:
            self.warn_duplicates(child)

    def build(self, root: _Scope) -> Tuple[ServerConfig, ...]:
        self.warn_duplicates(root)
        globals_ = [c for c in root.children if c.kind == GLOBAL]
        vhosts = [c for c in root.children if c.kind == VHOST]
        for vhost in vhosts:
            globals_.extend(c for c in vhost.children if c.kind == GLOBAL)
        global_entries = [e for g in globals_ for e in g.entries]
        global_children = [c for g in globals_ for c in g.children]

        self._classes = self._class_list(root)
        main = _Merged(root.entries + global_entries, root.children + global_children)
        main_formats = _formats(root.entries + global_entries)
        servers = [self._server(main, None, main_formats, None)]
        for vhost in vhosts:
            merged = _Merged(vhost.entries + global_entries, vhost.children + global_children)
            formats = _formats(vhost.entries)
            for name, text in main_formats.items():
                formats.setdefault(name, text)
            server = self._server(merged, vhost, formats, (main, servers[0]))
            # UseIPv6 is process-wide in ProFTPD: the main server's setting
            servers.append(dataclasses.replace(server, use_ipv6=servers[0].use_ipv6))
        self._check_binds(servers, main)
        self._check_class_names(servers)
        self._check_users(servers)
        return tuple(servers)

    def _check_users(self, servers) -> None:
        """A server no one can log in to: Debian's stock proftpd.conf, say, relies on
        mod_auth_unix and PAM for system accounts, which ftpredis does not read."""
        for server in servers:
            if server.port and server.auth_user_file is None and not server.anonymous:
                self.warnings.append(
                    "%s has no AuthUserFile, and ftpredis does not read system accounts "
                    "(/etc/passwd, PAM): no user can log in to it"
                    % (server.label if not server.is_main else "the main server",))

    def _check_class_names(self, servers) -> None:
        """AllowClass/DenyClass naming no ``<Class>`` never match (ProFTPD says nothing)."""
        known = {c.name for c in self._classes}
        warned = set()
        for server in servers:
            scopes = [server] + list(server.directories) + list(server.anonymous)
            scopes += [d for a in server.anonymous for d in a.directories]
            for scope in scopes:
                for limit in scope.limits:
                    for directive, names in limit.rules:
                        if directive not in ("AllowClass", "DenyClass"):
                            continue
                        for name in names:
                            key = (directive, name, limit.source)
                            if name not in known and key not in warned:
                                warned.add(key)
                                self.warnings.append(
                                    "%s: no <Class> named '%s' (in the <Limit> on %s): it "
                                    "never matches" % (directive, name, limit.source))

    def _class_list(self, root: _Scope) -> tuple:
        """Every ``<Class>`` (server config and ``<Global>``), in reading order; ProFTPD
        keeps one list for all servers."""
        from ftpredis.config.model import ClassConfig

        def walk(scope):
            for c in scope.children:
                if c.kind == CLASS:
                    yield c
                elif c.kind in (GLOBAL, VHOST):
                    yield from walk(c)
        out, seen = [], set()
        for c in walk(root):
            acls = tuple(a for value, _ in c.all("From") for a in value)
            if not acls:
                self.warnings.append("<Class> %s on %s: empty <Class> definition"
                                     % (c.value, c.source))
            satisfy = c.first("Satisfy")
            if c.value in seen:
                self.warnings.append("<Class> %s on %s: a class of that name is already "
                                     "defined; the first one is used" % (c.value, c.source))
            seen.add(c.value)
            out.append(ClassConfig(c.value, acls, satisfy[0] if satisfy else "any",
                                   source=c.source))
        return tuple(out)

    def _server(self, m: "_Merged", vhost: Optional[_Scope], formats: Dict[str, str],
                parent) -> ServerConfig:
        kw = {"addresses": () if vhost is None else vhost.value,
              "classes": self._classes}
        if vhost is not None:
            kw["server_name"] = parent[1].server_name
        kw.update(_fill("server", m.first, m.all))
        kw["formats"] = formats
        kw["logging"] = self._scope_logging(m.entries, formats)

        insecure = m.first("AuthFileOptions") is not None
        for name, attr, reader in (("AuthUserFile", "auth_users", "read_auth_user_file"),
                                   ("AuthGroupFile", "auth_groups", "read_auth_group_file")):
            found = m.first(name)
            if found is not None:
                result = self._read_auth(reader, found[0], found[1], insecure)
                if result is not None:
                    kw[attr] = result
                    if attr == "auth_groups":
                        kw["auth_group_members"] = self._read_auth(
                            "read_auth_group_members", found[0], found[1], insecure)
        redis_log = m.first("RedisLog")
        if redis_log is not None and redis_log[0] is not None:
            self._check_redis_log(redis_log[0], redis_log[1],
                                  kw.get("allow_log_symlinks", False))
        system_log = m.first("SystemLog")
        if system_log is not None and system_log[0] is not None:
            self._check_redis_log(system_log[0], system_log[1],
                                  kw.get("allow_log_symlinks", False), "SystemLog")
        if vhost is None:
            self._check_prometheus(m, kw.get("allow_log_symlinks", False))
        kw["redis"] = self._redis_target(m, parent[0] if parent else None)
        kw["ban"] = self._ban(m, kw.get("allow_log_symlinks", False))
        from ftpredis.tls.settings import build_tls_config
        kw["tls"] = build_tls_config(
            m.first, lambda message, source: self.error(ConfigError(message, source)),
            self.warnings.append)

        from ftpredis.sftp.settings import build_sftp_config
        kw["sftp"] = build_sftp_config(
            m.first, m.all, lambda message, source: self.error(ConfigError(message, source)),
            self.warnings.append)

        kw["limits"] = _limits(m.children)
        kw["directories"] = tuple(self._directory(c, formats) for c in m.children
                                  if c.kind == DIR)
        kw["anonymous"] = tuple(self._anonymous(c, formats) for c in m.children
                                if c.kind == ANON)
        if kw.get("require_valid_shell", True) or any(
                a.require_valid_shell for a in kw["anonymous"]):
            kw["valid_shells"] = self._valid_shells()
        return ServerConfig(is_main=vhost is None, source=vhost.source if vhost else None,
                            **kw)

    def _scope_logging(self, entries, formats: Dict[str, str]) -> LogScope:
        rules, extras = [], []
        for d, value, source in entries:
            if d.name in _LOG_DIRECTIVES:
                rules.append(value)
            elif d.name == "RedisLogFormatExtra":
                extras.append(value)
            else:
                continue
            if value.format_name is not None and value.format_name not in formats:
                self.error(ConfigError("%s: no LogFormat '%s' configured"
                                       % (d.name, value.format_name), source))
        return LogScope(tuple(rules), tuple(extras))

    def _directory(self, scope: _Scope, formats) -> DirectoryConfig:
        return DirectoryConfig(scope.value, self._scope_logging(scope.entries, formats),
                               source=scope.source, limits=_limits(scope.children),
                               **_fill("directory", scope.first, scope.all))

    def _anonymous(self, scope: _Scope, formats) -> AnonymousConfig:
        return AnonymousConfig(
            root=scope.value, logging=self._scope_logging(scope.entries, formats),
            directories=tuple(self._directory(c, formats) for c in scope.children
                              if c.kind == DIR),
            source=scope.source, limits=_limits(scope.children),
            **_fill("anonymous", scope.first, scope.all))

    def _redis_target(self, m: "_Merged", main: Optional["_Merged"]) -> Optional[RedisTarget]:
        def found(name):
            hit = m.first(name)
            if hit is None and main is not None:
                hit = main.first(name)
            return hit

        def get(name, default=None):
            hit = found(name)
            return hit[0] if hit is not None else default

        server: Optional[RedisServerValue] = get("RedisServer")
        sentinel: Optional[RedisSentinelValue] = get("RedisSentinel")
        if server is None and sentinel is None:
            return None
        options = m.all("RedisOptions")
        if not options and main is not None:
            options = main.all("RedisOptions")
        connect, io = get("RedisTimeouts", (500, 500))
        kw = dict(connect_timeout_ms=connect, io_timeout_ms=io,
                  no_reconnect=bool(options), buffer_size=get("RedisBufferSize", 100000))
        # ProFTPD applies RedisSentinel first and RedisServer second, so the server's TLS
        # settings, when there is a RedisServer, are the ones in force.
        tls = server.tls if server is not None else sentinel.tls
        kw.update(ssl=bool(tls.ssl), ssl_ca=tls.ssl_ca, ssl_cert=tls.ssl_cert,
                  ssl_key=tls.ssl_key)
        if server is not None:
            kw.update(host=server.host, port=server.port, unix_path=server.unix_path,
                      username=server.username, password=server.password, db=server.db)
        if sentinel is not None:
            kw.update(sentinels=sentinel.sentinels, master_name=sentinel.master_name)
        kw["source"] = (found("RedisServer") or found("RedisSentinel"))[1]
        kw.update(_delivery(m, main, get))
        return RedisTarget(**kw)

    def _ban(self, m: "_Merged", allow_symlinks: bool):
        """mod_ban's directives as a :class:`BanConfig` (checked like ProFTPD at startup)."""
        from ftpredis.config.model import BanConfig
        engine = m.first("BanEngine")
        if engine is None or not engine[0]:
            return BanConfig()
        table = m.get("BanTable")
        if table is None:
            self.error(ConfigError("BanEngine: missing required BanTable configuration",
                                   engine[1]))
        cache = m.first("BanCache")
        cache_options = m.get("BanCacheOptions", frozenset())
        if cache is not None and cache[0] == "redis":
            if m.first("RedisServer") is None and m.first("RedisSentinel") is None:
                self.error(ConfigError("BanCache: redis needs RedisServer or RedisSentinel",
                                       cache[1]))
            if "UseJSON" not in cache_options:
                self.warnings.append("BanCache on %s: entries are always stored as JSON "
                                     "(BanCacheOptions UseJSON)" % (cache[1],))
        ban_log = m.first("BanLog")
        if ban_log is not None:
            from ftpredis.redis.redislog import check_redis_log_path
            reason = check_redis_log_path(ban_log[0], allow_symlinks)
            if reason is not None:
                self.error(ConfigError("BanLog: unable to use '%s': %s"
                                       % (ban_log[0], reason), ban_log[1]))
        return BanConfig(
            engine=True, table=table, cache=cache[0] if cache else None,
            use_json="UseJSON" in cache_options, match_server="MatchServer" in cache_options,
            match_any_server="MatchAnyServer" in m.get("BanOptions", frozenset()),
            message=m.get("BanMessage"), log=ban_log[0] if ban_log else None,
            rules=tuple(v for v, s in m.all("BanOnEvent")), source=engine[1])

    # -- things checked on disk -------------------------------------------------------

    def _read_auth(self, reader: str, path: str, source: Source, insecure: bool):
        key = (reader, path, insecure)
        if key not in self._auth_cache:
            from ftpredis.auth import portal as auth
            try:
                self._auth_cache[key] = getattr(auth, reader)(path, source,
                                                              insecure_perms=insecure)
            except ConfigError as e:
                if e.source is None:
                    e.source = source
                self.error(e)
                self._auth_cache[key] = None
        return self._auth_cache[key]

    def _check_redis_log(self, path: str, source: Source, allow_symlinks: bool,
                         directive: str = "RedisLog") -> None:
        key = (path, allow_symlinks)
        if key not in self._log_cache:
            from ftpredis.redis.redislog import check_redis_log_path
            self._log_cache[key] = check_redis_log_path(path, allow_symlinks)
        reason = self._log_cache[key]
        if reason is not None:
            self.error(ConfigError("%s: unable to use '%s': %s" % (directive, path, reason),
                                   source))

    def _check_prometheus(self, m: "_Merged", allow_symlinks: bool) -> None:
        """mod_prometheus's directives, read from the main server (server config only)."""
        log_path = m.first("PrometheusLog")
        if log_path is not None and log_path[0] is not None:
            self._check_redis_log(log_path[0], log_path[1], allow_symlinks, "PrometheusLog")
        engine = m.first("PrometheusEngine")
        if engine is not None and engine[0] and m.first("PrometheusExporter") is None:
            # mod_prometheus disables itself then, with a debug-level message only.
            self.warnings.append("PrometheusEngine on %s: no PrometheusExporter is "
                                 "configured, so no exporter runs (mod_prometheus "
                                 "disables itself too)" % (engine[1],))

    def _valid_shells(self) -> Tuple[str, ...]:
        if self._shells is None:
            try:
                with open(self.shells_file, encoding="utf-8", errors="replace") as f:
                    shells = [line.strip() for line in f]
                self._shells = tuple(s for s in shells if s and not s.startswith("#"))
            except OSError as e:
                # getusershell(3) falls back to these two when the file is missing.
                self.warnings.append("RequireValidShell: unable to read '%s': %s; using "
                                     "/bin/sh and /bin/csh" % (self.shells_file, e.strerror))
                self._shells = ("/bin/sh", "/bin/csh")
        return self._shells

    def _check_binds(self, servers, main: "_Merged") -> None:
        used: Dict[tuple, Tuple[ServerConfig, Optional[Source]]] = {}
        main_source = None
        for name in ("DefaultAddress", "Port"):
            found = main.first(name)
            if found is not None and found[1] is not None:
                main_source = found[1]
                break
        for server in servers:
            if server.port == 0:
                continue
            source = server.source if not server.is_main else main_source
            for address in server.addresses or ("0.0.0.0",):
                key = (_normal_address(address), server.port)
                if key in used:
                    other, other_source = used[key]
                    where = (" on %s" % other_source) if other_source else ""
                    self.error(ConfigError(
                        "%s: address %s port %d is already used by %s%s"
                        % ("<VirtualHost>" if not server.is_main else "DefaultAddress",
                           address, server.port, _server_name(other), where), source))
                else:
                    used[key] = (server, source)
        self._check_exporter_bind(used, main)

    def _check_exporter_bind(self, used, main: "_Merged") -> None:
        """The exporter's address is no server's: both would bind it, and the second
        would fail when ftpredis starts (an SFTP <VirtualHost> on the exporter's port
        is the likely slip)."""
        engine, exporter = main.first("PrometheusEngine"), main.first("PrometheusExporter")
        if not (engine and engine[0] and exporter and exporter[0]):
            return
        (ip, port), source = exporter
        wildcards = ("0.0.0.0", "::")
        for (address, server_port), (server, server_source) in used.items():
            if server_port == port and (address == ip or address in wildcards
                                        or ip in wildcards):
                where = (" (%s)" % server_source) if server_source else ""
                self.error(ConfigError(
                    "PrometheusExporter: address %s port %d is already used by %s%s"
                    % (ip, port, _server_name(server), where), source))
                return


class _Merged:
    """A server's own entries followed by the <Global> ones (first match wins)."""

    def __init__(self, entries, children):
        self.entries = entries
        self.children = children

    def first(self, name):
        for d, value, source in self.entries:
            if d.name == name:
                return value, source
        return None

    def get(self, name, default=None):
        found = self.first(name)
        return found[0] if found is not None else default

    def all(self, *names):
        return [(value, source) for d, value, source in self.entries if d.name in names]


def _delivery(m: "_Merged", main: Optional["_Merged"], get) -> dict:
    """RedisLogTarget, RedisSpool, RedisSpoolSync (ftpredis.config.args_delivery) for a
    RedisTarget; a <VirtualHost>'s RedisLogTarget for a key overrides the main's."""
    rules = {}
    for source in ((main,) if main is not None else ()) + (m,):
        for value, _where in source.all("RedisLogTarget"):
            rules[value.key] = value
    spool = get("RedisSpool")
    out = dict(log_targets=tuple(rules.values()), spool_sync=get("RedisSpoolSync", "everysec"))
    if spool is not None:
        out.update(spool_dir=spool[0], spool_max_bytes=spool[1])
    return out


def _fill(model: str, first, all_) -> dict:
    """The model fields the table's rows fill for ``model``, from one context's entries:
    the first occurrence of a single-valued directive, every one of a repeated one."""
    kw = {}
    for d in TABLE:
        spec = d.field_for(model)
        if spec is None:
            continue
        if d.multi:
            values = all_(d.name)
            if values:
                kw[spec] = tuple(v for v, s in values)
            continue
        found = first(d.name)
        if found is None:
            continue
        names = spec.split(",")
        if len(names) == 1:
            kw[spec] = found[0]
        else:
            kw.update(zip(names, found[0]))
    return kw


def _formats(entries) -> Dict[str, str]:
    formats: Dict[str, str] = {}
    for d, value, source in entries:
        if d.name == "LogFormat":
            formats.setdefault(value[0], value[1])
    return formats


def _unknown_hint(name: str, directive) -> Optional[str]:
    """What to say after "unknown configuration directive": the module whose directive it
    is (the reader has dealt with those ProFTPD has loaded), else the nearest of ours."""
    if directive is not None:
        return None
    modules = unprovided_modules(name)
    if modules:
        return ("a directive of %s, which no LoadModule line above it loads (and which "
                "ftpredis does not provide)" % " or ".join(modules))
    near = suggest(name)
    return near and "did you mean %s?" % (near,)


def _canonical_open(name: str) -> str:
    directive = lookup(name)
    return directive.name if directive is not None else name


def _canonical_close(name: str) -> str:
    directive = lookup("<" + name[2:])
    return "</" + directive.name[1:] if directive is not None else name


def _normal_address(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.strip("[]")))
    except ValueError:
        return address.lower()


def _server_name(server: ServerConfig) -> str:
    if server.is_main:
        return "main server"
    return "<VirtualHost %s>" % " ".join(server.addresses)


def _describe(server: ServerConfig) -> str:
    if server.is_main:
        return "main server %s:%d" % (" ".join(server.addresses) or "*", server.port)
    return "<VirtualHost %s>:%d" % (" ".join(server.addresses), server.port)


# --------------------------------------------------------------------------- public API

def load_config(path: str, defines: Iterable[str] = (), environ=None,
                shells_file: str = SHELLS_FILE) -> Config:
    """Read ``path`` into a :class:`Config`; raise :class:`ConfigErrors` with every error.

    ``defines`` are the names given with ``-D`` (for ``<IfDefine>``); ``environ`` the
    environment ``%{env:NAME}`` reads (default :data:`os.environ`).
    """
    reader = read_config(path, defines, environ, turns_module_off, unprovided_modules)
    builder = _Builder(path, defines, environ, shells_file)
    builder.warnings.extend(reader.warnings)
    if len(reader.errors) == 1 and reader.errors[0].source is None and not reader.lines:
        raise ConfigErrors(reader.errors)      # the file itself could not be read
    root = builder.build_tree(reader.lines)
    servers = builder.build(root)
    if reader.errors or builder.errors:
        # Report in reading order: a reader error before the line read after it, a
        # builder error at the position of the line it names (the end if none).
        position = {line.source: i for i, line in enumerate(reader.lines)}
        keyed = [((pos, 0), e) for pos, e in zip(reader.error_positions, reader.errors)]
        keyed += [((position.get(e.source, len(position)), 1), e) for e in builder.errors]
        keyed.sort(key=lambda item: item[0])
        raise ConfigErrors([e for key, e in keyed])
    return Config(path=path, servers=servers, warnings=tuple(builder.warnings))


def _count_rules(config: Config) -> int:
    seen = set()

    def add(scope: LogScope):
        for rule in scope.rules:
            seen.add((rule.source, rule.directive, rule.format_name))

    for server in config.servers:
        add(server.logging)
        for d in server.directories:
            add(d.logging)
        for a in server.anonymous:
            add(a.logging)
            for d in a.directories:
                add(d.logging)
    return len(seen)


def run_as(config) -> Tuple[Optional[int], Optional[int]]:
    """``(uid, gid)`` named by the main server's User/Group (None where not given);
    raises ConfigErrors for an unknown name."""
    import grp
    import pwd

    main = config.servers[0]
    uid = gid = None
    errors = []
    if main.run_user is not None:
        try:
            entry = (pwd.getpwuid(int(main.run_user)) if main.run_user.isdigit()
                     else pwd.getpwnam(main.run_user))
            uid, gid = entry.pw_uid, entry.pw_gid
        except (KeyError, ValueError):
            errors.append(ConfigError("User: no such user '%s' in %s"
                                      % (main.run_user, config.path)))
    if main.run_group is not None:
        try:
            gid = (grp.getgrgid(int(main.run_group)) if main.run_group.isdigit()
                   else grp.getgrnam(main.run_group)).gr_gid
        except (KeyError, ValueError):
            errors.append(ConfigError("Group: no such group '%s' in %s"
                                      % (main.run_group, config.path)))
    if errors:
        raise ConfigErrors(errors)
    return uid, gid


def _entry_warnings(config, identity=(None, None)) -> List[str]:
    """``--check`` only (it reads every home): logins the account the server will run as
    could not start, because it cannot enter the directory they start in.  ``identity``:
    twistd's ``--uid``/``--gid``, which win over User/Group when either is given (as at
    start, ftpredis.app.tap)."""
    import os

    from ftpredis.auth.portal import Account, unenterable
    uid, gid = run_as(config)
    if identity[0] is not None or identity[1] is not None:
        uid, gid = identity
    if uid is None and os.geteuid() == 0:
        return []       # it will run as root (and warns so at start): root enters anything
    if uid is None:
        uid = os.geteuid()
    if gid is None:
        gid = os.getegid()
    account = Account.of(uid, gid)
    out = []
    for server in config.servers:
        where = "the main server" if server.is_main else server.label
        out += ["%s: %s; that login will be refused" % (where, line)
                for line in unenterable(server, account)]
    return out


def format_check_report(config_or_errors, defines: Iterable[str] = (),
                        identity=(None, None)) -> Tuple[int, str]:
    """``(exit code, text)`` for ``twistd ftpredis --check``; ``identity``: twistd's
    ``(--uid, --gid)``, None where not given.

    Takes a :class:`Config`, a :class:`ConfigErrors` (or one :class:`ConfigError`), or a
    path, which is then loaded with ``defines``.  Errors: one per line, exit 1.  Valid:
    the warnings, then a one-line summary, exit 0.
    """
    if isinstance(config_or_errors, str):
        try:
            config_or_errors = load_config(config_or_errors, defines)
        except ConfigErrors as e:
            config_or_errors = e
    if isinstance(config_or_errors, ConfigError):
        config_or_errors = ConfigErrors([config_or_errors])
    entry: List[str] = []
    if not isinstance(config_or_errors, ConfigErrors):
        try:
            entry = _entry_warnings(config_or_errors, identity)
        except ConfigErrors as e:
            config_or_errors = e
    if isinstance(config_or_errors, ConfigErrors):
        return 1, "".join("%s\n" % (e,) for e in config_or_errors.errors)
    config = config_or_errors
    lines = ["warning: %s" % w for w in list(config.warnings) + entry]
    n = len(config.servers)
    rules = _count_rules(config)
    lines.append("Syntax OK: %d server%s (%s), %d log rule%s"
                 % (n, "" if n == 1 else "s", ", ".join(_describe(s) for s in config.servers),
                    rules, "" if rules == 1 else "s"))
    return 0, "\n".join(lines) + "\n"
