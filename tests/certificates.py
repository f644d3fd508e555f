"""Self-signed TLS certificates made in the tests, for wss:// and https:// on loopback."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Certificate:
    """A certificate and its private key as PEM files; ``passphrase`` is empty for a plain key."""

    certificate_path: Path
    private_key_path: Path
    passphrase: str = ""

    def client_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts this certificate alone and checks the host name."""
        return ssl.create_default_context(cafile=str(self.certificate_path))


def make_certificate(directory: Path, passphrase: str = "", name: str = "localhost") -> Certificate:
    """A self-signed certificate for ``localhost`` and 127.0.0.1, valid for a day, in ``directory``.

    With a ``passphrase`` the private key is written encrypted (PKCS#8, AES-256), as an operator's
    key protected at rest would be.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())
    directory.mkdir(parents=True, exist_ok=True)
    certificate_path = directory / f"{name}.crt"
    private_key_path = directory / f"{name}.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private_key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    private_key_path.chmod(0o600)
    return Certificate(certificate_path, private_key_path, passphrase)
