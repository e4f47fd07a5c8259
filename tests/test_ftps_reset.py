# -*- test-case-name: tests.test_ftps_reset -*-
"""An FTPS upload whose client resets the data connection right after its close_notify,
with the server meeting the reset where it does not read: a send failing with
ECONNRESET.  The close_notify lies unread in the server's socket then (Linux keeps the
bytes that came before a reset readable); mod_tls, which reads until the error, takes
the upload as whole, and so must ftpredis.  Without a close_notify before the reset the
upload stays cut (426, nothing stored), whatever else lies there.

The order is made certain, not raced: hooks on the server's data connection hold the
reactor (waiting on the client thread's progress, each wait bounded) so that the
upload is read in the same reactor turn as the TLS 1.3 session ticket is sent, and the
client's close_notify and reset arrive between the two."""

from __future__ import annotations

import fcntl
import ftplib
import os
import select
import socket
import ssl
import struct
import threading
import time

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.ftp import datachannel
from tests.support.ftps import FTPSMixin, ReusingFTP_TLS, bio_handshake
from tests.support.ftphelpers import PASSWORD, USER

_SIOCINQ = 0x541B           # bytes waiting in a TCP socket's receive queue (Linux)
_WAIT = 10.0


def _queued(sock) -> int:
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), _SIOCINQ, b"\0" * 4))[0]


def _until(predicate, what):
    deadline = time.monotonic() + _WAIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)


class ResetMetBySendTests(FTPSMixin, unittest.TestCase):

    def setUp(self):
        FTPSMixin.setUp(self)
        self.shaken = threading.Event()     # the server's handshake is done
        self.sent = threading.Event()       # the upload's records are on their way
        self.got_all = threading.Event()    # the server has read the whole upload
        self.expected = 0                   # bytes of records the upload takes
        self.notes = []                     # what the server's socket held at the reset
        self.uploaded = 0
        set_sink = datachannel._DataConnection.setSink
        data_received = datachannel._DataConnection.dataReceived

        def setSink(conn, sink):
            # Reached from the read that completed the handshake, before the session
            # ticket goes to Twisted's write buffer: the upload is in the socket
            # before the reactor polls again, so that one turn reads it and sends the
            # ticket.
            set_sink(conn, sink)
            self.shaken.set()
            if not self.sent.wait(_WAIT):
                raise AssertionError("the client sent no upload")
            sock = conn.transport.socket
            _until(lambda: _queued(sock) >= self.expected, "the upload in the socket")

        def dataReceived(conn, data):
            data_received(conn, data)
            self.uploaded += len(data)
            if self.uploaded != self.size or self.got_all.is_set():
                return
            self.got_all.set()
            # The reset comes now; the ticket's send (next in this turn) meets it.
            poll = select.poll()
            poll.register(conn.transport.socket, 0)     # hang-up and error only
            self.notes.append(bool(poll.poll(_WAIT * 1000))
                              and _queued(conn.transport.socket))
        self.patch(datachannel._DataConnection, "setSink", setSink)
        self.patch(datachannel._DataConnection, "dataReceived", dataReceived)

    def upload(self, payload, close_notify, tail=b""):
        """STOR ``payload`` over TLS 1.3, then (once the server has read it all) the
        client's close_notify (or, without one, the records of ``tail``) and a reset."""
        self.size = len(payload)

        def run():
            ctx = self.context()
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
            f = ReusingFTP_TLS(context=ctx, encoding="utf-8")
            f.connect("127.0.0.1", self.port, timeout=10)
            f.login(USER, PASSWORD)
            f.prot_p()
            f.voidcmd("TYPE I")
            raw = ftplib.FTP.ntransfercmd(f, "STOR up.bin")[0]
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls, _wire, out = bio_handshake(ctx, raw, f.sock.session)
            raw.sendall(out.read())                 # the Finished, alone
            if not self.shaken.wait(_WAIT):
                raise AssertionError("the server did not finish its handshake")
            tls.write(payload)
            records = out.read()
            self.expected = len(records)
            raw.sendall(records)
            self.sent.set()
            if not self.got_all.wait(_WAIT):
                raise AssertionError("the server did not read the upload")
            if close_notify:
                try:
                    tls.unwrap()
                except ssl.SSLWantReadError:
                    pass                            # ours is out; the server's not come
            elif tail:
                tls.write(tail)
            raw.sendall(out.read())
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.close()                             # the reset
            try:
                reply = f.voidresp()
            except ftplib.Error as e:
                reply = str(e)
            f.quit()
            return reply
        return self.inThread(run)

    @defer.inlineCallbacks
    def test_close_notify_before_the_reset_is_whole(self):
        payload = os.urandom(20000)
        reply = yield self.upload(payload, close_notify=True)
        # The set-up held: the close_notify lay unread in the server's socket when the
        # reset came.
        self.assertEqual(len(self.notes), 1)
        self.assertTrue(self.notes[0])
        self.assertEqual(reply, "226 Transfer complete")
        self.assertEqual(self.stored(), payload)
        self.assertEqual([(e.response_code, e.transfer_status)
                          for e in self.commands("STOR")], [(226, "success")])

    @defer.inlineCallbacks
    def test_no_close_notify_before_the_reset_is_cut(self):
        """More records (not read by the server before the reset) but no close_notify:
        reading them does not make the upload whole."""
        payload = os.urandom(20000)
        reply = yield self.upload(payload, close_notify=False, tail=os.urandom(5000))
        self.assertTrue(self.notes[0])
        self.assertEqual(reply, "426 Transfer aborted. Data connection closed")
        self.assertIsNone(self.stored())
        self.assertEqual([(e.response_code, e.transfer_status)
                          for e in self.commands("STOR")], [(426, "failed")])
