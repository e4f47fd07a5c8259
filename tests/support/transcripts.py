# -*- test-case-name: tests.test_transcripts -*-
"""The client runs of the side-by-side session transcripts: ``lftp`` and ``curl``
against one server, each dialogue normalised, and two runs matched exchange by exchange.

This module owns the client half of the comparison: one ``lftp`` script (login, ls, cls -l
over MLSD, put, get, resumed get and put, mkdir/mv/chmod/rm/rmdir, mirror up and down)
and a set of ``curl`` runs (listing, NLST, download, upload, ``-C -`` both ways, EPSV,
PASV, EPRT, PORT, ``-Q`` commands), each run as a subprocess against each server.  Each
run's control-channel dialogue is taken from the client itself (lftp's ``debug -o FILE 5``
``--->``/``<---`` lines, curl ``-v``'s ``> ``/``< `` lines), stripped of what differs
between any two runs (ports, PASV/EPSV numbers, dates, temp paths), and the two
dialogues are matched command by command.  Every run also checks that what it
transferred arrived intact and the file trees of both servers are compared.

The servers, sites, private redis-servers and users come from
:mod:`tests.support.ftpsite` (``run_one``).  ``tests/test_transcripts.py`` runs the ftpredis
half; ``tools/transcripts.py`` runs both servers and prints the report.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import random
import re
import subprocess
from typing import Callable, Dict, List, Optional, Tuple

from tests.support.ftpsite import FTPRedisRun, PASSWORD, ProFTPDRun, USER, run_one

# Restarts in both directions are what the resume runs exercise (ProFTPD's
# AllowStoreRestart is off by default).
BODY = """\
AllowStoreRestart on
AllowRetrieveRestart on
"""


def _data(seed: int, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


DOWN = _data(1, 300000)           # on the server from the start
UP = _data(2, 200000)             # uploaded whole
RESUME_UP = _data(3, 250000)      # on the server truncated, resumed by put -c / curl -C -
TREE = {"a.txt": b"alpha\n", "sub/b.bin": _data(4, 70000), "sub/deeper/c.txt": b"c\n"}

FILES = {"down.bin": DOWN, "resume-lftp.bin": RESUME_UP[:100000],
         "resume-curl.bin": RESUME_UP[:60000], "quoted/": b""}

LFTP_SETTINGS = ("set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 10; "
                 "set net:reconnect-interval-base 1; set ftp:ssl-allow no; "
                 "set xfer:clobber on; set ftp:passive-mode on; ")


class ClientRun:
    """One client invocation against one server: its dialogue and whether it worked."""

    def __init__(self, name: str, client: str, argv: List[str]):
        self.name, self.client, self.argv = name, client, argv
        self.returncode: Optional[int] = None
        self.raw: List[str] = []            # the dialogue as the client printed it
        self.dialogue: List[str] = []       # normalised "> CMD" / "< reply" lines
        self.checks: List[Tuple[str, bool]] = []
        self.files: Dict[str, str] = {}     # path -> sha256 after the run
        self.stderr = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and all(ok for _, ok in self.checks)

    def commands(self) -> List[str]:
        return [line[2:] for line in self.dialogue if line.startswith("> ")]


# ---------------------------------------------------------------------------------------
# Normalisation of a dialogue

_NORMALISE = [
    (re.compile(r"^> PASS .*"), "> PASS <hidden>"),
    (re.compile(r"\(\d+,\d+,\d+,\d+,\d+,\d+\)"), "(<PASV>)"),
    (re.compile(r"\(\|\|\|\d+\|\)"), "(|||<PORT>|)"),
    (re.compile(r"^> PORT (\d+,\d+,\d+,\d+),\d+,\d+$"), r"> PORT \1,<PORT>"),
    (re.compile(r"^> EPRT \|(\d)\|([^|]*)\|\d+\|$"), r"> EPRT |\1|\2|<PORT>|"),
    (re.compile(r"\b\d{14}(?:\.\d{1,6})?\b"), "<TIME>"),
    # MLST's unique fact is the file's device and inode.
    (re.compile(r"\bunique=[^;]*;"), "unique=<DEV.INO>;"),
]


def normalise_line(line: str, subst: List[Tuple[str, str]]) -> str:
    for text, marker in subst:
        line = line.replace(text, marker)
    for rx, repl in _NORMALISE:
        line = rx.sub(repl, line)
    return line.rstrip()


def lftp_dialogue(text: str) -> List[str]:
    """The ``--->``/``<---`` lines of lftp's debug output, a ``(connect)`` per session."""
    out = []
    for line in text.splitlines():
        if line.startswith("---> "):
            out.append("> " + line[5:])
        elif line.startswith("<--- "):
            out.append("< " + line[5:])
        elif line.startswith("---- Connecting to "):
            out.append("* (connect)")
    return out


def curl_dialogue(text: str) -> List[str]:
    out = []
    for line in text.splitlines():
        if line.startswith(("> ", "< ")):
            out.append(line)
        elif line.startswith("* Connected to ") and not out:
            out.append("* (connect)")
    return out


# ---------------------------------------------------------------------------------------
# The client runs

class Env:
    """What a client run needs: the site's port and paths, a place for local files."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.port = ctx.port
        self.home = ctx.home
        self.base = ctx.site.base
        self.local = os.path.join(self.base, "client")
        self.logs = os.path.join(self.base, "logs")
        os.makedirs(self.local, exist_ok=True)
        os.makedirs(self.logs, exist_ok=True)

    def url(self, path=""):
        return "ftp://%s:%s@127.0.0.1:%d/%s" % (USER, PASSWORD, self.port, path)

    def put_local(self, rel: str, data: bytes) -> str:
        path = os.path.join(self.local, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def local_path(self, rel):
        return os.path.join(self.local, rel)

    def server_path(self, rel):
        return os.path.join(self.home, rel)


def _read(path) -> Optional[bytes]:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _tree(root) -> Dict[str, bytes]:
    out = {}
    for d, _dirs, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = _read(p)
    return out


def _digests(env: Env) -> Dict[str, str]:
    out = {}
    for label, root in (("server", env.home), ("local", env.local)):
        for rel, data in sorted(_tree(root).items()):
            out["%s:%s" % (label, rel)] = hashlib.sha256(data or b"").hexdigest()[:16]
    return out


def _lftp(env: Env, name: str, script: str, prepare: Callable, checks: Callable) -> ClientRun:
    log = os.path.join(env.logs, re.sub(r"\W+", "-", name) + ".lftp")
    full = ("debug -o %s 5; %sopen -u %s,%s ftp://127.0.0.1:%d; %s"
            % (log, LFTP_SETTINGS, USER, PASSWORD, env.port, script))
    run = ClientRun(name, "lftp", ["lftp", "-c", script])
    prepare(env)
    p = subprocess.run(["lftp", "-c", full], capture_output=True, timeout=120,
                       cwd=env.local, stdin=subprocess.DEVNULL)
    run.returncode, run.stderr = p.returncode, p.stderr.decode("utf-8", "replace")
    run.raw = lftp_dialogue((_read(log) or b"").decode("utf-8", "replace"))
    run.checks = checks(env)
    return run


def _curl(env: Env, name: str, args: List[str], prepare: Callable, checks: Callable,
          path: str = "") -> ClientRun:
    run = ClientRun(name, "curl", ["curl"] + args + ["URL/" + path])
    prepare(env)
    p = subprocess.run(["curl", "-v", "-sS", "--max-time", "30"] + args + [env.url(path)],
                       capture_output=True, timeout=60, cwd=env.local,
                       stdin=subprocess.DEVNULL)
    run.returncode, run.stderr = p.returncode, p.stderr.decode("utf-8", "replace")
    run.raw = curl_dialogue(run.stderr)
    run.checks = checks(env, p.stdout)
    return run


def _same(label, got, want):
    return (label, got == want)


def lftp_runs(env: Env) -> List[ClientRun]:
    def prepare(env):
        env.put_local("up.bin", UP)
        env.put_local("resume-lftp.bin", RESUME_UP)
        env.put_local("partial-down.bin", DOWN[:120000])    # an interrupted download
        for rel, data in TREE.items():
            env.put_local("tree/" + rel, data)

    def checks(env):
        return [
            _same("get down.bin", _read(env.local_path("got.bin")), DOWN),
            _same("get -c resumed", _read(env.local_path("partial-down.bin")), DOWN),
            _same("put -c resumed", _read(env.server_path("resume-lftp.bin")), RESUME_UP),
            ("mv+rm+rmdir left nothing", not os.path.exists(env.server_path("newdir"))
             and not os.path.exists(env.server_path("up.bin"))),
            _same("mirror -R", _tree(env.server_path("tree")), TREE),
            _same("mirror", _tree(env.local_path("tree-down")), TREE),
        ]

    script = ("ls; cls -l; put up.bin; get down.bin -o got.bin; "
              "get -c down.bin -o partial-down.bin; put -c resume-lftp.bin; "
              "mkdir newdir; mv up.bin newdir/moved.bin; chmod 600 newdir/moved.bin; "
              "rm newdir/moved.bin; rmdir newdir; mirror -R tree tree; "
              "mirror tree tree-down; quit")
    return [_lftp(env, "lftp session", script, prepare, checks)]


def curl_runs(env: Env) -> List[ClientRun]:
    nothing = lambda env: None     # noqa: E731
    runs = []

    def add(name, args, checks, path="", prepare=nothing):
        runs.append(_curl(env, name, args, prepare, checks, path))

    add("curl list", [], lambda env, out: [("LIST shows down.bin", b"down.bin" in out)])
    add("curl -l (NLST)", ["-l"], lambda env, out: [
        _same("NLST names", sorted(out.split()),
              sorted(n.encode() for n in os.listdir(env.home)))])
    add("curl download", ["-o", "dl.bin"], lambda env, out: [
        _same("download", _read(env.local_path("dl.bin")), DOWN)], "down.bin")
    add("curl upload", ["-T", "curl-up.bin"], lambda env, out: [
        _same("upload", _read(env.server_path("curl-up.bin")), UP)], "curl-up.bin",
        prepare=lambda env: env.put_local("curl-up.bin", UP))
    add("curl -C - download", ["-C", "-", "-o", "part.bin"], lambda env, out: [
        _same("resumed download", _read(env.local_path("part.bin")), DOWN)], "down.bin",
        prepare=lambda env: env.put_local("part.bin", DOWN[:100000]))
    add("curl -C - upload", ["-C", "-", "-T", "resume-curl.bin"], lambda env, out: [
        _same("resumed upload", _read(env.server_path("resume-curl.bin")), RESUME_UP)],
        "resume-curl.bin", prepare=lambda env: env.put_local("resume-curl.bin", RESUME_UP))
    add("curl --ftp-pasv", ["--ftp-pasv", "-o", "pasv.bin"], lambda env, out: [
        _same("download", _read(env.local_path("pasv.bin")), DOWN)], "down.bin")
    add("curl --disable-epsv", ["--disable-epsv", "-o", "pasv2.bin"], lambda env, out: [
        _same("download", _read(env.local_path("pasv2.bin")), DOWN)], "down.bin")
    add("curl -P (EPRT)", ["-P", "127.0.0.1", "-o", "eprt.bin"], lambda env, out: [
        _same("download", _read(env.local_path("eprt.bin")), DOWN)], "down.bin")
    add("curl -P --disable-eprt (PORT)", ["-P", "127.0.0.1", "--disable-eprt", "-T",
                                          "port-up.bin"], lambda env, out: [
        _same("upload", _read(env.server_path("port-up.bin")), UP)], "port-up.bin",
        prepare=lambda env: env.put_local("port-up.bin", UP))
    add("curl -Q", ["-l", "-Q", "MKD qdir", "-Q", "RNFR curl-up.bin", "-Q",
                    "RNTO qdir/renamed.bin", "-Q", "SITE CHMOD 600 qdir/renamed.bin",
                    "-Q", "-DELE qdir/renamed.bin", "-Q", "-RMD qdir"],
        lambda env, out: [("NLST during -Q shows qdir", b"qdir" in out.split()),
                          ("post-quote removed qdir", not os.path.exists(
                              env.server_path("qdir")))])
    # Informational commands and refusals ("*": curl carries on when the reply is an error).
    misc = ["SYST", "NOOP", "STAT", "HELP", "HELP RETR", "SITE HELP", "MLST down.bin",
            "MDTM down.bin", "*SIZE down.bin", "TYPE I", "SIZE down.bin", "*CCC", "*CONF x",
            "*PBSZ 0", "*AUTH TLS", "*HELP AUTH", "*HELP PBSZ", "*HELP PROT", "*HELP CCC",
            "*HELP MFMT", "*HELP RANG", "*FOO bar", "*DELE missing.txt",
            "*CWD missing", "*MKD quoted", "*SITE CHMOD 600 missing.txt", "*RNFR missing",
            "*SIZE quoted", "*HELP NOSUCH", "*MFMT 2023 down.bin", "*SMNT x", "*REIN"]
    add("curl -Q misc", ["-l"] + [a for q in misc for a in ("-Q", q)],
        lambda env, out: [("NLST after the quote commands", b"down.bin" in out.split())])
    return runs


def run_server(server: str, which=("lftp", "curl")) -> Tuple[List[ClientRun], Optional[str]]:
    """Every client run against one server ("ftpredis" or "proftpd"), normalised."""
    runs: List[ClientRun] = []

    def script(ctx):
        env = Env(ctx)
        subst = [(env.base, "<BASE>"), ("127.0.0.1:%d" % env.port, "127.0.0.1:<PORT>")]
        for kind, fn in (("lftp", lftp_runs), ("curl", curl_runs)):
            if kind not in which:
                continue
            for run in fn(env):
                run.dialogue = [normalise_line(line, subst) for line in run.raw]
                run.files = _digests(env)
                runs.append(run)

    cls = ProFTPDRun if server == "proftpd" else FTPRedisRun
    result = run_one(cls, BODY, script, files=FILES)
    return runs, result.error


# ---------------------------------------------------------------------------------------
# Side by side

def exchanges(dialogue: List[str]) -> List[Tuple[str, List[str]]]:
    """(command, reply lines) pairs; the greeting is the reply to "(connect)"."""
    out: List[Tuple[str, List[str]]] = []
    for line in dialogue:
        if line.startswith("> ") or line == "* (connect)":
            out.append((line[2:], []))
        elif line.startswith("< "):
            if not out:
                out.append(("(connect)", []))
            out[-1][1].append(line[2:])
    return out


def compare_run(ours: ClientRun, theirs: ClientRun) -> List[str]:
    """Lines describing where two runs' dialogues differ (empty: identical)."""
    a, b = exchanges(ours.dialogue), exchanges(theirs.dialogue)
    sm = difflib.SequenceMatcher(a=[c for c, _ in a], b=[c for c, _ in b], autojunk=False)
    out = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            for (cmd, ra), (_c, rb) in zip(a[i1:i2], b[j1:j2]):
                if ra != rb:
                    out.append("    %s" % cmd)
                    for line in difflib.ndiff(rb, ra):
                        if line[:1] in "-+":
                            out.append("      %s %s" % (
                                "proftpd :" if line[0] == "-" else "ftpredis:", line[2:]))
            continue
        for cmd, replies in a[i1:i2]:
            out.append("    only ftpredis sent %s -> %s" % (cmd, " / ".join(replies)))
        for cmd, replies in b[j1:j2]:
            out.append("    only proftpd  sent %s -> %s" % (cmd, " / ".join(replies)))
    return out
