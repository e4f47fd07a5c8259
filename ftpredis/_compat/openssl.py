# -*- test-case-name: tests.test_compat_tls -*-
"""pyOpenSSL's private names: SSL_session_reused() on an ``SSL.Connection``.

ProFTPD's mod_tls refuses a data connection that does not resume its control
connection's TLS session (unless ``TLSOptions NoSessionReuseRequired``): that check is
what keeps another client from stealing a data connection.  pyOpenSSL (26.4) wraps
neither SSL_session_reused() nor anything that tells a resumed handshake apart, so the
call goes through pyOpenSSL's private cffi binding and the connection's private
``SSL *`` handle.  Both are checked before use: a rename raises :class:`CompatError`
rather than answering "not reused" (or "reused") by accident.
"""

from __future__ import annotations

from ftpredis._compat import CompatError, resolve

TESTED_WITH = {"pyOpenSSL": ("23.0.0", "26.4.0")}

PRIVATE_NAMES = (
    ("OpenSSL._util", "ffi"),
    ("OpenSSL._util", "lib.SSL_session_reused"),
)

#: Instance attribute of ``OpenSSL.SSL.Connection`` holding its ``SSL *``.
_HANDLE = "_ssl"


def _binding():
    return resolve("OpenSSL._util", "ffi"), resolve("OpenSSL._util", "lib")


def verify_live(conn) -> None:
    """Raise :class:`CompatError` unless ``conn`` (an ``OpenSSL.SSL.Connection``) holds
    the ``SSL *`` handle :func:`session_reused` passes to OpenSSL."""
    ffi, lib = _binding()
    if not hasattr(lib, "SSL_session_reused"):
        raise CompatError("OpenSSL._util.lib.SSL_session_reused is gone: the "
                          "pyOpenSSL/cryptography bindings changed; see ftpredis/_compat")
    handle = getattr(conn, _HANDLE, None)
    try:
        ok = handle is not None and ffi.typeof(handle) == ffi.typeof("SSL *")
    except TypeError:           # not a cffi object at all
        ok = False
    if not ok:
        raise CompatError("%s.%s is not an 'SSL *' any more: pyOpenSSL changed; see "
                          "ftpredis/_compat" % (type(conn).__qualname__, _HANDLE))


def session_reused(conn) -> bool:
    """Whether ``conn``'s handshake resumed a session (SSL_session_reused()).

    Raises :class:`CompatError` when pyOpenSSL's internals are not the expected ones.
    """
    verify_live(conn)
    _, lib = _binding()
    return bool(lib.SSL_session_reused(getattr(conn, _HANDLE)))
