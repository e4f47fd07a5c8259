# -*- test-case-name: tests.test_tap -*-
"""The twistd glue: ``twistd ftpredis`` options and the service it builds.

Owns the command line and the process identity.  The configuration file is read here,
once, so that a bad config stops twistd before it daemonizes, with every error on its own
line (file and line), instead of a usage dump and a traceback.

Privileges: twistd binds every listener in ``privilegedStartService`` (port 21 needs
root), then drops to ``--uid``/``--gid``.  When those are not given and twistd runs as
root, the main server's ``User``/``Group`` directives (``<Global>`` included) fill them
in, as ProFTPD's master process switches to ``User``/``Group`` after binding.  RedisLog
files and twistd's own pidfile and log are opened before the switch.
"""

import os
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
        ["shutdown-timeout", None, 10.0,
         "On SIGTERM, seconds a transfer in flight may take to finish before it is cut "
         "short (421).", float],
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

    def opt_version(self):
        """Print the versions of ftpredis, Twisted, txredisapi and Python, and exit."""
        sys.stdout.write(version_text())
        raise SystemExit(0)

    def postOptions(self):
        if not self["check"]:
            from ftpredis.app import lifecycle, reactor
            # From here a SIGHUP is kept for the service instead of ending the process.
            lifecycle.hold_sighup()
            reactor.install()       # before anything below imports the default one
        from ftpredis.config import ConfigErrors, format_check_report, load_config, run_as

        if self["check"]:
            # twistd's --uid/--gid (parsed before this subcommand) win over User/Group
            twistd = getattr(self, "parent", None)
            identity = ((twistd.get("uid"), twistd.get("gid")) if twistd is not None
                        else (None, None))
            code, text = format_check_report(self["config"], tuple(self["defines"]),
                                             identity)
            (sys.stdout if code == 0 else sys.stderr).write(text.rstrip("\n") + "\n")
            raise SystemExit(code)
        from ftpredis.app.service import RoutingTable

        try:
            self.loaded = load_config(self["config"], tuple(self["defines"]))
            # Addresses that only clash once resolved (localhost vs 127.0.0.1).
            table = RoutingTable([(s, s) for s in self.loaded.servers])
            self.run_as = run_as(self.loaded)
        except ConfigErrors as e:
            for error in e.errors:
                sys.stderr.write("ftpredis: %s\n" % (error,))
            raise SystemExit(1)
        problems = probe_listeners(table.bindings)
        main = self.loaded.servers[0]
        if main.prometheus_engine and main.prometheus_exporter:
            import socket
            ip, port = main.prometheus_exporter
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            problems += ["PrometheusExporter: %s" % problem
                         for problem in probe_listeners({(ip, port): family})]
        if problems:
            for problem in problems:
                sys.stderr.write("ftpredis: %s\n" % (problem,))
            raise SystemExit(1)
        if self["shutdown-timeout"] < 0:
            raise usage.UsageError("--shutdown-timeout must not be negative")


def version_text():
    """What ``twistd ftpredis --version`` prints: ours and what a bug report needs."""
    import platform

    import twisted
    try:
        from importlib.metadata import version
        txredisapi = version("txredisapi")
    except Exception:
        import txredisapi as module
        txredisapi = getattr(module, "__version__", "unknown")
    return ("ftpredis %s\nTwisted %s\ntxredisapi %s\nPython %s (%s)\n"
            % (__version__, twisted.__version__, txredisapi, platform.python_version(),
               sys.executable))


def probe_listeners(bindings):
    """One line per address that cannot be bound (in use, not local, below 1024 without
    root), found before twistd daemonizes, instead of a traceback in its log."""
    import socket

    from ftpredis.app.service import _address

    problems = []
    for (ip, port), family in sorted(bindings.items()):
        probe = socket.socket(family, socket.SOCK_STREAM)
        try:
            # As Twisted binds: SO_REUSEADDR, so a port in TIME_WAIT is not "in use".
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((ip, port))
        except OSError as e:
            problems.append("cannot listen on %s: %s" % (_address(ip, port),
                                                          e.strerror or e))
        finally:
            probe.close()
    return problems


def _switch_identity(options, log):
    """Hand the config's User/Group to twistd, which switches after binding."""
    twistd = getattr(options, "parent", None)
    uid, gid = getattr(options, "run_as", (None, None))
    if twistd is None or (uid is None and gid is None):
        if os.getuid() == 0 and twistd is not None and twistd.get("uid") is None:
            log.warn("running as root: name an account with User/Group in the config "
                     "(or twistd --uid/--gid)")
        return
    if os.getuid() != 0:
        log.info("not started as root: User/Group in the config left alone")
        return
    if twistd.get("uid") is not None or twistd.get("gid") is not None:
        log.info("twistd --uid/--gid given: User/Group in the config left alone")
        return
    twistd["uid"], twistd["gid"] = uid, gid


def makeService(options):
    from twisted.logger import Logger

    from ftpredis.app.service import FTPRedisService

    svc = FTPRedisService(options.loaded, options["config"], tuple(options["defines"]),
                          shutdown_timeout=options["shutdown-timeout"])
    svc.twistd_options = getattr(options, "parent", None)
    _switch_identity(options, Logger(namespace="ftpredis.app.tap"))
    return svc
