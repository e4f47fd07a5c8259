# -*- test-case-name: tests.test_compat_conch -*-
"""The SFTP handle shim (ftpredis._compat.conch_sftp) still finds twisted.conch's open
handles where ftpredis.sftp.server looks for them."""

from twisted.conch.ssh import filetransfer
from twisted.trial import unittest

from ftpredis import _compat
from ftpredis._compat import conch_sftp
from ftpredis.sftp.subsystem import SFTPFiles


class ConchSFTPTests(unittest.TestCase):
    def server(self):
        # SFTPFiles only stores what it is given: an avatar of nothing but names.
        class Recorder:
            fs = type("FS", (), {"jail": None})()
            avatar = type("Avatar", (), {"name": "u", "group": None})()

        class Conn:
            server = None
            recorder = Recorder()
        return filetransfer.FileTransferServer(avatar=SFTPFiles(Conn()))

    def test_live_server(self):
        server = self.server()
        conch_sftp.verify_live(server)
        self.assertEqual(conch_sftp.open_files(server), {})
        self.assertEqual(conch_sftp.open_directories(server), {})
        server.openFiles[b"1"] = "f"
        server.openDirs[b"2"] = ["d", iter(())]
        self.assertEqual(list(conch_sftp.open_files(server)), [b"1"])
        self.assertEqual(list(conch_sftp.open_directories(server)), [b"2"])

    def test_verify_live_refuses_other_objects(self):
        e = self.assertRaises(_compat.CompatError, conch_sftp.verify_live, object())
        self.assertIn("openFiles", str(e))
