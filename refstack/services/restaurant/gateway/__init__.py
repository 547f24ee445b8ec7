"""The API gateway (port 8080): proxies /api/... to orders, users and iot."""
