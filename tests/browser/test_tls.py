"""HelloCone over the service's own TLS in Chromium: the page from https://, the stream over wss://,
the private key encrypted and its passphrase given by ``on_requested_private_key_passphrase``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

import remoteviz as rv

from ..certificates import make_certificate
from .conftest import ConeService, running_cone
from .helpers import assert_a_drag_turns_the_cone, record, wait_first_frame

PASSPHRASE = "cone over tls"


class Passphrase(rv.ServiceListener):
    def on_requested_private_key_passphrase(self) -> str:
        return PASSPHRASE


@pytest.fixture
def secure_cone(cone: ConeService, tmp_path: Path) -> Iterator[ConeService]:
    """HelloCone on https:// and wss:// with a self-signed certificate and an encrypted key."""
    cone.wait_cone_disposed()  # one OpenGL context per process: the shared HelloCone is idle
    certificate = make_certificate(tmp_path, PASSPHRASE)
    with running_cone(Passphrase(), certificate_path=str(certificate.certificate_path),
                      private_key_path=str(certificate.private_key_path)) as service:
        assert service.base.startswith("https://")
        yield service


def test_the_cone_shows_and_turns_over_https_and_wss(secure_cone: ConeService, new_page) -> None:
    page = new_page(secure_cone.base + "/", ignore_https_errors=True)  # the certificate is self-signed
    wait_first_frame(page)
    assert page.evaluate("location.protocol") == "https:"
    connected = [event for event in record(page)["service"] if event[0] == "connected"]
    assert len(connected) == 1 and connected[0][1]["renderAreaId"] == "TheCone"
    # The service's port speaks TLS only, so this client came over wss://.
    assert secure_cone.service.num_clients == 1
    assert_a_drag_turns_the_cone(page)


def test_chromium_refuses_the_self_signed_certificate_unless_told(secure_cone: ConeService, new_page) -> None:
    with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
        new_page(secure_cone.base + "/")
    assert secure_cone.service.num_clients == 0
