"""FTP events, the rules that route them, and LogFormat rendering to JSON."""
