# -*- test-case-name: tests.test_config -*-
"""The lexical layer of ProFTPD's configuration language (doc/config-syntax.rst).

This module owns turning files into a flat stream of :class:`Line` objects, each one a
directive name with its argument words and the :class:`~ftpredis.config.model.Source` it
came from.  It knows about physical lines, continuation, comments, quoting,
``%{env:NAME}``, section brackets and the constructs that decide *which* lines are read
at all: ``<IfModule>``, ``<IfDefine>``, ``Define``, ``Include``, ``IncludeOptions`` and
the module names ``LoadModule`` lines load.  It knows nothing about what a directive
means; :mod:`ftpredis.config.directives` does (and says, through ``turns_off``, whether
a line only turns a module off, and through ``modules_of``, which modules ftpredis does
not provide a directive belongs to).

``<IfModule mod_x.c>`` of a module ProFTPD would have but ftpredis does not provide
(``LoadModule``'d above, or compiled into ProFTPD) is skipped, as ftpredis cannot apply
it; since ProFTPD would read it, a body that does more than turn the module off is an
error (loaded) or a warning (compiled in), with the file and line.  A directive of such a
module outside any ``<IfModule>`` is judged by the same rule, but what does more than turn
the module off is an error either way (ProFTPD would apply it whatever it has compiled
in); a refused section (mod_ifsession's ``<IfUser>``) is skipped to its close.  Above
the ``LoadModule`` line, or with none, it is left to the caller's "unknown directive",
as ProFTPD has it.

Differences from ProFTPD 1.3.8 (extensions, all documented in README.rst):

- A relative ``Include`` path is resolved against the directory of the file that
  contains the ``Include`` line (ProFTPD refuses relative paths).
- A config file that is not valid UTF-8 is refused line by line with a clear error
  instead of passing raw bytes on.
"""

from __future__ import annotations

import glob
import os
import stat
from dataclasses import dataclass
from typing import Callable, Iterable, List, Mapping, Optional, Tuple

from ftpredis.config.model import ConfigError, Source
from ftpredis.config.unprovided import contexts_of

#: The modules whose ``<IfModule mod_x.c>`` sections are true: what ftpredis provides.
PROVIDED_MODULES = frozenset(
    """mod_core.c mod_auth.c mod_auth_file.c mod_auth_unix.c mod_xfer.c mod_ls.c
    mod_log.c mod_site.c mod_facts.c mod_redis.c mod_ban.c mod_tls.c
    mod_prometheus.c mod_unique_id.c mod_proxy_protocol.c mod_sftp.c""".split()
)

#: Modules ProFTPD 1.3.8 has compiled in as Debian builds it (``proftpd -l``), beyond
#: those ftpredis provides: ProFTPD reads their ``<IfModule>`` blocks with no LoadModule.
BUILT_IN_MODULES = frozenset(
    "mod_rlimit.c mod_delay.c mod_dso.c mod_auth_pam.c mod_cap.c mod_ctrls.c "
    "mod_lang.c".split())

MAX_INCLUDE_DEPTH = 64

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class Line:
    """One logical config line: ``name`` as written (``<Name>`` / ``</Name>`` for
    section brackets, without the ``>``), its argument words, and where it was."""

    name: str
    args: Tuple[str, ...]
    source: Source

    @property
    def is_open(self) -> bool:
        return self.name.startswith("<") and not self.name.startswith("</")

    @property
    def is_close(self) -> bool:
        return self.name.startswith("</")


# --------------------------------------------------------------------------- lines

def physical_lines(data: bytes) -> Iterable[Tuple[int, bytes, bool]]:
    """Yield ``(line number, text, had newline)`` for every physical line."""
    lines = data.split(b"\n")
    last = lines.pop()
    for number, text in enumerate(lines, 1):
        yield number, text, True
    if last:
        yield len(lines) + 1, last, False


def logical_lines(data: bytes, filename: str,
                  warn: Callable[[str], None]) -> Iterable[Tuple[int, bytes]]:
    """Yield ``(first line number, text)`` for every logical line (doc/config-syntax.rst,
    "Logical lines").

    The trailing ``\\n`` is gone, then one ``\\r``.  A backslash right before the
    newline joins the next physical line with no separator; one before ``\\r\\n`` does
    not.  A comment line ending in a backslash is dropped, not joined.
    """
    pending: Optional[bytes] = None
    start = 0
    for number, text, had_newline in physical_lines(data):
        if not had_newline:
            warn("handling possibly truncated configuration data at line %d of '%s'"
                 % (number, filename))
        continued = text.endswith(b"\\")
        if continued:
            text = text[:-1]
        elif text.endswith(b"\r"):
            text = text[:-1]
        if pending is None:
            if continued and text.lstrip().startswith(b"#"):
                continue
            start = number
            pending = text
        else:
            pending += text
        if not continued:
            yield start, pending
            pending = None
    if pending is not None:
        yield start, pending


# --------------------------------------------------------------------------- words

def split_words(text: str, comments: bool = True) -> List[str]:
    """Split one logical line into words, quotes and ``#`` handled (doc/config-syntax.rst,
    "Words and quoting").

    A quote counts only at the start of a word; inside it a backslash takes the next
    character literally; an unterminated quote runs to the end of the line; text after
    a closing quote starts a new word.  Outside quotes a backslash is literal.
    """
    words: List[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n\f\v":
            i += 1
        if i >= n:
            break
        if comments and text[i] == "#":
            break
        if text[i] == '"':
            i += 1
            out = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                out.append(text[i])
                i += 1
            i += 1      # the closing quote (or the end of the line)
            words.append("".join(out))
        else:
            j = i
            while j < n and text[j] not in " \t\r\n\f\v":
                j += 1
            words.append(text[i:j])
            i = j
    return words


def substitute_env(word: str, environ: Mapping[str, str]) -> str:
    """Replace every ``%{env:NAME}`` with the variable's value ("" when unset)."""
    if len(word) <= 7 or "%{env:" not in word:
        return word
    out = []
    i = 0
    while True:
        j = word.find("%{env:", i)
        if j < 0:
            break
        k = word.find("}", j + 6)
        if k < 0:
            break       # an unterminated %{env: stays as it is
        out.append(word[i:j])
        out.append(environ.get(word[j + 6:k], ""))
        i = k + 1
    out.append(word[i:])
    return "".join(out)


def words_of(text: str, environ: Mapping[str, str]) -> List[str]:
    """The words of a line, after quoting and environment substitution."""
    result: List[str] = []
    for word in split_words(text):
        new = substitute_env(word, environ)
        if new != word and " " in new:
            # ProFTPD issue #2002: a substituted value with spaces becomes several words.
            result.extend(split_words(new, comments=False))
        else:
            result.append(new)
    return result


def make_line(words: List[str], source: Source) -> Line:
    """Turn the words of a line into a :class:`Line`, brackets folded (doc/config-syntax.rst,
    "Section brackets")."""
    name = words[0]
    args = list(words[1:])
    if name.startswith("<"):
        if args and args[-1].endswith(">"):
            last = args.pop()[:-1]
            if last:
                args.append(last)
        elif name.endswith(">"):
            name = name[:-1]
        else:
            raise ConfigError("%s>: missing closing '>'" % (name,), source)
        name += ">"
    return Line(name, tuple(args), source)


# --------------------------------------------------------------------------- reader

class _Frame:
    """An open ``<IfModule>``/``<IfDefine>`` whose condition held."""

    __slots__ = ("name", "source")

    def __init__(self, name, source):
        self.name = name
        self.source = source


class _Skip:
    """An ``<IfModule>``/``<IfDefine>`` whose body is not read.  ``module`` is set when
    ProFTPD would read it (a module LoadModule'd or compiled in that ftpredis does not
    provide): then the body is checked, and ``offender`` is its first line that does
    more than turn the module off, as ``(line number, text)``."""

    __slots__ = ("kind", "source", "depth", "module", "loaded_on", "offender", "name")

    def __init__(self, kind, source, module=None, loaded_on=None, name=None):
        self.kind = kind                # "ifmodule", "ifdefine", or a refused section's
        self.name = name or {"ifmodule": "<IfModule>", "ifdefine": "<IfDefine>"}[kind]
        self.source = source            # the opening line
        self.depth = 0                  # nested sections of the same kind
        self.module = module
        self.loaded_on = loaded_on      # the LoadModule line; None: compiled in
        self.offender = None


_CONDITIONALS = ("<ifmodule", "</ifmodule", "<ifdefine", "</ifdefine")

#: sections that are contexts, by lower-case name, as ProFTPD's errors name them
_CONTEXTS = {"<virtualhost>": "<VirtualHost>", "<global>": "<Global>",
             "<anonymous>": "<Anonymous>", "<directory>": "<Directory>",
             "<limit>": "<Limit>", "<class>": "<Class>"}


class Reader:
    """Read a config file and everything it includes into a list of :class:`Line`.

    Errors and warnings are collected, never raised, so that one run reports them all.
    """

    def __init__(self, defines: Iterable[str] = (), environ: Optional[Mapping[str, str]] = None,
                 turns_off: Optional[Callable[[List[str]], bool]] = None,
                 modules_of: Optional[Callable[[str], Tuple[str, ...]]] = None):
        self.defines = set(defines)
        self.environ = os.environ if environ is None else environ
        #: module name -> the LoadModule line that loaded it (ProFTPD loads it there and
        #: then: an <IfModule> above that line is false)
        self.loaded: dict = {}
        self.turns_off = turns_off or (lambda words: False)
        self.modules_of = modules_of or (lambda name: ())
        self.lines: List[Line] = []
        self.files: List[str] = []      # every file read, in reading order
        self.errors: List[ConfigError] = []
        #: for each error, how many lines had been read when it was found (for sorting)
        self.error_positions: List[int] = []
        self.warnings: List[str] = []
        self.ignore_temp_files = False
        self.allow_symlinks = False
        #: the sections open at this point (lower-case names), across included files:
        #: an unprovided directive's context (:meth:`_unprovided`)
        self._sections: List[str] = []

    def _error(self, error: ConfigError) -> None:
        self.errors.append(error)
        self.error_positions.append(len(self.lines))

    # -- entry point ---------------------------------------------------------------

    def read_top(self, path: str) -> None:
        """Read the main config file; an unreadable one is the single error."""
        try:
            with open(path, "rb") as f:
                data = f.read()
            mode = os.stat(path).st_mode
        except OSError as e:
            self._error(ConfigError("unable to read configuration file '%s': %s"
                                           % (path, e.strerror)))
            return
        if stat.S_ISDIR(mode):
            self._error(ConfigError("unable to read configuration file '%s': %s"
                                           % (path, os.strerror(21))))
            return
        self._check_writable(path, mode)
        self._parse(data, path, 0)

    def _check_writable(self, path: str, mode: int) -> None:
        if mode & stat.S_IWOTH:
            self.warnings.append("config file '%s' is world-writable" % (path,))

    # -- one file ------------------------------------------------------------------

    def _parse(self, data: bytes, filename: str, depth: int) -> None:
        if filename not in self.files:
            self.files.append(filename)
        frames: List[_Frame] = []
        skipping: Optional[_Skip] = None
        for number, raw in logical_lines(data, filename, self.warnings.append):
            source = Source(filename, number)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                self._error(ConfigError("invalid UTF-8 in configuration line", source))
                continue
            if "\x00" in text:
                # ProFTPD's C strings would end the line there, silently; no path or
                # word can hold one
                self._error(ConfigError("NUL byte in configuration line", source))
                continue
            stripped = text.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if skipping is not None:
                kind = skipping.kind
                low = stripped.lower()
                if low.startswith("<" + kind):
                    skipping.depth += 1
                elif low == "</%s>" % kind:
                    if skipping.depth == 0:
                        self._skipped(skipping)
                        skipping = None
                    else:
                        skipping.depth -= 1
                elif (skipping.module is not None and skipping.offender is None
                      and not low.startswith(_CONDITIONALS)):
                    words = words_of(text, self.environ)
                    if not self.turns_off(words):
                        skipping.offender = (number, " ".join(words))
                continue
            words = words_of(text, self.environ)
            if not words:
                continue
            try:
                line = make_line(words, source)
            except ConfigError as e:
                self._error(e)
                continue
            low = line.name.lower()
            if low in ("<ifmodule>", "<ifdefine>"):
                kind = low[1:-1]
                canonical = "<IfModule>" if kind == "ifmodule" else "<IfDefine>"
                if len(line.args) != 1:
                    self._error(ConfigError("%s: wrong number of parameters"
                                                   % canonical, source))
                    # Read the body, so that its close does not cause a second error.
                    frames.append(_Frame(canonical, source))
                else:
                    skipping = self._open(kind, line.args[0], source)
                    if skipping is None:
                        frames.append(_Frame(canonical, source))
            elif low in ("</ifmodule>", "</ifdefine>"):
                canonical = "</IfModule>" if low == "</ifmodule>" else "</IfDefine>"
                if line.args:
                    self._error(ConfigError("%s: wrong number of parameters: %s"
                                                   % (canonical, " ".join(line.args)),
                                                   source))
                if frames and frames[-1].name.lower() == "<" + low[2:]:
                    frames.pop()
                else:
                    self._error(ConfigError("%s: no matching <%s section"
                                                   % (canonical, canonical[2:]), source))
            elif low == "define":
                if not line.args:
                    self._error(ConfigError("Define: missing parameters", source))
                else:
                    self.defines.update(line.args)
            elif low == "loadmodule":
                if line.args:
                    self.loaded.setdefault(line.args[0], source)
                self.lines.append(line)
            elif low == "includeoptions":
                self._include_options(line)
            elif low == "include":
                if len(line.args) != 1:
                    self._error(ConfigError("Include: wrong number of parameters",
                                                   source))
                else:
                    self._include(line.args[0], filename, source, depth)
            elif not self._unprovided(line):
                self.lines.append(line)
                if line.is_open:
                    self._sections.append(low)
                elif line.is_close and self._sections and \
                        self._sections[-1] == "<" + low[2:]:
                    self._sections.pop()
            elif line.is_open:
                skipping = _Skip(low[1:-1], source, name=line.name)
        if skipping is not None:
            self._error(ConfigError("unclosed %s context" % skipping.name, skipping.source))
        for frame in frames:
            self._error(ConfigError("unclosed %s context" % frame.name, frame.source))

    def _open(self, kind: str, arg: str, source: Source) -> Optional[_Skip]:
        """None when the body is to be read, else how to skip it.

        A module is present, for ``<IfModule>``, when ftpredis provides it, when a
        LoadModule line above loaded it, or when ProFTPD has it compiled in: those are
        the blocks ProFTPD reads.  ftpredis reads the first kind; the others' blocks are
        checked while skipped (:meth:`_skipped`)."""
        negate = arg.startswith("!")
        name = arg[1:] if negate else arg
        if kind == "ifdefine":
            return None if (name in self.defines) != negate else _Skip(kind, source)
        present = (name in PROVIDED_MODULES or name in self.loaded
                   or name in BUILT_IN_MODULES)
        if present == negate:
            return _Skip(kind, source)
        if negate or name in PROVIDED_MODULES:
            return None
        return _Skip(kind, source, name, self.loaded.get(name))

    def _skipped(self, skip: _Skip) -> None:
        """The end of a skipped block: one ProFTPD would read is refused if it does more
        than turn its module off (LoadModule'd: an error, as it would change what the
        server does, mod_wrap2's access rules say; compiled in: a warning)."""
        if skip.module is None or skip.offender is None:
            return
        number, text = skip.offender
        what = "<IfModule %s>" % skip.module
        if skip.loaded_on is not None:
            self._error(ConfigError(
                "%s: ftpredis does not provide %s (loaded on %s), and this block does "
                "more than turn it off (line %d: %s)"
                % (what, skip.module, skip.loaded_on, number, _shorten(text)), skip.source,
                "ProFTPD would apply it: remove the block, or the LoadModule line"))
        else:
            self.warnings.append(
                "%s on %s skipped: ftpredis does not provide %s, which ProFTPD has "
                "compiled in, and this block does more than turn it off (line %d: %s)"
                % (what, skip.source, skip.module, number, _shorten(text)))

    def _unprovided(self, line: Line) -> bool:
        """Whether ``line`` is a directive of a module ftpredis does not provide that
        ProFTPD has at this point (LoadModule'd above, or compiled in), and so has been
        dealt with here: one that only turns the module off (the rule of the blocks,
        ``turns_off``) is dropped with a warning; any other is an error, as ProFTPD would
        apply it and ftpredis cannot."""
        present = [m for m in self.modules_of(line.name)
                   if m in self.loaded or m in BUILT_IN_MODULES]
        if not present:
            return False
        module = present[0]
        allowed = contexts_of(line.name)
        context = self._context()
        if allowed is not None and context not in allowed:
            # ProFTPD's CHECK_CONF: fatal wherever the module is, whatever the line does
            self._error(ConfigError("%s: directive not allowed in %s context"
                                    % (line.name, context), line.source,
                                    "allowed in %s" % ", ".join(allowed)))
            return True
        loaded_on = self.loaded.get(module)
        how = ("loaded on %s" % (loaded_on,) if loaded_on is not None
               else "compiled into ProFTPD")
        if not line.is_open and self.turns_off([line.name, *line.args]):
            self.warnings.append(
                "%s on %s ignored: it turns off %s (%s), which ftpredis does not provide"
                % (" ".join((line.name,) + line.args), line.source, module, how))
        else:
            self._error(ConfigError(
                "%s: ftpredis does not provide %s (%s) and cannot apply this directive"
                % (line.name, module, how), line.source,
                "ProFTPD would apply it: remove it (only turning the module off is "
                "accepted)"))
        return True

    def _context(self) -> str:
        """The context a line read now is in, as ProFTPD's errors name it: the innermost
        open section that is one, else the server config."""
        for name in reversed(self._sections):
            context = _CONTEXTS.get(name)
            if context is not None:
                return context
        return "server config"

    def _include_options(self, line: Line) -> None:
        if not line.args:
            self._error(ConfigError("IncludeOptions: missing parameters", line.source))
        for arg in line.args:
            if arg == "IgnoreTempFiles":
                self.ignore_temp_files = True
            elif arg == "AllowSymlinks":
                self.allow_symlinks = True
            else:
                self._error(ConfigError("IncludeOptions: unknown IncludeOption: '%s'"
                                               % arg, line.source))

    # -- Include -------------------------------------------------------------------

    def _include(self, path: str, including: str, source: Source, depth: int) -> None:
        if not path:
            self._error(ConfigError("unable to use path for configuration file ''",
                                           source))
            return
        if not os.path.isabs(path):
            path = os.path.join(os.path.dirname(os.path.abspath(including)), path)
        if depth + 1 > MAX_INCLUDE_DEPTH:
            self._error(ConfigError("Include: maximum include depth (%d) exceeded "
                                           "including '%s'" % (MAX_INCLUDE_DEPTH, path),
                                           source))
            return
        if _GLOB_CHARS.intersection(path):
            matches = sorted(glob.glob(path), key=lambda p: p.split("/"))
            if not matches:
                self.warnings.append("unable to include '%s': no matching files on %s"
                                     % (path, source))
            for match in matches:
                self._include_path(match, source, depth, from_glob=True)
        else:
            self._include_path(path, source, depth, from_glob=False)

    def _include_path(self, path: str, source: Source, depth: int, from_glob: bool) -> None:
        try:
            lst = os.lstat(path)
            st = os.stat(path)
        except OSError as e:
            if from_glob:
                self._error(ConfigError("Include: unable to include '%s': %s"
                                               % (path, e.strerror), source))
            else:
                self.warnings.append("unable to include '%s': %s on %s"
                                     % (path, e.strerror, source))
            return
        if stat.S_ISDIR(st.st_mode):
            if stat.S_ISLNK(lst.st_mode) and not self.allow_symlinks:
                self._error(ConfigError(
                    "Include: unable to include '%s': symlinked directory (use "
                    "'IncludeOptions AllowSymlinks')" % path, source))
                return
            try:
                names = sorted(os.listdir(path))
            except OSError as e:
                self._error(ConfigError("Include: unable to read directory '%s': %s"
                                               % (path, e.strerror), source))
                return
            for name in names:
                if self._is_temp(name):
                    continue
                child = os.path.join(path, name)
                if depth + 2 > MAX_INCLUDE_DEPTH:
                    self._error(ConfigError(
                        "Include: maximum include depth (%d) exceeded including '%s'"
                        % (MAX_INCLUDE_DEPTH, child), source))
                    return
                self._include_path(child, source, depth + 1, from_glob=True)
            return
        if from_glob and self._is_temp(os.path.basename(path)):
            return
        if not stat.S_ISREG(st.st_mode):
            self._error(ConfigError("Include: unable to include '%s': not a regular "
                                           "file" % path, source))
            return
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            self._error(ConfigError("Include: unable to include '%s': %s"
                                           % (path, e.strerror), source))
            return
        self._check_writable(path, st.st_mode)
        self._parse(data, path, depth + 1)

    def _is_temp(self, name: str) -> bool:
        if not self.ignore_temp_files:
            return False
        return name.endswith("~") or (len(name) >= 4 and name[-4:-1] == ".sw")


def _shorten(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def read_config(path: str, defines: Iterable[str] = (),
                environ: Optional[Mapping[str, str]] = None,
                turns_off: Optional[Callable[[List[str]], bool]] = None,
                modules_of: Optional[Callable[[str], Tuple[str, ...]]] = None) -> Reader:
    """Read ``path`` (and its includes); the result holds lines, errors and warnings.
    ``turns_off(words)`` says whether a line only turns a module off (see
    :meth:`Reader._skipped`); without it every line of such a block counts as more.
    ``modules_of(name)``: the modules ftpredis does not provide that have the directive
    (see :meth:`Reader._unprovided`); without it none has."""
    reader = Reader(defines, environ, turns_off, modules_of)
    reader.read_top(path)
    return reader
