# -*- test-case-name: tests.test_conformance_errors -*-
"""How ``SITE CHMOD`` reads its mode, as ProFTPD 1.3.8's mod_site does.

A number is read with C's ``strtol(base 0)`` after a ``0`` is put in front ("644" and
"0644" octal, "0x1ff" hexadecimal, "10000" accepted, the kernel keeping its low 12
bits); anything else is taken for one symbolic clause, ``[ugoa]*[+-=][rwxstugo]+``, with
mod_site's quirks: no commas, no ``X``, ``=`` adds to nothing rather than replacing, and
no "who" means "all but the umask".  Nothing here touches the disk.
"""

from __future__ import annotations

import re
import stat as statmod
from typing import Optional

_HEX = re.compile(r"0[xX]([0-9a-fA-F]+)")
_OCT = re.compile(r"0([0-7]*)")
_LONG_MAX = 2 ** 63 - 1
_MASKS = {"u": 0o077, "g": 0o707, "o": 0o770, "a": 0o000}


def numeric_mode(text: str) -> Optional[int]:
    """The mode ``text`` gives as a number, or None when it is not one."""
    s = text if text.startswith("0") else "0" + text
    m = _HEX.match(s)
    if m is not None:
        digits, base = m.group(1), 16
    else:
        m = _OCT.match(s)
        digits, base = m.group(1) or "0", 8
    if m.end() != len(s):
        return None
    return min(int(digits, base), _LONG_MAX) & 0xFFFFFFFF      # (mode_t) of a long


def symbolic_mode(text: str, current: int, umask: int) -> Optional[int]:
    """The mode one symbolic clause gives a file whose mode is ``current``, or None
    when mod_site would answer "invalid mode"."""
    op = re.search("[-+=]", text)
    if op is None:
        return None
    who, how = text[:op.start()], text[op.start():]
    mode = 0 if how[0] == "=" else current
    what_at = re.search("[rwxXstugo]", how)
    if what_at is None:
        return None
    what = how[what_at.start():]
    # mod_site walks the letters of "who" one by one, each over all of "what"
    for w in who or "\0":
        mask = umask if w == "\0" else _MASKS.get(w)
        if mask is None:
            return None
        bits = 0
        for c in what:
            if c == "r":
                bits |= statmod.S_IRUSR | statmod.S_IRGRP | statmod.S_IROTH
            elif c == "w":
                bits |= statmod.S_IWUSR | statmod.S_IWGRP | statmod.S_IWOTH
            elif c == "x":
                bits |= statmod.S_IXUSR | statmod.S_IXGRP | statmod.S_IXOTH
            elif c == "s":
                bits |= statmod.S_ISUID
            elif c == "t":
                bits |= statmod.S_ISVTX
            elif c == "o":
                o = current & statmod.S_IRWXO
                bits |= o | o << 3 | o << 6
            elif c == "g":
                g = current & statmod.S_IRWXG
                bits |= g >> 3 | g | g << 3
            elif c == "u":
                u = current & statmod.S_IRWXU
                bits |= u >> 6 | u >> 3 | u
            else:
                return None         # "X", or anything after the letters
        if how[0] == "-":
            mode &= ~(bits & ~mask)
        else:
            mode |= bits & ~mask
    return mode


def site_chmod_mode(text: str, current: int, umask: int) -> Optional[int]:
    """The mode ``SITE CHMOD <text> <path>`` sets on a file of mode ``current``
    (permission bits only), or None for ProFTPD's "'<text>': invalid mode"."""
    mode = numeric_mode(text)
    if mode is None:
        mode = symbolic_mode(text, current, umask)
    return None if mode is None else mode & 0o7777
