# -*- test-case-name: tests.test_conformance_scoping -*-
"""Conformance: <Global>, <VirtualHost>, <Directory> scoping and none pruning.

Each test runs a scenario of ``tests/support/scenarios.py`` (same config body, same ftplib
script) against ftpredis in-process with a private redis-server, and compares every
record, byte for byte after pinning clocks, pids, ports, temp paths and the daemon's own
uid (their formats are checked first, see :mod:`tests.conformance`).  The expected
records are what ProFTPD 1.3.8 + mod_redis wrote for the same session (``python3
tools/compare_proftpd.py SCENARIO -v``), except where a comment cites doc/decisions.rst.
"""

from twisted.internet import defer

from tests.support.conformance import ScenarioCase


class ScopingTests(ScenarioCase):

    @defer.inlineCallbacks
    def test_directory_rules(self):
        """RedisLogOnCommand in <Directory> blocks (real paths under DefaultRoot), also via
        CWD + relative names; "none" in a subdirectory silences it."""
        got = yield self.runScenario("per_dir")
        self.assertRecords(got, PER_DIR)

    @defer.inlineCallbacks
    def test_per_dir_none(self):
        """Upstream's redis_log_on_command_per_dir_none config.  Its test expects 0 records;
        the real ProFTPD 1.3.8 writes 1 (the PWD in the home directory), so do we."""
        got = yield self.runScenario("per_dir_none")
        self.assertRecords(got, PER_DIR_NONE)

    @defer.inlineCallbacks
    def test_per_dir_none_under_root(self):
        """Upstream's per_dir_none2: <Directory /> logs, <Directory test.d> none."""
        got = yield self.runScenario("per_dir_none_root")
        self.assertRecords(got, PER_DIR_NONE_ROOT)

    @defer.inlineCallbacks
    def test_global_and_virtual_host(self):
        """Rules in <Global> log for the main server and a <VirtualHost> on a second port;
        a server-level rule only for the main server, and before the <Global> one."""
        got = yield self.runScenario("vhost")
        self.assertRecords(got, VHOST)

    @defer.inlineCallbacks
    def test_anonymous(self):
        """<Anonymous>: %A and the mapped user from PASS on, real paths under the anon root;
        a rule inside the block logs the anonymous session only."""
        got = yield self.runScenario("anonymous")
        self.assertRecords(got, ANONYMOUS)

    @defer.inlineCallbacks
    def test_rules_directly_in_virtual_host(self):
        """LogFormat and RedisLogOnCommand written inside <VirtualHost> work (and the
        vhost's format is visible only there); ProFTPD 1.3.8 refuses this config
        (doc/decisions.rst, "Format names and virtual hosts")."""
        got = yield self.runScenario("vhost_direct")
        self.assertRecords(got, {
            "mainf": ['{"command":"PWD","server_name":"example"}'],
            "vh.ftpuser": ['{"command":"PWD","server_name":"vhost-two","user":"ftpuser"}'],
        })


PER_DIR = {
    'inbox': [
        '{"command":"STOR","file":"<BASE>/home/ftpuser/inbox/x.txt","response_code":226}',
        '{"command":"STOR","file":"<BASE>/home/ftpuser/inbox/y.txt","response_code":226}',
    ],
    'pub': [
        '{"command":"RETR","file":"<BASE>/home/ftpuser/pub/a.txt","response_code":226}',
        '{"command":"PWD","file":"<BASE>/home/ftpuser/pub","response_code":257}',
    ],
}


PER_DIR_NONE = {
    'd': [
        '{"command":"PWD","file":"<BASE>/home/ftpuser/","dir_name":"/"}',
    ],
}


PER_DIR_NONE_ROOT = {
    'd': [
        '{"command":"PWD","file":"<BASE>/home/ftpuser/","dir_name":"/"}',
    ],
}


VHOST = {
    'main_only': [
        '{"command":"PWD","server_name":"example","local_port":"<PORT>","server_ip":"127.0.0.1","local_ip":"127.0.0.1","user":"ftpuser"}',
    ],
    'v': [
        '{"command":"USER","server_name":"example","local_port":"<PORT>","server_ip":"127.0.0.1","local_ip":"127.0.0.1"}',
        '{"command":"PWD","server_name":"example","local_port":"<PORT>","server_ip":"127.0.0.1","local_ip":"127.0.0.1","user":"ftpuser"}',
        '{"command":"USER","server_name":"vhost-two","local_port":"<PORT>","server_ip":"127.0.0.1","local_ip":"127.0.0.1"}',
        '{"command":"PWD","server_name":"vhost-two","local_port":"<PORT>","server_ip":"127.0.0.1","local_ip":"127.0.0.1","user":"ftpuser"}',
    ],
}


ANONYMOUS = {
    'a': [
        '{"command":"PASS","user":"ftpanon","original_user":"anonymous","anon_password":"guest@example.com","response_code":230}',
        '{"command":"PWD","user":"ftpanon","original_user":"anonymous","anon_password":"guest@example.com","file":"<BASE>/anon/","response_code":257}',
        '{"command":"PASS","user":"ftpuser","original_user":"ftpuser","response_code":230}',
        '{"command":"PWD","user":"ftpuser","original_user":"ftpuser","file":"<BASE>/home/ftpuser/","response_code":257}',
    ],
    'anon_only': [
        '{"command":"PWD","user":"ftpanon","original_user":"anonymous","anon_password":"guest@example.com","file":"<BASE>/anon/","response_code":257}',
        '{"command":"RETR","user":"ftpanon","original_user":"anonymous","anon_password":"guest@example.com","file":"<BASE>/anon/pub.txt","response_code":226}',
    ],
}
