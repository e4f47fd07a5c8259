# -*- test-case-name: tests.test_proxy -*-
"""The PROXY protocol (HAProxy's, versions 1 and 2) in front of any TCP protocol, as
ProFTPD's mod_proxy_protocol reads it: :mod:`~ftpredis.proxy.header` (the header, its
limits and its TLVs) and :mod:`~ftpredis.proxy.wrapper` (the wrapping factory that reads
the header before the wrapped protocol sees the connection).  Nothing here knows FTP.
"""
