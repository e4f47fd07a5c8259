# -*- test-case-name: tests.test_logformat -*-
"""LogFormat compilation and rendering: JSON records, key templates, RedisLogFormatExtra.

This module owns the LogFormat language as ProFTPD 1.3.8's Jot engine parses it
(doc/records.rst, "LogFormat parsing"), the JSON key, type and presence of every variable
("Variables", and doc/decisions.rst for the departures), the byte-exact compact
serialisation ("Serialisation", with doc/decisions.rst "Control bytes 0x1F and 0x7F" and
"Invalid UTF-8") and the text form used for Redis key templates and for the string values
of RedisLogFormatExtra (doc/records.rst, "Text form" and "RedisLogFormatExtra").

A format is compiled once into a tuple of small closures, one per variable; rendering a
record is one pass over them with no parsing and no dictionary building, because it runs
once per logged FTP command.

Public API: :func:`compile_format` -> :class:`CompiledFormat` (``.pairs``, ``.json``,
``.renderer``), :func:`compile_template` -> :class:`Template` (``.render``),
:func:`encode_json`, :func:`json_string`, :func:`json_number`, :func:`utf8`.
"""

from __future__ import annotations

import math
import os
import re
import time
from operator import attrgetter
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

from ftpredis.records.events import COMMAND, TRANSFER_COMMANDS

__all__ = [
    "CompiledFormat", "Template", "compile_format", "compile_template", "encode_json",
    "json_string", "json_number", "utf8", "TEMPLATE_LIMIT", "IDENTITY_FIELDS", "UNIQUE_ID",
]

# mod_redis renders key templates and extra strings into a 1024-byte buffer.
TEMPLATE_LIMIT = 1023
# strftime(ts, sizeof(ts) - 1, ...) with char ts[128].
_STRFTIME_LIMIT = 126


# -- strings and bytes ---------------------------------------------------------------------

# Lone surrogates are what surrogateescape makes of invalid UTF-8 bytes (and what nothing
# else should produce); each one stands for one bad byte and becomes U+FFFD.
_SURROGATES = re.compile("[\ud800-\udfff]")
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\\x7f\ud800-\udfff]').search

_ESCAPES = {i: "\\u%04X" % i for i in range(0x20)}
_ESCAPES.update({0x22: '\\"', 0x5C: "\\\\", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n",
                 0x0D: "\\r", 0x09: "\\t", 0x7F: "\\u007F"})
_ESCAPES.update({i: "\ufffd" for i in range(0xD800, 0xE000)})


def json_string(s: str) -> str:
    """``s`` as a JSON string literal, escaped the way ProFTPD's CCAN json does (fixed)."""
    if _NEEDS_ESCAPE(s) is None:
        return '"' + s + '"'
    return '"' + s.translate(_ESCAPES) + '"'


def sanitize(s: str) -> str:
    """``s`` with every lone surrogate (an invalid input byte) replaced by U+FFFD."""
    return _SURROGATES.sub("\ufffd", s)


def utf8(s: str) -> bytes:
    """UTF-8 bytes of ``s``; an invalid byte carried as a lone surrogate becomes U+FFFD."""
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", s).encode("utf-8")


def _raw_bytes(s: str) -> bytes:
    """The bytes ``s`` was decoded from (surrogateescape), for byte-length limits."""
    try:
        return s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogatepass")


def _truncate(s: str, limit: int) -> str:
    # A character is at most 4 UTF-8 bytes, so short strings need no encoding at all.
    if len(s) * 4 <= limit:
        return s
    raw = _raw_bytes(s)
    if len(raw) <= limit:
        return s
    # Cutting inside a character leaves invalid bytes, as C's byte buffer would; they
    # come back as surrogates and end up as U+FFFD on output.
    return raw[:limit].decode("utf-8", "surrogateescape")


# -- numbers -------------------------------------------------------------------------------

_EXACT_INT = 2 ** 53


def json_number(v) -> str:
    """A number as C's ``"%.16g"`` prints the double (``226``, ``4.211``, ``1e+17``)."""
    if v.__class__ is int:
        if -_EXACT_INT < v < _EXACT_INT:
            return str(v)
        v = float(v)
    if math.isnan(v) or math.isinf(v):
        return "null"
    return "%.16g" % v


def encode_json(pairs: Iterable[Tuple[str, object]]) -> bytes:
    """Compact JSON object bytes for ``(key, value)`` pairs, duplicates kept, in order.

    Values may be ``str``, ``int``, ``float``, ``bool`` or ``None`` (``null``).
    """
    parts = []
    for key, value in pairs:
        parts.append(json_string(key) + ":" + _json_value(value))
    return ("{" + ",".join(parts) + "}").encode("utf-8")


def _json_value(value) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json_string(value)
    if isinstance(value, (int, float)):
        return json_number(value)
    raise TypeError("cannot encode %r as a LogFormat JSON value" % (value,))


# -- time ------------------------------------------------------------------------------------

def _split_time(t: float) -> Tuple[int, int]:
    """(seconds, microseconds) of a ``time.time()`` value, as gettimeofday gives them."""
    return divmod(int(round(t * 1e6)), 1000000)


class _PerSecond:
    """A one-entry cache of a string that only changes once a second (one per variable)."""

    __slots__ = ("fn", "sec", "value")

    def __init__(self, fn: Callable[[int], str]):
        self.fn = fn
        self.sec = None
        self.value = None

    def __call__(self, sec: int) -> str:
        if sec != self.sec:
            self.value = self.fn(sec)
            self.sec = sec
        return self.value


def _gmt_formatter(fmt: str) -> Callable[[int], str]:
    fmt = sanitize(fmt)

    def fn(sec: int) -> str:
        try:
            text = time.strftime(fmt, time.gmtime(sec)) if fmt else ""
        except (ValueError, UnicodeError):
            text = fmt
        return _truncate(text, _STRFTIME_LIMIT)

    return fn


def _local_seconds(sec: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sec))


# -- variables -------------------------------------------------------------------------------
#
# A variable is (json key, type, getter); the getter returns the Python value or None
# (absent).  Types: "str", "int", "float", "bool".


def _attr(name: str):
    return attrgetter(name)


def _session_attr(name: str):
    return attrgetter("session." + name)


def _response_code(e):
    v = e.response_code
    if v is None and e.kind == COMMAND and e.verb == "QUIT":
        return 221              # mod_log's QUIT hack, copied by Jot
    return v


def _transfer_secs(e):
    ms = e.transfer_millis
    return None if ms is None else ms / 1000.0


def _transfer_speed(e):
    if e.kind != COMMAND or e.verb not in TRANSFER_COMMANDS:
        return None
    size, ms = e.file_size, e.transfer_millis
    if size is None or ms is None:
        return None
    if ms <= 0:
        ms = 0.1
    speed = (size / 1024.0) / (ms / 1000.0) if size > 0 else 0.0
    return "%.2fKB/s" % speed


def _transfer_port(e):
    v = e.transfer_port
    return v if v else None     # Jot logs it only when the data port is > 0


def _dir_name(e):
    v = e.dir_name
    return e.cwd if v is None else v    # %d is the working directory for other commands


def _epoch(e):
    return _split_time(e.time)[0]


def _microsecs(e):
    return _split_time(e.time)[1]


def _millisecs(e):
    return _split_time(e.time)[1] // 1000


def _make_local_time(fmt: Optional[str]):
    per_second = _PerSecond(_gmt_formatter("%Y-%m-%d %H:%M:%S %z" if fmt is None else fmt))

    def get(e):
        return per_second(_split_time(e.time)[0])
    get.per_second = per_second
    return get


def _make_iso8601():
    per_second = _PerSecond(_local_seconds)

    def get(e):
        sec, usec = _split_time(e.time)
        return "%s,%03d" % (per_second(sec), usec // 1000)
    return get


def _make_env(name: str):
    if name == UNIQUE_ID:
        # mod_unique_id sets it in the session process's environment; here many sessions
        # share a process, so each reads its own (doc/records.rst, "mod_unique_id").
        def get(e):
            v = e.session.unique_id
            return os.environ.get(name) if v is None else v
        return get

    def get(e):
        return os.environ.get(name)
    return get


def _make_note(name: str):
    if name == UNIQUE_ID:
        def get(e):
            v = e.notes.get(name)
            return e.session.unique_id if v is None else v
        return get

    def get(e):
        return e.notes.get(name)
    return get


def _absent(e):
    return None


_SIMPLE_STR = {
    "A": ("anon_password", "anon_password"),
    "D": ("dir_path", "dir_path"),
    "E": ("session_end_reason", "session_end_reason"),
    "F": ("transfer_path", "transfer_path"),
    "J": ("command_params", "command_params"),
    "S": ("response_msg", "response_msg"),
    "U": ("original_user", "original_user"),
    "c": ("connection_class", "connection_class"),
    "f": ("file", "file"),
    "g": ("group", "group"),
    "l": ("identd_user", "identd_user"),
    "m": ("command", "command"),
    "r": ("raw_command", "raw_command"),
    "u": ("user", "user"),
    "w": ("rename_from", "rename_from"),
    "{basename}": ("basename", "basename"),
    "{protocol}": ("protocol", "protocol"),
    "{transfer-failure}": ("transfer_failure", "transfer_failure"),
    "{transfer-status}": ("transfer_status", "transfer_status"),
    "{transfer-type}": ("transfer_type", "transfer_type"),
}
_SIMPLE_INT = {
    "I": ("session_bytes_rcvd", "session_bytes_rcvd"),
    "O": ("session_bytes_sent", "session_bytes_sent"),
    "R": ("response_millis", "response_millis"),
    "b": ("bytes_sent", "bytes_sent"),
    "{file-offset}": ("file_offset", "file_offset"),
    "{file-size}": ("file_size", "file_size"),
    "{gid}": ("gid", "gid"),
    "{uid}": ("uid", "uid"),
    "{transfer-millisecs}": ("transfer_millis", "transfer_millis"),
}
_SESSION_STR = {
    "H": ("server_ip", "server_ip"),
    "L": ("local_ip", "local_ip"),
    "V": ("server_dns", "server_dns"),
    "a": ("remote_ip", "remote_ip"),
    "h": ("remote_dns", "remote_dns"),
    "v": ("server_name", "server_name"),
    "{version}": ("server_version", "server_version"),
}
_SESSION_INT = {
    "P": ("pid", "pid"),
    "p": ("local_port", "local_port"),
    "{remote-port}": ("remote_port", "remote_port"),
}

# ftpredis's own (doc/records.rst, "Record identity"); 1.3.8 reads them as unknown.
_IDENTITY_STR = {"{record-id}": ("record_id", "record_id")}
_IDENTITY_INT = {"{session-seq}": ("session_seq", "session_seq")}
#: What a format must carry for the router to give each record its identity.
IDENTITY_FIELDS = frozenset({"record_id", "session_seq"})

#: The session note and environment variable mod_unique_id sets.
UNIQUE_ID = "UNIQUE_ID"

SHORT_VARS = "ADEFHIJLOPRSTUVabcdfghlmprstuvw"
LONG_VARS = ("basename", "epoch", "file-modified", "file-offset", "file-size", "gid",
             "iso8601", "microsecs", "millisecs", "protocol", "record-id", "remote-port",
             "session-seq", "transfer-failure", "transfer-millisecs", "transfer-port",
             "transfer-speed", "transfer-status", "transfer-type", "uid", "version")


class _Var:
    """One compiled variable: its JSON key, JSON type and value getter."""

    __slots__ = ("spec", "key", "type", "get", "needs", "inline")

    def __init__(self, spec: str, key: str, type_: str, get, needs=frozenset(), inline=None):
        self.spec = spec        # how it was written, e.g. "%u" or "%{env:HOME}"
        self.key = key
        self.type = type_
        self.get = get
        self.needs = needs      # the identity fields (IDENTITY_FIELDS) the value reads
        # What get() does, for _straight_renderer to write in line: ("attr", name),
        # ("session", name), ("response_code",), ("seconds", _PerSecond); None: call get.
        self.inline = inline

    def __repr__(self):
        return "<_Var %s -> %s (%s)>" % (self.spec, self.key, self.type)


def _variable(name: str, data: Optional[str] = None) -> Optional[_Var]:
    """The variable for a short name ("u"), a long one ("{epoch}") or a data one."""
    spec = "%" + name
    if name in _SIMPLE_STR:
        key, attr = _SIMPLE_STR[name]
        return _Var(spec, key, "str", _attr(attr), inline=("attr", attr))
    if name in _SIMPLE_INT:
        key, attr = _SIMPLE_INT[name]
        return _Var(spec, key, "int", _attr(attr), inline=("attr", attr))
    if name in _IDENTITY_STR:
        key, attr = _IDENTITY_STR[name]
        return _Var(spec, key, "str", _attr(attr), frozenset({attr}), ("attr", attr))
    if name in _IDENTITY_INT:
        key, attr = _IDENTITY_INT[name]
        return _Var(spec, key, "int", _attr(attr), frozenset({attr}), ("attr", attr))
    if name in _SESSION_STR:
        key, attr = _SESSION_STR[name]
        return _Var(spec, key, "str", _session_attr(attr), inline=("session", attr))
    if name in _SESSION_INT:
        key, attr = _SESSION_INT[name]
        return _Var(spec, key, "int", _session_attr(attr), inline=("session", attr))
    if name == "T":
        return _Var(spec, "transfer_secs", "float", _transfer_secs)
    if name == "d":
        return _Var(spec, "dir_name", "str", _dir_name)
    if name == "s":
        return _Var(spec, "response_code", "int", _response_code, inline=("response_code",))
    if name == "t":
        return _local_time_var(spec, "local_time", None)
    if name == "{epoch}":
        return _Var(spec, "epoch", "int", _epoch)
    if name == "{microsecs}":
        return _Var(spec, "microsecs", "usec", _microsecs)
    if name == "{millisecs}":
        return _Var(spec, "millisecs", "msec", _millisecs)
    if name == "{iso8601}":
        return _Var(spec, "timestamp", "str", _make_iso8601())
    if name == "{file-modified}":
        return _Var(spec, "file_modified", "bool", _attr("file_modified"))
    if name == "{transfer-port}":
        return _Var(spec, "transfer_port", "int", _transfer_port)
    if name == "{transfer-speed}":
        return _Var(spec, "transfer_speed", "str", _transfer_speed)
    if name == "env":
        # Jot drops an empty name at compile time; such a variable never resolves.
        return _Var(spec, "ENV:" + data, "str", _make_env(data) if data else _absent)
    if name == "note":
        return _Var(spec, "NOTE:" + data, "str", _make_note(data) if data else _absent)
    if name == "var":
        # No Var API here: the key is documented as VAR:NAME but never resolves.
        return _Var(spec, "VAR:" + data, "str", _absent)
    if name == "time":
        if not data:
            # Jot keeps no empty data: %{time:} and %{}t are plain %t.
            return _local_time_var(spec, "local_time", None)
        return _local_time_var(spec, data, data)
    return None


def _local_time_var(spec: str, key: str, fmt: Optional[str]) -> _Var:
    get = _make_local_time(fmt)
    return _Var(spec, key, "str", get, inline=("seconds", get.per_second))


def _parse(text: str) -> List[object]:
    """Jot's parser: literal strings and :class:`_Var` objects (doc/records.rst, "LogFormat
    parsing")."""
    out: List[object] = []
    lit: List[str] = []
    i, n = 0, len(text)

    def flush():
        if lit:
            out.append("".join(lit))
            lit.clear()

    while i < n:
        c = text[i]
        if c != "%":
            lit.append(c)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < n else ""
        if nxt and nxt in SHORT_VARS:
            flush()
            out.append(_variable(nxt))
            i += 2
            continue
        if nxt == "{":
            close = text.find("}", i + 2)
            if close >= 0:
                body = text[i + 2:close]
                var = None
                for prefix, kind in (("env:", "env"), ("note:", "note"),
                                     ("var:", "var"), ("time:", "time")):
                    if body.startswith(prefix):
                        var = _variable(kind, body[len(prefix):])
                        break
                else:
                    if body in LONG_VARS:
                        var = _variable("{" + body + "}")
                    elif body.lower() == "iso8601":
                        var = _variable("{iso8601}")
                if var is not None:
                    var.spec = text[i:close + 1]
                    flush()
                    out.append(var)
                    i = close + 1
                    continue
                suffix = text[close + 1:close + 2]
                if suffix in ("e", "t"):
                    var = _variable("env" if suffix == "e" else "time", body)
                    var.spec = text[i:close + 2]
                    flush()
                    out.append(var)
                    i = close + 2
                    continue
                # Unknown %{xyz}: the braces go, the text stays.
                lit.append(body)
                i = close + 1
                continue
        # Unknown %X, a trailing %, or an unterminated %{: the "%" is literal text and
        # parsing resumes on the next character.
        lit.append("%")
        i += 1
    flush()
    return out


# -- JSON fragments ----------------------------------------------------------------------------

def _json_fragment(var: _Var):
    """A function event -> '"key":value' text, or None when the variable is absent."""
    prefix = json_string(var.key) + ":"
    get = var.get
    if var.type == "str":
        search = _NEEDS_ESCAPE
        escapes = _ESCAPES
        qprefix = prefix + '"'

        def frag(e):
            v = get(e)
            if v is None:
                return None
            if search(v) is None:
                return qprefix + v + '"'
            return qprefix + v.translate(escapes) + '"'
    elif var.type == "bool":
        true, false = prefix + "true", prefix + "false"

        def frag(e):
            v = get(e)
            if v is None:
                return None
            return true if v else false
    elif var.type == "float":
        def frag(e):
            v = get(e)
            if v is None:
                return None
            return prefix + json_number(v)
    else:
        def frag(e):
            v = get(e)
            if v is None:
                return None
            if -_EXACT_INT < v < _EXACT_INT:
                return prefix + str(v)
            return prefix + json_number(v)
    return frag


# -- text form ---------------------------------------------------------------------------------

def _text_fragment(var: _Var):
    """A function event -> text for key templates and extra strings ("" when absent)."""
    get = var.get
    if var.type == "str":
        def text(e):
            v = get(e)
            return "" if v is None else v
    elif var.type == "bool":
        def text(e):
            v = get(e)
            return "" if v is None else ("true" if v else "false")
    elif var.type == "float":
        def text(e):
            v = get(e)
            return "" if v is None else "%0.3f" % v
    elif var.type == "usec":
        def text(e):
            v = get(e)
            return "" if v is None else "%06d" % v
    elif var.type == "msec":
        def text(e):
            v = get(e)
            return "" if v is None else "%03d" % v
    else:
        def text(e):
            v = get(e)
            return "" if v is None else str(v)
    return text


class Template:
    """A LogFormat rendered as text: Redis key templates and RedisLogFormatExtra strings.

    Literal text is kept, absent variables render as nothing, values are not escaped, and
    the result is cut at 1023 bytes (doc/records.rst, "Text form").
    """

    __slots__ = ("text", "_parts", "_constant", "needs")

    def __init__(self, text: str):
        self.text = text
        parts = []
        needs = frozenset()
        for item in _parse(text):
            if isinstance(item, str):
                parts.append(item)
            else:
                parts.append(_text_fragment(item))
                needs |= item.needs
        self.needs = needs      # the identity fields (IDENTITY_FIELDS) it renders
        self._parts = tuple(parts)
        if all(isinstance(p, str) for p in parts):
            self._constant = _truncate("".join(parts), TEMPLATE_LIMIT)
        else:
            self._constant = None

    @property
    def constant(self) -> Optional[str]:
        """The rendered text when the template has no variables, else None."""
        return self._constant

    def render(self, event) -> str:
        if self._constant is not None:
            return self._constant
        out = []
        for part in self._parts:
            out.append(part if part.__class__ is str else part(event))
        return _truncate("".join(out), TEMPLATE_LIMIT)

    def __repr__(self):
        return "Template(%r)" % (self.text,)


def compile_template(text: str) -> Template:
    return Template(text)


# -- RedisLogFormatExtra -----------------------------------------------------------------------

class _BoundExtras:
    """The extras of one scope for one format, resolved against that format's keys.

    ``members`` is a tuple of (key, conditional, make) where ``make(event)`` returns the
    '"key":value' fragment.  ``conditional`` marks keys the format (or the connecting /
    disconnecting flag) may already have produced; only those need a presence check.
    """

    __slots__ = ("members", "conditional")

    def __init__(self, extras: Sequence, format_keys: frozenset):
        seen = set()
        members = []
        for extra in extras:
            for key, value in extra.members:
                if key in seen:
                    # The earlier member either set this key or was skipped because the
                    # record had it; either way this one is skipped.
                    continue
                if value is not None and not isinstance(value, (str, bool, int, float)):
                    continue    # arrays, objects: doc/records.rst, "RedisLogFormatExtra"
                seen.add(key)
                make = _extra_fragment(key, value)
                if make is not None:
                    members.append((key, key in format_keys, make))
        self.members = tuple(members)
        self.conditional = any(m[1] for m in members)


def _extra_fragment(key: str, value):
    prefix = json_string(key) + ":"
    if isinstance(value, str):
        template = Template(value)
        if template.constant is not None:
            fragment = prefix + json_string(template.constant)
            return lambda e: fragment
        render = template.render
        return lambda e: prefix + json_string(render(e))
    if value is not None and not isinstance(value, (bool, int, float)):
        return None     # arrays and objects: dropped (doc/records.rst, "RedisLogFormatExtra")
    fragment = prefix + _json_value(value)
    return lambda e: fragment


# -- formats -----------------------------------------------------------------------------------

_CONNECTING = '"connecting":true'
_DISCONNECTING = '"disconnecting":true'


class CompiledFormat:
    """A compiled ``LogFormat name "text"`` (doc/records.rst, "LogFormat parsing" to
    "Serialisation")."""

    def __init__(self, name: str, text: str):
        self.name = name
        self.text = text
        self.variables: Tuple[_Var, ...] = tuple(
            item for item in _parse(text) if not isinstance(item, str))
        self._fragments = tuple(_json_fragment(v) for v in self.variables)
        self._keyed = tuple((v.key, f) for v, f in zip(self.variables, self._fragments))
        self.keys = frozenset(v.key for v in self.variables)
        needs = frozenset()
        for v in self.variables:
            needs |= v.needs
        self.needs = needs      # the identity fields (IDENTITY_FIELDS) its records carry
        self._bound = {}

    @property
    def name_bytes(self) -> bytes:
        return utf8(self.name)

    def pairs(self, event) -> List[Tuple[str, object]]:
        """The (key, value) pairs of the record, in format order (absent ones left out)."""
        out = []
        for var in self.variables:
            value = var.get(event)
            if value is not None:
                if var.type == "bool":
                    value = bool(value)
                out.append((var.key, value))
        return out

    def renderer(self, extras: Sequence = ()) -> Callable:
        """A function ``(event, connecting=False, disconnecting=False) -> bytes``.

        ``extras`` are :class:`ftpredis.config.model.FormatExtra` objects in config order;
        those for other formats are ignored.  The result is what the router calls per
        record, with everything about the extras worked out here, once.
        """
        extras = tuple(x for x in extras if x.format_name == self.name)
        fragments = self._fragments
        if not extras:
            return _straight_renderer(self.variables)

        bound = _BoundExtras(extras, self.keys | {"connecting", "disconnecting"})
        members = bound.members
        if not bound.conditional:
            def render(event, connecting=False, disconnecting=False):
                parts = []
                if connecting:
                    parts.append(_CONNECTING)
                if disconnecting:
                    parts.append(_DISCONNECTING)
                append = parts.append
                for frag in fragments:
                    v = frag(event)
                    if v is not None:
                        append(v)
                for _key, _cond, make in members:
                    append(make(event))
                return ("{" + ",".join(parts) + "}").encode("utf-8")
            return render

        keyed = self._keyed

        def render(event, connecting=False, disconnecting=False):
            parts = []
            present = set()
            if connecting:
                parts.append(_CONNECTING)
                present.add("connecting")
            if disconnecting:
                parts.append(_DISCONNECTING)
                present.add("disconnecting")
            for key, frag in keyed:
                v = frag(event)
                if v is not None:
                    parts.append(v)
                    present.add(key)
            for key, cond, make in members:
                if cond and key in present:
                    continue
                parts.append(make(event))
            return ("{" + ",".join(parts) + "}").encode("utf-8")
        return render

    def extras_needs(self, extras: Sequence = ()) -> frozenset:
        """The identity fields the string values of ``extras`` for this format render
        (``{"id":"%{record-id}"}``)."""
        needs = frozenset()
        for extra in extras:
            if extra.format_name == self.name:
                for _key, value in extra.members:
                    if isinstance(value, str) and "%" in value:
                        needs |= Template(value).needs
        return needs

    def json(self, event, extras: Sequence = (), connecting: bool = False,
             disconnecting: bool = False) -> bytes:
        """The record's JSON bytes; ``extras`` as for :meth:`renderer` (cached per tuple)."""
        extras = tuple(extras)
        try:
            render = self._bound.get(extras)
        except TypeError:       # unhashable member values (dropped arrays/objects)
            return self.renderer(extras)(event, connecting, disconnecting)
        if render is None:
            if len(self._bound) > 64:
                self._bound.clear()
            render = self._bound[extras] = self.renderer(extras)
        return render(event, connecting, disconnecting)

    def __repr__(self):
        return "CompiledFormat(%r, %r)" % (self.name, self.text)


#: Variables whose values repeat from record to record (a session's addresses, the
#: account, a command line without a file name, the reply...): their JSON text is kept
#: per value (``_REPEATING_MAX`` of them) and not escaped again.  Paths and sizes, unique
#: per file, are not.
_REPEATING = frozenset({
    "user", "original_user", "group", "identd_user", "command", "raw_command",
    "response_msg", "protocol", "connection_class", "session_end_reason",
    "transfer_status", "transfer_type", "transfer_failure"})
_REPEATING_MAX = 256


def _remember(cache: dict, key, text: str) -> str:
    if len(cache) >= _REPEATING_MAX:
        cache.clear()
    cache[key] = text
    return text


def _straight_renderer(variables) -> Callable:
    """The renderer of a format without extras, as one generated function: each
    variable's value read and written in line (no getter or fragment call for the usual
    ones: the record is built after every command's reply, 6 a session in the login
    workload), the JSON text of repeating values (:data:`_REPEATING`, the session's,
    the time's second) looked up instead of escaped again.  Same output as the
    fragments, byte for byte (tests.test_conformance_*, tests.test_logformat)."""
    ns = {"_C": _CONNECTING, "_D": _DISCONNECTING, "_search": _NEEDS_ESCAPE,
          "_esc": _ESCAPES, "_X": _EXACT_INT, "_jn": json_number, "_COMMAND": COMMAND,
          "_remember": _remember}
    lines = ["def render(e, connecting=False, disconnecting=False):",
             "    parts = [_C] if connecting else []",
             "    if disconnecting:",
             "        parts.append(_D)",
             "    append = parts.append"]
    for i, var in enumerate(variables):
        prefix = json_string(var.key) + ":"
        inline = var.inline
        kind = inline[0] if inline else None
        if var.type == "str":
            ns["q%d" % i] = prefix + '"'
            text = "q%d + (v if _search(v) is None else v.translate(_esc)) + '\"'" % i
        elif var.type == "bool":
            ns["t%d" % i], ns["f%d" % i] = prefix + "true", prefix + "false"
            text = "t%d if v else f%d" % (i, i)
        elif var.type == "float":
            ns["p%d" % i] = prefix
            text = "p%d + _jn(v)" % i
        else:       # int, usec, msec: as _json_fragment's last case
            ns["p%d" % i] = prefix
            text = "p%d + (str(v) if -_X < v < _X else _jn(v))" % i
        if kind == "seconds":
            # The time's text changes once a second: so does its JSON, kept by second.
            ns["s%d" % i], ns["c%d" % i] = inline[1], {}
            lines += ["    s = round(e.time * 1e6) // 1000000     # _split_time's seconds",
                      "    j = c%d.get(s)" % i,
                      "    if j is None:",
                      "        v = s%d(s)" % i,
                      "        if v is not None:",
                      "            j = _remember(c%d, s, %s)" % (i, text),
                      "    if j is not None:",
                      "        append(j)"]
            continue
        lines += ["    " + line for line in _value_code(var, i, ns)]
        if var.type == "str" and (kind == "session"
                                  or (kind == "attr" and inline[1] in _REPEATING)):
            ns["c%d" % i] = {}
            lines += ["    if v is not None:",
                      "        j = c%d.get(v)" % i,
                      "        append(j if j is not None else _remember(c%d, v, %s))"
                      % (i, text)]
        else:
            lines += ["    if v is not None:",
                      "        append(%s)" % text]
    lines.append("    return ('{' + ','.join(parts) + '}').encode('utf-8')")
    exec("\n".join(lines), ns)        # names and literals only: nothing from the config text
    return ns["render"]


def _value_code(var: _Var, i: int, ns: dict) -> List[str]:
    """Lines setting ``v`` to ``var.get(e)``: what the getter does, written out for the
    common variables (their names come from this module's tables, never the config)."""
    inline = var.inline
    kind = inline[0] if inline else None
    if kind == "attr":
        return ["v = e.%s" % inline[1]]
    if kind == "session":
        return ["v = e.session.%s" % inline[1]]
    if kind == "response_code":
        # _response_code
        return ["v = e.response_code",
                "if v is None and e.kind == _COMMAND and e.verb == 'QUIT':",
                "    v = 221"]
    ns["g%d" % i] = var.get
    return ["v = g%d(e)" % i]


def compile_format(name: str, text: str) -> CompiledFormat:
    return CompiledFormat(name, text)

