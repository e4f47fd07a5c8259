# -*- test-case-name: tests.test_config_dirmatch -*-
"""Which ``<Directory>`` sections apply to a real path: the one matcher every caller uses.

This module owns ProFTPD 1.3.8's rules for matching a ``<Directory>`` pattern against a
real (absolute, normalised) path, as observed against the real server and written up in
doc/directory-matching.md:

- ``<Directory /a/b>`` applies to ``/a/b`` itself and everything below it;
- ``<Directory /a/b/*>`` applies only to what is below ``/a/b``, never to ``/a/b``
  itself (not for settings such as Umask or AllowOverwrite, not for ``<Limit>``, not for
  the logging context);
- glob characters (``*``, ``?``, ``[...]``) anywhere in the pattern are matched the way
  ProFTPD calls fnmatch: without FNM_PATHNAME, so ``*`` also crosses ``/``; a glob
  pattern applies to what it matches and to everything below that;
- ``~`` and ``~/...`` stand for the session user's home (``home``), ``~name`` for the
  home of ``name`` when the caller knows it (``homes``); without one the section matches
  nothing, as an unknown ``~user`` matches nothing in ProFTPD.

When several sections apply the most specific comes first: the longer pattern (without
its trailing ``/*``), and for equal ones the ``/*`` form, which only reaches below.
"""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache
from typing import Callable, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = ["pattern_matches", "specificity", "applicable", "most_specific", "dir_setting",
           "normal_path"]

_GLOB = re.compile(r"[*?\[]")
Homes = Union[Mapping[str, str], Callable[[str], Optional[str]], None]


def normal_path(real: str) -> str:
    """``real`` without a trailing ``/`` (the root stays ``/``)."""
    if len(real) > 1:
        real = real.rstrip("/") or "/"
    return real


def _expand(pattern: str, home: Optional[str], homes: Homes) -> Optional[str]:
    """``pattern`` with a leading ``~`` or ``~name`` replaced; None if it cannot be."""
    if not pattern.startswith("~"):
        return pattern
    head, sep, tail = pattern.partition("/")
    name = head[1:]
    if not name:
        base = home
    elif homes is None:
        base = None
    elif callable(homes):
        base = homes(name)
    else:
        base = homes.get(name)
    if not base:
        return None
    base = normal_path(base)
    if not sep:
        return base
    return (base.rstrip("/") + "/" + tail) if tail else base + "/"


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Tuple[str, "re.Pattern", Optional["re.Pattern"]]:
    """``(bare, below, whole)``: the pattern without trailing ``/`` or ``/*``, a regex for
    "strictly below a match", and (glob patterns without ``/*`` only) one for "a match"."""
    below_only = pattern.endswith("/*") and len(pattern) >= 2
    bare = pattern[:-2] if below_only else pattern
    if len(bare) > 1:
        bare = bare.rstrip("/")
    if not bare:
        bare = "/"
    suffixed = bare + "*" if bare == "/" else bare + "/*"
    below = re.compile(fnmatch.translate(suffixed), re.DOTALL)
    whole = None
    if not below_only and _GLOB.search(bare):
        whole = re.compile(fnmatch.translate(bare), re.DOTALL)
    return bare, below, whole


def pattern_matches(pattern: str, real: str, home: Optional[str] = None,
                    homes: Homes = None) -> bool:
    """Whether the ``<Directory pattern>`` section applies to the real path ``real``."""
    expanded = _expand(pattern, home, homes)
    if expanded is None:
        return False
    real = normal_path(real)
    bare, below, whole = _compiled(expanded)
    if expanded == real or (not expanded.endswith("/*") and bare == real):
        return True
    if below.match(real) is not None:
        return True
    return whole is not None and whole.match(real) is not None


def specificity(pattern: str) -> Tuple[int, int]:
    """Sort key: larger is more specific (longer base; ``/*`` before the plain form)."""
    below_only = pattern.endswith("/*")
    bare = pattern[:-2] if below_only else pattern
    return (len(bare.rstrip("/")), 1 if below_only else 0)


def applicable(directories: Sequence, real: Optional[str], home: Optional[str] = None,
               homes: Homes = None) -> List:
    """The sections of ``directories`` (objects with a ``path``, e.g.
    :class:`~ftpredis.config.model.DirectoryConfig`) that apply to ``real``, most specific
    first; equally specific ones keep their config order."""
    if not real:
        return []
    found = [d for d in directories if pattern_matches(d.path, real, home, homes)]
    found.sort(key=lambda d: specificity(d.path), reverse=True)
    return found


def most_specific(directories: Sequence, real: Optional[str], home: Optional[str] = None,
                  homes: Homes = None):
    """The most specific section that applies to ``real``, or None."""
    found = applicable(directories, real, home, homes)
    return found[0] if found else None


def dir_setting(directories: Sequence, real: Optional[str], attr: str, default,
                home: Optional[str] = None, homes: Homes = None):
    """The setting ``attr`` of the most specific section that applies to ``real`` and
    sets it (not None), else ``default``."""
    for d in applicable(directories, real, home, homes):
        value = getattr(d, attr)
        if value is not None:
            return value
    return default


def section_setting(server, anonymous, real: Optional[str], attr: str):
    """``attr`` for ``real`` in a session of ``server``, <Anonymous> section
    ``anonymous`` or None: the most specific <Directory> that sets it (the section's
    own first), else the section's, else None (the caller has the server's)."""
    dirs = list(server.directories)
    if anonymous is not None:
        dirs = list(anonymous.directories) + dirs
    value = dir_setting(dirs, real, attr, None)
    if value is None and anonymous is not None:
        value = getattr(anonymous, attr)
    return value
