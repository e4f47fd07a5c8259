# -*- test-case-name: tests.test_conformance_variables -*-
"""The conformance scenarios: a config body (ProFTPD syntax) and an ftplib script each.

The same scenarios drive the conformance tests (against ftpredis in-process) and
``tools/compare_proftpd.py`` (against ftpredis and ProFTPD 1.3.8 + mod_redis side by
side).  A body's ``{port}``, ``{port2}``, ``{redis_port}``, ``{base}``, ``{home}`` are
filled in by :class:`tests.support.ftpsite.Site`; ``{{``/``}}`` are literal braces.  A
script ``fn(ctx)`` gets a :class:`tests.support.ftpsite.Context`.
"""

from __future__ import annotations

import io
import re
import time
from typing import Dict

from tests.support.ftpsite import PASSWORD, REDIS, USER


def _stou(ftp, ctx):
    """STOU a small file; its random name (ftp + 6 letters) is volatile."""
    conn, _ = ftp.ntransfercmd("STOU")
    conn.sendall(b"unique\n")
    conn.close()
    ftp.voidresp()
    m = re.search(r"FILE: (\S+)", " ".join(ctx.transcript[-4:]))
    if m:
        ctx.volatile(m.group(1), "<STOU>")


# ---------------------------------------------------------------------------------------
# Scenarios

class Scenario:
    def __init__(self, name, body, script, files=None, timeout_idle=600, users=None,
                 doc="", chroot=True, excuses=(), groups=()):
        self.name, self.body, self.script = name, body, script
        self.files = files or {}
        self.timeout_idle = timeout_idle
        self.users = users or ((USER, PASSWORD),)
        self.doc = doc
        self.chroot = chroot
        self.groups = groups
        self.excuses = excuses

    def kw(self):
        return dict(files=self.files, timeout_idle=self.timeout_idle, users=self.users,
                    chroot=self.chroot, groups=self.groups)


SCENARIOS: Dict[str, Scenario] = {}


def braces(text):
    """``text`` with its braces doubled, for a scenario body (which is str.format'ed)."""
    return text.replace("{", "{{").replace("}", "}}")




def scenario(name, body, files=None, **kw):
    def deco(fn):
        SCENARIOS[name] = Scenario(name, body, fn, files=files, doc=fn.__doc__ or "", **kw)
        return fn
    return deco


PAYLOAD = b"x" * 119 + b"\n"

EVERY_VAR = (
    "%A %a %b %c %D %d %E %{epoch} %{FOO}e %F %f %{file-modified} %g %{gid} %H "
    "%h %I %{iso8601} %J %L %l %m %{microsecs} %{millisecs} %O %P %p %{protocol} %r %S %s "
    "%T %t %{transfer-failure} %{transfer-status} %U %u %{uid} %V %v %{version} %w "
    "%R %{remote-port} %{basename} %{file-offset} %{file-size} %{transfer-millisecs} "
    "%{transfer-port} %{transfer-type} %{transfer-speed} %{%Y-%m-%d}t %{time:%H:%M} "
    "%{note:mod_auth.orig-user}")
SEED_FORMATS = r"""
LogFormat file-transfers "%h %l %u %t \"%r\" %s %b"
RedisLogOnCommand APPE,RETR,STOR,STOU file-transfers
LogFormat sessions "%{{iso8601}} %a"
RedisLogOnCommand CONNECT,DISCONNECT sessions
"""


def _long_session(ctx):
    ftp = ctx.connect()
    ftp.sendcmd("SYST")
    ftp.sendcmd("FEAT")
    ftp.pwd()
    listing = []
    ftp.retrlines("LIST", listing.append)
    ftp.retrlines("NLST", listing.append)
    ftp.mkd("d")
    ftp.cwd("d")
    ftp.storbinary("STOR inner.txt", io.BytesIO(PAYLOAD))
    ftp.cwd("..")
    ftp.sendcmd("CDUP")
    ftp.storbinary("STOR f.txt", io.BytesIO(PAYLOAD))
    ftp.sendcmd("TYPE I")
    ftp.size("f.txt")
    ftp.sendcmd("MDTM pub/a.txt")
    ftp.retrbinary("RETR f.txt", lambda b: None)
    ftp.retrbinary("RETR f.txt", lambda b: None, rest=100)
    ctx.try_(ftp.storbinary, "APPE f.txt", io.BytesIO(b"more\n"))
    _stou(ftp, ctx)
    ftp.delete("d/inner.txt")
    ftp.sendcmd("SITE CHMOD 600 f.txt")
    ftp.rename("f.txt", "g.txt")
    ftp.rmd("d")
    ctx.try_(ftp.retrbinary, "RETR missing.txt", lambda b: None)
    ctx.try_(ftp.delete, "missing.txt")
    ctx.try_(ftp.sendcmd, "FOO bar")
    ftp.voidcmd("NOOP")
    ftp.sendcmd("STAT")
    ftp.sendcmd("HELP")
    ftp.quit()


@scenario("seed", REDIS + SEED_FORMATS, files={"pub/a.txt": b"a" * 50})
def seed(ctx):
    """The seed example's two formats (etc/ftpd.conf) over a transfer session."""
    ftp = ctx.connect()
    ftp.retrlines("LIST", lambda line: None)
    ftp.storbinary("STOR f.txt", io.BytesIO(PAYLOAD))
    ftp.retrbinary("RETR f.txt", lambda b: None)
    ctx.try_(ftp.storbinary, "APPE f.txt", io.BytesIO(b"more\n"))
    ftp.quit()


@scenario("every_var", REDIS + 'LogFormat every "%s"\nRedisLogOnEvent ALL every\n'
          % EVERY_VAR.replace("{", "{{").replace("}", "}}"),
          files={"pub/a.txt": b"a" * 50})
def every_var(ctx):
    """Every variable, RedisLogOnEvent ALL, the long session of doc/records.rst, "Command
    classes"."""
    _long_session(ctx)


@scenario("every_cmd", REDIS + braces(
    'LogFormat cmd "%m %r %J %s %S %b %f %F %d %D %w %{basename} %{transfer-status} '
    '%{transfer-failure} %{transfer-type} %{file-modified} %{file-offset} %{file-size} '
    '%I %O %u %U"\nRedisLogOnEvent ALL cmd\n'),
          files={"pub/a.txt": b"a" * 50})
def every_cmd(ctx):
    """The command-dependent variables only (fewer volatile fields), long session."""
    _long_session(ctx)


@scenario("failed_login", REDIS + braces(
    'LogFormat f "%m %r %J %s %S %u %U %g %{uid} %{gid} %E %I %O"\nRedisLogOnEvent ALL f\n'))
def failed_login(ctx):
    """Wrong password, unknown user, USER then EOF, connect + QUIT."""
    ftp = ctx.connect(user=None)
    ctx.try_(ftp.login, USER, "wrong")
    ftp.login(USER, PASSWORD)
    ftp.quit()
    ftp = ctx.connect(user=None)
    ctx.try_(ftp.login, "nosuchuser", "x")
    ftp.quit()
    ftp = ctx.connect(user=None)
    ftp.sendcmd("USER " + USER)
    ftp.close()
    time.sleep(0.3)
    ftp = ctx.connect(user=None)
    ftp.close()
    time.sleep(0.3)


PER_DIR = REDIS + r"""
LogFormat d "%m %f %s"
<Directory {home}/inbox>
  RedisLogOnCommand STOR d inbox
</Directory>
<Directory {home}/pub>
  RedisLogOnCommand RETR,PWD d pub
</Directory>
<Directory {home}/pub/subdir>
  RedisLogOnCommand none
</Directory>
"""


@scenario("per_dir", PER_DIR, files={"pub/a.txt": b"a\n", "pub/subdir/b.txt": b"b\n",
                                     "inbox/": b""})
def per_dir(ctx):
    """RedisLogOnCommand in <Directory> blocks, with none in a subdirectory."""
    ftp = ctx.connect()
    ftp.storbinary("STOR inbox/x.txt", io.BytesIO(b"x\n"))
    ftp.cwd("inbox")
    ftp.storbinary("STOR y.txt", io.BytesIO(b"y\n"))
    ftp.cwd("/")
    ftp.storbinary("STOR z.txt", io.BytesIO(b"z\n"))
    ftp.retrbinary("RETR pub/a.txt", lambda b: None)
    ftp.retrbinary("RETR pub/subdir/b.txt", lambda b: None)
    ftp.cwd("pub")
    ftp.pwd()
    ftp.cwd("subdir")
    ftp.pwd()
    ftp.quit()


PER_DIR_NONE = REDIS + r"""
LogFormat d "%m %f %d"
<Directory {home}>
  RedisLogOnCommand PWD d
</Directory>
<Directory {home}/test.d>
  RedisLogOnCommand none
</Directory>
"""

PER_DIR_NONE_ROOT = REDIS + r"""
LogFormat d "%m %f %d"
<Directory />
  RedisLogOnCommand PWD d
</Directory>
<Directory {home}/test.d>
  RedisLogOnCommand none
</Directory>
"""


def _pwd_in_home_and_sub(ctx):
    ftp = ctx.connect()
    ftp.pwd()
    ftp.cwd("test.d")
    ftp.pwd()
    ftp.quit()


_pwd_in_home_and_sub.__doc__ = "Upstream's per_dir_none tests: PWD, CWD test.d, PWD, QUIT."
scenario("per_dir_none", PER_DIR_NONE, files={"test.d/": b""})(_pwd_in_home_and_sub)
scenario("per_dir_none_root", PER_DIR_NONE_ROOT, files={"test.d/": b""})(_pwd_in_home_and_sub)
# Upstream's tests run without DefaultRoot.
scenario("per_dir_none_nochroot", PER_DIR_NONE, files={"test.d/": b""},
         chroot=False)(_pwd_in_home_and_sub)
scenario("per_dir_none_root_nochroot", PER_DIR_NONE_ROOT, files={"test.d/": b""},
         chroot=False)(_pwd_in_home_and_sub)
scenario("per_dir_none_event", PER_DIR_NONE.replace("RedisLogOnCommand", "RedisLogOnEvent"),
         files={"test.d/": b""}, chroot=False)(_pwd_in_home_and_sub)


@scenario("disconnects", REDIS + 'LogFormat x "%m %E %s"\nRedisLogOnEvent ALL x\n',
          timeout_idle=1)
def disconnects(ctx):
    """Session ends: QUIT, client EOF, idle timeout, server shutdown."""
    ftp = ctx.connect()
    ftp.quit()
    ftp = ctx.connect()
    ftp.close()
    time.sleep(0.3)
    ftp = ctx.connect()
    time.sleep(2.2)           # TimeoutIdle 1
    ftp.close()
    ftp = ctx.connect()
    ftp.voidcmd("NOOP")
    time.sleep(0.3)
    ctx.stop_server()
    time.sleep(0.3)


@scenario("escaping", REDIS + braces(
    'LogFormat e "%r %J %f %F %U %{basename} %S"\nRedisLogOnEvent ALL e\n'),
    excuses=[(r'only ftpredis: \{"(raw_command":"QUIT"|original_user":"ftpuser"\})',
              "doc/decisions.rst, Invalid UTF-8: U+FFFD; ProFTPD's session aborts")])
def escaping(ctx):
    """Names with quotes, backslashes, tabs, emoji, control and invalid UTF-8 bytes."""
    ftp = ctx.connect()
    ftp.sendcmd("TYPE I")
    for name in ['q"uote.txt', "back\\slash.txt", "tab\there.txt", "emoji-\U0001F600.txt",
                 "ctl-\x01\x1f\x7f.txt"]:
        ftp.storbinary("STOR " + name, io.BytesIO(b"1\n"))
    ftp.sendcmd("MKD dir\twith\ttabs")
    # Last: ProFTPD's session aborts on invalid UTF-8 (ftpredis: U+FFFD).  Not 0xFF:
    # that is Telnet's IAC, which both servers take as a command (hostile_telnet).
    ctx.try_(ftp.storbinary, "STOR bad-\udcfe\udcfd.txt", io.BytesIO(b"1\n"))
    ctx.try_(ftp.quit)


@scenario("extra_keys", REDIS + r"""
LogFormat xferlog "%h %u %t %r %s %b"
RedisLogOnCommand RETR,STOR xferlog %m:ftpxfer:%u
RedisLogFormatExtra xferlog {{"custom_property1":"%m","custom_property2":"custom_value","user":"no","n":42,"z":null,"o":{{}},"a":[1]}}
RedisLogFormatExtra xferlog "{{\"n\":7,\"second\":\"yes %b\"}}"
LogFormat k "%m"
RedisLogOnEvent ALL k pre.%u.%m.%a
RedisLogOnCommand PASS k
RedisLogOnCommand PASS k
""")
def extra_keys(ctx):
    """Key templates, RedisLogFormatExtra merging, several directives on one event."""
    ftp = ctx.connect()
    ftp.storbinary("STOR f.txt", io.BytesIO(PAYLOAD))
    ftp.retrbinary("RETR f.txt", lambda b: None)
    ftp.quit()


@scenario("notes", REDIS + braces(
    'LogFormat n "%m %{note:mod_auth.orig-user} %{note:mod_xfer.retr-path} '
    '%{note:mod_xfer.store-path} %{note:mod_core.rnfr-path} %{note:mod_xfer.file-modified} '
    '%{note:nosuch}"\nRedisLogOnEvent ALL n\n'), files={"pub/a.txt": b"a" * 50})
def notes(ctx):
    """%{note:NAME} for the notes ProFTPD sets: orig-user, retr/store paths, rnfr path."""
    ftp = ctx.connect()
    ftp.storbinary("STOR f.txt", io.BytesIO(PAYLOAD))
    ftp.storbinary("STOR f.txt", io.BytesIO(PAYLOAD))
    ftp.retrbinary("RETR pub/a.txt", lambda b: None)
    ctx.try_(ftp.retrbinary, "RETR missing.txt", lambda b: None)
    _stou(ftp, ctx)
    ftp.sendcmd("RNFR f.txt")
    ftp.voidcmd("NOOP")
    ftp.sendcmd("RNTO g.txt")
    ftp.voidcmd("NOOP")
    ctx.try_(ftp.sendcmd, "RNFR nosuch.txt")
    ftp.quit()


@scenario("vhost", r"""
LogFormat v "%m %v %p %H %L %u"
RedisLogOnCommand PWD v main_only
<Global>
""" + REDIS + r"""
RedisLogOnCommand PWD,USER v
</Global>
<VirtualHost 127.0.0.1>
  ServerName "vhost-two"
  Port {port2}
  AuthUserFile {base}/ftpd.passwd
  AuthGroupFile {base}/ftpd.group
  DefaultRoot ~
  RequireValidShell off
</VirtualHost>
""")
def vhost(ctx):
    """<Global> logging rules reach a <VirtualHost>; a top-level rule only the main server."""
    ftp = ctx.connect()
    ftp.pwd()
    ftp.quit()
    ftp = ctx.connect(port=ctx.port2)
    ftp.pwd()
    ftp.quit()


# -- scenarios behind the conformance tests (tests/test_conformance_*.py) ----------------

VARS_SESSION = ("%a %h %H %L %V %v %p %P %{version} %{protocol} %{remote-port} %{uid} "
                "%{gid} %U %u %g %E %I %O %A %c %l")
VARS_COMMAND = ("%m %r %J %s %S %b %f %F %d %D %w %{basename} %{transfer-status} "
                "%{transfer-failure} %{transfer-type} %{file-modified} %{file-offset} "
                "%{file-size} %T %{transfer-millisecs} %{transfer-port} %R")
VARS_TIME = ("%t %{iso8601} %{epoch} %{microsecs} %{millisecs} %{%Y-%m-%d}t %{time:%H:%M} "
             "%{YYYY-MM-DD}t %{FOO}e %{NOPE}e %{note:mod_auth.orig-user} %{unknown} %Z %%u "
             "%{ISO8601}")


@scenario("vars_session", REDIS + braces(
    'LogFormat s "%s"\nRedisLogOnEvent ALL s\n' % VARS_SESSION))
def vars_session(ctx):
    """Session-wide variables (who, where, byte counters) over login, STOR, QUIT."""
    ftp = ctx.connect()
    ftp.pwd()
    ftp.storbinary("STOR f.txt", io.BytesIO(PAYLOAD))
    ftp.quit()


def command_session(ctx):
    ftp = ctx.connect()
    ftp.pwd()
    ftp.mkd("d")
    ftp.cwd("d")
    ftp.storbinary("STOR inner.txt", io.BytesIO(PAYLOAD))
    ftp.sendcmd("CDUP")
    ftp.retrlines("NLST", lambda line: None)
    ftp.retrlines("NLST d", lambda line: None)
    ftp.storbinary("STOR f.txt", io.BytesIO(PAYLOAD))
    ftp.storbinary("STOR f.txt", io.BytesIO(PAYLOAD))
    ftp.size("f.txt")
    ftp.sendcmd("MDTM pub/a.txt")
    ftp.retrbinary("RETR f.txt", lambda b: None)
    ftp.retrbinary("RETR f.txt", lambda b: None, rest=100)
    ctx.try_(ftp.storbinary, "APPE f.txt", io.BytesIO(b"more\n"))
    _stou(ftp, ctx)
    ftp.delete("d/inner.txt")
    ftp.sendcmd("site chmod 600 f.txt")
    ftp.rename("f.txt", "g.txt")
    ftp.rmd("d")
    ctx.try_(ftp.retrbinary, "RETR missing.txt", lambda b: None)
    ctx.try_(ftp.delete, "missing.txt")
    ctx.try_(ftp.retrbinary, "RETR pub", lambda b: None)
    ctx.try_(ftp.sendcmd, "FOO bar")
    ftp.voidcmd("noop")
    ftp.quit()


scenario("vars_command", REDIS + braces('LogFormat c "%s"\nRedisLogOnEvent ALL c\n'
                                        % VARS_COMMAND),
         files={"pub/a.txt": b"a" * 50})(command_session)
command_session.__doc__ = "Per-command variables (paths, transfer fields) over a long session."


@scenario("vars_time", REDIS + braces('LogFormat t "%s"\nRedisLogOnEvent ALL t\n' % VARS_TIME))
def vars_time(ctx):
    """Clock, environment, note and literal variables on a login."""
    ftp = ctx.connect()
    ftp.quit()


@scenario("event_classes", REDIS + r"""
LogFormat m "%m %s"
RedisLogOnEvent INFO m info
RedisLogOnEvent DIRS m dirs
RedisLogOnEvent READ m read
RedisLogOnEvent WRITE m write
RedisLogOnEvent MISC m misc
RedisLogOnEvent AUTH m auth
RedisLogOnEvent CONNECT,DISCONNECT m conn
RedisLogOnEvent read,all,EXIT,!READ,SECURE m none
RedisLogOnEvent READ,PWD m readpwd
RedisLogOnEvent RETR|STOR m pipe
RedisLogOnCommand retr,stor,ALL,CONNECT,HASH m cmd
""", files={"pub/a.txt": b"a" * 50},
          excuses=[(r"only ftpredis: ", "doc/decisions.rst: RedisLogOnCommand ALL logs every "
                    "command (unknown ones too), CONNECT/DISCONNECT the session")])
def event_classes(ctx):
    """RedisLogOnEvent classes and command names, RedisLogOnCommand names."""
    command_session(ctx)


@scenario("user_names", REDIS + braces('LogFormat u "%m %r %J %U %u %S"\n'
                                       'RedisLogOnEvent ALL u\n'))
def user_names(ctx):
    """User names with quotes, backslashes, tabs, emoji and control bytes (failed logins)."""
    for name in ['we"ird', "back\\slash", "tab\tname", "\U0001F600", "ctl\x01\x1f\x7f",
                 "two  spaces", "nb\u00a0sp"]:
        ftp = ctx.connect(user=None)
        ctx.try_(ftp.login, name, "x")
        ftp.quit()


@scenario("speed", REDIS + braces('LogFormat x "%m %{transfer-speed} %{file-size}"\n'
                                  'RedisLogOnCommand RETR,STOR,NLST,PWD x\n'),
          excuses=[(r"extra transfer_speed=", "ProFTPD 1.3.8 has no %{transfer-speed}")])
def speed(ctx):
    """%{transfer-speed}: only on transfers with a file size (1.3.8 lacks it)."""
    ftp = ctx.connect()
    ftp.pwd()
    ftp.storbinary("STOR f.txt", io.BytesIO(PAYLOAD))
    ftp.retrbinary("RETR f.txt", lambda b: None)
    ftp.retrlines("NLST", lambda line: None)
    ftp.quit()


@scenario("none_top", REDIS + r"""
LogFormat x "%m %s"
RedisLogOnCommand USER,PASS,PWD,QUIT x
RedisLogOnCommand none
RedisLogOnEvent ALL x ev
""")
def none_top(ctx):
    """A server-level "none": logs until the login prunes it; other directives unaffected."""
    ftp = ctx.connect(user=None)
    ctx.try_(ftp.login, USER, "wrong")
    ftp.login(USER, PASSWORD)
    ftp.pwd()
    ftp.quit()


@scenario("vhost_direct", "<Global>\n" + REDIS + "</Global>\n" + r"""
LogFormat mainf "%m %v"
RedisLogOnCommand PWD mainf
<VirtualHost 127.0.0.1>
  ServerName "vhost-two"
  Port {port2}
  AuthUserFile {base}/ftpd.passwd
  AuthGroupFile {base}/ftpd.group
  DefaultRoot ~
  RequireValidShell off
  LogFormat vf "%m %v %u"
  RedisLogOnCommand PWD vf vh.%u
</VirtualHost>
""", excuses=[(r"", "doc/decisions.rst: RedisLogOn*/LogFormat inside <VirtualHost> "
                    "work (fatal config error in ProFTPD 1.3.8)")])
def vhost_direct(ctx):
    """LogFormat and RedisLogOnCommand directly in <VirtualHost> (1.3.8: fatal; see
    doc/decisions.rst, "Format names and virtual hosts")."""
    ftp = ctx.connect()
    ftp.pwd()
    ftp.quit()
    ftp = ctx.connect(port=ctx.port2)
    ftp.pwd()
    ftp.quit()


@scenario("anonymous", REDIS + r"""
LogFormat a "%m %u %U %A %f %s"
RedisLogOnCommand PASS,PWD a
<Anonymous {base}/anon>
  User ftpanon
  Group ftpgroup
  UserAlias anonymous ftpanon
  RedisLogOnCommand PWD,RETR a anon_only
</Anonymous>
""", files={"../../anon/pub.txt": b"p\n"}, users=((USER, PASSWORD), ("ftpanon", "unused")))
def anonymous(ctx):
    """<Anonymous>: %A, the mapped user, rules inside the block for anonymous sessions only."""
    ftp = ctx.connect(user="anonymous", password="guest@example.com")
    ftp.pwd()
    ftp.retrbinary("RETR pub.txt", lambda b: None)
    ftp.quit()
    ftp = ctx.connect()
    ftp.pwd()
    ftp.quit()


# ---------------------------------------------------------------------------------------
# Where ftpredis used to differ from ProFTPD 1.3.8 in behaviour, not only in records

def _wait_closed(ftp):
    """Read until the server closes ``ftp``'s control connection."""
    try:
        while ftp.sock.recv(4096):
            pass
    except OSError:
        pass
    ftp.close()


@scenario("max_clients", REDIS + braces(
    'LogFormat m "%m %r %s %S %u %g %E"\nRedisLogOnEvent ALL m\nMaxClients 1\n'))
def max_clients(ctx):
    """MaxClients 1: connections that have not logged in are all greeted; a login beyond
    the limit is refused with 530 at PASS and the session closed."""
    idle = [ctx.connect(user=None) for _ in range(2)]
    first = ctx.connect()
    second = ctx.connect(user=None)
    ctx.try_(second.login, USER, PASSWORD)
    _wait_closed(second)
    ctx.sleep(0.3)          # ProFTPD's session process logs its end after the close
    first.quit()
    for ftp in idle:
        ftp.quit()


@scenario("max_clients_anon", REDIS + r"""
LogFormat m "%m %s %S %u"
RedisLogOnCommand PASS m
MaxClients 1
<Anonymous {base}/anon>
  User ftpanon
  Group ftpgroup
  UserAlias anonymous ftpanon
</Anonymous>
""", files={"../../anon/pub.txt": b"p\n"}, users=((USER, PASSWORD), ("ftpanon", "unused")))
def max_clients_anon(ctx):
    """MaxClients 1 and anonymous logins: an anonymous login counts only the anonymous
    sessions of its account (ftpuser's does not stop it); an ordinary login counts every
    logged-in session."""
    user = ctx.connect()
    anon = ctx.connect(user="anonymous", password="guest@example.com")
    for name, password in (("anonymous", "guest@example.com"), (USER, PASSWORD)):
        ftp = ctx.connect(user=None)
        ctx.try_(ftp.login, name, password)
        _wait_closed(ftp)
    anon.quit()
    user.quit()


@scenario("anon_valid_shell", REDIS + r"""
LogFormat a "%m %r %s %S %u"
RedisLogOnCommand USER,PASS,PWD a
<Anonymous {base}/anon>
  User ftpanon
  Group ftpgroup
  UserAlias anonymous ftpanon
  RequireValidShell on
</Anonymous>
<Anonymous {base}/anon2>
  User ftpanon
  Group ftpgroup
  UserAlias guest ftpanon
</Anonymous>
""", files={"../../anon/pub.txt": b"p\n", "../../anon2/pub.txt": b"p\n"},
          users=((USER, PASSWORD), ("ftpanon", "unused")))
def anon_valid_shell(ctx):
    """RequireValidShell on inside <Anonymous>: the anonymous account's shell (/bin/false)
    is not in /etc/shells, so the anonymous login is refused; a section without it takes
    the server's off (guest), and so does ftpuser (same shell)."""
    ftp = ctx.connect(user=None)
    ctx.try_(ftp.login, "anonymous", "guest@example.com")
    ftp.quit()
    ftp = ctx.connect(user="guest", password="guest@example.com")
    ftp.pwd()
    ftp.quit()
    ftp = ctx.connect()
    ftp.pwd()
    ftp.quit()


@scenario("rest_stor", REDIS + braces(
    'LogFormat x "%m %r %s %{file-offset} %{file-size} %b"\n'
    'RedisLogOnCommand REST,STOR,RANG,SIZE,RETR x\nAllowStoreRestart on\n'),
    files={"f.txt": b"0123456789abcde", "g.txt": b"0123456789abcde"})
def rest_stor(ctx):
    """REST 3 then STOR of 2 bytes over a 15-byte file: written from offset 3, the rest of
    the file kept; RANG 3 4 then STOR of 2 bytes the same way."""
    ftp = ctx.connect()
    ftp.voidcmd("TYPE I")
    ftp.storbinary("STOR f.txt", io.BytesIO(b"XY"), rest=3)
    ftp.sendcmd("SIZE f.txt")
    ftp.retrbinary("RETR f.txt", lambda b: None)
    ftp.sendcmd("RANG 3 4")
    ctx.try_(ftp.storbinary, "STOR g.txt", io.BytesIO(b"XY"))
    ftp.sendcmd("SIZE g.txt")
    ftp.retrbinary("RETR g.txt", lambda b: None)
    ftp.quit()


@scenario("list_paths", REDIS + braces(
    'LogFormat l "%m %r %s %f %F %d %D %J"\nRedisLogOnCommand LIST,NLST,MLSD x\n'
    .replace(" x\n", " l\n")), files={"d/a.txt": b"a\n"})
def list_paths(ctx):
    """%f %F %d %D for LIST/NLST/MLSD of a directory written with and without a trailing
    slash, with options, with "..", from the root."""
    ftp = ctx.connect()
    for cmd in ("LIST d/", "LIST d", "NLST d/", "NLST d", "MLSD d/", "MLSD d", "LIST -la d/",
                "NLST d/../d", "MLSD /", "LIST /d/", "LIST"):
        ftp.retrlines(cmd, lambda line: None)
    ftp.quit()


def _utc_day():
    return time.strftime("%Y%m%d", time.gmtime())


@scenario("unique_id_keys", REDIS + braces(
    'LoadModule mod_unique_id.c\n'
    'LogFormat u "%m %{note:UNIQUE_ID} %{UNIQUE_ID}e %u %P"\n'
    'RedisLogOnEvent ALL u audit:%u\n'
    'RedisLogOnCommand PASS,QUIT u ftp:%{time:%Y%m%d}\n'))
def unique_id_keys(ctx):
    """mod_unique_id's UNIQUE_ID as a note and in the environment; key templates with
    variables (per user, per UTC day)."""
    day = _utc_day()
    for _ in range(2):
        ftp = ctx.connect()
        ftp.voidcmd("NOOP")
        ftp.quit()
    if _utc_day() == day:       # a session across midnight UTC writes to both days
        ctx.volatile(day, "<DAY>")


@scenario("access_rules", REDIS + r"""
LogFormat m "%m %r %s %S %u %a"
RedisLogOnEvent ALL m
<Limit LOGIN>
  Order allow,deny
  Allow from 127.0.0.0/29, 127.0.1.
  Deny from all
</Limit>
<Directory {home}>
  <Limit MKD>
    Order deny,allow
    Allow from 127.0.0.2
  </Limit>
  <Limit STOR>
    Deny from 127.0.0.3
  </Limit>
</Directory>
<Limit DELE>
  DenyUser ftpuser
  Allow from 127.0.0.4
</Limit>
<Limit RMD>
  Order deny,allow
  AllowUser ftpuser
  Deny 127.0.0.5
</Limit>
""")
def access_rules(ctx):
    """Allow/Deny by client address (each session binds another loopback address): a
    <Limit LOGIN> network list drops 127.0.0.9 before the banner and lets a prefix
    (127.0.1.) in; <Limit> sections in a <Directory> and at the server, Order both ways,
    combined with DenyUser/AllowUser."""
    ctx.try_(ctx.connect, USER, PASSWORD, None, "127.0.0.1", "127.0.0.9")
    ftp = ctx.connect(source="127.0.1.9")
    ftp.storbinary("STOR a.txt", io.BytesIO(b"a\n"))
    ctx.try_(ftp.mkd, "d")
    ftp.quit()
    ftp = ctx.connect(source="127.0.0.2")
    ftp.mkd("d")
    ftp.mkd("e")
    ftp.quit()
    ftp = ctx.connect(source="127.0.0.3")
    ctx.try_(ftp.storbinary, "STOR b.txt", io.BytesIO(b"b\n"))
    ctx.try_(ftp.delete, "a.txt")
    ftp.rmd("e")
    ftp.quit()
    ftp = ctx.connect(source="127.0.0.4")
    ftp.delete("a.txt")
    ftp.quit()
    ftp = ctx.connect(source="127.0.0.5")
    ctx.try_(ftp.rmd, "d")
    ftp.quit()


@scenario("access_classes", REDIS + r"""
LogFormat m "%m %r %s %S %u %a"
RedisLogOnEvent ALL m
<Class internal>
  From 127.0.0.0/30
  From 127.0.2.1
</Class>
<Class blocked>
  From 127.0.1.
</Class>
<Class both>
  Satisfy all
  From 127.0.0.0/24, 127.0.0.5
</Class>
<Class outside>
  From !127.0.0.1
</Class>
<Limit LOGIN>
  DenyClass blocked
</Limit>
<Limit MKD>
  AllowClass internal
  DenyAll
</Limit>
<Limit RMD>
  Order deny,allow
  AllowClass both,outside
</Limit>
""")
def access_classes(ctx):
    """<Class> with From lines (the first class an address satisfies is its class):
    DenyClass in <Limit LOGIN> drops a class before the banner; AllowClass lets one
    class MKD; Satisfy all, and a negated From (any other address)."""
    ctx.try_(ctx.connect, USER, PASSWORD, None, "127.0.0.1", "127.0.1.3")
    for source in ("127.0.0.2", "127.0.2.1", "127.0.0.5", "127.0.0.9"):
        ftp = ctx.connect(source=source)
        ctx.try_(ftp.mkd, "d" + source)
        ctx.try_(ftp.rmd, "d" + source)
        ftp.quit()
