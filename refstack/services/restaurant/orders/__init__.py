"""The order service (port 8081)."""
