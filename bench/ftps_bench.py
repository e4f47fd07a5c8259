#!/usr/bin/env python3
"""FTPS transfer benchmark: ftpredis (ftpredis.tls.ftps) against ProFTPD 1.3.8's mod_tls.

Starts ftpredis (``twistd -n ftpredis`` from this checkout) and Debian's proftpd with
mod_tls, both on 127.0.0.1 with the same generated certificate (RSA 2048), TLSv1.2 and
TLSv1.3, ``TLSRequired on``, Redis logging off (this measures TLS transfers), and times
with one standard-library client (ftplib.FTP_TLS resuming the control session on the
data connection, PROT P, passive):

RETR    download --mib MiB into memory (MiB/s)
STOR    upload --mib MiB from memory (MiB/s)

and the server's CPU time per MiB during each transfer (every thread of the server's
process tree, from ``/proc/<pid>/task/<tid>/schedstat``; ProFTPD's session process is a
child of the one started here): CPU figures move less than MiB/s when the machine is
shared.

Runs are interleaved over --reps repetitions, each with the client limited to TLS 1.2
and then to TLS 1.3 (``--tls``); the table shows medians and the ratios to proftpd.
``--baseline DIR`` adds the ftpredis checkout in DIR (another commit: ``git archive``
it there) to the same interleaved run.  proftpd needs root (it switches to User
nobody); without root, or with --no-proftpd, only ftpredis is measured.  The machine may be shared and noisy:
read ratios, not absolute numbers.  Not a test: nothing asserts a time.  Only the
processes started here are stopped::

    python3 bench/ftps_bench.py                    # 64 MiB, 5 reps
    python3 bench/ftps_bench.py --mib 256 --reps 3 --tls 1.2
    python3 bench/ftps_bench.py --baseline /tmp/ftpredis-main   # before/after, one run
"""

import argparse
import ftplib
import io
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
MiB = 1024 * 1024
HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)
USER, PASSWORD = "bench", "bench-password"

FTPREDIS_CONF = """\
ServerName              "ftpredis-ftps-bench"
Port                    {port}
DefaultAddress          127.0.0.1
AuthUserFile            {wd}/ftpd.passwd
RequireValidShell       off
DefaultRoot             ~
AllowOverwrite          on
TimeoutIdle             600
TimeoutNoTransfer       600
RedisEngine             off
TLSEngine               on
TLSProtocol             {protocol}
TLSRSACertificateFile   {wd}/cert.pem
TLSRSACertificateKeyFile {wd}/key.pem
TLSRequired             on
"""

PROFTPD_CONF = """\
ServerType              standalone
ServerName              "proftpd-ftps-bench"
Port                    {port}
DefaultAddress          127.0.0.1
UseIPv6                 off
SocketBindTight         on
User                    nobody
Group                   nogroup
ScoreboardFile          {wd}/scoreboard
PidFile                 {wd}/proftpd.pid
WtmpLog                 off
UseReverseDNS           off
ModulePath              /usr/lib/proftpd
LoadModule              mod_tls.c
AuthUserFile            {wd}/ftpd.passwd
AuthOrder               mod_auth_file.c
RequireValidShell       off
DefaultRoot             ~
AllowOverwrite          on
TimeoutIdle             600
TimeoutNoTransfer       600
TLSEngine               on
TLSLog                  none
TLSProtocol             {protocol}
TLSRSACertificateFile   {wd}/cert.pem
TLSRSACertificateKeyFile {wd}/key.pem
TLSRequired             on
TLSVerifyClient         off
"""


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """Resumes the control connection's TLS session on data connections, as mod_tls
    (and ftpredis) require by default."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
        return conn, size


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
                if s.recv(100).startswith(b"220"):
                    return
        except OSError:
            pass
        if time.time() > deadline:
            raise RuntimeError("%s not ready; see %s" % (what, log))
        time.sleep(0.1)


def tree_cpu_ns(pid):
    """CPU nanoseconds used so far by every thread of ``pid`` and its descendants."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tids = os.listdir("/proc/%d/task" % p)
        except OSError:
            continue
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/schedstat" % (p, tid)) as f:
                    total += int(f.read().split()[0])
                with open("/proc/%d/task/%s/children" % (p, tid)) as f:
                    todo.extend(int(c) for c in f.read().split())
            except OSError:
                pass
    return total


def client(port, ctx):
    """A logged-in client in binary mode: FTPS with PROT P, or plain FTP (ctx None)."""
    if ctx is None:
        f = ftplib.FTP(timeout=60)
    else:
        f = ReusingFTP_TLS(context=ctx, timeout=60)
    f.connect(HOST, port)
    f.login(USER, PASSWORD)
    if ctx is not None:
        f.prot_p()
    f.voidcmd("TYPE I")
    return f


def _recv_all(f, cmd):
    """Plain FTP: the data connection read with recv_into into one 1 MiB buffer (as
    the shared harness's W1 reads it); the number of bytes."""
    conn = f.transfercmd(cmd)
    buf = memoryview(bytearray(MiB))
    n = 0
    with conn:
        while True:
            k = conn.recv_into(buf)
            if not k:
                break
            n += k
    f.voidresp()
    return n


def retr(port, ctx, size, pid):
    """``(MiB/s, server CPU ms per MiB, client CPU ms per MiB)`` of one download."""
    f = client(port, ctx)
    got = [0]

    def sink(data):
        got[0] += len(data)
    c0, p0 = tree_cpu_ns(pid), time.process_time()
    t0 = time.perf_counter()
    if ctx is None:
        got[0] = _recv_all(f, "RETR big.bin")
    else:
        f.retrbinary("RETR big.bin", sink, blocksize=256 * 1024)
    dt = time.perf_counter() - t0
    cpu, own = tree_cpu_ns(pid) - c0, time.process_time() - p0
    f.quit()
    if got[0] != size:
        raise RuntimeError("RETR got %d bytes, expected %d" % (got[0], size))
    return size / MiB / dt, cpu / 1e6 / (size / MiB), own * 1e3 / (size / MiB)


def stor(port, ctx, payload, pid):
    """``(MiB/s, server CPU ms per MiB, client CPU ms per MiB)`` of one upload."""
    f = client(port, ctx)
    c0, p0 = tree_cpu_ns(pid), time.process_time()
    t0 = time.perf_counter()
    f.storbinary("STOR up.bin", io.BytesIO(payload), blocksize=256 * 1024)
    dt = time.perf_counter() - t0
    cpu, own = tree_cpu_ns(pid) - c0, time.process_time() - p0
    size = f.size("up.bin")
    f.delete("up.bin")
    f.quit()
    if size != len(payload):
        raise RuntimeError("STOR stored %s bytes, expected %d" % (size, len(payload)))
    return (len(payload) / MiB / dt, cpu / 1e6 / (len(payload) / MiB),
            own * 1e3 / (len(payload) / MiB))


def config(template, args, **values):
    """A server's configuration; with --plain, without its TLS lines."""
    text = template.format(protocol=args.protocol, **values)
    return text[:text.index("TLSEngine")] if args.plain else text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mib", type=int, default=64, help="transfer size (default 64)")
    ap.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    ap.add_argument("--protocol", default="TLSv1.2 TLSv1.3",
                    help="TLSProtocol for both servers (default 'TLSv1.2 TLSv1.3')")
    ap.add_argument("--tls", default="1.2,1.3",
                    help="TLS versions the client runs, each in turn (default 1.2,1.3)")
    ap.add_argument("--baseline", action="append", default=[], metavar="DIR",
                    help="also measure the ftpredis checkout in DIR (before/after in one "
                         "run; repeatable)")
    ap.add_argument("--plain", action="store_true",
                    help="plain FTP instead (no TLS; RETR read with recv_into into a 1 MiB "
                         "buffer, as the shared harness's W1): the sendfile/splice paths")
    ap.add_argument("--no-proftpd", action="store_true", help="measure ftpredis only")
    ap.add_argument("--python", default=sys.executable, help="python for twistd")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--rotate", action="store_true",
                    help="rotate the order of the servers each repetition (the first of a "
                         "repetition tends to lose on a busy VM)")
    args = ap.parse_args()

    wd = tempfile.mkdtemp(prefix="ftps-bench-")
    os.chmod(wd, 0o755)
    procs, logs = [], []
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", os.path.join(wd, "key.pem"),
                        "-out", os.path.join(wd, "cert.pem"), "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        os.chmod(os.path.join(wd, "key.pem"), 0o600)
        home = os.path.join(wd, "home")
        os.makedirs(home)
        os.chmod(home, 0o777)
        size = args.mib * MiB
        payload = os.urandom(size)
        with open(os.path.join(home, "big.bin"), "wb") as f:
            f.write(payload)
        os.chmod(os.path.join(home, "big.bin"), 0o644)
        from passlib.hash import sha512_crypt
        uid = 65534 if os.geteuid() == 0 else os.getuid()
        with open(os.path.join(wd, "ftpd.passwd"), "w") as f:
            f.write("%s:%s:%d:%d::%s:/bin/false\n"
                    % (USER, sha512_crypt.using(rounds=5000).hash(PASSWORD), uid, uid, home))
        os.chmod(os.path.join(wd, "ftpd.passwd"), 0o600)

        servers = {}
        checkouts = [("ftpredis", PROJECT)] + [
            ("ftpredis@%s" % os.path.basename(os.path.normpath(d)), os.path.abspath(d))
            for d in args.baseline]
        for name, checkout in checkouts:
            port = free_port()
            tag = name.replace("@", "-")
            conf = os.path.join(wd, tag + ".conf")
            with open(conf, "w") as f:
                f.write(config(FTPREDIS_CONF, args, port=port, wd=wd))
            log = open(os.path.join(wd, tag + ".out"), "ab")
            logs.append(log)
            env = dict(os.environ, PYTHONPATH=checkout + os.pathsep
                       + os.environ.get("PYTHONPATH", ""))
            p = subprocess.Popen([args.python, "-c",
                                  "from twisted.scripts.twistd import run; run()",
                                  "-n", "--pidfile=", "-l", os.path.join(wd, tag + ".log"),
                                  "ftpredis", "--config", conf], stdout=log,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 cwd=checkout, env=env)
            procs.append(p)
            wait_ready(port, p, name, os.path.join(wd, tag + ".log"))
            servers[name] = port, p.pid

        if not args.no_proftpd and os.geteuid() == 0 and shutil.which("proftpd"):
            log = open(os.path.join(wd, "proftpd.out"), "ab")
            logs.append(log)
            for attempt in range(5):
                # Another program's connections may hold the port picked (TIME_WAIT
                # on a busy machine): proftpd then exits, and another port is tried.
                port = free_port()
                conf = os.path.join(wd, "proftpd.conf")
                with open(conf, "w") as f:
                    f.write(config(PROFTPD_CONF, args, port=port, wd=wd))
                p = subprocess.Popen(["proftpd", "-n", "-c", conf], stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                procs.append(p)
                try:
                    wait_ready(port, p, "proftpd", os.path.join(wd, "proftpd.out"))
                    break
                except RuntimeError:
                    if p.poll() is None or attempt == 4:
                        raise
            servers["proftpd"] = port, p.pid
        elif not args.no_proftpd:
            print("proftpd not measured (needs root and proftpd)", file=sys.stderr)

        versions = ["plain"] if args.plain else [
            v.strip() for v in args.tls.split(",") if v.strip()]
        results = {}
        for rep in range(args.reps):
            for version in versions:
                ctx = None
                if version != "plain":
                    ctx = ssl.create_default_context(cafile=os.path.join(wd, "cert.pem"))
                    ctx.minimum_version = ctx.maximum_version = TLS_VERSIONS[version]
                order = list(servers.items())
                if args.rotate:
                    k = rep % len(order)
                    order = order[k:] + order[:k]
                for name, (port, pid) in order:
                    results.setdefault((name, "RETR", version), []).append(
                        retr(port, ctx, size, pid))
                    results.setdefault((name, "STOR", version), []).append(
                        stor(port, ctx, payload, pid))
            print("rep %d/%d done" % (rep + 1, args.reps), file=sys.stderr)

        print("%s %d MiB, %d reps interleaved, TLSProtocol %s, client %s"
              % ("FTP" if args.plain else "FTPS", args.mib, args.reps,
                 "-" if args.plain else args.protocol, ssl.OPENSSL_VERSION))
        print("medians; CPU: CPU ms per MiB transferred, of the server (all threads of its "
              "process tree) and of this client; ratios against proftpd (MiB/s: higher "
              "is better; CPU: lower is better)")
        print("%-12s %-22s %9s %11s %11s %7s %7s" % (
            "", "server", "MiB/s", "server CPU", "client CPU", "ratio", "CPU"))
        for version in versions:
            label = "plain" if version == "plain" else "TLS" + version
            for w in ("RETR", "STOR"):
                ref = None
                if "proftpd" in servers:
                    ref = [statistics.median(x)
                           for x in zip(*results[("proftpd", w, version)])]
                for name in servers:
                    m = [statistics.median(x) for x in zip(*results[(name, w, version)])]
                    ratio = ("%6.2fx %6.2fx" % (m[0] / ref[0], m[1] / ref[1])
                             if ref is not None else "%7s %7s" % ("-", "-"))
                    print("%-12s %-22s %9.1f %8.2f ms %8.2f ms %s" % (
                        "%s %s" % (w, label), name, m[0], m[1], m[2], ratio))
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
