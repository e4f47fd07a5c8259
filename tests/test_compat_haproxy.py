# -*- test-case-name: tests.test_compat_haproxy -*-
"""The PROXY protocol shim (ftpredis._compat.twisted_haproxy) still reaches Twisted's
private header parsers, and they still read headers as ftpredis.proxy expects."""

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.trial import unittest

from ftpredis import _compat
from ftpredis._compat import twisted_haproxy as shim
from tests.support.proxyclient import V2_SIG, tlv, v1, v2


class TwistedHAProxyTests(unittest.TestCase):
    def test_names_resolve(self):
        for module, dotted in shim.PRIVATE_NAMES:
            _compat.resolve(module, dotted)
        self.assertEqual(shim.V2_SIGNATURE, V2_SIG)

    def test_v1(self):
        info = shim.parse_v1(v1("203.0.113.7", "10.0.0.1", 5555, 21)[:-2])
        self.assertEqual(info.source, IPv4Address("TCP", "203.0.113.7", 5555))
        self.assertEqual(info.destination, IPv4Address("TCP", "10.0.0.1", 21))
        info = shim.parse_v1(v1("2001:db8::7", "2001:db8::1")[:-2])
        self.assertIsInstance(info.source, IPv6Address)
        self.assertRaises(shim.InvalidProxyHeader, shim.parse_v1, b"PROXY TCP9 a b 1 2")

    def test_v2(self):
        info = shim.parse_v2(v2("203.0.113.7", "10.0.0.1", 5555, 21, tlv(0x05, b"id")))
        self.assertEqual(info.source, IPv4Address("TCP", "203.0.113.7", 5555))
        self.assertEqual(info.destination, IPv4Address("TCP", "10.0.0.1", 21))
        self.assertIsNone(shim.parse_v2(v2(None, None, command=0)).source)
        self.assertRaises(shim.InvalidProxyHeader, shim.parse_v2, b"\0" * 16)
