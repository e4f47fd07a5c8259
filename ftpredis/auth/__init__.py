"""Virtual users (AuthUserFile), the portal, password hashing and ftpredis-passwd."""
