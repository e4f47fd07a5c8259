# -*- test-case-name: tests.test_perf_features -*-
"""A ``ServerWorkers`` worker process's entry point.

It lives apart from :mod:`ftpredis.app.workers` because it builds a whole
:class:`~ftpredis.app.service.FTPRedisService`, and the service imports ``workers`` to
bind and adopt its listening sockets: keeping ``main`` there made the two import each
other.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from twisted.logger import Logger

from ftpredis.app import workers as _workers

log = Logger()


def _die_with_parent():
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except Exception:
        pass


def _start(svc):
    try:
        svc.startService()          # installs the SIGHUP handler (reload)
    finally:
        # The parent started us with SIGHUP blocked (workers.WorkerPool._spawn); one
        # sent meanwhile is delivered now, to the handler: a reload, not our death.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})


def main(argv=None):
    """A worker process: ``python -c 'from ftpredis.app.worker_main import main; main()' ...``."""
    ap = argparse.ArgumentParser(prog="ftpredis-worker")
    ap.add_argument("--config", required=True)
    ap.add_argument("--shutdown-timeout", type=float, default=10.0)
    ap.add_argument("--parent", type=int, default=None)
    ap.add_argument("-D", action="append", default=[], dest="defines")
    ap.add_argument("--fd", action="append", default=[])
    ap.add_argument("--metrics-fds", default=None)
    args = ap.parse_args(argv)
    _die_with_parent()
    if args.parent is not None and os.getppid() != args.parent:
        return 0                        # the parent is already gone
    _workers.IN_WORKER = True
    if args.metrics_fds:
        rfd, wfd = args.metrics_fds.split(",")
        _workers.METRICS_FDS = (int(rfd), int(wfd))
    for spec in args.fd:
        fd, ip, port, family = spec.split(",")
        _workers.ADOPTED[(ip, int(port))] = (int(fd), int(family))

    from ftpredis.app import reactor as _reactor
    _reactor.install()
    from twisted.internet import reactor
    from twisted.logger import globalLogBeginner, textFileLogObserver

    from ftpredis.app.logs import filtered

    globalLogBeginner.beginLoggingTo([filtered(textFileLogObserver(sys.stderr))],
                                     redirectStandardIO=False)
    from ftpredis.config import ConfigErrors, load_config
    from ftpredis.app.service import FTPRedisService

    try:
        config = load_config(args.config, tuple(args.defines))
        svc = FTPRedisService(config, args.config, tuple(args.defines),
                              shutdown_timeout=args.shutdown_timeout)
    except ConfigErrors as e:
        for error in e.errors:
            sys.stderr.write("ftpredis worker: %s\n" % (error,))
        return 1
    for fd, _ in list(_workers.ADOPTED.values()):
        os.close(fd)                    # sockets this config no longer listens on
    _workers.ADOPTED.clear()
    svc.privilegedStartService()
    reactor.callWhenRunning(_start, svc)
    reactor.addSystemEventTrigger("before", "shutdown", svc.stopService)
    log.info("ftpredis worker {pid} serving", pid=os.getpid())
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
