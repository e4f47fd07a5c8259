# -*- test-case-name: tests.test_protocol -*-
"""Directory listings and facts: LIST, NLST, MLSD, MLST (RFC 3659 facts as ProFTPD 1.3.8's
mod_facts writes them, ``perm`` judged for the session's user as its own process would)."""

from __future__ import annotations

import errno
import os
import posixpath
import stat as statmod
import struct
import time
from typing import Optional

from twisted.internet import defer
from twisted.python import failure

from ftpredis.auth.portal import session_gids
from ftpredis.records.events import path_tail
from ftpredis.ftp import lsoptions
from ftpredis.ftp.filesystem import FSError, safe_link
from ftpredis.ftp.common import blank
from ftpredis.ftp.replies import REPLIES, R, Reply


def have_access(st: os.stat_result, mode: int, uid: int, gids) -> bool:
    """ProFTPD 1.3.8's pr_fs_have_access(), which mod_facts asks for ``perm``: root may
    read and write anything; the owner's bits count for the owner and the group's for a
    member of the file's group, each on top of the others' bits (so a 0007 file is
    writable by its owner, unlike access(2))."""
    if uid == 0 and mode != os.X_OK:
        return True
    mask = 0o007
    if st.st_uid == uid:
        mask |= 0o700
    if st.st_gid in gids:
        mask |= 0o070
    mask &= st.st_mode
    return not ((mode & os.R_OK and not mask & 0o444)
                or (mode & os.W_OK and not mask & 0o222)
                or (mode & os.X_OK and not mask & 0o111))


def ls_lines(jail, real: str, path: Optional[str], run, now=None):
    """LIST's (and STAT's) lines for the real path ``real`` (``path``: as the client named
    it, None for the current directory) with the options and limits of ``run`` (a
    :class:`ftpredis.ftp.lsoptions.Listing`), as mod_ls's dolist(), listdir() and
    listfile() write them: -1 names only, -F ``/`` after a directory, ``*`` after an
    executable, ``@`` after a link, -d a directory's own line, -R each subdirectory under
    a "\\nname:" head after its parent's lines (never through a symbolic link, and with -1
    not at all: listfile() only answers "recurse" for a line it wrote as a directory, in
    -l or -F)."""
    now = time.time() if now is None else now
    if run.has("d"):
        st = os.lstat(real)
        name = path.rstrip("/") if path else "."
        if name.rpartition("/")[2].startswith(".") and not run.has("a"):
            return []
        run.take_file()
        line, _ = _ls_line(jail, name, st, real, run, now)
        return [line] if line is not None else []
    out: list = []
    run.depth += 1      # dolist() counts the directory it lists as the first level
    _ls_dir(jail, real, path, run, now, out)
    return out


def link_line(jail, path: str, run, entry: Optional[str] = None,
              st=None) -> Optional[list]:
    """``[line]`` (or ``[]``) for a LIST or STAT naming a symbolic link to anything but
    a directory, as listfile() writes it: the link with ``-> target``, or with -L what
    it leads to, under the name as given; None for any other path (a link to a
    directory is listed as that directory).  ``entry``, ``st``: the path's real path
    (not followed) and lstat, when the caller has them already."""
    try:
        if entry is None:
            _, entry = jail.resolve(path, path, follow=False)
            st = os.lstat(entry)
        if not statmod.S_ISLNK(st.st_mode):
            return None
        if statmod.S_ISDIR(jail.stat_inside(entry).st_mode):
            return None
    except (FSError, OSError):
        return None
    run.take_file()
    line, _ = _ls_line(jail, path, st, entry, run, time.time())
    return [line] if line is not None else []


def _ls_dir(jail, real: str, path: Optional[str], run, now, out: list, chain=()) -> int:
    """mod_ls's listdir(): appends to ``out``; 1 when maxdepth or maxdirs stopped it
    (its caller then lists no further sibling).  An unreadable directory raises OSError
    and counts for nothing."""
    if run.depth_reached() or run.dirs_reached():
        return 1
    entries = jail.list_entries(real, run.has("a") or run.has("A"), keep_hidden=run.limited,
                                unsorted=run.unsorted)
    if run.has("a"):
        if run.unsorted:
            # readdir(3) of ext4 and tmpfs gives "." and ".." first
            entries = [e for e in jail.with_dots(real, []) if e[0] in (".", "..")] + entries
        else:
            entries = jail.with_dots(real, entries)
    run.dirs += 1
    subdirs = []
    listed = []
    for name, st in entries:
        if not run.take_file():
            break
        if st is None:
            continue
        line, into = _ls_line(jail, name, st, os.path.join(real, name), run, now)
        if line is not None:
            listed.append((line, st))
        if into is not None and name not in (".", ".."):
            subdirs.append((name, into))
    lines = _sorted_lines(listed, run)
    out += columns(lines) if run.has("C") and not run.unsorted else lines
    if not run.has("R"):
        return 0
    for name, into in subdirs:
        if run.dirs_reached() or run.files_reached():
            break
        sub = name if not path or path == "." else posixpath.join(path, name)
        if into != os.path.join(real, name) and not run.max_depth and \
                _above(into, chain + (real,)):
            # -RL, a link back to a directory being listed, no maxdepth: mod_ls would go
            # round until its path buffer is full; listed once, not entered
            continue
        lines: list = []
        run.depth += 1
        try:
            stopped = _ls_dir(jail, into, sub, run, now, lines, chain + (real,))
        except OSError:
            continue        # mod_ls skips a subdirectory it cannot enter, head and all
        finally:
            run.depth -= 1
        out += ["", sub + ":"] + lines
        if stopped:
            break
    return 0


def _above(into: str, chain) -> bool:
    """Whether the directory ``into`` is one of ``chain``, the directory being listed and
    those whose listing led to it."""
    try:
        st = os.stat(into)
    except OSError:
        return False
    key = (st.st_dev, st.st_ino)
    for d in chain:
        try:
            dst = os.stat(d)
        except OSError:
            continue
        if (dst.st_dev, dst.st_ino) == key:
            return True
    return False


def columns(names: list) -> list:
    """outputfiles()'s -C: the names down columns as wide as the longest name (rounded
    up past a multiple of 8, at most 75), as many as fit in 75, tabs between."""
    if not names:
        return []
    width = min((max(len(n) for n in names) | 7) + 1, 75)
    rows = -(-len(names) // (75 // width))
    out = []
    for i in range(rows):
        row = names[i::rows]
        out.append("".join(n + "\t" * min((width + 7 - len(n)) // 8, 5) for n in row[:-1])
                   + row[-1])
    return out


def human_size(size: int) -> str:
    """ls_fmt_filesize() with -h: under 1000 as is, else "%7.1f" in k, M, G... of 1024,
    computed in a C float as mod_ls does."""
    if size < 1000:
        return "%8d" % size
    value, unit = _float32(size), 0
    while value >= 1024.0:
        value = _float32(value / 1024.0)
        unit += 1
    return "%7.1f%s" % (value, ("", "k", "M", "G", "T", "P")[unit])


def _float32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def long_line(jail, name: str, st, run, now, target=None) -> str:
    """listfile()'s -l line with -n, -h and the time -c/-u chose."""
    return jail.format_long(name, st, now, target, numeric=run.has("n"),
                            size=human_size(st.st_size) if run.has("h") else None,
                            when=getattr(st, run.time_field))


def _sorted_lines(listed: list, run) -> list:
    """outputfiles()'s sortfiles(): -t newest first (it wins over -S), -S largest first,
    -r reversing the comparison only, so entries that tie keep their name order (glibc's
    qsort(3) is a merge sort); without -t or -S, -r changes nothing.  -t compares the
    time -c/-u chose; -U sorts nothing."""
    if run.unsorted:
        return [line for line, _ in listed]
    if run.has("t"):
        field = run.time_field
        key = lambda item: int(getattr(item[1], field))    # noqa: E731  (time_t: seconds)
    elif run.has("S"):
        key = lambda item: item[1].st_size          # noqa: E731
    else:
        return [line for line, _ in listed]
    # sorted() is stable with reverse=True as well: ties stay in name order either way
    return [line for line, _ in sorted(listed, key=key, reverse=not run.has("r"))]


def _ls_line(jail, name: str, st, full: str, run, now):
    """listfile(): ``(line or None, the real directory -R goes into or None)``."""
    long = run.has("l")
    suffix, target, followed = "", None, None
    linked = statmod.S_ISLNK(st.st_mode)
    if linked:
        try:
            target = os.readlink(full)
        except OSError:
            return None, None
        if not safe_link(target, jail.virtual_dir(os.path.dirname(full))):
            return None, None       # a link to "." or "..": listfile() drops it (Bug#3719)
        if run.has("L"):
            try:
                # -L: the entry is what the link names
                st, followed = jail.follow_inside(full)
            except OSError:
                return None, None
    mode = st.st_mode
    if statmod.S_ISLNK(mode) and long:
        try:
            mode = jail.stat_inside(full).st_mode
        except OSError:
            mode = 0
    if run.has("F"):
        suffix = ("@" if statmod.S_ISLNK(mode) else "/" if statmod.S_ISDIR(mode)
                  else "*" if mode & 0o111 else "")
    recurse = None
    if statmod.S_ISDIR(st.st_mode) and (long or run.has("F")):
        # -RL goes through a link to a directory (in the jail: stat_inside said so)
        recurse = followed if linked else full
    if long:
        return long_line(jail, name, st, run, now, None if run.has("L") else target) \
            + suffix, recurse
    if statmod.S_ISREG(st.st_mode) or statmod.S_ISDIR(st.st_mode) \
            or statmod.S_ISLNK(st.st_mode):
        return name + suffix, recurse
    return None, recurse


class ListingsMixin:
    """LIST, NLST, MLSD, MLST."""

    # -- RFC 3659 -------------------------------------------------------------------------
    def _factsWho(self):
        """``(uid, gids, user, group)`` that mod_facts judges ``perm`` by and writes as
        UNIX.ownername / UNIX.groupname (1.3.8 writes the session's names there, whoever
        owns the entry; blanks as "_"): ProFTPD's session.uid, session.gids,
        session.user, session.group.  Blocking the first time (the system's groups of a
        system account)."""
        a = self.avatar
        cached = self.__dict__.get("_facts_who")
        if cached is not None and cached[0] is a:
            return cached[1]
        group = a.group if a.group is not None else str(a.gid)
        who = (a.uid, session_gids(self.server, a), a.name.replace(" ", "_"),
               group.replace(" ", "_"))
        self._facts_who = (a, who)
        return who

    def _facts(self, st, target, kind: str) -> str:
        """One fact string as mod_facts' facts_mlinfo_fmt() writes it.  ``st``: the
        entry's lstat (mode, size, times and owner are a symbolic link's own);
        ``target``: the stat of what it names (``unique`` and ``perm`` follow a link);
        ``kind``: the type fact."""
        uid, gids, user, group = self._factsWho()
        is_dir = statmod.S_ISDIR(st.st_mode)
        out = []
        for fact in self.client_state.mlst_facts:
            if fact == "modify":
                v = time.strftime("%Y%m%d%H%M%S", time.gmtime(st.st_mtime))
            elif fact == "perm":
                if is_dir:
                    v = ("fl" if have_access(target, os.R_OK, uid, gids) else "") \
                        + ("cdmp" if have_access(target, os.W_OK, uid, gids) else "") \
                        + ("e" if have_access(target, os.X_OK, uid, gids) else "")
                else:
                    # 1.3.8 writes "dfr" without read access ("a" needs it), never
                    # asking about the directory above.
                    v = ("adfr" if have_access(target, os.R_OK, uid, gids) else "dfr") \
                        + ("w" if have_access(target, os.W_OK, uid, gids) else "")
            elif fact == "size":
                if is_dir:
                    continue
                v = str(st.st_size)
            elif fact == "type":
                v = kind
            elif fact == "unique":
                v = "%XU%X" % (target.st_dev, target.st_ino)
            elif fact == "UNIX.group":
                v = str(st.st_gid)
            elif fact == "UNIX.groupname":
                v = group
            elif fact == "UNIX.mode":
                v = "0%o" % statmod.S_IMODE(st.st_mode)     # mod_facts: "0%o" (00, 060, 01777)
            elif fact == "UNIX.owner":
                v = str(st.st_uid)
            else:
                v = user
            out.append("%s=%s;" % (fact, v))
        return "".join(out)

    def cmd_MLST(self, cmd):
        fs, arg = self.fs, cmd.arg
        jail = fs.jail
        vpath = fs.virtual(arg)
        # %f: the path as written after the current directory, as for LIST (measured:
        # "MLST ." logs "<root>/.", a bare MLST in /sub "<root>/sub/").
        self._pathFields(cmd, vpath, written=arg if arg is not None else "")
        if arg is not None and blank(arg):
            # ProFTPD lists the current directory; its %f keeps the blanks (measured)
            arg = None
            vpath = fs.virtual(None)

        def gather():
            try:
                _, real = jail.resolve(arg, arg or vpath)
                st = os.lstat(real)
                target = os.stat(real) if statmod.S_ISLNK(st.st_mode) else st
            except (FSError, OSError):
                raise R("mlst_cannot", arg if arg is not None else vpath)
            # Without ShowSymlinks on, mod_facts' MLST names a link by what it points to.
            kind = "dir" if statmod.S_ISDIR(target.st_mode) else "file"
            return self._facts(st, target, kind) + " " + vpath

        def done(line):
            r = R("mlst_end")
            start = REPLIES["mlst_start"][1] % (arg if arg is not None else vpath)
            return Reply(r.code, r.text, [start, line])
        return self.fs.run(gather).addCallback(done)

    def _listedPath(self, arg: Optional[str]) -> str:
        """%f and %D of LIST, NLST and MLSD: ProFTPD writes the argument as the client
        sent it (options, ``..`` and a trailing slash included) after the current
        directory, under the chroot; no argument is the directory with a slash
        (tests/test_conformance_behaviour.py).  Which <Directory> applies is still
        decided on the resolved path (``config_path``)."""
        fs = self.fs
        if arg and arg.startswith("/"):
            return fs.chroot_join("/").rstrip("/") + arg
        return fs.chroot_join(fs.cwd).rstrip("/") + "/" + (arg or "")

    def cmd_MLSD(self, cmd):
        self._xferStart(cmd)
        fs, arg = self.fs, cmd.arg
        jail = fs.jail
        f = cmd.fields
        f["dir_name"] = f["basename"] = path_tail(arg or "")
        f["file"] = f["dir_path"] = self._listedPath(arg)
        if blank(arg):
            # ProFTPD lists the current directory; its %f keeps the blanks (measured)
            arg = None
        vpath = fs.virtual(arg)
        f["config_path"] = fs.real_of(vpath)

        def gather():
            try:
                _, r = jail.resolve(arg, arg or vpath)
            except FSError as e:
                if e.errno != errno.EACCES:
                    raise
                # A link out of the root: ProFTPD, chrooted, finds nothing there.
                raise FSError(errno.ENOENT, arg or vpath) from None
            st = jail.call(arg or vpath, os.stat, r)
            if not statmod.S_ISDIR(st.st_mode):
                raise R("mlsd_not_dir", arg or vpath)
            lines = []
            try:
                for name, est in jail.list_entries(r, show_hidden=True):
                    if est is None:
                        continue
                    target = est
                    if statmod.S_ISLNK(est.st_mode):
                        try:
                            # resolved as in ProFTPD's chroot
                            target = jail.stat_inside(os.path.join(r, name))
                        except OSError:
                            continue        # dangling, or naming nothing in the jail
                        # ShowSymlinks off: the type of what it leads to (the other
                        # facts stay the link's own; measured)
                        kind = ("OS.unix=symlink" if jail.show_symlinks else
                                "dir" if statmod.S_ISDIR(target.st_mode) else "file")
                    else:
                        kind = "dir" if statmod.S_ISDIR(est.st_mode) else "file"
                    lines.append(self._facts(est, target, kind) + " " + name)
                lines.append(self._facts(st, st, "cdir") + " .")
                # mod_facts lists the directory a link leads to: ".." is that one's parent
                here = os.path.realpath(r)
                parent = here if here == jail.root else os.path.dirname(here)
                pst = os.lstat(parent)
                lines.append(self._facts(pst, pst, "pdir") + " ..")
            except OSError as e:
                raise FSError(e.errno, arg or vpath) from None
            return "".join(line + "\r\n" for line in lines).encode("utf-8", "surrogateescape")

        @defer.inlineCallbacks
        def send(conn, data):
            conn.write(data)
            conn.transport.loseConnection()
            yield conn.waitClosed()
            f["bytes_sent"] = len(data)
            return R("xfer_ok")

        def failed(fail):
            if fail.check(FSError):
                fail = failure.Failure(Reply(550, fail.value.text))
            self._xferFailed(cmd, fail.value)
            return fail
        d = self.fs.run(gather)
        d.addErrback(failed)
        # The TYPE in force, as for LIST: mod_facts sets its ASCII override only once
        # the 150 is out (measured: "BINARY mode" after TYPE I).
        opening = REPLIES["opening"][1] % (self._typeName(), "MLSD")
        d.addCallback(lambda data: self._withData(cmd, opening, lambda c: send(c, data)))
        return d

    def cmd_LIST(self, cmd):
        return self._list(cmd, long=True)

    def cmd_NLST(self, cmd):
        return self._list(cmd, long=False)

    def _listing(self, verb: str, arg: Optional[str]):
        """The :class:`~ftpredis.ftp.lsoptions.Listing` of this LIST/NLST/STAT: the
        client's options and the ListOptions in force where the session stands."""
        fs = self.fs
        values = lsoptions.configured(self.server, self.client_state.anon_config,
                                      fs.real_of(fs.cwd))
        sticky = self.__dict__.get("_ls_sticky")
        if sticky is None:
            sticky = self._ls_sticky = lsoptions.Sticky()
        run = lsoptions.for_command(verb, arg, values, sticky)
        if not fs.jail.show_symlinks:
            # mod_ls: "opt_L || !list_show_symlinks" wherever -L is looked at
            run.flags = run.flags | {"L"}
        return run

    def _list(self, cmd, long: bool):
        self._xferStart(cmd)
        run = self._listing("LIST" if long else "NLST", cmd.arg)
        path = run.path
        if not long and blank(path):
            # ProFTPD lists the current directory (measured; %f keeps the blanks)
            path = None
        fs = self.fs
        jail = fs.jail
        vpath = fs.virtual(path)
        f = cmd.fields
        f["dir_name"] = f["basename"] = path_tail(cmd.arg or "")
        f["file"] = f["dir_path"] = self._listedPath(cmd.arg)
        f["config_path"] = fs.real_of(vpath)
        display = path if path is not None else ""
        prefix = ""
        if not long and path and not run.has("1"):
            # nlstdir(): with -1 the names alone, else the directory before them
            prefix = path.rstrip("/") + "/"

        def nlst_name(shown):
            # nlstfile(): with -1 a path's last component alone
            return shown.rpartition("/")[2] if run.has("1") and len(shown) > 1 else shown

        def gather():
            if jail.has_glob(path) and not os.path.lexists(jail.real_of(vpath)):
                try:
                    # glob(3) knows no HideFiles: a pattern matching only hidden
                    # entries is no GLOB_NOMATCH, just an empty listing (measured)
                    matches = jail.glob(path, keep_hidden=True)
                except FSError as e:
                    if long:
                        if e.errno != errno.ENOENT:
                            raise
                        # genericlist(): on GLOB_NOMATCH the pattern is listed as a
                        # literal path, whose failing lstat() adds nothing and no 450:
                        # "226 Transfer complete", %b 0 (measured)
                        return []
                    if jail.has_glob(path.rpartition("/")[0]):
                        raise
                    if run.no_error_if_absent:
                        return None
                    # mod_ls: a pattern matching nothing is GLOB_NOMATCH (measured)
                    raise Reply(450, "No files found") from None
                try:
                    if long:
                        # listfile() counts an entry, then drops it if hidden
                        now = time.time()
                        return [long_line(jail, shown, os.lstat(r), run, now)
                                for shown, r in matches if run.take_file() and r is not None]
                except OSError as e:
                    raise FSError(e.errno, display) from None
                return [nlst_name(shown) for shown, r in matches if r is not None]
            try:
                if long:
                    line = link_line(jail, path, run)
                    if line is not None:
                        return line
                _, r = jail.resolve(path, display or vpath)
                try:
                    if not long and not statmod.S_ISDIR(os.stat(r).st_mode):
                        return [nlst_name(path)]
                    if long and not run.plain:
                        return ls_lines(jail, r, path, run)
                    lines = jail.listing(r, long=long, show_hidden=run.has("a") or run.has("A"),
                                         prefix=prefix, dots=run.has("a"))
                    return lines if long else run.nlst_cut(lines)
                except OSError as e:
                    raise FSError(e.errno, display or vpath) from None
            except FSError as e:
                if e.errno == errno.ENOENT and run.no_error_if_absent:
                    return None     # ListOptions NoErrorIfAbsent: 226, nothing listed
                raise

        def to_bytes(lines):
            return "".join(line + "\r\n" for line in lines).encode("utf-8", "surrogateescape")

        @defer.inlineCallbacks
        def send(conn, lines):
            data = to_bytes(lines or ())
            conn.write(data)
            conn.transport.loseConnection()
            yield conn.waitClosed()
            f["bytes_sent"] = len(data)
            if lines is None and not long:
                # ls_nlst() adds its own "226 Transfer complete" before the one
                # closing the data connection adds (measured).
                r = R("xfer_ok")
                return Reply(r.code, r.text, [r.text])
            return R("xfer_ok")

        opening = REPLIES["opening"][1] % (self._typeName(), "file list")

        def failed_listing(fail):
            fail.trap(FSError, Reply)
            r = fail.value if fail.check(Reply) else Reply(450, fail.value.text)
            self._xferFailed(cmd, r)
            raise r

        if long:
            @defer.inlineCallbacks
            def body(conn):
                try:
                    lines = yield self.fs.run(gather)
                except FSError as e:
                    # Closed, not reset, as ProFTPD does: a client reading the listing
                    # to its end then reads the 450 (ftplib lost it on a reset).
                    conn.transport.loseConnection()
                    yield conn.waitClosed()
                    return Reply(450, e.text)
                return (yield send(conn, lines))
            return self._withData(cmd, opening, body)

        d = self.fs.run(gather)
        d.addErrback(failed_listing)
        d.addCallback(lambda lines: self._withData(
            cmd, opening, lambda conn: send(conn, lines)))
        return d
