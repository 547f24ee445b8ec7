"""Import Locust without gevent's monkey-patching, so the rest of the test session keeps the
standard library it expects (and no child process inherits the switch)."""

from __future__ import annotations

import os

_previous = os.environ.get("LOCUST_SKIP_MONKEY_PATCH")
os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
try:
    import locust  # noqa: F401
finally:
    if _previous is None:
        del os.environ["LOCUST_SKIP_MONKEY_PATCH"]
    else:
        os.environ["LOCUST_SKIP_MONKEY_PATCH"] = _previous
