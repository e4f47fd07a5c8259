"""Everything that talks to Redis: the connection pool, the sink, Sentinel, RedisLog."""
