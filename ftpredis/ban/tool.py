# -*- test-case-name: tests.test_ban -*-
"""``ftpredis-ban``: add, lift and list bans in the shared Redis ban cache.

This module owns the admin command line.  It acts on the cache that ``BanCache redis``
nodes share (:mod:`ftpredis.ban.bans`), over the same connection code as the nodes (the
Redis settings of the config file: AUTH, db index, TLS), so a ban added here is enforced
by every node at once (announced on ftpredis.ban.notify's channel; within a node's poll
interval, half a second, should the announcement be missed), and ``permit`` lifts a ban
on every node, the node-local copy of an automatic ban included::

    ftpredis-ban [-c FILE | --redis HOST:PORT [--password P] [--db N]] ban host 10.0.0.7 --expires 3600
    ftpredis-ban ... permit host 10.0.0.7
    ftpredis-ban ... info [--json]

Exit status: 0 done, 1 nothing to do (``permit`` of a name that is not banned), 2 usage,
configuration or Redis errors.
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import json
import socket
import sys
import time

from twisted.internet import defer, task

from ftpredis.ban.bans import (BAN_TYPE_HOST, TYPE_BY_WORD, TYPE_TEXT, TYPE_WORD, BanCache,
                          BanEntry, ctime)


class ToolError(Exception):
    pass


def _target_and_server(args):
    """The RedisTarget to use and (ip_addr, port) to record as the adding server."""
    from ftpredis.config.model import RedisTarget
    if args.redis:
        from ftpredis.config.directives import DirectiveError, parse_redis_address
        try:
            host, port, unix = parse_redis_address(args.redis, 6379)
        except DirectiveError as e:
            raise ToolError("--redis: %s" % (e.message,))
        target = RedisTarget(host=host, port=port, unix_path=unix, password=args.password,
                             username=args.username if args.password else None, db=args.db,
                             connect_timeout_ms=args.timeout, io_timeout_ms=args.timeout)
        return target, ("0.0.0.0", 21)
    from ftpredis.config import ConfigErrors, load_config
    try:
        config = load_config(args.config)
    except ConfigErrors as e:
        raise ToolError("\n".join(str(err) for err in e.errors))
    for server in config.servers:
        if server.ban.cache == "redis" and server.redis is not None:
            address = server.addresses[0] if server.addresses else "0.0.0.0"
            return server.redis, (address, server.port)
    raise ToolError("%s: no server has BanEngine on with BanCache redis and a RedisServer"
                    % (args.config,))


def _resolve_host(name: str):
    try:
        return [str(ipaddress.ip_address(name))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except OSError:
        raise ToolError("ban: unknown host '%s'" % (name,))
    return sorted({info[4][0] for info in infos})


def _describe(entry: BanEntry, now: float) -> list:
    lines = ["  %s" % entry.name, "    Reason: %s" % entry.reason]
    if entry.expires:
        lines.append("    Expires: %s (in %d seconds)"
                     % (ctime(entry.expires), max(0, int(entry.expires - now))))
    else:
        lines.append("    Expires: never")
    if entry.message:
        lines.append("    Message: %s" % entry.message)
    return lines


@defer.inlineCallbacks
def run(reactor, args, out):
    target, (ip_addr, port) = _target_and_server(args)
    cache = BanCache(target, reactor=reactor)
    cache.poll_interval = 0           # one-shot: no mirror, no subscription
    cache.startService()
    try:
        try:
            yield cache.whenConnected(cache.connect_timeout + cache.io_timeout + 1.0)
        except Exception:
            raise ToolError("cannot connect to Redis %s" % (cache.address,))
        now = time.time()
        if args.action == "info":
            entries = yield cache.read_all()
            live = [e for e in entries.values() if e.active(now)]
            if args.json:
                for e in sorted(live, key=lambda e: (e.ban_type, e.name)):
                    out.write(json.dumps(e.as_dict(), separators=(",", ":")) + "\n")
                return 0
            if not live:
                out.write("No bans\n")
                return 0
            for ban_type, title in ((3, "Banned Users:"), (4, "Banned User@Hosts:"),
                                    (2, "Banned Hosts:"), (1, "Banned Classes:")):
                group = sorted((e for e in live if e.ban_type == ban_type),
                               key=lambda e: e.name)
                if group:
                    out.write(title + "\n")
                    for e in group:
                        out.write("\n".join(_describe(e, now)) + "\n")
                    out.write("\n")
            return 0
        ban_type = TYPE_BY_WORD[args.type]
        names = _resolve_host(args.name) if ban_type == BAN_TYPE_HOST else [args.name]
        if args.action == "ban":
            if args.expires is not None and args.expires <= 0:
                raise ToolError("--expires must be a positive number of seconds")
            for name in names:
                entry = BanEntry(
                    ban_type, name, sid=1,
                    expires=int(now) + args.expires if args.expires else 0,
                    reason=args.reason or "requested by '%s' on %s" % (getpass.getuser(),
                                                                       ctime(now)),
                    message=args.message or "", ip_addr=ip_addr, port=port,
                    update_ts=int(now))
                yield cache.store(entry)
                out.write("%s %s banned\n" % (TYPE_WORD[ban_type], name))
            return 0
        # permit
        code = 1
        for name in names:
            removed = yield cache.remove(ban_type, name)
            if int(removed):
                out.write("%s '%s' permitted\n" % (TYPE_WORD[ban_type], name))
                code = 0
            else:
                out.write("%s '%s' not banned\n" % (TYPE_WORD[ban_type], name))
        return code
    finally:
        yield cache.stopService()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ftpredis-ban",
        description="Add, lift and list bans in the Redis ban cache that ftpredis nodes "
                    "(BanEngine on, BanCache redis) share.")
    where = p.add_mutually_exclusive_group()
    where.add_argument("-c", "--config", default="/etc/ftpredis/ftpd.conf",
                       help="read the Redis settings from this ftpredis config "
                            "(default %(default)s)")
    where.add_argument("--redis", metavar="HOST:PORT",
                       help="use this Redis instead (host[:port], [v6]:port or /socket)")
    p.add_argument("--password", help="with --redis: AUTH password")
    p.add_argument("--username", help="with --redis: ACL user name")
    p.add_argument("--db", type=int, help="with --redis: database index")
    p.add_argument("--timeout", type=int, default=2000, help="with --redis: connect and "
                   "io timeout in milliseconds (default %(default)s)")
    sub = p.add_subparsers(dest="action", required=True)
    types = sorted(TYPE_BY_WORD)
    ban = sub.add_parser("ban", help="ban a host, user, user@host or class on every node")
    ban.add_argument("type", choices=types)
    ban.add_argument("name")
    ban.add_argument("--expires", type=int, metavar="SECONDS",
                     help="lift the ban after this many seconds (default: never)")
    ban.add_argument("--reason", help="text stored as ban_reason")
    ban.add_argument("--message", help="530 reply for this ban (instead of BanMessage)")
    permit = sub.add_parser("permit", help="lift a ban on every node")
    permit.add_argument("type", choices=types)
    permit.add_argument("name")
    info = sub.add_parser("info", help="list the bans in the cache")
    info.add_argument("--json", action="store_true", help="one JSON entry per line")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    result = {}

    def go(reactor):
        d = run(reactor, args, sys.stdout)

        def done(code):
            result["code"] = code

        def failed(f):
            if f.check(ToolError):
                sys.stderr.write("ftpredis-ban: %s\n" % (f.value,))
            else:
                sys.stderr.write("ftpredis-ban: %s\n" % (f.getErrorMessage(),))
            result["code"] = 2
        return d.addCallbacks(done, failed)

    try:
        task.react(go)
    except SystemExit as e:
        if e.code not in (0, None):
            return result.get("code", 2)
    return result.get("code", 2)


if __name__ == "__main__":
    sys.exit(main())
