# -*- test-case-name: tests.test_config_unprovided -*-
"""Directives of modules ftpredis does not provide, outside any ``<IfModule>``.

ProFTPD 1.3.8 (``proftpd -t``) knows a module's directives from its ``LoadModule`` line
on (or always, for a module it has compiled in): ``QuotaEngine off`` below ``LoadModule
mod_quotatab.c`` passes, above it or with none it is "unknown configuration directive".
ftpredis accepts with a warning a line that only turns such a module off (the rule of
the ``<IfModule>`` blocks, tests/test_config_modules.py), refuses any other, naming the
module and its LoadModule line, and keeps the "unknown directive" where ProFTPD has it.
A reload judges the same way (tests.test_service.ReloadTests).
"""

from __future__ import annotations

from ftpredis.config import PROVIDED_MODULES, format_check_report
from ftpredis.config.directives import TABLE, unprovided_modules
from ftpredis.config.unprovided import DIRECTIVES, contexts_of, modules_of
from tests.test_config import _Base, _others, unloaded_hint


class TurnedOffTests(_Base):

    def ignored(self, line, number, module, how):
        return ("%s %s ignored: it turns off %s (%s), which ftpredis does not provide"
                % (line, self.where(number), module, how))

    def loaded(self, number, name="ftpd.conf"):
        return "loaded " + self.where(number, name)

    def test_below_its_load_module_a_warning_anywhere(self):
        """Top level, <Global>, <VirtualHost>, <Directory>; every spelling of false; the
        LoadModule line in an included modules.conf, as Debian has it."""
        self.write("\nLoadModule mod_quotatab.c\nLoadModule mod_ratio.c\n", "modules.conf")
        config = self.load(
            "Include modules.conf\nPort 2121\nQuotaEngine off\n<Global>\nRatios \"No\"\n"
            "</Global>\n<VirtualHost 127.0.0.2>\nquotaengine false\n<Directory /srv>\n"
            "Ratios 0\n</Directory>\n</VirtualHost>\n")
        self.assertEqual(config.servers[0].port, 2121)
        self.assertEqual(_others(config.warnings)[:4], (
            self.ignored("QuotaEngine off", 3, "mod_quotatab.c",
                         self.loaded(2, "modules.conf")),
            self.ignored("Ratios No", 5, "mod_ratio.c", self.loaded(3, "modules.conf")),
            self.ignored("quotaengine false", 8, "mod_quotatab.c",
                         self.loaded(2, "modules.conf")),
            self.ignored("Ratios 0", 10, "mod_ratio.c", self.loaded(3, "modules.conf"))))

    def test_compiled_in_module_a_warning(self):
        """mod_delay, mod_auth_pam, mod_ctrls are in Debian's proftpd with no LoadModule."""
        config = self.load("DelayEngine off\nAuthPAM off\nControlsEngine off\n"
                           "<VirtualHost 127.0.0.2>\nDelayEngine off\n</VirtualHost>\n")
        how = "compiled into ProFTPD"
        self.assertEqual(_others(config.warnings), (
            self.ignored("DelayEngine off", 1, "mod_delay.c", how),
            self.ignored("AuthPAM off", 2, "mod_auth_pam.c", how),
            self.ignored("ControlsEngine off", 3, "mod_ctrls.c", how),
            self.ignored("DelayEngine off", 5, "mod_delay.c", how)))

    def test_check_report(self):
        path = self.write("LoadModule mod_wrap2.c\nWrapEngine off\nPort 2121\n")
        code, text = format_check_report(path)
        self.assertEqual(code, 0, text)
        self.assertIn("warning: " + self.ignored("WrapEngine off", 2, "mod_wrap2.c",
                                                 self.loaded(1)), text.splitlines())


class RefusedTests(_Base):

    def refused(self, directive, number, module, how):
        return ("%s: ftpredis does not provide %s (%s) and cannot apply this directive %s; "
                "ProFTPD would apply it: remove it (only turning the module off is "
                "accepted)" % (directive, module, how, self.where(number)))

    def test_doing_more_is_an_error_naming_the_load_module_line(self):
        self.assertEqual(self.errors(
            "LoadModule mod_quotatab.c\nQuotaEngine on\n<VirtualHost 127.0.0.2>\n"
            "QuotaLimitTable file:/etc/ftpquota.limittab\n</VirtualHost>\n"), [
            self.refused("QuotaEngine", 2, "mod_quotatab.c", "loaded " + self.where(1)),
            self.refused("QuotaLimitTable", 4, "mod_quotatab.c",
                         "loaded " + self.where(1))])

    def test_compiled_in_doing_more_is_an_error(self):
        """Unlike an <IfModule mod_delay.c> block (a warning: Debian's stock file has
        one), a bare directive says the admin relies on it."""
        self.assertEqual(self.errors("DelayEngine on\nRLimitCPU 10\n"), [
            self.refused("DelayEngine", 1, "mod_delay.c", "compiled into ProFTPD"),
            self.refused("RLimitCPU", 2, "mod_rlimit.c", "compiled into ProFTPD")])

    def test_a_refused_section_is_skipped_to_its_close(self):
        """mod_ifsession's <IfUser>: one error, its body (nested ones too) not read."""
        self.assertEqual(self.errors(
            "LoadModule mod_ifsession.c\n<IfUser bob>\nBogus\n<IfUser alice>\nPort 1\n"
            "</IfUser>\n</IfUser>\nPort x\n<IfGroup staff>\n"), [
            self.refused("<IfUser>", 2, "mod_ifsession.c", "loaded " + self.where(1)),
            "Port: bad port number 'x': expected a number " + self.where(8),
            self.refused("<IfGroup>", 9, "mod_ifsession.c", "loaded " + self.where(1)),
            "unclosed <IfGroup> context " + self.where(9)])

    def test_a_directive_two_modules_have(self):
        """SQLAuthTypes is mod_sql's and mod_sql_mysql's: the loaded one is named."""
        self.assertEqual(self.error("LoadModule mod_sql_mysql.c\nSQLAuthTypes Crypt\n"),
                         self.refused("SQLAuthTypes", 2, "mod_sql_mysql.c",
                                      "loaded " + self.where(1)))

    def test_same_rule_as_an_if_module_block(self):
        """What a block may hold, a bare line may be: one rule (turns_module_off)."""
        for line, accepted in [("QuotaEngine off", True), ("QuotaEngine on", False),
                               ("QuotaEngine off now", False), ("QuotaLog /x", False),
                               ("QuotaEngine \"FALSE\"", True)]:
            head = "LoadModule mod_quotatab.c\nPort 2121\n"
            for text in (head + line + "\n",
                         head + "<IfModule mod_quotatab.c>\n" + line + "\n</IfModule>\n"):
                if accepted:
                    self.assertEqual(self.main(text).port, 2121, text)
                else:
                    self.assertTrue(self.errors(text), text)


class ContextTests(_Base):
    """Each directive where its handler's CHECK_CONF allows it, as ``proftpd -t`` judges
    (measured with 1.3.8: "fatal: QuotaEngine: directive not allowed in <Anonymous>
    context on line 6 of ..."), turning its module off or not."""

    def not_allowed(self, directive, context, number, allowed, name="ftpd.conf"):
        return "%s: directive not allowed in %s context %s; allowed in %s" % (
            directive, context, self.where(number, name), allowed)

    def test_outside_its_contexts_an_error(self):
        svg = "server config, <VirtualHost>, <Global>"
        self.assertEqual(self.errors(
            "LoadModule mod_quotatab.c\nQuotaEngine off\n<VirtualHost 127.0.0.2>\n"
            "QuotaEngine off\n<Anonymous /tmp>\nQuotaEngine off\n</Anonymous>\n"
            "</VirtualHost>\n<Global>\n<Directory /tmp>\n<Limit READ>\nDelayEngine off\n"
            "</Limit>\n</Directory>\n</Global>\nControlsEngine off\n"
            "<VirtualHost 127.0.0.3>\nControlsEngine off\n</VirtualHost>\n"), [
            self.not_allowed("QuotaEngine", "<Anonymous>", 6, svg),
            self.not_allowed("DelayEngine", "<Limit>", 12, svg),
            self.not_allowed("ControlsEngine", "<VirtualHost>", 18, "server config")])

    def test_the_context_of_an_included_file_is_the_including_line_s(self):
        """ProFTPD names the Include line; ftpredis the line in the included file."""
        self.write("<Anonymous /tmp>\n  QuotaEngine off\n</Anonymous>\n", "anon.conf")
        self.assertEqual(self.errors(
            "LoadModule mod_quotatab.c\n<VirtualHost 127.0.0.2>\nInclude anon.conf\n"
            "</VirtualHost>\n"), [
            self.not_allowed("QuotaEngine", "<Anonymous>", 2,
                             "server config, <VirtualHost>, <Global>", "anon.conf")])

    def test_only_in_directories(self):
        """mod_exec's ExecEnable: <Anonymous>, <Directory>, .ftpaccess, not the server."""
        self.assertEqual(self.errors("LoadModule mod_exec.c\nExecEnable off\n"), [
            self.not_allowed("ExecEnable", "server config", 2,
                             "<Anonymous>, <Directory>, .ftpaccess")])

    def test_contexts_read_from_the_handlers(self):
        self.assertEqual(contexts_of("quotaengine"),
                         ("server config", "<VirtualHost>", "<Global>"))
        self.assertEqual(contexts_of("ControlsEngine"), ("server config",))
        self.assertEqual(contexts_of("SQLEngine"),
                         ("server config", "<VirtualHost>", "<Global>", "<Anonymous>"))
        self.assertIsNone(contexts_of("Port"))
        # Every directive but a few whose handlers check nothing has its contexts.
        names = {n for names in DIRECTIVES.values() for n in names.split()}
        self.assertLess(len([n for n in names if contexts_of(n) is None]), 10)


class NotLoadedTests(_Base):

    def test_above_its_load_module_or_without_one_unknown(self):
        """ProFTPD: "unknown configuration directive 'QuotaEngine' on line 1 of ..."; the
        hint names the module."""
        unknown = "unknown configuration directive '%s' %s; %s"
        self.assertEqual(self.errors("QuotaEngine off\nLoadModule mod_quotatab.c\n"
                                     "Ratios off\n"), [
            unknown % ("QuotaEngine", self.where(1), unloaded_hint("mod_quotatab.c")),
            unknown % ("Ratios", self.where(3), unloaded_hint("mod_ratio.c"))])

    def test_a_load_module_in_a_skipped_block_loads_nothing(self):
        self.assertEqual(self.error("<IfDefine NOPE>\nLoadModule mod_ratio.c\n</IfDefine>\n"
                                    "Ratios off\n"),
                         "unknown configuration directive 'Ratios' %s; %s"
                         % (self.where(4), unloaded_hint("mod_ratio.c")))


class TableTests(_Base):

    def test_modules_of(self):
        self.assertEqual(modules_of("QUOTAENGINE"), ("mod_quotatab.c",))
        self.assertEqual(modules_of("<IfUser>"), ("mod_ifsession.c",))
        self.assertEqual(modules_of("</IfUser>"), ())
        self.assertEqual(modules_of("Port"), ())

    def test_ours_are_never_unprovided(self):
        """A directive in ftpredis's table (IdentLookups, mod_ident's, is a no-op there;
        LoadModule, mod_dso's) keeps its row's handling."""
        self.assertFalse(set(DIRECTIVES) & PROVIDED_MODULES)
        self.assertEqual([d.name for d in TABLE if unprovided_modules(d.name)], [])
        self.assertEqual(modules_of("IdentLookups"), ("mod_ident.c",))
        self.assertEqual(self.main("LoadModule mod_ident.c\nIdentLookups on\nPort 2121\n")
                         .port, 2121)
