"""Locust load for the restaurant platform: users, shapes and the request ledger.

Never imports ``assertions``, pytest or allure: the load generator stays apart from judging
and reporting.
"""
