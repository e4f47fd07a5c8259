# -*- test-case-name: tests.test_config -*-
"""Tests for :mod:`ftpredis.config`: the ProFTPD-syntax reader, the directive table and
the objects built from them.  Every fixture file is written into a fresh ``mktemp()``
directory."""

from __future__ import annotations

import os

from twisted.trial import unittest

from ftpredis.config import ConfigErrors, format_check_report, load_config
from ftpredis.config.directives import TABLE, directive_reference, lookup
from ftpredis.config.model import Config, ConfigError, Source
from ftpredis.config.syntax import PROVIDED_MODULES, split_words, substitute_env, words_of


SEED_EXAMPLE = r'''
<IfModule mod_redis.c>
  RedisEngine on
  RedisLog %(dir)s/redis.log
  RedisServer 127.0.0.1:6379

  LogFormat file-transfers "%%h %%l %%u %%t \"%%r\" %%s %%b"
  RedisLogOnCommand APPE,RETR,STOR,STOU file-transfers

  LogFormat sessions "%%{iso8601} %%a"
  RedisLogOnCommand CONNECT,DISCONNECT sessions
</IfModule>
'''


class _Base(unittest.TestCase):
    def setUp(self):
        self.dir = os.path.abspath(self.mktemp())
        os.makedirs(self.dir)
        self.shells = self.write("/bin/sh\n# comment\n\n/bin/bash\n", "shells")

    def write(self, text, name="ftpd.conf", mode=0o644):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = text.encode("utf-8") if isinstance(text, str) else text
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
        return path

    def load(self, text, defines=(), environ=None, name="ftpd.conf"):
        path = self.write(text, name)
        return load_config(path, defines, environ=environ or {}, shells_file=self.shells)

    def main(self, text, **kw):
        return self.load(text, **kw).servers[0]

    def errors(self, text, **kw):
        path = self.write(text)
        try:
            load_config(path, environ=kw.get("environ", {}), shells_file=self.shells,
                        defines=kw.get("defines", ()))
        except ConfigErrors as e:
            return [str(x) for x in e.errors]
        self.fail("no ConfigErrors raised")

    def error(self, text, **kw):
        errors = self.errors(text, **kw)
        self.assertEqual(len(errors), 1, errors)
        return errors[0]

    def where(self, line, name="ftpd.conf"):
        return "on line %d of '%s'" % (line, os.path.join(self.dir, name))


def unloaded_hint(module):
    """What follows "unknown configuration directive" for a directive of ``module``, a
    module ProFTPD has but that no LoadModule above loaded."""
    return ("a directive of %s, which no LoadModule line above it loads (and which "
            "ftpredis does not provide)" % module)


def _others(warnings):
    """``warnings`` but the one a config without AuthUserFile gets (no one can log in)."""
    return tuple(w for w in warnings if "has no AuthUserFile" not in w)


# --------------------------------------------------------------------------- words

class WordsTests(unittest.TestCase):
    def test_plain(self):
        self.assertEqual(split_words("  LogFormat  a\tb  "), ["LogFormat", "a", "b"])

    def test_hash_at_word_start_ends_line(self):
        self.assertEqual(split_words("Port 21 # comment"), ["Port", "21"])
        self.assertEqual(split_words("Port 21 #comment"), ["Port", "21"])

    def test_hash_inside_word_is_literal(self):
        self.assertEqual(split_words("ServerName foo#bar"), ["ServerName", "foo#bar"])

    def test_quote_only_at_word_start(self):
        self.assertEqual(split_words('X {"a":"%u"}'), ["X", '{"a":"%u"}'])
        self.assertEqual(split_words('X a"b c"'), ["X", 'a"b', 'c"'])

    def test_quoted_word_keeps_spaces_and_hash(self):
        self.assertEqual(split_words('X "a b # c"'), ["X", "a b # c"])

    def test_backslash_escapes_inside_quotes(self):
        self.assertEqual(split_words(r'X "a\"b\\c\nd"'), ["X", 'a"b\\cnd'])

    def test_backslash_literal_outside_quotes(self):
        self.assertEqual(split_words(r"X a\b a\"b"), ["X", "a\\b", 'a\\"b'])

    def test_unterminated_quote_runs_to_end(self):
        self.assertEqual(split_words('X "a b  c'), ["X", "a b  c"])

    def test_empty_quotes_give_empty_argument(self):
        self.assertEqual(split_words('RedisServer h "" "" 2'),
                         ["RedisServer", "h", "", "", "2"])

    def test_text_after_closing_quote_is_new_word(self):
        self.assertEqual(split_words('X "abc"def'), ["X", "abc", "def"])

    def test_env_substitution(self):
        env = {"HOME": "/home/x", "N": "7"}
        self.assertEqual(substitute_env("%{env:HOME}/ftp", env), "/home/x/ftp")
        self.assertEqual(substitute_env("a%{env:N}b%{env:N}c", env), "a7b7c")
        self.assertEqual(substitute_env("%{env:UNSET}/x", env), "/x")
        self.assertEqual(substitute_env("%{env:HOME", env), "%{env:HOME")

    def test_env_substitution_after_quotes_and_resplit(self):
        env = {"ARGS": 'a "b c"', "S": "x y"}
        self.assertEqual(words_of('X %{env:ARGS}', env), ["X", "a", "b c"])
        self.assertEqual(words_of('X "%{env:S}"', env), ["X", "x", "y"])
        self.assertEqual(words_of('X "%{env:Q}!"', {"Q": "q"}), ["X", "q!"])


# --------------------------------------------------------------------------- lines

class LineTests(_Base):
    def test_crlf(self):
        server = self.main("ServerName a\r\nPort 2121\r\n")
        self.assertEqual((server.server_name, server.port), ("a", 2121))

    def test_continuation_joins_without_separator(self):
        server = self.main('ServerName "ab\\\ncd"\nPort 21\\\n21\n')
        self.assertEqual((server.server_name, server.port), ("abcd", 2121))

    def test_continuation_keeps_leading_whitespace(self):
        server = self.main('ServerName "a\\\n  b"\n')
        self.assertEqual(server.server_name, "a  b")

    def test_backslash_before_crlf_is_not_continuation(self):
        server = self.main("ServerName a\\\r\nPort 2121\n")
        self.assertEqual((server.server_name, server.port), ("a\\", 2121))

    def test_comment_line_with_backslash_is_dropped(self):
        server = self.main("# comment \\\nPort 2121\n")
        self.assertEqual(server.port, 2121)

    def test_blank_and_comment_lines(self):
        server = self.main("\n   \n  # x\nPort 2121\n")
        self.assertEqual(server.port, 2121)

    def test_truncated_last_line_warns(self):
        config = self.load("ServerName a\nPort 2121")
        self.assertEqual(config.servers[0].port, 2121)
        self.assertIn("handling possibly truncated configuration data at line 2 of '%s'"
                      % os.path.join(self.dir, "ftpd.conf"), config.warnings)

    def test_directive_names_case_insensitive(self):
        server = self.main("servername a\nPORT 2121\n<virtualhost 127.0.0.2>\n"
                           "</VIRTUALHOST>\n")
        self.assertEqual((server.server_name, server.port), ("a", 2121))

    def test_env_in_config(self):
        server = self.main("ServerName %{env:FTPNAME}\nRedisLog %{env:NOPE}none\n",
                           environ={"FTPNAME": "from-env"})
        self.assertEqual(server.server_name, "from-env")
        self.assertIsNone(server.redis_log)

    def test_invalid_utf8(self):
        self.assertEqual(self.error(b"ServerName \xff\n"),
                         "invalid UTF-8 in configuration line " + self.where(1))

    def test_nul_byte(self):
        # a NUL in a path reached os.stat and failed with a bare ValueError
        self.assertEqual(self.error(b"ServerName a\nAuthUserFile /etc/pass\x00wd\n"),
                         "NUL byte in configuration line " + self.where(2))

    def test_section_without_closing_bracket(self):
        self.assertEqual(self.errors("<Global\n</Global>\n")[0],
                         "<Global>: missing closing '>' " + self.where(1))

    def test_lone_bracket_word(self):
        server = self.main("<VirtualHost 127.0.0.2 >\n</VirtualHost >\n")
        self.assertEqual(self.load("<VirtualHost 127.0.0.2 >\n</VirtualHost >\n")
                         .servers[1].addresses, ("127.0.0.2",))
        self.assertTrue(server.is_main)

    def test_world_writable_warning(self):
        path = self.write("Port 2121\n", mode=0o666)
        config = load_config(path, shells_file=self.shells)
        self.assertIn("config file '%s' is world-writable" % path, config.warnings)

    def test_sources_kept(self):
        server = self.main("\n\nRedisLogOnCommand none\n")
        self.assertEqual(server.logging.rules[0].source,
                         Source(os.path.join(self.dir, "ftpd.conf"), 3))


# --------------------------------------------------------------------------- conditionals

class ConditionalTests(_Base):
    def test_provided_modules(self):
        # Grows as modules are implemented; these must always be there, and modules
        # ftpredis does not implement must never be.
        self.assertLessEqual(frozenset(
            "mod_core.c mod_auth.c mod_auth_file.c mod_auth_unix.c mod_xfer.c mod_ls.c "
            "mod_log.c mod_site.c mod_facts.c mod_redis.c".split()), PROVIDED_MODULES)
        self.assertNotIn("mod_sql.c", PROVIDED_MODULES)
        self.assertNotIn("mod_redis", PROVIDED_MODULES)

    def test_ifmodule_true_body_is_read(self):
        self.assertEqual(self.main("<IfModule mod_redis.c>\nPort 2121\n</IfModule>\n").port,
                         2121)

    def test_ifmodule_false_body_is_skipped(self):
        server = self.main("<IfModule mod_sql.c>\nSQLEngine on\n<IfModule mod_x.c>\n"
                           "Bogus\n</IfModule>\nTLSBogus\n</IfModule>\nPort 2121\n")
        self.assertEqual(server.port, 2121)

    def test_ifmodule_negated(self):
        self.assertEqual(self.main("<IfModule !mod_sql.c>\nPort 2121\n</IfModule>\n"
                                   "<IfModule !mod_redis.c>\nPort 2\n</IfModule>\n").port,
                         2121)

    def test_ifmodule_is_case_sensitive(self):
        self.assertEqual(self.main("<IfModule mod_Redis.c>\nPort 2\n</IfModule>\n").port, 21)

    def test_ifmodule_close_with_trailing_junk_does_not_close(self):
        text = "<IfModule mod_sql.c>\n</IfModule> junk\nPort 2\n"
        self.assertEqual(self.error(text), "unclosed <IfModule> context " + self.where(1))

    def test_unclosed_ifmodule_true(self):
        self.assertEqual(self.error("<IfModule mod_redis.c>\nPort 2121\n"),
                         "unclosed <IfModule> context " + self.where(1))

    def test_close_with_arguments(self):
        self.assertEqual(self.error("<IfModule mod_redis.c>\n</IfModule x>\n"),
                         "</IfModule>: wrong number of parameters: x " + self.where(2))

    def test_stray_close(self):
        self.assertEqual(self.error("</IfDefine>\n"),
                         "</IfDefine>: no matching <IfDefine> section " + self.where(1))

    def test_ifdefine_with_define_directive(self):
        text = ("<IfDefine FOO>\nPort 1\n</IfDefine>\nDefine FOO\n"
                "<IfDefine FOO>\nServerName foo\n</IfDefine>\n"
                "<IfDefine !BAR>\nMaxLoginAttempts 5\n</IfDefine>\n")
        server = self.main(text)
        self.assertEqual((server.port, server.server_name, server.max_login_attempts),
                         (21, "foo", 5))

    def test_ifdefine_from_command_line(self):
        text = "<IfDefine DEV>\nPort 2121\n</IfDefine>\n"
        self.assertEqual(self.main(text, defines=("DEV",)).port, 2121)
        self.assertEqual(self.main(text).port, 21)

    def test_unclosed_ifdefine(self):
        self.assertEqual(self.error("<IfDefine X>\nPort 2\n"),
                         "unclosed <IfDefine> context " + self.where(1))

    def test_ifmodule_needs_one_argument(self):
        self.assertEqual(self.error("<IfModule>\n</IfModule>\n"),
                         "<IfModule>: wrong number of parameters " + self.where(1))


# --------------------------------------------------------------------------- Include

class IncludeTests(_Base):
    def test_include_file_relative_to_including_file(self):
        self.write("Port 2121\n", "conf.d/port.conf")
        self.write("Include port.conf\n", "conf.d/main.conf")
        self.assertEqual(self.main("Include conf.d/main.conf\n").port, 2121)

    def test_include_directory_sorted(self):
        self.write("ServerName b\n", "d/b.conf")
        self.write("ServerName a\n", "d/a.conf")
        config = self.load("Include %s/d\n" % self.dir)
        self.assertEqual(config.servers[0].server_name, "a")
        self.assertTrue(any("duplicate" in w and "b.conf" in w for w in config.warnings))

    def test_include_glob_sorted(self):
        self.write("ServerName y\n", "g/y.conf")
        self.write("ServerName x\n", "g/x.conf")
        self.write("ServerName z\n", "g/a.txt")
        self.assertEqual(self.main("Include g/*.conf\n").server_name, "x")

    def test_include_glob_in_directory_component(self):
        self.write("ServerName two\n", "h2/s.conf")
        self.write("ServerName one\n", "h1/s.conf")
        self.assertEqual(self.main("Include h*/s.conf\n").server_name, "one")

    def test_ignore_temp_files(self):
        self.write("ServerName b\n", "t/b.conf")
        self.write("ServerName a\n", "t/a.conf~")
        self.write("ServerName a\n", "t/a.conf.swp")
        self.assertEqual(self.main("IncludeOptions IgnoreTempFiles\nInclude t\n")
                         .server_name, "b")
        self.assertEqual(self.main("Include t\n").server_name, "a")

    def test_missing_include_is_a_warning(self):
        config = self.load("Include nosuch.conf\nPort 2121\n")
        self.assertEqual(config.servers[0].port, 2121)
        self.assertIn("unable to include '%s/nosuch.conf': No such file or directory %s"
                      % (self.dir, self.where(1)), config.warnings)

    def test_error_in_included_file_names_it(self):
        self.write("\nBogus\n", "inc.conf")
        self.assertEqual(self.error("Include inc.conf\n"),
                         "unknown configuration directive 'Bogus' " + self.where(2, "inc.conf"))

    def test_include_depth(self):
        errors = self.errors("Include ftpd.conf\n")
        self.assertEqual(len(errors), 1)
        self.assertIn("maximum include depth (64) exceeded", errors[0])

    def test_symlinked_directory(self):
        self.write("Port 2121\n", "real/p.conf")
        os.symlink(os.path.join(self.dir, "real"), os.path.join(self.dir, "link"))
        self.assertIn("symlinked directory", self.error("Include link\n"))
        self.assertEqual(self.main("IncludeOptions AllowSymlinks\nInclude link\n").port, 2121)

    def test_unknown_include_option(self):
        self.assertEqual(self.error("IncludeOptions Bogus\n"),
                         "IncludeOptions: unknown IncludeOption: 'Bogus' " + self.where(1))

    def test_include_in_skipped_section_is_not_read(self):
        self.assertEqual(self.main("<IfModule mod_sql.c>\nInclude nosuch\n</IfModule>\n")
                         .port, 21)


# --------------------------------------------------------------------------- errors

class ErrorTests(_Base):
    def test_missing_file(self):
        path = os.path.join(self.dir, "nosuch.conf")
        e = self.assertRaises(ConfigErrors, load_config, path)
        self.assertEqual([str(x) for x in e.errors],
                         ["unable to read configuration file '%s': No such file or directory"
                          % path])

    def test_unknown_directive(self):
        self.assertEqual(self.error("Port 2121\nFooBar on\n"),
                         "unknown configuration directive 'FooBar' " + self.where(2))

    def test_unknown_section_body_is_skipped(self):
        self.assertEqual(self.errors("<IfVersin 1.3>\nBogus\n</IfVersin>\n"),
                         ["unknown configuration directive '<IfVersin>' " + self.where(1)])
        self.assertEqual(self.errors("<IfVersion 1.3>\nBogus\n</IfVersion>\n"),
                         ["unknown configuration directive '<IfVersion>' " + self.where(1)
                          + "; " + unloaded_hint("mod_ifversion.c")])

    def test_all_errors_collected(self):
        errors = self.errors("Bogus1\nPort x\nBogus2\nRedisEngine maybe\n")
        self.assertEqual(errors, [
            "unknown configuration directive 'Bogus1' " + self.where(1),
            "Port: bad port number 'x': expected a number " + self.where(2),
            "unknown configuration directive 'Bogus2' " + self.where(3),
            "RedisEngine: expected Boolean parameter " + self.where(4)])

    def test_not_allowed_in_context(self):
        """ProFTPD's message, then the contexts the directive is allowed in."""
        text = "<VirtualHost 127.0.0.2>\n  DefaultAddress 1.2.3.4\n</VirtualHost>\n"
        self.assertEqual(self.error(text), "DefaultAddress: directive not allowed in "
                         "<VirtualHost> context " + self.where(2)
                         + "; allowed in server config")
        self.assertEqual(self.error("<Directory /x>\nRedisEngine on\n</Directory>\n"),
                         "RedisEngine: directive not allowed in <Directory> context "
                         + self.where(2) + "; allowed in server config, <VirtualHost>, "
                         "<Global>")
        self.assertEqual(self.error("UserAlias a b\n"), "UserAlias: directive not allowed "
                         "in server config context " + self.where(1)
                         + "; allowed in <Anonymous>")

    def test_unknown_directive_suggests_the_nearest(self):
        """A typo of a directive name: the nearest name in the directive table."""
        self.assertEqual(self.error("RedisLogOnComand CONNECT default k\n"),
                         "unknown configuration directive 'RedisLogOnComand' "
                         + self.where(1) + "; did you mean RedisLogOnCommand?")
        self.assertEqual(self.error("servernmae x\n"),
                         "unknown configuration directive 'servernmae' " + self.where(1)
                         + "; did you mean ServerName?")
        self.assertEqual(self.error("Potr 2121\n"), "unknown configuration directive "
                         "'Potr' " + self.where(1) + "; did you mean Port?")
        self.assertEqual(self.error("<Directry /x>\n</Directry>\n"),
                         "unknown configuration directive '<Directry>' " + self.where(1)
                         + "; did you mean <Directory>?")
        # other modules' directives are not typos of ours: their module is named
        self.assertEqual(self.error("SQLEngine on\n"),
                         "unknown configuration directive 'SQLEngine' " + self.where(1)
                         + "; " + unloaded_hint("mod_sql.c"))

    def test_check_report_has_the_hints(self):
        path = self.write("RedisLogOnComand CONNECT default k\n<Limit READ>\nPort 1\n"
                          "</Limit>\n")
        code, text = format_check_report(path)
        self.assertEqual(code, 1)
        self.assertEqual(text.splitlines(), [
            "unknown configuration directive 'RedisLogOnComand' " + self.where(1)
            + "; did you mean RedisLogOnCommand?",
            "Port: directive not allowed in <Limit> context " + self.where(3)
            + "; allowed in server config, <VirtualHost>"])

    def test_missing_parameters(self):
        self.assertEqual(self.error("ServerName\n"),
                         "ServerName: missing parameters " + self.where(1))

    def test_too_many_parameters(self):
        self.assertEqual(self.error("Port 21 22\n"),
                         "Port: wrong number of parameters " + self.where(1))
        self.assertEqual(self.error("<Global x>\n</Global>\n"),
                         "<Global>: Too many parameters " + self.where(1))

    def test_extra_parameters_ignored_with_warning(self):
        config = self.load('RedisTimeouts 500 500 junk\n')
        self.assertIn("RedisTimeouts: extra parameters ignored " + self.where(1),
                      config.warnings)

    def test_logformat_words_joined(self):
        """An unquoted format, or one that %{env:...} re-split, is one format (ProFTPD)."""
        config = self.load('LogFormat a %u %m\nLogFormat b "%{env:FMT}"\n',
                           environ={"FMT": "%a %s"})
        self.assertEqual(config.servers[0].formats, {"a": "%u %m", "b": "%a %s"})

    def test_unclosed_section(self):
        self.assertEqual(self.error("<VirtualHost 127.0.0.2>\nPort 2121\n"),
                         "unclosed <VirtualHost> context " + self.where(1))

    def test_limit(self):
        config = self.load("<Limit WRITE XMKD>\n  AllowUser bob,carol\n  DenyAll\n</Limit>\n")
        (limit,) = config.servers[0].limits
        self.assertEqual(limit.commands, frozenset({"WRITE", "MKD"}))
        self.assertEqual(limit.rules, (("AllowUser", ("bob", "carol")), ("DenyAll", ())))

    def test_limit_refuses_what_it_cannot_enforce(self):
        # An ignored rule would leave the server more open than configured.
        self.assertEqual(self.errors("<Limit WRITE>\n  AllowFilter x\n</Limit>\nPort 2121\n"),
                         ["AllowFilter: directive not allowed in <Limit> context "
                          + self.where(2) + "; allowed in server config, <VirtualHost>, "
                          "<Global>, <Anonymous>"])
        self.assertEqual(self.errors("<Limit SMNT>\n  DenyAll\n</Limit>\nPort 2121\n"),
                         ["<Limit>: unsupported command or class 'SMNT' " + self.where(1)])
        self.assertEqual(self.errors("DenyAll\n"),
                         ["DenyAll: directive not allowed in server config context "
                          + self.where(1) + "; allowed in <Limit>"])

    def test_no_effect_warning(self):
        config = self.load("ServerType standalone\nPidFile /run/x.pid\nUseIPv6 off\n")
        self.assertIn("ServerType on %s has no effect in ftpredis"
                      % self.where(1)[3:], config.warnings)
        self.assertIn("PidFile on %s has no effect in ftpredis"
                      % self.where(2)[3:], config.warnings)
        # UseIPv6 off makes EPRT/EPSV refuse protocol 2 (tests/test_conformance_hostile_args)
        self.assertFalse(config.servers[0].use_ipv6)

    def test_load_module(self):
        # more in tests/test_config_modules.py
        config = self.load("LoadModule mod_redis.c\n")
        self.assertEqual(_others(config.warnings), ("LoadModule %s has no effect in ftpredis"
                                                    % self.where(1),))
        self.assertEqual(self.error("LoadModule sql\n"),
                         "LoadModule: error loading module 'sql': Invalid argument "
                         + self.where(1))

    def test_duplicate_single_valued_warns_first_wins(self):
        config = self.load("ServerName a\nServerName b\n")
        self.assertEqual(config.servers[0].server_name, "a")
        self.assertIn("ServerName: duplicate directive %s ignored; the first one, on line 1, "
                      "wins" % self.where(2), config.warnings)

    def test_same_address_and_port(self):
        text = ("Port 2121\nDefaultAddress 127.0.0.1\n"
                "<VirtualHost 127.0.0.1>\nPort 2121\n</VirtualHost>\n")
        self.assertEqual(self.error(text),
                         "<VirtualHost>: address 127.0.0.1 port 2121 is already used by main "
                         "server %s %s" % (self.where(2), self.where(3)))

    def test_error_sort_order_follows_reading(self):
        self.write("Bogus2\n", "a.conf")
        errors = self.errors("Bogus1\nInclude a.conf\nBogus3\n")
        self.assertEqual([e.split("'")[1] for e in errors], ["Bogus1", "Bogus2", "Bogus3"])


# --------------------------------------------------------------------------- servers

class ServerTests(_Base):
    def test_defaults(self):
        config = self.load("")
        self.assertIsInstance(config, Config)
        server, = config.servers
        self.assertTrue(server.is_main)
        self.assertEqual((server.port, server.server_name, server.addresses, server.umask,
                          server.redis, server.redis_engine, server.valid_shells),
                         (21, "ProFTPD", (), 0o022, None, False, ("/bin/sh", "/bin/bash")))

    def test_core_directives(self):
        server = self.main(
            'ServerName "My FTP"\nServerIdent off "hello there"\nPort 2121\n'
            "DefaultAddress 127.0.0.1 ::1\nMasqueradeAddress ftp.example.com\n"
            "PassivePorts 50000 50100\nMaxClients 10 \"too many\"\nMaxClientsPerHost none\n"
            "MaxLoginAttempts 2\nTimeoutIdle 60\nTimeoutLogin 30\nTimeoutNoTransfer 0\n"
            "TimeoutStalled 10\nUser ftp\nGroup nogroup\nDefaultRoot ~\n"
            "RequireValidShell off\nCreateHome on 711\nUmask 077\nAllowOverwrite on\n"
            "AllowLogSymlinks yes\n")
        self.assertEqual(server.server_name, "My FTP")
        self.assertEqual(server.server_ident, (False, "hello there"))
        self.assertEqual(server.port, 2121)
        self.assertEqual(server.addresses, ("127.0.0.1", "::1"))
        self.assertEqual(server.masquerade_address, "ftp.example.com")
        self.assertEqual(server.passive_ports, (50000, 50100))
        self.assertEqual((server.max_clients, server.max_clients_per_host), ((10, "too many"), None))
        self.assertEqual((server.max_login_attempts, server.timeout_idle,
                          server.timeout_login, server.timeout_no_transfer,
                          server.timeout_stalled), (2, 60, 30, 0, 10))
        self.assertEqual((server.run_user, server.run_group), ("ftp", "nogroup"))
        self.assertEqual(server.default_root, "~")
        self.assertEqual((server.require_valid_shell, server.valid_shells), (False, ()))
        self.assertEqual((server.create_home, server.create_home_mode), (True, 0o711))
        self.assertEqual((server.umask, server.allow_overwrite, server.allow_log_symlinks),
                         (0o077, True, True))

    def test_bad_values(self):
        cases = [
            ("Port 70000", "Port: bad port number '70000': must be between 0 and 65535"),
            ("PassivePorts 80 90", "PassivePorts: bad port '80': must be between 1024 and "
             "65535 (the range must lie within 1024-65535)"),
            ("PassivePorts 2000 1999", "PassivePorts: bad range 2000-1999: the first port "
             "is above the second"),
            ("Umask 999", "Umask: bad umask '999': expected an octal number such as 022"),
            ("DefaultRoot ftp", "DefaultRoot: 'ftp' is not '~' or an absolute path"),
            ("CreateHome on 700 skel /x", "CreateHome: unsupported option 'skel' (ftpredis "
             "takes only a mode)"),
            ("AuthFileOptions Bogus", "AuthFileOptions: unknown AuthFileOption 'Bogus'"),
            ("MaxLoginAttempts 0", "MaxLoginAttempts: bad value '0': must be at least 1"),
            ("TimeoutIdle -1", "TimeoutIdle: bad value '-1': expected a number"),
            ('LogFormat "" "%u"', "LogFormat: missing required name parameter"),
        ]
        for line, message in cases:
            self.assertEqual(self.error(line + "\n"), message + " " + self.where(1))

    def test_default_root_group_expression_warns(self):
        config = self.load("DefaultRoot /srv/ftp/ !admins\n")
        self.assertEqual(config.servers[0].default_root, "/srv/ftp")
        self.assertTrue(any(w.startswith("DefaultRoot: group expression '!admins' ignored")
                            for w in config.warnings))

    def test_virtual_hosts_and_global(self):
        config = self.load(
            "ServerName main\nPort 2121\nUmask 027\n"
            "<VirtualHost 127.0.0.2 127.0.0.3>\n  Port 2122\n  Umask 002\n</VirtualHost>\n"
            "<VirtualHost 127.0.0.4>\n  ServerName four\n</VirtualHost>\n"
            "<Global>\n  Umask 077\n  AllowOverwrite on\n  TimeoutIdle 5\n</Global>\n")
        main, vh2, vh4 = config.servers
        self.assertEqual((main.server_name, main.port, main.umask, main.allow_overwrite),
                         ("main", 2121, 0o027, True))
        self.assertEqual((vh2.is_main, vh2.addresses, vh2.port, vh2.umask, vh2.server_name,
                          vh2.timeout_idle), (False, ("127.0.0.2", "127.0.0.3"), 2122, 0o002,
                                              "main", 5))
        self.assertEqual(vh2.source.line, 4)
        self.assertEqual((vh4.port, vh4.server_name, vh4.umask), (21, "four", 0o077))

    def test_relative_paths_resolved_against_config_dir(self):
        os.mkdir(os.path.join(self.dir, "logs"))
        server = self.main("RedisLog logs/redis.log\n")
        self.assertEqual(server.redis_log, os.path.join(self.dir, "logs/redis.log"))

    def test_anonymous_and_directory(self):
        server = self.main(
            'LogFormat f "%u"\n'
            "<Directory ~/incoming/*>\n  Umask 002\n  AllowOverwrite off\n"
            "  RedisLogOnCommand STOR f\n</Directory>\n"
            "<Anonymous /srv/ftp/>\n  User ftp\n  Group nogroup\n  UserAlias anonymous ftp\n"
            "  UserAlias guest ftp\n  RedisLogOnEvent READ f\n"
            "  <Directory /srv/ftp/pub>\n    RedisLogOnCommand none\n  </Directory>\n"
            "</Anonymous>\n")
        d, = server.directories
        self.assertEqual((d.path, d.umask, d.allow_overwrite), ("~/incoming/*", 0o002, False))
        self.assertEqual(d.logging.rules[0].commands, frozenset({"STOR"}))
        a, = server.anonymous
        self.assertEqual((a.root, a.user, a.group, a.user_aliases),
                         ("/srv/ftp", "ftp", "nogroup", (("anonymous", "ftp"), ("guest", "ftp"))))
        self.assertEqual(a.logging.rules[0].classes, frozenset({"READ"}))
        self.assertEqual(a.directories[0].path, "/srv/ftp/pub")
        self.assertTrue(a.directories[0].logging.rules[0].none)
        self.assertEqual(server.logging.rules, ())

    def test_directory_path_rules(self):
        self.assertEqual(self.main("<Directory />\n</Directory>\n").directories[0].path, "/")
        self.assertEqual(self.main("<Directory /*>\n</Directory>\n").directories[0].path, "/*")
        self.assertEqual(self.main("<Directory ~bob>\n</Directory>\n").directories[0].path,
                         "~bob")
        self.assertEqual(self.errors("<Directory pub>\n  Umask 022\n</Directory>\n"),
                         ["<Directory>: path 'pub' must be an absolute path or start with "
                          "'~' " + self.where(1)])

    def test_auth_files(self):
        users = self.write("bob:$6$x$y:1000:1000:Bob:/home/bob:/bin/sh\n", "users", 0o600)
        groups = self.write("staff:x:1000:bob\n", "groups", 0o600)
        server = self.main("AuthUserFile users\nAuthGroupFile %s\n" % groups)
        self.assertEqual(server.auth_user_file, users)
        self.assertEqual([u.name for u in server.auth_users], ["bob"])
        self.assertEqual(dict(server.auth_groups), {1000: "staff"})
        self.assertEqual(dict(server.auth_group_members), {"bob": (1000,)})

    def test_auth_file_error_goes_into_errors(self):
        self.write("bob:x:1000\n", "users", 0o600)
        error = self.error("Port 2121\nAuthUserFile users\n")
        self.assertTrue(error.startswith("AuthUserFile: malformed entry"), error)
        self.assertTrue(error.endswith(self.where(2)), error)

    def test_auth_file_options_insecure_perms(self):
        self.write("bob:$6$x$y:1000:1000:Bob:/home/bob:/bin/sh\n", "users", 0o644)
        self.assertIn("readable by others", self.error("AuthUserFile users\n"))
        server = self.main("AuthFileOptions InsecurePerms\nAuthUserFile users\n")
        self.assertEqual(len(server.auth_users), 1)

    def test_redis_log_refused(self):
        error = self.error("RedisLog /nonexistent-dir/redis.log\n")
        self.assertEqual(error, "RedisLog: unable to use '/nonexistent-dir/redis.log': "
                         "No such file or directory " + self.where(1))

    def test_redis_log_none(self):
        self.assertIsNone(self.main("RedisLog NONE\n").redis_log)


# --------------------------------------------------------------------------- Redis

class RedisTests(_Base):
    def target(self, line, **kw):
        return self.main(line + "\n", **kw).redis

    def test_host_port(self):
        t = self.target("RedisServer 10.0.0.1:6380")
        self.assertEqual((t.host, t.port, t.unix_path, t.username, t.password, t.db),
                         ("10.0.0.1", 6380, None, None, None, None))

    def test_forms(self):
        self.assertEqual(self.target("RedisServer redis.local").host, "redis.local")
        self.assertEqual(self.target("RedisServer redis.local").port, 6379)
        t = self.target("RedisServer [::1]:6390")
        self.assertEqual((t.host, t.port), ("::1", 6390))
        t = self.target("RedisServer [::1]")
        self.assertEqual((t.host, t.port), ("::1", 6379))
        t = self.target("RedisServer /run/redis.sock")
        self.assertEqual((t.host, t.unix_path), (None, "/run/redis.sock"))

    def test_credentials(self):
        t = self.target("RedisServer h secret")
        self.assertEqual((t.username, t.password, t.db), (None, "secret", None))
        t = self.target("RedisServer h alice secret")
        self.assertEqual((t.username, t.password, t.db), ("alice", "secret", None))
        t = self.target("RedisServer h alice secret 3")
        self.assertEqual((t.username, t.password, t.db), ("alice", "secret", 3))
        t = self.target('RedisServer h "" "" 2')
        self.assertEqual((t.username, t.password, t.db), (None, None, 2))
        t = self.target('RedisServer h "" pw:with:colons')
        self.assertEqual((t.username, t.password), (None, "pw:with:colons"))

    def test_ssl(self):
        ca = self.write("ca", "ca.pem")
        self.write("c", "cert.pem")
        self.write("k", "key.pem")
        t = self.target("RedisServer h ssl:on user pw ssl-ca:ca.pem ssl-cert:%s/cert.pem "
                        "ssl-key:key.pem" % self.dir)
        self.assertEqual((t.ssl, t.ssl_ca, t.ssl_cert, t.ssl_key, t.username, t.password),
                         (True, ca, os.path.join(self.dir, "cert.pem"),
                          os.path.join(self.dir, "key.pem"), "user", "pw"))

    def test_errors(self):
        self.write("c", "cert.pem")
        cases = [
            ("RedisServer ::1", "RedisServer: bad address '::1': write an IPv6 address in "
             "brackets, as [::1] or [::1]:6379"),
            ("RedisServer h:abc", "RedisServer: bad port 'abc' in 'h:abc'"),
            ("RedisServer h:0", "RedisServer: bad port '0' in 'h:0'"),
            ("RedisServer h:", "RedisServer: bad port '' in 'h:'"),
            ("RedisServer h a b -1", "RedisServer: bad db-index '-1': expected an integer >= 0"),
            ("RedisServer h a b c d", "RedisServer: too many parameters: expected server "
             "[[user] password] [db-index] and ssl options, got 'a' 'b' 'c' 'd'"),
            ("RedisServer /tmp/r.sock ssl:true", "RedisServer: ssl cannot be used with a "
             "Unix socket"),
            ("RedisServer h ssl:maybe", "RedisServer: bad ssl value 'maybe': expected Boolean "
             "parameter"),
            ("RedisServer h ssl:on ssl-ca:/nonexistent/ca.pem", "RedisServer: SSL CA "
             "'/nonexistent/ca.pem': No such file or directory"),
            ("RedisServer h ssl:on ssl-cert:cert.pem", "RedisServer: ssl-cert requires "
             "ssl-key"),
            ("RedisSentinel /tmp/s.sock", "RedisSentinel: sentinel '/tmp/s.sock': a sentinel "
             "needs a host, not a Unix socket"),
            ("RedisSentinel h master", "RedisSentinel: 'master' must be followed by the "
             "master's name"),
        ]
        for line, message in cases:
            self.assertEqual(self.error(line + "\n"), message + " " + self.where(1))

    def test_ssl_paths_without_ssl_warn(self):
        self.write("ca", "ca.pem")
        config = self.load("RedisServer h ssl-ca:ca.pem\n")
        self.assertTrue(any("ssl is not on" in w for w in config.warnings))

    def test_sentinel(self):
        t = self.target("RedisSentinel 10.0.0.1 master proftpd [::1]:26000 10.0.0.2:26380")
        self.assertEqual(t.sentinels, (("10.0.0.1", 26379), ("::1", 26000),
                                       ("10.0.0.2", 26380)))
        self.assertEqual((t.master_name, t.host), ("proftpd", None))
        t = self.target("RedisSentinel 10.0.0.1 10.0.0.2 MASTER m")
        self.assertEqual((t.master_name, len(t.sentinels)), ("m", 2))

    def test_timeouts_options_buffer(self):
        t = self.target("RedisServer h\nRedisTimeouts 100 2000\nRedisOptions NoReconnect\n"
                        "RedisBufferSize 10")
        self.assertEqual((t.connect_timeout_ms, t.io_timeout_ms, t.no_reconnect,
                          t.buffer_size), (100, 2000, True, 10))
        t = self.target("RedisServer h")
        self.assertEqual((t.connect_timeout_ms, t.io_timeout_ms, t.no_reconnect,
                          t.buffer_size), (500, 500, False, 100000))

    def test_timeouts_options_buffer_errors(self):
        cases = [
            ("RedisTimeouts 500ms 500", "RedisTimeouts: badly formatted connect timeout "
             "value: 500ms"),
            ("RedisTimeouts 500 x", "RedisTimeouts: badly formatted IO timeout value: x"),
            ("RedisTimeouts 500", "RedisTimeouts: missing parameters"),
            ("RedisOptions NoReconnect Bogus", "RedisOptions: : unknown RedisOption 'Bogus'"),
            ("RedisOptions noreconnect", "RedisOptions: : unknown RedisOption 'noreconnect'"),
            ("RedisOptions", "RedisOptions: wrong number of parameters"),
            ("RedisBufferSize 0", "RedisBufferSize: bad value '0': must be at least 1"),
        ]
        for line, message in cases:
            self.assertEqual(self.error(line + "\n"), message + " " + self.where(1))

    def test_vhost_inherits_main_redis_settings(self):
        config = self.load("RedisServer h:1234 pw\nRedisTimeouts 1 2\n"
                           "<VirtualHost 127.0.0.2>\n</VirtualHost>\n"
                           "<VirtualHost 127.0.0.3>\nRedisServer other\n</VirtualHost>\n")
        main, v2, v3 = config.servers
        self.assertEqual(v2.redis, main.redis)
        self.assertEqual((v3.redis.host, v3.redis.password, v3.redis.connect_timeout_ms),
                         ("other", None, 1))

    def test_engine(self):
        self.assertTrue(self.main("RedisEngine on\n").redis_engine)
        self.assertFalse(self.main("RedisEngine off\n").redis_engine)


# --------------------------------------------------------------------------- log rules

class LogRuleTests(_Base):
    def test_seed_example(self):
        config = self.load(SEED_EXAMPLE % {"dir": self.dir})
        server, = config.servers
        self.assertEqual(_others(config.warnings), ())
        self.assertTrue(server.redis_engine)
        self.assertEqual(server.redis_log, os.path.join(self.dir, "redis.log"))
        self.assertEqual((server.redis.host, server.redis.port), ("127.0.0.1", 6379))
        self.assertEqual(server.formats, {"file-transfers": '%h %l %u %t "%r" %s %b',
                                          "sessions": "%{iso8601} %a"})
        transfers, sessions = server.logging.rules
        self.assertEqual((transfers.directive, transfers.commands, transfers.classes,
                          transfers.format_name, transfers.key_template, transfers.none),
                         ("RedisLogOnCommand", frozenset({"APPE", "RETR", "STOR", "STOU"}),
                          frozenset(), "file-transfers", None, False))
        self.assertEqual((sessions.commands, sessions.classes, sessions.format_name),
                         (frozenset(), frozenset({"CONNECT", "DISCONNECT"}), "sessions"))
        self.assertEqual(transfers.source.line, 8)
        code, text = format_check_report(config)
        self.assertEqual(code, 0)
        self.assertEqual(text.splitlines()[-1],
                         "Syntax OK: 1 server (main server *:21), 2 log rules")

    def test_command_names_case_insensitive_and_unknown_ignored(self):
        config = self.load('LogFormat f "%m"\nRedisLogOnCommand retr,Stor,FOO,all,!DELE f\n')
        rule, = config.servers[0].logging.rules
        self.assertEqual((rule.commands, rule.classes),
                         (frozenset({"RETR", "STOR"}), frozenset({"ALL"})))
        self.assertIn("RedisLogOnCommand: unknown command 'FOO' ignored " + self.where(2),
                      config.warnings)
        self.assertIn("RedisLogOnCommand: unknown command '!DELE' ignored " + self.where(2),
                      config.warnings)

    def test_pipe_separator(self):
        rule, = self.main('LogFormat f "%m"\nRedisLogOnCommand RETR|STOR f\n').logging.rules
        self.assertEqual(rule.commands, frozenset({"RETR", "STOR"}))
        config = self.load('LogFormat f "%m"\nRedisLogOnCommand RETR,STOR|DELE f\n')
        rule, = config.servers[0].logging.rules
        self.assertEqual(rule.commands, frozenset({"DELE"}))
        self.assertIn("RedisLogOnCommand: unknown command 'RETR,STOR' ignored "
                      + self.where(2), config.warnings)

    def test_empty_items_skipped(self):
        config = self.load('LogFormat f "%m"\nRedisLogOnCommand ,RETR,,STOR, f\n')
        self.assertEqual(config.servers[0].logging.rules[0].commands,
                         frozenset({"RETR", "STOR"}))
        self.assertEqual(_others(config.warnings), ())

    def test_event_classes(self):
        config = self.load('LogFormat f "%m"\n'
                           "RedisLogOnEvent ALL,AUTH,READ,write,EXIT,dele,SECURE f k:%u\n")
        rule, = config.servers[0].logging.rules
        self.assertEqual(rule.classes, frozenset({"ALL", "READ"}))
        self.assertEqual(rule.commands, frozenset({"AUTH", "DELE"}))
        self.assertEqual(rule.key_template, "k:%u")
        for word in ("EXIT", "SECURE"):
            self.assertIn("RedisLogOnEvent: unknown event '%s' ignored %s"
                          % (word, self.where(2)), config.warnings)
        self.assertIn("RedisLogOnEvent: 'write' ignored: event classes are written in upper "
                      "case (WRITE) " + self.where(2), config.warnings)

    def test_none_form(self):
        rule, = self.main("RedisLogOnEvent NONE\n").logging.rules
        self.assertTrue(rule.none)
        self.assertIsNone(rule.format_name)
        rule, = self.main('LogFormat f "%m"\nRedisLogOnCommand none f\n').logging.rules
        self.assertFalse(rule.none)
        self.assertEqual(rule.commands, frozenset())

    def test_wrong_number_of_parameters(self):
        for line in ("RedisLogOnCommand PASS x key extra", "RedisLogOnCommand PASS",
                     "RedisLogOnEvent", "RedisLogOnEvent a b c d"):
            name = line.split()[0]
            self.assertEqual(self.error('LogFormat x "%m"\n' + line + "\n"),
                             "%s: wrong number of parameters %s" % (name, self.where(2)))

    def test_format_defined_later_is_found(self):
        rule, = self.main('RedisLogOnCommand PWD late\nLogFormat late "%m"\n').logging.rules
        self.assertEqual(rule.format_name, "late")

    def test_unresolved_format(self):
        self.assertEqual(self.error("RedisLogOnCommand PWD nosuch\n"),
                         "RedisLogOnCommand: no LogFormat 'nosuch' configured " + self.where(1))
        self.assertEqual(self.error("<Directory /x>\nRedisLogOnEvent READ nosuch\n"
                                    "</Directory>\n"),
                         "RedisLogOnEvent: no LogFormat 'nosuch' configured " + self.where(2))
        self.assertEqual(self.error('RedisLogFormatExtra nosuch {"a":1}\n'),
                         "RedisLogFormatExtra: no LogFormat 'nosuch' configured "
                         + self.where(1))

    def test_logformat_scoping(self):
        config = self.load(
            'LogFormat top "%u"\n'
            "<Global>\n  LogFormat glob \"%m\"\n  RedisLogOnCommand PWD glob\n</Global>\n"
            "<VirtualHost 127.0.0.2>\n  LogFormat vf \"%r\"\n"
            "  RedisLogOnCommand RETR vf\n  RedisLogOnCommand STOR top\n</VirtualHost>\n"
            "RedisLogOnCommand NOOP top\n")
        main, vhost = config.servers
        self.assertEqual(main.formats, {"top": "%u", "glob": "%m"})
        self.assertEqual(vhost.formats, {"vf": "%r", "top": "%u", "glob": "%m"})
        self.assertEqual([r.format_name for r in main.logging.rules], ["top", "glob"])
        self.assertEqual([r.format_name for r in vhost.logging.rules], ["vf", "top", "glob"])

    def test_vhost_format_invisible_elsewhere(self):
        text = ("<VirtualHost 127.0.0.2>\n  LogFormat vf \"%r\"\n</VirtualHost>\n"
                "RedisLogOnCommand RETR vf\n")
        self.assertEqual(self.error(text),
                         "RedisLogOnCommand: no LogFormat 'vf' configured " + self.where(4))

    def test_logformat_context(self):
        self.assertEqual(self.error('<Directory /x>\nLogFormat a "%u"\n</Directory>\n'),
                         "LogFormat: directive not allowed in <Directory> context "
                         + self.where(2) + "; allowed in server config, <VirtualHost>, "
                         "<Global>")

    def test_format_extra(self):
        extra, = self.main(
            'LogFormat f "%u"\nRedisLogFormatExtra f '
            '{"foo":"%u","bar":"BAZ","baz":{},"quxx":[1,3,5],"quzz":null,"n":1.5,"b":true,'
            '"foo":"dup"}\n').logging.extras
        self.assertEqual(extra.format_name, "f")
        self.assertEqual(extra.members, (("foo", "%u"), ("bar", "BAZ"), ("quzz", None),
                                         ("n", 1.5), ("b", True)))

    def test_format_extra_quoted_json(self):
        extra, = self.main('LogFormat x "%u"\n'
                           'RedisLogFormatExtra x "{\\"a b\\": \\"c d %u\\"}"\n').logging.extras
        self.assertEqual(extra.members, (("a b", "c d %u"),))

    def test_format_extra_errors(self):
        for text in ('{"a":}', "[1,2]", '{"a":1,}', '{"a":NaN}', '1'):
            self.assertEqual(
                self.error('LogFormat f "%%u"\nRedisLogFormatExtra f %s\n' % text),
                "RedisLogFormatExtra: error parsing '%s' as JSON object: invalid JSON %s"
                % (text, self.where(2)))

    def test_global_rules_after_server_rules(self):
        config = self.load('LogFormat f "%m"\n<Global>\nRedisLogOnCommand PWD f g\n</Global>\n'
                           "RedisLogOnCommand PWD f main_only\n"
                           "<VirtualHost 127.0.0.2>\n</VirtualHost>\n")
        main, vhost = config.servers
        self.assertEqual([r.key_template for r in main.logging.rules], ["main_only", "g"])
        self.assertEqual([r.key_template for r in vhost.logging.rules], ["g"])

    def test_sessions_example(self):
        server = self.main('LogFormat sessions "%{iso8601} %a %u"\n'
                           "RedisLogOnCommand CONNECT,DISCONNECT sessions\n")
        rule, = server.logging.rules
        self.assertEqual((rule.directive, rule.classes, rule.commands, rule.format_name),
                         ("RedisLogOnCommand", frozenset({"CONNECT", "DISCONNECT"}),
                          frozenset(), "sessions"))


# --------------------------------------------------------------------------- report, table

class ReportTests(_Base):
    def test_check_report_ok(self):
        config = self.load(
            'ServerType standalone\nPort 2121\nDefaultAddress 127.0.0.1\nLogFormat f "%m"\n'
            "RedisLogOnCommand PWD f\n<Global>\nRedisLogOnEvent READ f\n</Global>\n"
            "<VirtualHost 127.0.0.2>\nPort 2121\nRedisLogOnCommand RETR f\n</VirtualHost>\n")
        code, text = format_check_report(config)
        self.assertEqual(code, 0)
        self.assertEqual(text.splitlines(), [
            "warning: ServerType on %s has no effect in ftpredis" % self.where(1)[3:],
            "warning: the main server has no AuthUserFile, and ftpredis does not read system "
            "accounts (/etc/passwd, PAM): no user can log in to it",
            "warning: <VirtualHost 127.0.0.2> (%s) has no AuthUserFile, and ftpredis does "
            "not read system accounts (/etc/passwd, PAM): no user can log in to it"
            % self.where(9)[3:],
            "Syntax OK: 2 servers (main server 127.0.0.1:2121, <VirtualHost 127.0.0.2>:2121), "
            "3 log rules"])

    def test_check_report_errors(self):
        path = self.write("Bogus\nPort x\n")
        code, text = format_check_report(path)
        self.assertEqual(code, 1)
        self.assertEqual(text.splitlines(), [
            "unknown configuration directive 'Bogus' " + self.where(1),
            "Port: bad port number 'x': expected a number " + self.where(2)])

    def test_check_report_single_error(self):
        code, text = format_check_report(ConfigError("boom", Source("f", 3)))
        self.assertEqual((code, text), (1, "boom on line 3 of 'f'\n"))

    def test_table_shape(self):
        names = [d.name for d in TABLE]
        self.assertEqual(len(names), len(set(n.lower() for n in names)))
        for d in TABLE:
            self.assertTrue(d.doc, d.name)
            self.assertTrue(d.contexts, d.name)
            self.assertIs(lookup(d.name.upper()), d)
        for name in ("ServerType", "PidFile", "TraceLog", "LoadModule"):
            self.assertFalse(lookup(name).effect)
        for name in ("RedisLogOnCommand", "RedisLogOnEvent", "RedisLogFormatExtra"):
            self.assertTrue(lookup(name).multi and lookup(name).merge_down)

    def test_reference(self):
        text = directive_reference()
        self.assertTrue(text.startswith(".. list-table::"))
        for d in TABLE:
            self.assertIn("``%s``" % d.name, text)
        from docutils.core import publish_doctree

        publish_doctree(text, settings_overrides={"report_level": 2, "halt_level": 2})
