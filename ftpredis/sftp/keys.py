# -*- test-case-name: tests.test_sftp_config -*-
"""Host keys and authorized user keys, read as mod_sftp reads them.

This module owns loading an ``SFTPHostKey`` file (PEM RSA/ECDSA or OpenSSH format;
refused, as ProFTPD refuses it, when its group or others may read it, unless
``SFTPOptions InsecureHostKeyPerms``) and reading an ``SFTPAuthorizedUserKeys`` file
(RFC 4716 blocks and OpenSSH ``authorized_keys`` lines, mixed) into key blobs.
Reading a user's key file blocks: callers run :func:`authorized_blobs` in the disk pool.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from typing import List, Optional

from twisted.conch.ssh import keys


class HostKeyError(ValueError):
    """An SFTPHostKey file that cannot be used; the text says why."""


def load_host_key(path: str, insecure_perms: bool = False):
    """The private key in ``path`` (a twisted.conch Key); raises HostKeyError."""
    if not os.path.isabs(path):
        raise HostKeyError("must be an absolute path: %s" % (path,))
    try:
        st = os.stat(path)
    except OSError as e:
        raise HostKeyError("unable to check '%s': %s" % (path, e.strerror))
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO) and not insecure_perms:
        # ProFTPD's words (contrib/mod_sftp/mod_sftp.c, set_sftphostkey).
        raise HostKeyError("unable to use '%s' as host key, as it is group- or "
                           "world-accessible" % (path,))
    try:
        key = keys.Key.fromFile(path)
    except (keys.BadKeyError, keys.EncryptedKeyError, OSError, ValueError) as e:
        raise HostKeyError("unable to read host key '%s': %s" % (path, e))
    if key.isPublic():
        raise HostKeyError("'%s' holds a public key; SFTPHostKey needs the private key"
                           % (path,))
    return key


def _openssh_blob(line: str) -> Optional[bytes]:
    """The key blob of one authorized_keys line (options and comment allowed)."""
    words = line.split()
    for i, word in enumerate(words):
        if word.startswith(("ssh-", "ecdsa-", "sk-")) and i + 1 < len(words):
            try:
                return base64.b64decode(words[i + 1], validate=True)
            except (binascii.Error, ValueError):
                return None
    return None


def parse_authorized(text: str) -> List[bytes]:
    """The key blobs of an authorized keys file: RFC 4716 ``---- BEGIN SSH2 PUBLIC KEY
    ----`` blocks (headers and continued lines skipped) and OpenSSH one-line keys."""
    blobs = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("---- BEGIN SSH2 PUBLIC KEY"):
            body = []
            continued = False
            while i < len(lines):
                part = lines[i].strip()
                i += 1
                if part.startswith("---- END SSH2 PUBLIC KEY"):
                    break
                if continued or (":" in part and not body):
                    # A header (RFC 4716 3.3), possibly continued with a trailing "\".
                    continued = part.endswith("\\")
                    continue
                body.append(part)
            try:
                blobs.append(base64.b64decode("".join(body), validate=True))
            except (binascii.Error, ValueError):
                pass
            continue
        blob = _openssh_blob(line)
        if blob is not None:
            blobs.append(blob)
    return blobs


def user_key_paths(templates, user: str) -> List[str]:
    """The files of ``SFTPAuthorizedUserKeys file:...`` for ``user`` (%u filled in)."""
    out = []
    for t in templates:
        if t.startswith("file:"):
            out.append(t[5:].replace("%u", user))
    return out


def authorized_blobs(templates, user: str, home: Optional[str] = None) -> List[bytes]:
    """Blocking: every key blob ``user`` may log in with.  A relative path (``~/...``)
    is under the user's home, as mod_sftp's file keystore reads it."""
    blobs = []
    for path in user_key_paths(templates, user):
        if path.startswith("~/") and home:
            path = os.path.join(home, path[2:])
        try:
            with open(path, "rb") as f:
                text = f.read(1024 * 1024).decode("utf-8", "replace")
        except OSError:
            continue
        blobs.extend(parse_authorized(text))
    return blobs
