# -*- test-case-name: tests.test_netacl -*-
"""``Allow``/``Deny``: ftpredis.config.netacl's reading of ProFTPD 1.3.8's address rules,
the config errors and warnings a user sees, and ftpredis.ftp.limits combining them with
Order and the user/group rules (ProFTPD's src/dirtree.c check_limit()).  What a client
sees is in tests/test_acl.py and tests/test_conformance_access.py."""

from __future__ import annotations

import ipaddress

from twisted.trial import unittest

from ftpredis.config import format_check_report, netacl
from ftpredis.config.model import LimitConfig, ServerConfig
from ftpredis.ftp import limits
from tests.test_config import _Base


def matches(words, client):
    return netacl.access([netacl.parse_list(words.split())], ipaddress.ip_address(client))


class ParseTests(unittest.TestCase):

    def test_kinds(self):
        for word, kind in (("all", netacl.ALL), ("NONE", netacl.NONE),
                           ("10.0.0.0/8", netacl.IPMASK), ("2001:db8::/32", netacl.IPMASK),
                           ("10.1.2.3", netacl.IPMATCH), ("::1", netacl.IPMATCH),
                           ("192.168.1.", netacl.IPGLOB), ("10.*.1.2", netacl.IPGLOB),
                           ("host.example.com", netacl.DNSMATCH),
                           ("*.example.com", netacl.DNSGLOB), (".example.com", netacl.DNSGLOB),
                           ("localhost", netacl.DNSMATCH), ("cafe", netacl.DNSMATCH)):
            self.assertEqual(netacl.create(word).kind, kind, word)

    def test_from_and_lists(self):
        acls = netacl.parse_list(["from", "10.0.0.0/8,192.168.1.", "::1"])
        self.assertEqual([a.text for a in acls], ["10.0.0.0/8", "192.168.1.", "::1"])
        self.assertEqual([a.kind for a in netacl.parse_list(["from", "all", "ignored"])],
                         [netacl.ALL])

    def test_errors_worded_as_proftpd(self):
        for words, message in (
                (["from"], "syntax: Allow [from] [all|none]|host|network[,...]"),
                (["10.0.0.1,all"], "syntax: Allow [from] [all|none]|host|network[,...]"),
                (["!all"], "the ! negation operator cannot be used with ALL/NONE"),
                (["10.0.0.256"], "bad ACL definition '10.0.0.256': "),
                (["10.0.0.0/33"], "bad ACL definition '10.0.0.0/33': mask length 33"),
                (["2001:db8::/129"], "bad ACL definition '2001:db8::/129': mask length"),
                (["10.0.0.0/255.0.0.0"], "bad ACL definition '10.0.0.0/255.0.0.0': "
                 "'255.0.0.0' is not a mask length"),
                (["cafe.be"], "bad ACL definition 'cafe.be': ")):
            e = self.assertRaises(netacl.AclError, netacl.parse_list, words)
            self.assertTrue(str(e).startswith(message), (words, str(e)))


class MatchTests(unittest.TestCase):

    def test_table(self):
        for words, client, expected in (
                ("all", "203.0.113.9", True),
                ("none", "127.0.0.1", False),
                ("10.0.0.0/8", "10.200.1.1", True),
                ("10.0.0.0/8", "11.0.0.1", False),
                ("10.1.2.3/8", "10.9.9.9", True),        # host bits ignored, as ncmp does
                ("192.168.1.", "192.168.1.77", True),
                ("192.168.1.", "192.168.10.1", False),
                ("10.*.1.2", "10.77.1.2", True),
                ("127.0.0.1", "127.0.0.1", True),
                ("127.0.0.1", "127.0.0.2", False),
                ("::1", "::1", True),
                ("2001:db8::/32", "2001:db8:1::5", True),
                ("2001:db8::/32", "2001:db9::5", False),
                ("10.0.0.0/8", "::1", False),            # families never mix
                ("::ffff:10.0.0.0/8", "10.1.1.1", True),  # IPv4-mapped: compared as IPv4
                ("localhost", "127.0.0.1", False),       # names never match
                ("*.example.com", "127.0.0.1", False),
                ("127.0.0.9 10.0.0.0/8", "10.0.0.1", True),
                ("!127.0.0.2", "127.0.0.1", False),      # 1.3.8: a negated entry fails
                ("!127.0.0.2 127.0.0.1", "127.0.0.1", False),
                ("!*.example.com 127.0.0.1", "127.0.0.1", True)):   # skipped: no opinion
            self.assertEqual(matches(words, client), expected, (words, client))

    def test_lines_are_ored(self):
        lines = [netacl.parse_list(["10.0.0.1"]), netacl.parse_list(["10.0.0.2"])]
        self.assertTrue(netacl.access(lines, ipaddress.ip_address("10.0.0.2")))
        self.assertFalse(netacl.access(lines, ipaddress.ip_address("10.0.0.3")))


def _limit(order="allow,deny", *rules):
    out = []
    for directive, value in rules:
        if directive in ("Allow", "Deny"):
            value = netacl.parse_list(value.split())
        out.append((directive, value))
    return LimitConfig(frozenset({"STOR", "LOGIN"}), tuple(out), order=order)


class OrderTests(unittest.TestCase):
    """check_limit() as ProFTPD 1.3.8 runs it (each row checked against the real binary
    in tests/test_conformance_access.py or tests/test_acl.py)."""

    def decide(self, limit, user="alice", addr="127.0.0.1"):
        server = ServerConfig(is_main=True, source=None, addresses=(), limits=(limit,))
        return limits.decision(server, None, "STOR", None, user, (), addr=addr)

    def test_allow_deny(self):
        lim = _limit("allow,deny", ("Allow", "127.0.0.0/30"), ("Deny", "all"))
        self.assertTrue(self.decide(lim, addr="127.0.0.3"))
        self.assertFalse(self.decide(lim, addr="127.0.0.4"))
        # AllowAll is on the allow side: it beats DenyUser under allow,deny.
        lim = _limit("allow,deny", ("DenyUser", ("alice",)), ("AllowAll", ()))
        self.assertTrue(self.decide(lim))
        # Matching nothing: no decision.
        self.assertIsNone(self.decide(_limit("allow,deny", ("Deny", "10.0.0.1"))))

    def test_deny_allow(self):
        lim = _limit("deny,allow", ("Deny", "127.0.0.5"), ("Allow", "127.0.0.0/8"))
        self.assertFalse(self.decide(lim, addr="127.0.0.5"))
        self.assertTrue(self.decide(lim, addr="127.0.0.6"))
        # Matching nothing denies.
        self.assertFalse(self.decide(lim, addr="10.0.0.1"))
        # DenyAll is on the deny side: it beats AllowUser under deny,allow.
        lim = _limit("deny,allow", ("AllowUser", ("alice",)), ("DenyAll", ()))
        self.assertFalse(self.decide(lim))

    def test_no_address(self):
        lim = _limit("allow,deny", ("Deny", "all"))
        self.assertIsNone(self.decide(lim, addr=None))

    def test_connect(self):
        def server(*lims):
            return ServerConfig(is_main=True, source=None, addresses=(), limits=lims)
        lim = _limit("allow,deny", ("Allow", "127.0.0.1"), ("Deny", "all"))
        self.assertTrue(limits.connect_allowed(server(lim), "127.0.0.1"))
        self.assertFalse(limits.connect_allowed(server(lim), "127.0.0.2"))
        # Before USER, an AllowUser line allows and DenyUser says nothing.
        lim = _limit("allow,deny", ("AllowUser", ("bob",)), ("Deny", "all"))
        self.assertTrue(limits.connect_allowed(server(lim), "127.0.0.2"))
        lim = _limit("allow,deny", ("DenyUser", ("bob",)))
        self.assertTrue(limits.connect_allowed(server(lim), "127.0.0.2"))
        self.assertTrue(limits.connect_allowed(server(), "127.0.0.2"))


class ConfigTests(_Base):

    def test_errors_name_file_line_directive(self):
        self.assertEqual(
            self.error("Port 2121\n<Limit LOGIN>\n  Allow from 10.0.0.0/33\n</Limit>\n"),
            "Allow: bad ACL definition '10.0.0.0/33': mask length 33 is more than 32 "
            + self.where(3))
        self.assertEqual(self.error("Port 2121\nDeny from 10.0.0.1\n"),
                         "Deny: directive not allowed in server config context "
                         + self.where(2) + "; allowed in <Limit>")

    def test_rules_in_model(self):
        server = self.main("<Limit LOGIN>\n Order deny,allow\n Allow from 10.0.0.0/8 ::1\n"
                           " Deny 10.9.0.0/16\n</Limit>\n")
        (lim,) = server.limits
        self.assertEqual(lim.order, "deny,allow")
        self.assertEqual([(d, [a.text for a in v]) for d, v in lim.rules],
                         [("Allow", ["10.0.0.0/8", "::1"]), ("Deny", ["10.9.0.0/16"])])

    def test_check_warnings(self):
        path = self.write("Port 2121\n<Limit LOGIN>\n  Allow from !10.1.2.3 "
                          "host.example.com 10.0.0.0/8\n</Limit>\n")
        code, text = format_check_report(path)
        self.assertEqual(code, 0, text)
        self.assertIn("warning: Allow: '!10.1.2.3': in ProFTPD 1.3.8 a negated entry makes "
                      "this <Limit>'s Allow lines never match", text)
        self.assertIn("warning: Allow: 'host.example.com' is a host name: it never matches",
                      text)


class ClassTests(_Base):
    """<Class>/From/Satisfy (ProFTPD's src/class.c): the first class an address satisfies."""

    def test_first_satisfied_class(self):
        server = self.main("<Class a>\n From 10.0.0.0/8\n</Class>\n<Global>\n<Class b>\n"
                           " Satisfy all\n From 127.0.0.0/8, !127.0.0.9\n</Class>\n"
                           "</Global>\n<Class c>\n From all\n</Class>\n")
        self.assertEqual([c.name for c in server.classes], ["a", "b", "c"])
        for addr, name in (("10.1.1.1", "a"), ("127.0.0.1", "b"), ("127.0.0.9", "c"),
                           ("::1", "c")):
            self.assertEqual(limits.class_of(server, addr), name, addr)

    def test_class_rules_in_limits(self):
        server = self.main("<Class lan>\n From 192.168.1.\n</Class>\n<Limit STOR>\n"
                           " DenyClass lan\n</Limit>\n")
        self.assertFalse(limits.allowed(server, None, "STOR", None, "bob",
                                        addr="192.168.1.20"))
        self.assertTrue(limits.allowed(server, None, "STOR", None, "bob", addr="10.0.0.1"))

    def test_errors_and_warnings(self):
        self.assertEqual(self.error("<VirtualHost 127.0.0.1>\n<Class x>\n From all\n"
                                    "</Class>\n</VirtualHost>\n"),
                         "<Class>: directive not allowed in <VirtualHost> context "
                         + self.where(2) + "; allowed in server config, <Global>")
        self.assertEqual(self.error("From 10.0.0.1\n"),
                         "From: directive not allowed in server config context "
                         + self.where(1) + "; allowed in <Class>")
        self.assertEqual(self.error("<Class x>\n From 10.0.0.0/40\n</Class>\n"),
                         "From: bad ACL definition '10.0.0.0/40': mask length 40 is more "
                         "than 32 " + self.where(2))
        self.assertEqual(self.error("<Class x>\n Satisfy some\n</Class>\n"),
                         "Satisfy: invalid parameter: some " + self.where(2))
        config = self.load("<Class x>\n</Class>\n")
        self.assertIn("<Class> x on %s: empty <Class> definition" % self.where(1)[3:],
                      config.warnings)

    def test_unknown_class_warned(self):
        config = self.load("<Limit STOR>\n DenyClass nosuch\n</Limit>\n")
        self.assertIn("DenyClass: no <Class> named 'nosuch' (in the <Limit> on %s): it never "
                      "matches" % self.where(1)[3:], config.warnings)
