# -*- test-case-name: tests.test_compat_tls -*-
"""pyOpenSSL's private names: SSL_session_reused() on an ``SSL.Connection``, and reading
its send BIO into a buffer of our own.

ProFTPD's mod_tls refuses a data connection that does not resume its control
connection's TLS session (unless ``TLSOptions NoSessionReuseRequired``): that check is
what keeps another client from stealing a data connection.  pyOpenSSL (26.4) wraps
neither SSL_session_reused() nor anything that tells a resumed handshake apart, so the
call goes through pyOpenSSL's private cffi binding and the connection's private
``SSL *`` handle.  Both are checked before use: a rename raises :class:`CompatError`
rather than answering "not reused" (or "reused") by accident.

An FTPS download moves every encrypted byte out of the connection's send BIO.
pyOpenSSL's ``bio_read`` allocates a new C buffer and then a new bytes object for each
call: at a MiB a call, fresh memory each time, whose page faults cost about as much as
the encryption (``perf`` on ``bench/ftps_bench.py``).  :func:`bio_reader` reads the
BIO (the connection's private ``_from_ssl``, a ``BIO *``) into one buffer the caller
keeps for the whole transfer, with ``BIO_read`` from the same private binding.

pyOpenSSL also sets ``SSL_MODE_ENABLE_PARTIAL_WRITE`` on every context, so
``SSL_write`` returns after each 16 KiB record and a MiB costs 64 calls through
pyOpenSSL's Python wrapper (0.3 ms of CPU per MiB, as much as the encryption).
:func:`whole_writes` clears that mode on one connection: ``SSL_write`` then writes
all it is given.  That is safe on a memory BIO, which never refuses a write: the only
way an ``SSL_write`` stops early is to ask to read first (a renegotiation), which it
does before writing anything, so a retry with the rest of the data (as Twisted's TLS
layer does) stays valid.

An FTPS upload is the mirror image: pyOpenSSL's ``recv`` allocates a buffer and a bytes
object per 16 KiB record.  :func:`ssl_reader` decrypts records with ``SSL_read``
straight into one buffer the caller keeps (a third less CPU for the decryption step),
and leaves every condition but "no more records for now" (close_notify, an error) for
pyOpenSSL's own ``recv`` to meet again and raise as it does.
"""

from __future__ import annotations

from ftpredis._compat import CompatError, resolve

TESTED_WITH = {"pyOpenSSL": ("23.0.0", "26.4.0")}

PRIVATE_NAMES = (
    ("OpenSSL._util", "ffi"),
    ("OpenSSL._util", "lib.SSL_session_reused"),
    ("OpenSSL._util", "lib.BIO_read"),
    ("OpenSSL._util", "lib.SSL_clear_mode"),
    ("OpenSSL._util", "lib.SSL_MODE_ENABLE_PARTIAL_WRITE"),
    ("OpenSSL._util", "lib.SSL_read"),
    ("OpenSSL._util", "lib.SSL_get_error"),
    ("OpenSSL._util", "lib.SSL_ERROR_WANT_READ"),
)

#: Instance attribute of ``OpenSSL.SSL.Connection`` holding its ``SSL *``.
_HANDLE = "_ssl"
#: ... and the memory BIO OpenSSL writes the connection's outgoing bytes to.
_SEND_BIO = "_from_ssl"


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


def _buffer(size: int):
    """``size`` bytes of C memory, not cleared: pages the transfer never uses are never
    touched (an FTPS listing gets the same buffers as a 1 GiB download)."""
    ffi, _ = _binding()
    global _new
    if _new is None:
        _new = ffi.new_allocator(should_clear_after_alloc=False)
    return _new("char[]", size)


_new = None


def verify_send_bio(conn) -> None:
    """Raise :class:`CompatError` unless ``conn`` (an ``OpenSSL.SSL.Connection`` on
    memory BIOs) holds the ``BIO *`` :func:`bio_reader` reads."""
    ffi, lib = _binding()
    if not hasattr(lib, "BIO_read"):
        raise CompatError("OpenSSL._util.lib.BIO_read is gone: the pyOpenSSL/cryptography "
                          "bindings changed; see ftpredis/_compat")
    bio = getattr(conn, _SEND_BIO, None)
    try:
        ok = bio is not None and ffi.typeof(bio) == ffi.typeof("BIO *") and bio != ffi.NULL
    except TypeError:
        ok = False
    if not ok:
        raise CompatError("%s.%s is not a 'BIO *' any more: pyOpenSSL changed; see "
                          "ftpredis/_compat" % (type(conn).__qualname__, _SEND_BIO))


def bio_reader(conn, size: int):
    """``(buffer, read)``: a buffer of ``size`` bytes and ``read()``, which moves what
    ``conn``'s send BIO holds (at most ``size`` bytes) into it and returns how many
    (0: the BIO is empty).  ``buffer`` supports the buffer protocol (``socket.send``).

    Raises :class:`CompatError` when pyOpenSSL's internals are not the expected ones."""
    verify_send_bio(conn)
    ffi, lib = _binding()
    bio = getattr(conn, _SEND_BIO)
    cbuf = _buffer(size)
    BIO_read = lib.BIO_read

    def read() -> int:
        n = BIO_read(bio, cbuf, size)
        return n if n > 0 else 0
    return ffi.buffer(cbuf), read


def whole_writes(conn) -> None:
    """Make ``SSL_write`` on ``conn`` (on memory BIOs) write all it is given rather than
    one record (see the module docstring).

    Raises :class:`CompatError` when pyOpenSSL's internals are not the expected ones."""
    verify_live(conn)
    verify_send_bio(conn)       # memory BIOs: writes cannot stop half-way
    _, lib = _binding()
    handle = getattr(conn, _HANDLE)
    # SSL_clear_mode returns the connection's modes after the change.
    if lib.SSL_clear_mode(handle, lib.SSL_MODE_ENABLE_PARTIAL_WRITE) \
            & lib.SSL_MODE_ENABLE_PARTIAL_WRITE:
        raise CompatError("SSL_clear_mode did not clear SSL_MODE_ENABLE_PARTIAL_WRITE")


def ssl_reader(conn, size: int):
    """``(buffer, read)``: a buffer of ``size`` bytes and ``read(pos, n)``, which
    decrypts records of ``conn`` into it from ``pos`` (at most ``n`` bytes) and returns
    how many bytes it put there: > 0, 0 when OpenSSL needs more bytes from the peer, or
    -1 for anything else (the peer's close_notify, an error: call ``conn.recv``, which
    meets it again and raises pyOpenSSL's exception).

    Raises :class:`CompatError` when pyOpenSSL's internals are not the expected ones."""
    verify_live(conn)
    ffi, lib = _binding()
    for name in ("SSL_read", "SSL_get_error", "SSL_ERROR_WANT_READ"):
        if not hasattr(lib, name):
            raise CompatError("OpenSSL._util.lib.%s is gone: the pyOpenSSL/cryptography "
                              "bindings changed; see ftpredis/_compat" % name)
    handle = getattr(conn, _HANDLE)
    cbuf = _buffer(size)
    SSL_read, SSL_get_error, want_read = lib.SSL_read, lib.SSL_get_error, \
        lib.SSL_ERROR_WANT_READ

    def read(pos: int, n: int) -> int:
        k = SSL_read(handle, cbuf + pos, min(n, size - pos))
        if k > 0:
            return k
        return 0 if SSL_get_error(handle, k) == want_read else -1
    return ffi.buffer(cbuf), read
