"""ftpredis: an FTP server on Twisted that speaks ProFTPD's configuration language and
appends every FTP event it is told to watch to a Redis list, as ProFTPD's mod_redis does.

Data flows one way: socket -> protocol (:mod:`ftpredis.ftp.protocol`) -> immutable event
(:mod:`ftpredis.records.events`) -> router (:mod:`ftpredis.records.router`) -> compiled LogFormat
(:mod:`ftpredis.records.logformat`) -> sink (:mod:`ftpredis.redis.sink`) -> Redis.
"""

__version__ = "0.1.0"
