"""HTTP clients that share one TLS context per process.

httpx builds an SSL context and loads the CA bundle for every ``Client`` it makes (about 30 ms of
CPU each on the reference machine); the suite makes a client per experiment activity, per
check and per command, so it builds the default context once and hands that to every client
that verifies TLS. ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` (httpx reads them when ``trust_env``) are
therefore read once, when the first such client is made.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def default_tls_context(trust_env: bool = True) -> ssl.SSLContext:
    """The context httpx would build for ``verify=True``, built once per process."""
    return httpx.create_ssl_context(trust_env=trust_env)


def new_http_client(
    timeout: float | httpx.Timeout, *, verify_tls: bool = True, trust_env: bool = True
) -> httpx.Client:
    """An ``httpx.Client``; ``verify_tls=False`` accepts any certificate (a target's
    ``elasticsearch.verify_tls: false``), ``trust_env=False`` ignores the shell's proxy
    variables."""
    verify: ssl.SSLContext | bool = default_tls_context(trust_env) if verify_tls else False
    return httpx.Client(timeout=timeout, verify=verify, trust_env=trust_env)
