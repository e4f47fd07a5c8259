# -*- test-case-name: tests.test_conformance_listoptions,tests.test_conformance_sorting -*-
"""Which ls options a LIST, NLST or STAT runs with, and how much it may show.

This module owns mod_ls 1.3.8's option handling: the client's ``-x`` words (its
parse_list_opts(), letters up to the first one that is not alphanumeric), the
``ListOptions`` in force (the first of the session's that applies to the command: LIST
skips NLSTOnly ones, NLST LISTOnly ones, STAT both), which are read after the client's, or
instead of them with ``strict``, and may turn options off again with ``+x``; and the
counters mod_ls keeps against ``maxfiles``, ``maxdirs`` and ``maxdepth`` while one
listing runs (its list_nfiles, list_ndirs, list_ndepth).  The listings themselves are
:mod:`ftpredis.ftp.listings`'.

The options kept per listing: ``-1 -a -A -d -F -l -R``, ``-C`` (columns), ``-h``
(human sizes), ``-L`` (following links), ``-n`` (numeric ids) and the sorting ``-t``
(newest first), ``-S`` (largest first), ``-r`` (reversing either).  ``-c``, ``-u`` and
``-U`` are kept in :class:`Sticky` for the whole session, as mod_ls 1.3.8 never clears
them (nor the time its -c/-u chose).  ``-B`` changes nothing in a build with NLS, as
Debian's.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Set, Tuple

from ftpredis.config import dirmatch

#: What each command starts from: LIST is ``ls -l``, STAT ``ls -la``, NLST names alone.
_START = {"LIST": frozenset("l"), "STAT": frozenset("al"), "NLST": frozenset()}

#: LIST options the plain listing (JailedFS.listing) writes by itself.
_PLAIN_LIST = frozenset("laA")


def configured(server, anonymous, real_cwd: Optional[str]) -> tuple:
    """The ``ListOptions`` lines in force for a session whose current directory is the
    real path ``real_cwd``: the most specific ``<Directory>`` that has any, else the
    ``<Anonymous>`` section's, else the server's.  (mod_ls reads the directory its last
    path check matched, which is the current one unless the previous command named a
    path elsewhere.)"""
    found = dirmatch.section_setting(server, anonymous, real_cwd, "list_options")
    return server.list_options if found is None else found


def applicable(values: Sequence, verb: str):
    """The first of ``values`` that applies to ``verb``, or None."""
    for value in values:
        if value.nlst_only and verb != "NLST":
            continue
        if value.list_only and verb != "LIST":
            continue
        return value
    return None


def split_argument(arg: Optional[str]) -> Tuple[List[str], Optional[str]]:
    """``(option words, path)`` of a LIST/NLST argument: the leading words that start
    with ``-`` are options; the path is what follows (None if nothing does)."""
    if arg is None:
        return [], None
    words = arg.split(" ")
    options = []
    while words and words[0].startswith("-") and len(words[0]) > 1:
        options.append(words.pop(0))
    return options, " ".join(words) or None


def _letters(word: str) -> str:
    out = []
    for c in word[1:]:
        if not c.isalnum():
            break
        out.append(c)
    return "".join(out)


class Sticky:
    """mod_ls's options that outlive a listing: its opt_c, opt_u, opt_U and ls_sort_by
    are cleared by nothing but a ``+c``/``+u``/``+U`` of ListOptions, so once a LIST,
    NLST or STAT used them they stay on for the session."""

    def __init__(self):
        self.c = self.u = self.unsorted = False
        self.time = "st_mtime"      # ls_sort_by: the time shown and sorted by
        #: what STAT keeps of the LIST or NLST before it: mod_ls's STAT clears only its
        #: opt_C, opt_d, opt_F, opt_R, so -h, -n and -L stay as that command left them
        #: (LIST clears all before its options, NLST all but -h; measured)
        self.carried: frozenset = frozenset()


def _turn_on(flags: Set[str], verb: str, letter: str, sticky: Sticky) -> None:
    if letter == "1":
        if verb != "STAT":
            flags.add("1")
            flags.difference_update("lC")
    elif letter == "l":
        if verb != "NLST":
            flags.add("l")
            flags.difference_update("1C")
    elif letter == "C":
        if verb != "NLST":
            flags.add("C")
            flags.discard("l")
    elif letter in "Fhn":
        if verb != "NLST":
            flags.add(letter)
    elif letter in "aAdLRrSt":
        flags.add(letter)
    elif letter == "c":
        sticky.c = True
        sticky.time = "st_ctime"
    elif letter == "u":
        sticky.u = True
        sticky.time = "st_atime"
    elif letter == "U":
        # opt_c = opt_S = opt_t = 0, ls_sort_by left as it was
        sticky.unsorted = True
        sticky.c = False
        flags.difference_update("St")


def _turn_off(flags: Set[str], letter: str, sticky: Sticky) -> None:
    if letter == "1":
        flags.difference_update("1lC")      # mod_ls: opt_1 = opt_l = opt_C = 0
    elif letter in "lC":
        flags.difference_update("lC")       # opt_l = opt_C = 0
    elif letter in "aAdFhLnRrSt":
        flags.discard(letter)
    elif letter == "c":
        sticky.c = False
        sticky.time = "st_atime" if sticky.u else "st_mtime"
    elif letter == "u":
        sticky.u = False
        sticky.time = "st_ctime" if sticky.c else "st_mtime"
    elif letter == "U":
        sticky.unsorted = False


class Listing:
    """One LIST/NLST/STAT: its options (``has``), its path, and mod_ls's counters.

    The limits are 0 for none; ``max_depth`` is the configured one plus one, as mod_ls
    keeps it, and ``depth`` counts the directory being listed as the first level."""

    def __init__(self, verb: str, flags, config=None, path: Optional[str] = None,
                 sticky: Optional[Sticky] = None):
        self.verb = verb
        self.flags = frozenset(flags)
        sticky = sticky if sticky is not None else Sticky()
        #: the stat field -l shows and -t sorts by (-c, -u)
        self.time_field = sticky.time
        #: -U: readdir(3) order, nothing sorted or put in columns
        self.unsorted = sticky.unsorted
        self.path = path
        self.max_files = config.max_files if config is not None else 0
        self.max_dirs = config.max_dirs if config is not None else 0
        depth = config.max_depth if config is not None else 0
        self.max_depth = depth + 1 if depth else 0
        self.no_error_if_absent = config is not None and config.no_error_if_absent
        self.files = self.dirs = self.depth = 0

    def has(self, letter: str) -> bool:
        return letter in self.flags

    @property
    def plain(self) -> bool:
        """Whether a plain ``ls -l`` (JailedFS.listing) writes this LIST."""
        return (self.has("l") and self.flags <= _PLAIN_LIST and not self.limited
                and not self.unsorted and self.time_field == "st_mtime")

    @property
    def limited(self) -> bool:
        return bool(self.max_files or self.max_dirs or self.max_depth)

    # mod_ls compares each counter only once it is not zero ("curr && max && curr >= max")
    def files_reached(self) -> bool:
        return bool(self.files and self.max_files and self.files >= self.max_files)

    def dirs_reached(self) -> bool:
        return bool(self.dirs and self.max_dirs and self.dirs >= self.max_dirs)

    def depth_reached(self) -> bool:
        return bool(self.depth and self.max_depth and self.depth >= self.max_depth)

    def take_file(self) -> bool:
        """listfile()'s check: False once ``maxfiles`` entries were listed, else the
        entry counts (whether it is then shown or not)."""
        if self.files_reached():
            return False
        self.files += 1
        return True

    def nlst_cut(self, names: list) -> list:
        """nlstdir()'s limit, which counts after sending: one name more than
        ``maxfiles`` goes out."""
        if self.max_files and len(names) > self.max_files + 1:
            return names[:self.max_files + 1]
        return names


def for_command(verb: str, arg: Optional[str], values: Sequence = (),
                sticky: Optional[Sticky] = None) -> Listing:
    """The :class:`Listing` for ``verb`` (LIST, NLST or STAT) with the client's argument
    ``arg`` (STAT's without its options), the session's ``ListOptions`` lines and its
    :class:`Sticky` options (updated)."""
    sticky = sticky if sticky is not None else Sticky()
    config = applicable(values, verb)
    words, path = split_argument(arg) if verb != "STAT" else ([], arg)
    flags = set(_START[verb])
    if verb == "STAT":
        flags |= sticky.carried
    if config is None or not config.strict:
        for word in words:
            for letter in _letters(word):
                _turn_on(flags, verb, letter, sticky)
    if config is not None:
        _apply_configured(flags, verb, config.options, sticky)
    if verb == "LIST":
        sticky.carried = frozenset(flags & _CARRIED)
    elif verb == "NLST":
        sticky.carried = frozenset((sticky.carried & {"h"}) | (flags & _CARRIED))
    return Listing(verb, flags, config, path, sticky)


#: the options a STAT lists with if the LIST or NLST before it had them
_CARRIED = frozenset("hnL")


def _apply_configured(flags: Set[str], verb: str, options: str, sticky: Sticky) -> None:
    """parse_list_opts() on the ListOptions string: its ``-`` words, then its ``+``
    words; a word with a character that is neither a letter nor a digit ends it."""
    words = options.split()
    i = 0
    for sign, apply in (("-", lambda c: _turn_on(flags, verb, c, sticky)),
                        ("+", lambda c: _turn_off(flags, c, sticky))):
        while i < len(words) and words[i].startswith(sign):
            letters = _letters(words[i])
            for c in letters:
                apply(c)
            if len(letters) != len(words[i]) - 1:
                return
            i += 1
