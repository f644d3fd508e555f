"""Where a message from a browser goes: acks to the connection's window, input events to the area's
listeners and then its scene, app messages and size requests to the listeners (dispatch thread)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from . import protocol
from .connection import Client, Connection
from .frame_path import FramePath
from .listeners import FAILED, call_all, input_callback
from .metrics import Monitoring
from .protocol import (
    Ack,
    AppMessage,
    CameraState,
    ContainerResize,
    Input,
    KeyFrameRequest,
    Pong,
    ProtocolError,
    RenderRequest,
    SceneAck,
    SizeRequest,
)
from .render_area import RenderArea
from .scene_sync import SceneStreams

log = logging.getLogger("remoteviz.service")


class Router:
    """Routes the messages of a service's connections (the service opens and closes the links)."""

    def __init__(self, monitoring: Monitoring, frames: FramePath, measured_latency: Callable[[Client, float], None],
                 fits: Callable[[RenderArea, int, int], bool], scene_takes_input: Callable[[], bool],
                 scenes: SceneStreams) -> None:
        """``fits``: whether an area may take a size; ``scene_takes_input``: whether input events go on to
        the area's scene manager after its listeners (INVENTOR_SERVICE mode); ``scenes``: the
        client-side pages' scene streams."""
        self._monitoring = monitoring
        self._frames = frames
        self._measured_latency = measured_latency
        self._fits = fits
        self._scene_takes_input = scene_takes_input
        self._scenes = scenes

    @staticmethod
    def waits_for_render(message: protocol.ClientMessage) -> bool:
        """Whether ``message`` runs its area's listeners or changes its scene, and so waits while
        the area is drawn on a render thread (acks, pongs and the like go on meanwhile)."""
        return isinstance(message, (Input, AppMessage, SizeRequest, RenderRequest, CameraState))

    def route(self, connection: Connection, message: protocol.ClientMessage) -> None:
        """Deliver one message from ``connection``'s browser; raises ProtocolError for one not expected here."""
        area = connection.render_area
        match message:
            case Ack(frame_id=frame_id, decode_ms=decode_ms):
                latency_ms = connection.client.network_performance.latency_ms
                _, send = connection.outgoing.ack(frame_id, decode_ms, latency_ms, time.monotonic())
                if decode_ms > 0:  # 0: the browser dropped the frame undecoded
                    self._monitoring.report("on_measured_decoding_time", decode_ms, connection)
                if send is not None:
                    self._frames.transmit(connection, send)
            case Input(event=event, seq=seq):
                self._input(area, connection, event, seq)
            case AppMessage(data=data):
                call_all(area.listeners, "on_received_message", area, connection, data)
            case SizeRequest(width=width, height=height):
                answers = call_all(area.listeners, "on_requested_size", area, connection, width, height)
                if any(a is False or a is FAILED for a in answers):
                    return
                # Unless a listener says yes, only a sole viewer resizes: a viewer of a shared area
                # must not change what everybody else sees (a "size 1x1" for all).
                if not (any(a is True for a in answers) or area.num_connections == 1):
                    return
                if not self._fits(area, width, height):
                    return  # the memory of every area together stays bounded
                area.resize(width, height)
            case ContainerResize(width=width, height=height):
                connection.container_width, connection.container_height = width, height
            case KeyFrameRequest():
                self._frames.needs_key_frame(connection)
            case Pong(t=t):
                self._measured_latency(connection.client, (time.monotonic() - t) * 1000.0)
            case RenderRequest() if self._scene_takes_input():
                self._scenes.request(area, connection, message)
            case RenderRequest():  # INDEPENDENT_SERVICE: the application's frames, no scene to send
                self._scenes.refuse(connection, "the application draws its own frames")
            case SceneAck(chunk=chunk):
                self._scenes.ack(connection, chunk)
            case CameraState():
                self._scenes.camera(area, connection, message)
            case _:
                raise ProtocolError(f"{type(message).__name__} is not expected here")

    def _input(self, area: RenderArea, connection: Connection, event: Any, seq: int) -> None:
        answers = call_all(area.listeners, *input_callback(area, connection, event), event=event)
        area.schedule.input_arrived(time.monotonic())
        connection.outgoing.last_input_seq = seq
        if not all(a is not False for a in answers):
            return
        if self._scene_takes_input():
            try:
                area.scene_manager.process_event(event, area.width, area.height, render_area=area,
                                                 connection=connection)
            except Exception:
                log.exception("the scene of %r failed to process %r", area, event)
