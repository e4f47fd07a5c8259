# -*- test-case-name: tests.test_ftpcommands -*-
"""The commands that act on one path of the jailed file system: PWD CWD CDUP MKD RMD DELE
RNFR RNTO SIZE MDTM MFMT MFF SITE (HELP, CHMOD, CHGRP), and the <Directory> settings
(AllowOverwrite, Umask) that apply to a path."""

from __future__ import annotations

import calendar
import errno
import grp
import os
import re
import stat as statmod
import time
from typing import Optional

from ftpredis.auth.portal import session_gids
from ftpredis.config import dirmatch
from ftpredis.ftp.modes import site_chmod_mode
from ftpredis.records.events import path_tail, site_path, site_words
from ftpredis.ftp.filesystem import FSError
from ftpredis.ftp.replies import REPLIES, R, Reply
from ftpredis.ftp.common import SITE_COMMANDS, SITE_HELP_SYNTAX, blank, digits


def _atoi(text: str) -> int:
    m = re.match(r"[ \t\n\v\f\r]*[+-]?[0-9]+", text)
    return int(m.group(0)) if m else 0


def _facts_mtime(ts: str) -> Optional[int]:
    """An MFF ``modify`` timestamp as mod_facts reads it (atoi per field, its ranges,
    the seconds field running to the end); None where it answers EINVAL."""
    y, mo, d, h, mi, s = (_atoi(ts[0:4]), _atoi(ts[4:6]), _atoi(ts[6:8]), _atoi(ts[8:10]),
                          _atoi(ts[10:12]), _atoi(ts[12:]))
    if y < 1970 or not (1 <= mo <= 12 and 1 <= d <= 31 and 0 <= h <= 24 and 0 <= mi <= 60
                        and 0 <= s <= 61):
        return None
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))


def _quote(path: str) -> str:
    return path.replace('"', '""')


class FilesMixin:
    """Commands on one path of the session's file system."""

    def cmd_MFMT(self, cmd):
        arg = self._need(cmd)
        stamp, sep, path = arg.partition(" ")
        if not sep or not path:
            raise R("invalid_params")
        vpath = self.fs.virtual(path)
        self._pathFields(cmd, vpath, written=path)
        cmd.fields["basename"] = path_tail(path)    # of the path, not of "<time> <path>"
        try:
            if not (len(stamp) == 14 and digits(stamp)) and not (
                    len(stamp) > 15 and stamp[14] == "." and digits(stamp[:14])):
                raise ValueError
            import calendar
            when = calendar.timegm(time.strptime(stamp[:14], "%Y%m%d%H%M%S"))
        except ValueError:
            raise R("mfmt_bad", stamp)
        return self.fs.utime(path, when).addCallback(
            lambda _: R("mfmt_ok", stamp[:14], path))

    # -- directories ----------------------------------------------------------------------
    def cmd_PWD(self, cmd):
        cwd = self.fs.cwd
        f = cmd.fields
        f["file"] = self.fs.chroot_join(self.fs.jail.physical_cwd or cwd)
        f["basename"] = path_tail(cwd)
        return R("pwd", cwd.replace('"', '""'))     # _quote

    def cmd_CWD(self, cmd):
        arg = self._need(cmd)
        return self._chdir(cmd, arg)

    def cmd_CDUP(self, cmd):
        return self._chdir(cmd, "..")

    def _chdirFields(self, cmd, new: str) -> None:
        """%f, %D and %{basename} of a CWD or CDUP that leaves the session in ``new``."""
        f = cmd.fields
        shown = self.fs.chroot_join(new)
        top = new == "/" and shown != "/" and cmd.verb not in ("CDUP", "XCUP")
        if top:
            # ProFTPD 1.3.8's CWD to the top of a chroot (CWD /, CWD .., CWD ~/) logs the
            # chroot without its slash, and the chroot's name as %{basename}; its CDUP
            # keeps the slash (measured).
            shown = shown.rstrip("/")
        f["dir_path"] = f["file"] = shown
        f["basename"] = path_tail(shown if top else new)

    def _chdir(self, cmd, path):
        f = cmd.fields
        f["dir_name"] = path_tail(cmd.arg or "")
        target = self.fs.virtual(path)
        f["config_path"] = self.fs.real_of(target)

        def changed(new):
            self._chdirFields(cmd, new)
            return R("cmd_ok", cmd.verb)

        def failed(reason):
            # A CWD that fails logs the directory the session stays in: %f, %D and
            # %{basename} of the current directory (ProFTPD 1.3.8, measured: missing,
            # not a directory, "~" in a chroot).
            self._chdirFields(cmd, self.fs.cwd)
            return reason

        jail = self.fs.jail
        if path == "~" and jail.home is not None and jail.root != "/":
            # ProFTPD 1.3.8 takes "~" for the home's real path, which its chroot does not
            # have: 550 (measured).
            self._chdirFields(cmd, self.fs.cwd)
            raise FSError(errno.ENOENT, path)
        return self.fs.chdir(path, cmd.arg or path).addCallbacks(changed, failed)

    def cmd_MKD(self, cmd):
        arg = self._need(cmd)
        vpath = self.fs.virtual(arg)
        self._pathFields(cmd, vpath, dir_cmd=True, xfer=True, written=arg)
        if "*" in arg:
            # ProFTPD 1.3.8 makes no directory with a "*" anywhere in the argument
            # (measured; "?" and "[" it takes).
            raise R("mkd_invalid", arg)
        return self._thenResolved(cmd, vpath, self.fs.jail.mkdir, arg, self._umask) \
            .addCallback(lambda _: R("mkd_ok", _quote(vpath)))

    def cmd_RMD(self, cmd):
        arg = self._need(cmd)
        vpath = self.fs.virtual(arg)
        self._pathFields(cmd, vpath, dir_cmd=True, xfer=True, written=arg)
        return self._thenResolved(cmd, vpath, self.fs.jail.rmdir, arg).addCallback(
            lambda _: R("cmd_ok", cmd.verb))

    def _thenResolved(self, cmd, vpath, op, *args):
        """``op(*args)`` in the disk pool, then the record's %F as ProFTPD logs it after
        MKD, RMD, DELE and RNTO: the path with its links resolved (measured); fires
        with ``op``'s result."""
        jail = self.fs.jail

        def run():
            result = op(*args)
            return result, jail.resolved_virtual(vpath)

        def done(pair):
            cmd.fields["transfer_path"] = pair[1]
            return pair[0]
        return self.fs.run(run).addCallback(done)

    def cmd_DELE(self, cmd):
        arg = self._need(cmd)
        vpath = self.fs.virtual(arg)
        self._pathFields(cmd, vpath, xfer=True, written=arg)
        cmd.fields["bytes_sent"] = 0

        def removed(size):
            cmd.fields["bytes_sent"] = size
            return R("cmd_ok", cmd.verb)

        def refused(f):
            # a directory: 550 "Is a directory", %b its size (ProFTPD stats the path
            # before DELE runs)
            size = getattr(f.value, "size", None)
            if size is not None:
                cmd.fields["bytes_sent"] = size
            return f
        return self._thenResolved(cmd, vpath, self.fs.jail.unlink, arg).addCallbacks(
            removed, refused)

    def cmd_RNFR(self, cmd):
        arg = self._need(cmd)
        self.client_state.rnfr = None
        jail = self.fs.jail

        def look():
            vpath, real = jail.resolve(arg, follow=False)
            try:
                jail.call(arg, os.lstat, real)
            except FSError as e:
                return vpath, real, e
            return vpath, real, None

        def looked(result):
            vpath, real, error = result
            if error is not None:
                # ProFTPD 1.3.8 logs a refused RNFR without %f, %{basename} (measured:
                # missing file, missing directory); its path is only noted on success.
                raise error
            self._pathFields(cmd, vpath)
            self.client_state.rnfr = (vpath, real)
            cmd.fields.update(transfer_path=vpath, bytes_sent=0)
            return R("rnfr_ok")
        return self.fs.run(look).addCallback(looked)

    def cmd_RNTO(self, cmd):
        if blank(cmd.arg) and self.client_state.rnfr is not None:
            # The RNFR is used up all the same, and the record names the current
            # directory as the destination (measured).
            src_v, self.client_state.rnfr = self.client_state.rnfr[0], None
            self._pathFields(cmd, self.fs.cwd, xfer=True)
            cmd.fields.update(basename="", rename_from=src_v, bytes_sent=0)
            raise R("invalid_params")
        arg = self._need(cmd)
        vpath = self.fs.virtual(arg)
        # Logged with the destination's paths even without an RNFR (ProFTPD 1.3.8,
        # measured: 503 with %f, %F, %{basename}).
        self._pathFields(cmd, vpath, xfer=True, written=arg)
        if self.client_state.rnfr is None:
            raise R("bad_sequence")
        (src_v, src_real), self.client_state.rnfr = self.client_state.rnfr, None
        cmd.fields.update(rename_from=src_v, bytes_sent=0,
                          notes={"mod_core.rnfr-path": src_v})

        def refused(reason):
            reason.trap(FSError)
            if reason.value.errno == errno.EISDIR:
                # A file onto a directory: mod_core answers EPERM's text ("more
                # informative", src comment), measured "pub: Operation not permitted".
                raise FSError(errno.EPERM, reason.value.display)
            return reason
        return self._thenResolved(cmd, vpath, self.fs.jail.rename, src_real, arg).addCallbacks(
            lambda _: R("rnto_ok"), refused)

    def cmd_SIZE(self, cmd):
        arg = self._need(cmd)
        if not self.client_state.binary:
            raise R("size_ascii")

        def got(st):
            if not statmod.S_ISREG(st.st_mode):
                raise R("not_regular", arg)
            return R("stat213", str(st.st_size))
        return self.fs.stat(arg).addCallback(got)

    def cmd_MDTM(self, cmd):
        arg = self._need(cmd)
        vpath = self.fs.virtual(arg)
        self._pathFields(cmd, vpath, written=arg)

        def got(st):
            if not statmod.S_ISREG(st.st_mode):
                raise R("not_plain", arg)
            return R("stat213", time.strftime("%Y%m%d%H%M%S", time.gmtime(st.st_mtime)))
        return self.fs.stat(arg).addCallback(got)

    def cmd_SITE(self, cmd):
        if cmd.arg is None:
            raise R("site_noarg")
        words = site_words(cmd.arg)
        sub = words[0].upper() if words else ""
        if sub == "HELP":
            lines = ["The following SITE commands are recognized (* =>'s unimplemented)"]
            if len(words) > 1:
                syntax = SITE_HELP_SYNTAX.get(words[1].upper())
                if syntax is None:
                    raise R("help_unknown", "SITE " + cmd.arg)
                lines.append("Syntax: " + syntax)
            else:
                lines += SITE_COMMANDS
            return Reply(214, "Direct comments to root@%s" % self.local_host, lines)
        if sub in ("CHGRP", "CHMOD") and self.avatar is None:
            # SITE itself needs no login, these do (mod_site's table; measured)
            raise R("please_login")
        if sub == "CHGRP":
            return self._siteChgrp(cmd)
        if sub == "CHMOD":
            if len(words) < 3:
                raise Reply(500, REPLIES["site_chmod_noarg"][1],
                            ["'SITE %s' not understood"
                             % " ".join(["CHMOD"] + words[1:]).rstrip(" ")])
            path = site_path(words)
            vpath = self.fs.virtual(path)
            # ProFTPD 1.3.8 logs the path as written after the current directory
            # ("<root>/pub/../b.txt"; "~/" resolved) and its last component as %{basename}
            # ("b.txt"; "" for "pub/"), measured.
            shown = self.fs.chroot_join(vpath) if path[:2] == "~/" else self._listedPath(path)
            cmd.fields.update(file=shown, basename=path[path.rfind("/") + 1:],
                              config_path=self.fs.real_of(vpath))
            real = self.fs.real_of(vpath)

            def found(st):
                # mod_site looks the path up before it reads the mode (measured: "SITE
                # CHMOD 999 nosuch" is "nosuch: No such file or directory").
                mode = site_chmod_mode(words[1], st.st_mode, self._umask(real))
                if mode is None:
                    raise R("chmod_bad_mode", words[1])
                return self.fs.chmod(path, mode)
            return self.fs.stat(path).addCallback(found).addCallback(
                lambda _: R("chmod_ok"))
        raise R("site_bad", sub)

    # -- changing a file's group and mode (SITE CHGRP, MFF) ------------------------------
    def _gidOfName(self, name: str) -> Optional[int]:
        """A group name as ProFTPD's auth modules see it (AuthGroupFile, else the system)."""
        for gid, n in self.server.auth_groups.items():
            if n == name:
                return gid
        if not self.server.auth_users:
            try:
                return grp.getgrnam(name).gr_gid
            except (KeyError, UnicodeError):
                pass
        return None

    def _changeGroup(self, path: str, group: str) -> None:
        """chown(path, -1, group) for the logged-in user; raises FSError (errno) on refusal.
        Blocking (the disk and the group database): it runs in the disk pool.

        ``group`` is read as C's strtoul would (ProFTPD's), a name if anything is left
        over.  The server is one process, often root: the kernel's own rule for a user
        is applied first -- the file must be the user's (or the server's own upload) and
        the group one of the user's -- so that no session can hand a file to any group.
        """
        m = re.match(r"[ \t\n\v\f\r]*([+-]?)([0-9]*)", group)
        if not m.group(2):
            if group:
                gid = self._gidOfName(group)
                if gid is None:
                    raise FSError(errno.EINVAL, path)
            else:
                gid = 0
        elif m.end() < len(group):
            gid = self._gidOfName(group)
            if gid is None:
                raise FSError(errno.EINVAL, path)
        else:
            n = int(m.group(2))
            n = (1 << 64) - 1 if n >= 1 << 64 else n
            gid = ((-n if m.group(1) == "-" else n) % (1 << 64)) & 0xFFFFFFFF
        jail = self.fs.jail
        _, real = jail.resolve(path)
        st = jail.call(path, os.stat, real)
        if gid == 0xFFFFFFFF:
            return                          # (gid_t) -1: chown changes nothing
        a = self.avatar
        allowed = {a.gid} if a.anonymous else session_gids(self.server, a)
        if gid not in allowed or st.st_uid not in (a.uid, os.geteuid()):
            raise FSError(errno.EPERM, path)
        jail.call(path, os.chown, real, -1, gid)

    def _siteChgrp(self, cmd):
        words = site_words(cmd.arg)
        if len(words) < 3:
            raise Reply(500, REPLIES["site_chmod_noarg"][1],
                        ["'SITE %s' not understood"
                         % " ".join(["CHGRP"] + words[1:]).rstrip(" ")])
        path = site_path(words)
        base = self.fs.chroot_join(self.fs.cwd)
        if path.startswith("/"):
            base = base.rstrip("/")
        elif not base.endswith("/"):
            base += "/"
        cmd.fields.update(file=base + path, basename=path,
                          config_path=self.fs.real_of(self.fs.virtual(path)))

        def failed(f):
            f.trap(FSError)
            raise Reply(550, f.value.text)
        return self.fs.run(self._changeGroup, path, words[1]).addCallbacks(
            lambda _: R("chgrp_ok"), failed)

    def cmd_MFF(self, cmd):
        """MFF (RFC 3659's draft sibling): set modify, UNIX.group, UNIX.mode in order.

        A faithful copy of mod_facts: the facts string is parsed in place as C does, so
        the texts (including which part of it an error names) are ProFTPD's; facts set
        before a failing one stay set.  The whole command is one disk job.
        """
        if cmd.arg is None or len(cmd.arg.split()) < 2:
            raise R("invalid_params")
        return self.fs.run(self._setFacts, cmd)

    def _setFacts(self, cmd):
        jail = self.fs.jail
        words = cmd.arg.split() if cmd.arg else []
        if len(words) < 2:
            raise R("invalid_params")
        facts, _, path = cmd.arg.partition(" ")
        buf = list(facts) + ["\0"]

        def cstr(i):
            return "".join(buf[i:buf.index("\0", i)])

        def fail(e: FSError):
            return Reply(550 if e.errno == errno.ENOENT else 501, "%s: %s" % (path, e.message))

        start, semi = 0, facts.find(";")
        if semi < 0:
            raise Reply(550, "%s: %s" % (facts, os.strerror(errno.EINVAL)))
        while semi >= 0:
            buf[semi] = "\0"
            fact = cstr(start)
            name = fact.lower()
            eq = fact.find("=")
            if name.startswith("modify"):
                if eq < 0:
                    raise Reply(501, "%s: %s" % (cstr(0), os.strerror(errno.EINVAL)))
                ts = start + eq + 1
                if len(cstr(ts)) < 14:
                    raise Reply(501, "%s: %s" % (cstr(ts), os.strerror(errno.EINVAL)))
                dot = cstr(ts).find(".")
                if dot >= 0:
                    buf[ts + dot] = "\0"        # stays cut: the 213 text shows it too
                try:
                    when = _facts_mtime(cstr(ts))
                    if when is None:
                        raise FSError(errno.EINVAL, path)
                    jail.utime(path, when, when)
                except FSError as e:
                    raise fail(e)
            elif name.startswith("unix.group"):
                if eq < 0:
                    buf[semi] = ";"
                    raise Reply(501, "%s: %s" % (cstr(0), os.strerror(errno.EINVAL)))
                try:
                    self._changeGroup(path, fact[eq + 1:])
                except FSError as e:
                    raise fail(e)
            elif name.startswith("unix.mode"):
                if eq < 0:
                    buf[semi] = ";"
                    # mod_facts reports whatever errno was left over: ENOENT, in practice.
                    raise Reply(501, "%s: %s" % (cstr(0), os.strerror(errno.ENOENT)))
                text = fact[eq + 1:]
                m = re.match(r"[ \t\n\v\f\r]*([+-]?)([0-7]*)", text)
                if m.end() < len(text) and m.group(2) or (not m.group(2) and text):
                    raise fail(FSError(errno.EINVAL, path))
                n = int(m.group(2) or "0", 8)
                n = ((1 << 64) - 1 if n >= 1 << 64 else n)
                mode = ((-n if m.group(1) == "-" else n) % (1 << 64)) & 0o7777
                try:
                    jail.chmod(path, mode)
                except FSError as e:
                    raise fail(e)
            else:
                raise R("mff_cannot", fact)
            buf[semi] = ";"
            start = semi + 1
            nxt = cstr(start).find(";")
            semi = start + nxt if nxt >= 0 else -1
        return R("mff_ok", cstr(0), path)

    def _dirSetting(self, real: str, attr: str, default):
        """A <Directory> setting for a real path, by the one matcher every caller uses."""
        return dirmatch.dir_setting(self.server.directories, real, attr, default)

    def _allowOverwrite(self, real: str) -> bool:
        return self._dirSetting(real, "allow_overwrite", self.server.allow_overwrite)

    def _umask(self, real: str) -> int:
        return self._dirSetting(real, "umask", self.server.umask)
