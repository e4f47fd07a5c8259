"""SFTP over SSH2 (mod_sftp's directives) with Twisted conch: ``settings.py`` (the
SFTP config of one server, built from its directives), ``keys.py`` (host keys and
authorized user keys), ``records.py`` (an SSH session's events: mod_sftp's FTP command
names, the same :class:`~ftpredis.records.events.Event` flow as FTP), ``auth.py``
(ssh-userauth: password and publickey over the server's users), ``subsystem.py`` (the
SFTP requests on the jailed file system), ``extensions.py`` (OpenSSH's posix-rename,
statvfs and fstatvfs), ``statuses.py`` (every STATUS answer's code and text, in
mod_sftp's words), ``packets.py`` (requests checked before twisted.conch reads them),
``server.py`` (the SSH factory and transport: algorithms, the connection and the
session channel)."""
