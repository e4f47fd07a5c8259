# -*- test-case-name: tests.test_config -*-
"""The parsed configuration: plain immutable objects, one :class:`ServerConfig` per server.

This module owns the shape of a configuration once the text is gone.  The parser
(:mod:`ftpredis.config.syntax`, :mod:`ftpredis.config.directives`) builds these objects;
everything downstream (service, protocol, router, sink) reads only them.  ``<Global>`` is
already merged into every server: a server's own single-valued directive wins over the
Global one, multi-valued ones (log rules) from both apply, the server's own first.

Every object that came from a line of text keeps its :class:`Source` so that a later
error (a RedisLog that cannot be opened, an AuthUserFile with loose permissions) can name
the file and line at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import FrozenSet, Mapping, Optional, Pattern, Tuple


#: BusyPoll's default (microseconds); ftpredis.app.reactor applies it.
DEFAULT_BUSY_POLL_US = 100

@dataclass(frozen=True, slots=True)
class Source:
    file: str
    line: int

    def __str__(self) -> str:
        return "line %d of '%s'" % (self.line, self.file)


@dataclass(frozen=True, slots=True)
class LogRule:
    """One ``RedisLogOnCommand`` / ``RedisLogOnEvent`` line.

    ``commands`` holds upper-cased names from :data:`ftpredis.records.events.KNOWN_COMMANDS`;
    ``classes`` the class words that were given (``ALL``, ``CONNECT``, ``DISCONNECT``,
    ``INFO``, ``READ``...).  For RedisLogOnCommand the only class words kept are ``ALL``,
    ``CONNECT`` and ``DISCONNECT`` (documented behaviour: doc/decisions.rst,
    "RedisLogOnCommand ALL" and "RedisLogOnCommand CONNECT,DISCONNECT").  ``none`` is the
    ``RedisLogOn* none`` form, which logs nothing and prunes its scope after login.
    """

    directive: str                      # "RedisLogOnCommand" or "RedisLogOnEvent"
    commands: frozenset = frozenset()
    classes: frozenset = frozenset()
    format_name: Optional[str] = None   # None only for the "none" form
    key_template: Optional[str] = None  # None: the key is the format name
    none: bool = False
    source: Optional[Source] = None


@dataclass(frozen=True, slots=True)
class FormatExtra:
    """One ``RedisLogFormatExtra name {json}`` line; ``members`` keeps the object's order.

    Values are ``str`` (a LogFormat template), ``int``/``float``, ``bool`` or ``None``;
    array and object members are already dropped, as ProFTPD drops them.
    """

    format_name: str
    members: Tuple[Tuple[str, object], ...]
    source: Optional[Source] = None


@dataclass(frozen=True, slots=True)
class LogScope:
    """The logging directives of one context (server, <Anonymous> or <Directory>)."""

    rules: Tuple[LogRule, ...] = ()
    extras: Tuple[FormatExtra, ...] = ()


@dataclass(frozen=True, slots=True)
class ClassConfig:
    """One ``<Class name>``: its From rules (:class:`ftpredis.config.netacl.NetAcl`, every
    From line's in order) and ``Satisfy`` (``any``/``all``).  Classes are global, as in
    ProFTPD: every server gets the same list, in config order."""

    name: str
    acls: tuple = ()
    satisfy: str = "any"
    source: Optional[Source] = None


@dataclass(frozen=True, slots=True)
class LimitConfig:
    """One ``<Limit cmd|class ...>`` section: which commands it covers and its rules.

    ``commands`` holds upper-cased command names (aliases folded: XMKD -> MKD,
    ``SITE_CHMOD``) and the class words ``READ``, ``WRITE``, ``DIRS``, ``LOGIN``, ``ALL``.
    ``rules`` keeps the AllowAll/DenyAll/AllowUser/DenyUser/AllowGroup/DenyGroup/Allow/Deny
    lines in order as ``(directive, names)`` (for Allow/Deny: the line's
    :class:`ftpredis.config.netacl.NetAcl` rules); ``order`` is ``Order``'s value (ProFTPD's default
    ``allow,deny``).
    """

    commands: frozenset
    rules: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    order: str = "allow,deny"
    source: Optional[Source] = None


@dataclass(frozen=True, slots=True)
class DirectoryConfig:
    path: str                           # absolute, may end in /* or contain ~ (already expanded)
    logging: LogScope = LogScope()
    umask: Optional[int] = None
    allow_overwrite: Optional[bool] = None
    source: Optional[Source] = None
    limits: Tuple[LimitConfig, ...] = ()      # <Limit> sections inside (added by the ftp helper)
    hide_files: Optional[str] = None          # HideFiles regex ("none" = None)
    list_options: Optional[Tuple[ListOptions, ...]] = None   # None: the parent's


@dataclass(frozen=True, slots=True)
class AnonymousConfig:
    root: str
    user: Optional[str] = None
    group: Optional[str] = None
    user_aliases: Tuple[Tuple[str, str], ...] = ()   # (alias, user)
    logging: LogScope = LogScope()
    umask: Optional[int] = None               # added by the config helper
    allow_overwrite: Optional[bool] = None    # added by the config helper
    directories: Tuple[DirectoryConfig, ...] = ()
    source: Optional[Source] = None
    limits: Tuple[LimitConfig, ...] = ()      # <Limit> sections directly inside
    hide_files: Optional[str] = None
    list_options: Optional[Tuple[ListOptions, ...]] = None   # None: the server's
    display_login: Optional[str] = None
    allow_filter: Optional[Pattern] = None    # AllowFilter (its own, else the server's)
    deny_filter: Optional[Pattern] = None     # DenyFilter (its own, else the server's)
    access_grant_msg: Optional[str] = None    # AccessGrantMsg (its own, else the server's)
    access_deny_msg: Optional[str] = None     # AccessDenyMsg (its own, else the server's)
    anon_reject_passwords: Optional[Tuple[str, bool]] = None   # (regex, negated with !)
    require_valid_shell: Optional[bool] = None    # None: the server's RequireValidShell
    show_symlinks: Optional[bool] = None          # None: the server's ShowSymlinks


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """Where records go; servers with equal targets share one sink and one pool."""

    host: Optional[str] = None          # DNS name or IP; None with a unix socket or sentinels only
    port: int = 6379
    unix_path: Optional[str] = None     # RedisServer /path/redis.sock
    username: Optional[str] = None
    password: Optional[str] = None
    db: Optional[int] = None
    ssl: bool = False
    ssl_ca: Optional[str] = None
    ssl_cert: Optional[str] = None
    ssl_key: Optional[str] = None
    sentinels: Tuple[Tuple[str, int], ...] = ()
    master_name: Optional[str] = None
    connect_timeout_ms: int = 500
    io_timeout_ms: int = 500
    no_reconnect: bool = False
    buffer_size: int = 100000
    # RedisLogTarget rules (by the key as written in RedisLogOn*), RedisSpool, RedisSpoolSync
    log_targets: Tuple["LogTarget", ...] = ()
    spool_dir: Optional[str] = None
    spool_max_bytes: Optional[int] = None       # None: ftpredis.redis.spool's default
    spool_sync: str = "everysec"
    # where RedisServer (else RedisSentinel) is, for messages; not part of what makes two
    # targets the same sink
    source: Optional[Source] = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class LogTarget:
    """``RedisLogTarget KEY list|stream|channel [maxlen N] [expire SECONDS]``: how records
    for ``key`` (as written in RedisLogOnCommand/RedisLogOnEvent) are written
    (ftpredis.redis.ledger)."""

    key: str
    kind: str = "list"
    maxlen: int = 0                     # 0: no trimming
    expire: int = 0                     # seconds; 0: no TTL
    source: Optional[Source] = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ListOptions:
    """One ``ListOptions`` line (mod_ls): ``-``/``+`` ls options that LIST, NLST and
    STAT run with after the client's own (``strict``: instead of them), and limits on
    how much one listing shows.  ftpredis.ftp.lsoptions applies it."""

    options: str                        # "-l", "-a +R"...: as written
    strict: bool = False                # the client's options are skipped
    max_depth: int = 0                  # 0: no limit (as configured; mod_ls adds one)
    max_files: int = 0
    max_dirs: int = 0
    list_only: bool = False             # LISTOnly: for LIST alone
    nlst_only: bool = False             # NLSTOnly: for NLST alone
    no_error_if_absent: bool = False    # NoErrorIfAbsent: 226 for a missing path
    source: Optional[Source] = None


@dataclass(frozen=True, slots=True)
class AuthUser:
    """One line of an AuthUserFile (ftpasswd format)."""

    name: str
    hash: str
    uid: int
    gid: int
    gecos: str
    home: str
    shell: str


@dataclass(frozen=True, slots=True)
class BanRule:
    """One ``BanOnEvent event count/hh:mm:ss hh:mm:ss ["message"]`` line (mod_ban)."""

    event: str                          # canonical event name ("MaxLoginAttempts")
    count: int                          # occurrences that trigger the ban
    window: int                         # seconds in which they must occur
    expires: int                        # seconds the ban lasts
    message: Optional[str] = None       # overrides BanMessage for this rule
    source: Optional[Source] = None


@dataclass(frozen=True, slots=True)
class BanConfig:
    """ProFTPD mod_ban's directives for one server (``<Global>`` merged)."""

    engine: bool = False
    table: Optional[str] = None             # BanTable (ftpredis: the in-memory table)
    cache: Optional[str] = None             # BanCache: "redis" or None
    use_json: bool = False                  # BanCacheOptions UseJSON
    match_server: bool = False              # BanCacheOptions MatchServer
    match_any_server: bool = False          # BanOptions MatchAnyServer
    message: Optional[str] = None           # BanMessage (%a %c %u)
    log: Optional[str] = None               # BanLog (absolute path)
    rules: Tuple[BanRule, ...] = ()
    source: Optional[Source] = None         # the BanEngine line


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """One server: the main server or one ``<VirtualHost>``, with ``<Global>`` merged in."""

    is_main: bool
    source: Optional[Source]                 # the <VirtualHost> line; None for the main server
    addresses: Tuple[str, ...]               # as written (<VirtualHost> args / DefaultAddress)
    port: int = 21                           # 0 disables the server
    server_name: str = "ProFTPD"
    server_ident: Tuple[bool, Optional[str]] = (True, None)   # ServerIdent on|off ["text"]

    # authentication and file system
    auth_user_file: Optional[str] = None
    auth_group_file: Optional[str] = None
    auth_users: Tuple[AuthUser, ...] = ()    # read and checked at parse time
    auth_groups: Mapping[int, str] = field(default_factory=dict)   # gid -> group name
    # user name -> the gids of the AuthGroupFile groups listing it as a member
    auth_group_members: Mapping[str, Tuple[int, ...]] = field(default_factory=dict)
    default_root: Optional[str] = None       # "~" or an absolute path
    require_valid_shell: bool = True
    show_symlinks: bool = True          # ShowSymlinks (mod_ls, mod_facts, mod_core's CWD)
    valid_shells: Tuple[str, ...] = ()       # from /etc/shells, read at parse time
    create_home: bool = False
    create_home_mode: int = 0o700            # CreateHome on [mode] (added by the config helper)
    umask: int = 0o022
    allow_overwrite: bool = False
    allow_log_symlinks: bool = False
    anonymous: Tuple[AnonymousConfig, ...] = ()
    directories: Tuple[DirectoryConfig, ...] = ()
    run_user: Optional[str] = None           # server-level User / Group: the account to
    run_group: Optional[str] = None          # run as (added by the config helper)

    # FTP behaviour
    passive_ports: Optional[Tuple[int, int]] = None
    masquerade_address: Optional[str] = None
    max_clients: Optional[Tuple[int, Optional[str]]] = None              # (N, message)
    max_clients_per_host: Optional[Tuple[int, Optional[str]]] = None     # (N, message)
    max_instances: Optional[int] = None
    max_clients_per_user: Optional[Tuple[int, Optional[str]]] = None     # (N, message)
    max_connections_per_host: Optional[Tuple[int, Optional[str]]] = None  # (N, message)
    root_login: bool = False                 # RootLogin: may uid 0 log in
    max_login_attempts: int = 3
    command_buffer_size: int = 4096
    server_workers: int = 1                  # ServerWorkers (ftpredis.app.workers), main server
    busy_poll: int = DEFAULT_BUSY_POLL_US    # BusyPoll microseconds (ftpredis.app.reactor)
    max_command_rate: Optional[Tuple[int, int]] = None   # MaxCommandRate (count, seconds)
    timeout_idle: int = 600
    timeout_login: int = 300
    timeout_no_transfer: int = 300
    timeout_stalled: int = 3600
    allow_store_restart: bool = False        # APPE and REST+STOR (ProFTPD default off)
    allow_retrieve_restart: bool = True      # REST+RETR (default on)
    allow_foreign_address: bool = False      # PORT/EPRT to another host
    use_ipv6: bool = True                    # UseIPv6: EPRT/EPSV protocol 2 (main's)
    # mod_proxy_protocol (ftpredis.proxy): the control connection's PROXY header
    proxy_protocol_engine: bool = False
    proxy_protocol_version: int = 1          # ProxyProtocolVersion haproxyV1 / haproxyV2
    proxy_protocol_timeout: int = 3          # seconds; 0: no limit
    proxy_protocol_options: FrozenSet[str] = frozenset()
    proxy_protocol_ignore: bool = False
    display_login: Optional[str] = None      # file shown in the 230 reply
    list_options: Tuple[ListOptions, ...] = ()   # ListOptions lines, in config order
    allow_filter: Optional[Pattern] = None   # AllowFilter: arguments must match it
    deny_filter: Optional[Pattern] = None    # DenyFilter: arguments must not match it
    access_grant_msg: Optional[str] = None   # AccessGrantMsg: the 230 text ("%u": user)
    access_deny_msg: Optional[str] = None    # AccessDenyMsg: the refused login's 530 text
    limits: Tuple[LimitConfig, ...] = ()     # server-level <Limit> sections
    classes: Tuple[ClassConfig, ...] = ()    # every <Class>, in config order

    # logging
    formats: Mapping[str, str] = field(default_factory=dict)   # LogFormat name -> format text
    redis_engine: bool = False
    redis_log: Optional[str] = None          # absolute path, or None ("none" / not given)
    system_log: Optional[str] = None         # SystemLog: the session log (main server only)
    redis: Optional[RedisTarget] = None
    logging: LogScope = LogScope()           # server-level RedisLogOn* / RedisLogFormatExtra
    ban: BanConfig = BanConfig()             # mod_ban (ftpredis.ban.bans)
    tls: Optional[object] = None             # mod_tls: ftpredis.tls.ftps.TLSConfig, None without
    sftp: Optional[object] = None            # mod_sftp: ftpredis.sftp.settings.SFTPConfig

    # mod_prometheus (ftpredis.metrics); server config context only: the main server's
    prometheus_engine: bool = False
    prometheus_exporter: Optional[Tuple[str, int]] = None    # (ip, port)
    prometheus_log: Optional[str] = None     # absolute path, or None ("none" / not given)
    prometheus_tables: Optional[str] = None  # accepted, not used
    prometheus_options: frozenset = frozenset()     # PrometheusOptions words

    # mod_unique_id (ftpredis.records.identity): a UNIQUE_ID per session
    unique_id_engine: bool = True

    @property
    def label(self) -> str:
        """How messages name this server: "main server" or "<VirtualHost 1.2.3.4> (line N of 'f')"."""
        if self.is_main:
            return "main server"
        return "<VirtualHost %s> (%s)" % (" ".join(self.addresses), self.source)


@dataclass(frozen=True, slots=True)
class Config:
    path: str
    servers: Tuple[ServerConfig, ...]        # main server first (even when its Port is 0)
    warnings: Tuple[str, ...] = ()


class ConfigError(Exception):
    """One problem in a config file, with where it is, and ``hint``: what would fix it
    (said after the place, so that the message up to the place stays ProFTPD's)."""

    def __init__(self, message: str, source: Optional[Source] = None,
                 hint: Optional[str] = None):
        Exception.__init__(self, message)
        self.message = message
        self.source = source
        self.hint = hint

    def __str__(self) -> str:
        text = self.message if self.source is None else "%s on %s" % (self.message,
                                                                       self.source)
        return text if self.hint is None else "%s; %s" % (text, self.hint)


class ConfigErrors(Exception):
    """Every problem found in a config file (the parser reports all of them, not the first)."""

    def __init__(self, errors):
        self.errors = tuple(errors)
        Exception.__init__(self, "\n".join(str(e) for e in self.errors))
