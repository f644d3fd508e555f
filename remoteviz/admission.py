"""Where a connection is refused before it is created, which client it belongs to, and which render
area it gets: the URL, the connection limit, the access check, the create/share questions to the
application with their limits, and the encoder negotiation. ``Service._open_connection`` asks, in that
order, and refuses through its one failure path (``Service._fail``)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from .access import TOKEN_FIELD, AccessCheck
from .connection import Client, Connection, ConnectionParameters
from .encoders import DEFAULT_FALLBACK_CHAIN
from .listeners import FAILED, call_all
from .protocol import Hello
from .render_area import RenderArea
from .settings import ServiceSettings

log = logging.getLogger("remoteviz.service")


class Admission:
    """Answers a service's admission questions (dispatch thread); the service creates what it admits."""

    def __init__(self, render_areas: Mapping[str, RenderArea], call_service: Callable[..., list[Any]],
                 new_render_area: Callable[[str, int, int, str | None, str | None], RenderArea],
                 clamp_size: Callable[[int, int], tuple[int, int]],
                 pixel_refusal: Callable[[int, str | None, str | None], str | None]) -> None:
        """``call_service`` asks the service listeners; ``new_render_area`` creates and registers an area;
        ``pixel_refusal(pixels, client id, address)`` says why a new area's pixels break a budget."""
        self._render_areas = render_areas
        self._call_service = call_service
        self._new_render_area = new_render_area
        self._clamp_size = clamp_size
        self._pixel_refusal = pixel_refusal
        self._secret = secrets.token_bytes(32)  # derives client ids from page keys
        self._settings = ServiceSettings()
        self._access = AccessCheck(None)

    def configure(self, settings: ServiceSettings, access: AccessCheck) -> None:
        """The settings and access check of the service as it opens."""
        self._settings, self._access = settings, access

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

    def area_for(self, area_id: str, client: Client, parameters: ConnectionParameters,
                 hello: Hello, address: str) -> RenderArea | str:
        """The render area the connection (from ``address``) views (shared, or created now), or why it is refused."""
        refusal: str | None = None
        area = self._render_areas.get(area_id)
        if area is not None:
            answers = self._call_service("on_pending_share_render_area", area, client, parameters)
            if not any(a is not False and a is not FAILED for a in answers):
                refusal = "the application refused to share this render area"
        else:
            width, height = self._requested_size(parameters, hello)
            answers = self._call_service("on_pending_create_render_area", area_id, width, height, client,
                                         parameters)
            accepted = [a for a in answers if a is not False and a is not FAILED]
            if not accepted:
                refusal = "the application refused to create this render area"
            elif len(self._render_areas) >= self._settings.max_render_areas:
                refusal = "the service has reached its render area limit"
            elif sum(a.creator_id == client.id for a in self._render_areas.values()) >= \
                    self._settings.max_render_areas_per_client:
                refusal = "this client has reached its render area limit"
            else:
                for answer in accepted:
                    if isinstance(answer, tuple):
                        width, height = _size_answer(answer, width, height)
                        break
                width, height = self._clamp_size(width, height)
                refusal = self._pixel_refusal(width * height, client.id, address)
                if refusal is None:
                    area = self._new_render_area(area_id, width, height, client.id, address)
        return area if refusal is None and area is not None else (refusal or "refused")

    def _requested_size(self, parameters: ConnectionParameters, hello: Hello) -> tuple[int, int]:
        width = parameters.get_int("width") or hello.width or self._settings.default_width
        height = parameters.get_int("height") or hello.height or self._settings.default_height
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
