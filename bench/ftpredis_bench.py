#!/usr/bin/env python3
"""ftpredis benchmark: W1-W5, idle sessions' memory, and logging on/off, on loopback.

Starts a private ``redis-server`` and ftpredis (``twistd -n ftpredis``, from this
checkout) with a generated config, runs the workloads of the shared ProFTPD comparison
harness (``../shared/bench/ftpbench.py``) with a standard-library client, interleaved
over repetitions, and prints a table of medians::

    python3 bench/ftpredis_bench.py                      # everything, 3 reps
    python3 bench/ftpredis_bench.py --quick              # small sizes, 1 rep, ~1 minute
    python3 bench/ftpredis_bench.py --workloads W4,W4_nolog --reps 5 --workers 2
    python3 bench/ftpredis_bench.py --workloads W5 --profile-dir /tmp/prof   # py-spy

Workloads (each bounded by --deadline seconds and a fixed count):

W1      RETR --big-mib MiB in binary mode, client recv_into a 1 MiB buffer (MiB/s)
W2      STOR --big-mib MiB with socket.sendfile, size checked, file deleted (MiB/s)
W3c1    --sessions x (connect, USER, PASS, PWD, QUIT), one client thread (sessions/s)
W3c16   the same with 16 client threads (sessions/s); --client-procs N spreads them over
        N client processes
W4      8 logged-in sessions share --small-total x (PASV, RETR 4 KiB) (files/s)
W4_nolog  W4 against a second ftpredis with RedisEngine off (logging on/off check)
W3c1_spool, W3c16_spool, W4_spool   the same against a third ftpredis with RedisSpool
        (RedisSpoolSync everysec): the spool's cost, interleaved with W3c1, W3c16, W4
W5      --noops NOOP round trips on one session, client on CPU 0, server on CPU 1 (p50/p99 us)
IDLE    --idle-sessions logged-in sessions held open at once by several client
        processes; the server's RSS (MiB, summed over its process tree) is the result

Every run with logging checks that Redis received exactly one record per command sent
plus CONNECT and DISCONNECT per session (``lost`` column).  Only 127.0.0.1 is used; the
tool stops exactly the processes it started.  Benchmarks are not tests: nothing here
asserts a time.
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"
MiB = 1024 * 1024
HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)

USER, PASSWORD = "bench", "bench-password"


# ------------------------------------------------------------------------- client

class FTPError(Exception):
    pass


class Ctl:
    """One control connection (the shared harness's client, trimmed)."""

    def __init__(self, port, timeout=30):
        self.timeout = timeout
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rf = self.sock.makefile("rb")
        self.ncmds = 0

    def reply(self):
        line = self.rf.readline()
        if not line:
            raise FTPError("control connection closed")
        code = line[:3]
        if line[3:4] == b"-":
            while True:
                more = self.rf.readline()
                if not more:
                    raise FTPError("closed in a multi-line reply")
                if more[:3] == code and more[3:4] == b" ":
                    break
        return int(code), line

    def cmd(self, text, expect="23"):
        self.sock.sendall(text.encode() + b"\r\n")
        self.ncmds += 1
        code, line = self.reply()
        if expect and str(code)[0] not in expect:
            raise FTPError("%s -> %r" % (text.split()[0], line))
        return code, line

    def login(self, user=USER, password=PASSWORD):
        code, line = self.reply()
        if code != 220:
            raise FTPError("greeting %r" % line)
        code, _ = self.cmd("USER " + user)
        if code == 331:
            self.cmd("PASS " + password, "2")

    def pasv(self):
        _, line = self.cmd("PASV", "2")
        m = re.search(rb"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", line)
        return socket.create_connection((HOST, int(m.group(5)) * 256 + int(m.group(6))),
                                        timeout=self.timeout)

    def retr(self, path, buf):
        d = self.pasv()
        try:
            self.cmd("RETR " + path, "1")
            n, view = 0, memoryview(buf)
            while True:
                k = d.recv_into(view)
                if not k:
                    break
                n += k
        finally:
            d.close()
        code, line = self.reply()
        if code // 100 != 2:
            raise FTPError("RETR end %r" % line)
        return n

    def stor(self, path, fileobj):
        d = self.pasv()
        try:
            self.cmd("STOR " + path, "1")
            n = d.sendfile(fileobj)
            d.shutdown(socket.SHUT_WR)
        finally:
            d.close()
        code, line = self.reply()
        if code // 100 != 2:
            raise FTPError("STOR end %r" % line)
        return n

    def quit(self):
        try:
            self.cmd("QUIT", "2")
        finally:
            self.close()

    def close(self):
        try:
            self.rf.close()
        finally:
            self.sock.close()


def redis_cmd(port, *args):
    s = socket.create_connection((HOST, port), timeout=10)
    try:
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        line = s.makefile("rb").readline()
        if line[:1] == b":":
            return int(line[1:])
        if line[:1] == b"+":
            return line[1:].strip().decode()
        raise RuntimeError("redis: %r" % line)
    finally:
        s.close()


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ------------------------------------------------------------------- processes

def proc_tree(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                todo.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return out


def tree_cpu(pid):
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for p in proc_tree(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15]) / tick
        except OSError:
            pass
    return total


def tree_rss_mib(pid):
    total = 0
    for p in proc_tree(pid):
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


CONF = """\
# generated by bench/ftpredis_bench.py
ServerName              "ftpredis-bench"
Port                    {port}
DefaultAddress          127.0.0.1
MaxInstances            {max_instances}
UseReverseDNS           off
AuthUserFile            {wd}/ftpd.passwd
AuthGroupFile           {wd}/ftpd.group
RequireValidShell       off
DefaultRoot             ~
AllowOverwrite          on
TimeoutIdle             600
{workers}
RedisEngine             {engine}
RedisServer             127.0.0.1:{redis_port}
LogFormat               redis "%h %l %u %t \\"%r\\" %s %b"
RedisLogOnEvent         ALL redis
"""


class Stack:
    """One redis-server plus one ftpredis, with a generated config."""

    def __init__(self, name, base, args, logging=True, spool=False):
        self.name = name
        self.spool = spool
        self.wd = os.path.join(base, name)
        self.args = args
        self.logging = logging
        self.procs = []
        self.logs = []

    def _spawn(self, argv, logname, **kw):
        log = open(os.path.join(self.wd, logname), "ab")
        self.logs.append(log)
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def start(self, root, pwhash):
        os.makedirs(self.wd, exist_ok=True)
        self.port, self.redis_port = free_port(), free_port()
        self.redis = self._spawn(
            ["redis-server", "--port", str(self.redis_port), "--bind", HOST, "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", self.wd], "redis.out",
            cwd=self.wd)
        deadline = time.time() + 10
        while True:
            try:
                if redis_cmd(self.redis_port, "PING") == "PONG":
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("redis-server did not start; see %s" % self.wd)
            time.sleep(0.05)
        uid, gid = os.getuid(), os.getgid()
        if uid == 0:
            uid = gid = 65534           # uid 0 may not log in (RootLogin off)
        with open(os.path.join(self.wd, "ftpd.passwd"), "w") as f:
            f.write("%s:%s:%d:%d::%s:/bin/false\n" % (USER, pwhash, uid, gid, root))
        os.chmod(os.path.join(self.wd, "ftpd.passwd"), 0o600)
        with open(os.path.join(self.wd, "ftpd.group"), "w") as f:
            f.write("%s:x:%d:\n" % (USER, gid))
        os.chmod(os.path.join(self.wd, "ftpd.group"), 0o600)
        conf = os.path.join(self.wd, "ftpd.conf")
        with open(conf, "w") as f:
            f.write(CONF.format(
                port=self.port, wd=self.wd, redis_port=self.redis_port,
                engine="on" if self.logging else "off",
                max_instances=max(300, self.args.idle_sessions + 100),
                workers=(("ServerWorkers %d\n" % self.args.workers) if self.args.workers > 1
                         else "") + "".join(line + "\n" for line in self.args.directive)
                + ("RedisSpool %s\n" % os.path.join(self.wd, "spool") if self.spool else "")))
        env = dict(os.environ, PYTHONPATH=PROJECT + os.pathsep
                   + os.environ.get("PYTHONPATH", ""))
        argv = [self.args.python, "-c", "from twisted.scripts.twistd import run; run()",
                "-n", "--pidfile=", "-l", os.path.join(self.wd, "twistd.log"),
                "ftpredis", "--config", conf]
        self.server = self._spawn(argv, "server.out", cwd=PROJECT, env=env)
        deadline = time.time() + 30
        while True:
            if self.server.poll() is not None:
                raise RuntimeError("ftpredis exited; see %s/twistd.log" % self.wd)
            try:
                c = Ctl(self.port, 5)
                c.login()
                c.quit()
                if self.logging:
                    self.records(5)     # QUIT and DISCONNECT land after the 221
                break
            except (OSError, FTPError):
                if time.time() > deadline:
                    raise RuntimeError("ftpredis not ready; see %s" % self.wd)
                time.sleep(0.1)

    def records(self, expected, settle=10.0):
        deadline = time.time() + settle
        last, since = -1, time.time()
        while True:
            n = redis_cmd(self.redis_port, "LLEN", "redis")
            if n != last:
                last, since = n, time.time()
            if n >= expected and time.time() - since > 0.2:
                return n
            if time.time() - since > 1.5 or time.time() > deadline:
                return n
            time.sleep(0.05)

    def reset(self):
        redis_cmd(self.redis_port, "DEL", "redis")

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for log in self.logs:
            log.close()


# -------------------------------------------------------------------- workloads

class Deadline:
    def __init__(self, seconds):
        self.t = time.monotonic() + seconds

    def check(self):
        if time.monotonic() > self.t:
            raise TimeoutError("workload deadline exceeded")


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(q / 100 * (len(values) - 1)))))]


def threads(n, target):
    errors = []

    def wrap(i):
        try:
            target(i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("%s: %s" % (type(e).__name__, e))

    ts = [threading.Thread(target=wrap, args=(i,), daemon=True) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise FTPError("%d client thread errors, first: %s" % (len(errors), errors[0]))


def w1(stack, ctx, args):
    buf = bytearray(MiB)
    c = Ctl(stack.port)
    c.login()
    c.cmd("TYPE I")
    t0 = time.perf_counter()
    n = c.retr("big.bin", buf)
    dt = time.perf_counter() - t0
    c.quit()
    if n != args.big_mib * MiB:
        raise FTPError("RETR got %d bytes" % n)
    return {"value": n / MiB / dt}, c.ncmds, 1


def w2(stack, ctx, args):
    name = "up_%d.bin" % os.getpid()
    c = Ctl(stack.port)
    c.login()
    c.cmd("TYPE I")
    with open(ctx["big"], "rb") as f:
        t0 = time.perf_counter()
        n = c.stor(name, f)
        dt = time.perf_counter() - t0
    c.quit()
    dest = os.path.join(ctx["root"], name)
    size = os.path.getsize(dest) if os.path.exists(dest) else -1
    if os.path.exists(dest):
        os.unlink(dest)
    if n != args.big_mib * MiB or size != n:
        raise FTPError("STOR sent %d, file has %d" % (n, size))
    return {"value": n / MiB / dt}, c.ncmds, 1


def _churn(port, n, conc, deadline):
    """``n`` sessions of connect, USER, PASS, PWD, QUIT over ``conc`` threads; the
    commands sent."""
    lock = threading.Lock()
    state = {"next": 0, "cmds": 0}

    def worker(_):
        while True:
            with lock:
                if state["next"] >= n:
                    return
                state["next"] += 1
            deadline.check()
            c = Ctl(port)
            try:
                c.login()
                c.cmd("PWD")
                c.quit()
            finally:
                c.close()
            with lock:
                state["cmds"] += c.ncmds

    threads(conc, worker)
    return state["cmds"]


def _churn_procs(port, n, conc, procs, deadline):
    """:func:`_churn` split over ``procs`` forked client processes (``conc`` threads in
    all): one Python client process holds the GIL for its threads and tops out near
    2,000 sessions/s on this class of machine, below what a server may do."""
    kids = []
    for i in range(procs):
        share = n // procs + (1 if i < n % procs else 0)
        threads_i = max(1, conc // procs + (1 if i < conc % procs else 0))
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:                            # the child: run its share, report, exit
            os.close(r)
            code = 0
            try:
                out = b"%d" % _churn(port, share, threads_i, deadline)
            except Exception as e:  # noqa: BLE001 - reported to the parent
                out, code = ("E%s: %s" % (type(e).__name__, e)).encode(), 1
            os.write(w, out)
            os._exit(code)
        os.close(w)
        kids.append((pid, r))
    cmds, errors = 0, []
    for pid, r in kids:
        with os.fdopen(r, "rb") as f:
            out = f.read()
        os.waitpid(pid, 0)
        if out.startswith(b"E") or not out:
            errors.append(out.decode("utf-8", "replace") or "client process died")
        else:
            cmds += int(out)
    if errors:
        raise FTPError("%d client process errors, first: %s" % (len(errors), errors[0]))
    return cmds


def w3(conc):
    def run(stack, ctx, args):
        n = args.sessions
        dl = Deadline(args.deadline)
        procs = min(args.client_procs, conc)
        t0 = time.perf_counter()
        if procs > 1:
            cmds = _churn_procs(stack.port, n, conc, procs, dl)
        else:
            cmds = _churn(stack.port, n, conc, dl)
        return {"value": n / (time.perf_counter() - t0)}, cmds, n
    return run


def w4(stack, ctx, args):
    total, conc = args.small_total, 8
    lock = threading.Lock()
    state = {"next": 0}
    ctls = []
    for _ in range(conc):
        c = Ctl(stack.port)
        c.login()
        c.cmd("TYPE I")
        ctls.append(c)
    dl = Deadline(args.deadline)

    def worker(i):
        c, buf = ctls[i], bytearray(65536)
        while True:
            with lock:
                k = state["next"]
                if k >= total:
                    return
                state["next"] += 1
            dl.check()
            if c.retr("small/f%03d.bin" % (k % 100), buf) != 4096:
                raise FTPError("small RETR: wrong size")

    t0 = time.perf_counter()
    threads(conc, worker)
    dt = time.perf_counter() - t0
    for c in ctls:
        c.quit()
    return {"value": total / dt}, sum(c.ncmds for c in ctls), conc


def w5(stack, ctx, args):
    cpus = sorted(os.sched_getaffinity(0))
    pinned = len(cpus) >= 2
    if pinned:
        saved = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpus[0]})
        for p in proc_tree(stack.server.pid):
            try:
                os.sched_setaffinity(p, {cpus[1]})
            except OSError:
                pass
    try:
        c = Ctl(stack.port)
        c.login()
        sock, rf, lat = c.sock, c.rf, []
        dl = Deadline(args.deadline)
        for i in range(args.noops):
            t0 = time.perf_counter_ns()
            sock.sendall(b"NOOP\r\n")
            line = rf.readline()
            lat.append(time.perf_counter_ns() - t0)
            if line[:1] != b"2":
                raise FTPError("NOOP -> %r" % line)
            if not i & 1023:
                dl.check()
        c.ncmds += args.noops
        c.quit()
    finally:
        if pinned:
            os.sched_setaffinity(0, saved)
            for p in proc_tree(stack.server.pid):
                try:
                    os.sched_setaffinity(p, set(cpus))
                except OSError:
                    pass
    return {"value": pct(lat, 50) / 1e3, "p99": pct(lat, 99) / 1e3}, c.ncmds, 1


def _idle_client(port, n, conn, deadline):
    """Child process: open ``n`` logged-in sessions, report, hold them until told."""
    raise_fd_limit()
    held, err = [], None
    try:
        for _ in range(n):
            if time.monotonic() > deadline:
                raise TimeoutError("idle sessions: deadline exceeded")
            c = Ctl(port, 60)
            c.login()
            held.append(c)
    except Exception as e:  # noqa: BLE001 - reported to the parent
        err = "%s: %s" % (type(e).__name__, e)
    conn.send((len(held), sum(c.ncmds for c in held), err))
    conn.recv()
    for c in held:
        try:
            c.quit()
        except Exception:  # noqa: BLE001
            c.close()
    conn.send("done")


def idle(stack, ctx, args):
    import multiprocessing
    n, k = args.idle_sessions, args.idle_clients
    rss0 = tree_rss_mib(stack.server.pid)
    mp = multiprocessing.get_context("fork")
    pipes, procs = [], []
    deadline = time.monotonic() + args.deadline
    for i in range(k):
        share = n // k + (1 if i < n % k else 0)
        a, b = mp.Pipe()
        p = mp.Process(target=_idle_client, args=(stack.port, share, b, deadline))
        p.start()
        pipes.append(a)
        procs.append(p)
    got = [a.recv() for a in pipes]
    time.sleep(0.5)
    rss = tree_rss_mib(stack.server.pid)
    opened = sum(g[0] for g in got)
    cmds = sum(g[1] for g in got)
    for a in pipes:
        a.send("close")
    for a in pipes:
        a.recv()
    for p in procs:
        p.join(30)
    errors = [g[2] for g in got if g[2]]
    if errors:
        raise FTPError("idle: %d of %d sessions opened; %s" % (opened, n, errors[0]))
    return {"value": rss, "rss_before": rss0, "sessions": opened,
            "kib_per_session": (rss - rss0) * 1024 / max(1, opened)}, cmds + opened, opened


WORKLOADS = {
    # name: (function, stack, unit, higher is better)
    "W1": (w1, "log", "MiB/s", True),
    "W2": (w2, "log", "MiB/s", True),
    "W3c1": (w3(1), "log", "sessions/s", True),
    "W3c16": (w3(16), "log", "sessions/s", True),
    "W4": (w4, "log", "files/s", True),
    "W4_nolog": (w4, "nolog", "files/s", True),
    "W3c1_spool": (w3(1), "spool", "sessions/s", True),
    "W3c16_spool": (w3(16), "spool", "sessions/s", True),
    "W4_spool": (w4, "spool", "files/s", True),
    "W5": (w5, "log", "NOOP p50 us", False),
    "W5_nolog": (w5, "nolog", "NOOP p50 us", False),
    "IDLE": (idle, "log", "server RSS MiB", False),
}


def make_files(root, big_mib):
    os.makedirs(os.path.join(root, "small"), exist_ok=True)
    big = os.path.join(root, "big.bin")
    if not (os.path.exists(big) and os.path.getsize(big) == big_mib * MiB):
        block = os.urandom(MiB)
        with open(big, "wb") as f:
            for _ in range(big_mib):
                f.write(block)
    for i in range(100):
        p = os.path.join(root, "small", "f%03d.bin" % i)
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(os.urandom(4096))
    with open(big, "rb") as f:          # page cache
        while f.read(8 * MiB):
            pass
    return big


def sha512_crypt(password):
    sys.path.insert(0, PROJECT)
    from ftpredis.auth.portal import hash_password
    return hash_password(password)


def profile_start(pid, out):
    try:
        return subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--subprocesses",
                                 "--format", "raw", "--rate", os.environ.get("PYSPY_RATE", "500"), "-o", out],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        print("py-spy not found (pip install py-spy): not profiling", file=sys.stderr)
        return None


def profile_stop(p):
    if p is not None:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_one(stack, name, ctx, args, rep):
    fn, _, unit, _ = WORKLOADS[name]
    if stack.logging:
        stack.reset()
    cpu0 = tree_cpu(stack.server.pid)
    prof = None
    if args.profile_dir and rep == 0:
        os.makedirs(args.profile_dir, exist_ok=True)
        prof = profile_start(stack.server.pid, os.path.join(args.profile_dir, name + ".txt"))
        time.sleep(0.5)
    rec = {"workload": name, "rep": rep}
    t0 = time.perf_counter()
    try:
        metrics, cmds, sessions = fn(stack, ctx, args)
        rec.update(ok=True, metrics=metrics)
    except Exception as e:  # noqa: BLE001 - recorded
        rec.update(ok=False, error="%s: %s" % (type(e).__name__, e))
        cmds = sessions = None
    rec["wall_s"] = time.perf_counter() - t0
    profile_stop(prof)
    if rec["ok"] and stack.logging:
        expected = cmds + 2 * sessions
        written = stack.records(expected)
        rec["lost"] = expected - written
    rec["server_cpu_s"] = tree_cpu(stack.server.pid) - cpu0
    return rec


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", default="W1,W2,W3c1,W3c16,W4,W4_nolog,W5,IDLE")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--big-mib", type=int, default=512)
    ap.add_argument("--sessions", type=int, default=500)
    ap.add_argument("--small-total", type=int, default=2000)
    ap.add_argument("--noops", type=int, default=10000)
    ap.add_argument("--idle-sessions", type=int, default=10000)
    ap.add_argument("--idle-clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=1,
                    help="ServerWorkers in the generated config (1 = no worker processes)")
    ap.add_argument("--directive", action="append", default=[], metavar="LINE",
                    help="a config line added to the main server (repeatable), "
                         "e.g. --directive 'BusyPoll off'")
    ap.add_argument("--client-procs", type=int, default=1, metavar="N",
                    help="W3: spread the client threads over N processes (a single Python "
                         "client process can be the limit; W3c1 stays one thread)")
    ap.add_argument("--deadline", type=float, default=180.0, help="seconds per run")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--workdir", default=None, help="default: a fresh temporary directory")
    ap.add_argument("--json", default=None, help="write every run's record here")
    ap.add_argument("--profile-dir", default=None,
                    help="py-spy record (raw collapsed stacks) of the server during the "
                         "first rep of each workload")
    ap.add_argument("--quick", action="store_true",
                    help="1 rep, 32 MiB, 100 sessions, 400 files, 2000 NOOPs, 1000 idle")
    args = ap.parse_args()
    if args.quick:
        args.reps, args.big_mib, args.sessions = 1, 32, 100
        args.small_total, args.noops, args.idle_sessions = 400, 2000, 1000
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for n in names:
        if n not in WORKLOADS:
            ap.error("unknown workload %r (choose from %s)" % (n, ", ".join(WORKLOADS)))
    limit = raise_fd_limit()
    if "IDLE" in names and limit < args.idle_sessions // args.idle_clients + 100:
        print("warning: fd limit %d is low for %d idle sessions" % (limit, args.idle_sessions),
              file=sys.stderr)

    base = args.workdir or tempfile.mkdtemp(prefix="ftpredis-bench-")
    os.makedirs(base, exist_ok=True)
    root = os.path.join(base, "root")
    ctx = {"root": root, "big": make_files(root, args.big_mib)}
    pwhash = sha512_crypt(PASSWORD)
    stacks = {"log": Stack("log", base, args, logging=True)}
    if any(WORKLOADS[n][1] == "nolog" for n in names):
        stacks["nolog"] = Stack("nolog", base, args, logging=False)
    if any(WORKLOADS[n][1] == "spool" for n in names):
        stacks["spool"] = Stack("spool", base, args, spool=True)    # RedisSpool, everysec
    runs = []
    try:
        for s in stacks.values():
            s.start(root, pwhash)
        for rep in range(args.reps):
            for name in names:
                stack = stacks[WORKLOADS[name][1]]
                rec = run_one(stack, name, ctx, args, rep)
                runs.append(rec)
                m = rec.get("metrics", {})
                print("rep %d %-9s %s%s" % (
                    rep, name,
                    ("%.1f %s" % (m["value"], WORKLOADS[name][2])) if rec["ok"]
                    else "FAILED " + rec["error"],
                    ("  lost %d" % rec["lost"]) if "lost" in rec else ""), flush=True)
    finally:
        for s in stacks.values():
            s.stop()
        if args.workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "runs": runs}, f, indent=1)

    print()
    print("ftpredis %s, %d rep(s), ServerWorkers %d, logging every command "
          "(RedisLogOnEvent ALL)" % (_version(), args.reps, args.workers))
    print()
    print("| workload | median | unit | min..max | extra | server CPU s | records lost |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        ok = [r for r in runs if r["workload"] == name and r["ok"]]
        failed = sum(1 for r in runs if r["workload"] == name and not r["ok"])
        if not ok:
            print("| %s | FAILED (%d) | | | | | |" % (name, failed))
            continue
        vals = [r["metrics"]["value"] for r in ok]
        extra = ""
        if name in ("W5", "W5_nolog"):
            extra = "p99 %.0f us" % statistics.median(r["metrics"]["p99"] for r in ok)
        elif name == "IDLE":
            extra = "%.1f KiB/session, %d sessions" % (
                statistics.median(r["metrics"]["kib_per_session"] for r in ok),
                min(r["metrics"]["sessions"] for r in ok))
        elif name == "W4_nolog":
            on = [r["metrics"]["value"] for r in runs if r["workload"] == "W4" and r["ok"]]
            if on:
                extra = "logging on = %.2fx of off" % (statistics.median(on)
                                                        / statistics.median(vals))
        lost = [r["lost"] for r in ok if "lost" in r]
        print("| %s | %.1f | %s | %.1f..%.1f | %s | %.2f | %s |%s" % (
            name, statistics.median(vals), WORKLOADS[name][2], min(vals), max(vals), extra,
            statistics.median(r["server_cpu_s"] for r in ok),
            sum(lost) if lost else "-", (" %d failed" % failed) if failed else ""))
    return 1 if any(not r["ok"] or r.get("lost") for r in runs) else 0


def _version():
    try:
        sys.path.insert(0, PROJECT)
        from ftpredis import __version__
        return __version__
    except ImportError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
