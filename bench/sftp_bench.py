#!/usr/bin/env python3
"""SFTP benchmark: ftpredis (ftpredis.sftp) against ProFTPD 1.3.8's mod_sftp.

Starts ftpredis (``twistd -n ftpredis`` from this checkout) and Debian's proftpd with
mod_sftp, both on 127.0.0.1 with the same RSA host key, a public key login (RFC 4716 in
SFTPAuthorizedUserKeys), Redis logging off, and times OpenSSH's ``sftp -b``:

get     download --mib MiB to /dev/null (MiB/s, the whole session included)
put     upload --mib MiB (MiB/s, the whole session included)
login   --logins sequential sessions of connect, key login, ``bye`` (sessions/s)

OpenSSH's client offers one cipher and one MAC, the same to both servers (--cipher,
--mac; by default aes128-ctr and hmac-sha2-256, what it picks from twisted.conch's
lists anyway, where with ProFTPD it would pick chacha20-poly1305): like is compared
with like.  Beside
the rates, each server's CPU seconds per MiB transferred (user+system of the server
process and its reaped children, from /proc: ProFTPD forks a process per session), a
figure steadier than the rates on a loaded machine.

Runs are interleaved over --reps repetitions, the servers' order alternating; the
table shows medians and the ftpredis/proftpd ratio (for CPU, proftpd/ftpredis: above
1 means ftpredis spent less).  --baseline DIR adds the ftpredis of another source tree
to the same run, to see what a change buys.  proftpd needs root; without it, or with --no-proftpd, only
ftpredis is measured.  The machine may be shared and noisy: read ratios, not absolute
numbers.  Not a test: nothing asserts a time.  Only the processes started here are
stopped::

    python3 bench/sftp_bench.py                    # 64 MiB, 3 reps
    python3 bench/sftp_bench.py --mib 256 --reps 3 --logins 30
    python3 bench/sftp_bench.py --cipher aes256-ctr --mac hmac-sha2-512
    python3 bench/sftp_bench.py --mib 256 --baseline /tmp/main   # before/after a change
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
MiB = 1024 * 1024
HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)
USER = "bench"

COMMON = """\
Port                    {port}
DefaultAddress          127.0.0.1
AuthUserFile            {wd}/ftpd.passwd
RequireValidShell       off
DefaultRoot             ~
AllowOverwrite          on
TimeoutIdle             600
SFTPEngine              on
SFTPHostKey             {wd}/hostkey
SFTPAuthorizedUserKeys  file:{wd}/keys/%u
"""

FTPREDIS_CONF = 'ServerName "ftpredis-sftp-bench"\n' + COMMON

PROFTPD_CONF = """\
ServerType              standalone
ServerName              "proftpd-sftp-bench"
UseIPv6                 off
User                    nobody
Group                   nogroup
ScoreboardFile          {wd}/scoreboard
PidFile                 {wd}/proftpd.pid
WtmpLog                 off
UseReverseDNS           off
ModulePath              /usr/lib/proftpd
LoadModule              mod_sftp.c
AuthOrder               mod_auth_file.c
SFTPLog                 none
DelayEngine             off
""" + COMMON


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_ready(port, proc, what, log):
    deadline = time.time() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError("%s exited; see %s" % (what, log))
        try:
            with socket.create_connection((HOST, port), timeout=2) as s:
                if s.recv(100).startswith(b"SSH-2.0-"):
                    return
        except OSError:
            pass
        if time.time() > deadline:
            raise RuntimeError("%s not ready; see %s" % (what, log))
        time.sleep(0.1)


#: The -o options every sftp run gets (main() adds the cipher and MAC).
SSH_OPTIONS = ["-oStrictHostKeyChecking=no", "-oUserKnownHostsFile=/dev/null",
               "-oLogLevel=ERROR", "-oIdentitiesOnly=yes"]


def sftp(port, key, batch, cwd):
    path = os.path.join(cwd, "batch")
    with open(path, "w") as f:
        f.write(batch)
    p = subprocess.run(["sftp"] + SSH_OPTIONS + ["-i", key, "-P", str(port),
                        "-b", path, "%s@%s" % (USER, HOST)], cwd=cwd,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise RuntimeError("sftp failed: %s" % p.stdout.decode("utf-8", "replace"))


def timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


TICK = os.sysconf("SC_CLK_TCK")


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return f.read().split()
    except OSError:
        return []


def cpu_seconds(pid):
    """User+system CPU of ``pid`` and its reaped children, once every child it had is
    gone (ProFTPD's session processes: their time counts when the master reaps them)."""
    deadline = time.time() + 30
    while _children(pid) and time.time() < deadline:
        time.sleep(0.02)
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime, stime, cutime, cstime: fields 14-17 of proc(5), 12-15 after the name.
    return sum(int(v) for v in fields[11:15]) / TICK


def measured(pid, fn, *args):
    """(seconds, server CPU seconds) of one run of ``fn``."""
    c0 = cpu_seconds(pid)
    dt = timed(fn, *args)
    return dt, cpu_seconds(pid) - c0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mib", type=int, default=64, help="transfer size (default 64)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    ap.add_argument("--logins", type=int, default=20, help="sessions per login run")
    ap.add_argument("--no-proftpd", action="store_true", help="measure ftpredis only")
    ap.add_argument("--baseline", metavar="DIR",
                    help="also measure the ftpredis of another source tree (e.g. "
                    "`git archive main | tar -x -C DIR`), as 'baseline'")
    ap.add_argument("--cipher", default="aes128-ctr",
                    help="the cipher both servers are given (default aes128-ctr)")
    ap.add_argument("--mac", default="hmac-sha2-256",
                    help="the MAC both servers are given (default hmac-sha2-256)")
    ap.add_argument("--python", default=sys.executable, help="python for twistd")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    SSH_OPTIONS.extend(["-oCiphers=" + args.cipher, "-oMACs=" + args.mac])

    wd = tempfile.mkdtemp(prefix="sftp-bench-")
    os.chmod(wd, 0o755)
    procs, logs = [], []
    try:
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "",
                        "-f", os.path.join(wd, "hostkey")], check=True)
        local = os.path.join(wd, "local")
        os.makedirs(local)
        key = os.path.join(local, "id_rsa")
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", key],
                       check=True)
        os.makedirs(os.path.join(wd, "keys"))
        with open(os.path.join(wd, "keys", USER), "wb") as f:
            f.write(subprocess.run(["ssh-keygen", "-e", "-f", key + ".pub"], check=True,
                                   stdout=subprocess.PIPE).stdout)
        home = os.path.join(wd, "home")
        os.makedirs(home)
        os.chmod(home, 0o777)
        size = args.mib * MiB
        with open(os.path.join(home, "big.bin"), "wb") as f:
            f.write(os.urandom(size))
        os.chmod(os.path.join(home, "big.bin"), 0o644)
        shutil.copy(os.path.join(home, "big.bin"), os.path.join(local, "up.bin"))
        uid = 65534 if os.geteuid() == 0 else os.getuid()
        with open(os.path.join(wd, "ftpd.passwd"), "w") as f:
            f.write("%s:*:%d:%d::%s:/bin/false\n" % (USER, uid, uid, home))
        os.chmod(os.path.join(wd, "ftpd.passwd"), 0o600)

        servers = {}
        trees = [("ftpredis", PROJECT)]
        if args.baseline:
            trees.append(("baseline", os.path.abspath(args.baseline)))
        for name, tree in trees:
            port = free_port()
            conf = os.path.join(wd, name + ".conf")
            with open(conf, "w") as f:
                f.write(FTPREDIS_CONF.format(port=port, wd=wd))
            log = open(os.path.join(wd, name + ".out"), "ab")
            logs.append(log)
            env = dict(os.environ, PYTHONPATH=tree + os.pathsep
                       + os.environ.get("PYTHONPATH", ""))
            p = subprocess.Popen([args.python, "-c",
                                  "from twisted.scripts.twistd import run; run()",
                                  "-n", "--pidfile=", "-l",
                                  os.path.join(wd, name + "-twistd.log"),
                                  "ftpredis", "--config", conf], stdout=log,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 cwd=tree, env=env)
            procs.append(p)
            wait_ready(port, p, name, os.path.join(wd, name + "-twistd.log"))
            servers[name] = (port, p.pid)

        if not args.no_proftpd and os.geteuid() == 0 and shutil.which("proftpd"):
            port = free_port()
            conf = os.path.join(wd, "proftpd.conf")
            with open(conf, "w") as f:
                f.write(PROFTPD_CONF.format(port=port, wd=wd))
            log = open(os.path.join(wd, "proftpd.out"), "ab")
            logs.append(log)
            p = subprocess.Popen(["proftpd", "-n", "-q", "-c", conf], stdout=log,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            procs.append(p)
            wait_ready(port, p, "proftpd", os.path.join(wd, "proftpd.out"))
            servers["proftpd"] = (port, p.pid)
        elif not args.no_proftpd:
            print("proftpd not measured (needs root and proftpd)", file=sys.stderr)

        results = {(name, w): [] for name in servers
                   for w in ("get", "put", "login", "get-cpu", "put-cpu")}
        for rep in range(args.reps):
            order = list(servers.items())
            if rep % 2:
                order.reverse()
            for name, (port, pid) in order:
                dt, cpu = measured(pid, sftp, port, key, "get big.bin /dev/null\n", local)
                results[(name, "get")].append(args.mib / dt)
                results[(name, "get-cpu")].append(cpu / args.mib * 1000)
                dt, cpu = measured(pid, sftp, port, key, "put up.bin\n", local)
                results[(name, "put")].append(args.mib / dt)
                results[(name, "put-cpu")].append(cpu / args.mib * 1000)
                stored = os.path.join(home, "up.bin")
                if os.path.getsize(stored) != size:
                    raise RuntimeError("%s stored %d bytes, expected %d"
                                       % (name, os.path.getsize(stored), size))
                os.unlink(stored)
                t0 = time.perf_counter()
                for _ in range(args.logins):
                    sftp(port, key, "bye\n", local)
                results[(name, "login")].append(args.logins / (time.perf_counter() - t0))
            print("rep %d/%d done" % (rep + 1, args.reps), file=sys.stderr)

        print("SFTP %d MiB, %d reps, %d logins per run, %s + %s for both servers"
              % (args.mib, args.reps, args.logins, args.cipher, args.mac))
        for name in servers:
            for w in ("get", "put", "get-cpu", "put-cpu"):
                print("# %s %s: %s" % (name, w, " ".join("%.1f" % v
                                                         for v in results[(name, w)])))
        ours = [n for n in servers if n != "proftpd"]
        head = "%-8s" % "" + "".join("%15s" % n for n in servers)
        if "proftpd" in servers:
            head += "".join("%16s" % (n + "/pro") for n in ours)
        print(head)
        for w, unit in (("get", "MiB/s"), ("put", "MiB/s"), ("login", "sess/s"),
                        ("get-cpu", "ms/MiB"), ("put-cpu", "ms/MiB")):
            med = {n: statistics.median(results[(n, w)]) for n in servers}
            line = "%-8s" % w + "".join("%8.1f %-6s" % (med[n], unit) for n in servers)
            if "proftpd" in servers:
                # For CPU, proftpd's over ours: above 1 always means ftpredis did better.
                line += "".join("%16.2f" % (med["proftpd"] / med[n] if w.endswith("cpu")
                                            else med[n] / med["proftpd"]) for n in ours)
            print(line)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for log in logs:
            log.close()
        if not args.keep:
            shutil.rmtree(wd, ignore_errors=True)
        else:
            print("work directory kept: %s" % wd, file=sys.stderr)


if __name__ == "__main__":
    main()
