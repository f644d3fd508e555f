"""TLS on the service's own port (``wss://``, ``https://``): the server context from the settings'
certificate and key. For production, nginx in front terminates TLS instead (``docs/deployment.md``)."""

from __future__ import annotations

import ssl
from collections.abc import Callable

from .settings import ServiceSettings


def server_context(settings: ServiceSettings, passphrase: Callable[[], str]) -> ssl.SSLContext | None:
    """A TLS 1.2+ server context from ``settings``' certificate and key, or None for plain ``ws://``.

    ``passphrase`` is asked only for an encrypted key. Raises ``OSError`` or ``ssl.SSLError`` when
    the certificate or the key does not load.
    """
    if not settings.is_secure:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    assert settings.certificate_path is not None  # is_secure
    context.load_cert_chain(settings.certificate_path, settings.private_key_path, password=passphrase)
    return context
