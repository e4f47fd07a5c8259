# -*- test-case-name: tests.test_passwd -*-
"""``ftpredis-passwd``: add, update and delete users in an AuthUserFile.

This module owns the admin tool.  Its options follow ProFTPD's ``ftpasswd --passwd`` so
that existing scripts keep working; passwords are read without echo (or one line from
standard input with ``--stdin``) and stored as sha512-crypt.  The file is rewritten
atomically, mode 0600, every other line kept as it was.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import tempfile
from typing import List, Optional

from ftpredis.auth.portal import hash_password

_MAX_ID = 0xFFFFFFFE


class PasswdError(Exception):
    """A problem to report to the admin (exit status 1)."""


def _field(label: str, value: str) -> str:
    if ":" in value or "\n" in value or "\r" in value:
        raise PasswdError("%s must not contain ':' or a line break: %r" % (label, value))
    return value


def _id(label: str):
    def parse(text: str) -> int:
        if not text.isascii() or not text.isdigit() or int(text) > _MAX_ID:
            raise argparse.ArgumentTypeError(
                "%s must be a number from 0 to %d, not %r" % (label, _MAX_ID, text))
        return int(text)
    return parse


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # Every error exits 1 (argparse's own convention is 2).
        self.print_usage(sys.stderr)
        self.exit(1, "%s: error: %s\n" % (self.prog, message))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="ftpredis-passwd",
        description="Create, update or delete a user in an ftpredis/ProFTPD AuthUserFile "
                    "(ftpasswd format).  The password is read without echo, or from one "
                    "line of standard input with --stdin, and stored as sha512-crypt.")
    p.add_argument("--file", required=True, metavar="PATH", help="the AuthUserFile")
    p.add_argument("--passwd", action="store_true",
                   help="accepted for ftpasswd compatibility (user files are all this "
                        "tool edits)")
    p.add_argument("--name", required=True, help="the user name")
    p.add_argument("--uid", type=_id("--uid"), help="numeric user id (new users: required)")
    p.add_argument("--gid", type=_id("--gid"),
                   help="numeric group id (new users: defaults to the uid)")
    p.add_argument("--home", help="absolute home directory (new users: required)")
    p.add_argument("--shell", help="login shell (new users: default /bin/false)")
    p.add_argument("--gecos", help="free-text description (no ':')")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--delete", "--delete-user", dest="delete", action="store_true",
                        help="remove the user")
    action.add_argument("--change-password", action="store_true",
                        help="only set a new password for an existing user")
    p.add_argument("--stdin", action="store_true",
                   help="read the password from one line of standard input")
    return p


def _read_password(args, stdin, prompt) -> str:
    if args.stdin:
        line = stdin.readline()
        if line.endswith("\n"):
            line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
        password = line
    else:
        password = prompt("Password: ")
        if prompt("Re-type password: ") != password:
            raise PasswdError("passwords do not match")
    if not password:
        raise PasswdError("empty password refused")
    return password


def _read_lines(path: str) -> List[str]:
    try:
        with open(path, "r", encoding="utf-8", newline="") as f:
            return f.read().splitlines(keepends=True)
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as e:
        raise PasswdError("unable to read '%s': %s"
                          % (path, getattr(e, "strerror", None) or e))


def _find(lines: List[str], name: str) -> Optional[int]:
    for i, line in enumerate(lines):
        body = line.rstrip("\r\n")
        if body.strip().startswith("#") or not body.strip():
            continue
        if body.split(":", 1)[0] == name:
            return i
    return None


def _write_atomically(path: str, lines: List[str]) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    try:
        old = os.stat(path)
    except FileNotFoundError:
        old = None
    except OSError as e:
        raise PasswdError("unable to use '%s': %s" % (path, e.strerror))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    except OSError as e:
        raise PasswdError("unable to write in '%s': %s" % (directory, e.strerror))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            # Keep an existing file's group bits (e.g. 0640 root:ftpredis, so a reload
            # as the unprivileged user can read it) but never let others read hashes.
            # A file others could read was never deliberately shared: back to 0600.
            deliberate = old is not None and not old.st_mode & 0o007
            mode = (old.st_mode & 0o660) | 0o600 if deliberate else 0o600
            os.fchmod(f.fileno(), mode)
            if old is not None and os.geteuid() == 0:
                # root editing a file owned by the server's user must not steal it.
                os.fchown(f.fileno(), old.st_uid, old.st_gid)
            f.writelines(lines)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise PasswdError("unable to write '%s': %s" % (path, e.strerror))
        raise


def run(args, stdin=None, stdout=None, prompt=None) -> None:
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    prompt = getpass.getpass if prompt is None else prompt
    name = args.name
    if not name or name != name.strip() or name.startswith("#"):
        raise PasswdError("invalid user name %r" % (name,))
    _field("--name", name)
    path = args.file
    if os.path.isdir(path):
        raise PasswdError("'%s' is a directory" % (path,))
    lines = _read_lines(path)
    index = _find(lines, name)

    if args.delete:
        if index is None:
            raise PasswdError("no user '%s' in '%s'" % (name, path))
        del lines[index]
        _write_atomically(path, lines)
        stdout.write("ftpredis-passwd: user '%s' deleted from '%s'\n" % (name, path))
        return

    if index is not None:
        old = lines[index].rstrip("\r\n").split(":")
        if len(old) != 7:
            raise PasswdError("entry for '%s' in '%s' is malformed (%d fields, expected 7); "
                              "fix it by hand or --delete it first"
                              % (name, path, len(old)))
        _, old_hash, uid, gid, gecos, home, shell = old
        ending = lines[index][len(lines[index].rstrip("\r\n")):] or "\n"
    else:
        if args.change_password:
            raise PasswdError("no user '%s' in '%s'" % (name, path))
        if args.uid is None:
            raise PasswdError("a new user needs --uid")
        if args.home is None:
            raise PasswdError("a new user needs --home")
        uid = gid = gecos = home = ""
        shell = "/bin/false"
        ending = "\n"

    if not args.change_password:
        if args.uid is not None:
            uid = str(args.uid)
        if args.gid is not None:
            gid = str(args.gid)
        elif index is None:
            gid = uid
        if args.home is not None:
            home = _field("--home", args.home)
            if not os.path.isabs(home):
                raise PasswdError("--home must be an absolute path, not %r" % (home,))
        if args.shell is not None:
            shell = _field("--shell", args.shell)
        if args.gecos is not None:
            gecos = _field("--gecos", args.gecos)

    hashed = hash_password(_read_password(args, stdin, prompt))
    entry = ":".join((name, hashed, uid, gid, gecos, home, shell)) + ending
    if index is None:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(entry)
        verb = "created"
    else:
        lines[index] = entry
        verb = "updated"
    _write_atomically(path, lines)
    stdout.write("ftpredis-passwd: user '%s' %s in '%s'\n" % (name, verb, path))


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:         # --help (0) or a usage error (1)
        return e.code if isinstance(e.code, int) else 1
    try:
        run(args)
    except PasswdError as e:
        sys.stderr.write("ftpredis-passwd: error: %s\n" % (e,))
        return 1
    except (KeyboardInterrupt, EOFError):
        sys.stderr.write("ftpredis-passwd: aborted, '%s' unchanged\n" % (args.file,))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
