# -*- test-case-name: tests.test_config_modules -*-
"""The config side of modules ftpredis does not provide and of mod_ls's ListOptions.

``LoadModule mod_x.c`` for such a module is accepted with a warning (Debian's
modules.conf loads twenty-one of them); ProFTPD then reads ``<IfModule mod_x.c>`` blocks
that ftpredis would skip, so such a block is refused, naming its file and line, unless
all it does is turn the module off.  A module compiled into ProFTPD (mod_delay,
mod_ctrls...) is read by ProFTPD with no LoadModule: its blocks get a warning instead.
A block for a module neither loaded nor provided is skipped, as ProFTPD skips it.
The same modules' directives outside a block: tests/test_config_unprovided.py.

``ListOptions`` (tests/test_conformance_listoptions.py runs the listings): its keywords,
the errors mod_ls gives, the warnings for what ftpredis does not do, and where it
applies.
"""

from __future__ import annotations

from ftpredis.config.model import ListOptions
from tests.test_config import _Base, _others


def _load_module_warning(name, where):
    return ("LoadModule: ftpredis does not provide %s: its directives and <IfModule> "
            "blocks are refused unless they only turn it off %s" % (name, where))


class LoadModuleTests(_Base):

    def test_not_provided_is_a_warning(self):
        config = self.load("ModulePath /usr/lib/proftpd\nLoadModule mod_wrap2.c\n"
                           "LoadModule mod_ban.c\n<IfModule mod_ban.c>\nPort 2121\n"
                           "</IfModule>\n")
        self.assertEqual(config.servers[0].port, 2121)     # a module we provide: read
        self.assertEqual(_others(config.warnings), (
            "ModulePath %s has no effect in ftpredis" % self.where(1),
            _load_module_warning("mod_wrap2.c", self.where(2)),
            "LoadModule %s has no effect in ftpredis" % self.where(3)))

    def test_file_and_line_of_an_included_file(self):
        self.write("\n\nLoadModule mod_quotatab.c\n", "modules.conf")
        config = self.load("Include modules.conf\n")
        self.assertIn(_load_module_warning("mod_quotatab.c",
                                           self.where(3, "modules.conf")), config.warnings)

    def test_bad_names_and_places(self):
        self.assertEqual(self.errors("LoadModule wrap2\nLoadModule mod_a.c mod_b.c\n"
                                     "<VirtualHost 127.0.0.2>\nLoadModule mod_a.c\n"
                                     "</VirtualHost>\n"), [
            "LoadModule: error loading module 'wrap2': Invalid argument " + self.where(1),
            "LoadModule: wrong number of parameters " + self.where(2),
            "LoadModule: directive not allowed in <VirtualHost> context " + self.where(4)
            + "; allowed in server config"])

    def test_its_directives_are_refused(self):
        """tests/test_config_unprovided.py has the rest."""
        self.assertEqual(self.error("LoadModule mod_wrap2.c\nWrapEngine on\n"),
                         "WrapEngine: ftpredis does not provide mod_wrap2.c (loaded %s) and "
                         "cannot apply this directive %s; ProFTPD would apply it: remove it "
                         "(only turning the module off is accepted)"
                         % (self.where(1), self.where(2)))


class LoadedBlockTests(_Base):

    def test_block_that_configures_is_refused(self):
        """Debian's mod_wrap2 access rules, say: ProFTPD would apply them, ftpredis
        would not, so the block stops --check."""
        text = ("LoadModule mod_wrap2.c\nPort 2121\n<IfModule mod_wrap2.c>\n"
                "  WrapEngine on\n  WrapTables file:/etc/ftpd.allow file:/etc/ftpd.deny\n"
                "</IfModule>\n")
        self.assertEqual(self.error(text), (
            "<IfModule mod_wrap2.c>: ftpredis does not provide mod_wrap2.c (loaded %s), "
            "and this block does more than turn it off (line 4: WrapEngine on) %s; "
            "ProFTPD would apply it: remove the block, or the LoadModule line"
            % (self.where(1), self.where(3))))

    def test_block_that_only_turns_it_off_is_accepted(self):
        """Debian's proftpd.conf: QuotaEngine off, Ratios off, AdminControlsEngine off;
        comments, blank lines, an empty block, and every spelling of false."""
        self.write("LoadModule mod_quotatab.c\nLoadModule mod_ratio.c\n"
                   "LoadModule mod_ctrls_admin.c\nLoadModule mod_dynmasq.c\n"
                   "LoadModule mod_ident.c\n", "modules.conf")
        config = self.load(
            "Include modules.conf\n<IfModule mod_quotatab.c>\nQuotaEngine off\n</IfModule>\n"
            "<IfModule mod_ratio.c>\n\n# Ratios on\nRatios off\n</IfModule>\n"
            "<IfModule mod_ctrls_admin.c>\n  AdminControlsEngine \"No\"\n</IfModule>\n"
            "<IfModule mod_dynmasq.c>\n# DynMasqRefresh 28800\n</IfModule>\n"
            "<IfModule mod_ident.c>\nIdentLookups false\n</IfModule>\n"
            "<IfModule mod_quotatab.c>\n<IfDefine X>\nQuotaEngine 0\n</IfDefine>\n"
            "</IfModule>\nPort 2121\n")
        self.assertEqual(config.servers[0].port, 2121)
        self.assertFalse([w for w in config.warnings if "IfModule" in w and "skipped" in w])

    def test_our_own_directive_is_not_turning_it_off(self):
        """``TLSEngine off`` in another module's block would change ftpredis's TLS."""
        self.assertIn("(line 3: TLSEngine off)",
                      self.error("LoadModule mod_quotatab.c\n<IfModule mod_quotatab.c>\n"
                                 "TLSEngine off\n</IfModule>\n"))

    def test_nested_blocks_and_includes_count(self):
        error = self.error("LoadModule mod_quotatab.c\n<IfModule mod_quotatab.c>\n"
                           "QuotaEngine off\n<IfModule mod_sql.c>\nSQLEngine on\n"
                           "</IfModule>\n</IfModule>\n")
        self.assertIn("(line 5: SQLEngine on)", error)
        error = self.error("LoadModule mod_quotatab.c\n<IfModule mod_quotatab.c>\n"
                           "Include quota.conf\n</IfModule>\n")
        self.assertIn("(line 3: Include quota.conf)", error)

    def test_before_its_load_module_the_block_is_skipped(self):
        """ProFTPD loads the module on the LoadModule line, so a block above it is
        false, as is one for a module neither loaded nor provided."""
        config = self.load("<IfModule mod_wrap2.c>\nWrapEngine on\n</IfModule>\n"
                           "LoadModule mod_wrap2.c\n<IfModule mod_sql.c>\nSQLEngine on\n"
                           "Bogus\n</IfModule>\nPort 2121\n")
        self.assertEqual(config.servers[0].port, 2121)
        self.assertEqual(len(_others(config.warnings)), 1, config.warnings)

    def test_negated_block_of_a_loaded_module_is_skipped(self):
        server = self.main("LoadModule mod_wrap2.c\n<IfModule !mod_wrap2.c>\nPort 2\n"
                           "</IfModule>\n<IfModule !mod_sql.c>\nPort 2121\n</IfModule>\n")
        self.assertEqual(server.port, 2121)

    def test_unclosed_block(self):
        self.assertEqual(self.error("LoadModule mod_wrap2.c\n<IfModule mod_wrap2.c>\n"
                                    "WrapEngine off\n"),
                         "unclosed <IfModule> context " + self.where(2))


class CompiledInBlockTests(_Base):

    def test_block_that_configures_is_a_warning(self):
        """Debian's proftpd.conf: ``DelayEngine on`` (mod_delay is in every ProFTPD) and
        the mod_ctrls block (compiled in by Debian) are skipped with a warning; one that
        only turns its module off says nothing."""
        config = self.load("<IfModule mod_delay.c>\nDelayEngine on\n</IfModule>\n"
                           "<IfModule mod_ctrls.c>\nControlsEngine off\n"
                           "ControlsMaxClients 2\n</IfModule>\nPort 2121\n"
                           "<IfModule mod_auth_pam.c>\nAuthPAM off\n</IfModule>\n")
        self.assertEqual(config.servers[0].port, 2121)
        self.assertEqual(_others(config.warnings), (
            "<IfModule mod_delay.c> %s skipped: ftpredis does not provide mod_delay.c, "
            "which ProFTPD has compiled in, and this block does more than turn it off "
            "(line 2: DelayEngine on)" % self.where(1),
            "<IfModule mod_ctrls.c> %s skipped: ftpredis does not provide mod_ctrls.c, "
            "which ProFTPD has compiled in, and this block does more than turn it off "
            "(line 6: ControlsMaxClients 2)" % self.where(4)))

    def test_negated(self):
        self.assertEqual(self.main("<IfModule !mod_delay.c>\nPort 2\n</IfModule>\n").port, 21)


class ListOptionsConfigTests(_Base):

    def test_keywords(self):
        d = self.main('ListOptions "-l" strict maxdepth 2 MAXFILES 100 maxdirs 3 LISTOnly '
                      "noerrorifabsent SortedNLST\n").list_options[0]
        self.assertEqual(d, ListOptions("-l", strict=True, max_depth=2, max_files=100,
                                        max_dirs=3, list_only=True, no_error_if_absent=True,
                                        source=d.source))
        self.assertEqual(d.source.line, 1)

    def test_several_lines_apply_in_order(self):
        server = self.main('ListOptions "-a" NLSTOnly\nListOptions "-F" LISTOnly\n')
        self.assertEqual([(v.options, v.nlst_only, v.list_only) for v in server.list_options],
                         [("-a", True, False), ("-F", False, True)])

    def test_errors(self):
        self.assertEqual(self.errors(
            'ListOptions\nListOptions "-l" maxdepth 0\nListOptions "-l" maxfiles\n'
            'ListOptions "-l" maxdirs 2x\nListOptions "-l" bogus\n'
            "ListOptions -l maxfiles abc\n"), [
            "ListOptions: missing parameters " + self.where(1),
            "ListOptions: maxdepth must be greater than 0: '0' " + self.where(2),
            "ListOptions: maxfiles needs a number after it " + self.where(3),
            "ListOptions: bad maxdirs '2x': expected a number " + self.where(4),
            "ListOptions: unknown keyword: 'bogus' " + self.where(5),
            "ListOptions: maxfiles must be greater than 0: 'abc' " + self.where(6)])

    def test_warnings(self):
        config = self.load('ListOptions "-ltSr +C -nBChLUcu -x"\nListOptions l\n'
                           'ListOptions "-a" AdjustedSymlinks\n')
        self.assertEqual(_others(config.warnings), (
            "ListOptions: option '-x' is not one mod_ls knows; ignored " + self.where(1),
            "ListOptions: 'l' starts with neither '-' nor '+', so mod_ls reads no option "
            "from it " + self.where(2),
            "ListOptions: AdjustedSymlinks has no effect in ftpredis: a link's target is "
            "listed as it is stored " + self.where(3)))

    def test_contexts(self):
        config = self.load(
            'ListOptions "-l"\n<Directory %s/pub>\nListOptions "-a"\n</Directory>\n'
            '<Anonymous %s/anon>\nListOptions "-1"\n</Anonymous>\n'
            '<Global>\nListOptions "-F"\n</Global>\n' % (self.dir, self.dir))
        server = config.servers[0]
        self.assertEqual([v.options for v in server.list_options], ["-l", "-F"])
        self.assertEqual(server.directories[0].list_options[0].options, "-a")
        self.assertEqual(server.anonymous[0].list_options[0].options, "-1")
        self.assertEqual(self.error("<Limit LIST>\nListOptions -a\n</Limit>\n"),
                         "ListOptions: directive not allowed in <Limit> context "
                         + self.where(2) + "; allowed in server config, <VirtualHost>, "
                         "<Global>, <Anonymous>, <Directory>")

    def test_none_where_not_given(self):
        config = self.load("<Directory %s/pub>\nUmask 077\n</Directory>\n" % self.dir)
        self.assertEqual(config.servers[0].list_options, ())
        self.assertIsNone(config.servers[0].directories[0].list_options)


class DisplayLoginTests(_Base):

    def test_relative_path_is_kept_for_the_login(self):
        """mod_auth reads a relative DisplayLogin in the session's first directory."""
        config = self.load("DisplayLogin welcome.msg\n<Anonymous %s/anon>\n"
                           "DisplayLogin /etc/ftp.msg\n</Anonymous>\n" % self.dir)
        self.assertEqual(config.servers[0].display_login, "welcome.msg")
        self.assertEqual(config.servers[0].anonymous[0].display_login, "/etc/ftp.msg")
