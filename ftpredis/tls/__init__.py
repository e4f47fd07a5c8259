"""FTPS (mod_tls): TLS configuration, handshakes and the data channel's session reuse."""
