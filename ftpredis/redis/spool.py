# -*- test-case-name: tests.test_spool -*-
"""RedisSpool: the Redis sink's records on disk until Redis has them.

This module owns the spool files of one sink in one process (``RedisSpool DIR [SIZE]``,
``RedisSpoolSync always|everysec|no``):

* Files ``DIR/<name>-<segment>.spool``, ``<name>`` naming the worker process and the
  Redis target, so every worker has its own.  Each starts with a header carrying the
  *producer id* (:mod:`ftpredis.redis.ledger`): it is kept as long as any segment exists,
  so sequence numbers go on and a batch applied before a crash is recognised by Redis's
  ledger when the spool is replayed.
* :meth:`Spool.append` writes one framed record (length, CRC-32, sequence number, key,
  the key as written in the config, JSON) with one ``write()`` to a file opened
  ``O_APPEND``, in the reactor thread, before the sink takes the record: the FTP reply
  is sent after that (the sink renders records at once when it has a spool), so a
  SIGKILL of ftpredis loses nothing the page cache holds.
* Power loss is the sync policy's business, Redis's ``appendfsync`` words:
  ``always`` fdatasync()s after every record, in the reactor thread, before the reply
  (every logged command waits for the disk: the strict promise, at its price);
  ``everysec`` (default) has a thread fdatasync() the file once a second, so at most
  about a second of records is lost and the reactor never waits for the disk; ``no``
  leaves it to the kernel (typically 30 s).
* Segments of :data:`SEGMENT_BYTES`: a full one is closed and deleted once Redis has
  acknowledged all its records.  The files together are bounded by SIZE (default
  :data:`DEFAULT_MAX_BYTES`); a record that would not fit, or that a write error (disk
  full) refuses, is counted (``refused``) and reported by the sink, and stays in memory
  only: a reply never waits for room.
* :meth:`Spool.open` reads what a previous process left, in order, and checks every
  frame: a torn or corrupt tail (a crash mid-write, a damaged disk) is reported and
  skipped from that point of that file.  New records go to a new segment.
* The directory is created 0700.
"""

from __future__ import annotations

import bisect
import fcntl
import os
import re
import struct
import threading
import zlib
from typing import Callable, List, Optional, Tuple

from ftpredis.redis.ledger import new_producer

SEGMENT_BYTES = 1024 * 1024
DEFAULT_MAX_BYTES = 1024 * 1024 * 1024
SYNC_POLICIES = ("always", "everysec", "no")

_MAGIC = b"FTPREDIS-SPOOL-1 "
_FRAME = struct.Struct(">II")           # body length, crc32(body)
_BODY = struct.Struct(">QHH")           # seq, key length, written-key length (0: = key)

Record = Tuple[int, bytes, bytes, bytes]    # seq, key, written key, json


class _Segment:
    __slots__ = ("number", "path", "first_seq", "outstanding", "size")

    def __init__(self, number: int, path: str, first_seq: int, size: int):
        self.number = number
        self.path = path
        self.first_seq = first_seq
        self.outstanding = 0
        self.size = size


def _sync_directory(path: str, errors: List[str]) -> None:
    """fsync() a directory: a new file's entry survives a power loss."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        errors.append("fsync of %s: %s" % (path, e.strerror))


class _Syncer(threading.Thread):
    """fdatasync()s the live file once a second when it was written (``everysec``), and
    closes the files the reactor is done with after a last fdatasync."""

    def __init__(self):
        threading.Thread.__init__(self, name="ftpredis-spool-sync", daemon=True)
        self.cond = threading.Condition()
        self.fd: Optional[int] = None
        self.dirty = False
        self.directory: Optional[str] = None    # set: a new file's entry to make durable
        self.to_close: List[int] = []
        self.stopping = False
        self.errors: List[str] = []

    def run(self):
        while True:
            with self.cond:
                if not self.stopping:
                    self.cond.wait(1.0)
                fd, dirty, self.dirty = self.fd, self.dirty, False
                closing, self.to_close = self.to_close, []
                stopping = self.stopping
                directory, self.directory = self.directory, None
            if directory is not None:
                _sync_directory(directory, self.errors)
            for f in ([fd] if dirty and fd is not None else []) + closing:
                try:
                    os.fdatasync(f)
                except OSError as e:
                    self.errors.append("fdatasync: %s" % (e.strerror,))
            for f in closing:
                try:
                    os.close(f)
                except OSError:
                    pass
            if stopping:
                return


class Spool:
    """The spool files ``<directory>/<name>-*.spool`` (see the module docstring)."""

    def __init__(self, directory: str, name: str, max_bytes: int = DEFAULT_MAX_BYTES,
                 sync: str = "everysec", report: Callable[[str], None] = lambda m: None):
        if sync not in SYNC_POLICIES:
            raise ValueError("RedisSpoolSync must be one of %s" % ", ".join(SYNC_POLICIES))
        self.directory = directory
        self.name = name
        self.max_bytes = max_bytes
        self.sync = sync
        self.report = report
        self.producer = ""
        self.next_seq = 1
        #: records written and not yet acknowledged by Redis; bytes of the files on disk
        self.records = 0
        self.bytes = 0
        #: records the spool could not take (full, write error): in memory only
        self.refused = 0
        #: frames found damaged at open (their file was read up to there)
        self.damaged = 0
        self._segments: List[_Segment] = []     # oldest first; the last is the live one
        self._firsts: List[int] = []
        self._fd: Optional[int] = None
        self._syncer: Optional[_Syncer] = None
        self.last_error: Optional[str] = None
        self._lock_fd: Optional[int] = None
        self._always = sync == "always"
        self._live: Optional[_Segment] = None

    # -- start ------------------------------------------------------------------------
    def open(self) -> List[Record]:
        """Create the directory (0700) if needed, read what is left from an earlier
        process (in order) and start a new segment.  Returns the records to replay."""
        if not os.path.isdir(self.directory):
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            os.chmod(self.directory, 0o700)
        self._lock()
        pattern = re.compile(re.escape(self.name) + r"-(\d{8})\.spool$")
        found = sorted((int(m.group(1)), f) for f in os.listdir(self.directory)
                       for m in [pattern.match(f)] if m)
        replay: List[Record] = []
        number = 0
        for number, fname in found:
            path = os.path.join(self.directory, fname)
            producer, records, size = self._read(path)
            if producer is None:
                self._unlink(path)
                continue
            if not self.producer:
                self.producer = producer
            elif producer != self.producer:
                # cannot happen with files this module wrote: the producer is kept while
                # any segment exists; those records would not be recognised by the ledger
                self.report("spool file %s: another producer (%s) than the older files; "
                            "its %d records are replayed all the same, but Redis's ledger "
                            "cannot tell which it has: some may be skipped or applied twice"
                            % (path, producer, len(records)))
            seg = _Segment(number, path, records[0][0] if records else self.next_seq, size)
            seg.outstanding = len(records)
            if records:
                self.next_seq = max(self.next_seq, records[-1][0] + 1)
                replay.extend(records)
                self._add(seg)
                self.bytes += size
                self.records += len(records)
            else:
                self._unlink(path)
        if not self.producer:
            self.producer = new_producer()
        self._newSegment(number + 1)
        if self.sync == "everysec":
            self._syncer = _Syncer()
            self._syncer.fd = self._fd
            self._syncer.directory = self.directory     # the first file's entry
            self._syncer.start()
        return replay

    def _lock(self) -> None:
        # Two processes must never share files (a worker still stopping while its
        # successor starts): the first free of name, name.1, name.2... is ours.
        base = self.name
        for i in range(64):
            name = base if i == 0 else "%s.%d" % (base, i)
            fd = os.open(os.path.join(self.directory, name + ".lock"),
                         os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.name, self._lock_fd = name, fd
            return
        raise OSError(11, "every spool name for %s is locked by another process" % base)

    def _read(self, path: str) -> Tuple[Optional[str], List[Record], int]:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            self.report("cannot read spool file %s: %s; skipped" % (path, e.strerror))
            return None, [], 0
        end = data.find(b"\n")
        if not data.startswith(_MAGIC) or end < 0:
            self.report("spool file %s: not a spool file header; skipped" % (path,))
            return None, [], 0
        producer = data[len(_MAGIC):end].decode("ascii", "replace")
        records: List[Record] = []
        pos = end + 1
        n = len(data)
        while pos < n:
            if pos + _FRAME.size > n:
                break
            length, crc = _FRAME.unpack_from(data, pos)
            start = pos + _FRAME.size
            body = data[start:start + length]
            if len(body) != length or length < _BODY.size or zlib.crc32(body) != crc:
                break
            seq, klen, wlen = _BODY.unpack_from(body)
            key = body[_BODY.size:_BODY.size + klen]
            written = body[_BODY.size + klen:_BODY.size + klen + wlen] if wlen else key
            value = body[_BODY.size + klen + wlen:]
            records.append((seq, key, written, value))
            pos = start + length
        if pos < n:
            self.damaged += 1
            self.report("spool file %s: damaged or torn record at byte %d (a crash during a "
                        "write, or corruption); the last %d bytes are skipped, the %d "
                        "records before it are replayed" % (path, pos, n - pos, len(records)))
        return producer, records, len(data)

    def _add(self, seg: _Segment) -> None:
        self._segments.append(seg)
        self._firsts.append(seg.first_seq)

    def _newSegment(self, number: int) -> None:
        path = os.path.join(self.directory, "%s-%08d.spool" % (self.name, number))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC | os.O_CLOEXEC,
                     0o600)
        header = _MAGIC + self.producer.encode("ascii") + b"\n"
        os.write(fd, header)
        old = self._fd
        self._fd = fd
        seg = _Segment(number, path, self.next_seq, len(header))
        self._add(seg)
        self._live = seg
        self.bytes += len(header)
        if old is not None:
            self._closeFd(old)
        if self._syncer is not None:
            with self._syncer.cond:
                self._syncer.fd = fd
                self._syncer.dirty = True
                self._syncer.directory = self.directory
        elif self._always:
            errors: List[str] = []
            _sync_directory(self.directory, errors)
            if errors:
                self.last_error = errors[0]

    def _closeFd(self, fd: int) -> None:
        if self._syncer is not None:
            with self._syncer.cond:
                self._syncer.to_close.append(fd)
                self._syncer.cond.notify()
            return
        try:
            if self.sync == "always":
                os.fdatasync(fd)
        except OSError:
            pass
        os.close(fd)

    # -- records ----------------------------------------------------------------------
    def take_seq(self) -> int:
        seq = self.next_seq
        self.next_seq = seq + 1
        return seq

    def append(self, seq: int, key: bytes, written: bytes, value: bytes) -> bool:
        """Write one record; False (counted in ``refused``) when the spool is full or the
        write failed.  Never blocks but for ``always``'s fdatasync."""
        fd = self._fd
        if written == key:
            written = b""
        body = _BODY.pack(seq, len(key), len(written)) + key + written + value
        size = len(body) + 8
        if fd is None or self.bytes + size > self.max_bytes:
            self.refused += 1
            return False
        try:
            n = os.write(fd, _FRAME.pack(size - 8, zlib.crc32(body)) + body)
            if n != size:
                raise OSError(28, "short write (%d of %d bytes)" % (n, size))
            if self._always:
                os.fdatasync(fd)
        except OSError as e:
            self.refused += 1
            self.last_error = "%s: %s" % (self._segments[-1].path, e.strerror or e)
            return False
        seg = self._live
        seg.size += size
        seg.outstanding += 1
        self.bytes += size
        self.records += 1
        syncer = self._syncer
        if syncer is not None:
            syncer.dirty = True         # a plain store: the thread reads it under its lock
        if seg.size >= SEGMENT_BYTES:
            self._rotate()
        return True

    def _rotate(self) -> None:
        live = self._segments[-1]
        try:
            self._newSegment(live.number + 1)
        except OSError as e:
            self.last_error = "cannot start a new spool file in %s: %s" % (
                self.directory, e.strerror)
            return
        if live.outstanding == 0:
            self._drop(len(self._segments) - 2)

    def acked(self, seqs: List[int]) -> None:
        """Redis has these records: a closed segment with nothing left is deleted."""
        segments, firsts = self._segments, self._firsts
        if not segments:
            return
        live = segments[-1]
        if seqs and min(seqs) >= live.first_seq:
            # the usual case: all in the live file (whose count never goes below 0)
            n = min(len(seqs), live.outstanding)
            live.outstanding -= n
            self.records -= n
            return
        last_index = len(segments) - 1
        emptied = set()
        for seq in seqs:
            i = bisect.bisect_right(firsts, seq) - 1
            if i < 0:
                continue
            seg = segments[i]
            if seg.outstanding > 0:
                seg.outstanding -= 1
                self.records -= 1
                if seg.outstanding == 0 and i != last_index:
                    emptied.add(i)
        for i in sorted(emptied, reverse=True):
            self._drop(i)

    def _drop(self, i: int) -> None:
        seg = self._segments.pop(i)
        del self._firsts[i]
        self.bytes -= seg.size
        self._unlink(seg.path)

    def _unlink(self, path: str) -> None:
        try:
            os.unlink(path)
        except OSError:
            pass

    def take_errors(self) -> List[str]:
        """Problems since the last call (a write refused, the sync thread's errors)."""
        out = []
        if self.last_error:
            out.append(self.last_error)
            self.last_error = None
        if self._syncer is not None and self._syncer.errors:
            errors, self._syncer.errors = self._syncer.errors, []
            out.extend("%s: %s" % (self.directory, e) for e in errors)
        return out

    def close(self) -> None:
        """Stop; a live segment with nothing outstanding is deleted (nothing to replay),
        so is every other empty one."""
        fd, self._fd = self._fd, None
        if fd is not None:
            self._closeFd(fd)
        if self._syncer is not None:
            with self._syncer.cond:
                self._syncer.stopping = True
                self._syncer.cond.notify()
            self._syncer.join(10)
            self._syncer = None
        for i in range(len(self._segments) - 1, -1, -1):
            if self._segments[i].outstanding == 0:
                self._drop(i)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def spool_name(address: str, worker: Optional[int] = None) -> str:
    """``w<worker>-<hash of where records go>``: one file set per worker process and
    Redis server/database/user (the worker index comes from ftpredis.app.workers, 0 in
    the parent).  Not the RedisLogTarget rules: files left before those were changed
    are still found and replayed under the new rules."""
    if worker is None:
        try:
            worker = int(os.environ.get("FTPREDIS_WORKER_INDEX", "0"))
        except ValueError:
            worker = 0
    digest = zlib.crc32(address.encode("utf-8", "surrogateescape")) & 0xffffffff
    return "w%d-%08x" % (worker, digest)


def attach(sink, target) -> Optional[Spool]:
    """Give ``sink`` (a RedisSink) the spool ``target`` (a RedisTarget) asks for; a spool
    that cannot be opened is reported to the sink's RedisLogs and twistd's log, and the
    sink goes on with memory only."""
    name = spool_name("%s db=%s user=%s" % (sink.address, target.db, target.username))
    spool = Spool(target.spool_dir, name,
                  target.spool_max_bytes or DEFAULT_MAX_BYTES, target.spool_sync,
                  report=sink.report)
    try:
        sink.useSpool(spool)
    except OSError as e:
        sink.report("RedisSpool %s: cannot be used (%s: %s); records are kept in memory "
                    "only" % (target.spool_dir, e.filename or target.spool_dir,
                              e.strerror or e))
        return None
    return spool
