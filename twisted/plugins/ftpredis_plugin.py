from twisted.application.service import ServiceMaker

ftpredis = ServiceMaker("ftpredis", "ftpredis.app.tap", "FTP server that logs FTP events to Redis, configured like ProFTPD", "ftpredis")
