"""Helpers every test suite shares (unit, integration, bench): waiting, fake time, servers."""
