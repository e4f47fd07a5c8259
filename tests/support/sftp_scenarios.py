# -*- test-case-name: tests.test_sftp -*-
"""SFTP sessions for ``tools/compare_proftpd.py``: the sessions doc/sftp-records.rst
describes, run with OpenSSH's ``sftp -b`` against ftpredis and against ProFTPD 1.3.8
with mod_sftp, registered in :data:`tests.support.scenarios.SCENARIOS` (names
``sftp_*``) with the differences doc/sftp-records.rst explains as excuses."""

import os
import subprocess

from tests.support.ftpsite import PASSWORD, USER
from tests.support.scenarios import EVERY_VAR, REDIS, braces, scenario

BODY = REDIS + braces('LogFormat every "%s"\nRedisLogOnEvent ALL every\n'
                      'RedisLogOnCommand ALL every cmd\n' % EVERY_VAR) + """
LoadModule mod_sftp.c
SFTPEngine on
SFTPHostKey {base}/ssh_host_key
SFTPAuthorizedUserKeys file:{base}/keys/%u
AllowStoreRestart on
<Directory {home}/ro>
  <Limit WRITE>
    DenyAll
  </Limit>
</Directory>
<Directory {home}/nr>
  <Limit READ>
    DenyAll
  </Limit>
</Directory>
"""

FILES = {"a.txt": b"a" * 50, "ro/": b"", "nr/f.txt": b"f" * 10}

EXCUSES = (
    (r"session_bytes_(rcvd|sent): ftpredis",
     "doc/sftp-records.rst: %I/%O count SSH's bytes, which depend on the algorithms"),
)

SSH_OPTS = ["-oStrictHostKeyChecking=no", "-oUserKnownHostsFile=/dev/null",
            "-oLogLevel=ERROR"]


def _local(ctx):
    path = os.path.join(ctx.site.base, "local")
    os.makedirs(path, exist_ok=True)
    return path


def sftp(ctx, batch, password=PASSWORD, key=None, extra=()):
    """One ``sftp -b`` session (password through sshpass, or ``key``); its output goes
    to the transcript."""
    local = _local(ctx)
    path = os.path.join(local, "batch")
    with open(path, "w") as f:
        f.write(batch)
    argv = ["sftp"] + SSH_OPTS + list(extra) + ["-P", str(ctx.port)]
    if key:
        argv += ["-oIdentitiesOnly=yes", "-oPreferredAuthentications=publickey", "-i", key,
                 "-b", path]
    else:
        argv = ["sshpass", "-p", password] + argv + [
            "-oBatchMode=no", "-oPreferredAuthentications=password",
            "-oPubkeyAuthentication=no", "-b", path]
    argv.append(USER + "@127.0.0.1")
    p = subprocess.run(argv, cwd=local, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    ctx.transcript.append(p.stdout.decode("utf-8", "replace"))


def _sftp_scenario(name):
    return scenario(name, BODY, files=FILES, excuses=EXCUSES)


@_sftp_scenario("sftp_session")
def sftp_session(ctx):
    """A password session: ls, stat, get, put, mkdir, rmdir, rename, chmod, rm, a missing
    file, refused writes."""
    with open(os.path.join(_local(ctx), "up.txt"), "wb") as f:
        f.write(b"y" * 300)
    sftp(ctx, "ls\nls -l a.txt\nget a.txt\nput up.txt\nmkdir d\nrmdir d\n"
              "rename up.txt g.txt\nchmod 600 g.txt\nrm g.txt\n-rm missing.txt\n"
              "-mkdir ro/x\n-put up.txt ro/up.txt\nls ro\n")


@_sftp_scenario("sftp_refusals")
def sftp_refusals(ctx):
    """<Limit READ> on STAT, a missing directory, a rename refused at its destination,
    then a wrong password."""
    sftp(ctx, "-get nr/f.txt\n-ls nothere\n-rmdir nothere\n-rename a.txt ro/b.txt\n")
    # One attempt: sshpass may answer a second prompt or not, depending on timing.
    sftp(ctx, "ls\n", password="wrong", extra=["-oNumberOfPasswordPrompts=1"])


@_sftp_scenario("sftp_extensions")
def sftp_extensions(ctx):
    """OpenSSH's sftp with the extensions VERSION offers: rename over posix-rename (which
    replaces an existing file), refused by <Limit> or failing; df over statvfs."""
    with open(os.path.join(_local(ctx), "up.txt"), "wb") as f:
        f.write(b"y" * 300)
    sftp(ctx, "put up.txt\nrename up.txt a.txt\nrename a.txt b.txt\n-rename missing.txt "
              "m.txt\n-rename b.txt ro/b.txt\n-rename b.txt nodir/b.txt\n-rename b.txt b.txt\n"
              "df\ndf -i\n")


@_sftp_scenario("sftp_key")
def sftp_key(ctx):
    """A public key login (RFC 4716 in SFTPAuthorizedUserKeys: the format Debian's 1.3.8
    accepts)."""
    local = _local(ctx)
    key = os.path.join(local, "id_rsa")
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", key],
                   check=True, stdout=subprocess.DEVNULL)
    rfc = subprocess.run(["ssh-keygen", "-e", "-f", key + ".pub"], check=True,
                         stdout=subprocess.PIPE).stdout
    os.makedirs(os.path.join(ctx.site.base, "keys"), exist_ok=True)
    with open(os.path.join(ctx.site.base, "keys", USER), "wb") as f:
        f.write(rfc)
    sftp(ctx, "ls\n", key=key)


@_sftp_scenario("sftp_resume")
def sftp_resume(ctx):
    """reput (APPE from the server's size) and reget."""
    local = _local(ctx)
    with open(os.path.join(local, "big.bin"), "wb") as f:
        f.write(b"z" * 100000)
    with open(os.path.join(ctx.home, "big.bin"), "wb") as f:
        f.write(b"z" * 40000)
    if os.geteuid() == 0:
        os.chown(os.path.join(ctx.home, "big.bin"), 5001, 5001)
    with open(os.path.join(local, "dl.bin"), "wb") as f:
        f.write(b"a" * 20)
    sftp(ctx, "reput big.bin\nreget a.txt dl.bin\n")


def _second_login(ctx):
    """A second login while a session is open."""
    held = subprocess.Popen(["sshpass", "-p", PASSWORD, "ssh"] + SSH_OPTS + [
        "-oPubkeyAuthentication=no", "-p", str(ctx.port), "-s", USER + "@127.0.0.1", "sftp"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        # SFTP's INIT, version 3: the VERSION answer means the held session is logged in.
        held.stdin.write(b"\x00\x00\x00\x05\x01\x00\x00\x00\x03")
        held.stdin.flush()
        held.stdout.read(9)
        sftp(ctx, "ls\n")
    finally:
        held.stdin.close()
        held.wait(30)


@scenario("sftp_idle", BODY, files=FILES, excuses=EXCUSES, timeout_idle=3)
def sftp_idle(ctx):
    """TimeoutIdle 3: a logged-in session that says nothing more."""
    held = subprocess.Popen(["sshpass", "-p", PASSWORD, "ssh"] + SSH_OPTS + [
        "-oPubkeyAuthentication=no", "-p", str(ctx.port), "-s", USER + "@127.0.0.1", "sftp"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    held.stdin.write(b"\x00\x00\x00\x05\x01\x00\x00\x00\x03")     # SFTP's INIT
    held.stdin.flush()
    held.wait(60)               # the server ends it


@scenario("sftp_login_timeout", BODY + "TimeoutLogin 2\n", files=FILES, excuses=EXCUSES)
def sftp_login_timeout(ctx):
    """TimeoutLogin 2: a client that connects and sends nothing."""
    import socket
    with socket.create_connection(("127.0.0.1", ctx.port), timeout=60) as s:
        while s.recv(65536):
            pass


for _name, _directive in (("sftp_maxclients", "MaxClients"),
                          ("sftp_maxclients_per_host", "MaxClientsPerHost"),
                          ("sftp_maxclients_per_user", "MaxClientsPerUser"),
                          ("sftp_maxconnections_per_host", "MaxConnectionsPerHost")):
    scenario(_name, BODY + _directive + " 1\n", files=FILES, excuses=EXCUSES)(_second_login)


@scenario("sftp_lftp", BODY, files=FILES, excuses=EXCUSES + (
    (r'session_end_reason: ftpredis "Quit: disconnected by user", proftpd "Application '
     r'error: Broken pipe"|protocol: ftpredis "ssh2", proftpd "sftp"',
     "doc/sftp-records.rst: lftp kills its ssh; ProFTPD saw a broken pipe"),))
def sftp_lftp(ctx):
    """lftp's sftp://: a download, an upload, a missing file opened directly."""
    local = _local(ctx)
    with open(os.path.join(local, "l.txt"), "wb") as f:
        f.write(b"l" * 1000)
    script = ('set sftp:connect-program "ssh -a -x %s -oPubkeyAuthentication=no"; '
              'set net:max-retries 1; set xfer:clobber on; open -u %s,%s -p %d sftp://127.0.0.1; '
              'get a.txt -o got.txt; put l.txt; get missing.txt -o m.txt; bye'
              % (" ".join(SSH_OPTS), USER, PASSWORD, ctx.port))
    p = subprocess.run(["lftp", "-c", script], cwd=local, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    ctx.transcript.append(p.stdout.decode("utf-8", "replace"))


BIG = 64 * 1024 * 1024


@scenario("sftp_interrupted", BODY, files=FILES, excuses=EXCUSES)
def sftp_interrupted(ctx):
    """A download cut short (the client killed), then finished with reget."""
    import signal
    import time
    with open(os.path.join(ctx.home, "big.bin"), "wb") as f:
        f.write(b"b" * BIG)
    if os.geteuid() == 0:
        os.chown(os.path.join(ctx.home, "big.bin"), 5001, 5001)
    local = _local(ctx)
    target = os.path.join(local, "big.bin")
    with open(os.path.join(local, "batch"), "w") as f:
        f.write("get big.bin\n")
    # A slow reader: the download is cut while it runs, wherever it has got to.
    p = subprocess.Popen(["sshpass", "-p", PASSWORD, "sftp"] + SSH_OPTS + [
        "-oBatchMode=no", "-oPubkeyAuthentication=no", "-l", "800", "-P", str(ctx.port),
        "-b", os.path.join(local, "batch"), USER + "@127.0.0.1"], cwd=local,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
            not os.path.exists(target) or os.path.getsize(target) < 1024 * 1024):
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    ctx.volatile(str(os.path.getsize(target)), "<PARTIAL>")
    sftp(ctx, "reget big.bin\n")
