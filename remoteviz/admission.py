"""Where a connection is refused before it is created, which client it belongs to, the size a new
render area asks for, and the encoder negotiation: the questions the service core
(:mod:`remoteviz.service_core`) asks, in that order, as a connection opens. It refuses through the
core's one failure path; the create and share questions to the application are the core's own."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Any

from .access import TOKEN_FIELD, AccessCheck
from .connection import Connection, ConnectionParameters
from .encoders import DEFAULT_FALLBACK_CHAIN
from .listeners import call_all
from .protocol import Hello
from .render_area import RenderArea
from .settings import ServiceSettings

log = logging.getLogger("remoteviz.service")


class Admission:
    """Answers a service's admission questions (dispatch thread) with its settings and access check."""

    def __init__(self, settings: ServiceSettings | None = None, access: AccessCheck | None = None) -> None:
        self._settings = settings or ServiceSettings()
        self._access = access or AccessCheck(None)
        self._secret = secrets.token_bytes(32)  # derives client ids from page keys

    def refusal(self, area_id: str, parameters: ConnectionParameters, num_connections: int) -> str | None:
        """Why a connection to ``area_id`` is refused before any client or listener call, or None."""
        if not area_id:
            return "the URL names no render area"
        if num_connections >= self._settings.max_connections:
            return "the service has reached its connection limit"
        return self._access_refusal(parameters.get_value(TOKEN_FIELD) or None, area_id)

    def _access_refusal(self, token: str | None, area_id: str) -> str | None:
        try:
            return self._access.refusal(token, area_id)
        except Exception:
            log.exception("the access check raised; refusing the connection")
            return "access check failed"

    def client_id(self, page_key: str) -> str:
        """The service's id for the page whose views say ``page_key`` in their hello.

        The id is derived from the key with a secret of this service, so knowing a client's id
        (the application's, or what ``accept`` tells its page) does not let anyone join that
        client: only a page's own views know its key. An empty key makes a new client.
        """
        if not page_key:
            return secrets.token_hex(8)
        return hmac.new(self._secret, page_key.encode("utf-8"), hashlib.sha256).hexdigest()[:16]

    def requested_size(self, parameters: ConnectionParameters, hello: Hello) -> tuple[int, int]:
        """The size a new render area is asked for: the URL's, the hello's, or the default."""
        width = parameters.get_int("width") or hello.width or self._settings.default_width
        height = parameters.get_int("height") or hello.height or self._settings.default_height
        return width, height

    @staticmethod
    def answered_size(answers: list[Any], width: int, height: int) -> tuple[int, int]:
        """The size the first ``on_pending_create_render_area`` answer that is a tuple gives, else the requested one."""
        for answer in answers:
            if isinstance(answer, tuple):
                return _size_answer(answer, width, height)
        return width, height

    def negotiate_encoders(self, area: RenderArea, connection: Connection) -> bool:
        """Validate the chosen encoders; ask on_refused_encoder while invalid, then walk the default chain."""
        encoders = connection.frame_encoders
        for _ in range(self._settings.max_refused_encoder_rounds):
            if encoders.validate():
                return True
            call_all(area.listeners, "on_refused_encoder", area, connection, encoders)
            if not connection.state.live:  # a listener closed it
                return False
        if encoders.validate():
            return True
        return encoders.first_valid_of(DEFAULT_FALLBACK_CHAIN)


def _size_answer(answer: tuple[Any, ...], width: int, height: int) -> tuple[int, int]:
    """The size on_pending_create_render_area returned, or the requested one if it is not a size."""
    try:
        new_width, new_height = (int(v) for v in answer)
    except (TypeError, ValueError):
        log.error("on_pending_create_render_area returned %r, not (width, height); keeping %dx%d",
                  answer, width, height)
        return width, height
    return new_width, new_height
