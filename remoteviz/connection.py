"""Clients (one web page each) and their connections (one view of one render area each)."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .dispatch_thread import DispatchThread, marshalled
from .encoders import FrameEncoders
from .pipeline.pacing import Pacer, Targets
from .pipeline.sending import Outgoing
from .protocol import AppMessage, DisconnectReason, Hello, ServiceMessage, is_valid_unicode

if TYPE_CHECKING:
    from .render_area import RenderArea


class ConnectionOwner(Protocol):
    """What the handles here read and ask of the service core, which owns their records (so this
    module names no service)."""

    def send(self, connection: Connection, message: ServiceMessage) -> None:
        """Send ``message`` to the connection's browser, unless it is closing or closed."""

    def close_connection(self, connection: Connection, reason: DisconnectReason, detail: str) -> None:
        """Tell the browser why, close its socket, and forget the connection now."""

    def connection_state(self, connection: Connection) -> ConnectionState:
        """Where ``connection`` is in its life."""

    def outgoing(self, connection: Connection) -> Outgoing:
        """The connection's frames on their way (window, newest-frame slot, rate)."""

    def container_size(self, connection: Connection) -> tuple[int, int]:
        """The size of the page's element that holds the view, as the page last said."""

    def connections_of(self, group: ConnectionGroup) -> Mapping[str, Connection]:
        """The connections of a client or a render area, by id (a read-only view)."""


class ConnectionParameters(Mapping[str, str]):
    """The query fields of a connect URL (``ws://host/TheCone?token=abc&width=800``).

    A read-only mapping; a field given several times keeps its last value.
    """

    def __init__(self, fields: Mapping[str, str] | None = None) -> None:
        self._fields = dict(fields or {})

    def __getitem__(self, name: str) -> str:
        return self._fields[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"ConnectionParameters({self._fields!r})"

    def has_value(self, name: str) -> bool:
        """True when the URL had the field ``name``."""
        return name in self._fields

    def get_value(self, name: str, default: str = "") -> str:
        """The field ``name``, or ``default``."""
        return self._fields.get(name, default)

    def get_int(self, name: str, default: int | None = None) -> int | None:
        """The field ``name`` as an integer, or ``default`` when absent or not an integer."""
        try:
            return int(self._fields[name])
        except (KeyError, ValueError):
            return default


@dataclass
class NetworkPerformance:
    """Network calibration of one client: what to measure, and what was measured.

    Change the settings in ``ServiceListener.on_connected_client``; read the figures in
    ``on_initialized_client``. Bandwidth is in bytes per second, latency in milliseconds.
    """

    calibration_enabled: bool = True
    max_calibration_duration_ms: int = 5000
    bandwidth: float = 0.0  # measured bytes per second; 0 until measured
    latency_ms: float = 0.0  # measured round-trip time
    measured: bool = False

    def enable_calibration(self, enabled: bool) -> None:
        """Turn the calibration of this client on or off."""
        self.calibration_enabled = enabled

    def set_max_calibration_duration(self, milliseconds: int) -> None:
        """Bound how long calibration may take."""
        if milliseconds <= 0:
            raise ValueError("the calibration duration must be positive")
        self.max_calibration_duration_ms = milliseconds


@dataclass
class ClientSettings:
    """Per-client settings: the bandwidth (bytes per second, 0 = unlimited) its connections share."""

    bandwidth: float = 0.0


class EncodingPolicy(enum.Enum):
    """What to give up first when the link cannot carry frames at full quality and rate."""

    KEEP_FRAMES_PER_SECOND = "keep_fps"  # lower quality (down to a floor) before the rate
    KEEP_FRAME_QUALITY = "keep_quality"  # lower the rate before the quality


@dataclass
class ConnectionSettings:
    """Per-connection streaming settings.

    ``fps`` is the target rate (1..60); ``quality`` the target interactive quality (0..1);
    ``min_quality`` the floor that KEEP_FRAMES_PER_SECOND lowers quality to before the rate drops.
    """

    policy: EncodingPolicy = EncodingPolicy.KEEP_FRAMES_PER_SECOND
    max_sending_fps: int = 60
    fps: int = 30
    quality: float = 0.7
    min_quality: float = 0.3
    interactive_downscale: bool = False  # allow interactive images at down to half size on slow links
    # Under KEEP_FRAMES_PER_SECOND, render interactive images at down to half size while rendering
    # plus encoding a frame takes longer than 1/fps (the browser scales them up; stills stay full size).
    cost_aware_scaling: bool = False

    def __post_init__(self) -> None:
        self._check()

    def _check(self) -> None:
        if not 1 <= self.fps <= 60:
            raise ValueError("fps must be within 1..60")
        if not 1 <= self.max_sending_fps <= 240:
            raise ValueError("max_sending_fps must be within 1..240")
        if not 0.0 <= self.min_quality <= self.quality <= 1.0:
            raise ValueError("qualities must satisfy 0 <= min_quality <= quality <= 1")

    def set_frame_encoding_policy(self, policy: EncodingPolicy, fps: int | None = None,
                                  quality: float | None = None, min_quality: float | None = None) -> None:
        """Choose a policy and, optionally, its targets."""
        self.policy = policy
        self.fps = self.fps if fps is None else fps
        self.quality = self.quality if quality is None else quality
        self.min_quality = self.min_quality if min_quality is None else min_quality
        self._check()

    def is_supported_encoders(self, frame_encoders: FrameEncoders) -> bool:
        """True when this connection (the server and its browser) can use ``frame_encoders``."""
        probe = FrameEncoders(frame_encoders.still_encoder, frame_encoders.interactive_encoder,
                              _client_decoders=frame_encoders.client_decoders)
        return probe.validate()


class ConnectionState(enum.Enum):
    """Where a connection is in its life; nothing is sent to one that is closing or closed."""

    HANDSHAKE = "handshake"  # said hello; the listeners are deciding, its encoders being negotiated
    CALIBRATING = "calibrating"  # waiting for its page's network calibration
    OPEN = "open"  # accepted: frames flow
    CLOSING = "closing"  # told why and its socket closed; being forgotten
    CLOSED = "closed"  # forgotten by its client and its render area

    @property
    def live(self) -> bool:
        """Neither closing nor closed: messages may still be sent to it."""
        return self not in (ConnectionState.CLOSING, ConnectionState.CLOSED)


class ConnectionGroup:
    """Something connections belong to: a client (its page's views) or a render area (its viewers)."""

    def __init__(self, owner: ConnectionOwner) -> None:
        self._group_owner = owner

    @property
    def connections(self) -> list[Connection]:
        """The open connections."""
        return list(self._group_owner.connections_of(self).values())

    @property
    def num_connections(self) -> int:
        """How many connections are open."""
        return len(self._group_owner.connections_of(self))

    def get_connection(self, connection_id: str) -> Connection | None:
        """The connection with ``connection_id``, or None."""
        return self._group_owner.connections_of(self).get(connection_id)


class Client(ConnectionGroup):
    """One web page (or other client) with its connections, usually one per render area shown."""

    def __init__(self, owner: ConnectionOwner, client_id: str, hello: Hello) -> None:
        super().__init__(owner)
        self.id = client_id
        self.settings = ClientSettings()
        self.network_performance = NetworkPerformance()
        self.application_name = hello.application
        self.environment = hello.user_agent
        self._decoders = hello.decoders

    def __repr__(self) -> str:
        return f"<Client {self.id} connections={self.num_connections}>"

    def is_image_streaming_supported(self) -> bool:
        """True when the client decodes JPEG and PNG."""
        return {"jpeg", "png"} <= self._decoders

    def is_video_streaming_supported(self) -> bool:
        """True when the client decodes at least one video codec."""
        return bool({"h264", "vp9", "av1"} & self._decoders)

    def send_message(self, message: str | bytes) -> None:
        """Send an application message on every connection of the client (safe from any thread)."""
        for connection in self.connections:
            connection.send_message(message)

    def disconnect(self) -> None:
        """Close every connection of the client (the browser sees KICKED; safe from any thread)."""
        for connection in self.connections:
            connection.close()


class Connection:
    """One browser view of one render area."""

    def __init__(self, owner: ConnectionOwner, connection_id: str, client: Client, render_area: RenderArea,
                 parameters: ConnectionParameters, hello: Hello, dispatch_thread: DispatchThread) -> None:
        self._owner = owner
        self._dispatch_thread = dispatch_thread
        self.id = connection_id
        self.client = client
        self.render_area = render_area
        self.parameters = parameters
        self.requested_width = hello.width
        self.requested_height = hello.height
        self.settings = ConnectionSettings()
        self.frame_encoders = FrameEncoders(_client_decoders=hello.decoders)

    def __repr__(self) -> str:
        return f"<Connection {self.id} area={self.render_area.id!r} client={self.client.id}>"

    @property
    def state(self) -> ConnectionState:
        """Where it is in its life."""
        return self._owner.connection_state(self)

    @property
    def container_width(self) -> int:
        """The width of the page's element that holds the view, as the page last said (0: not said)."""
        return self._owner.container_size(self)[0]

    @property
    def container_height(self) -> int:
        """The height of the page's element that holds the view, as the page last said (0: not said)."""
        return self._owner.container_size(self)[1]

    @property
    def is_open(self) -> bool:
        """True once accepted (frames flow), until it closes."""
        return self._owner.connection_state(self) is ConnectionState.OPEN

    @property
    def pacer(self) -> Pacer:
        """Its window of frames in flight."""
        return self._owner.outgoing(self).pacer

    def targets(self) -> Targets:
        """What the rate controller aims at, from the settings and this connection's bandwidth share."""
        settings, client = self.settings, self.client
        share = client.settings.bandwidth / max(1, client.num_connections)
        return Targets(settings.policy is EncodingPolicy.KEEP_FRAMES_PER_SECOND, settings.fps, settings.quality,
                       settings.min_quality, settings.max_sending_fps, settings.interactive_downscale, share,
                       settings.cost_aware_scaling)

    @property
    def interactive_quality(self) -> float:
        """The quality interactive frames are encoded at now (adapted to the link)."""
        return self._owner.outgoing(self).rate.quality

    @property
    def interactive_scale(self) -> float:
        """The scale interactive images are encoded at now (1.0 unless downscaling on a slow link)."""
        return self._owner.outgoing(self).rate.scale

    def send_message(self, message: str | bytes) -> None:
        """Send an application message (text or bytes) to this view's page.

        Safe from any thread: the message is checked at once (TypeError, ValueError) and, off the
        dispatch thread, sent from a coming ``dispatch()``.
        """
        if not isinstance(message, (str, bytes, bytearray, memoryview)):
            raise TypeError("a message is str or bytes")
        if isinstance(message, str) and not is_valid_unicode(message):
            # It could not be sent as WebSocket text: refuse it here, not on the wire.
            raise ValueError("a text message must be valid Unicode (it holds a lone surrogate)")
        self._deliver(AppMessage(message if isinstance(message, str) else bytes(message)))

    @marshalled
    def _deliver(self, message: AppMessage) -> None:
        self._owner.send(self, message)

    @marshalled
    def close(self) -> None:
        """Close the connection; the browser sees KICKED (safe from any thread)."""
        self._owner.close_connection(self, DisconnectReason.KICKED, "closed by the application")
