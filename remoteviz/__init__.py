"""remoteviz: render 3D scenes on a server with OpenGL and stream them to web browsers.

The public names; see ``docs/`` for the guide, the protocol and the architecture.
"""

from .connection import (
    Client,
    ClientSettings,
    Connection,
    ConnectionParameters,
    ConnectionSettings,
    EncodingPolicy,
    NetworkPerformance,
)
from .encoders import Encoder, EncoderStatus, FrameEncoders
from .events import (
    KeyAction,
    KeyEvent,
    Modifiers,
    MouseAction,
    MouseButton,
    MouseEvent,
    TouchAction,
    TouchEvent,
    WheelEvent,
)
from .http import HttpRequest, HttpResponse
from .metrics import Metrics, MetricsListener, Monitoring
from .protocol import Codec, DisconnectReason
from .render_area import RenderArea, RenderAreaListener
from .service import RunMode, Service, ServiceListener, ServiceSettings

__version__ = "0.1.0"

_RENDERING_NAMES = frozenset({
    "BoundingBox", "Camera", "Cone", "Cube", "Cylinder", "DirectionalLight", "EventCallback",
    "GestureEvent", "GestureType", "GradientBackground", "Group", "InteractionMode", "Material", "Mesh",
    "Node", "OrthographicCamera", "PerspectiveCamera", "PickedPoint", "RenderingUnavailableError",
    "Rotation", "SceneExaminer", "SceneManager", "Separator", "Sphere", "TouchManager", "Transform",
    "Viewport",
    "ClipPlane", "ImagePlane", "LineSet", "ObliqueSlice", "OrthoSlice", "PointSet", "Switch", "Text2D",
    "Texture2D", "TextureFilter", "TransferFunction", "Volume", "VolumeMemoryError", "VolumeMode",
})


def __getattr__(name: str) -> object:
    # The scene graph is loaded on first use, so INDEPENDENT_SERVICE applications never load OpenGL.
    if name in _RENDERING_NAMES:
        from . import rendering

        return getattr(rendering, name)
    raise AttributeError(f"module 'remoteviz' has no attribute {name!r}")

__all__ = [
    "Client", "ClientSettings", "Codec", "Connection", "ConnectionParameters", "ConnectionSettings",
    "DisconnectReason", "Encoder", "EncoderStatus", "EncodingPolicy", "FrameEncoders", "HttpRequest",
    "HttpResponse", "KeyAction", "KeyEvent", "Metrics", "MetricsListener", "Modifiers", "Monitoring",
    "MouseAction", "MouseButton", "MouseEvent", "NetworkPerformance", "RenderArea", "RenderAreaListener",
    "RunMode", "Service", "ServiceListener", "ServiceSettings", "TouchAction", "TouchEvent", "WheelEvent",
    *sorted(_RENDERING_NAMES),
]
