# -*- test-case-name: tests.test_protocol -*-
"""File transfers: RETR (with REST/RANG, sendfile when it applies), STOR/APPE/STOU (written
beside the target, renamed over it on success), the producer and consumer that move the
bytes, and the transfer fields of the command's event."""

from __future__ import annotations

import errno
import os
import random
import stat as statmod
import string
import tempfile
import time
from typing import Callable, Optional

from twisted.internet import defer, error as ierror, interfaces
from zope.interface import implementer

from ftpredis.tls import ftps as _tls
from ftpredis.ftp import fastpath as _fastpath
from ftpredis.records.events import path_tail
from ftpredis.ftp.diskpool import pool_for
from ftpredis.ftp.filesystem import FSError
from ftpredis.ftp.replies import REPLIES, R, Reply, opening as _opening
from ftpredis.ftp.common import blank


class _RangeReader:
    """A file that ends after ``length`` bytes (RANG).  It has no ``fileno``, so RETR
    takes the ordinary reader rather than sendfile, which would send to the end."""

    def __init__(self, fileobj, length: int):
        self._f = fileobj
        self._left = length

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self._left:
            size = self._left
        data = self._f.read(size) if size else b""
        self._left -= len(data)
        return data

    def close(self):
        self._f.close()


@implementer(interfaces.IPushProducer)
class _Sender:
    """RETR producer: large chunks, optional LF -> CRLF, counts file bytes.

    Reads happen in the reactor's thread pool, one at a time, so a slow disk stalls
    only this transfer; the data connection's flow control pauses the reads.  One chunk
    is read ahead while the previous one is being sent (FTPS: the pool thread reads
    while the reactor encrypts), so the connection never waits for the disk pool's
    round trip; at most one chunk waits, whatever the client's speed.
    """

    #: The data connection pauses its producer above 1 MiB queued
    #: (``ftpredis.ftp.datachannel``): one chunk is written per resume.
    CHUNK_SIZE = 1024 * 1024

    def __init__(self, ascii: bool):
        self.ascii = ascii
        self.count = 0
        self._cr = False
        self._d: Optional[defer.Deferred] = None
        self._paused = False
        self._reading = False
        self._ready: Optional[bytes] = None     # read, not written yet (b"": EOF)

    def transform(self, data: bytes) -> bytes:
        self.count += len(data)
        if not self.ascii:
            return data
        out = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if self._cr and data.startswith(b"\n"):
            out = out[1:]                # the CR went out with the previous chunk
        self._cr = data.endswith(b"\r")
        return out

    def send(self, fileobj, consumer) -> defer.Deferred:
        self._f = fileobj
        self._consumer = consumer
        self._d = defer.Deferred()
        consumer.registerProducer(self, True)
        self._read()
        return self._d

    def _read(self):
        if self._reading or self._ready is not None or self._d is None:
            return
        self._reading = True
        pool_for().run(self._f.read, self.CHUNK_SIZE).addCallbacks(self._got, self._failed)

    def _got(self, data: bytes):
        self._reading = False
        if self._d is None:
            return
        self._ready = data
        self._pump()

    def _pump(self):
        # Writing may pause, or stop, this producer before it returns.
        while self._ready is not None and self._d is not None:
            data = self._ready
            if not data:
                self._ready = None
                self._consumer.unregisterProducer()
                d, self._d = self._d, None
                d.callback(None)
                return
            if self._paused:
                break
            self._ready = None
            self._consumer.write(self.transform(data))
        self._read()

    def _failed(self, f):
        self._reading = False
        d, self._d = self._d, None
        if d is not None:
            self._consumer.unregisterProducer()
            d.errback(f)

    def pauseProducing(self):
        self._paused = True

    def resumeProducing(self):
        self._paused = False
        self._pump()

    def stopProducing(self):
        self._ready = None
        d, self._d = self._d, None
        if d is not None:
            d.errback(ierror.ConnectionLost("consumer stopped the transfer"))


class _Receiver:
    """STOR sink: optional CRLF -> LF, counts file bytes, stops the upload on a write error.

    Writes run in the reactor's thread pool, one at a time and in order; while more than
    ``HIGH_WATER`` bytes wait, the data connection is paused (no unbounded buffering).
    """

    HIGH_WATER = 4 * 1024 * 1024

    def __init__(self, fileobj, ascii: bool, on_error: Callable[[OSError], None],
                 transport=None):
        self.f = fileobj
        self.ascii = ascii
        self.count = 0
        self.error: Optional[OSError] = None
        self._cr = False
        self._on_error = on_error
        self._transport = transport
        self._pending: list = []
        self._pending_len = 0
        self._writing = False
        self._paused = False
        self._waiters: list = []

    def __call__(self, data: bytes):
        if self.error is not None:
            return
        if self.ascii:
            if self._cr:
                data = b"\r" + data
            self._cr = data.endswith(b"\r")
            if self._cr:
                data = data[:-1]
            data = data.replace(b"\r\n", b"\n")
        self._write(data)

    def finish(self):
        if self._cr and self.error is None:
            self._write(b"\r")
        self._cr = False

    def _write(self, data):
        if not data or self.error is not None:
            return
        self._pending.append(data)
        self._pending_len += len(data)
        if not self._writing:
            self._flush()
        if self._pending_len > self.HIGH_WATER and self._transport is not None \
                and not self._paused:
            self._paused = True
            self._transport.pauseProducing()

    def _flush(self):
        chunk = b"".join(self._pending)
        self._pending, self._pending_len = [], 0
        self._writing = True
        pool_for().run(self.f.write, chunk).addCallbacks(
            self._wrote, self._failed, callbackArgs=(len(chunk),))

    def _wrote(self, _, n):
        self._writing = False
        self.count += n
        if self._pending and self.error is None:
            self._flush()
        else:
            if self._paused:
                self._paused = False
                try:
                    self._transport.resumeProducing()
                except Exception:
                    pass
            self._wake()

    def _failed(self, f):
        self._writing = False
        self._pending, self._pending_len = [], 0
        e = _fastpath.as_oserror(f)
        self.error = e
        self._on_error(e)
        self._wake()

    def _wake(self):
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(None)

    def drained(self) -> defer.Deferred:
        """Fires once every byte received so far is written (or a write failed)."""
        if not self._writing and not self._pending:
            return defer.succeed(None)
        d = defer.Deferred()
        self._waiters.append(d)
        return d


#: Bytes a RETR sends from the reactor thread right after an open that could not wait:
#: beyond that, reading the file's pages (perhaps from the disk) is a pool thread's job.
INLINE_SEND_MAX = 64 * 1024


def _send_at_once(opened, raw, offset: int, limit: Optional[int] = None):
    """``(vpath, fd, stat, sent)`` for a RETR whose file is open: with ``raw``, the
    client's data connection, the file is sent on it until done or the socket is full,
    ``sent`` being ``(t0, bytes sent, error)``, and both descriptors closed unless
    bytes are left for the ordinary way; ``sent`` is None when nothing can be sent.
    A file longer than ``limit`` is not sent here at all (``sent`` says 0 bytes)."""
    vpath, real, fd, st = opened
    if raw is None or not statmod.S_ISREG(st.st_mode) or offset > st.st_size:
        return vpath, fd, st, None
    t0 = time.time()
    left = st.st_size - offset
    if limit is not None and left > limit:
        return vpath, fd, st, (t0, 0, None)
    sent, error = _fastpath.sendfile_now(raw[0], fd, offset, left)
    if error is not None or sent >= left:
        os.close(raw[0])
        os.close(fd)
    return vpath, fd, st, (t0, sent, error)


class TransfersMixin:
    """RETR, STOR, APPE, STOU."""

    # -- transfers ------------------------------------------------------------------------
    def _typeName(self):
        return "BINARY" if self.client_state.binary else "ASCII"

    def _xferStart(self, cmd):
        cmd.fields.update(transfer_type="binary" if self.client_state.binary else "ASCII",
                          file_modified=False)
        port = self._transfer_port
        if not port and self.session is not None:
            # No PORT or PASV yet: ProFTPD logs its default data port, the client's
            # control port - 1 (measured with 1.3.8).
            port = self.session.remote_port - 1
        if port:
            cmd.fields["transfer_port"] = port

    def _xferFailed(self, cmd, reply: Reply):
        cmd.fields["transfer_status"] = "failed"
        text = reply.text
        i = text.find(". ")
        cmd.fields["transfer_failure"] = text[i + 2:] if i >= 0 else text

    def _xferDone(self, cmd, t0: float):
        cmd.fields["transfer_status"] = "success"
        cmd.fields["transfer_millis"] = int((time.time() - t0) * 1000)

    @defer.inlineCallbacks
    def _withData(self, cmd, opening: str, body, conn=None, t0=None):
        """Open the data connection, send 150, run ``body(conn)``; returns the final Reply.

        With ``conn`` and ``t0`` the connection is open and the 150 sent already (a RETR
        that :meth:`_retrNow` could not finish at once)."""
        self.setTimeout(None)
        try:
            if conn is None:
                try:
                    conn = yield self._openData()
                except Reply as r:
                    cmd.fields.setdefault("bytes_sent", 0)      # ProFTPD's 425 (measured)
                    self._xferFailed(cmd, r)
                    self.cleanupDTP()
                    raise
            self._transfer_conn = conn
            self._cancelTimer("_notransfer_timer")
            if self.server.timeout_stalled:
                self._stall_timer = self.factory.reactor.callLater(
                    self.server.timeout_stalled, self._stalled)
            if t0 is None:
                t0 = time.time()
                self.sendLine("150 " + opening)
            try:
                reply = yield _tls.run_data(self, conn, body, cmd)    # PROT P: TLS first
            finally:
                self._transfer_conn = None
                self._cancelTimer("_stall_timer")
                if getattr(self, "_stall_fired", False):
                    self._stall_fired = False
                    cmd.fields["timeout"] = "TimeoutStalled"    # for the metrics
                    cmd.fields["session_end_reason"] = self.end_reason
                self._startNoTransferTimer()
                self.cleanupDTP(keep=True)
            if self.client_state.aborting and reply.code >= 400:
                # ABOR arrived during the transfer: ProFTPD's 426, then ABOR's own 226.
                reply = R("xfer_aborted")
            if reply.code < 300:
                self._xferDone(cmd, t0)
            else:
                self._xferFailed(cmd, reply)
                if self.client_state.aborting:
                    # Jot's pair for an aborted transfer (src/jot.c: XFER_ABORTED)
                    cmd.fields["transfer_status"] = "cancelled"
                    cmd.fields["transfer_failure"] = "aborted"
            return reply
        finally:
            if not self.disconnected:
                self.setTimeout(self.timeOut)

    def cmd_RETR(self, cmd):
        self._xferStart(cmd)
        arg = self._needName(cmd)
        offset, self.client_state.rest = self.client_state.rest, 0
        rang, self.client_state.rang = self.client_state.rang, None
        if (offset or rang) and not self.factory.allowRetrieveRestart:
            r = R("restart_denied", arg)
            self._xferFailed(cmd, r)
            raise r
        length = None
        if rang is not None:
            offset, length = rang

        # The small-file case: with the client's data connection there already, the
        # open, the fstat and the sendfile (and both closes when it all went) in one
        # go, and "150 ...226" sent after it.  In the reactor thread when the kernel
        # can open the file without waiting, else as one disk job.
        raw = self._retrRawData() if self.client_state.binary and length is None else None
        opened = self.fs.open_read_now(arg)
        if opened is not None:
            return self._retrOpened(_send_at_once(opened, raw, offset, INLINE_SEND_MAX),
                                    cmd, arg, offset, length, rang, raw)
        jail = self.fs.jail

        def failed(f):
            if raw is not None:
                os.close(raw[0])
            f.trap(FSError)
            if getattr(f.value, "dangling_link", False):
                r = R("not_regular_xfer", arg)
            else:
                r = Reply(550, f.value.text)
            self._xferFailed(cmd, r)
            raise r
        d = self.fs.run(lambda: _send_at_once(jail.open_read(arg), raw, offset))
        return d.addCallbacks(self._retrOpened, failed,
                              callbackArgs=(cmd, arg, offset, length, rang, raw))

    def _retrOpened(self, opened, cmd, arg, offset, length, rang, raw):
        vpath, fd, st, now = opened
        if raw is not None and now is None:
            os.close(raw[0])        # not sent: a directory, or an offset past the end
            raw = None
        if self.disconnected:
            if now is None or now[1] < st.st_size - offset and now[2] is None:
                os.close(fd)
                if raw is not None:
                    os.close(raw[0])
            r = R("xfer_closed")
            self._xferFailed(cmd, r)
            raise r
        try:
            if not statmod.S_ISREG(st.st_mode):
                raise R("not_regular_xfer", arg)
            if offset and (offset > st.st_size or offset + (length or 0) > st.st_size):
                # ProFTPD refuses after its PRE_CMD stage has set %f, before the
                # transfer's path (%F) is known (measured: REST past the end).
                self._pathFields(cmd, vpath)
                if offset > st.st_size:
                    raise R("offset_invalid", "RANG" if rang else "REST", arg)
                raise R("rang_invalid", arg)
            if length is not None:
                # A range from 0 may run past the end: ProFTPD sends what there is.
                length = min(length, st.st_size - offset)
        except Reply as r:
            os.close(fd)
            self._xferFailed(cmd, r)
            raise
        self._pathFields(cmd, vpath, xfer=True)
        cmd.fields["basename"] = path_tail(vpath)
        cmd.fields["file_offset"] = offset      # on a 426 too (measured)
        cmd.fields["notes"] = {"mod_xfer.retr-path": vpath}
        opening = _opening(self._typeName(), arg,
                           st.st_size - offset if length is None else length)
        conn = t0 = None
        start = offset
        sent_at_once = 0
        if now is not None:
            now = self._retrSent(cmd, raw, fd, offset, st.st_size, opening, *now)
            if isinstance(now, Reply):
                return now
            if now is not None:
                conn, t0, sent_at_once = now
                start = offset + sent_at_once
        sender = _fastpath.RetrSender(ascii=not self.client_state.binary, fallback=_Sender)

        @defer.inlineCallbacks
        def body(conn):
            try:
                yield sender.send(fobj, conn)
            except Exception:
                return R("xfer_closed")
            finally:
                fobj.close()
                cmd.fields["bytes_sent"] = sent_at_once + sender.count
            conn.transport.loseConnection()
            yield conn.waitClosed()
            cmd.fields["file_offset"] = offset
            cmd.fields["file_size"] = st.st_size
            return R("xfer_ok")

        # unbuffered: sendfile, or 256 KiB reads (ASCII, TLS)
        fobj = open(fd, "rb", buffering=0)
        if start:
            fobj.seek(start)
        if length is not None:
            fobj = _RangeReader(fobj, length)
        d = self._withData(cmd, opening, body, conn, t0)
        d.addErrback(lambda f: (fobj.close(), f)[1])
        return d

    def _retrRawData(self):
        """The client's plain passive data connection, if it is there already: the raw
        ``(socket fd, address)`` taken from the accept queue, without the reactor; None
        when the fast path does not apply (then the transfer goes the ordinary way)."""
        port = self._data_port
        if (self._data_kind != "pasv" or not isinstance(port, _fastpath.LazyPort)
                or not _fastpath.RetrSender.enabled or _tls.state(self) is not None
                or _fastpath.plain_tcp(self.transport) is None):
            return None
        return port.accept_raw(self.data_peer)

    def _retrSent(self, cmd, raw, fd: int, offset: int, size: int, opening: str,
                  t0: float, sent: int, error):
        """After the disk job sent the file (or its first part) on the raw data
        connection: the final Reply, or ``(conn, t0, bytes sent)`` when the socket filled
        up first (the rest goes the ordinary way on that connection)."""
        port = self._data_port
        sfd, addr = raw
        # The 150 goes out with the final reply, in one segment, when the file went at
        # once: the client has its data connection already, and reads the data (in its
        # socket buffer) after the 150 whenever that comes.
        self._holdLine("150 " + opening)
        self.bytes_out += sent
        self.data_bytes += sent
        if error is None and sent < size - offset:
            self._flushHeld()
            if isinstance(port, _fastpath.LazyPort):
                conn = port.adopt(sfd, addr)        # closes sfd when it refuses
                if conn is not None:
                    return conn, t0, sent
            else:
                os.close(sfd)       # the session closed its passive port meanwhile
            os.close(fd)
            error = "refused"
        cmd.fields["bytes_sent"] = sent
        self._startNoTransferTimer()
        self.cleanupDTP(keep=True)
        if error is not None:
            reply = R("xfer_closed")
            self._xferFailed(cmd, reply)
            return reply
        cmd.fields["file_offset"] = offset
        cmd.fields["file_size"] = size
        self._xferDone(cmd, t0)
        return R("xfer_ok")

    def cmd_STOR(self, cmd):
        return self._store(cmd, append=False)

    def cmd_APPE(self, cmd):
        return self._store(cmd, append=True)

    def cmd_STOU(self, cmd):
        return self._store(cmd, append=False, unique=True)

    def _needName(self, cmd) -> str:
        """RETR's, STOR's and APPE's file name; without one (or blanks only) ProFTPD
        1.3.8 answers "500 'RETR' not understood", a failed transfer (measured)."""
        if blank(cmd.arg):
            r = R("quoted_not_understood", cmd.verb)
            self._xferFailed(cmd, r)
            raise r
        return cmd.arg

    def _store(self, cmd, append: bool, unique: bool = False):
        self._xferStart(cmd)
        if not unique:
            self._needName(cmd)
        offset, self.client_state.rest = self.client_state.rest, 0
        rang, self.client_state.rang = self.client_state.rang, None

        def failed(f):
            r = f.value
            if isinstance(r, FSError):
                fields = getattr(r, "path_fields", None)
                r = Reply(550, r.text)
                r.path_fields = fields
            elif not isinstance(r, Reply):
                return f
            fields = getattr(r, "path_fields", None)
            if fields is not None:
                self._pathFields(cmd, fields[0], xfer=fields[1])
            self._xferFailed(cmd, r)
            raise r
        d = self.fs.run(self._openUpload, cmd, append, unique, offset, rang)
        d.addCallbacks(self._storeOpened, failed, callbackArgs=(cmd, append, unique, rang))
        return d

    def _openUpload(self, cmd, append, unique, offset, rang):
        """The disk side of STOR/APPE/STOU's start (a disk job): the checks, then the
        open; ``(arg, vpath, real, fobj, tmp, existed, start)``."""
        jail = self.fs.jail
        tmp = None
        if unique:
            while True:
                name = "ftp" + "".join(random.choice(string.ascii_letters + string.digits)
                                       for _ in range(6))
                vpath, real = jail.resolve(name)
                umode = 0o666 & ~self._umask(real)
                try:
                    os.close(os.open(real, os.O_WRONLY | os.O_CREAT | os.O_EXCL, umode))
                    break
                except FileExistsError:
                    continue
                except OSError as e:
                    raise FSError(e.errno, name) from None
            arg = name
            existed = False
        else:
            arg = cmd.arg
            try:
                vpath, real = jail.resolve(arg)
            except FSError as e:
                if getattr(e, "dangling_link", False):
                    raise R("not_regular_xfer", arg) from None
                # A directory on the way that names nothing in the jail: ProFTPD has
                # %f by then, not yet %F (measured: through a link out of the jail).
                e.path_fields = (jail.virtual(arg), False)
                raise
            # Through a link, ProFTPD writes (and logs, %f and %F) what it leads to.
            resolved = jail.resolved_virtual(vpath)
            if resolved != vpath:
                vpath, real = resolved, jail.real_of(resolved)
            umode = 0o666 & ~self._umask(real)
            try:
                st = os.stat(real)
                existed = True
                if not statmod.S_ISREG(st.st_mode):
                    raise R("not_regular_xfer", arg)
            except FileNotFoundError:
                existed = False
            except OSError as e:
                raise FSError(e.errno, arg) from None
            if rang is not None and not append:
                # Only RANG's refusals (ProFTPD: 451 for an existing file; a new one
                # is opened, then refused, being shorter than the start).
                if existed and not self.factory.allowStoreRestart:
                    raise R("restart_denied", arg)
                if rang[0] > (st.st_size if existed else 0):
                    r = R("offset_invalid", "RANG", arg)
                    r.path_fields = (vpath, True)   # set by the caller, in the reactor thread
                    raise r
                offset = rang[0]
            restart = append or offset > 0
            if restart and not self.factory.allowStoreRestart:
                raise R("restart_denied", arg)
            if existed and not restart and not self._allowOverwrite(real):
                raise R("overwrite_denied", arg)
        if append or offset > 0:
            try:
                fd = jail.call(arg, os.open, real, os.O_WRONLY | os.O_CREAT, umode)
            except FSError as e:
                e.path_fields = (vpath, False)
                raise
            # REST or RANG then STOR overwrites from the offset and keeps what lies beyond
            # the bytes sent, as ProFTPD does (tests/test_conformance_behaviour.py).
            start = os.lseek(fd, 0, os.SEEK_END) if append else os.lseek(fd, offset, os.SEEK_SET)
            fobj = os.fdopen(fd, "wb")
        else:
            # A failed upload must never look like a complete file: write beside the
            # target and rename over it on success.
            start = 0
            try:
                fd, tmp = tempfile.mkstemp(prefix=".ftpredis-", suffix=".part",
                                           dir=os.path.dirname(real))
            except OSError as e:
                # Refused when opened: ProFTPD has %f by then, not yet %F (measured:
                # a missing directory).
                error = FSError(e.errno, arg)
                error.path_fields = (vpath, False)
                raise error from None
            os.fchmod(fd, umode)
            fobj = os.fdopen(fd, "wb")
        return arg, vpath, real, fobj, tmp, existed, start

    def _storeOpened(self, opened, cmd, append, unique, rang=None):
        arg, vpath, real, fobj, tmp, existed, start = opened
        cmd.fields["file_modified"] = existed
        cmd.fields["notes"] = {"mod_xfer.store-path": vpath}
        # The upload's paths and offset are known from here on, whatever becomes of the
        # data connection (ProFTPD logs them on its 425 and 426 too; measured).
        self._pathFields(cmd, vpath, xfer=True)
        cmd.fields.update(basename=path_tail(vpath), file_offset=start)
        if existed:
            cmd.fields["notes"]["mod_xfer.file-modified"] = "true"

        def discard():
            try:
                fobj.close()
            except OSError:
                pass
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            if unique and tmp is not None:
                try:
                    os.unlink(real)
                except OSError:
                    pass

        @defer.inlineCallbacks
        def body(conn):
            abort = lambda e: conn.transport.abortConnection()
            recv = _fastpath.store_receiver(
                fobj, conn, ascii=not self.client_state.binary, on_error=abort,
                fallback=lambda: _Receiver(fobj, ascii=not self.client_state.binary, on_error=abort,
                                           transport=conn.transport))
            conn.setSink(recv)
            reason = yield conn.waitClosed()
            recv.finish()
            yield recv.drained()
            cmd.fields["bytes_sent"] = recv.count
            if recv.error is not None:
                yield self.fs.run(discard)
                return Reply(451 if recv.error.errno != errno.ENOSPC else 552,
                             "%s: %s" % (arg, os.strerror(recv.error.errno)))
            if not isinstance(reason, ierror.ConnectionDone) or self.disconnected:
                yield self.fs.run(discard)
                return R("xfer_closed")

            def complete():
                # close() flushes: on a network file system, it may wait for the server
                fobj.close()
                if tmp is not None:
                    os.replace(tmp, real)
                return os.stat(real).st_size
            try:
                size = yield self.fs.run(complete)
            except OSError as e:
                yield self.fs.run(discard)
                return Reply(550, "%s: %s" % (arg, os.strerror(e.errno)))
            self._pathFields(cmd, vpath, xfer=True)
            cmd.fields.update(basename=path_tail(vpath), file_offset=start, file_size=size)
            return R("xfer_ok")

        if unique:
            opening = REPLIES["stou_opening"][1] % arg
        elif rang is not None and not append:
            # ProFTPD names the range's length, as for RETR.
            opening = _opening(self._typeName(), arg, rang[1])
        else:
            opening = REPLIES["opening"][1] % (self._typeName(), arg)
        d = self._withData(cmd, opening, body)

        def failed(f):
            return self.fs.run(discard).addBoth(lambda _: f)
        d.addErrback(failed)
        return d
