# -*- test-case-name: tests.test_protocol -*-
"""The commands that only answer or set session options: NOOP SYST FEAT HELP OPTS TYPE MODE
STRU REST RANG STAT HOST LANG CLNT CSID ALLO ABOR QUIT, and the FTPS commands (handed to
:mod:`ftpredis.tls.ftps`)."""

from __future__ import annotations

import os
import re
import stat as statmod
import time


from ftpredis import __version__
from ftpredis.tls import ftps as _tls
from ftpredis.ftp import fastpath as _fastpath
from ftpredis.records.events import command_words, path_tail
from ftpredis.ftp.filesystem import FSError
from ftpredis.ftp.listings import link_line, long_line, ls_lines
from ftpredis.ftp.replies import R, Reply
from ftpredis.ftp.common import (FEATURES, HELP_COMMANDS, HELP_SYNTAX, HELP_TLS, MLST_FACTS,
                                 SITE_COMMANDS, blank, digits, mlst_feature, params_of)

_STRTOULL = re.compile("[+-]?[0-9]+")


class InfoMixin:
    """Commands that answer or set session options."""

    def cmd_QUIT(self, cmd):
        cmd.after = self._quitClose
        self._closing = True        # the 221 and the FIN leave in one segment (fastpath)
        return R("goodbye")

    def _quitClose(self):
        """After QUIT's 221 and its record."""
        self.end_reason = "Quit"
        _fastpath.close_now(self.transport)

    # -- simple commands ------------------------------------------------------------------
    def cmd_NOOP(self, cmd):
        return R("noop")

    def cmd_SYST(self, cmd):
        return R("syst")

    def cmd_CLNT(self, cmd):
        return R("clnt")

    def cmd_CSID(self, cmd):
        # ProFTPD's format, ftpredis's own identity; the client's facts are not used.
        return R("csid", "ftpredis", __version__)

    def cmd_ALLO(self, cmd):
        # mod_xfer: "ALLO <size>" or RFC 959's "ALLO <size> R <size>", the size as
        # strtoull reads it (a sign and leading blanks taken); nothing is reserved.
        words = command_words(cmd.arg)
        if len(words) not in (1, 3):
            raise R("allo_syntax", " ".join(["ALLO"] + words))
        if _STRTOULL.fullmatch(words[0]) is None:
            raise R("allo_bad", cmd.arg)
        return R("allo")

    def cmd_ABOR(self, cmd):
        self.client_state.aborting = False
        self.cleanupDTP()
        return R("abor")

    def cmd_FEAT(self, cmd):
        # The MLST line stars the facts the session shows (OPTS MLST changes them).
        features = [mlst_feature(self.client_state.mlst_facts) if f.startswith("MLST ") else f
                    for f in FEATURES]
        return Reply(211, "End", ["Features:"] + sorted(features + _tls.features(self)))

    # -- FTPS (RFC 4217; ftpredis.tls.ftps) ---------------------------------------------------
    def cmd_AUTH(self, cmd):
        return _tls.cmd_auth(self, cmd)

    def cmd_PBSZ(self, cmd):
        return _tls.cmd_pbsz(self, cmd)

    def cmd_PROT(self, cmd):
        return _tls.cmd_prot(self, cmd)

    def cmd_CCC(self, cmd):
        return _tls.cmd_ccc(self, cmd)

    def cmd_SSCN(self, cmd):
        return _tls.cmd_sscn(self, cmd)

    def cmd_HELP(self, cmd):
        if not blank(cmd.arg):
            word = cmd.arg.split()[0].upper() if cmd.arg.split() else ""
            if word == "SITE":
                # ProFTPD hands "HELP SITE ..." to SITE HELP with the words it has.
                if len(cmd.arg.split()) > 1:
                    raise R("help_unknown", "SITE " + cmd.arg)
                return Reply(214, SITE_COMMANDS[-1], SITE_COMMANDS[:-1])
            if word in HELP_SYNTAX:
                return R("help_syntax", HELP_SYNTAX[word])
            raise R("help_unknown", word or cmd.arg)
        lines = ["The following commands are recognized (* =>'s unimplemented):"]
        cmds = HELP_COMMANDS
        if _tls.state(self) is not None:
            cmds = [c.rstrip("*") if c.rstrip("*") in HELP_TLS else c for c in cmds]
        for i in range(0, len(cmds) - len(cmds) % 8, 8):
            lines.append("".join("%-8s" % c for c in cmds[i:i + 8]))
        r = R("help_end", self.local_host)
        return Reply(r.code, r.text, lines)

    def cmd_OPTS(self, cmd):
        arg = self._need(cmd)
        words = arg.split()
        if words and words[0].upper() == "MLST":
            # mod_facts' facts_opts_mlst(), measured: more than one word is refused, none
            # shows no fact at all.
            if len(words) > 2:
                raise Reply(501, "'OPTS MLST' not understood")
            if len(words) == 1:
                self.client_state.mlst_facts = ()
                return Reply(200, "MLST OPTS")
            canon = {f.lower(): f for f in MLST_FACTS + ("media-type",)}
            # Only what stands before a ";" is read; repeats are echoed, unknown names
            # dropped; media-type is echoed but never shown (1.3.8 without mod_mime).
            asked = [canon[f.lower()] for f in words[1].split(";")[:-1] if f.lower() in canon]
            self.client_state.mlst_facts = tuple(f for f in MLST_FACTS if f in asked)
            # The reply echoes the request's order; listings keep ProFTPD's fact order.
            return R("mlst_opts", "".join(f + ";" for f in asked))
        if words and words[0].upper() == "UTF8":
            if len(words) == 2 and words[1].upper() in ("ON", "OFF"):
                return R("utf8", words[1].lower())
            raise R("invalid_params")
        raise R("opts_bad", words[0].upper() if words else arg)

    def cmd_TYPE(self, cmd):
        # ProFTPD 1.3.8 (measured): the first word decides, in either case, and is echoed
        # as sent ("TYPE i" -> "Type set to i"); "A" and "I" take any second word.
        params = params_of(cmd.arg)
        if not params:
            raise R("quoted_not_understood", "TYPE")
        if len(params) > 2:
            raise R("quoted_not_understood", " ".join(["TYPE"] + params))
        t = params[0]
        second = params[1] if len(params) == 2 else None
        if t.upper() == "A" or (t.upper() == "L" and second == "7"):
            self.client_state.binary = False
            return R("type_ok", t)
        if t.upper() == "I" or (t.upper() == "L" and second == "8"):
            self.client_state.binary = True
            return R("type_ok", t)
        raise R("type_bad", t)

    def cmd_MODE(self, cmd):
        return self._oneLetter(cmd, "S", "BC", "mode_ok", "mode_bad", "mode_unknown")

    def cmd_STRU(self, cmd):
        return self._oneLetter(cmd, "F", "RP", "stru_ok", "stru_bad", "stru_unknown")

    def _oneLetter(self, cmd, ok: str, known: str, ok_reply, known_reply, unknown_reply):
        """MODE and STRU as ProFTPD 1.3.8 answers them (measured): only the first letter
        of the one word counts ("STRU ff" sets F); a code RFC 959 defines but ProFTPD
        does not support is 504, anything else 501."""
        params = params_of(cmd.arg)
        if len(params) != 1:
            raise R("quoted_not_understood_501", " ".join([cmd.verb] + params))
        letter = params[0][:1].upper()
        if letter == ok:
            return R(ok_reply, ok)
        raise R(known_reply if letter in known else unknown_reply, params[0])

    def cmd_REST(self, cmd):
        params = params_of(cmd.arg)
        if not params:
            raise R("quoted_not_understood", "REST")
        if len(params) > 1:
            raise R("quoted_not_understood", " ".join(["REST"] + params))
        # ProFTPD reads the number with strtoull (measured): one leading "+" is taken,
        # "-", hex and trailing junk are refused.
        number = params[0][1:] if params[0][:1] == "+" else params[0]
        if not digits(number):
            raise R("rest_bad")
        offset = int(number)
        if not self.client_state.binary and offset:
            raise R("rest_ascii")
        self.client_state.rest = offset
        self.client_state.rang = None           # REST and RANG replace each other (ProFTPD)
        return R("rest_ok", offset)

    def cmd_RANG(self, cmd):
        """RANG (draft-bryan-ftp-range): the next transfer covers bytes start..end."""
        words = cmd.arg.split() if cmd.arg else []
        if len(words) != 2:
            raise R("quoted_not_understood", " ".join([cmd.verb] + words))
        try:
            start, end = (int(w) for w in words)
            if not all(digits(w.lstrip("+")) and w[:1] != "-" for w in words):
                raise ValueError
        except ValueError:
            raise R("rang_bad")
        if start > end:
            self.client_state.rang = None
            if (start, end) == (1, 0):
                return R("rang_reset")
            raise R("rang_order")
        if not self.client_state.binary:
            raise R("rang_ascii", cmd.verb)
        length = end - start + 1
        self.client_state.rang = (start, length)
        self.client_state.rest = 0
        return R("rang_ok", length, "bytes" if length != 1 else "byte", start)

    def cmd_STAT(self, cmd):
        if blank(cmd.arg):
            s = self.server
            lines = ["Status of '%s'" % s.server_name,
                     "Connected from %s (%s)" % (self.peer_host, self.peer_host),
                     "Logged in as %s" % self.avatar.name,
                     "TYPE: %s, STRUcture: File, Mode: Stream"
                     % ("BINARY" if self.client_state.binary else "ASCII")]
            if self.data_bytes:
                lines.append("Total bytes transferred for session: %d" % self.data_bytes)
            lines.append("No data connection")
            r = R("stat_end")
            return Reply(r.code, r.text, lines)
        fs, arg = self.fs, cmd.arg
        jail = fs.jail
        if arg.startswith("-"):
            # mod_ls skips STAT's options (it lists as -la, and ListOptions); none left
            # is "."
            arg = arg.split(None, 1)[1] if len(arg.split(None, 1)) > 1 else "."
        run = self._listing("STAT", arg)

        def gather():
            # mod_ls (ShowSymlinks on) answers 212 for a directory and 213 for anything
            # else by lstat(), so a link to a directory is 213, with the directory's
            # listing (measured).
            vpath, entry = jail.resolve(arg, follow=False)
            lst = jail.call(arg, os.lstat, entry)
            code = 212 if statmod.S_ISDIR(lst.st_mode) else 213
            if not jail.show_symlinks and statmod.S_ISLNK(lst.st_mode):
                # ShowSymlinks off: stat(), what the link leads to
                try:
                    code = 212 if statmod.S_ISDIR(jail.stat_inside(entry).st_mode) else 213
                except OSError:
                    pass
            real, st = entry, lst
            if statmod.S_ISLNK(lst.st_mode):
                line = link_line(jail, arg, run, entry, lst)
                if line is not None:
                    return code, line
                # What it leads to (a dangling link: 450 No such file, as dolist()
                # answers), listed from its own path: "." is that directory.
                jail.resolve(arg)
                real = jail.real_of(jail.resolved_virtual(vpath))
                st = jail.call(arg, os.stat, real)
            if statmod.S_ISDIR(st.st_mode):
                try:
                    return code, ls_lines(jail, real, arg, run)
                except OSError as e:
                    raise FSError(e.errno, arg) from None
            return code, [long_line(jail, path_tail(vpath), lst, run, time.time())]

        def done(result):
            code, lines = result
            return Reply(code, "End of status", ["Status of %s:" % arg] + lines)

        def failed(f):
            f.trap(FSError)
            raise Reply(450, f.value.text)
        return self.fs.run(gather).addCallbacks(done, failed)

    def cmd_HOST(self, cmd):
        if len(command_words(cmd.arg)) != 1:
            # mod_core counts the words before anything else (measured after login too)
            raise R("quoted_not_understood", "HOST")
        st = _tls.state(self)
        if self.avatar is not None or (st is not None and st.used):
            # After AUTH the TLS handshake has already settled which server this is.
            raise R("bad_sequence")
        name = cmd.arg.strip()
        bare = name[1:-1] if name.startswith("[") and name.endswith("]") else name
        known = {self.local_host, self.server.server_name, "localhost"}
        known.update(self.server.addresses)
        if bare not in known:
            raise R("host_unknown", name)
        return R("host_ok")

    def cmd_LANG(self, cmd):
        if cmd.arg is None or cmd.arg.strip().upper() in ("C", "C.UTF-8"):
            return R("lang_ok")
        raise R("lang_bad", cmd.arg.strip())
