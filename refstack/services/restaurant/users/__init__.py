"""The user service (port 8082)."""
