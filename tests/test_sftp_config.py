# -*- test-case-name: tests.test_sftp_config -*-
"""mod_sftp's directives: host keys (formats, permissions), SFTPAuthMethods,
SFTPAuthorizedUserKeys files, algorithm names, the directives accepted with a warning,
and ``<IfModule mod_sftp.c>``."""

import os
import subprocess

from ftpredis.sftp import keys
from tests.test_config import _Base


def _keygen(path, kind, *extra):
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", path] + list(extra),
                   check=True, stdout=subprocess.DEVNULL)


class HostKeyTests(_Base):

    def key(self, kind, *extra, mode=0o600):
        path = os.path.join(self.dir, "hk_" + kind + "_" + "_".join(extra).strip("-"))
        _keygen(path, kind, *extra)
        os.chmod(path, mode)
        return path

    def test_formats(self):
        """PEM RSA, PEM ECDSA and OpenSSH-format keys, every one served."""
        paths = [self.key("rsa", "-b", "2048", "-m", "PEM"), self.key("ecdsa", "-m", "PEM"),
                 self.key("ed25519")]
        text = "SFTPEngine on\n" + "".join("SFTPHostKey %s\n" % p for p in paths)
        sftp = self.main(text).sftp
        self.assertTrue(sftp.engine)
        self.assertEqual([k.type for k in sftp.host_keys],
                         [b"ssh-rsa", b"ecdsa-sha2-nistp256", b"ssh-ed25519"])

    def test_readable_key_refused(self):
        path = self.key("rsa", "-b", "2048", "-m", "PEM", mode=0o640)
        self.assertEqual(
            self.error("SFTPEngine on\nSFTPHostKey %s\n" % path),
            "SFTPHostKey: unable to use '%s' as host key, as it is group- or "
            "world-accessible %s" % (path, self.where(2)))
        # ProFTPD's way out, SFTPOptions InsecureHostKeyPerms (before or after).
        sftp = self.main("SFTPEngine on\nSFTPHostKey %s\nSFTPOptions InsecureHostKeyPerms\n"
                         % path).sftp
        self.assertEqual(len(sftp.host_keys), 1)

    def test_engine_needs_a_key(self):
        self.assertIn("no SFTPHostKey configured", self.error("SFTPEngine on\n"))

    def test_missing_and_public_key(self):
        path = self.key("rsa", "-b", "2048", "-m", "PEM")
        os.chmod(path + ".pub", 0o600)
        self.assertIn("holds a public key",
                      self.error("SFTPEngine on\nSFTPHostKey %s.pub\n" % path))
        self.assertIn("unable to check '/nonexistent': No such file or directory",
                      self.error("SFTPEngine on\nSFTPHostKey /nonexistent\n"))


class DirectiveTests(_Base):

    def test_auth_methods(self):
        sftp = self.main("SFTPAuthMethods publickey+password password\n").sftp
        self.assertEqual(sftp.auth_methods, (("publickey", "password"), ("password",)))
        self.assertIn("authentication method 'keyboard-interactive' is not provided",
                      self.error("SFTPAuthMethods keyboard-interactive\n"))
        self.assertIn("unsupported authentication method 'bogus'",
                      self.error("SFTPAuthMethods bogus\n"))

    def test_algorithms(self):
        sftp = self.main("SFTPCiphers aes128-ctr aes256-ctr\nSFTPDigests hmac-sha2-256\n"
                         "SFTPKeyExchanges curve25519-sha256\nSFTPCompression off\n"
                         "SFTPMaxChannels 2\n").sftp
        self.assertEqual(sftp.ciphers, (b"aes128-ctr", b"aes256-ctr"))
        self.assertEqual(sftp.digests, (b"hmac-sha2-256",))
        self.assertEqual(sftp.key_exchanges, (b"curve25519-sha256",))
        self.assertEqual((sftp.compression, sftp.max_channels), ("off", 2))
        self.assertIn("unsupported cipher 'chacha20-poly1305@openssh.com'",
                      self.error("SFTPCiphers chacha20-poly1305@openssh.com\n"))

    def test_authorized_keys_store(self):
        self.assertEqual(self.main("SFTPAuthorizedUserKeys file:/k/%u\n").sftp
                         .authorized_user_keys, ("file:/k/%u",))
        self.assertIn("unsupported key store 'sql:/x'",
                      self.error("SFTPAuthorizedUserKeys sql:/x\n"))

    def test_others_warned(self):
        config = self.load("SFTPRekey none\nSFTPOptions IgnoreSFTPSetOwners\n"
                           "SFTPClientMatch \".*PuTTY.*\" channelWindowSize 1MB\n")
        warnings = "\n".join(config.warnings)
        self.assertIn("SFTPRekey", warnings)
        self.assertIn("SFTPOptions: option 'IgnoreSFTPSetOwners' has no effect", warnings)
        self.assertEqual(config.servers[0].sftp.client_match[0].channel_window, 1 << 20)

    def test_ifmodule(self):
        self.assertEqual(self.main("<IfModule mod_sftp.c>\nPort 2222\n</IfModule>\n").port,
                         2222)

    def test_every_mod_sftp_directive_known(self):
        """mod_sftp 1.3.8's conftab (contrib/mod_sftp/mod_sftp.c): every directive is
        either served or accepted with a warning, none is unknown."""
        names = """SFTPAcceptEnv SFTPAuthMethods SFTPAuthorizedHostKeys
            SFTPAuthorizedUserKeys SFTPCiphers SFTPClientAlive SFTPClientMatch
            SFTPCompression SFTPCryptoDevice SFTPDHParamFile SFTPDigests
            SFTPDisplayBanner SFTPEngine SFTPExtensions SFTPHostKey SFTPHostKeys
            SFTPKeyBlacklist SFTPKeyExchanges SFTPKeyLimits SFTPLog SFTPMaxChannels
            SFTPOptions SFTPPassPhraseProvider SFTPRekey SFTPTrafficPolicy""".split()
        from ftpredis.config.directives import BY_NAME
        self.assertEqual([n for n in names if n.lower() not in BY_NAME], [])


class AuthorizedKeysTests(_Base):

    def test_both_formats(self):
        a, b = os.path.join(self.dir, "a"), os.path.join(self.dir, "b")
        _keygen(a, "ed25519")
        _keygen(b, "rsa", "-b", "2048")
        rfc = subprocess.run(["ssh-keygen", "-e", "-f", b + ".pub"], check=True,
                             stdout=subprocess.PIPE).stdout.decode()
        text = "# comment\n" + 'from="127.0.0.1" ' + open(a + ".pub").read() + rfc
        path = self.write(text, "keys/ftpuser")
        blobs = keys.authorized_blobs(["file:" + self.dir + "/keys/%u"], "ftpuser")
        from twisted.conch.ssh.keys import Key
        self.assertEqual(blobs, [Key.fromFile(a + ".pub").blob(),
                                 Key.fromFile(b + ".pub").blob()])
        self.assertEqual(keys.authorized_blobs(["file:" + path + "x"], "ftpuser"), [])


