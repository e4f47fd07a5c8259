# -*- test-case-name: tests.test_config -*-
"""The table of every configuration directive ftpredis knows.

This module owns *what a directive may look like*: its canonical spelling, where it may
stand, how many arguments it takes, how its arguments become a value, whether it may
repeat and whether it has any effect in ftpredis at all.  :data:`TABLE` is the only
list of directives: the builder in :mod:`ftpredis.config` looks every line up in it (an
unknown or misplaced directive is therefore an error by construction), ``--check``
reports from it, and :func:`directive_reference` renders it for the documentation.

The argument parsers live beside it, one module per idea: :mod:`~ftpredis.config.args_core`
(plain values, servers, file system), :mod:`~ftpredis.config.args_access` (sections and
``<Limit>``), :mod:`~ftpredis.config.args_redis` (mod_redis and the logging rules),
:mod:`~ftpredis.config.args_ban` (mod_ban), :mod:`~ftpredis.config.args_prometheus`
(mod_prometheus), :mod:`~ftpredis.config.args_proxy` (mod_proxy_protocol); the mod_tls ones are here, over
:mod:`ftpredis.tls.settings`.  Their public names are re-exported from here.

Where ftpredis deliberately differs from ProFTPD 1.3.8 (doc/decisions.rst), the parser
says so in a comment; README.rst lists the differences for users.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from ftpredis.config.args_core import (  # noqa: F401 (re-exported)
    SERVER, VHOST, GLOBAL, ANON, DIR, LIMIT, DirectiveError, ParseContext, _boolean,
    p_bool, p_word, p_words, p_path, p_ignored, _int, p_port, p_nonneg, p_positive,
    p_busy_poll, p_command_buffer_size, p_max_instances, p_max_with_message,
    p_anon_reject_passwords, p_server_ident, p_umask, p_create_home, p_auth_file_options,
    p_default_root, p_log_format, p_redis_log, p_passive_ports, p_user_alias,
    p_load_module, p_list_options, p_display_path, _SVG, _SV, _S, _SVGA, _SVGAD, _ANY,
)
from ftpredis.config.args_access import (  # noqa: F401 (re-exported)
    LIMIT_CLASSES, LIMIT_COMMANDS, CLASS, p_limit, p_limit_users, p_allow_deny, p_order,
    p_class, p_from, p_satisfy, p_hide_files, p_command_filter,
    p_virtual_host, p_global, p_directory, p_anonymous,
)
from ftpredis.config.args_redis import (  # noqa: F401 (re-exported)
    EVENT_CLASSES, COMMAND_CLASSES, TLSOptions, RedisServerValue, RedisSentinelValue,
    parse_redis_address, p_redis_server, p_redis_sentinel, p_redis_timeouts,
    p_redis_options, p_log_on_command, p_log_on_event, p_format_extra,
)
from ftpredis.config.args_ban import (  # noqa: F401 (re-exported)
    BAN_EVENTS, p_ban_on_event, p_ban_cache, p_ban_cache_options, p_ban_options,
    p_ban_table, p_max_command_rate,
)
from ftpredis.config.args_proxy import (  # noqa: F401 (re-exported)
    PROXY_OPTIONS, p_proxy_protocol_version, p_proxy_protocol_timeout,
    p_proxy_protocol_options,
)
from ftpredis.config.args_prometheus import (  # noqa: F401 (re-exported)
    DEFAULT_EXPORTER_PORT, p_prometheus_exporter, p_prometheus_log, p_prometheus_options,
    p_prometheus_tables,
)
from ftpredis.config.args_delivery import p_log_target, p_spool, p_spool_sync
from ftpredis.config.unprovided import modules_of
from ftpredis.config.args_sftp import (  # noqa: F401 (re-exported)
    SFTP_UNSUPPORTED, p_sftp_ciphers, p_sftp_digests, p_sftp_key_exchanges,
    p_sftp_host_key, p_sftp_auth_methods, p_sftp_authorized_keys, p_sftp_compression,
    p_sftp_options, p_sftp_max_channels, p_sftp_log, p_sftp_client_match,
)
from ftpredis.config.model import DEFAULT_BUSY_POLL_US


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
    # How the value reaches the model.  ``fills``: ((model, field), ...) with model one of
    # MODELS' values and field a field name ("a,b": the value is a tuple filling both);
    # the builder copies the value there, nothing else does.  ``built_by``: instead, the
    # builder step that assembles it (Redis target, ban config, logging scopes...).
    # ``ignored_in``: ((context, reason), ...) where it is accepted without effect.
    fills: Tuple[Tuple[str, str], ...] = ()
    built_by: str = ""
    ignored_in: Tuple[Tuple[str, str], ...] = ()

    def field_for(self, model: str) -> Optional[str]:
        """The field spec this directive fills in ``model``, or None."""
        for m, spec in self.fills:
            if m == model:
                return spec
        return None


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


def p_tls_verify_server(args, ctx):
    # NoReverseDNS only changes which names mod_tls compares, and 1.3.8 acts on no
    # name mismatch: the chain is verified either way.
    return args[0].lower() == "noreversedns" or _boolean(args[0])


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

#: Which model object a context's directives fill.
MODELS = {SERVER: "server", VHOST: "server", GLOBAL: "server", ANON: "anonymous",
          DIR: "directory", LIMIT: "limit"}
_REDIS = "the Redis target (RedisTarget; a <VirtualHost> without one inherits the main's)"
_LOGGING = "the logging scope of its context (LogScope)"
_BAN = "the ban config (BanConfig), checked as a whole"
_LIMIT_RULES = "the rules of its <Limit> (LimitConfig.rules), in order"
_CLASSES = "the <Class> list (ServerConfig.classes), in config order"
_TLS = "the TLS config (ftpredis.tls.settings.build_tls_config), checked as a whole"
_SFTP = "the SFTP config (ftpredis.sftp.settings.build_sftp_config), checked as a whole"


def _d(name, contexts, min_args, max_args, parse, doc, field=None, ignored_in=None, **kw):
    """A table row; ``field`` is a field name for every model the contexts fill, or a
    ``{model: field}`` dict."""
    contexts = frozenset(contexts)
    ignored = dict(ignored_in or {})
    if isinstance(field, str):
        models = sorted({MODELS[c] for c in contexts if c not in ignored})
        field = {m: field for m in models}
    fills = tuple(sorted((field or {}).items()))
    return Directive(name, contexts, min_args, max_args, parse, doc, fills=fills,
                     ignored_in=tuple(sorted(ignored.items())), **kw)


def _built(how: str, rows) -> tuple:
    """``rows`` with ``built_by=how``: a block of rows one builder step assembles."""
    return tuple(dataclasses.replace(d, built_by=how) for d in rows)


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
       "AllowAll, DenyAll, AllowUser, DenyUser, AllowGroup, DenyGroup, AllowClass, "
       "DenyClass, Allow, Deny and Order may stand inside.", section=True,
       usage="cmd|class..."),
    _d("AllowAll", frozenset({LIMIT}), 0, 0, p_ignored, "Allow everyone (inside <Limit>).",
       usage="",
       built_by=_LIMIT_RULES),
    _d("DenyAll", frozenset({LIMIT}), 0, 0, p_ignored, "Deny everyone (inside <Limit>).",
       usage="",
       built_by=_LIMIT_RULES),
    _d("AllowUser", frozenset({LIMIT}), 1, None, p_limit_users,
       "Allow these users (inside <Limit>).", multi=True, usage="user[,user...]",
       built_by=_LIMIT_RULES),
    _d("DenyUser", frozenset({LIMIT}), 1, None, p_limit_users,
       "Deny these users (inside <Limit>).", multi=True, usage="user[,user...]",
       built_by=_LIMIT_RULES),
    _d("AllowGroup", frozenset({LIMIT}), 1, None, p_limit_users,
       "Allow these groups (inside <Limit>).", multi=True, usage="group[,group...]",
       built_by=_LIMIT_RULES),
    _d("DenyGroup", frozenset({LIMIT}), 1, None, p_limit_users,
       "Deny these groups (inside <Limit>).", multi=True, usage="group[,group...]",
       built_by=_LIMIT_RULES),
    _d("Allow", frozenset({LIMIT}), 1, None, p_allow_deny,
       "Allow these client addresses (inside <Limit>): all, none, IPv4/IPv6 addresses, "
       "CIDR networks (10.0.0.0/8, 2001:db8::/32), prefixes ending in a dot (192.168.1.) "
       "and IP globs; a leading ! negates an entry as ProFTPD 1.3.8 does (the line then "
       "never matches).  DNS names never match (UseReverseDNS off).  Behind "
       "ProxyProtocolEngine the proxied client's address is judged.", multi=True,
       usage="[from] all|none|address|network[,...]", built_by=_LIMIT_RULES),
    _d("Deny", frozenset({LIMIT}), 1, None, p_allow_deny,
       "Deny these client addresses (inside <Limit>); the same forms as Allow.",
       multi=True, usage="[from] all|none|address|network[,...]", built_by=_LIMIT_RULES),
    _d("AllowClass", frozenset({LIMIT}), 1, None, p_limit_users,
       "Allow clients of these <Class> names (inside <Limit>).", multi=True,
       usage="class[,class...]", built_by=_LIMIT_RULES),
    _d("DenyClass", frozenset({LIMIT}), 1, None, p_limit_users,
       "Deny clients of these <Class> names (inside <Limit>).", multi=True,
       usage="class[,class...]", built_by=_LIMIT_RULES),
    _d("<Class>", frozenset({SERVER, GLOBAL}), 1, 1, p_class,
       "A named class of client addresses (From lines): a client belongs to the first "
       "class it satisfies, for AllowClass/DenyClass, %c and mod_ban's class bans.",
       section=True, usage="name"),
    _d("From", frozenset({CLASS}), 1, None, p_from,
       "Addresses of the class (inside <Class>): the same forms as Allow.", multi=True,
       usage="all|none|address|network[,...]", built_by=_CLASSES),
    _d("Satisfy", frozenset({CLASS}), 1, 1, p_satisfy,
       "any (default: one From entry matches) or all (every entry matches).",
       usage="any|all", built_by=_CLASSES),
    _d("Order", frozenset({LIMIT}), 1, 2, p_order,
       "allow,deny (default: an Allow* match wins, else a Deny* match denies) or deny,allow "
       "(a Deny* match denies, else an Allow* match allows, else denied).",
       usage="allow,deny|deny,allow",
       field="order"),
    _d("<IfModule>", _ANY, 1, 1, p_ignored,
       "Read the body only if ftpredis provides (or, with !, lacks) the module.  For a "
       "module ProFTPD would have that ftpredis does not provide (LoadModule'd: an error; "
       "compiled into ProFTPD, mod_delay say: a warning) unless the body only turns it "
       "off (XxxEngine off).",
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
    _d("ServerName", _SV, 1, 1, p_word, "The server's name (%v).", usage='"name"',
       field="server_name"),
    _d("ServerIdent", _SVG, 1, 2, p_server_ident,
       "Whether the banner names the server, and with which text.", usage='on|off ["text"]',
       field="server_ident"),
    _d("Port", _SV, 1, 1, p_port, "TCP port (default 21; 0 disables the server).",
       usage="0-65535",
       field="port"),
    _d("DefaultAddress", _S, 1, None, p_words,
       "Addresses the main server listens on (default: all).", usage="address...",
       field="addresses"),
    _d("MasqueradeAddress", _SV, 1, 1, p_word,
       "Address announced in PASV replies.", usage="address",
       field="masquerade_address"),
    _d("PassivePorts", _SVG, 2, 2, p_passive_ports,
       "Port range for passive data connections.", usage="min max",
       field="passive_ports"),
    _d("MaxClients", _SVGA, 1, 2, p_max_with_message,
       "Most simultaneous logged-in sessions: a login beyond it is refused (530, with the "
       "message if given; %m = N) and the session closed; connections not logged in do "
       "not count (MaxInstances limits those; none = no limit).",
       usage='N|none ["message"]', field="max_clients",
       ignored_in={ANON: "the server's limit applies to anonymous sessions too"}),
    _d("MaxClientsPerHost", _SVGA, 1, 2, p_max_with_message,
       "Most simultaneous logged-in sessions from one client address; the 530 text may "
       "be given (%m = N).", usage='N|none ["message"]',
       field="max_clients_per_host",
       ignored_in={ANON: "the server's limit applies to anonymous sessions too"}),
    _d("MaxClientsPerUser", _SVG, 1, 2, p_max_with_message,
       "Most simultaneous logins of one user; the 530 text may be given (%m = N).",
       usage='N|none ["message"]',
       field="max_clients_per_user"),
    _d("MaxConnectionsPerHost", _SVG, 1, 2, p_max_with_message,
       "Most simultaneous connections from one client address, refused before the "
       "banner; the 530 text may be given (%m = N).", usage='N|none ["message"]',
       field="max_connections_per_host"),
    _d("RootLogin", _SVG, 1, 1, p_bool,
       "Whether a uid 0 user may log in (default off).", usage="on|off",
       field="root_login"),
    _d("AnonRejectPasswords", frozenset({ANON}), 1, 1, p_anon_reject_passwords,
       "Refuse anonymous logins whose password (e-mail address) matches the regex "
       "(with !, does not match).", usage="[!]regex",
       field="anon_reject_passwords"),
    _d("MaxLoginAttempts", _SVG, 1, 1, p_positive,
       "Failed logins before the session is closed (default 3).", usage="N",
       field="max_login_attempts"),
    _d("CommandBufferSize", _SVG, 1, 1, p_command_buffer_size,
       "Longest command line accepted, in bytes (default 4096, what ProFTPD 1.3.8 "
       "accepts); longer lines are refused without being buffered.", usage="bytes",
       field="command_buffer_size"),
    _d("TimeoutIdle", _SVG, 1, 1, p_nonneg, "Seconds of idle control connection "
       "(default 600; 0 = none).", usage="seconds",
       field="timeout_idle"),
    _d("TimeoutLogin", _SVG, 1, 1, p_nonneg, "Seconds allowed to log in (default 300).",
       usage="seconds",
       field="timeout_login"),
    _d("TimeoutNoTransfer", _SVG, 1, 1, p_nonneg,
       "Seconds logged in without a transfer (default 300).", usage="seconds",
       field="timeout_no_transfer"),
    _d("TimeoutStalled", _SVG, 1, 1, p_nonneg,
       "Seconds a data transfer may stall (default 3600).", usage="seconds",
       field="timeout_stalled"),
    _d("User", _SVGA, 1, 1, p_word,
       "The account the server runs as; in <Anonymous>, the anonymous account.",
       usage="name",
       field={"server": "run_user", "anonymous": "user"}),
    _d("Group", _SVGA, 1, 1, p_word,
       "The group the server runs as; in <Anonymous>, the anonymous group.", usage="name",
       field={"server": "run_group", "anonymous": "group"}),
    _d("UserAlias", frozenset({ANON}), 2, 2, p_user_alias,
       "A login name that maps to the <Anonymous> User.", multi=True, usage="alias user",
       field="user_aliases"),

    # -- authentication and file system -----------------------------------------------
    _d("AuthUserFile", _SVG, 1, 1, p_path,
       "ftpasswd-format user file, read and checked when the config is loaded.",
       usage="path",
       field="auth_user_file"),
    _d("AuthGroupFile", _SVG, 1, 1, p_path,
       "Group file, read and checked when the config is loaded; a group that lists a "
       "user as a member is one of its session's groups (MLST/MLSD perm).", usage="path",
       field="auth_group_file"),
    _d("AuthFileOptions", _SVG, 1, None, p_auth_file_options,
       "InsecurePerms: accept auth files others can read or write.", usage="InsecurePerms",
       built_by="read with AuthUserFile and AuthGroupFile (auth_users, auth_groups)"),
    _d("DefaultRoot", _SVG, 1, None, p_default_root,
       "Jail users in ~ (their home) or an absolute path.", usage="~|path",
       field="default_root"),
    _d("RequireValidShell", _SVGA, 1, 1, p_bool,
       "Refuse users whose shell is not in /etc/shells (default on); in <Anonymous>, "
       "for the anonymous account (default: the server's).", usage="on|off",
       field="require_valid_shell"),
    _d("CreateHome", _SVG, 1, None, p_create_home,
       "Create a missing home directory at login, with the given mode (default 700).",
       usage="on|off [mode]",
       field="create_home,create_home_mode"),
    _d("Umask", _SVGAD, 1, 2, p_umask, "Umask for new files and directories (default 022).",
       merge_down=True, usage="octal",
       field="umask"),
    _d("AllowOverwrite", _SVGAD, 1, 1, p_bool, "Whether uploads may replace files "
       "(default off).", merge_down=True, usage="on|off",
       field="allow_overwrite"),
    _d("AllowStoreRestart", _SVG, 1, 1, p_bool, "Whether APPE and REST before STOR "
       "are allowed (default off).", usage="on|off",
       field="allow_store_restart"),
    _d("AllowRetrieveRestart", _SVG, 1, 1, p_bool, "Whether REST before RETR is allowed "
       "(default on).", usage="on|off",
       field="allow_retrieve_restart"),
    _d("AllowForeignAddress", _SVGA, 1, 1, p_bool, "Whether PORT/EPRT may name another "
       "host than the client's, and a passive data connection come from another host "
       "(behind a proxy: the proxy's; default off; ports below 1024 are always refused).",
       usage="on|off",
       field="allow_foreign_address",
       ignored_in={ANON: "the server's setting applies to anonymous sessions too"}),
    _d("HideFiles", frozenset({DIR, ANON}), 1, None, p_hide_files,
       "Regular expression: matching names are left out of listings and refused as "
       "not existing.", usage="regex|none",
       field="hide_files"),
    _d("ListOptions", _SVGAD, 1, None, p_list_options,
       "ls options LIST, NLST and STAT run with, after the client's own (strict: instead "
       "of them; mod_ls's -1 -a -A -B -C -c -d -F -h -L -l -n -R -r -S -t -U -u, and +x to "
       "turn one off), and limits on one listing: "
       "maxfiles entries, maxdirs directories, maxdepth levels with -R; LISTOnly/NLSTOnly "
       "for one command alone, NoErrorIfAbsent for 226 on a missing path; SortedNLST "
       "(NLST is always sorted).  In a <Directory>, it applies while the session's "
       "current directory is in it.", multi=True, merge_down=True,
       usage="options [strict] [maxdepth N] [maxfiles N] [maxdirs N] [LISTOnly] "
             "[NLSTOnly] [NoErrorIfAbsent] [SortedNLST]",
       field="list_options"),
    _d("AllowFilter", _SVGA, 1, 2, p_command_filter, "Regular expression every command's "
       "argument (PASS's aside) must match, else 550 \"<argument>: Forbidden command "
       "argument\" (flags: [NC] for no case).", usage="regex [[NC]]",
       field="allow_filter"),
    _d("DenyFilter", _SVGA, 1, 2, p_command_filter, "Regular expression no command's "
       "argument (PASS's aside) may match, else 550 \"<argument>: Forbidden command "
       "argument\" (flags: [NC] for no case).", usage="regex [[NC]]",
       field="deny_filter"),
    _d("DisplayLogin", _SVGA, 1, 1, p_display_path, "File whose lines are sent with the "
       "230 reply; a relative path is looked for in the directory the login starts in "
       "(the home, or the <Anonymous> root), as ProFTPD does.", usage="path",
       field="display_login"),
    _d("AccessGrantMsg", _SVGA, 1, 1, p_word, "Text of the 230 reply to a login instead "
       "of ProFTPD's (\"%u\": the name given to USER); in <Anonymous>, for its logins.  "
       "An SSH login's PASS record has it too (the SSH client is not told it).",
       usage='"message"', field="access_grant_msg"),
    _d("AccessDenyMsg", _SVGA, 1, 1, p_word, "Text of the 530 reply to a refused login "
       "instead of \"Login incorrect.\" (\"%u\": the name given to USER); in "
       "<Anonymous>, for its logins.  FTP only: a refused SSH login is recorded "
       "\"Login incorrect.\", as mod_sftp does.", usage='"message"',
       field="access_deny_msg"),

    # -- logging ----------------------------------------------------------------------
    _d("AllowLogSymlinks", _SVG, 1, 1, p_bool,
       "Whether RedisLog may be a symlink.", usage="on|off",
       field="allow_log_symlinks"),
    _d("LogFormat", _SVG, 2, None, p_log_format,
       "A named format; server-level and <Global> names are visible everywhere, a "
       "<VirtualHost> one only inside it.", multi=True,
       usage='name "format"',
       built_by="formats (names resolved once the whole file is read)"),
    _d("RedisEngine", _SVG, 1, 1, p_bool, "Whether anything is logged to Redis.",
       usage="on|off",
       field="redis_engine"),
    _d("RedisLog", _SVG, 1, 1, p_redis_log, "File for Redis errors, or none.",
       usage="path|none",
       field="redis_log"),
    _d("RedisServer", _SVG, 1, None, p_redis_server,
       "The Redis server: host[:port], [v6]:port or /unix/path, then password, or user "
       "and password, then db index, and ssl options.",
       usage="server [[user] password] [db] [ssl:bool] [ssl-ca:..] [ssl-cert:..] "
             "[ssl-key:..]",
       built_by=_REDIS),
    _d("RedisSentinel", _SVG, 1, None, p_redis_sentinel,
       "Sentinels (default port 26379) asked for the master, in order.",
       usage="host[:port]... [master name] [ssl options]",
       built_by=_REDIS),
    _d("RedisTimeouts", _SVG, 2, 2, p_redis_timeouts,
       "Connect and IO timeouts in milliseconds (default 500 500).", extra_ignored=True,
       usage="connect-ms io-ms",
       built_by=_REDIS),
    _d("RedisOptions", _SVG, 0, None, p_redis_options,
       "NoReconnect: give up after the first Redis failure.", multi=True,
       usage="NoReconnect",
       built_by=_REDIS),
    _d("RedisBufferSize", _SVG, 1, 1, p_positive,
       "Records kept while Redis is unreachable (default 100000).", usage="N",
       built_by=_REDIS),
    _d("RedisLogTarget", _SVG, 1, None, p_log_target,
       "How records for a key (as written in RedisLogOnCommand/RedisLogOnEvent, variables "
       "and all) are written: list (RPUSH, the default), stream (XADD) or channel "
       "(PUBLISH); maxlen keeps the newest N (list, stream), expire sets a TTL refreshed "
       "on every write (list, stream).", multi=True,
       usage="key [list|stream|channel] [maxlen N] [expire seconds]",
       built_by=_REDIS),
    _d("RedisSpool", _SVG, 1, 2, p_spool,
       "Directory (created 0700) where records wait on disk until Redis has them, one "
       "file set per worker process; at most SIZE bytes (default 1G), what does not fit "
       "is counted and kept in memory only.", usage="dir [size]",
       built_by=_REDIS),
    _d("RedisSpoolSync", _SVG, 1, 1, p_spool_sync,
       "When the spool is flushed to disk: always (every record, before its reply), "
       "everysec (default: once a second, in a thread) or no (left to the kernel).",
       usage="always|everysec|no",
       built_by=_REDIS),
    _d("RedisLogOnCommand", _SVGAD, 0, None, p_log_on_command,
       "Log the listed commands (or ALL, CONNECT, DISCONNECT) with a LogFormat.",
       multi=True, merge_down=True, usage="none|cmd,cmd... format [key]",
       built_by=_LOGGING),
    _d("RedisLogOnEvent", _SVGAD, 0, None, p_log_on_event,
       "Log the listed commands or event classes with a LogFormat.",
       multi=True, merge_down=True, usage="none|event,event... format [key]",
       built_by=_LOGGING),
    _d("RedisLogFormatExtra", _SVGAD, 2, 2, p_format_extra,
       "Extra JSON members added to every record of a LogFormat.",
       multi=True, merge_down=True, extra_ignored=True, usage="format {json}",
       built_by=_LOGGING),

    # -- mod_ban (ftpredis.ban.bans) -------------------------------------------------------
    _d("BanEngine", _SVG, 1, 1, p_bool, "Whether bans are enforced and BanOnEvent rules "
       "apply.", usage="on|off",
       built_by=_BAN),
    _d("BanTable", _S, 1, 1, p_ban_table,
       "Required with BanEngine on (ProFTPD's shared-memory file); ftpredis keeps the "
       "local table in memory and only checks the directory.", usage="path",
       built_by=_BAN),
    _d("BanCache", _S, 1, 1, p_ban_cache,
       "redis: ban entries are also kept in the Redis of RedisServer, so every node "
       "sharing it enforces them.", usage="redis",
       built_by=_BAN),
    _d("BanCacheOptions", _S, 1, None, p_ban_cache_options,
       "UseJSON (entries are JSON; ftpredis always writes JSON), MatchServer (a cached "
       "ban applies only to the server address and port that added it).",
       usage="UseJSON|MatchServer...",
       built_by=_BAN),
    _d("BanOptions", _S, 1, None, p_ban_options,
       "MatchAnyServer: a local ban applies to every server, not only the one that "
       "added it.", usage="MatchAnyServer",
       built_by=_BAN),
    _d("BanMessage", _SVG, 1, 1, p_word,
       "Sent as a 530 reply to a banned client; %a client address, %c class, %u user.",
       usage='"message"',
       built_by=_BAN),
    _d("BanLog", _S, 1, 1, p_path, "File where bans and ban events are logged "
       "(RedisLog's path checks).", usage="path",
       built_by=_BAN),
    _d("BanOnEvent", _SVG, 3, 4, p_ban_on_event,
       "Ban the client (host, user or user@host, by event) when the event happens count "
       "times within hh:mm:ss, for hh:mm:ss.", multi=True,
       usage='event count/hh:mm:ss hh:mm:ss ["message"]',
       built_by=_BAN),
    _d("MaxCommandRate", _SVG, 1, 2, p_max_command_rate,
       "More than count commands within the interval (seconds, default 1) is a "
       "MaxCommandRate event for BanOnEvent.", usage="count [seconds]",
       field="max_command_rate"),
    _noop("BanControlsACLs", _S, "No ftpdctl; use ftpredis-ban."),

    # -- mod_proxy_protocol (ftpredis.proxy) ---------------------------------------------
    _d("ProxyProtocolEngine", _SVG, 1, 1, p_bool, "Whether control connections start "
       "with a PROXY protocol header (from HAProxy or another trusted proxy): the client "
       "address it names is the session's everywhere; a connection without a valid "
       "header is closed before the greeting.", usage="on|off",
       field="proxy_protocol_engine"),
    _d("ProxyProtocolVersion", _SVG, 1, 1, p_proxy_protocol_version,
       "The header expected (default haproxyV1; HAProxy's send-proxy-v2 is haproxyV2).",
       usage="haproxyV1|haproxyV2", field="proxy_protocol_version"),
    _d("ProxyProtocolTimeout", _SVG, 1, 1, p_proxy_protocol_timeout,
       "How long the whole header may take (default 3sec; 0: no limit); the connection "
       "is closed after it.", usage="seconds", field="proxy_protocol_timeout"),
    _d("ProxyProtocolOptions", _SVG, 1, None, p_proxy_protocol_options,
       "UseProxiedServerAddress: the <VirtualHost> is picked by the header's destination "
       "address and port (when one matches).", usage="UseProxiedServerAddress",
       field="proxy_protocol_options"),
    _d("ProxyProtocolIgnore", _SVG, 1, 1, p_bool, "Read the header but keep the "
       "connection's own addresses.", usage="on|off",
       field="proxy_protocol_ignore"),

    # -- mod_tls (ftpredis.tls.ftps) -------------------------------------------------------
    *_built(_TLS, (
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
    _d("TLSVerifyServer", _SVG, 1, 1, p_tls_verify_server,
       "After SSCN ON, whether the peer's certificate must verify against "
       "TLSCACertificateFile (default on).", usage="on|off|NoReverseDNS"),
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
    )),

    # -- mod_sftp (ftpredis.sftp) ------------------------------------------------------------
    *_built(_SFTP, (
    _d("SFTPEngine", _SVG, 1, 1, p_bool, "Whether this server speaks SSH2/SFTP instead of "
       "FTP.", usage="on|off"),
    _d("SFTPHostKey", _SVG, 1, 1, p_sftp_host_key,
       "A host private key (PEM RSA/ECDSA or OpenSSH format); refused when its group or "
       "others may read it (unless SFTPOptions InsecureHostKeyPerms).", multi=True,
       usage="path"),
    _d("SFTPAuthMethods", _SVG, 1, None, p_sftp_auth_methods,
       "The authentication methods, or chains of them (publickey+password), any one of "
       "which logs in (default publickey password).", usage="method[+method]..."),
    _d("SFTPAuthorizedUserKeys", _SVG, 1, None, p_sftp_authorized_keys,
       "Where users' public keys are (file:/path/%u; RFC 4716 and OpenSSH formats).",
       usage="file:path..."),
    _d("SFTPCiphers", _SVG, 1, None, p_sftp_ciphers, "The ciphers offered, of those "
       "twisted.conch provides.", usage="cipher..."),
    _d("SFTPDigests", _SVG, 1, None, p_sftp_digests, "The MACs offered.",
       usage="digest..."),
    _d("SFTPKeyExchanges", _SVG, 1, None, p_sftp_key_exchanges,
       "The key exchanges offered.", usage="kex..."),
    _d("SFTPCompression", _SVG, 1, 1, p_sftp_compression,
       "zlib compression offered (on, delayed) or not (off).", usage="on|off|delayed"),
    _d("SFTPOptions", _SVG, 1, None, p_sftp_options, "mod_sftp's options; "
       "InsecureHostKeyPerms takes effect, the others are warned about.",
       usage="option..."),
    _d("SFTPMaxChannels", _SVG, 1, 1, p_sftp_max_channels,
       "Channels a connection may open (default 10).", usage="N"),
    _d("SFTPLog", _SVG, 1, 1, p_sftp_log, "File where SSH sessions are logged "
       "(connections, algorithms, logins, disconnects).", usage="path|none"),
    _d("SFTPDisplayBanner", _SVG, 1, 1, p_path, "File sent as the SSH banner before "
       "authentication.", usage="path"),
    _d("SFTPClientMatch", _SVG, 2, None, p_sftp_client_match,
       "Settings for clients whose version text matches the pattern "
       "(channelWindowSize, channelPacketSize).", multi=True,
       usage="pattern key value..."),
    )),
    *(_noop(name, _SVG, doc, min_args=n) for name, n, doc in SFTP_UNSUPPORTED),

    # -- mod_prometheus (ftpredis.metrics) ----------------------------------------------
    _d("PrometheusEngine", _S, 1, 1, p_bool,
       "Whether the Prometheus exporter runs (with PrometheusExporter).", usage="on|off",
       field="prometheus_engine"),
    _d("PrometheusExporter", _S, 1, None, p_prometheus_exporter,
       "Address (IP or name; IPv6 in brackets) and port (default %d) the exporter serves "
       "/metrics on; required with PrometheusEngine on." % DEFAULT_EXPORTER_PORT,
       usage="address[:port]",
       field="prometheus_exporter"),
    _d("PrometheusLog", _S, 1, 1, p_prometheus_log,
       "File for the exporter's messages (RedisLog's path checks), or none.",
       usage="path|none",
       field="prometheus_log"),
    _d("PrometheusOptions", _S, 1, None, p_prometheus_options,
       "EnableLogMessageMetrics: count the server's log messages by level "
       "(proftpd_log_message_total).", usage="EnableLogMessageMetrics",
       field="prometheus_options"),
    _d("PrometheusTables", _S, 1, 1, p_prometheus_tables,
       "Accepted (ProFTPD's metrics database directory); ftpredis keeps the metrics in "
       "the process, and --check says so.", usage="path",
       field="prometheus_tables"),

    # -- mod_unique_id (ftpredis.records.identity) -------------------------------------
    _d("UniqueIDEngine", _SVG, 1, 1, p_bool,
       "Whether each session gets mod_unique_id's UNIQUE_ID (%{note:UNIQUE_ID}, "
       "%{UNIQUE_ID}e; default on, as with the module loaded).", usage="on|off",
       field="unique_id_engine"),

    # -- accepted for compatibility, no effect ----------------------------------------
    _noop("ServerType", _S, "Always standalone."),
    _noop("DefaultServer", _SV, "Connections go to the server owning the address."),
    _noop("ScoreboardFile", _S, "No scoreboard."),
    _noop("PidFile", _S, "Use twistd --pidfile."),
    _noop("WtmpLog", _SVGA, "No wtmp records."),
    _d("UseIPv6", _S, 1, 1, p_bool, "off: EPRT and EPSV refuse network protocol 2 "
       "(522, 'use (1)'), as ProFTPD (default on); listeners follow the addresses given "
       "either way.", usage="on|off",
       field="use_ipv6"),
    _noop("SocketBindTight", _S, "Each server binds its own addresses."),
    _noop("UseReverseDNS", _S, "Never: %h is the client address."),
    _noop("IdentLookups", _SVG, "Never done."),
    _d("MaxInstances", _S, 1, 1, p_max_instances,
       "Most simultaneous connections, logged in or not, over all servers: one beyond it "
       "is closed at once, without a greeting, and SystemLog says \"MaxInstances (N) "
       "reached, new connection denied\" (ProFTPD counts its child processes; with "
       "ServerWorkers W each process admits N/W, rounded up; none = no limit).",
       usage="N|none", field="max_instances"),
    _d("ServerWorkers", _S, 1, 1, p_positive,
       "Processes accepting connections on the shared listening sockets, each with its "
       "own Redis sink (ftpredis; default 1 = no worker processes).", usage="N",
       field="server_workers"),
    _d("BusyPoll", _S, 1, 1, p_busy_poll,
       "Microseconds the server keeps polling for more work after a busy turn before it "
       "sleeps; adaptive, it shrinks while polling finds nothing (ftpredis; default %d; "
       "off = 0: always sleep at once)." % DEFAULT_BUSY_POLL_US, usage="MICROSECONDS|off",
       field="busy_poll"),
    _d("SystemLog", _S, 1, 1, p_redis_log,
       "ProFTPD's session log: sessions opened and closed, logins and every login "
       "refusal, in ProFTPD's line format (what fail2ban's proftpd filter reads), or none.",
       usage="path|none", field="system_log"),
    _noop("TransferLog", _SVGA, "No xferlog."),
    _noop("ExtendedLog", _SVGA, "No ExtendedLog files; use RedisLogOn*."),
    _noop("DeferWelcome", _SVG, "The banner never names the server before login."),
    _d("ShowSymlinks", _SVGA, 1, 1, p_bool,
       "on (default): listings show a symbolic link as a link (\"name -> target\", "
       "MLSD type=OS.unix=symlink) and CWD through a link goes where it leads (PWD shows "
       "the resolved path); off: listings show what each link leads to, as with -L, and "
       "CWD keeps the path as named.  In <Anonymous>, for its sessions.",
       usage="on|off", field="show_symlinks"),
    _noop("DisplayChdir", _SVGA, "No file is shown on CWD."),
    _noop("ModuleControlsACLs", _S, "No ftpdctl: ftpredis-ban and SIGHUP instead."),
    _noop("ModulePath", _S, "No loadable modules."),
    _d("LoadModule", _S, 1, 1, p_load_module,
       "No loadable modules.  For a module ftpredis does not provide: a warning, and its "
       "directives and <IfModule> blocks (below the line) are refused unless they only "
       "turn it off (XxxEngine off).",
       effect=False, usage="mod_name.c"),
    _noop("TraceLog", _S, "Use twistd logging."),
    _noop("Trace", _SVG, "Use twistd logging."),
    _noop("DebugLevel", _SVG, "Use twistd logging."),
)

#: Lower-cased name -> entry (directive names are case-insensitive).
BY_NAME: Dict[str, Directive] = {d.name.lower(): d for d in TABLE}


def lookup(name: str) -> Optional[Directive]:
    return BY_NAME.get(name.lower())


#: Directives besides ``XxxEngine`` that switch a whole module off with a false Boolean.
OFF_SWITCHES = frozenset({"ratios", "identlookups", "authpam"})


def turns_module_off(words) -> bool:
    """Whether a config line (its words) does no more than turn a module off: ``XxxEngine
    off`` (or mod_ratio's ``Ratios``, mod_ident's ``IdentLookups``, mod_auth_pam's
    ``AuthPAM``) with a false Boolean, for a module ftpredis does not provide (a
    directive of ours, TLSEngine say, counts as configuring)."""
    if len(words) != 2 or words[1].lower() not in ("off", "no", "false", "0"):
        return False
    name = words[0].lower()
    if not (name.endswith("engine") or name in OFF_SWITCHES):
        return False
    ours = lookup(name)
    return ours is None or not ours.effect


def unprovided_modules(name: str) -> Tuple[str, ...]:
    """The modules ftpredis does not provide (of ProFTPD 1.3.8) that have the directive
    ``name``; () for one in :data:`TABLE` (IdentLookups, LoadModule...), which is ours."""
    return () if lookup(name) is not None else modules_of(name)


def suggest(name: str) -> Optional[str]:
    """The directive whose name is nearest to the unknown ``name`` (a typo), if one is
    close enough to be a likely fix."""
    import difflib

    key = name.lower()
    names = [k for k in BY_NAME if k != key]
    # 0.8: a letter left out or doubled in a long name; below that, other modules'
    # directives look like ours (SQLEngine, TLSEngine)
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.8)
    if not close:
        # two letters swapped in a short name (Potr)
        close = [k for k in names if len(k) == len(key) and sorted(k) == sorted(key)]
    return BY_NAME[close[0]].name if close else None


def allowed_text(contexts) -> str:
    """The contexts a directive is allowed in, spelt as the errors spell contexts."""
    order = (SERVER, VHOST, GLOBAL, ANON, DIR, LIMIT, CLASS)
    return ", ".join(ctx for ctx in order if ctx in contexts)


def _contexts_text(contexts) -> str:
    order = [(SERVER, "server config"), (VHOST, "VirtualHost"), (GLOBAL, "Global"),
             (ANON, "Anonymous"), (DIR, "Directory"), (LIMIT, "Limit"),
             (CLASS, "Class")]
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
        effect = "yes" if d.effect else "none (warning)"
        for where, reason in d.ignored_in:
            effect += "; none in %s (warning: %s)" % (_contexts_text({where}), reason)
        out.append("     - %s" % _rst(effect))
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
