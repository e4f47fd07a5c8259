# -*- test-case-name: tests.test_router -*-
"""Tests for ftpredis.records.router: matching, scopes, merge-down, "none" pruning, keys."""

import json

from twisted.trial import unittest

from ftpredis.config.model import (
    AnonymousConfig, DirectoryConfig, FormatExtra, LogRule, LogScope, ServerConfig,
)
from ftpredis.records.events import COMMAND, CONNECT, DISCONNECT, KNOWN_COMMANDS, Event, Session
from ftpredis.records.router import Router, rule_matches

SESSION = Session(
    remote_ip="127.0.0.1", remote_port=40123, remote_dns="127.0.0.1", local_ip="127.0.0.1",
    server_dns="127.0.0.1", server_ip="127.0.0.1", local_port=2121, server_name="example",
    server_version="1.3.8", pid=1)

HOME = "/srv/home"


def command(verb, path=HOME, logged_in=True, **kw):
    kw.setdefault("command", verb)
    kw.setdefault("raw_command", verb)
    kw.setdefault("user", "ftpuser" if logged_in else None)
    return Event(kind=COMMAND, session=SESSION, time=1795640437.5, verb=verb,
                 config_path=path, logged_in=logged_in, **kw)


def connect():
    return Event(kind=CONNECT, session=SESSION, time=1795640437.5, config_path=HOME)


def disconnect(**kw):
    return Event(kind=DISCONNECT, session=SESSION, time=1795640437.5, verb="EXIT",
                 command="EXIT", config_path=HOME, session_end_reason="Quit", **kw)


def on_command(words, fmt="f", key=None):
    return _rule("RedisLogOnCommand", words, fmt, key)


def on_event(words, fmt="f", key=None):
    return _rule("RedisLogOnEvent", words, fmt, key)


def _rule(directive, words, fmt, key):
    names = words.split(",")
    commands = frozenset(n.upper() for n in names if n.upper() in KNOWN_COMMANDS)
    classes = frozenset(n for n in names if n.upper() not in KNOWN_COMMANDS or n == "AUTH")
    return LogRule(directive=directive, commands=commands, classes=classes,
                   format_name=fmt, key_template=key)


def none(directive="RedisLogOnCommand"):
    return LogRule(directive=directive, none=True)


def scope(*rules, extras=()):
    return LogScope(rules=tuple(rules), extras=tuple(extras))


def server(logging=LogScope(), directories=(), anonymous=(), formats=None):
    return ServerConfig(is_main=True, source=None, addresses=("127.0.0.1",),
                        formats=formats or {"f": "%m", "g": "%u"}, redis_engine=True,
                        logging=logging, directories=tuple(directories),
                        anonymous=tuple(anonymous))


def directory(path, *rules, extras=()):
    return DirectoryConfig(path=path, logging=scope(*rules, extras=extras))


def decoded(records):
    return [(k.decode(), json.loads(v)) for k, v in records]


# The long session of doc/records.rst, "Command classes", in order (FOO and LANG included).
SESSION_VERBS = (
    "USER PASS SYST FEAT PWD TYPE PASV LIST NLST MKD CWD STOR DELE CDUP SIZE MDTM RETR REST "
    "APPE STOU SITE MLST EPSV MLSD RNFR RNTO RMD NOOP STAT HELP PORT EPRT CLNT HOST OPTS MFMT "
    "LANG FOO XMD5 HASH QUIT").split()


class MatchingTests(unittest.TestCase):
    """doc/records.rst, "Command classes" and "Filter matching"; doc/decisions.rst for
    RedisLogOnCommand."""

    def selected(self, rule):
        out = [v for v in SESSION_VERBS if rule_matches(rule, COMMAND, v)]
        if rule_matches(rule, CONNECT, None):
            out.insert(0, "CONNECT")
        if rule_matches(rule, DISCONNECT, "EXIT"):
            out.append("EXIT")
        return set(out)

    def test_event_class_table(self):
        table = {
            "INFO": "SYST FEAT PWD SIZE MDTM STAT HELP QUIT CLNT",
            "DIRS": "PWD LIST NLST MKD CWD CDUP MDTM MLST MLSD RMD",
            "READ": "RETR",
            "WRITE": "MKD STOR DELE APPE STOU RNFR RNTO RMD MFMT",
            "MISC": "TYPE PASV REST SITE EPSV RNFR RNTO NOOP PORT EPRT HOST OPTS",
            "AUTH": "",
            "SEC": "", "SSH": "", "SFTP": "", "EXIT": "", "!READ": "",
            "connect,disconnect": "", "all": "",
            "CONNECT": "CONNECT", "DISCONNECT": "EXIT",
            "READ,PWD": "PWD RETR",
        }
        for words, expected in table.items():
            self.assertEqual(self.selected(on_event(words)), set(expected.split()), words)

    def test_event_all(self):
        expected = set(SESSION_VERBS) - {"LANG", "FOO", "XMD5", "HASH"} | {"CONNECT", "EXIT"}
        self.assertEqual(self.selected(on_event("ALL")), expected)

    def test_event_auth_is_the_command(self):
        self.assertTrue(rule_matches(on_event("AUTH"), COMMAND, "AUTH"))
        self.assertFalse(rule_matches(on_event("AUTH"), COMMAND, "USER"))

    def test_event_never_logs_unknown(self):
        # Jot logs an unknown or class-0 command only for a mask of exactly CL_ALL, which
        # RedisLogOnEvent cannot express: ALL adds CONNECT|DISCONNECT, and the word AUTH
        # is the AUTH command, not the class.
        for words in ("ALL", "AUTH,INFO,DIRS,READ,WRITE,MISC,SEC,SSH,SFTP"):
            self.assertFalse(rule_matches(on_event(words), COMMAND, "FOO"), words)
            self.assertFalse(rule_matches(on_event(words), COMMAND, "LANG"), words)
        self.assertTrue(rule_matches(on_event("LANG"), COMMAND, "LANG"))

    def test_command_names(self):
        rule = on_command("retr,STOR")
        self.assertEqual(self.selected(rule), {"RETR", "STOR"})

    def test_command_all_includes_unknown(self):
        self.assertEqual(self.selected(on_command("ALL")), set(SESSION_VERBS))

    def test_command_connect_disconnect(self):
        self.assertEqual(self.selected(on_command("CONNECT,DISCONNECT")), {"CONNECT", "EXIT"})
        self.assertEqual(self.selected(on_command("ALL,CONNECT,DISCONNECT")),
                         set(SESSION_VERBS) | {"CONNECT", "EXIT"})

    def test_none_matches_nothing(self):
        self.assertEqual(self.selected(none()), set())


class RecordTests(unittest.TestCase):

    def test_default_key_is_format_name(self):
        router = Router(server(scope(on_command("PASS", "f"))))
        self.assertEqual(router.records(command("PASS")), [(b"f", b'{"command":"PASS"}')])
        self.assertEqual(router.records(command("USER")), [])

    def test_connect_disconnect_keys(self):
        router = Router(server(scope(on_command("CONNECT,DISCONNECT", "f"),
                                     on_event("CONNECT,DISCONNECT", "f"))))
        self.assertEqual(router.records(connect()),
                         [(b"f", b'{"connecting":true}'), (b"f", b"{}")])
        self.assertEqual(router.records(disconnect()),
                         [(b"f", b'{"disconnecting":true,"command":"EXIT"}'),
                          (b"f", b'{"command":"EXIT"}')])

    def test_command_rules_before_event_rules(self):
        router = Router(server(scope(on_event("ALL", "f", "ev"), on_command("PASS", "g", "c1"),
                                     on_event("PASS", "f", "ev"), on_command("ALL", "f", "c2"))))
        self.assertEqual([k for k, v in router.records(command("PASS"))],
                         [b"c1", b"c2", b"ev", b"ev"])

    def test_same_key_twice(self):
        router = Router(server(scope(on_event("ALL", "f", "ev"), on_event("PASS", "f", "ev"))))
        self.assertEqual(router.records(command("PASS")),
                         [(b"ev", b'{"command":"PASS"}')] * 2)

    def test_key_templates(self):
        router = Router(server(scope(on_event("ALL", "f", "pre.%u.%m.%a"))))
        self.assertEqual(router.records(connect())[0][0], b"pre...127.0.0.1")
        self.assertEqual(router.records(command("USER", logged_in=False))[0][0],
                         b"pre..USER.127.0.0.1")
        self.assertEqual(router.records(disconnect(user="ftpuser"))[0][0],
                         b"pre.ftpuser.EXIT.127.0.0.1")

    def test_empty_key_dropped_and_counted(self):
        router = Router(server(scope(on_command("USER,PASS", "f", "%u"))))
        self.assertEqual(router.records(command("USER", logged_in=False)), [])
        self.assertEqual(router.dropped_empty_key, 1)
        self.assertEqual(router.records(command("PASS")), [(b"ftpuser", b'{"command":"PASS"}')])

    def test_invalid_utf8_key(self):
        router = Router(server(scope(on_command("PASS", "f", "u:%u"))))
        bad = b"b\xffd".decode("utf-8", "surrogateescape")
        self.assertEqual(router.records(command("PASS", user=bad))[0][0],
                         b"u:b\xef\xbf\xbdd")

    def test_unknown_verbs_share_a_cache_entry(self):
        router = Router(server(scope(on_command("ALL", "f"))))
        for i in range(100):
            self.assertEqual(len(router.records(command("FOO%d" % i))), 1)
        self.assertEqual(len(router._targets), 1)

    def test_extras(self):
        extra = FormatExtra("f", (("x", "%u"), ("command", "no")))
        other = FormatExtra("g", (("y", 1),))
        router = Router(server(scope(on_command("PASS", "f"), extras=[extra, other])))
        self.assertEqual(router.records(command("PASS")),
                         [(b"f", b'{"command":"PASS","x":"ftpuser"}')])

    def test_missing_format_reported(self):
        router = Router(server(scope(on_command("PASS", "nosuch"))))
        self.assertEqual(router.records(command("PASS")), [])
        self.assertEqual(len(router.problems), 1)


class ScopeTests(unittest.TestCase):
    """doc/records.rst, "Configuration scope", "The none form", "Observed sessions";
    upstream per_dir tests."""

    def keys(self, router, event):
        return [k.decode() for k, v in router.records(event)]

    def test_directory_scope(self):
        router = Router(server(directories=[directory(HOME + "/test.d", on_command("PWD"))]))
        self.assertEqual(self.keys(router, command("PWD", HOME)), [])
        self.assertEqual(self.keys(router, command("PWD", HOME + "/test.d")), ["f"])
        self.assertEqual(self.keys(router, command("PWD", HOME + "/test.d/deeper")), ["f"])
        self.assertEqual(self.keys(router, command("PWD", HOME + "/test.dx")), [])

    def test_star_matches_only_below(self):
        router = Router(server(directories=[directory(HOME + "/*", on_command("PWD"))]))
        self.assertEqual(self.keys(router, command("PWD", HOME)), [])
        self.assertEqual(self.keys(router, command("PWD", HOME + "/x")), ["f"])

    def test_deepest_wins_and_merge_down_order(self):
        router = Router(server(
            scope(on_command("PWD", "f", "server")),
            directories=[directory(HOME + "/a/b", on_command("PWD", "f", "b")),
                         directory(HOME, on_command("PWD", "f", "home")),
                         directory(HOME + "/a", on_command("PWD", "f", "a"))]))
        self.assertEqual(self.keys(router, command("PWD", HOME + "/a/b/c")),
                         ["b", "a", "home", "server"])
        self.assertEqual(self.keys(router, command("PWD", HOME + "/a")),
                         ["a", "home", "server"])
        self.assertEqual(self.keys(router, command("PWD", "/elsewhere")), ["server"])
        self.assertEqual(self.keys(router, command("PWD", None)), ["server"])

    def test_extras_merge_down(self):
        router = Router(server(
            scope(on_command("PWD"), extras=[FormatExtra("f", (("k", "server"), ("s", 1)))]),
            directories=[directory(HOME, extras=[FormatExtra("f", (("k", "dir"),))])]))
        self.assertEqual(decoded(router.records(command("PWD", HOME))),
                         [("f", {"command": "PWD", "k": "dir", "s": 1})])
        self.assertEqual(decoded(router.records(command("PWD", "/x"))),
                         [("f", {"command": "PWD", "k": "server", "s": 1})])

    def test_anonymous_scope(self):
        anon = AnonymousConfig(
            root="/srv/anon", logging=scope(on_command("PWD,RETR", "f", "anon_only")),
            directories=(directory("/srv/anon/pub", on_command("RETR", "f", "pub")),))
        router = Router(server(scope(on_command("RETR", "f", "main")), anonymous=[anon]))
        self.assertEqual(self.keys(router, command("RETR", "/srv/anon/pub/a", anonymous=True)),
                         ["pub", "anon_only", "main"])
        self.assertEqual(self.keys(router, command("PWD", "/srv/anon", anonymous=True)),
                         ["anon_only"])
        self.assertEqual(self.keys(router, command("RETR", "/srv/anon/pub/a")), ["main"])

    def test_none_in_subdirectory(self):
        # doc/records.rst, "Observed sessions": none in pub/subdir silences it after login
        router = Router(server(directories=[
            directory("/r/pub", on_command("RETR")),
            directory("/r/pub/subdir", none())]))
        self.assertEqual(self.keys(router, command("RETR", "/r/pub/a.txt")), ["f"])
        self.assertEqual(self.keys(router, command("RETR", "/r/pub/subdir/b.txt")), [])
        # before login the placeholder is just skipped: merged-down copies still log
        self.assertEqual(
            self.keys(router, command("RETR", "/r/pub/subdir/b.txt", logged_in=False)), ["f"])

    def test_per_dir_none2(self):
        # upstream redis_log_on_command_per_dir_none2: <Directory /> PWD, test.d none -> 1
        router = Router(server(directories=[directory("/", on_command("PWD")),
                                            directory(HOME + "/test.d", none())]))
        records = (router.records(command("PWD", HOME)) +
                   router.records(command("PWD", HOME + "/test.d")))
        self.assertEqual(len(records), 1)

    def test_per_dir_none_code_reading(self):
        # upstream redis_log_on_command_per_dir_none expects 0; reading the code gives 1
        # (doc/records.rst, "The none form").  This asserts the code-reading behaviour.
        router = Router(server(directories=[directory(HOME, on_command("PWD")),
                                            directory(HOME + "/test.d", none())]))
        records = (router.records(command("PWD", HOME)) +
                   router.records(command("PWD", HOME + "/test.d")))
        self.assertEqual(len(records), 1)

    def test_none_prunes_only_its_directive(self):
        router = Router(server(scope(none("RedisLogOnCommand"), on_command("PWD", "f", "c"),
                                     on_event("PWD", "f", "e"))))
        self.assertEqual(self.keys(router, command("PWD", logged_in=False)), ["c", "e"])
        self.assertEqual(self.keys(router, command("PWD")), ["e"])

    def test_none_placeholder_merges_down_only_into_empty_sets(self):
        # The single-valued placeholder is copied only where the child has no record of
        # that directive yet, so a child with its own rule keeps logging after login.
        router = Router(server(
            scope(none(), on_event("PWD", "f", "ev")),
            directories=[directory("/own", on_command("PWD", "f", "own")),
                         directory("/plain")]))
        self.assertEqual(self.keys(router, command("PWD", "/own")), ["own", "ev"])
        self.assertEqual(self.keys(router, command("PWD", "/plain")), ["ev"])
        self.assertEqual(self.keys(router, command("PWD", "/x")), ["ev"])


class EventFlowTests(unittest.TestCase):
    """records.flow: every subscriber sees every event in order; one that fails does not
    keep the event from the others; a removed subscriber sees no more."""

    def test_fan_out(self):
        from ftpredis.records.flow import EventFlow
        flow, seen = EventFlow(), []

        def broken(event):
            raise RuntimeError("subscriber bug")
        flow.subscribe(broken)
        remove = flow.subscribe(lambda e: seen.append(("a", e)))
        flow.subscribe(lambda e: seen.append(("b", e)))
        flow("e1")
        remove()
        flow("e2")
        self.assertEqual(seen, [("a", "e1"), ("b", "e1"), ("b", "e2")])
        self.assertTrue(self.flushLoggedErrors(RuntimeError))
