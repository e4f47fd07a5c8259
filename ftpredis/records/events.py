# -*- test-case-name: tests.test_logformat -*-
"""The immutable events that flow from an FTP session to the router.

This module owns the contract between :mod:`ftpredis.ftp.protocol` (which produces events)
and :mod:`ftpredis.records.router` / :mod:`ftpredis.records.logformat` (which turn them into records).
An :class:`Event` carries, already resolved, the value of every LogFormat variable for
one logged moment of a session: the session start (``CONNECT``), one FTP command with its
final reply, or the session end (``EXIT``, ProFTPD's DISCONNECT).  ``None`` means "absent":
the JSON key is omitted.  Nothing downstream looks at the session again, so an event can
be queued, routed and formatted after the session is gone.

Which command fills which path field (``file``, ``transfer_path``, ``dir_name``...) is
ProFTPD's per-command table (doc/records.rst, "Variables"); the protocol applies it when
it builds the event, because only it knows the chroot and the working directory.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Optional, Tuple

from ftpredis.records.identity import session_counter

# Event kinds.
CONNECT = "CONNECT"
COMMAND = "COMMAND"
DISCONNECT = "DISCONNECT"

# ProFTPD's fixed table of the 61 FTP command ids (doc/records.rst, "Command ids").
# RedisLogOnCommand and RedisLogOnEvent select commands by these names only.
KNOWN_COMMANDS = frozenset(
    """USER PASS ACCT CWD XCWD CDUP XCUP SMNT REIN QUIT PORT EPRT PASV EPSV TYPE STRU MODE
    RETR STOR STOU APPE ALLO REST RNFR RNTO ABOR DELE MDTM RMD XRMD MKD MLSD MLST XMKD PWD
    XPWD SIZE LIST NLST SITE SYST STAT HELP NOOP FEAT OPTS LANG ADAT AUTH CCC CONF ENC MIC
    PBSZ PROT MFF MFMT HOST CLNT RANG CSID""".split()
)

# Command classes, as ProFTPD's module command tables declare them and 1.3.8 was seen to
# use them (doc/records.rst, "Command classes").
# LANG has class 0; HOST is MISC here (its AUTH-class entry is for mod_auth's own use and
# the observed RedisLogOnEvent AUTH selects only the AUTH command).
COMMAND_CLASSES: Mapping[str, frozenset] = {
    "AUTH": frozenset({"USER", "PASS", "ACCT", "REIN"}),
    "INFO": frozenset({"HELP", "SYST", "PWD", "XPWD", "MDTM", "SIZE", "QUIT", "FEAT",
                       "CLNT", "CSID", "STAT"}),
    "DIRS": frozenset({"PWD", "XPWD", "CWD", "XCWD", "MKD", "XMKD", "RMD", "XRMD", "CDUP",
                       "XCUP", "MDTM", "NLST", "LIST", "MLSD", "MLST"}),
    "READ": frozenset({"RETR"}),
    "WRITE": frozenset({"MKD", "XMKD", "RMD", "XRMD", "DELE", "RNFR", "RNTO", "STOR",
                        "STOU", "APPE", "MFF", "MFMT"}),
    "MISC": frozenset({"PORT", "PASV", "EPRT", "EPSV", "RNFR", "RNTO", "NOOP", "OPTS",
                       "HOST", "TYPE", "STRU", "MODE", "ALLO", "SMNT", "ABOR", "REST",
                       "RANG", "SITE"}),
    "SEC": frozenset({"AUTH", "PBSZ", "PROT", "CCC"}),
    "SSH": frozenset(),
    "SFTP": frozenset(),
}

# Data-transfer commands: the ones %{transfer-*} speak of.
TRANSFER_COMMANDS = frozenset({"APPE", "LIST", "MLSD", "NLST", "RETR", "STOR", "STOU"})


@dataclass(frozen=True)
class Session:
    """What is fixed for the whole life of one control connection.

    No ``__slots__``, for :meth:`adopt` (a quarter of the generated ``__init__``'s cost).
    """

    remote_ip: str                  # %a
    remote_port: int                # %{remote-port}
    remote_dns: str                 # %h (the IP unless reverse DNS is on)
    local_ip: str                   # %L
    server_dns: str                 # %V
    server_ip: str                  # %H: the configured address string of the server
    local_port: int                 # %p: the configured Port of the server
    server_name: str                # %v
    server_version: str             # %{version}
    pid: int                        # %P
    session_id: int = 0             # unique per process; lets the sink keep order per session
    unique_id: Optional[str] = None     # mod_unique_id's UNIQUE_ID (ftpredis.records.identity)
    # Where the session's records take their %{session-seq} from (ftpredis.records.router):
    # the one mutable thing here, so that the numbering outlives a reload's new router.
    seq: Iterator[int] = field(default_factory=session_counter, compare=False, repr=False)

    @classmethod
    def adopt(cls, fields: dict) -> "Session":
        """The session whose fields are ``fields`` (every field without a default, any
        with one), taking ownership of that dict."""
        if not _SESSION_REQUIRED <= fields.keys() <= _SESSION_FIELDS:
            raise TypeError("Session fields: got %s, need %s (and may have %s)"
                            % (sorted(fields), sorted(_SESSION_REQUIRED),
                               sorted(_SESSION_FIELDS - _SESSION_REQUIRED)))
        if "seq" not in fields:
            fields["seq"] = session_counter()
        s = object.__new__(cls)
        object.__setattr__(s, "__dict__", fields)
        return s


@dataclass(frozen=True)
class Event:
    """One logged moment of a session, every variable resolved (``None`` = absent).

    No ``__slots__``: :meth:`adopt` builds an event from a dict of fields in one step
    (the generated ``__init__`` sets ~45 frozen fields one by one, ~9 µs per event, a
    tenth of a NOOP's CPU); unset fields then read the class defaults.
    """

    kind: str                       # CONNECT, COMMAND or DISCONNECT
    session: Session
    time: float                     # time.time() when the event was logged

    # -- what the rules match on ----------------------------------------------------
    verb: Optional[str] = None      # upper-cased command word ("RETR", "SITE"); "EXIT" on DISCONNECT
    config_path: Optional[str] = None   # real path last checked: picks the <Directory>
    anonymous: bool = False         # the session logged in through an <Anonymous> block
    logged_in: bool = False         # a login succeeded (ProFTPD prunes "none" rules then)

    # -- the command ------------------------------------------------------------------
    command: Optional[str] = None           # %m ("RETR", "SITE CHMOD", "EXIT")
    raw_command: Optional[str] = None       # %r ("PASS (hidden)")
    command_params: Optional[str] = None    # %J ("(hidden)" for PASS/ADAT)
    response_code: Optional[int] = None     # %s
    response_msg: Optional[str] = None      # %S
    response_millis: Optional[int] = None   # %R

    # -- who --------------------------------------------------------------------------
    user: Optional[str] = None              # %u
    original_user: Optional[str] = None     # %U
    group: Optional[str] = None             # %g
    uid: int = -1                           # %{uid}
    gid: int = -1                           # %{gid}
    anon_password: Optional[str] = None     # %A
    connection_class: Optional[str] = None  # %c
    identd_user: Optional[str] = None       # %l
    protocol: str = "ftp"                   # %{protocol}
    # Why a PASS was refused: ftpredis.auth.portal.LoginRefused's reason ("unknown-user",
    # "bad-password", ...); no LogFormat variable, ftpredis.metrics reads it.
    auth_failure: Optional[str] = None
    # An SSH login's method ("password", "publickey"; mod_prometheus's auth{method});
    # None for FTP, whose PASS is a password (or an anonymous login).
    auth_method: Optional[str] = None
    # AUTH TLS: the protocol the handshake settled ("TLSv1.3"); a failed handshake:
    # "ctrl" (AUTH) or "data" (PROT P transfer).  No LogFormat variable; for the metrics.
    tls_version: Optional[str] = None
    handshake_failed: Optional[str] = None
    # The SFTP protocol version the subsystem settled, on the first event after it (the
    # metrics' sftp_protocol_total, as mod_prometheus counts it); no LogFormat variable.
    sftp_version: Optional[int] = None
    # A transfer cut by TimeoutStalled ("TimeoutStalled"); the session goes on.
    timeout: Optional[str] = None
    # DISCONNECT of a session refused by policy: ProFTPD's disconnect details ("Denied by
    # MaxClients"), which %E does not always show; for the metrics' connection_refused.
    disconnect_details: Optional[str] = None

    # -- where ------------------------------------------------------------------------
    cwd: str = "/"                          # virtual working directory
    dir_name: Optional[str] = None          # %d
    dir_path: Optional[str] = None          # %D
    file: Optional[str] = None              # %f (real absolute path)
    transfer_path: Optional[str] = None     # %F (client-visible path)
    basename: Optional[str] = None          # %{basename}
    rename_from: Optional[str] = None       # %w

    # -- transfer ---------------------------------------------------------------------
    bytes_sent: Optional[int] = None        # %b
    transfer_millis: Optional[int] = None   # %{transfer-millisecs}; %T is this / 1000
    transfer_status: Optional[str] = None   # %{transfer-status}
    transfer_failure: Optional[str] = None  # %{transfer-failure}
    transfer_type: Optional[str] = None     # %{transfer-type}
    transfer_port: Optional[int] = None     # %{transfer-port}
    file_modified: bool = False             # %{file-modified}
    file_offset: Optional[int] = None       # %{file-offset}
    file_size: Optional[int] = None         # %{file-size}

    # -- session ----------------------------------------------------------------------
    session_bytes_rcvd: int = 0             # %I
    session_bytes_sent: int = 0             # %O
    session_end_reason: Optional[str] = None    # %E
    # What ProFTPD writes to its SystemLog for this moment ("USER x (Login failed):
    # Incorrect password"); never a password.  No LogFormat variable reads it.
    system_log: Tuple[str, ...] = ()
    notes: Mapping[str, str] = field(default_factory=dict)   # %{note:NAME}

    # -- one record's identity (set by ftpredis.records.router, per record, only for the
    # rules whose format, key or extras name them; doc/records.rst, "Record identity")
    record_id: Optional[str] = None         # %{record-id}
    session_seq: Optional[int] = None       # %{session-seq}

    def replace(self, **changes) -> "Event":
        return dataclasses.replace(self, **changes)

    @classmethod
    def adopt(cls, fields: dict) -> "Event":
        """The event whose fields are ``fields`` (field name -> value; ``kind``,
        ``session`` and ``time`` required, others default), taking ownership of that
        dict: the caller must not touch it afterwards.  Names must be Event fields."""
        if not fields.keys() <= _EVENT_FIELDS:
            # A misspelt name would otherwise become a stray attribute and the variable
            # it meant would be silently absent from every record.
            raise TypeError("not Event fields: %s" % sorted(fields.keys() - _EVENT_FIELDS))
        if "notes" not in fields:
            fields["notes"] = {}
        e = object.__new__(cls)
        object.__setattr__(e, "__dict__", fields)
        return e

    @classmethod
    def own(cls, fields: dict) -> "Event":
        """:meth:`adopt` for a caller whose names are Event fields as written in its
        code (ftpredis.ftp.recording, per event: the check cost 0.3 us of ~3), which
        passes ``notes`` too."""
        e = object.__new__(cls)
        object.__setattr__(e, "__dict__", fields)
        return e

    def identified(self, record_id: Optional[str], session_seq: Optional[int]) -> "Event":
        """This event as one record sees it: with its ``record_id`` and ``session_seq``
        (ftpredis.records.router; the fields are known good, so no :meth:`adopt` check)."""
        fields = self.__dict__.copy()
        fields["record_id"] = record_id
        fields["session_seq"] = session_seq
        e = object.__new__(Event)
        object.__setattr__(e, "__dict__", fields)
        return e


#: Every Event field name.
EVENT_FIELDS = _EVENT_FIELDS = frozenset(f.name for f in dataclasses.fields(Event))
_SESSION_FIELDS = frozenset(f.name for f in dataclasses.fields(Session))
_SESSION_REQUIRED = frozenset(
    f.name for f in dataclasses.fields(Session)
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)

# ProFTPD splits a command line into words on C isspace() only; Python's str.split() would
# also split on 0x1C-0x1F, NBSP and other Unicode spaces that are legal in file names.
_WORDS = re.compile("[^ \t\n\v\f\r]+").findall
def command_words(arg: Optional[str]) -> list:
    """A command's parameters as ProFTPD 1.3.8 splits the line into its argv
    (pr_str_get_word): words between blanks, and a word starting with a double quote runs
    to the next one, blanks included, a backslash in it taking the next character as is
    (``PORT "127,0,0,1,100,1"`` is one parameter without its quotes)."""
    if not arg:
        return []
    if '"' not in arg:
        return _WORDS(arg)
    out: list = []
    i, n = 0, len(arg)
    while True:
        while i < n and arg[i] in _SPACES:
            i += 1
        if i >= n:
            return out
        word, i = _word(arg, i, n)
        out.append(word)


_SPACES = " \t\n\v\f\r"


def _word(arg: str, i: int, n: int):
    """The word of pr_str_get_word that starts at ``arg[i]``, and where the next one may
    start (past the blank or the closing quote that ended it)."""
    word = []
    if arg[i] == '"':
        i += 1
        while i < n and arg[i] != '"':
            if arg[i] == "\\" and i + 1 < n:
                i += 1
            word.append(arg[i])
            i += 1
    else:
        while i < n and arg[i] not in _SPACES:
            word.append(arg[i])
            i += 1
    return "".join(word), i + 1


def site_words(arg: Optional[str]) -> list:
    """The parameters of a line that starts with ``SITE``: ProFTPD 1.3.8 splits those
    keeping blanks (src/main.c, PR_STR_FL_PRESERVE_WHITESPACE), so each word ends at
    exactly one blank and a second blank starts an empty word (``SITE  CHMOD`` has the
    sub-command ""); quotes are read as :func:`command_words` reads them."""
    out: list = []
    i, n = 0, len(arg or "")
    while i < n:
        word, i = _word(arg, i, n)
        out.append(word)
    return out


def site_path(words: list) -> str:
    """The path of ``SITE CHMOD``/``CHGRP`` from its :func:`site_words` (the third word
    on): mod_site joins them with one space, an empty word at the start adding none."""
    path = ""
    for w in words[2:]:
        path = path + " " + w if path else w
    return path


def command_fields(verb: str, arg: Optional[str]) -> dict:
    """``command``, ``raw_command`` and ``command_params`` for a command line (a dict
    the caller must not modify).

    ``verb`` is the command word as sent, ``arg`` everything after the first space
    (``None`` when there was nothing).  PASS and ADAT are hidden, SITE carries its
    sub-command in ``command`` (ProFTPD upper-cases both).
    """
    verb = verb.upper()
    if arg is None or verb in _HIDDEN:
        found = _NO_ARG.get(verb)       # a hidden argument is never shown: one dict a verb
        if found is not None:
            return found
    elif verb in _WORD_ARGUMENT:
        found = _WORD_LINES.get((verb, arg))
        if found is not None:
            return found
    hidden = verb in _HIDDEN
    if not arg or hidden:
        words = ()
    else:
        words = site_words(arg) if verb[:4] == "SITE" else command_words(arg)
    if hidden:
        params = "(hidden)"
    else:
        # blanks only are no parameter for ProFTPD: no %J (measured: "NLST  ", "LIST <TAB>")
        params = arg if words else None
    if verb == "SITE":
        command = "SITE " + words[0].upper() if words else None
    else:
        command = verb
    if hidden:
        raw = verb + " (hidden)"
    elif words:
        # ProFTPD re-joins the words with single spaces (a TAB becomes a space in %r;
        # SITE's empty words keep its extra blanks).
        raw = " ".join([verb] + words)
    else:
        raw = verb
    out = {"command": command, "raw_command": raw, "command_params": params}
    if arg is None or hidden:
        if len(_NO_ARG) < 256:
            _NO_ARG[verb] = out
    elif verb in _WORD_ARGUMENT:
        if len(_WORD_LINES) >= 1024:
            _WORD_LINES.clear()
        _WORD_LINES[verb, arg] = out
    return out


_HIDDEN = frozenset({"PASS", "ADAT"})

#: command_fields of argument-less command lines (NOOP, PASV, PWD...) and of the hidden
#: ones, by verb.  Shared: callers copy from the dict (``fields.update``), never change it.
_NO_ARG: dict = {}

#: Commands whose argument is a name or a setting, not a path: the same lines come
#: again and again (USER of each login, TYPE I...), and their command_fields with them.
_WORD_ARGUMENT = frozenset({"USER", "TYPE", "MODE", "STRU", "AUTH", "PBSZ", "PROT", "OPTS",
                            "CLNT", "HOST", "LANG", "EPSV", "HELP", "FEAT"})
_WORD_LINES: dict = {}


def path_tail(path: str) -> str:
    """ProFTPD's path-tail rule for %d and %{basename} (doc/records.rst, "Path tail")."""
    i = path.rfind("/")
    if i < 0:
        return path
    if i == 0:
        return path[1:] if len(path) > 1 else "/"
    return path[i + 1:]
