# -*- test-case-name: tests.test_router -*-
"""Which RedisLogOnCommand / RedisLogOnEvent rules log an event, and as what.

This module owns the runtime side of mod_redis's logging directives: choosing the config
scope of an event (the deepest matching ``<Directory>``, else ``<Anonymous>``, else the
server; doc/records.rst, "Configuration scope"), ProFTPD's merge-down of rules and extras
into nested scopes, the ``none`` pruning after login ("The none form"), the filter matching
of both directives ("Filter matching", "Command classes"; doc/decisions.rst,
"RedisLogOnCommand ALL") and the Redis key of each record (doc/records.rst, "Keys").

Everything that does not depend on the event's values is worked out once: scopes and
their effective rules at construction, and the list of matching rules per (scope, login
state, command) on first use.  :meth:`Router.records` is then a dictionary lookup plus
one render per record.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ftpredis.config import dirmatch
from ftpredis.config.model import DirectoryConfig, LogRule, LogScope, ServerConfig
from ftpredis.records.events import (
    COMMAND, COMMAND_CLASSES, CONNECT, DISCONNECT, KNOWN_COMMANDS,
)
from ftpredis.records.identity import record_id
from ftpredis.records.logformat import CompiledFormat, Template, compile_format, utf8

__all__ = ["Router", "Scope", "rule_matches"]

ON_COMMAND = "RedisLogOnCommand"
ON_EVENT = "RedisLogOnEvent"

# ProFTPD's class bits (only their distinctness matters).
_CLASS_BITS = {name: 1 << i for i, name in enumerate(
    ("AUTH", "INFO", "DIRS", "READ", "WRITE", "MISC", "SEC", "SSH", "SFTP",
     "CONNECT", "DISCONNECT"))}
CL_ALL = 0
for _name in ("AUTH", "INFO", "DIRS", "READ", "WRITE", "MISC", "SEC", "SSH", "SFTP"):
    CL_ALL |= _CLASS_BITS[_name]
CL_CONNECT = _CLASS_BITS["CONNECT"]
CL_DISCONNECT = _CLASS_BITS["DISCONNECT"]

_VERB_CLASSES: Dict[str, int] = {}
for _cls, _verbs in COMMAND_CLASSES.items():
    for _verb in _verbs:
        _VERB_CLASSES[_verb] = _VERB_CLASSES.get(_verb, 0) | _CLASS_BITS[_cls]

# Every command outside ProFTPD's table is matched the same way, so one cache entry
# serves all of them (and a client cannot grow the cache by inventing verbs).
_UNKNOWN = object()


def _included_classes(words) -> int:
    """Jot's included-class mask for RedisLogOnEvent words (ALL brings CONNECT/DISCONNECT)."""
    mask = 0
    for word in words:
        if word == "AUTH":
            continue    # Jot looks names up as commands first: AUTH is the FTP command
        if word == "ALL":
            mask |= CL_ALL | CL_CONNECT | CL_DISCONNECT
        elif word in _CLASS_BITS:
            mask |= _CLASS_BITS[word]
    return mask


def rule_matches(rule: LogRule, kind: str, verb: Optional[str]) -> bool:
    """Whether ``rule`` selects an event of ``kind`` with command word ``verb``.

    RedisLogOnCommand follows the documentation (doc/decisions.rst, "RedisLogOnCommand
    ALL" and "RedisLogOnCommand CONNECT,DISCONNECT"): command names, ``ALL`` for every
    command including unknown ones, ``CONNECT`` / ``DISCONNECT`` for the session events.
    RedisLogOnEvent copies Jot's filter (doc/records.rst, "Filter matching") exactly.
    """
    if rule.none:
        return False
    if rule.directive == ON_COMMAND:
        if kind == COMMAND:
            return "ALL" in rule.classes or verb in rule.commands
        if kind == CONNECT:
            return "CONNECT" in rule.classes
        if kind == DISCONNECT:
            return "DISCONNECT" in rule.classes
        return False

    included = _included_classes(rule.classes)
    if kind == CONNECT:
        return bool(included & CL_CONNECT)
    if kind == DISCONNECT:
        return bool(included & CL_DISCONNECT)
    if verb in KNOWN_COMMANDS:
        cls = _VERB_CLASSES.get(verb, 0)
        if cls:
            if cls & included:
                return True
        elif included == CL_ALL:
            return True
        return verb in rule.commands or (verb == "AUTH" and "AUTH" in rule.classes)
    # Unknown command (id -1, no CONNECT/DISCONNECT class): only an exact CL_ALL mask.
    return included == CL_ALL


# -- scopes ------------------------------------------------------------------------------------

class Scope:
    """One config context (server, <Anonymous> or <Directory>) after merge-down.

    ``entries`` are the directive records of the context as ProFTPD holds them after
    merge-down: its own, then the copies from its parent.  A ``none`` placeholder is
    single-valued, so it is copied into a child only if the child has no record of that
    directive yet; real rules are multi-valued and always copied.
    """

    def __init__(self, label: str, own: LogScope, parent: Optional["Scope"]):
        self.label = label
        self.parent = parent
        entries: List[LogRule] = list(own.rules)
        if parent is not None:
            for rule in parent.entries:
                if rule.none and any(r.directive == rule.directive for r in entries):
                    continue
                entries.append(rule)
        self.entries: Tuple[LogRule, ...] = tuple(entries)
        self.extras = tuple(own.extras) + (parent.extras if parent is not None else ())
        # Before login "none" is just skipped; after it, every directive that has a
        # "none" in this set loses all its records here (mod_redis POST_CMD PASS).
        # Checked against ProFTPD 1.3.8 (tools/compare_proftpd.py per_dir_none*): with
        # upstream's per_dir_none config it writes 1 record (the PWD in the home
        # directory), not the 0 its test expects; chroot or not, command or event.
        self.rules_before_login = tuple(r for r in self.entries if not r.none)
        pruned = {r.directive for r in self.entries if r.none}
        self.rules_after_login = tuple(
            r for r in self.entries if not r.none and r.directive not in pruned)

    def rules(self, logged_in: bool) -> Tuple[LogRule, ...]:
        return self.rules_after_login if logged_in else self.rules_before_login

    def __repr__(self):
        return "<Scope %s>" % (self.label,)


class _Dir:
    """A <Directory> section and its logging scope once merge-down is done."""

    __slots__ = ("config", "path", "scope")

    def __init__(self, config: DirectoryConfig):
        self.config = config
        self.path = config.path        # what ftpredis.config.dirmatch matches
        self.scope: Optional[Scope] = None

    def depth(self) -> Tuple[int, int]:
        return dirmatch.specificity(self.path)


def _build_dirs(configs: Sequence[DirectoryConfig], top: Scope, label: str) -> List[_Dir]:
    dirs = [_Dir(c) for c in configs]

    def parent_of(d: _Dir) -> Optional[_Dir]:
        # The enclosing section is the most specific less specific one that applies to
        # this section's own directory.
        probe = d.path[:-2] if d.path.endswith("/*") else d.path
        probe = dirmatch.normal_path(probe or "/")
        shallower = [o for o in dirs if o is not d and o.depth() < d.depth()]
        return dirmatch.most_specific(shallower, probe)

    def build(d: _Dir) -> Scope:
        if d.scope is None:
            parent = parent_of(d)
            parent_scope = build(parent) if parent is not None else top
            d.scope = Scope("%s <Directory %s>" % (label, d.config.path), d.config.logging,
                            parent_scope)
        return d.scope

    for d in dirs:
        build(d)
    # Deepest first, as ftpredis.config.dirmatch orders them.
    return sorted(dirs, key=lambda d: d.depth(), reverse=True)


def _deepest(dirs: Sequence[_Dir], path: Optional[str]) -> Optional[_Dir]:
    return dirmatch.most_specific(dirs, path)


# -- the router --------------------------------------------------------------------------------

def _identifier(needs: frozenset) -> Optional[Callable]:
    """``identify(event)``: the event of one record, with the identity fields ``needs``
    names set (doc/records.rst, "Record identity"); None when it names none."""
    want_id = "record_id" in needs
    want_seq = "session_seq" in needs
    if not (want_id or want_seq):
        return None

    def identify(event):
        return event.identified(record_id() if want_id else None,
                                next(event.session.seq) if want_seq else None)
    return identify


class _Target:
    """One matching rule, ready to produce a record.

    ``written_key`` is the key as the configuration wrote it (the rule's key template, or
    the format name), the same for every record of the rule (``written``, its bytes, is
    what RedisLogTarget rules are looked up by); ``identify`` is None unless
    the format, the key or the extras read ``%{record-id}`` or ``%{session-seq}``.
    """

    __slots__ = ("render", "key", "key_template", "connecting", "disconnecting",
                 "written_key", "written", "identify")

    def __init__(self, render, key: Optional[bytes], key_template: Optional[Template],
                 connecting: bool, disconnecting: bool, written_key: str = "",
                 identify: Optional[Callable] = None):
        self.render = render
        self.key = key
        self.key_template = key_template
        self.connecting = connecting
        self.disconnecting = disconnecting
        self.written_key = written_key
        self.written = utf8(written_key) if written_key else None
        self.identify = identify


class Router:
    """Routes events of one server to ``(key, json)`` records (doc/records.rst, "Filter
    matching" to "The none form")."""

    _PATH_CACHE_SIZE = 4096

    def __init__(self, server: ServerConfig, ssh: bool = False):
        self.server = server
        # An SSH server's (SFTPEngine on): ProFTPD 1.3.8 logs none of its sessions'
        # events through RedisLogOnCommand, only through RedisLogOnEvent
        # (doc/sftp-records.rst).
        self._directives = (ON_EVENT,) if ssh else (ON_COMMAND, ON_EVENT)
        self.formats: Dict[str, CompiledFormat] = {
            name: compile_format(name, text) for name, text in server.formats.items()}
        self.dropped_empty_key = 0      # records dropped because the key rendered empty
        self.problems: List[str] = []   # rules naming a LogFormat that does not exist
        self._templates: Dict[str, Template] = {}
        self._renderers: Dict[Tuple[str, tuple], object] = {}

        self.server_scope = Scope("%s" % server.label, server.logging, None)
        self._server_dirs = _build_dirs(server.directories, self.server_scope, server.label)
        if server.anonymous:
            anon = server.anonymous[0]
            self.anon_scope: Optional[Scope] = Scope(
                "%s <Anonymous %s>" % (server.label, anon.root), anon.logging,
                self.server_scope)
            self._anon_dirs = _build_dirs(anon.directories, self.anon_scope,
                                          "%s <Anonymous>" % server.label)
        else:
            self.anon_scope = None
            self._anon_dirs = []

        self._path_cache: Dict[Tuple[bool, Optional[str]], Scope] = {}
        self._targets: Dict[tuple, Tuple[_Target, ...]] = {}
        self.enabled = any(s.entries for s in self.scopes())

    def written_keys(self) -> set:
        """Every Redis key as the rules write it (variables unexpanded; a rule without
        a key writes to its LogFormat's name): what RedisLogTarget rules name."""
        return {rule.key_template if rule.key_template is not None else rule.format_name
                for scope in self.scopes() for rule in scope.entries if not rule.none}

    def scopes(self) -> List[Scope]:
        out = [self.server_scope]
        out.extend(d.scope for d in self._server_dirs)
        if self.anon_scope is not None:
            out.append(self.anon_scope)
            out.extend(d.scope for d in self._anon_dirs)
        return out

    # -- scope selection --------------------------------------------------------------

    def scope_for(self, event) -> Scope:
        """The config context of ``event`` (doc/records.rst, "Configuration scope")."""
        anonymous = bool(event.anonymous) and self.anon_scope is not None
        cache_key = (anonymous, event.config_path)
        scope = self._path_cache.get(cache_key)
        if scope is None:
            if anonymous:
                d = _deepest(self._anon_dirs, event.config_path)
                scope = d.scope if d is not None else self.anon_scope
            else:
                d = _deepest(self._server_dirs, event.config_path)
                scope = d.scope if d is not None else self.server_scope
            if len(self._path_cache) >= self._PATH_CACHE_SIZE:
                self._path_cache.clear()
            self._path_cache[cache_key] = scope
        return scope

    # -- matching ----------------------------------------------------------------------

    def _template(self, text: str) -> Template:
        template = self._templates.get(text)
        if template is None:
            template = self._templates[text] = Template(text)
        return template

    def _renderer(self, fmt: CompiledFormat, extras: tuple):
        key = (fmt.name, extras)
        render = self._renderers.get(key)
        if render is None:
            render = self._renderers[key] = fmt.renderer(extras)
        return render

    def targets(self, scope: Scope, logged_in: bool, kind: str, verb) -> Tuple[_Target, ...]:
        """The matching rules for an event, in order: RedisLogOnCommand, then RedisLogOnEvent."""
        cache_key = (scope, logged_in, kind, verb)
        found = self._targets.get(cache_key)
        if found is not None:
            return found
        match_verb = None if verb is _UNKNOWN else verb
        out = []
        rules = scope.rules(logged_in)
        for directive in self._directives:
            for rule in rules:
                if rule.directive != directive or not rule_matches(rule, kind, match_verb):
                    continue
                fmt = self.formats.get(rule.format_name)
                if fmt is None:
                    problem = "%s: no LogFormat '%s' configured (%s)" % (
                        rule.directive, rule.format_name, rule.source)
                    if problem not in self.problems:
                        self.problems.append(problem)
                    continue
                render = self._renderer(fmt, scope.extras)
                needs = fmt.needs | fmt.extras_needs(scope.extras)
                if rule.key_template is None:
                    key, template = fmt.name_bytes, None
                else:
                    template = self._template(rule.key_template)
                    needs |= template.needs
                    key = None
                    if template.constant is not None:
                        key = utf8(template.constant)
                is_command = directive == ON_COMMAND
                out.append(_Target(render, key, template,
                                   is_command and kind == CONNECT,
                                   is_command and kind == DISCONNECT,
                                   written_key=(rule.key_template if rule.key_template is not None
                                                else fmt.name),
                                   identify=_identifier(needs)))
        found = self._targets[cache_key] = tuple(out)
        return found

    def emitter(self, push: Callable[[bytes, bytes, Optional[bytes]], None]) -> Callable:
        """``emit(event)``: :meth:`records`, each handed to ``push(key, json, written)``
        (``written``: the key as the config wrote it, for RedisLogTarget) as it is
        made (no list, no tuples: this runs after every command)."""
        targets_for = self.targets
        scope_for = self.scope_for
        known = KNOWN_COMMANDS
        # What decides an event's rules, straight to them: its scope's inputs (see
        # scope_for), login state, kind and command.  Bounded as _path_cache is.
        routes: Dict[tuple, Tuple[_Target, ...]] = {}
        limit = self._PATH_CACHE_SIZE

        def emit(event):
            kind = event.kind
            if kind == COMMAND:
                verb = event.verb
                if verb not in known:
                    verb = _UNKNOWN
            else:
                verb = None
            logged_in = True if event.logged_in else False
            route = (True if event.anonymous else False, event.config_path, logged_in, kind,
                     verb)
            found = routes.get(route)
            if found is None:
                found = targets_for(scope_for(event), logged_in, kind, verb)
                if len(routes) >= limit:
                    routes.clear()
                routes[route] = found
            for t in found:
                # One record, one identity: its key, JSON and extras read the same one.
                record = event if t.identify is None else t.identify(event)
                key = t.key
                if key is None:
                    key = utf8(t.key_template.render(record))
                if not key:
                    # ProFTPD's RPUSH refuses an empty key (EINVAL); the record is lost
                    # (after taking its session_seq: the consumer sees the gap).
                    self.dropped_empty_key += 1
                    continue
                push(key, t.render(record, t.connecting, t.disconnecting), t.written)
        return emit

    def records(self, event) -> List[Tuple[bytes, bytes]]:
        """``(key, json)`` for every rule that logs ``event``, in config order (what
        :meth:`emitter` pushes, as a list)."""
        out: List[Tuple[bytes, bytes]] = []
        self.emitter(lambda key, value, _written=None: out.append((key, value)))(event)
        return out
