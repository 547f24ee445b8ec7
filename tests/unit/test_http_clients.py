"""chaosgate.http_clients: one TLS context per process, and what verify_tls / trust_env mean."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

from chaosgate.http_clients import default_tls_context, new_http_client
from refstack.launcher.k8s_pki import ensure_pki
from tests.support.servers import QuickStopHTTPServer


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HTTPServer, Path]]:
    """An HTTPS server on 127.0.0.1 whose certificate a private CA signed (its file returned)."""
    pki = ensure_pki(tmp_path_factory.mktemp("pki"), service_ip="10.96.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.serving_cert, pki.serving_key)
    server = QuickStopHTTPServer(host="127.0.0.1", ssl_context=context)
    server.expect_request("/").respond_with_data("ok")
    server.start()
    yield server, pki.ca_cert
    server.stop()


def test_clients_share_the_context_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[bool] = []

    def counting(*, trust_env: bool = True) -> ssl.SSLContext:
        built.append(trust_env)
        return ssl.create_default_context()

    default_tls_context.cache_clear()
    monkeypatch.setattr(httpx, "create_ssl_context", counting)
    try:
        for _ in range(3):
            new_http_client(1.0).close()
        new_http_client(1.0, trust_env=False).close()
        new_http_client(1.0, verify_tls=False).close()
    finally:
        default_tls_context.cache_clear()
    assert built == [True, False]


def test_an_untrusted_certificate_is_refused_unless_verify_tls_is_off(
    tls_server: tuple[HTTPServer, Path],
) -> None:
    server, _ca = tls_server
    url = server.url_for("/")
    with new_http_client(5.0) as client, pytest.raises(httpx.ConnectError, match="CERTIFICATE"):
        client.get(url)
    with new_http_client(5.0, verify_tls=False) as client:
        assert client.get(url).text == "ok"


def test_ssl_cert_file_is_honoured_when_the_first_client_is_made(
    tls_server: tuple[HTTPServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, ca = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    default_tls_context.cache_clear()
    try:
        with new_http_client(5.0) as client:
            assert client.get(server.url_for("/")).text == "ok"
        with new_http_client(5.0, trust_env=False) as client, pytest.raises(httpx.ConnectError):
            client.get(server.url_for("/"))
    finally:
        default_tls_context.cache_clear()
