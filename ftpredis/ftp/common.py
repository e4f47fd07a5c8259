# -*- test-case-name: tests.test_protocol -*-
"""What the FTP modules share: ProFTPD's command tables, the command in flight, and the
address form every module logs.  A leaf: it imports nothing of ftpredis.ftp."""

from __future__ import annotations

import re
import time
from typing import Callable, Optional

from twisted.logger import Logger


log = Logger(namespace="ftpredis.ftp.protocol")


# The commands ProFTPD 1.3.8's modules declare as not needing a login (their command
# tables; measured: TYPE 200, SITE HELP 214, ACCT/REIN 502, ABOR 530 before login).
PRE_LOGIN = frozenset({"USER", "PASS", "ACCT", "REIN", "QUIT", "FEAT", "HELP", "SYST",
                       "NOOP", "OPTS", "CLNT", "HOST", "LANG", "AUTH", "PBSZ", "PROT",
                       "TYPE", "SITE"})


ALIASES = {"XCWD": "CWD", "XCUP": "CDUP", "XPWD": "PWD", "XMKD": "MKD", "XRMD": "RMD"}


MLST_FACTS = ("modify", "perm", "size", "type", "unique", "UNIX.group", "UNIX.groupname",
              "UNIX.mode", "UNIX.owner", "UNIX.ownername")


def mlst_feature(shown) -> str:
    """FEAT's MLST line: every fact, those ``shown`` starred (mod_facts)."""
    return "MLST " + "".join(f + ("*;" if f in shown else ";") for f in MLST_FACTS)


FEATURES = ("CLNT", "CSID", "EPRT", "EPSV", "HOST", "LANG C.UTF-8*", "MDTM",
            "MFF modify;UNIX.group;UNIX.mode;", "MFMT", mlst_feature(MLST_FACTS),
            "RANG STREAM", "REST STREAM", "SIZE", "TVFS", "UTF8")


HELP_COMMANDS = ("CWD XCWD CDUP XCUP SMNT* QUIT PORT PASV EPRT EPSV ALLO RNFR RNTO DELE MDTM "
                 "RMD XRMD MKD XMKD PWD XPWD SIZE SYST HELP NOOP FEAT OPTS HOST CLNT AUTH* "
                 "CCC* CONF* ENC* MIC* PBSZ* PROT* TYPE STRU MODE RETR STOR STOU APPE REST "
                 "ABOR RANG USER PASS ACCT* REIN* LIST NLST STAT SITE MLSD MLST").split()


HELP_TLS = frozenset({"AUTH", "PBSZ", "PROT"})


SITE_COMMANDS = ("HELP", "CHGRP", "CHMOD")


SITE_HELP_SYNTAX = {"HELP": "SITE HELP [<sp> site-command]",
                    "CHGRP": "SITE CHGRP <sp> group <sp> pathname",
                    "CHMOD": "SITE CHMOD <sp> mode <sp> pathname"}


UNIMPLEMENTED = frozenset({"SMNT", "ACCT", "REIN"})


HELP_SYNTAX = {
    "USER": "USER <sp> username", "PASS": "PASS <sp> password", "CWD": "CWD <sp> pathname",
    "CDUP": "CDUP", "QUIT": "QUIT", "PORT": "PORT <sp> h1,h2,h3,h4,p1,p2",
    "PASV": "PASV", "EPRT": "EPRT <sp> |proto|addr|port|", "EPSV": "EPSV [ <sp> proto ]",
    "TYPE": "TYPE <sp> type-code (A, I, L 8)", "STRU": "STRU <sp> structure-code (F)",
    "MODE": "MODE <sp> mode-code (S)", "RETR": "RETR <sp> pathname",
    "STOR": "STOR <sp> pathname", "STOU": "STOU", "APPE": "APPE <sp> pathname",
    "ALLO": "ALLO <sp> size", "REST": "REST <sp> byte-count",
    "RNFR": "RNFR <sp> pathname", "RNTO": "RNTO <sp> pathname", "ABOR": "ABOR",
    "DELE": "DELE <sp> pathname", "RMD": "RMD <sp> pathname", "MKD": "MKD <sp> pathname",
    "PWD": "PWD", "LIST": "LIST [ <sp> pathname ]", "NLST": "NLST [ <sp> (pathname) ]",
    "SITE": "SITE <sp> string", "SYST": "SYST", "STAT": "STAT [ <sp> pathname ]",
    "HELP": "HELP [ <sp> <string> ]", "NOOP": "NOOP", "FEAT": "FEAT",
    "OPTS": "OPTS <sp> command [ <sp> options ]", "SIZE": "SIZE <sp> pathname",
    "MDTM": "MDTM <sp> pathname", "MLSD": "MLSD [ <sp> pathname ]",
    "MLST": "MLST [ <sp> pathname ]",
    "HOST": "HOST <sp> hostname", "CLNT": "CLNT <cp> client-info",
    "RANG": "RANG <sp> start-point <sp> end-point",
    "XCWD": "XCWD <sp> pathname", "XCUP": "XCUP", "XPWD": "XPWD",
    "XMKD": "XMKD <sp> pathname", "XRMD": "XRMD <sp> pathname",
    # mod_tls registers these whether or not TLSEngine is on.
    "AUTH": "AUTH <sp> base64-data", "PBSZ": "PBSZ <sp> protection buffer size",
    "PROT": "PROT <sp> protection code", "CCC": "CCC (clears protection level)",
}


LIMIT_PATH_COMMANDS = {
    "RETR": "limit_denied", "STOR": "limit_denied", "APPE": "limit_denied",
    "STOU": "limit_denied", "DELE": "limit_denied", "RNFR": "limit_denied",
    "RNTO": "limit_denied", "SIZE": "limit_denied", "MDTM": "limit_denied",
    "MFMT": "limit_denied", "MFF": "limit_denied", "MLST": "limit_denied", "STAT": "limit_denied",
    "LIST": "limit_denied", "NLST": "limit_denied", "MLSD": "limit_denied",
    "MKD": "limit_denied_dirs", "RMD": "limit_denied_dirs",
    "CWD": "limit_denied_cwd", "CDUP": "limit_denied_cwd", "PWD": "limit_denied",
}


def digits(text: str) -> bool:
    """ASCII decimal digits only: ``str.isdigit()`` also takes fullwidth and other
    Unicode digits, which ProFTPD's parsers refuse."""
    return text.isascii() and text.isdigit()


def ascii_int(text: str, base: int = 10) -> int:
    """``int(text, base)`` of ASCII text without ``_`` (ValueError otherwise): ``int()``
    also reads fullwidth digits and "7_77", which ProFTPD refuses."""
    if not text.isascii() or "_" in text:
        raise ValueError(text)
    return int(text, base)


def blank(arg: Optional[str]) -> bool:
    """No parameter, or blanks only: ProFTPD counts a command's words (isspace() in the
    C locale), so "STAT <TAB>" is STAT with no parameter (measured with 1.3.8)."""
    return arg is None or not arg.strip(" \t\v\f\r")


_words = re.compile(r"[^ \t\v\f\r]+").findall


def params_of(arg: Optional[str]) -> list:
    """A command's parameters as ProFTPD's parser splits them: on blanks (isspace() in
    the C locale), so "STRU  F" has one parameter and "TYPE A X Y" three; str.split()
    would also split on Unicode blanks, which ProFTPD keeps in a word."""
    return _words(arg) if arg else []


def _plain_host(host: str) -> str:
    """An IPv4-mapped IPv6 address as plain IPv4 (ProFTPD logs 127.0.0.1)."""
    if host.startswith("::ffff:") and "." in host:
        return host[7:]
    return host


_now = time.time


class _Command:
    """One command in flight: what the client sent and what the handler found out."""

    __slots__ = ("verb", "arg", "start", "fields", "after")

    def __init__(self, verb: str, arg: Optional[str]):
        self.verb = verb
        self.arg = arg
        self.start = _now()
        self.fields: dict = {}
        self.after: Optional[Callable[[], None]] = None
