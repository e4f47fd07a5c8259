# -*- test-case-name: tests.test_config_table -*-
"""The directive table drives the model: every row says where its value goes, and it goes.

A directive that parses but is then dropped by the builder (as ``CreateHome on 711`` once
lost its mode) fails here: each row names real model fields (or the builder step that
assembles its value, or the contexts where it is accepted without effect, with a reason),
and setting each directive in each context it fills changes the built model.
"""

from __future__ import annotations

import dataclasses
import os

from twisted.trial import unittest

from ftpredis.config import load_config
from ftpredis.config.directives import MODELS, TABLE
from ftpredis.config.model import AnonymousConfig, DirectoryConfig, LimitConfig, ServerConfig

MODEL_CLASSES = {"server": ServerConfig, "anonymous": AnonymousConfig,
                 "directory": DirectoryConfig, "limit": LimitConfig}

#: An argument text for every directive that fills a field, unlike the default.
SAMPLES = {
    "ServerName": '"other"', "ServerIdent": "off", "Port": "2122",
    "DefaultAddress": "127.0.0.2", "MasqueradeAddress": "10.0.0.1",
    "PassivePorts": "50000 50010", "MaxClients": "5", "MaxClientsPerHost": "5",
    "MaxClientsPerUser": "2", "MaxConnectionsPerHost": "3", "RootLogin": "on",
    "AnonRejectPasswords": "^x", "MaxLoginAttempts": "5", "MaxInstances": "5", "CommandBufferSize": "1024",
    "TimeoutIdle": "7", "TimeoutLogin": "7", "TimeoutNoTransfer": "7",
    "TimeoutStalled": "7", "User": "nobody", "Group": "nogroup",
    "UserAlias": "anonymous ftp", "AuthUserFile": "{dir}/passwd",
    "AuthGroupFile": "{dir}/group", "DefaultRoot": "/srv", "RequireValidShell": "off",
    "CreateHome": "on 711", "Umask": "077", "AllowOverwrite": "on",
    "AllowStoreRestart": "on", "AllowRetrieveRestart": "off", "AllowForeignAddress": "on",
    "UseIPv6": "off",
    "HideFiles": "^x", "DisplayLogin": "{dir}/welcome", "AllowLogSymlinks": "on",
    "AccessGrantMsg": '"hello %u"', "AccessDenyMsg": '"no, %u"',
    "AllowFilter": "^[a-z]*$", "DenyFilter": "^x [NC]",
    "RedisEngine": "on", "RedisLog": "{dir}/redis.log", "SystemLog": "{dir}/system.log",
    "MaxCommandRate": "10 2",
    "ProxyProtocolEngine": "on", "ProxyProtocolVersion": "haproxyV2",
    "ProxyProtocolTimeout": "10sec", "ProxyProtocolOptions": "UseProxiedServerAddress",
    "ProxyProtocolIgnore": "on",
    "ServerWorkers": "2", "BusyPoll": "off", "Order": "deny,allow",
    "PrometheusEngine": "on", "PrometheusExporter": "127.0.0.1:19273",
    "PrometheusLog": "{dir}/prometheus.log", "PrometheusTables": "{dir}/prometheus",
    "PrometheusOptions": "EnableLogMessageMetrics",
    "UniqueIDEngine": "off", "ListOptions": '"-a" maxfiles 10',
    "ShowSymlinks": "off",
}

BASE = """\
{server}
<Directory {dir}/d>
{directory}
</Directory>
<Anonymous {dir}/anon>
{anonymous}
</Anonymous>
<Limit STOR>
  DenyAll
{limit}
</Limit>
"""


def _fields(model: str):
    return {f.name for f in dataclasses.fields(MODEL_CLASSES[model])}


class TableShapeTests(unittest.TestCase):

    def test_every_row_says_where_its_value_goes(self):
        for d in TABLE:
            if d.reader or d.section or not d.effect:
                continue
            self.assertTrue(d.fills or d.built_by,
                            "%s: no model field and no builder step" % d.name)
            for model, spec in d.fills:
                for name in spec.split(","):
                    self.assertIn(name, _fields(model), "%s fills %s.%s" % (d.name, model, name))
            ignored = {c for c, reason in d.ignored_in}
            for c, reason in d.ignored_in:
                self.assertIn(c, d.contexts, d.name)
                self.assertTrue(reason, d.name)
            if d.built_by:
                continue
            filled = {m for m, spec in d.fills}
            for c in d.contexts - ignored:
                self.assertIn(MODELS[c], filled,
                              "%s is accepted in %s but fills nothing there" % (d.name, c))

    def test_every_filling_row_has_a_sample(self):
        self.assertEqual(sorted(d.name for d in TABLE if d.fills), sorted(SAMPLES))


class TableEffectTests(unittest.TestCase):

    def setUp(self):
        self.dir = os.path.realpath(self.mktemp())
        os.makedirs(os.path.join(self.dir, "d"))
        os.makedirs(os.path.join(self.dir, "anon"))
        passwd = os.path.join(self.dir, "passwd")
        with open(passwd, "w") as f:
            f.write("bob:$1$x$y:1000:1000::%s:/bin/sh\n" % self.dir)
        with open(os.path.join(self.dir, "group"), "w") as f:
            f.write("bobs:x:1000:\n")
        for name in ("passwd", "group"):
            os.chmod(os.path.join(self.dir, name), 0o600)
        with open(os.path.join(self.dir, "welcome"), "w") as f:
            f.write("hi\n")
        self.n = 0

    def build(self, **lines):
        self.n += 1
        path = os.path.join(self.dir, "c%d.conf" % self.n)
        text = dict(server="", directory="", anonymous="", limit="")
        text.update(lines)
        with open(path, "w") as f:
            f.write(BASE.format(dir=self.dir, **text))
        return load_config(path)

    def model(self, config, model):
        server = config.servers[0]
        return {"server": server, "directory": server.directories[0],
                "anonymous": server.anonymous[0], "limit": server.limits[0]}[model]

    def test_setting_each_directive_changes_the_model(self):
        base = self.build()
        for d in TABLE:
            for model, spec in d.fills:
                line = "%s %s" % (d.name, SAMPLES[d.name].format(dir=self.dir))
                config = self.build(**{model: line})
                defaults = {f.name: f.default for f in dataclasses.fields(MODEL_CLASSES[model])}
                for name in spec.split(","):
                    new = getattr(self.model(config, model), name)
                    default = defaults.get(name)
                    if default is not None and default is not dataclasses.MISSING:
                        # A whole parsed tuple landing in a bool field is a drift too.
                        self.assertIsInstance(new, type(default), "%s.%s" % (model, name))
                    self.assertNotEqual(
                        getattr(self.model(config, model), name),
                        getattr(self.model(base, model), name),
                        "%r in %s leaves %s unchanged" % (line, model, name))

    def test_ignored_contexts_warn(self):
        config = self.build(anonymous="MaxClients 5")
        self.assertTrue([w for w in config.warnings
                         if "MaxClients" in w and "no effect in <Anonymous>" in w],
                        config.warnings)
