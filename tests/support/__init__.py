"""Helpers shared by the test modules: real servers on free loopback ports, FTP fixtures,
the ProFTPD comparison machinery and waiting on conditions."""
