# -*- test-case-name: tests.test_ftpcommands -*-
"""What a client reads: ProFTPD 1.3.8's reply texts and the :class:`Reply` a command ends with.

A leaf module: the FTP commands, FTPS (``ftpredis.tls``) and bans (``ftpredis.ban``) raise
or send these replies without importing the protocol.
"""

from __future__ import annotations

from typing import Sequence

# ---------------------------------------------------------------------------------------
# Reply texts.  Verified against proftpd 1.3.8 (Debian 12, DefaultRoot ~, AuthUserFile)
# with raw sockets and ftplib; "(ours)" marks texts ProFTPD has no equivalent for.
REPLIES = {
    "banner": (220, "ftpredis Server (%s) [%s]"),
    "banner_off": (220, "%s FTP server ready"),
    "idle_timeout": (421, "Idle timeout (%d seconds): closing control connection"),
    "login_timeout": (421, "Login timeout (%d seconds): closing control connection"),
    "notransfer_timeout": (421, "No transfer timeout (%d seconds): closing control "
                                "connection"),
    "not_understood": (500, "%s not understood"),
    "quoted_not_understood": (500, "'%s' not understood"),
    "quoted_not_understood_501": (501, "'%s' not understood"),
    "invalid_params": (501, "Invalid number of parameters"),
    "line_too_long": (500, "Command line too long"),                     # (ours)
    "no_command": (500, "Invalid command: try being more creative"),
    "please_login": (530, "Please login with USER and PASS"),
    "user_ok": (331, "Password required for %s"),
    "anon_user_ok": (331, "Anonymous login ok, send your complete email address as your password"),
    "logged_in": (230, "User %s logged in"),
    "anon_logged_in": (230, "Anonymous access granted, restrictions apply"),
    "login_incorrect": (530, "Login incorrect."),
    "pass_first_user": (503, "Login with USER first"),
    "already_logged_in": (503, "You are already logged in"),
    "reauth": (501, "Reauthentication not supported"),
    "goodbye": (221, "Goodbye."),
    "pwd": (257, "\"%s\" is the current directory"),
    "cmd_ok": (250, "%s command successful"),
    "mkd_ok": (257, "\"%s\" - Directory successfully created"),
    "mkd_invalid": (550, "%s: Invalid directory name"),
    "rnfr_ok": (350, "File or directory exists, ready for destination name"),
    "rnto_ok": (250, "Rename successful"),
    "bad_sequence": (503, "Bad sequence of commands"),
    "size_ascii": (550, "SIZE not allowed in ASCII mode"),
    "not_regular": (550, "%s: not a regular file"),
    "not_plain": (550, "%s: not a plain file"),
    "not_regular_xfer": (550, "%s: Not a regular file"),
    "overwrite_denied": (550, "%s: Overwrite permission denied"),
    "restart_denied": (451, "%s: Append/Restart not permitted, try again"),
    "rest_invalid": (554, "REST: invalid %s argument"),
    "stat213": (213, "%s"),
    "type_ok": (200, "Type set to %s"),
    "type_bad": (504, "TYPE not implemented for '%s' parameter"),
    "mode_ok": (200, "Mode set to %s"),
    "mode_bad": (504, "'MODE %s' unsupported transfer mode"),
    "mode_unknown": (501, "'MODE %s' unrecognized transfer mode"),
    "stru_ok": (200, "Structure set to %s"),
    "stru_bad": (504, "'STRU %s' unsupported structure type"),
    "stru_unknown": (501, "'STRU %s' unrecognized structure type"),
    "noop": (200, "NOOP command successful"),
    "syst": (215, "UNIX Type: L8"),
    "utf8": (200, "UTF8 set to %s"),
    "opts_bad": (500, "OPTS %s not understood"),
    "rest_ok": (350, "Restarting at %d. Send STORE or RETRIEVE to initiate transfer"),
    "rest_bad": (501, "REST requires a value greater than or equal to 0"),
    "chmod_ok": (200, "SITE CHMOD command successful"),
    "chmod_bad_mode": (550, "'%s': invalid mode"),
    "site_bad": (500, "'SITE %s' not understood"),
    "site_noarg": (500, "'SITE' requires parameters"),
    "site_chmod_noarg": (500, "SITE not understood"),
    "user_noarg": (500, "USER: command requires a parameter"),
    "rnfr_sequence": (501, "Bad sequence of commands"),
    "forbidden_argument": (550, "%s: Forbidden command argument"),
    "allo": (202, "No storage allocation necessary"),
    "allo_syntax": (504, "'%s' not understood"),
    "allo_bad": (504, "%s: Invalid ALLO argument"),
    "abor": (226, "Abort successful"),
    "clnt": (200, "OK"),
    "csid": (200, "name=%s;version=%s;casesensitive=1;"),
    "rang_ok": (350, "Transferring byte range of %d %s starting from %d"),
    "rang_reset": (350, "Reset byte transfer range"),
    "rang_bad": (501, "RANG requires a value greater than or equal to 0"),
    "rang_order": (501, "RANG start must be less than end"),
    "rang_ascii": (551, "%s: Transfer ranges not allowed in ASCII mode"),
    "offset_invalid": (554, "%s: invalid %s argument"),
    "rang_invalid": (554, "%s: invalid RANG argument"),
    "chgrp_ok": (200, "SITE CHGRP command successful"),
    "mff_ok": (213, "%s %s"),
    "mff_cannot": (504, "Cannot modify fact '%s'"),
    "pasv": (227, "Entering Passive Mode (%s)."),
    "epsv": (229, "Entering Extended Passive Mode (|||%d|)"),
    "epsv_all": (200, "EPSV ALL command successful"),
    "epsv_all_in_effect": (500, "Illegal %s command, EPSV ALL in effect"),
    "epsv_proto": (522, "Network protocol not supported, use (1,2)"),
    "epsv_proto_v4": (522, "Network protocol not supported, use (1)"),     # UseIPv6 off
    "epsv_unknown": (501, "%s: unknown network protocol"),
    "port_ok": (200, "%s command successful"),
    "port_illegal": (500, "Illegal %s command"),
    "port_syntax": (501, "Illegal %s command"),
    "no_data": (425, "Unable to build data connection: %s"),
    "opening": (150, "Opening %s mode data connection for %s"),
    "stou_opening": (150, "FILE: %s"),
    "xfer_ok": (226, "Transfer complete"),
    # ABOR during a transfer: the text of ProFTPD's lingering abort (src/netio.c).
    "xfer_aborted": (426, "Transfer aborted. Data connection closed."),
    # The data connection lost (reset, closed, broken) without ABOR: pr_data_abort's
    # "Transfer aborted. %s" for ECONNRESET/EPIPE (src/data.c), without the period.
    "xfer_closed": (426, "Transfer aborted. Data connection closed"),
    "abor_ok": (226, "Abort successful"),
    "limit_denied": (550, "%s: Operation not permitted"),
    "limit_denied_dirs": (550, "%s: Permission denied"),
    "limit_denied_cwd": (550, "%s: No such file or directory"),
    "mlst_opts": (200, "MLST OPTS %s"),
    "mlst_start": (250, "Start of list for %s"),
    "mlst_end": (250, "End of list"),
    "mlst_cannot": (550, "'%s' cannot be listed"),
    "mlsd_not_dir": (550, "'%s' is not a directory"),
    "mfmt_ok": (213, "Modify=%s; %s"),
    "mfmt_bad": (501, "%s: Invalid argument"),
    "host_ok": (220, "HOST command successful"),
    "host_unknown": (504, "%s: Unknown hostname provided"),
    "lang_ok": (200, "Using default language C.UTF-8"),
    "lang_bad": (504, "Language %s not supported"),
    "not_implemented": (502, "%s command not implemented"),
    "help_unknown": (502, "Unknown command '%s'"),
    "help_syntax": (214, "Syntax: %s"),
    "rest_ascii": (501, "REST: Resuming transfers not allowed in ASCII mode"),
    "stat_dir_end": (212, "End of status"),
    "local_error": (451, "Requested action aborted: local error in processing"),
    "internal": (550, "Requested action aborted: local error in processing"),
    "help_end": (214, "Direct comments to root@%s"),
    "stat_end": (211, "End of status"),
    "stat_file_end": (213, "End of status"),
}


class Reply(Exception):
    """A command's final reply; ``lines`` are the continuation lines before it."""

    # Every command ends with one: slots, not an instance dict, make it half as dear.
    __slots__ = ("code", "text", "lines", "wire")

    #: Written already (AUTH TLS's 234 goes out before the handshake): not sent again.
    sent = False

    def __init__(self, code: int, text: str, lines: Sequence[str] = ()):
        # BaseException.__new__ has set args to the constructor's arguments already.
        if lines:
            self.args = (code, text)
            lines = tuple(lines)
        self.code = code
        self.text = text
        self.lines = lines if lines else ()
        #: The final line as written (with CRLF), when known in advance (:func:`R`).
        self.wire = None

    def __reduce__(self):
        # BaseException's would rebuild from args, which leave the lines out.
        args = (self.code, self.text, self.lines) if self.lines else self.args
        return type(self), args, self.__dict__ or None


def R(name: str, *args) -> Reply:
    code, fmt = REPLIES[name]
    if args:
        return Reply(code, fmt % args)
    r = Reply(code, fmt)
    r.wire = _WIRE[name]
    return r


#: The final line of each argument-less reply as written: NOOP's, QUIT's... are not
#: formatted and encoded again for every command.
_WIRE = {name: ("%d %s\r\n" % (code, text)).encode("utf-8", "surrogateescape")
         for name, (code, text) in REPLIES.items()}


def opening(mode: str, name: str, size: int = 0) -> str:
    """The 150 text before a transfer of ``size`` bytes: src/data.c names the size only
    when there is one, and "1 byte" in the singular (measured: an empty file, or a REST
    at its end, says no size)."""
    text = REPLIES["opening"][1] % (mode, name)
    if not size:
        return text
    return "%s (%d %s)" % (text, size, "byte" if size == 1 else "bytes")
