"""The service's own TLS: wss:// and https:// with a passphrase-protected private key."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from websockets.exceptions import InvalidMessage

import remoteviz as rv
from remoteviz import client
from remoteviz.protocol import Codec

from ..certificates import Certificate, make_certificate
from .harness import Recorder, pattern, running_service

PASSPHRASE = "correct horse battery staple"


class Passphrase(Recorder):
    """Records callbacks and answers the private key's passphrase."""

    def __init__(self, passphrase: str) -> None:
        super().__init__()
        self.passphrase = passphrase

    def on_requested_private_key_passphrase(self) -> str:
        self.log.append(("on_requested_private_key_passphrase",))
        return self.passphrase


@pytest.fixture
def encrypted(tmp_path: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 whose key is encrypted with PASSPHRASE."""
    certificate = make_certificate(tmp_path, PASSPHRASE)
    assert b"ENCRYPTED PRIVATE KEY" in certificate.private_key_path.read_bytes()
    return certificate


def secure_service(listener: rv.ServiceListener, certificate: Certificate):
    return running_service(listener, certificate_path=str(certificate.certificate_path),
                           private_key_path=str(certificate.private_key_path))


def test_a_python_client_gets_exact_frames_over_wss_with_an_encrypted_key(encrypted: Certificate) -> None:
    listener = Passphrase(PASSPHRASE)

    async def scenario(port: int):
        url = f"wss://127.0.0.1:{port}/Secure?width=96&height=64"
        async with client.connect(url, ssl=encrypted.client_context()) as view:
            return await view.next_frame()

    with secure_service(listener, encrypted) as runner:
        frame = asyncio.run(scenario(runner.service.port))
    assert frame.codec is Codec.PNG and frame.is_still
    np.testing.assert_array_equal(frame.image, pattern(96, 64, 1))
    assert listener.log.count(("on_requested_private_key_passphrase",)) == 1
    assert ("on_pending_create_render_area", "Secure", 96, 64) in listener.log


def test_https_health_and_plain_ws_refused_on_the_secure_port(encrypted: Certificate) -> None:
    async def plain(port: int) -> None:
        async with client.connect(f"ws://127.0.0.1:{port}/Secure", timeout=5):
            pass

    with secure_service(Passphrase(PASSPHRASE), encrypted) as runner:
        port = runner.service.port
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/health", timeout=10,
                                    context=encrypted.client_context()) as response:
            assert response.status == 200 and response.read() == b"ok\n"
        # A client speaking plain WebSocket to the TLS port gets no WebSocket.
        with pytest.raises((InvalidMessage, ConnectionError, EOFError, OSError)):
            asyncio.run(plain(port))
        # A client that does not trust the certificate refuses it: this is real TLS, not a stub.
        with pytest.raises(ssl.SSLCertVerificationError), \
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")
        assert runner.service.num_clients == 0


@pytest.mark.parametrize("answer", ["", "wrong passphrase"])
def test_a_wrong_passphrase_fails_open_and_says_why(encrypted: Certificate, answer: str,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    service, wrong = rv.Service(), Passphrase(answer)
    service.add_listener(wrong)
    settings = rv.ServiceSettings(host="127.0.0.1", port=0, run_mode=rv.RunMode.INDEPENDENT_SERVICE)
    settings.enable_secure_connection(str(encrypted.certificate_path), str(encrypted.private_key_path))
    with caplog.at_level(logging.ERROR, logger="remoteviz"):
        assert not service.open(settings)
    assert not service.is_open and service.port == 0
    assert any("cannot open" in record.getMessage() for record in caplog.records), caplog.text
    # Nothing was left listening: the same service opens once the passphrase is right.
    service.remove_listener(wrong)
    service.add_listener(Passphrase(PASSPHRASE))
    assert service.open(settings)
    try:
        with socket.create_connection(("127.0.0.1", service.port), timeout=5):
            pass
    finally:
        service.close()
