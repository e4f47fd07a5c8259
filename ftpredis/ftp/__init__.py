"""The FTP server: Twisted's FTP protocol with the session, commands, transfers and file system."""
