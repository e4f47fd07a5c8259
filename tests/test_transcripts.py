# -*- test-case-name: tests.test_transcripts -*-
"""The ftpredis half of the side-by-side transcripts (tests/support/transcripts.py, reported
by tools/transcripts.py): every lftp and curl run succeeds against a twistd-started
ftpredis and moves its files intact."""

from __future__ import annotations

from twisted.trial import unittest

from tests.support import transcripts


class TranscriptTests(unittest.TestCase):

    def test_ftpredis_half(self):
        runs, error = transcripts.run_server("ftpredis")
        self.assertIsNone(error)
        self.assertEqual([r.client for r in runs], ["lftp"] + ["curl"] * (len(runs) - 1))
        for run in runs:
            self.assertTrue(run.ok, (run.name, run.returncode, run.checks, run.stderr))
            self.assertTrue(run.checks, run.name)
            self.assertEqual(run.dialogue[:2], ["* (connect)", "< 220 example ready"],
                             run.name)
        sent = {c.split()[0].upper() for r in runs for c in r.commands()}
        for verb in ("MLSD", "LIST", "NLST", "REST", "APPE", "STOR", "RETR", "MFMT", "MKD",
                     "RNFR", "RNTO", "SITE", "DELE", "RMD", "PASV", "EPSV", "EPRT", "PORT"):
            self.assertIn(verb, sent)
        # Volatile parts are gone, so two servers' dialogues can be compared line by line.
        text = "\n".join(line for r in runs for line in r.dialogue)
        self.assertIn("227 Entering Passive Mode (<PASV>).", text)
        self.assertIn("> EPRT |1|127.0.0.1|<PORT>|", text)
        self.assertNotIn("/tmp/", text)
        self.assertEqual(transcripts.compare_run(runs[0], runs[0]), [])
