# -*- test-case-name: tests.test_sftp -*-
"""The SSH side of a server with ``SFTPEngine on``.

This module owns :class:`SFTPFactory` (what ftpredis.app.service builds for such a
server instead of the FTP factory: host keys, the algorithms SFTPCiphers, SFTPDigests,
SFTPKeyExchanges and SFTPCompression allow, the open sessions, MaxClients' count) and
:class:`SSHSession` (one connection: the transport, its byte counts for %I/%O, the
session's CONNECT and EXIT records, the session end reason, TimeoutIdle, mod_ban's
hooks as an IPolicySession), with the avatar that opens session channels (at most
SFTPMaxChannels open at once; :class:`SSHConnection` refuses the others as mod_sftp
does) and
starts the ``sftp`` subsystem (:class:`SFTPServerProtocol`).
"""

from __future__ import annotations

import re
import struct

from twisted.conch import avatar as conch_avatar
from twisted.conch.ssh import connection, factory, filetransfer, session, transport
from twisted.conch.ssh.common import NS, getNS
from twisted.internet import defer
from twisted.logger import Logger
from twisted.protocols.policies import TimeoutMixin
from zope.interface import implementer

from ftpredis._compat import conch_sftp
from ftpredis.ftp import limits
from ftpredis.ftp.diskpool import pool_for
from ftpredis.ftp.interfaces import IPolicySession
from ftpredis.redis.redislog import RedisLog
from ftpredis.sftp import packets, statuses
from ftpredis.sftp.auth import UserAuthServer
from ftpredis.sftp.records import SSHRecorder
from ftpredis.sftp.subsystem import SFTPFiles

log = Logger()


class _Counting:
    """The TCP transport, counting what is written (%O counts the SSH bytes)."""

    def __init__(self, transport, recorder):
        self._t = transport
        self._rec = recorder

    def write(self, data):
        self._rec.bytes_out += len(data)
        self._t.write(data)

    def writeSequence(self, seq):
        for data in seq:
            self.write(data)

    def __getattr__(self, name):
        return getattr(self._t, name)


#: The longest SFTP packet a client may announce.  twisted.conch buffers a packet whole
#: before it looks at it, so a length of 2**31 held memory growing with every byte sent
#: (one authenticated client, without limit).  OpenSSH's sftp-server refuses more than
#: 256 KiB; clients write 32-255 KiB at a time.  Beyond this the session ends, as
#: mod_sftp ends it on an excessive packet.
MAX_SFTP_PACKET = 1024 * 1024

_LENGTH = struct.Struct(">I")

class SFTPServerProtocol(filetransfer.FileTransferServer):
    """The ``sftp`` subsystem of one channel: %{protocol} is "sftp" while it runs."""

    def __init__(self, conn):
        self.files = SFTPFiles(conn, self._held)
        self.conn = conn
        filetransfer.FileTransferServer.__init__(self, avatar=self.files)

    def _held(self, handle):
        """The open file or directory object of a handle the session holds."""
        found = conch_sftp.open_files(self).get(handle)
        if found is None:
            found = conch_sftp.open_directories(self)[handle][0]
        return found

    def connectionMade(self):
        self.conn.recorder.protocol = "sftp"
        filetransfer.FileTransferServer.connectionMade(self)

    ended = False

    def dataReceived(self, data):
        # twisted.conch's own loop parses a request as it handles it: a malformed one,
        # one of a type it does not know or naming a handle it does not hold went
        # unanswered (ftpredis.sftp.packets).  This one checks each request first.
        self.conn.resetTimeout()
        if self.ended:
            return
        self.buf += data
        while len(self.buf) >= 4:
            length = _LENGTH.unpack(self.buf[:4])[0]
            if length > MAX_SFTP_PACKET:
                self.conn.factory.note(
                    "received excessive SFTP packet (len %d > max %d bytes), rejecting"
                    % (length, MAX_SFTP_PACKET))
                log.warn("SFTP: a client announced a packet of {length} bytes (more than "
                         "{max}): session ended", length=length, max=MAX_SFTP_PACKET)
                self._end("Excessive SFTP packet")
                return
            if length < 5:
                # No room for a request id to answer: mod_sftp ends the session too.
                self.conn.factory.note(
                    "illegal SFTP request length (%d bytes, require at least 5 bytes), "
                    "rejecting" % (length,))
                log.warn("SFTP: a client sent a packet of {length} bytes (less than 5): "
                         "session ended", length=length)
                self._end("Malformed SFTP packet")
                return
            if len(self.buf) < 4 + length:
                return
            packet, self.buf = self.buf[4:4 + length], self.buf[4 + length:]
            self._request(packet[0], packet[1:])
            if self.ended:
                return

    def _end(self, reason):
        self.ended = True
        self.buf = b""
        self.conn.end_session(reason)

    def _request(self, kind, data):
        """One request: ``data`` is what follows its type byte."""
        if kind == packets.INIT:
            try:
                used = packets.parse_init(data)
            except packets.Malformed as e:
                self.conn.factory.note("malformed SFTP INIT (%s), rejecting" % (e,))
                log.warn("SFTP: malformed INIT ({why}): session ended", why=e)
                self._end("Malformed SFTP packet")
                return
            self._dispatch("INIT", data[:used], None)
            return
        rid = data[:4]
        name = packets.NAMES.get(kind)
        if name is None:
            # As OpenSSH's sftp-server (mod_sftp ends the session), in mod_sftp's words.
            self.conn.factory.note("unhandled SFTP request type %d" % (kind,))
            log.info("SFTP: request of unknown type {kind}: answered Unsupported "
                     "operation", kind=kind)
            self._status(rid, filetransfer.FX_OP_UNSUPPORTED, b"Unsupported operation")
            return
        try:
            handle, used = packets.parse(kind, data)
        except packets.Malformed as e:
            self.conn.factory.note("malformed SFTP %s request (%s)" % (name, e))
            log.info("SFTP: malformed {name} request ({why}): answered Bad message",
                     name=name, why=e)
            self._status(rid, filetransfer.FX_BAD_MESSAGE, b"Bad message")
            return
        held = packets.HANDLE_KINDS.get(kind)
        if held is None and handle is not None:
            held = packets.EITHER       # an extension's (fstatvfs@openssh.com)
        if held is not None:
            files = conch_sftp.open_files(self)
            dirs = conch_sftp.open_directories(self)
            if not (held != packets.DIRECTORY and handle in files
                    or held != packets.FILE and handle in dirs):
                # mod_sftp's answer (fxp.c), though SFTP v3 has no such code: OpenSSH's
                # sftp and lftp take it as a failure.
                self._status(rid, statuses.INVALID_HANDLE, b"Invalid handle")
                return
        self._dispatch(name, data[:used], rid)

    def _dispatch(self, name, data, rid):
        try:
            getattr(self, "packet_" + name)(data)
        except Exception:
            # Every request was checked: this is a bug of ours or of twisted.conch.
            log.failure("SFTP: {name} request failed", name=name)
            if rid is not None:
                self._status(rid, filetransfer.FX_FAILURE, b"Failure")

    def packet_READDIR(self, data):
        # A listing sent whole is answered here: twisted.conch's answer to an iterator
        # with nothing left says "scan directory failed" (mod_sftp: "End of file").
        # A READDIR that empties it mid-answer gets the names it found, as before.
        handle = getNS(data[4:])[0]
        directory = conch_sftp.open_directories(self)[handle][0]
        if directory.exhausted:
            self._status(data[:4], statuses.EOF, b"End of file")
            return
        filetransfer.FileTransferServer.packet_READDIR(self, data)

    def packet_REALPATH(self, data):
        # twisted.conch's NAME carries no long name; mod_sftp's carries the entry's
        # "ls -l" line (and, for v3, no attributes).
        rid = data[:4]
        path = getNS(data[4:])[0]

        def answer(entry):
            name, longname = entry
            self.sendPacket(filetransfer.FXP_NAME,
                            rid + struct.pack(">I", 1) + NS(name) + NS(longname)
                            + struct.pack(">I", 0))

        def failed(f):
            if f.check(filetransfer.SFTPError):
                self._status(rid, f.value.code, f.value.message.encode())
                return
            log.failure("SFTP: REALPATH failed", f)
            self._status(rid, filetransfer.FX_FAILURE, b"Failure")
        defer.maybeDeferred(self.files.realPathEntry, path).addCallbacks(answer, failed)

    def packet_EXTENDED(self, data):
        # twisted.conch answers every extension with EXTENDED_REPLY, and a failed one
        # with its own text ("extended <name> failed"); posix-rename answers a status,
        # home-directory a NAME.
        rid = data[:4]
        name, rest = getNS(data[4:])

        def replied(reply):
            if reply is None:
                self._status(rid, filetransfer.FX_OK, b"OK")
            elif isinstance(reply, tuple):
                self.sendPacket(reply[0], rid + reply[1])
            else:
                self.sendPacket(filetransfer.FXP_EXTENDED_REPLY, rid + reply)

        def failed(f):
            if f.check(filetransfer.SFTPError):
                self._status(rid, f.value.code, f.value.message.encode())
                return
            log.failure("SFTP: EXTENDED {name} failed", f,
                        name=name.decode("utf-8", "replace"))
            self._status(rid, filetransfer.FX_FAILURE, b"Failure")
        defer.maybeDeferred(self.files.extendedRequest, name, rest).addCallbacks(
            replied, failed)

    def _status(self, rid, code, text):
        self.sendPacket(filetransfer.FXP_STATUS, statuses.packet(rid, code, text))

    def sendPacket(self, kind, data):
        # twisted.conch's own STATUS answers (each success in its words, without a
        # language) go out as mod_sftp words them.
        if kind == filetransfer.FXP_STATUS:
            data = statuses.reworded(data)
        filetransfer.FileTransferServer.sendPacket(self, kind, data)

    def connectionLost(self, reason):
        self.files.closeAll()
        filetransfer.FileTransferServer.connectionLost(self, reason)
        self.conn.recorder.protocol = "ssh2"


#: The window a session channel offers the client (unless SFTPClientMatch's
#: channelWindowSize says otherwise): OpenSSH's sshd offers 2 MiB (64 packets of 32 KiB,
#: what its sftp keeps in flight on an upload).  twisted.conch's default, 128 KiB, holds
#: an upload to four packets a round trip and costs a WINDOW_ADJUST every two.
CHANNEL_WINDOW = 2 * 1024 * 1024


class SessionChannel(session.SSHSession):
    """A session channel: when the client is done with its subsystem (EOF), the
    channel reports exit status 0 before closing, as mod_sftp does (scp fails on a
    channel closed without one)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("localWindow", CHANNEL_WINDOW)
        session.SSHSession.__init__(self, *args, **kwargs)

    # Only the sftp subsystem is served: no shell, exec (legacy scp), pty or
    # environment (mod_sftp's SFTPAcceptEnv); refused, not failed on.
    def request_env(self, data):
        return 0

    def request_pty_req(self, data):
        return 0

    def request_shell(self, data):
        return 0

    def request_exec(self, data):
        return 0

    def request_window_change(self, data):
        return 0

    def eofReceived(self):
        if self.client is not None and self.conn is not None:
            self.conn.sendRequest(self, b"exit-status", struct.pack(">L", 0))
            self.conn.sendClose(self)
            return
        session.SSHSession.eofReceived(self)


class SSHUser(conch_avatar.ConchUser):
    """What a logged-in connection may open: session channels, the sftp subsystem."""

    def __init__(self, ssh):
        conch_avatar.ConchUser.__init__(self)
        self.ssh = ssh              # (twisted.conch sets .conn: the SSHConnection service)
        self.channelLookup[b"session"] = SessionChannel

    def refusal(self, channel_type, open_now):
        """Why a channel of ``channel_type`` may not be opened while ``open_now`` are
        open, as mod_sftp answers and logs it (contrib/mod_sftp/channel.c): (reason
        code, text, SFTPLog line), or None."""
        name = channel_type.decode("utf-8", "replace")
        # SFTPMaxChannels bounds the channels open at once: mod_sftp frees a channel's
        # slot once both sides have closed it, as twisted.conch forgets it then.
        if open_now >= self.ssh.factory.sftp.max_channels:
            return (connection.OPEN_RESOURCE_SHORTAGE, b"Resource shortage",
                    "maximum number of channels (%u) open, denying request to open "
                    "'%s' channel" % (open_now, name))
        if channel_type not in self.channelLookup:
            return (connection.OPEN_UNKNOWN_CHANNEL_TYPE,
                    b"Unsupported channel type requested",
                    "unsupported channel type '%s' requested, denying" % (name,))
        return None

    def lookupChannel(self, channelType, windowSize, maxPacket, data):
        # SSHConnection asked refusal() first: SFTPMaxChannels and the type are good.
        chan = conch_avatar.ConchUser.lookupChannel(self, channelType, windowSize,
                                                   maxPacket, data)
        match = self.ssh.client_match()
        if match is not None:
            # SFTPClientMatch: this client's window and packet sizes.
            if match.channel_window:
                chan.localWindowSize = chan.localWindowLeft = match.channel_window
            if match.channel_packet_size:
                chan.localMaxPacket = match.channel_packet_size
        return chan

    def lookupSubsystem(self, subsystem, data):
        if subsystem != b"sftp":
            return None
        return SFTPServerProtocol(self.ssh)


class SSHConnection(connection.SSHConnection):
    """The ssh-connection service: a channel this server does not open is refused
    here, in mod_sftp's words, before twisted.conch would (it logs every refusal as a
    failure, traceback and all)."""

    def ssh_CHANNEL_OPEN(self, packet):
        user = getattr(self.transport, "avatar", None)
        try:
            channel_type, rest = getNS(packet)
            sender = _LENGTH.unpack(rest[:4])[0]
        except (struct.error, ValueError):
            user = None
        refused = (user.refusal(channel_type, len(self.channels)) if user is not None
                   else None)
        if refused is None:
            connection.SSHConnection.ssh_CHANNEL_OPEN(self, packet)
            return
        reason, text, line = refused
        self.transport.factory.note(line)
        log.info("SSH: {line}", line=line)
        self.transport.sendPacket(connection.MSG_CHANNEL_OPEN_FAILURE,
                                  struct.pack(">2L", sender, reason) + NS(text) + NS(b"en-US"))


@implementer(IPolicySession)
class SSHSession(transport.SSHServerTransport, TimeoutMixin):
    """One SSH connection."""

    recorder = None
    otherVersionString = None
    conch_user = None
    disconnected = False
    connection_class = None
    counted = False
    _logout = None

    # -- IPolicySession ---------------------------------------------------------------
    @property
    def server(self):
        return self.factory.server

    @property
    def peer_host(self):
        return self.recorder.peer_host

    @property
    def local_host(self):
        return self.recorder.local_host

    @property
    def original_user(self):
        return self.recorder.original_user

    @property
    def user(self):
        a = self.recorder.avatar
        return a.name if a is not None else self.recorder.original_user

    @property
    def session(self):
        return self.recorder.session

    @property
    def end_reason(self):
        return self.recorder.end_reason

    def end_session(self, reason, reply=None):
        self.recorder.end_reason = reason
        if self.transport is not None:
            self.transport.loseConnection()

    def policy_event(self, event, user=None):
        policy = self.factory.policy
        if policy is None or event is None:
            return False
        return bool(policy.on_event(self, event, user=user))

    # -- the connection -----------------------------------------------------------------
    def makeConnection(self, tcp):
        f = self.factory
        self.recorder = SSHRecorder(f.server, f.emit, tcp.getPeer(), tcp.getHost())
        transport.SSHServerTransport.makeConnection(self, _Counting(tcp, self.recorder))

    def connectionMade(self):
        f = self.factory
        peer_host = self.recorder.peer_host
        if not limits.connect_allowed(f.server, peer_host):
            # ProFTPD's src/main.c refuses before mod_sftp sees the connection: no SSH
            # identification, no record, one SystemLog line (as ftpredis.ftp.protocol).
            limits.report_denied_connection(f, peer_host, self.recorder.local_host)
            f.note("Connection from %s [%s] denied" % (peer_host, peer_host))
            self._denied = True
            self.transport.loseConnection()
            return
        f.instances[self] = None
        self.recorder.connect()
        peer, host = self.transport.getPeer(), self.transport.getHost()
        f.note("client (%s:%d) connected to server (%s:%d)" % (
            self.recorder.peer_host, peer.port, self.recorder.local_host, host.port))
        if f.policy is not None and f.policy.on_connect(self):
            return
        limit = f.server.max_connections_per_host
        if limit is not None and sum(1 for p in f.instances
                                     if p.peer_host == self.peer_host) > limit[0]:
            # Before the SSH identification, as ProFTPD's mod_sftp (doc/sftp-records.rst).
            self.recorder.end_reason = "Configured policy: Denied by MaxConnectionsPerHost"
            if not self.policy_event("MaxConnectionsPerHost"):
                self.transport.loseConnection()
            return
        self.setTimeout(f.server.timeout_idle or None)
        if f.server.timeout_login:
            # From the connection on, as ProFTPD: a client that never finishes the key
            # exchange is timed out too (twisted.conch's own timer starts with userauth).
            self._login_timer = f.reactor.callLater(f.server.timeout_login,
                                                    self.loginTimedOut)
        transport.SSHServerTransport.connectionMade(self)

    def dataReceived(self, data):
        self.recorder.bytes_in += len(data)
        self.resetTimeout()
        transport.SSHServerTransport.dataReceived(self, data)

    _login_timer = None

    def loginTimedOut(self):
        self._login_timer = None
        self.recorder.end_reason = "Timeout exceeded: TimeoutLogin"
        if not self.policy_event("TimeoutLogin"):
            self.transport.loseConnection()

    def _cancelLoginTimer(self):
        t, self._login_timer = self._login_timer, None
        if t is not None and t.active():
            t.cancel()

    def timeoutConnection(self):
        self.recorder.end_reason = "Timeout exceeded: TimeoutIdle"
        # Recorded now, as ProFTPD does: with the subsystem still running (%{protocol}
        # "sftp"), before closing the channels resets it.
        self.recorder.exit()
        if not self.policy_event("TimeoutIdle"):
            self.transport.loseConnection()

    def ssh_DISCONNECT(self, packet):
        try:
            description = getNS(packet[4:])[0].decode("utf-8", "replace")
        except (struct.error, ValueError):
            description = ""
        self.recorder.end_reason = "Quit: " + description if description else "Quit"
        # What twisted.conch's ssh_DISCONNECT does (receiveError does nothing here),
        # without its struct.error ("Unhandled Error") on a message too short for a
        # reason code and a description.
        self.transport.loseConnection()

    def client_match(self):
        """The first SFTPClientMatch whose pattern the client's version text matches."""
        version = (self.otherVersionString or b"").decode("utf-8", "replace")
        version = version.split("-", 2)[-1]
        for m in self.factory.sftp.client_match:
            if re.search(m.pattern, version):
                return m
        return None

    def receiveError(self, reasonCode, description):
        # The client's DISCONNECT: its reason is the session's end reason (recorded
        # and in SFTPLog), not an error of this server's.
        pass

    def loggedIn(self, avatar, fs, logout):
        self.recorder.avatar = avatar
        self.recorder.fs = fs
        self._logout = logout
        self.conch_user = SSHUser(self)
        self._cancelLoginTimer()
        self.counted = True
        self.factory.logged_in += 1

    def logout(self):
        """The conch avatar's logout (twisted.conch calls it at the connection's end)."""

    _denied = False             # refused by <Limit LOGIN> at connect: no session at all

    def connectionLost(self, reason):
        self.disconnected = True
        if self._denied:
            return
        self.setTimeout(None)
        self._cancelLoginTimer()
        self.factory.note("disconnecting client (%s)" % (
            self.recorder.end_reason or "Read EOF from client",))
        # EXIT first, with the subsystem as it was: closing the channels (below) ends
        # it and logs what it had open, after EXIT, as ProFTPD does.
        self.recorder.exit()
        try:
            transport.SSHServerTransport.connectionLost(self, reason)
        finally:
            self.factory.instances.pop(self, None)
            if self.counted:
                self.counted = False
                self.factory.logged_in -= 1
            fs = self.recorder.fs
            if fs is not None:
                fs.close()
            logout, self._logout = self._logout, None
            if logout is not None:
                logout()

    # -- shutdown ---------------------------------------------------------------------------
    def shutdown(self):
        self.recorder.end_reason = "Server shutting down"
        if self.transport is not None:
            self.sendDisconnect(transport.DISCONNECT_BY_APPLICATION, b"Server shutting down")


def _read_banner(path):
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            return f.read(64 * 1024)
    except OSError as e:
        log.warn("SFTPDisplayBanner {path}: {err}", path=path, err=e.strerror)
        return None


class SFTPFactory(factory.SSHFactory):
    """Listens for one server with SFTPEngine on (built by ftpredis.app.service)."""

    protocol = SSHSession
    noisy = False
    services = {b"ssh-userauth": UserAuthServer, b"ssh-connection": SSHConnection}
    #: Seconds before a refused login is answered (as FTP's PASS).
    loginFailureDelay = 0.25

    def __init__(self, server, portal, emit, reactor=None, policy=None):
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self.server = server
        self.sftp = server.sftp
        self.portal = portal
        self.emit = emit
        self.policy = policy
        self.disk = pool_for(reactor)
        self.instances = {}
        self.logged_in = 0
        self._names = None
        self.privateKeys = {}
        self.publicKeys = {}
        for hk in self.sftp.host_keys:
            self.privateKeys.setdefault(hk.type, hk.key)
            self.publicKeys.setdefault(hk.type, hk.key.public())
        self.primes = None
        # SFTPLog: RedisLog's file handling (path checks, one line per message, never
        # raising); SFTPDisplayBanner: read once, when the server starts.
        self.sftp_log = (RedisLog(self.sftp.log, server.allow_log_symlinks)
                         if self.sftp.log else None)
        self.banner = _read_banner(self.sftp.display_banner)

    def note(self, text):
        """One SFTPLog line."""
        if self.sftp_log is not None:
            self.sftp_log.write(text)

    def stopFactory(self):
        if self.sftp_log is not None:
            self.sftp_log.close()
        factory.SSHFactory.stopFactory(self)

    def owner_names(self):
        """uid -> user name, gid -> group name, and whether the system's are asked."""
        if self._names is None:
            s = self.server
            if s.auth_users:
                self._names = ({u.uid: u.name for u in s.auth_users}, dict(s.auth_groups),
                               False)
            else:
                self._names = ({}, dict(s.auth_groups), True)
        return self._names

    def buildProtocol(self, addr):
        t = factory.SSHFactory.buildProtocol(self, addr)
        cfg = self.sftp
        ident = self.server.server_ident
        if ident[0] and ident[1]:
            t.ourVersionString = b"SSH-2.0-" + ident[1].encode("utf-8", "replace")
        else:
            t.ourVersionString = b"SSH-2.0-mod_sftp"
        if cfg.ciphers is not None:
            t.supportedCiphers = [c for c in t.supportedCiphers if c in cfg.ciphers]
        if cfg.digests is not None:
            t.supportedMACs = [c for c in t.supportedMACs if c in cfg.digests]
        if cfg.key_exchanges is not None:
            t.supportedKeyExchanges = [c for c in t.supportedKeyExchanges
                                       if c in cfg.key_exchanges]
        t.supportedCompressions = [b"none", b"zlib"] if cfg.compression != "off" \
            else [b"none"]
        return t

    def closeAllSessions(self):
        for p in list(self.instances):
            p.shutdown()

