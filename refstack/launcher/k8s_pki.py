"""The local cluster's credentials: a CA, a serving certificate, the service-account key pair and
bearer tokens, written once under ``.stack/k8s/pki`` and reused by every later ``stack up``.

Why not the API server's own self-signed certificate (``--cert-dir``): it exists only after the
API server has started once, so kubeconfigs, the controller-manager, the scheduler and the health
checks would all have to wait for it; with our own CA every file is written before any process
starts, and the controller-manager and scheduler serve the same certificate, so one CA file
verifies all three. The keys use the ``cryptography`` library; nothing here is hand-rolled crypto.

The node agent's kubelet API (:mod:`refstack.node.kubelet_api`, for ``kubectl logs``) serves
the same certificate too: it names 127.0.0.1, the node's address, so the API server's
``--kubelet-certificate-authority`` is this CA. The API server authenticates to it with a client
certificate of its own (``apiserver-kubelet-client.crt``, CN ``kube-apiserver-kubelet-client``),
and the node answers only clients whose certificate this CA signed. The CA key is kept
(``ca.key``, 0600) so that a certificate added later can be signed without a new CA; a directory
written before it was kept gets a new CA and serving certificate once, when the client
certificate is first needed (the kubeconfigs name the CA file, so they follow).

Authentication is by static bearer token (``--token-auth-file``): an ``admin`` token in
``system:masters`` for users (kubectl, chaosk8s), the built-in ``system:kube-controller-manager``
and ``system:kube-scheduler`` identities (bound by the API server's default RBAC), one token
for the node agent and service proxy and one for Prometheus' pod discovery (both
``system:masters``: they act on every namespace of a single-user local cluster).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["TOKEN_USERS", "ClusterPki", "ensure_pki"]

# user name -> (uid, groups) for the token file; the key is also the token file's row name
TOKEN_USERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("chaosgate-admin", ("system:masters",)),
    "system:kube-controller-manager": ("chaosgate-kcm", ()),
    "system:kube-scheduler": ("chaosgate-scheduler", ()),
    "system:node:chaosgate": ("chaosgate-node", ("system:masters",)),
    # Prometheus' pod discovery lists and watches pods in every namespace
    "prometheus": ("chaosgate-prometheus", ("system:masters",)),
}
_VALID_DAYS = 3650


@dataclass(frozen=True)
class ClusterPki:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def kubelet_client_cert(self) -> Path:
        """The API server's client certificate for the kubelet API."""
        return self.directory / "apiserver-kubelet-client.crt"

    @property
    def kubelet_client_key(self) -> Path:
        return self.directory / "apiserver-kubelet-client.key"

    @property
    def serving_cert(self) -> Path:
        return self.directory / "serving.crt"

    @property
    def serving_key(self) -> Path:
        return self.directory / "serving.key"

    @property
    def sa_key(self) -> Path:
        return self.directory / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.directory / "sa.pub"

    @property
    def token_file(self) -> Path:
        return self.directory / "tokens.csv"

    def token_file_of(self, user: str) -> Path:
        """A file holding only ``user``'s token (for programs that read a bearer token file)."""
        path = self.directory / f"{user.replace(':', '-')}.token"
        if not path.is_file():
            _write_private(path, self.token(user).encode())
        return path

    def token(self, user: str) -> str:
        """The bearer token of ``user`` (one of TOKEN_USERS) from the token file."""
        for line in self.token_file.read_text().splitlines():
            token, name, *_rest = line.split(",")
            if name == user:
                return token
        raise KeyError(f"no token for {user!r} in {self.token_file}")


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    os.chmod(path, 0o600)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue_ca(pki: ClusterPki) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("chaosgate-local-ca"))
        .issuer_name(_name("chaosgate-local-ca"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _issue_serving(
    ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, service_ip: str
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [
        x509.DNSName(name)
        for name in (
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        )
    ]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", service_ip)]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("kube-apiserver"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _issue_client(
    ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, common_name: str
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _ensure_certificates(pki: ClusterPki, service_ip: str) -> None:
    """The CA, the serving and the kubelet client certificate: what is missing is issued;
    without the CA's key every one of them is issued anew."""
    wanted = (
        pki.ca_cert,
        pki.ca_key,
        pki.serving_cert,
        pki.serving_key,
        pki.kubelet_client_cert,
        pki.kubelet_client_key,
    )
    if all(path.is_file() for path in wanted):
        return
    new_ca = not (pki.ca_cert.is_file() and pki.ca_key.is_file())
    if new_ca:
        ca_key, ca_cert = _issue_ca(pki)
        _write_private(pki.ca_key, _pem_key(ca_key))
        _write_cert(pki.ca_cert, ca_cert)
    else:
        ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
        loaded = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        ca_key = loaded
    if new_ca or not (pki.serving_cert.is_file() and pki.serving_key.is_file()):
        key, cert = _issue_serving(ca_key, ca_cert, service_ip)
        _write_private(pki.serving_key, _pem_key(key))
        _write_cert(pki.serving_cert, cert)
    if new_ca or not (pki.kubelet_client_cert.is_file() and pki.kubelet_client_key.is_file()):
        key, cert = _issue_client(ca_key, ca_cert, "kube-apiserver-kubelet-client")
        _write_private(pki.kubelet_client_key, _pem_key(key))
        _write_cert(pki.kubelet_client_cert, cert)


def ensure_pki(directory: Path, *, service_ip: str) -> ClusterPki:
    """Write whatever is missing of the CA, the serving and kubelet client certificates, the SA
    keys and tokens; return their paths.

    ``service_ip`` is the ``kubernetes`` Service's ClusterIP (first address of the service
    range), named in the serving certificate as a real cluster's is.
    """
    pki = ClusterPki(directory)
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    _ensure_certificates(pki, service_ip)
    if not (pki.sa_key.is_file() and pki.sa_pub.is_file()):
        sa_key = _key()
        _write_private(pki.sa_key, _pem_key(sa_key))
        pki.sa_pub.write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    if not pki.token_file.is_file():
        rows = []
        for user, (uid, groups) in TOKEN_USERS.items():
            row = [secrets.token_urlsafe(32), user, uid]
            if groups:
                row.append('"' + ",".join(groups) + '"')
            rows.append(",".join(row))
        _write_private(pki.token_file, ("\n".join(rows) + "\n").encode())
    return pki
