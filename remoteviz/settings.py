"""How a service listens, renders and protects itself: ``ServiceSettings`` and ``RunMode``.

Re-exported by :mod:`remoteviz.service` and :mod:`remoteviz` (``rv.ServiceSettings``), where users
import them; kept apart so the modules the service uses can read settings without naming the service.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .access import AccessSetting
from .encoders.gpu_jpeg import JpegBackend
from .http import DEFAULT_CONTENT_SECURITY_POLICY
from .pipeline.pacing import DEFAULT_WINDOW


class RunMode(enum.Enum):
    """Who renders the frames."""

    INVENTOR_SERVICE = "inventor"  # the library renders each render area's scene_manager
    INDEPENDENT_SERVICE = "independent"  # the application returns frames from on_requested_frame


@dataclass
class ServiceSettings:
    """How the service listens, renders and protects itself.

    ``render_threads``: how many render areas are drawn at once, each on a thread of the
    service's with an OpenGL context of its own (an area always on the same thread). None, the
    default, is one per core (measured: busy areas then share every core, as processes would, at
    no more CPU per frame; ``docs/performance.md``); 1 draws on the dispatch thread, as before.
    Listener callbacks always run on the dispatch thread; while an area is drawn, its input,
    messages and size requests wait, and other work that could change a scene waits for the
    draws in flight. Without EGL (a GLFW window on a desktop) and in INDEPENDENT_SERVICE mode,
    frames are made on the dispatch thread.
    """

    host: str = "127.0.0.1"
    port: int = 8080  # 0 picks a free port; read it back from Service.port
    run_mode: RunMode = RunMode.INVENTOR_SERVICE
    certificate_path: str | None = None
    private_key_path: str | None = None
    # Pages of other origins allowed to connect, besides the service's own; ["*"] allows any (logged).
    allowed_origins: list[str] | None = None
    # Access tokens: None (none needed), a secret (tokens of remoteviz.tokens), or check(token, area_id).
    access: AccessSetting = None
    default_width: int = 640  # used when a connection asks for no size
    default_height: int = 480
    max_width: int = 3840
    max_height: int = 2160
    max_render_areas: int = 64
    max_render_areas_per_client: int = 8  # areas one client may have created and still open
    max_total_pixels: int = 4 * 3840 * 2160  # of every render area together: their memory
    max_pixels_per_client: int = 3840 * 2160  # of the areas one client created, still open
    max_pixels_per_address: int = 2 * 3840 * 2160  # of the areas the clients of one address created
    max_connections: int = 256
    max_connections_per_address: int = 32  # sockets, counted from the TCP accept
    max_connections_without_hello: int = 64  # sockets that have not said hello (or are HTTP)
    max_connections_without_hello_per_address: int = 16
    # Proxies whose X-Forwarded-For names the client, so per-address limits and logs count it: addresses
    # or networks of nginx in front ("127.0.0.1"), "unix" for the session manager on the Unix socket. Logged.
    trusted_proxies: list[str] | None = None
    max_message_size: int = 1 << 20
    max_pending_events: int = 256  # per connection, in the inbox; reading it waits beyond
    max_pending_bytes: int = 4 << 20  # their bytes, per connection
    max_outgoing_bytes: int = 64 << 20  # queued to one connection; beyond, it is closed as stalled
    max_inbound_rate: float = 8 << 20  # bytes per second one connection may send; reading waits beyond
    max_message_rate: float = 2000.0  # messages per second; beyond it for longer than a burst: 4429 (MESSAGE_BURST)
    hello_timeout: float = 5.0
    keepalive_interval: float | None = 20.0
    keepalive_timeout: float | None = 20.0
    still_delay: float = 0.05  # seconds without input before a still frame is sent
    frame_window: int = DEFAULT_WINDOW  # unacknowledged frames allowed in flight per connection (up to 4)
    encoder_threads: int = 2
    render_threads: int | None = None  # None: one per core; 1: the dispatch thread (see above)
    # The EGL device to render on: an index, part of its name ("nvidia"), or "mesa" for the CPU;
    # None: REMOTEVIZ_EGL_DEVICE, else the first hardware device, else Mesa (docs/deployment.md).
    gl_device: str | None = None
    # Where JPEG frames are encoded: "auto" (the GPU where nvJPEG works, else the CPU), "gpu" (refused
    # with a warning where it cannot work: the CPU then), "cpu"; None: REMOTEVIZ_JPEG, else "auto".
    jpeg_backend: JpegBackend | None = None
    max_refused_encoder_rounds: int = 8
    static_dir: str | None = None  # the application's static files, served over plain HTTP
    content_security_policy: str | None = DEFAULT_CONTENT_SECURITY_POLICY  # sent with the pages served

    def enable_secure_connection(self, certificate_path: str, private_key_path: str) -> None:
        """Serve wss:// (and https://) with this certificate and private key (PEM files)."""
        self.certificate_path = certificate_path
        self.private_key_path = private_key_path

    @property
    def is_secure(self) -> bool:
        """True when TLS is enabled."""
        return self.certificate_path is not None
