# -*- test-case-name: tests.test_ftps_bulk -*-
"""Large FTPS transfers through the bulk TLS paths (ftpredis._compat.twisted_tls_bulk)
and the RETR producer's read-ahead: every byte arrives, in order, over TLS 1.2 and 1.3,
with ftplib, curl and lftp; and the same when Twisted's TLS layer is not the one the
shim knows (the ordinary record-by-record path)."""

from __future__ import annotations

import ftplib
import io
import os
import socket
import ssl

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis._compat import twisted_tls_bulk
from ftpredis.ftp.transfers import _Sender
from ftpredis.tls import ftps
from tests.support.ftps import FTPSMixin, ReusingFTP_TLS, bio_handshake
from tests.support.ftphelpers import PASSWORD, USER
from tests.support.waiting import waitFor

#: More than several of RETR's 1 MiB chunks and TCP reads, not a multiple of a record.
SIZE = 5 * 1024 * 1024 + 12345

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class _Spy:
    """Wraps the shim's bulk_writer/bulk_reader, counting the connections given one."""

    def __init__(self, test):
        self.writers = self.readers = 0
        real_writer, real_reader = ftps._twisted_tls_bulk.bulk_writer, \
            ftps._twisted_tls_bulk.bulk_reader

        def writer(tcp):
            w = real_writer(tcp)
            self.writers += w is not None
            return w

        def reader(tcp):
            ok = real_reader(tcp)
            self.readers += ok
            return ok
        test.patch(ftps._twisted_tls_bulk, "bulk_writer", writer)
        test.patch(ftps._twisted_tls_bulk, "bulk_reader", reader)


class LargeTransferTests(FTPSMixin, unittest.TestCase):

    def setUp(self):
        FTPSMixin.setUp(self)
        self.payload = os.urandom(SIZE)
        self.write("big.bin", self.payload)

    def _ftplib(self, version):
        ctx = self.context()
        ctx.minimum_version = ctx.maximum_version = VERSIONS[version]
        f = ReusingFTP_TLS(context=ctx, encoding="utf-8")
        f.connect("127.0.0.1", self.port, timeout=20)
        f.login(USER, PASSWORD)
        f.prot_p()
        got = io.BytesIO()
        f.retrbinary("RETR big.bin", got.write, blocksize=65536)
        f.storbinary("STOR up.bin", io.BytesIO(self.payload[::-1]), blocksize=200000)
        protocol = f.sock.version()
        f.quit()
        return got.getvalue(), protocol

    @defer.inlineCallbacks
    def test_ftplib_tls12_and_tls13(self):
        spy = _Spy(self)
        for version in ("1.2", "1.3"):
            got, protocol = yield self.inThread(self._ftplib, version)
            self.assertEqual(protocol, "TLSv" + version)
            self.assertEqual(got, self.payload)
            with open(self.path("up.bin"), "rb") as f:
                self.assertEqual(f.read(), self.payload[::-1])
            retr, stor = self.last("RETR"), self.last("STOR")
            self.assertEqual((retr.response_code, retr.transfer_status, retr.bytes_sent),
                             (226, "success", SIZE))
            self.assertEqual((stor.response_code, stor.transfer_status, stor.bytes_sent),
                             (226, "success", SIZE))
            os.unlink(self.path("up.bin"))
        # The bulk paths were the ones taken (one data connection each way, per run).
        self.assertEqual((spy.writers, spy.readers), (2, 4))

    @defer.inlineCallbacks
    def test_curl_and_lftp(self):
        work = os.path.dirname(self.home)
        src = os.path.join(work, "src.bin")
        with open(src, "wb") as f:
            f.write(self.payload[::-1])
        base = "ftp://127.0.0.1:%d/" % self.port
        for limits in (["--tlsv1.2", "--tls-max", "1.2"], ["--tlsv1.3"]):
            out = os.path.join(work, "curl.bin")
            down = yield self.inThread(self.curl, *limits, "-o", out, base + "big.bin")
            self.assertEqual(down.returncode, 0, down.stderr)
            with open(out, "rb") as f:
                self.assertEqual(f.read(), self.payload)
            up = yield self.inThread(self.curl, *limits, "-T", src, base + "curl-up.bin")
            self.assertEqual(up.returncode, 0, up.stderr)
            with open(self.path("curl-up.bin"), "rb") as f:
                self.assertEqual(f.read(), self.payload[::-1])
        r = yield self.inThread(
            self.lftp, "get big.bin -o %s/lftp.bin; put %s -o lftp-up.bin" % (work, src))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(work, "lftp.bin"), "rb") as f:
            self.assertEqual(f.read(), self.payload)
        with open(self.path("lftp-up.bin"), "rb") as f:
            self.assertEqual(f.read(), self.payload[::-1])
        self.assertEqual({e.response_code for e in self.commands("RETR")}, {226})
        self.assertEqual({e.response_code for e in self.commands("STOR")}, {226})

    @defer.inlineCallbacks
    def test_rest_and_ascii(self):
        # ASCII: CR, LF and CRLF around the producer's chunk boundaries.
        chunk = _Sender.CHUNK_SIZE
        text = bytearray(b"x" * (3 * chunk + 100))
        for i, at in enumerate((chunk - 1, 2 * chunk - 1, 2 * chunk + 7, 3 * chunk)):
            text[at:at + 2] = (b"\r\n", b"\n\n", b"\r\r", b"\n\r")[i]
        self.write("text.txt", bytes(text))

        def run():
            f = self.tls_client()
            got = io.BytesIO()
            f.retrbinary("RETR big.bin", got.write, rest=1234567)
            f.voidcmd("TYPE A")
            conn = f.transfercmd("RETR text.txt")
            ascii = io.BytesIO()
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                ascii.write(data)
            conn.unwrap()
            conn.close()
            f.voidresp()
            f.quit()
            return got.getvalue(), ascii.getvalue()
        rest, ascii = yield self.inThread(run)
        self.assertEqual(rest, self.payload[1234567:])
        self.assertEqual(ascii, bytes(text).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))

    @defer.inlineCallbacks
    def test_ordinary_path_when_layer_unknown(self):
        # Twisted's TLS layer changed: the shim gives no bulk path, and the transfers
        # go through Twisted's own, record by record, just as intact.
        self.patch(ftps._twisted_tls_bulk, "bulk_writer", lambda tcp: None)
        self.patch(ftps._twisted_tls_bulk, "bulk_reader", lambda tcp: False)
        got, _ = yield self.inThread(self._ftplib, "1.3")
        self.assertEqual(got, self.payload)
        with open(self.path("up.bin"), "rb") as f:
            self.assertEqual(f.read(), self.payload[::-1])
        self.assertEqual(self.last("STOR").transfer_status, "success")


class _CountingFile:
    def __init__(self, data):
        self.f = io.BytesIO(data)
        self.reads = 0

    def read(self, n):
        self.reads += 1
        return self.f.read(n)


class _PausingConsumer:
    """Pauses its producer after every write, as a full TCP buffer does."""

    def __init__(self):
        self.producer = None
        self.chunks = []

    def registerProducer(self, producer, streaming):
        self.producer = producer

    def unregisterProducer(self):
        self.producer = None

    def write(self, data):
        self.chunks.append(data)
        self.producer.pauseProducing()


class ReadAheadTests(unittest.TestCase):

    @defer.inlineCallbacks
    def test_one_chunk_ahead_at_most(self):
        data = os.urandom(3 * _Sender.CHUNK_SIZE + 5)
        f = _CountingFile(data)
        consumer = _PausingConsumer()
        sender = _Sender(ascii=False)
        done = sender.send(f, consumer)
        for n in range(1, 5):
            yield waitFor(lambda: len(consumer.chunks) == n, "chunk %d written" % n)
            # Paused: the next chunk is read (ahead), and nothing more.
            yield waitFor(lambda: f.reads == n + 1, "chunk %d read ahead" % (n + 1))
            yield waitFor(lambda: not sender._reading, "the read finished")
            self.assertEqual(f.reads, n + 1)
            sender.resumeProducing()
        yield done
        self.assertEqual(b"".join(consumer.chunks), data)
        self.assertEqual(sender.count, len(data))
        self.assertIsNone(consumer.producer)


class ShimTests(unittest.TestCase):

    def test_refuses_unknown_layers(self):
        class Plain:
            protocol = object()
        self.assertIsNone(twisted_tls_bulk.bulk_writer(Plain()))
        self.assertFalse(twisted_tls_bulk.bulk_reader(Plain()))


class BadRecordTests(FTPSMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_corrupt_record_aborts_upload(self):
        # A record that fails its integrity check in the middle of an upload: the
        # bulk reader hands it to Twisted's TLS layer, which ends the data connection;
        # the upload is refused and leaves no file behind.
        payload = os.urandom(3 * 1024 * 1024)

        def run():
            f = self.tls_client()
            f.voidcmd("TYPE I")
            host, port = ftplib.parse227(f.sendcmd("PASV"))
            raw = socket.create_connection(("127.0.0.1", port), timeout=20)
            f.putcmd("STOR bad.bin")
            opening = f.getresp()
            obj, _incoming, outgoing = bio_handshake(f.context, raw, f.sock.session)
            raw.sendall(outgoing.read())
            obj.write(payload)
            wire = bytearray(outgoing.read())
            wire[len(wire) // 2] ^= 0xFF
            try:
                raw.sendall(wire)
            except OSError:
                pass                # the server may close before it has read it all
            final = None
            try:
                f.voidresp()
            except ftplib.error_temp as e:
                final = str(e)
            raw.close()
            names = f.nlst()
            f.quit()
            return opening, final, names
        opening, final, names = yield self.inThread(run)
        self.assertTrue(opening.startswith("150"), opening)
        self.assertTrue(final.startswith("426"), final)
        self.assertEqual(names, [])
        self.assertEqual([n for n in os.listdir(self.home)], [])
        self.assertEqual(self.last("STOR").transfer_status, "failed")
