# -*- test-case-name: tests.test_tap -*-
"""The twistd glue: ``twistd ftpredis`` options and the service it builds.

Owns the command line only.  The configuration file is read here, once, so that a bad
config stops twistd before it daemonizes, with every error on its own line (file and
line), instead of a usage dump and a traceback.
"""

import sys

from twisted.python import usage

from ftpredis import __version__


class Options(usage.Options):
    synopsis = "[--config FILE] [--check] [-D NAME]..."
    longdesc = (
        "ftpredis %s: an FTP server configured like ProFTPD, logging FTP events to Redis "
        "lists as ProFTPD's mod_redis does." % (__version__,)
    )
    optParameters = [
        ["config", "c", "/etc/ftpredis/ftpd.conf",
         "The configuration file, in ProFTPD syntax."],
    ]
    optFlags = [
        ["check", "t", "Check the configuration file, print every error with its file "
                       "and line, and exit (1 on errors, 0 with a one-line summary)."],
    ]

    def __init__(self):
        usage.Options.__init__(self)
        self["defines"] = []
        self.loaded = None

    def opt_define(self, name):
        """Define NAME for <IfDefine NAME> sections (like proftpd -D)."""
        self["defines"].append(name)

    opt_D = opt_define

    def postOptions(self):
        from ftpredis.config import ConfigErrors, format_check_report, load_config

        if self["check"]:
            code, text = format_check_report(self["config"], tuple(self["defines"]))
            (sys.stdout if code == 0 else sys.stderr).write(text.rstrip("\n") + "\n")
            raise SystemExit(code)
        try:
            self.loaded = load_config(self["config"], tuple(self["defines"]))
        except ConfigErrors as e:
            for error in e.errors:
                sys.stderr.write("ftpredis: %s\n" % (error,))
            raise SystemExit(1)


def makeService(options):
    from ftpredis.service import FTPRedisService

    return FTPRedisService(options.loaded, options["config"], tuple(options["defines"]))
