# -*- test-case-name: tests.test_redis_config -*-
"""Every RedisServer / RedisSentinel form end to end: a config file read by load_config,
the RedisTarget it gives driven by a real RedisSink into a real redis-server (plain,
requirepass, ACL user, several databases, unix socket, IPv6, mutual TLS), and the bad
forms refused with file:line."""

import os

from twisted.internet import defer
from twisted.trial import unittest

from ftpredis.config import ConfigErrors, load_config
from ftpredis.redis.sink import RedisSink
from tests.support.redisserver import RedisServerMixin, SentinelServer, free_port
from tests import test_sink
from tests.support.waiting import waitFor


class ConfigMixin(RedisServerMixin):
    redis_autostart = False

    def setUp(self):
        super().setUp()
        self.dir = os.path.abspath(self.mktemp())
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)

    def confPath(self):
        return os.path.join(self.dir, "ftpd.conf")

    def load(self, text):
        path = self.confPath()
        with open(path, "w") as f:
            f.write(text)
        return load_config(path, environ={})

    def target(self, text):
        return self.load(text).servers[0].redis

    def errors(self, text):
        try:
            self.load(text)
        except ConfigErrors as e:
            return [str(x) for x in e.errors]
        self.fail("no ConfigErrors for %r" % (text,))

    def redisLog(self):
        return os.path.join(self.dir, "redis.log")

    def logText(self):
        try:
            with open(self.redisLog(), encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    @defer.inlineCallbacks
    def deliver(self, text, n=3, key=b"k"):
        """Load ``text``, push ``n`` records through a sink for its target, wait for all."""
        from ftpredis.redis.redislog import RedisLog
        target = self.target(text)
        log = RedisLog(self.redisLog())
        self.addCleanup(log.close)
        sink = RedisSink(target, [log])
        sink.startService()
        self.addCleanup(lambda: sink.stopService() if sink.running else None)
        values = [b"v%d" % i for i in range(n)]
        for v in values:
            sink.push(key, v)
        yield waitFor(lambda: sink.sent == n, "%d records sent" % n)
        return target, values

    @defer.inlineCallbacks
    def refused(self, text, what):
        """Load ``text``; the sink never delivers and RedisLog says ``what``."""
        from ftpredis.redis.redislog import RedisLog
        target = self.target(text)
        log = RedisLog(self.redisLog())
        self.addCleanup(log.close)
        sink = RedisSink(target, [log])
        sink.startService()
        self.addCleanup(lambda: sink.stopService() if sink.running else None)
        sink.push(b"k", b"v")
        yield waitFor(lambda: what in self.logText(), repr(what))
        self.assertEqual((sink.sent, sink.buffered), (0, 1))
        self.assertNotIn("connected to Redis", self.logText())
        return target


class ServerFormTests(ConfigMixin, unittest.TestCase):

    @defer.inlineCallbacks
    def test_hostPort(self):
        server = self.startRedis()
        _, values = yield self.deliver("RedisServer 127.0.0.1:%d\n" % server.port)
        self.assertEqual(server.client().lrange(b"k"), values)

    @defer.inlineCallbacks
    def test_hostName(self):
        server = self.startRedis()
        target, values = yield self.deliver("RedisServer localhost:%d\n" % server.port)
        self.assertEqual(target.host, "localhost")
        self.assertEqual(server.client().lrange(b"k"), values)

    @defer.inlineCallbacks
    def test_ipv6(self):
        server = self.startRedis(host="::1")
        target, values = yield self.deliver("RedisServer [::1]:%d\n" % server.port)
        self.assertEqual((target.host, target.port), ("::1", server.port))
        self.assertEqual(server.client().lrange(b"k"), values)
        self.assertIn("connected to Redis [::1]:%d" % server.port, self.logText())

    @defer.inlineCallbacks
    def test_unixSocketWithPassword(self):
        server = self.startRedis(unixsocket=True, password="sockpw")
        target, values = yield self.deliver("RedisServer %s sockpw\n" % server.unix_path)
        self.assertEqual((target.unix_path, target.password), (server.unix_path, "sockpw"))
        self.assertEqual(server.client().lrange(b"k"), values)

    @defer.inlineCallbacks
    def test_oneWordIsPassword(self):
        server = self.startRedis(password="s3cret")
        target, values = yield self.deliver("RedisServer 127.0.0.1:%d s3cret\n" % server.port)
        self.assertEqual((target.username, target.password), (None, "s3cret"))
        self.assertEqual(server.client().lrange(b"k"), values)

    @defer.inlineCallbacks
    def test_twoWordsAreAclUser(self):
        server = self.startRedis(password="defaultpw")
        server.client().command("ACL", "SETUSER", "ftplog", "on", ">ftplogpw", "~ftp:*",
                                "+rpush", "+ping", "+select")
        _, values = yield self.deliver('RedisServer 127.0.0.1:%d ftplog "ftplogpw"\n'
                                       % server.port, key=b"ftp:log")
        self.assertEqual(server.client().lrange(b"ftp:log"), values)

    @defer.inlineCallbacks
    def test_dbIndexOnly(self):
        server = self.startRedis()
        target, values = yield self.deliver('RedisServer 127.0.0.1:%d "" "" 2\n' % server.port)
        self.assertEqual((target.username, target.password, target.db), (None, None, 2))
        self.assertEqual(server.client(db=2).lrange(b"k"), values)
        self.assertEqual(server.client().keys(), [])

    @defer.inlineCallbacks
    def test_userPasswordDb(self):
        server = self.startRedis(password="defaultpw")
        server.client().command("ACL", "SETUSER", "ftplog", "on", ">ftplogpw", "~*",
                                "+rpush", "+ping", "+select")
        _, values = yield self.deliver("RedisServer 127.0.0.1:%d ftplog ftplogpw 7\n"
                                       % server.port)
        self.assertEqual(server.client(db=7).lrange(b"k"), values)

    @defer.inlineCallbacks
    def test_timeoutsAndBufferReachTheSink(self):
        server = self.startRedis()
        target, _ = yield self.deliver("RedisServer 127.0.0.1:%d\nRedisTimeouts 250 750\n"
                                       "RedisBufferSize 5000\n" % server.port)
        self.assertEqual((target.connect_timeout_ms, target.io_timeout_ms, target.buffer_size),
                         (250, 750, 5000))

    @defer.inlineCallbacks
    def test_sentinelWithServerCredentials(self):
        """RedisSentinel finds the master; RedisServer gives its password and db (its
        host is only a fallback)."""
        master = self.startRedis(password="pw")
        s = SentinelServer([("mymaster", "127.0.0.1", master.port, 1)])
        self.addCleanup(s.cleanup)
        s.start()
        s.client().command("SENTINEL", "SET", "mymaster", "auth-pass", "pw")
        dead = free_port()
        target, values = yield self.deliver(
            "RedisSentinel master mymaster 127.0.0.1:%d 127.0.0.1:%d\n"
            'RedisServer 127.0.0.1:%d "" pw 3\n' % (dead, s.port, free_port()))
        self.assertEqual(target.sentinels, (("127.0.0.1", dead), ("127.0.0.1", s.port)))
        self.assertEqual(master.client(db=3).lrange(b"k"), values)


class TLSFormTests(ConfigMixin, unittest.TestCase):

    def certs(self, san="DNS:localhost,IP:127.0.0.1"):
        return test_sink.TLSTests.makeCerts(self, san)

    def startTLS(self, certs, auth_clients="yes", **kw):
        return test_sink.TLSTests.startTLSRedis(self, certs, auth_clients, **kw)

    @defer.inlineCallbacks
    def test_mutualTLS(self):
        certs = self.certs()
        server = self.startTLS(certs, password="pw")
        text = ("RedisServer localhost:%d pw ssl:true ssl-ca:%s/ca.crt ssl-cert:%s/client.crt "
                "ssl-key:%s/client.key\n" % (server.tls_port, certs, certs, certs))
        target, values = yield self.deliver(text)
        self.assertTrue(target.ssl)
        self.assertEqual(server.client().lrange(b"k"), values)

    @defer.inlineCallbacks
    def test_optionsBeforeCredentials(self):
        """ssl options may stand anywhere among the words (ProFTPD drops them there)."""
        certs = self.certs()
        server = self.startTLS(certs, password="pw")
        text = ('RedisServer 127.0.0.1:%d ssl:on ssl-ca:%s/ca.crt "" pw ssl-key:%s/client.key '
                "ssl-cert:%s/client.crt 4\n" % (server.tls_port, certs, certs, certs))
        target, values = yield self.deliver(text)
        self.assertEqual((target.password, target.db), ("pw", 4))
        self.assertEqual(server.client(db=4).lrange(b"k"), values)

    @defer.inlineCallbacks
    def test_hostnameMismatch(self):
        certs = self.certs("DNS:redis.example")
        server = self.startTLS(certs, auth_clients="no")
        yield self.refused("RedisServer 127.0.0.1:%d ssl:true ssl-ca:%s/ca.crt\n"
                           % (server.tls_port, certs),
                           "error connecting to Redis 127.0.0.1:%d: TLS error: "
                           "VerificationError" % server.tls_port)

    @defer.inlineCallbacks
    def test_clientCertRequired(self):
        certs = self.certs()
        server = self.startTLS(certs, auth_clients="yes")
        yield self.refused("RedisServer localhost:%d ssl:true ssl-ca:%s/ca.crt\n"
                           % (server.tls_port, certs),
                           "error connecting to Redis localhost:%d" % server.tls_port)

    @defer.inlineCallbacks
    def test_untrustedServer(self):
        """Without ssl-ca the platform trust store is used: a private CA is refused."""
        certs = self.certs()
        server = self.startTLS(certs, auth_clients="no")
        yield self.refused("RedisServer localhost:%d ssl:true\n" % server.tls_port,
                           "error connecting to Redis localhost:%d: TLS error"
                           % server.tls_port)


class BadFormTests(ConfigMixin, unittest.TestCase):

    def test_badForms(self):
        path = self.confPath()
        with open(os.path.join(self.dir, "cert.pem"), "w") as f:
            f.write("x")
        lines = [
            ("RedisServer", "RedisServer: "),
            ("RedisServer 127.0.0.1:99999", "RedisServer: bad port '99999' in "
             "'127.0.0.1:99999'"),
            ("RedisServer ::1:6379", "RedisServer: bad address '::1:6379': write an IPv6 "
             "address in brackets"),
            ("RedisServer [::1", "RedisServer: bad address '[::1': missing ']'"),
            ("RedisServer [localhost]:6379", "RedisServer: bad address '[localhost]:6379': "
             "'localhost' is not an IPv6 address"),
            ("RedisServer :6379", "RedisServer: bad address ':6379': no host"),
            ('RedisServer h "" "" x', "RedisServer: bad db-index 'x'"),
            ("RedisServer h u p 1 extra", "RedisServer: too many parameters"),
            ("RedisServer h ssl:yesplease", "RedisServer: bad ssl value 'yesplease'"),
            ("RedisServer h ssl:on ssl-key:cert.pem", "RedisServer: ssl-key requires ssl-cert"),
            ("RedisServer h ssl:on ssl-ca:", "RedisServer: SSL CA: empty path"),
            ("RedisSentinel master m", "RedisSentinel: no sentinel address given"),
            ("RedisSentinel h:0", "RedisSentinel: bad port '0' in 'h:0'"),
            ("RedisTimeouts 1x 2", "RedisTimeouts: badly formatted connect timeout value: 1x"),
            ("RedisTimeouts 1 -2", "RedisTimeouts: badly formatted IO timeout value: -2"),
            ("RedisOptions Reconnect", "RedisOptions: : unknown RedisOption 'Reconnect'"),
            ("RedisBufferSize 0", "RedisBufferSize: "),
        ]
        text = "".join(line + "\n" for line, _ in lines)
        errors = self.errors(text)
        self.assertEqual(len(errors), len(lines), errors)
        for n, ((line, start), error) in enumerate(zip(lines, errors), 1):
            self.assertTrue(error.startswith(start), (line, error))
            self.assertTrue(error.endswith("on line %d of '%s'" % (n, path)), (line, error))
