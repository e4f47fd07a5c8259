# -*- test-case-name: tests.test_sftp_packets -*-
"""How ftpredis.sftp.packets reads SFTP v3 requests before twisted.conch sees them."""

import struct

from twisted.trial import unittest

from ftpredis.sftp import packets

_u32, _u64 = struct.Struct(">I").pack, struct.Struct(">Q").pack
RID = _u32(7)


def _str(data):
    return _u32(len(data)) + data


class ParseTests(unittest.TestCase):
    def test_whole_requests(self):
        read = RID + _str(b"h1") + _u64(0) + _u32(10)
        self.assertEqual(packets.parse(5, read), (b"h1", len(read)))
        attrs = (_u32(1 | 2 | 4 | 8 | 0x80000000) + b"\0" * 28 + _u32(1) + _str(b"t")
                 + _str(b""))
        opened = RID + _str(b"a.txt") + _u32(1) + attrs
        self.assertEqual(packets.parse(3, opened), (None, len(opened)))
        ext = RID + _str(b"limits@openssh.com") + b"anything"
        self.assertEqual(packets.parse(200, ext), (None, len(ext)))
        # An offered extension's fields are read as a request's.
        ext = RID + _str(b"posix-rename@openssh.com") + _str(b"a") + _str(b"b")
        self.assertEqual(packets.parse(200, ext + b"extra"), (None, len(ext)))
        ext = RID + _str(b"fstatvfs@openssh.com") + _str(b"h1")
        self.assertEqual(packets.parse(200, ext), (b"h1", len(ext)))

    def test_extra_bytes_left_out(self):
        stat = RID + _str(b"a.txt")
        self.assertEqual(packets.parse(17, stat + b"extra"), (None, len(stat)))

    def test_cut_short(self):
        for kind, data in ((3, RID + _str(b"a.txt") + _u32(1) + _u32(1)),
                           (3, RID + _str(b"a.txt")),
                           (5, RID + _str(b"h") + _u64(0)),
                           (6, RID + _str(b"h") + _u64(0) + _u32(5) + b"abc"),
                           (17, RID + _u32(100) + b"a.txt"),
                           (14, RID + _str(b"d") + _u32(0x80000000) + _u32(2) + _str(b"x")),
                           (18, RID + _str(b"a")),
                           (200, RID + _str(b"posix-rename@openssh.com") + _str(b"a")),
                           (200, RID + _str(b"statvfs@openssh.com")),
                           (17, RID)):
            self.assertRaises(packets.Malformed, packets.parse, kind, data)

    def test_nul_in_a_path(self):
        self.assertRaises(packets.Malformed, packets.parse, 17, RID + _str(b"a\0b"))
        self.assertRaises(packets.Malformed, packets.parse, 18,
                          RID + _str(b"a") + _str(b"b\0"))
        self.assertRaises(packets.Malformed, packets.parse, 200,
                          RID + _str(b"statvfs@openssh.com") + _str(b"/\0"))
        # Written data and handles may hold any byte.
        write = RID + _str(b"h\0") + _u64(0) + _str(b"\0\0")
        self.assertEqual(packets.parse(6, write), (b"h\0", len(write)))

    def test_init(self):
        init = _u32(3) + _str(b"ext") + _str(b"data")
        self.assertEqual(packets.parse_init(init), len(init))
        self.assertRaises(packets.Malformed, packets.parse_init, b"\0\0")
        self.assertRaises(packets.Malformed, packets.parse_init, _u32(3) + _str(b"ext"))
