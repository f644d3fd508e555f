"""remoteviz: render 3D scenes on a server with OpenGL and stream them to web browsers.

The public names; see ``docs/`` for the guide, the protocol and the architecture.

The service's names are imported here. The scene graph's (``remoteviz.rendering``) are loaded on
first use, so that INDEPENDENT_SERVICE applications never load OpenGL; type checkers see them
through the ``typing.TYPE_CHECKING`` block below. To make a new scene name public: export it from
``remoteviz.rendering`` and add its line to that block (``tests/unit/test_public_names.py`` checks
that the two agree).
"""

import importlib
import types
import typing

from .colormap_messages import (
    ColormapMessageError as ColormapMessageError,
    ColormapMessages as ColormapMessages,
)
from .connection import (
    Client as Client,
    ClientSettings as ClientSettings,
    Connection as Connection,
    ConnectionParameters as ConnectionParameters,
    ConnectionSettings as ConnectionSettings,
    EncodingPolicy as EncodingPolicy,
    NetworkPerformance as NetworkPerformance,
)
from .dispatch_thread import (
    WrongThreadError as WrongThreadError,
)
from .encoders import (
    Encoder as Encoder,
    EncoderStatus as EncoderStatus,
    FrameEncoders as FrameEncoders,
)
from .events import (
    KeyAction as KeyAction,
    KeyEvent as KeyEvent,
    Modifiers as Modifiers,
    MouseAction as MouseAction,
    MouseButton as MouseButton,
    MouseEvent as MouseEvent,
    TouchAction as TouchAction,
    TouchEvent as TouchEvent,
    WheelEvent as WheelEvent,
)
from .http import (
    HttpRequest as HttpRequest,
    HttpResponse as HttpResponse,
)
from .loading import load as load
from .metrics import (
    Metrics as Metrics,
    MetricsListener as MetricsListener,
    Monitoring as Monitoring,
)
from .protocol import (
    Codec as Codec,
    DisconnectReason as DisconnectReason,
)
from .readers.errors import ReadError as ReadError
from .readers.formats import (
    read_points as read_points,
    read_volume as read_volume,
)
from .readers.point_data import PointData as PointData
from .readers.volume_data import VolumeData as VolumeData
from .render_area import (
    RenderArea as RenderArea,
    RenderAreaListener as RenderAreaListener,
)
from .service import (
    RunMode as RunMode,
    Service as Service,
    ServiceListener as ServiceListener,
    ServiceSettings as ServiceSettings,
)
from .showing import show as show

__version__ = "0.1.0"

if typing.TYPE_CHECKING:  # one line per scene name, in remoteviz.rendering.__all__'s order
    from .rendering import AxesTriad as AxesTriad
    from .rendering import BoundingBox as BoundingBox
    from .rendering import Camera as Camera
    from .rendering import ClipPlane as ClipPlane
    from .rendering import ColorBar as ColorBar
    from .rendering import ColorMapping as ColorMapping
    from .rendering import Cone as Cone
    from .rendering import Cube as Cube
    from .rendering import Cylinder as Cylinder
    from .rendering import DirectionalLight as DirectionalLight
    from .rendering import DisplayStyle as DisplayStyle
    from .rendering import DoubleTapRecognizer as DoubleTapRecognizer
    from .rendering import EventCallback as EventCallback
    from .rendering import GestureEvent as GestureEvent
    from .rendering import GestureRecognizer as GestureRecognizer
    from .rendering import GestureState as GestureState
    from .rendering import GestureType as GestureType
    from .rendering import GradientBackground as GradientBackground
    from .rendering import Group as Group
    from .rendering import HandleEventAction as HandleEventAction
    from .rendering import ImagePlane as ImagePlane
    from .rendering import InteractionMode as InteractionMode
    from .rendering import LineSet as LineSet
    from .rendering import LongTapRecognizer as LongTapRecognizer
    from .rendering import Material as Material
    from .rendering import Mesh as Mesh
    from .rendering import Node as Node
    from .rendering import ObliqueSlice as ObliqueSlice
    from .rendering import OrbitRecognizer as OrbitRecognizer
    from .rendering import OrthoSlice as OrthoSlice
    from .rendering import OrthographicCamera as OrthographicCamera
    from .rendering import OutOfCoreVolume as OutOfCoreVolume
    from .rendering import PanRecognizer as PanRecognizer
    from .rendering import PerspectiveCamera as PerspectiveCamera
    from .rendering import PickedPoint as PickedPoint
    from .rendering import PinchRecognizer as PinchRecognizer
    from .rendering import PointSet as PointSet
    from .rendering import RenderingUnavailableError as RenderingUnavailableError
    from .rendering import RotateRecognizer as RotateRecognizer
    from .rendering import Rotation as Rotation
    from .rendering import ScalarShape as ScalarShape
    from .rendering import ScaleBar as ScaleBar
    from .rendering import SceneExaminer as SceneExaminer
    from .rendering import SceneManager as SceneManager
    from .rendering import Separator as Separator
    from .rendering import Shape as Shape
    from .rendering import Sphere as Sphere
    from .rendering import Switch as Switch
    from .rendering import Text2D as Text2D
    from .rendering import Texture2D as Texture2D
    from .rendering import TextureFilter as TextureFilter
    from .rendering import TouchManager as TouchManager
    from .rendering import TransferFunction as TransferFunction
    from .rendering import Transform as Transform
    from .rendering import Viewport as Viewport
    from .rendering import Volume as Volume
    from .rendering import VolumeMemoryError as VolumeMemoryError
    from .rendering import VolumeMode as VolumeMode
    from .rendering import colormaps as colormaps


_SCENE_FUNCTIONS = frozenset({"colormaps"})  # the scene's lower-case public names

if typing.TYPE_CHECKING:  # the viewer's tools, loaded on first use like the scene names (they use them)
    from .viewer_tools import ViewerTool as ViewerTool
    from .viewer_tools import ViewerTools as ViewerTools
    from .viewer_tools import ViewerToolsError as ViewerToolsError

_VIEWER_NAMES = ("ViewerTool", "ViewerTools", "ViewerToolsError")


def _scene() -> types.ModuleType:
    return importlib.import_module(".rendering", __name__)  # its first import loads the scene graph


def __getattr__(name: str) -> object:
    if name == "__all__":  # ``from remoteviz import *``: the service's names, the loaders and the scene's
        return ([n for n in globals() if n[0].isupper()] + ["show", "load", "read_points", "read_volume"]
                + list(_scene().__all__) + list(_VIEWER_NAMES))
    if name in _VIEWER_NAMES:
        return getattr(importlib.import_module(".viewer_tools", __name__), name)
    # Only names that could be the scene's load it (a probe such as ``__wrapped__`` must not).
    if (name[0].isupper() or name in _SCENE_FUNCTIONS) and name in _scene().__all__:
        return getattr(_scene(), name)
    raise AttributeError(f"module 'remoteviz' has no attribute {name!r}")
