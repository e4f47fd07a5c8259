# -*- test-case-name: tests.test_proxy_config -*-
"""mod_proxy_protocol's directives as ftpredis reads them (ftpredis.config.args_proxy):
values, defaults, contexts, <Global> and <IfModule mod_proxy_protocol.c>, and errors
naming file and line."""

import os

from twisted.trial import unittest

from ftpredis.config import ConfigErrors, load_config


class ProxyProtocolConfigTests(unittest.TestCase):
    def load(self, body):
        path = os.path.join(os.path.realpath(self.mktemp()) + ".conf")
        with open(path, "w") as f:
            f.write("Port 2121\n" + body)
        return load_config(path)

    def errors(self, body):
        e = self.assertRaises(ConfigErrors, self.load, body)
        return str(e)

    def test_defaults(self):
        s = self.load("").servers[0]
        self.assertEqual((s.proxy_protocol_engine, s.proxy_protocol_version,
                          s.proxy_protocol_timeout, s.proxy_protocol_options,
                          s.proxy_protocol_ignore), (False, 1, 3, frozenset(), False))

    def test_values_ifmodule_and_global(self):
        config = self.load("""
<IfModule mod_proxy_protocol.c>
  ProxyProtocolEngine on
  ProxyProtocolVersion HAProxyV2
  ProxyProtocolTimeout 00:01:30
  ProxyProtocolOptions useproxiedserveraddress
</IfModule>
<Global>
  ProxyProtocolIgnore on
</Global>
<VirtualHost 127.0.0.2>
  ProxyProtocolTimeout 2min
</VirtualHost>
""")
        main, vhost = config.servers
        self.assertEqual((main.proxy_protocol_engine, main.proxy_protocol_version,
                          main.proxy_protocol_timeout, main.proxy_protocol_options),
                         (True, 2, 90, frozenset({"UseProxiedServerAddress"})))
        self.assertTrue(main.proxy_protocol_ignore and vhost.proxy_protocol_ignore)
        self.assertEqual((vhost.proxy_protocol_engine, vhost.proxy_protocol_timeout),
                         (False, 120))

    def test_timeout_forms(self):
        for text, seconds in (("3", 3), ("3sec", 3), ("5s", 5), ("1h", 3600), ("0", 0),
                              ("1 min", 60)):
            self.assertEqual(self.load('ProxyProtocolTimeout "%s"\n' % text)
                             .servers[0].proxy_protocol_timeout, seconds, text)

    def test_errors_name_the_line(self):
        text = self.errors("ProxyProtocolVersion haproxyV3\nProxyProtocolTimeout soon\n"
                           "ProxyProtocolOptions UseProxiedClientAddress\n"
                           "ProxyProtocolEngine maybe\n")
        self.assertIn("ProxyProtocolVersion: unknown/unsupported protocol version "
                      "'haproxyV3' (expected haproxyV1 or haproxyV2) on line 2", text)
        self.assertIn("ProxyProtocolTimeout: error parsing timeout value 'soon'", text)
        self.assertIn("on line 3", text)
        self.assertIn("unknown ProxyProtocolOption 'UseProxiedClientAddress'", text)
        self.assertIn("ProxyProtocolEngine", text)
        self.assertIn("on line 5", text)

    def test_not_in_anonymous_or_directory(self):
        text = self.errors("<Directory /tmp>\n  ProxyProtocolEngine on\n</Directory>\n")
        self.assertIn("ProxyProtocolEngine", text)
        self.assertIn("line 3", text)
