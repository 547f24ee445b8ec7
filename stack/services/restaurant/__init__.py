"""The reference restaurant services: gateway, orders, users and iot (see stack/CONTRACT.md)."""
