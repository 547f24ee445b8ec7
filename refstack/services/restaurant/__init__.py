"""The reference restaurant services: gateway, orders, users and iot (see refstack/CONTRACT.md)."""
