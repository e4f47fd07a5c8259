#!/usr/bin/env python3
"""FTPS transfer benchmark: ftpredis (ftpredis.tls.ftps) against ProFTPD 1.3.8's mod_tls.

Starts ftpredis (``twistd -n ftpredis`` from this checkout) and Debian's proftpd with
mod_tls, both on 127.0.0.1 with the same generated certificate (RSA 2048), TLSv1.2 and
TLSv1.3, ``TLSRequired on``, Redis logging off (this measures TLS transfers), and times
with one standard-library client (ftplib.FTP_TLS resuming the control session on the
data connection, PROT P, passive):

RETR    download --mib MiB into memory (MiB/s)
STOR    upload --mib MiB from memory (MiB/s)

Runs are interleaved over --reps repetitions; the table shows medians and the
ftpredis/proftpd ratio.  proftpd needs root (it switches to User nobody); without root,
or with --no-proftpd, only ftpredis is measured.  The machine may be shared and noisy:
read ratios, not absolute numbers.  Not a test: nothing asserts a time.  Only the
processes started here are stopped::

    python3 bench/ftps_bench.py                    # 64 MiB, 5 reps
    python3 bench/ftps_bench.py --mib 256 --reps 3 --protocol TLSv1.2
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


def client(port, ctx):
    f = ReusingFTP_TLS(context=ctx, timeout=60)
    f.connect(HOST, port)
    f.login(USER, PASSWORD)
    f.prot_p()
    f.voidcmd("TYPE I")
    return f


def retr(port, ctx, size):
    f = client(port, ctx)
    got = [0]

    def sink(data):
        got[0] += len(data)
    t0 = time.perf_counter()
    f.retrbinary("RETR big.bin", sink, blocksize=256 * 1024)
    dt = time.perf_counter() - t0
    f.quit()
    if got[0] != size:
        raise RuntimeError("RETR got %d bytes, expected %d" % (got[0], size))
    return size / MiB / dt


def stor(port, ctx, payload):
    f = client(port, ctx)
    t0 = time.perf_counter()
    f.storbinary("STOR up.bin", io.BytesIO(payload), blocksize=256 * 1024)
    dt = time.perf_counter() - t0
    size = f.size("up.bin")
    f.delete("up.bin")
    f.quit()
    if size != len(payload):
        raise RuntimeError("STOR stored %s bytes, expected %d" % (size, len(payload)))
    return len(payload) / MiB / dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mib", type=int, default=64, help="transfer size (default 64)")
    ap.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    ap.add_argument("--protocol", default="TLSv1.2 TLSv1.3",
                    help="TLSProtocol for both servers (default 'TLSv1.2 TLSv1.3')")
    ap.add_argument("--no-proftpd", action="store_true", help="measure ftpredis only")
    ap.add_argument("--python", default=sys.executable, help="python for twistd")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
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
        port = free_port()
        conf = os.path.join(wd, "ftpredis.conf")
        with open(conf, "w") as f:
            f.write(FTPREDIS_CONF.format(port=port, wd=wd, protocol=args.protocol))
        log = open(os.path.join(wd, "ftpredis.out"), "ab")
        logs.append(log)
        env = dict(os.environ, PYTHONPATH=PROJECT + os.pathsep
                   + os.environ.get("PYTHONPATH", ""))
        p = subprocess.Popen([args.python, "-c", "from twisted.scripts.twistd import run; run()",
                              "-n", "--pidfile=", "-l", os.path.join(wd, "twistd.log"),
                              "ftpredis", "--config", conf], stdout=log,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=PROJECT,
                             env=env)
        procs.append(p)
        wait_ready(port, p, "ftpredis", os.path.join(wd, "twistd.log"))
        servers["ftpredis"] = port

        if not args.no_proftpd and os.geteuid() == 0 and shutil.which("proftpd"):
            port = free_port()
            conf = os.path.join(wd, "proftpd.conf")
            with open(conf, "w") as f:
                f.write(PROFTPD_CONF.format(port=port, wd=wd, protocol=args.protocol))
            log = open(os.path.join(wd, "proftpd.out"), "ab")
            logs.append(log)
            p = subprocess.Popen(["proftpd", "-n", "-q", "-c", conf], stdout=log,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            procs.append(p)
            wait_ready(port, p, "proftpd", os.path.join(wd, "proftpd.out"))
            servers["proftpd"] = port
        elif not args.no_proftpd:
            print("proftpd not measured (needs root and proftpd)", file=sys.stderr)

        ctx = ssl.create_default_context(cafile=os.path.join(wd, "cert.pem"))
        results = {(name, w): [] for name in servers for w in ("RETR", "STOR")}
        for rep in range(args.reps):
            for name, port in servers.items():
                results[(name, "RETR")].append(retr(port, ctx, size))
                results[(name, "STOR")].append(stor(port, ctx, payload))
            print("rep %d/%d done" % (rep + 1, args.reps), file=sys.stderr)

        print("FTPS %d MiB, %d reps, TLSProtocol %s, client %s"
              % (args.mib, args.reps, args.protocol, ssl.OPENSSL_VERSION))
        print("%-6s %12s %12s %8s" % ("", "ftpredis", "proftpd", "ratio"))
        for w in ("RETR", "STOR"):
            ours = statistics.median(results[("ftpredis", w)])
            if "proftpd" in servers:
                theirs = statistics.median(results[("proftpd", w)])
                print("%-6s %9.1f MiB/s %9.1f MiB/s %7.2f" % (w, ours, theirs, ours / theirs))
            else:
                print("%-6s %9.1f MiB/s %12s %8s" % (w, ours, "-", "-"))
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
