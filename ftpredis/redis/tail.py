# -*- test-case-name: tests.test_tail -*-
"""``ftpredis-tail``: follow a Redis list that ftpredis (or ProFTPD's mod_redis) appends to.

Owns the admin's view of the records: print each record as it arrives, either peeking
(the list is left alone; new elements are found by index) or popping (``BLPOP``: each
record is consumed, as a log shipper would), optionally pretty-printed.  It uses the
same txredisapi client as the server, so the same connection settings work.
"""

import argparse
import json
import sys

from twisted.internet import defer, task


def _parser():
    p = argparse.ArgumentParser(
        prog="ftpredis-tail",
        description="Print the records of a Redis list as they are appended.")
    p.add_argument("key", help="the Redis list, e.g. file-transfers")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=6379)
    p.add_argument("--socket", help="a Redis unix socket path instead of host/port")
    p.add_argument("--user", help="Redis 6 ACL user name")
    p.add_argument("--password", help="Redis password (or set REDISCLI_AUTH)")
    p.add_argument("--db", type=int, help="database index")
    p.add_argument("--pop", action="store_true",
                   help="consume records with BLPOP instead of peeking")
    p.add_argument("--from-start", action="store_true",
                   help="peek mode: print what the list holds already, then follow")
    p.add_argument("--pretty", action="store_true", help="indent each JSON record")
    p.add_argument("--count", type=int, default=0,
                   help="exit after this many records (0: follow forever)")
    p.add_argument("--interval", type=float, default=0.5,
                   help="peek mode: seconds between polls (default 0.5)")
    return p


def render(raw, pretty):
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if not pretty:
        return text
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


@defer.inlineCallbacks
def _follow(reactor, args, out):
    import os

    import txredisapi

    password = args.password or os.environ.get("REDISCLI_AUTH")
    common = dict(dbid=args.db, password=password, username=args.user, reconnect=False,
                  charset=None, connectTimeout=5)
    if args.socket:
        redis = yield txredisapi.UnixConnection(path=args.socket, **common)
    else:
        redis = yield txredisapi.Connection(host=args.host, port=args.port, **common)
    printed = 0
    try:
        if args.pop:
            while not args.count or printed < args.count:
                item = yield redis.blpop([args.key], timeout=1)
                if item:
                    out.write(render(item[1], args.pretty) + "\n")
                    out.flush()
                    printed += 1
        else:
            index = 0 if args.from_start else (yield redis.llen(args.key))
            while not args.count or printed < args.count:
                items = yield redis.lrange(args.key, index, -1)
                for item in items:
                    out.write(render(item, args.pretty) + "\n")
                    printed += 1
                    if args.count and printed >= args.count:
                        break
                out.flush()
                index += len(items)
                if not items:
                    yield task.deferLater(reactor, args.interval, lambda: None)
    finally:
        yield redis.disconnect()


def main(argv=None, out=None):
    args = _parser().parse_args(argv)
    out = out or sys.stdout

    def run(reactor):
        d = _follow(reactor, args, out)

        def failed(f):
            sys.stderr.write("ftpredis-tail: %s\n" % (f.getErrorMessage(),))
            return 1

        return d.addCallbacks(lambda _: 0, failed)

    try:
        task.react(lambda reactor: run(reactor).addCallback(_exit_code))
    except SystemExit as e:
        return e.code
    return 0


def _exit_code(code):
    if code:
        raise SystemExit(code)


if __name__ == "__main__":
    sys.exit(main())
