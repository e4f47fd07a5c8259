# -*- test-case-name: tests.test_logformat -*-
"""Tests for ftpredis.records.logformat: compile rules, variables, JSON bytes, templates, extras."""

import json
import os
import time

from twisted.trial import unittest

from ftpredis.config.model import FormatExtra
from ftpredis.records.events import COMMAND, CONNECT, DISCONNECT, Event, Session, command_fields
from ftpredis.records.logformat import (
    LONG_VARS, SHORT_VARS, compile_format, compile_template, encode_json, json_number,
    json_string, utf8,
)

# 2026-11-25 21:00:37.842109 UTC
T0 = 1795640437.842109

SESSION = Session(
    remote_ip="127.0.0.1", remote_port=40123, remote_dns="127.0.0.1", local_ip="127.0.0.1",
    server_dns="localhost", server_ip="127.0.0.1", local_port=2121, server_name="example",
    server_version="1.3.8", pid=10610)


def command(verb="NOOP", **kw):
    kw.setdefault("command", verb)
    kw.setdefault("raw_command", verb)
    kw.setdefault("session", SESSION)
    kw.setdefault("time", T0)
    return Event(kind=COMMAND, verb=verb, **kw)


def connect(**kw):
    return Event(kind=CONNECT, session=SESSION, time=T0, uid=65534, gid=65534, **kw)


def disconnect(**kw):
    kw.setdefault("command", "EXIT")
    return Event(kind=DISCONNECT, session=SESSION, time=T0, verb="EXIT", **kw)


def stor(**kw):
    fields = dict(
        user="ftpuser", original_user="ftpuser", group="ftpgroup", uid=5001, gid=5001,
        raw_command="STOR f.txt", command_params="f.txt", response_code=226,
        response_msg="Transfer complete", response_millis=3, bytes_sent=120,
        transfer_millis=1, transfer_status="success", transfer_type="binary",
        transfer_port=50001, file="/srv/home/f.txt", transfer_path="/f.txt",
        basename="f.txt", dir_name="/", file_offset=0, file_size=120,
        session_bytes_rcvd=240, session_bytes_sent=400, logged_in=True)
    fields.update(kw)
    return command("STOR", **fields)


def record(fmt, event, **kw):
    """The JSON bytes of ``fmt`` for ``event``, checked to be valid UTF-8 JSON."""
    out = compile_format("f", fmt).json(event, **kw)
    json.loads(out.decode("utf-8"))
    return out


class CompileRulesTests(unittest.TestCase):
    """doc/records.rst, "LogFormat parsing"; cases from ProFTPD's tests/api/jot.c."""

    def keys(self, text):
        return [v.key for v in compile_format("x", text).variables]

    def test_short_vars(self):
        for c in "ADEFHIJLOPRSTUVabcdfghlmprstuvw":
            self.assertEqual(len(self.keys("%" + c)), 1, c)

    def test_long_vars(self):
        for name in ("basename", "epoch", "file-modified", "file-offset", "file-size",
                     "gid", "iso8601", "microsecs", "millisecs", "protocol", "remote-port",
                     "transfer-failure", "transfer-millisecs", "transfer-port",
                     "transfer-speed", "transfer-status", "transfer-type", "uid", "version"):
            self.assertEqual(len(self.keys("%{" + name + "}")), 1, name)

    def test_iso8601_case_insensitive(self):
        self.assertEqual(self.keys("%{ISO8601} %{Iso8601}"), ["timestamp", "timestamp"])

    def test_other_long_names_case_sensitive(self):
        self.assertEqual(self.keys("%{EPOCH}"), [])
        self.assertEqual(compile_template("%{EPOCH}").render(command()), "EPOCH")

    def test_data_vars(self):
        self.assertEqual(self.keys("%{env:FOOBAR}!"), ["ENV:FOOBAR"])
        self.assertEqual(self.keys("%{note:FOOBAR}!"), ["NOTE:FOOBAR"])
        self.assertEqual(self.keys("%{var:FOOBAR}!"), ["VAR:FOOBAR"])
        self.assertEqual(self.keys("%{time:FOOBAR}!"), ["FOOBAR"])
        self.assertEqual(self.keys("%{FOOBAR}e"), ["ENV:FOOBAR"])
        self.assertEqual(self.keys("%{FOOBAR}t"), ["FOOBAR"])

    def test_suffix_T_is_not_a_variable(self):
        self.assertEqual(self.keys("%{FOOBAR}T"), [])
        self.assertEqual(compile_template("%{FOOBAR}T").render(command()), "FOOBART")

    def test_jot_counts(self):
        self.assertEqual(self.keys("%A %b %{epoch} %{unknown key here}, boo!"),
                         ["anon_password", "bytes_sent", "epoch"])
        self.assertEqual(
            len(self.keys("%A %b %{epoch} %{unknown key here}, boo!%{not closed")), 3)
        self.assertEqual(self.keys("Hello, World!"), [])

    def test_unknown_short_is_literal(self):
        self.assertEqual(self.keys("%X %Z %%"), [])
        self.assertEqual(compile_template("a%Xb%Z").render(command()), "a%Xb%Z")

    def test_unknown_long_drops_braces(self):
        self.assertEqual(compile_template("<%{xyz}>").render(command()), "<xyz>")
        self.assertEqual(compile_template("%{0}").render(command()), "0")

    def test_unterminated_brace_literal(self):
        event = command(user="bob")
        self.assertEqual(compile_template("%{not closed %u").render(event),
                         "%{not closed bob")
        self.assertEqual(compile_template("x%").render(event), "x%")

    def test_no_percent_escape(self):
        self.assertEqual(compile_template("%%u").render(command(user="bob")), "%bob")
        self.assertEqual(self.keys("%%u"), ["user"])

    def test_brace_ends_at_first_close(self):
        self.assertEqual(compile_template("%{a}b}").render(command()), "ab}")
        self.assertEqual(self.keys("%{env:A}B}"), ["ENV:A"])
        self.assertEqual(self.keys("%{time:%H}:%M}"), ["%H"])

    def test_empty_data(self):
        # Jot stores no empty data: %{time:} and %{}t are %t; %{env:} and %{}e never resolve.
        self.assertEqual(self.keys("%{time:} %{}t"), ["local_time", "local_time"])
        self.assertEqual(record("%{env:} %{}e %{note:}", command()), b"{}")

    def test_literal_text_ignored_in_json(self):
        self.assertEqual(record("user=%u, [%s]", command(user="u", response_code=200)),
                         b'{"user":"u","response_code":200}')


class VariableTests(unittest.TestCase):
    """Key, type, presence and text form of every variable (doc/records.rst, "Variables")."""

    def pairs(self, text, event):
        return compile_format("x", text).pairs(event)

    def text(self, text, event):
        return compile_template(text).render(event)

    def test_full_stor_record(self):
        event = stor(anon_password="guest@x", connection_class="local", identd_user="id",
                     dir_path="/srv/home", rename_from="/a", file_modified=True,
                     transfer_failure="boom", notes={"mod_x.n": "nv"})
        expected = [
            ("%A", "anon_password", "guest@x"), ("%D", "dir_path", "/srv/home"),
            ("%F", "transfer_path", "/f.txt"), ("%H", "server_ip", "127.0.0.1"),
            ("%I", "session_bytes_rcvd", 240), ("%J", "command_params", "f.txt"),
            ("%L", "local_ip", "127.0.0.1"), ("%O", "session_bytes_sent", 400),
            ("%P", "pid", 10610), ("%R", "response_millis", 3),
            ("%S", "response_msg", "Transfer complete"), ("%T", "transfer_secs", 0.001),
            ("%U", "original_user", "ftpuser"), ("%V", "server_dns", "localhost"),
            ("%a", "remote_ip", "127.0.0.1"), ("%b", "bytes_sent", 120),
            ("%c", "connection_class", "local"), ("%d", "dir_name", "/"),
            ("%f", "file", "/srv/home/f.txt"), ("%g", "group", "ftpgroup"),
            ("%h", "remote_dns", "127.0.0.1"), ("%l", "identd_user", "id"),
            ("%m", "command", "STOR"), ("%p", "local_port", 2121),
            ("%r", "raw_command", "STOR f.txt"), ("%s", "response_code", 226),
            ("%t", "local_time", "2026-11-25 21:00:37 +0000"), ("%u", "user", "ftpuser"),
            ("%v", "server_name", "example"), ("%w", "rename_from", "/a"),
            ("%{basename}", "basename", "f.txt"), ("%{epoch}", "epoch", 1795640437),
            ("%{file-modified}", "file_modified", True), ("%{file-offset}", "file_offset", 0),
            ("%{file-size}", "file_size", 120), ("%{gid}", "gid", 5001),
            ("%{microsecs}", "microsecs", 842109), ("%{millisecs}", "millisecs", 842),
            ("%{note:mod_x.n}", "NOTE:mod_x.n", "nv"), ("%{protocol}", "protocol", "ftp"),
            ("%{remote-port}", "remote_port", 40123),
            ("%{transfer-failure}", "transfer_failure", "boom"),
            ("%{transfer-millisecs}", "transfer_millis", 1),
            ("%{transfer-port}", "transfer_port", 50001),
            ("%{transfer-speed}", "transfer_speed", "117.19KB/s"),
            ("%{transfer-status}", "transfer_status", "success"),
            ("%{transfer-type}", "transfer_type", "binary"), ("%{uid}", "uid", 5001),
            ("%{version}", "server_version", "1.3.8"),
            ("%{%Y-%m-%d}t", "%Y-%m-%d", "2026-11-25"),
            ("%{time:%H.%M}", "%H.%M", "21.00"),
        ]
        for spec, key, value in expected:
            got = self.pairs(spec, event)
            self.assertEqual(got, [(key, value)], spec)
            self.assertIs(type(got[0][1]), type(value), spec)

    def test_types_in_json(self):
        event = stor()
        self.assertEqual(record("%b %{file-modified} %T %s %u", event),
                         b'{"bytes_sent":120,"file_modified":false,"transfer_secs":0.001,'
                         b'"response_code":226,"user":"ftpuser"}')

    def test_connect_record(self):
        fmt = ("%A %a %b %c %D %d %E %F %f %{file-modified} %g %{gid} %H %h %I %J %L %l "
               "%m %O %P %p %{protocol} %R %r %S %s %T %U %u %{uid} %V %v %{version} %w "
               "%{transfer-status} %{transfer-port} %{transfer-speed} %{var:x}")
        self.assertEqual(
            record(fmt, connect()),
            b'{"remote_ip":"127.0.0.1","dir_name":"/","file_modified":false,"gid":65534,'
            b'"server_ip":"127.0.0.1","remote_dns":"127.0.0.1","session_bytes_rcvd":0,'
            b'"local_ip":"127.0.0.1","session_bytes_sent":0,"pid":10610,"local_port":2121,'
            b'"protocol":"ftp","uid":65534,"server_dns":"localhost","server_name":"example",'
            b'"server_version":"1.3.8"}')

    def test_all_absent_gives_empty_object(self):
        self.assertEqual(record("%m %u %s", connect()), b"{}")
        self.assertEqual(record("", connect()), b"{}")

    def test_exit_record(self):
        event = disconnect(session_end_reason="Quit", user="ftpuser")
        self.assertEqual(record("%E %m %r %u %s", event),
                         b'{"session_end_reason":"Quit","command":"EXIT","user":"ftpuser"}')

    def test_session_end_reason_only_when_set(self):
        self.assertEqual(record("%E", command("QUIT")), b"{}")

    def test_quit_response_code_fallback(self):
        self.assertEqual(record("%s", command("QUIT")), b'{"response_code":221}')
        self.assertEqual(record("%s", command("QUIT", response_code=221)),
                         b'{"response_code":221}')
        self.assertEqual(record("%s", command("NOOP")), b"{}")
        self.assertEqual(record("%s", disconnect()), b"{}")

    def test_dir_name_defaults_to_cwd(self):
        self.assertEqual(record("%d", command("NOOP", cwd="/pub")), b'{"dir_name":"/pub"}')
        self.assertEqual(record("%d", command("LIST", dir_name="")), b'{"dir_name":""}')

    def test_transfer_secs(self):
        for ms, out in ((1, b"0.001"), (0, b"0"), (4211, b"4.211"), (250, b"0.25"),
                        (120000, b"120")):
            self.assertEqual(record("%T", stor(transfer_millis=ms)),
                             b'{"transfer_secs":' + out + b"}")
        self.assertEqual(record("%T", stor(transfer_millis=None)), b"{}")
        self.assertEqual(self.text("%T", stor(transfer_millis=1)), "0.001")
        self.assertEqual(self.text("%T", stor(transfer_millis=4211)), "4.211")

    def test_transfer_speed(self):
        speed = "%{transfer-speed}"
        self.assertEqual(self.pairs(speed, stor(file_size=102400, transfer_millis=1000)),
                         [("transfer_speed", "100.00KB/s")])
        # elapsed <= 0 counts as 0.1 ms
        self.assertEqual(self.pairs(speed, stor(file_size=1024, transfer_millis=0)),
                         [("transfer_speed", "10000.00KB/s")])
        self.assertEqual(self.pairs(speed, stor(file_size=0, transfer_millis=5)),
                         [("transfer_speed", "0.00KB/s")])
        self.assertEqual(self.pairs(speed, stor(file_size=None)), [])
        self.assertEqual(self.pairs(speed, stor(transfer_millis=None)), [])
        self.assertEqual(self.pairs(speed, command("DELE", file_size=5, transfer_millis=5)),
                         [])

    def test_transfer_port_zero_is_absent(self):
        self.assertEqual(record("%{transfer-port}", command("PASV", transfer_port=0)), b"{}")
        self.assertEqual(record("%{transfer-port}", command("PASV", transfer_port=5000)),
                         b'{"transfer_port":5000}')

    def test_uid_gid_always(self):
        self.assertEqual(record("%{uid} %{gid}", command()), b'{"uid":-1,"gid":-1}')
        self.assertEqual(self.text("%{uid}/%{gid}", command()), "-1/-1")

    def test_class_absent_when_none(self):
        self.assertEqual(record("%c", command()), b"{}")
        self.assertEqual(record("%c", command(connection_class="trusted")),
                         b'{"connection_class":"trusted"}')

    def test_note_key_is_name(self):
        event = command(notes={"mod_auth.orig-user": "ftpuser"})
        self.assertEqual(record("%{note:mod_auth.orig-user} %{note:missing}", event),
                         b'{"NOTE:mod_auth.orig-user":"ftpuser"}')

    def test_var_never_present(self):
        self.assertEqual(record("%{var:x}", command()), b"{}")
        self.assertEqual(self.text("[%{var:x}]", command()), "[]")

    def test_env_read_at_render_time(self):
        name = "FTPREDIS_TEST_ENV_VAR"
        os.environ.pop(name, None)
        fmt = compile_format("e", "%{FTPREDIS_TEST_ENV_VAR}e %{env:FTPREDIS_TEST_ENV_VAR}")
        self.assertEqual(fmt.json(command()), b"{}")
        os.environ[name] = "bar-env-value"
        self.addCleanup(os.environ.pop, name, None)
        self.assertEqual(fmt.json(command()),
                         b'{"ENV:FTPREDIS_TEST_ENV_VAR":"bar-env-value",'
                         b'"ENV:FTPREDIS_TEST_ENV_VAR":"bar-env-value"}')

    def test_custom_time_formats(self):
        event = command()
        self.assertEqual(
            record("%{%Y-%m-%d %H:%M:%S}t %{%d/%b/%Y:%H:%M:%S %z}t %{time:%H.%M}", event),
            b'{"%Y-%m-%d %H:%M:%S":"2026-11-25 21:00:37",'
            b'"%d/%b/%Y:%H:%M:%S %z":"25/Nov/2026:21:00:37 +0000","%H.%M":"21.00"}')
        self.assertEqual(record("%{YYYY-MM-DD HH:MM:SS}t", event),
                         b'{"YYYY-MM-DD HH:MM:SS":"YYYY-MM-DD HH:MM:SS"}')

    def test_times_follow_event_time(self):
        fmt = compile_format("t", "%t %{epoch} %{millisecs}")
        self.assertEqual(fmt.json(command()), b'{"local_time":"2026-11-25 21:00:37 +0000",'
                                              b'"epoch":1795640437,"millisecs":842}')
        later = command().replace(time=T0 + 1)
        self.assertEqual(fmt.json(later), b'{"local_time":"2026-11-25 21:00:38 +0000",'
                                          b'"epoch":1795640438,"millisecs":842}')

    def test_local_time_is_gmt_iso8601_is_local(self):
        old = os.environ.get("TZ")

        def restore():
            if old is None:
                os.environ.pop("TZ", None)
            else:
                os.environ["TZ"] = old
            time.tzset()
        self.addCleanup(restore)
        os.environ["TZ"] = "Asia/Kolkata"
        time.tzset()
        self.assertEqual(record("%t %{iso8601}", command()),
                         b'{"local_time":"2026-11-25 21:00:37 +0000",'
                         b'"timestamp":"2026-11-26 02:30:37,842"}')

    def test_padded_time_text(self):
        event = command().replace(time=1795640437.004007)
        self.assertEqual(self.text("%{microsecs}|%{millisecs}", event), "004007|004")
        self.assertEqual(record("%{microsecs} %{millisecs}", event),
                         b'{"microsecs":4007,"millisecs":4}')

    def test_duplicates_kept(self):
        # doc/records.rst, "Serialisation": seen in 1.3.8
        event = command("PASS", user="ftpuser")
        self.assertEqual(
            record("%u %t %u %{iso8601} %t %m %m", event).replace(
                compile_format("i", "%{iso8601}").pairs(event)[0][1].encode(), b"TS"),
            b'{"user":"ftpuser","local_time":"2026-11-25 21:00:37 +0000","user":"ftpuser",'
            b'"timestamp":"TS","local_time":"2026-11-25 21:00:37 +0000","command":"PASS",'
            b'"command":"PASS"}')


class EncodingTests(unittest.TestCase):
    """doc/records.rst, "Serialisation", with the fixes of doc/decisions.rst."""

    def test_escapes(self):
        self.assertEqual(json_string('q"uote'), '"q\\"uote"')
        self.assertEqual(json_string("back\\slash"), '"back\\\\slash"')
        self.assertEqual(json_string("a\nb\tc\rd\be\ff"), '"a\\nb\\tc\\rd\\be\\ff"')
        self.assertEqual(json_string("\x00\x01\x1e\x1f\x7f"),
                         '"\\u0000\\u0001\\u001E\\u001F\\u007F"')
        self.assertEqual(json_string("a/b %{}"), '"a/b %{}"')

    def test_non_ascii_raw(self):
        event = command("STOR", raw_command="STOR é✓😀.txt")
        out = record("%r", event)
        self.assertEqual(out, '{"raw_command":"STOR é✓😀.txt"}'.encode("utf-8"))

    def test_hostile_filename(self):
        name = 'STOR q"uo\\te\n\t\x01\x1f\x7f.txt'
        out = record("%r", command("STOR", raw_command=name))
        self.assertEqual(out, b'{"raw_command":"STOR q\\"uo\\\\te\\n\\t\\u0001\\u001F'
                              b'\\u007F.txt"}')
        self.assertEqual(json.loads(out)["raw_command"], name)

    def test_invalid_utf8_becomes_replacement_per_byte(self):
        bad = b"STOR bad\xff\xfe\xc3name".decode("utf-8", "surrogateescape")
        out = record("%r %J", command("STOR", raw_command=bad, command_params=bad[5:]))
        self.assertEqual(out, b'{"raw_command":"STOR bad\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd'
                              b'name","command_params":"bad\xef\xbf\xbd\xef\xbf\xbd'
                              b'\xef\xbf\xbdname"}')
        self.assertEqual(utf8(bad), b"STOR bad\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdname")

    def test_numbers(self):
        for value, text in ((226, "226"), (0, "0"), (-1, "-1"), (4.211, "4.211"),
                            (0.25, "0.25"), (1e17, "1e+17"), (10 ** 17, "1e+17"),
                            (10 ** 16, "1e+16"), (1795640452, "1795640452"),
                            (2 ** 53 + 1, "9007199254740992"), (0.001, "0.001"),
                            (float("nan"), "null"), (float("inf"), "null"),
                            (-float("inf"), "null"), (1.5, "1.5")):
            self.assertEqual(json_number(value), text, value)

    def test_encode_json(self):
        self.assertEqual(
            encode_json([("a", "x"), ("b", 1), ("c", True), ("d", False), ("e", None),
                         ("a", 0.5), ('k"\n', "v")]),
            b'{"a":"x","b":1,"c":true,"d":false,"e":null,"a":0.5,"k\\"\\n":"v"}')
        self.assertEqual(encode_json([]), b"{}")

    def test_keys_escaped(self):
        self.assertEqual(record('%{a"b}t', command()), b'{"a\\"b":"a\\"b"}')


class TemplateTests(unittest.TestCase):
    """doc/records.rst, "Text form" and "Keys"."""

    def test_key_templates(self):
        retr = command("RETR", user="ftpuser")
        self.assertEqual(compile_template("%m:ftpxfer:%u").render(retr), "RETR:ftpxfer:ftpuser")
        self.assertEqual(compile_template("ftp.%u.%m").render(command("PASS", user="ftpuser")),
                         "ftp.ftpuser.PASS")
        self.assertEqual(compile_template("literal-key").render(retr), "literal-key")
        self.assertEqual(compile_template("pre.%u.%m.%a").render(connect()), "pre...127.0.0.1")
        self.assertEqual(compile_template("pre.%u.%m.%a").render(command("USER")),
                         "pre..USER.127.0.0.1")
        self.assertEqual(compile_template("pre.%u.%m.%a").render(disconnect(user="ftpuser")),
                         "pre.ftpuser.EXIT.127.0.0.1")

    def test_values_as_text(self):
        event = stor()
        self.assertEqual(
            compile_template("%b|%s|%p|%{file-modified}|%{epoch}|%P|%{remote-port}|%I").render(
                event), "120|226|2121|false|1795640437|10610|40123|240")

    def test_no_escaping(self):
        event = command(user='a"b\nc:d')
        self.assertEqual(compile_template("u=%u").render(event), 'u=a"b\nc:d')

    def test_truncated_at_1023_bytes(self):
        event = command(user="x" * 2000)
        self.assertEqual(len(compile_template("%u").render(event)), 1023)
        self.assertEqual(len(compile_template("y" * 1500).render(event)), 1023)
        # cut inside a multi-byte character: the partial bytes become U+FFFD on output
        out = compile_template("%u").render(command(user="x" * 1022 + "é"))
        self.assertEqual(utf8(out), b"x" * 1022 + b"\xef\xbf\xbd")


class ExtrasTests(unittest.TestCase):
    """doc/records.rst, "RedisLogFormatExtra"."""

    def extra(self, members, name="f"):
        return FormatExtra(format_name=name, members=tuple(members))

    def test_upstream_extra(self):
        extra = self.extra([("foo", "%u"), ("bar", "BAZ"), ("baz", {}), ("quxx", [1, 3, 5]),
                            ("quzz", None)])
        out = record("%u", command("PASS", user="ftpuser"), extras=[extra])
        self.assertEqual(out, b'{"user":"ftpuser","foo":"ftpuser","bar":"BAZ","quzz":null}')

    def test_format_wins_and_first_extra_wins(self):
        first = self.extra([("user", "should-not-override"), ("num", 42), ("f", 1.5)])
        second = self.extra([("num", 7), ("second_directive", "yes"), ("t", True)])
        other = self.extra([("other", 1)], name="notf")
        out = record("%u", command(user="ftpuser"), extras=[first, other, second])
        self.assertEqual(out, b'{"user":"ftpuser","num":42,"f":1.5,"second_directive":"yes",'
                              b'"t":true}')

    def test_absent_format_key_lets_extra_in(self):
        extra = self.extra([("user", "nobody-yet")])
        self.assertEqual(record("%u", command(), extras=[extra]), b'{"user":"nobody-yet"}')
        self.assertEqual(record("%u", command(user="real"), extras=[extra]),
                         b'{"user":"real"}')

    def test_string_values_are_templates(self):
        extra = self.extra([("m", "%m"), ("b", "%b"), ("c", "cmd=%m,user=%u,file=%f"),
                            ("pct", "100%%"), ("z", "%Z"), ("q", 'say "%u"')])
        out = record("%s", command("PASS", user="ftpuser", response_code=230),
                     extras=[extra])
        self.assertEqual(out, b'{"response_code":230,"m":"PASS","b":"","c":"cmd=PASS,'
                              b'user=ftpuser,file=","pct":"100%%","z":"%Z",'
                              b'"q":"say \\"ftpuser\\""}')
        self.assertEqual(record("%b", stor(), extras=[self.extra([("b2", "%b")])]),
                         b'{"bytes_sent":120,"b2":"120"}')
        self.assertEqual(record("%a", connect(), extras=[self.extra([("m", "%m")])]),
                         b'{"remote_ip":"127.0.0.1","m":""}')

    def test_seed_example_with_extra(self):
        # doc/records.rst, "Keys": RedisLogOnCommand RETR,STOR xferlog %m:ftpxfer:%u + extra
        extra = FormatExtra("xferlog", (("custom_property1", "%m"),
                                        ("custom_property2", "custom_value")))
        event = stor().replace(time=1795640476.5)
        fmt = compile_format("xferlog", '%h %l %u %t "%r" %s %b')
        self.assertEqual(
            fmt.json(event, extras=[extra]),
            b'{"remote_dns":"127.0.0.1","user":"ftpuser","local_time":"2026-11-25 21:01:16 '
            b'+0000","raw_command":"STOR f.txt","response_code":226,"bytes_sent":120,'
            b'"custom_property1":"STOR","custom_property2":"custom_value"}')
        self.assertEqual(compile_template("%m:ftpxfer:%u").render(event), "STOR:ftpxfer:ftpuser")


class ObservedRecordsTests(unittest.TestCase):
    """Byte-exact records the 1.3.8 binary wrote (doc/records.rst, "Observed sessions")."""

    def test_seed_record(self):
        fmt = compile_format("file-transfers", '%h %l %u %t "%r" %s %b')
        self.assertEqual(
            fmt.json(stor()),
            b'{"remote_dns":"127.0.0.1","user":"ftpuser","local_time":"2026-11-25 21:00:37 '
            b'+0000","raw_command":"STOR f.txt","response_code":226,"bytes_sent":120}')

    def test_refused_appe(self):
        fmt = compile_format("file-transfers", '%h %l %u %t "%r" %s %b')
        event = command("APPE", user="ftpuser", raw_command="APPE f.txt", response_code=451)
        self.assertEqual(
            fmt.json(event),
            b'{"remote_dns":"127.0.0.1","user":"ftpuser","local_time":"2026-11-25 21:00:37 '
            b'+0000","raw_command":"APPE f.txt","response_code":451}')

    def test_bad_login(self):
        event = command("PASS", original_user="ftpuser", raw_command="PASS (hidden)",
                        command_params="(hidden)", response_code=530,
                        response_msg="Login incorrect.", uid=65534, gid=65534)
        self.assertEqual(
            record("%U %u %g %m %r %J %s %S %{uid} %{gid}", event),
            b'{"original_user":"ftpuser","command":"PASS","raw_command":"PASS (hidden)",'
            b'"command_params":"(hidden)","response_code":530,"response_msg":'
            b'"Login incorrect.","uid":65534,"gid":65534}')


class ConnectingTests(unittest.TestCase):
    """RedisLogOnCommand CONNECT/DISCONNECT records carry connecting/disconnecting
    (doc/decisions.rst, "RedisLogOnCommand CONNECT,DISCONNECT")."""

    def test_connecting(self):
        fmt = compile_format("sessions", "%m %u %s %a")
        self.assertEqual(fmt.json(connect(), connecting=True),
                         b'{"connecting":true,"remote_ip":"127.0.0.1"}')
        self.assertEqual(compile_format("s", "%m").json(connect(), connecting=True),
                         b'{"connecting":true}')

    def test_disconnecting(self):
        fmt = compile_format("sessions", "%m %E")
        self.assertEqual(fmt.json(disconnect(session_end_reason="Quit"), disconnecting=True),
                         b'{"disconnecting":true,"command":"EXIT","session_end_reason":"Quit"}')

    def test_extra_cannot_override_connecting(self):
        extra = FormatExtra("s", (("connecting", False), ("x", 1)))
        fmt = compile_format("s", "%m")
        self.assertEqual(fmt.json(connect(), extras=[extra], connecting=True),
                         b'{"connecting":true,"x":1}')
        self.assertEqual(fmt.json(command(), extras=[extra]),
                         b'{"command":"NOOP","connecting":false,"x":1}')

    def test_renderer_matches_json(self):
        fmt = compile_format("s", "%a %u")
        render = fmt.renderer()
        self.assertEqual(render(connect(), True, False), fmt.json(connect(), connecting=True))


class StraightRendererTests(unittest.TestCase):
    """A format without extras renders through one generated function that reads the
    common variables in line and keeps the JSON text of repeating values; its bytes are
    those of the variables' own fragments, whatever the values and however often they
    repeat."""

    EVERY = " ".join(["%" + c for c in SHORT_VARS]
                     + ["%{" + name + "}" for name in LONG_VARS]
                     + ["%{env:HOME}", "%{note:n}", "%{time:%H\"%M}", "%{UNIQUE_ID}e"])

    def reference(self, fmt, event, connecting=False, disconnecting=False):
        parts = ['"connecting":true'] if connecting else []
        if disconnecting:
            parts.append('"disconnecting":true')
        parts += [f for f in (frag(event) for frag in fmt._fragments) if f is not None]
        return ("{" + ",".join(parts) + "}").encode("utf-8")

    def events(self):
        odd = ['plain', 'q"uote', 'back\\slash', 'tab\there', 'nul\x00', 'del\x7f',
               'bad\udcffbyte', 'snow\u2603man', '', 'x' * 300]
        other = Session(
            remote_ip="::1", remote_port=1, remote_dns='h"ost', local_ip="::1",
            server_dns="s\x01", server_ip="::1", local_port=21, server_name="n\udc80",
            server_version="1.3.8", pid=2 ** 60, unique_id="U" * 24)
        for i, text in enumerate(odd * 3):
            yield stor(user=text, group=text, raw_command=text, response_msg=text,
                       file=text, session_end_reason=text, time=T0 + i * 0.4,
                       bytes_sent=2 ** 53 + i, file_size=-(2 ** 53) - 1, notes={"n": text},
                       transfer_millis=i * 1000 + 1, file_modified=bool(i % 2),
                       session=other if i % 3 else SESSION, record_id=text, session_seq=i)
        yield command("QUIT", time=T0 - 0.5)
        yield command("NOOP", response_code=200, time=float(2 ** 40))
        yield connect()
        yield disconnect(session_end_reason="Quit")
        for i in range(600):        # more distinct values than are kept
            yield stor(user="u%d" % i, raw_command="STOR f%d" % (i % 300), time=T0 + i)

    def test_every_variable(self):
        fmt = compile_format("f", self.EVERY)
        render = fmt.renderer()
        for event in self.events():
            for flags in ((False, False), (True, False), (False, True)):
                self.assertEqual(render(event, *flags), self.reference(fmt, event, *flags))
                self.assertEqual(render(event, *flags), self.reference(fmt, event, *flags))

    def test_bench_format(self):
        fmt = compile_format("redis", '%h %l %u %t \\"%r\\" %s %b')
        render = fmt.renderer()
        for event in self.events():
            self.assertEqual(render(event), self.reference(fmt, event))


class CommandFieldsTests(unittest.TestCase):
    """%m %r %J of a command line, the same on every call (lines that come again are
    looked up)."""

    def check(self, verb, arg, expected):
        for _ in range(2):
            got = command_fields(verb, arg)
            self.assertEqual((got["command"], got["raw_command"], got["command_params"]),
                             expected)

    def test_lines(self):
        self.check("pass", "s3cret", ("PASS", "PASS (hidden)", "(hidden)"))
        self.check("PASS", None, ("PASS", "PASS (hidden)", "(hidden)"))
        self.check("ADAT", "x y", ("ADAT", "ADAT (hidden)", "(hidden)"))
        self.check("USER", "bob", ("USER", "USER bob", "bob"))
        self.check("user", "bob\tsmith", ("USER", "USER bob smith", "bob\tsmith"))
        self.check("TYPE", "I", ("TYPE", "TYPE I", "I"))
        self.check("PWD", None, ("PWD", "PWD", None))
        self.check("RETR", "a  b", ("RETR", "RETR a b", "a  b"))
        self.check("SITE", "chmod 644 f", ("SITE CHMOD", "SITE chmod 644 f", "chmod 644 f"))

    def test_blank_parameter(self):
        """Blanks only are no parameter for ProFTPD: no %J (records of "NLST  ", "LIST
        <TAB>", "STAT  " compared with ProFTPD 1.3.8); leading blanks before a word stay."""
        self.check("NLST", "  ", ("NLST", "NLST", None))
        self.check("LIST", "\t", ("LIST", "LIST", None))
        self.check("STAT", " \x0b\x0c\r", ("STAT", "STAT", None))
        self.check("CWD", "  x", ("CWD", "CWD x", "  x"))
        self.check("SITE", None, (None, "SITE", None))
        self.check("USER", "", ("USER", "USER", None))

    def test_many_names(self):
        for i in range(2100):
            self.check("USER", "u%d" % i, ("USER", "USER u%d" % i, "u%d" % i))
