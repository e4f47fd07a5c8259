"""Bans (mod_ban): rules, the shared ban cache and the ftpredis-ban tool."""
