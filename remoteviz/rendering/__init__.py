"""Server-side rendering: a small Open Inventor-like scene graph drawn headlessly with OpenGL.

Importing this package chooses the OpenGL backend (EGL without a display, GLFW with one) before
PyOpenGL is loaded; OpenGL itself is loaded only when the first frame is rendered.
"""

from remoteviz.rendering import gl_platform

gl_platform.configure_pyopengl()

from remoteviz.rendering.actions import DisplayStyle, HandleEventAction  # noqa: E402  (after configuring)
from remoteviz.rendering.camera import Camera, OrthographicCamera, PerspectiveCamera, Viewport  # noqa: E402
from remoteviz.rendering.colormaps import ColorMapping, colormaps  # noqa: E402
from remoteviz.rendering.examiner import InteractionMode, SceneExaminer  # noqa: E402
from remoteviz.rendering.gl_platform import RenderingUnavailableError  # noqa: E402
from remoteviz.rendering.lines import LineSet  # noqa: E402
from remoteviz.rendering.math3d import BoundingBox, Rotation  # noqa: E402
from remoteviz.rendering.mesh import Mesh  # noqa: E402
from remoteviz.rendering.nodes import (  # noqa: E402
    ClipPlane,
    DirectionalLight,
    EventCallback,
    GradientBackground,
    Group,
    Material,
    Node,
    Separator,
    Switch,
    Transform,
)
from remoteviz.rendering.out_of_core import OutOfCoreVolume  # noqa: E402
from remoteviz.rendering.overlays import AxesTriad, ColorBar, ScaleBar  # noqa: E402
from remoteviz.rendering.picking import PickedPoint  # noqa: E402
from remoteviz.rendering.points import PointSet  # noqa: E402
from remoteviz.rendering.scalars import ScalarShape  # noqa: E402
from remoteviz.rendering.scene_manager import SceneManager  # noqa: E402
from remoteviz.rendering.shapes import Cone, Cube, Cylinder, Shape, Sphere  # noqa: E402
from remoteviz.rendering.slices import ObliqueSlice, OrthoSlice  # noqa: E402
from remoteviz.rendering.text import Text2D  # noqa: E402
from remoteviz.rendering.texture import ImagePlane, Texture2D, TextureFilter  # noqa: E402
from remoteviz.rendering.touch import (  # noqa: E402
    DoubleTapRecognizer,
    GestureEvent,
    GestureRecognizer,
    GestureState,
    GestureType,
    LongTapRecognizer,
    OrbitRecognizer,
    PanRecognizer,
    PinchRecognizer,
    RotateRecognizer,
    TouchManager,
)
from remoteviz.rendering.volume import (  # noqa: E402
    TransferFunction,
    Volume,
    VolumeMemoryError,
    VolumeMode,
)

__all__ = [
    "AxesTriad",
    "BoundingBox",
    "Camera",
    "ClipPlane",
    "ColorBar",
    "ColorMapping",
    "Cone",
    "Cube",
    "Cylinder",
    "DirectionalLight",
    "DisplayStyle",
    "DoubleTapRecognizer",
    "EventCallback",
    "GestureEvent",
    "GestureRecognizer",
    "GestureState",
    "GestureType",
    "GradientBackground",
    "Group",
    "HandleEventAction",
    "ImagePlane",
    "InteractionMode",
    "LineSet",
    "LongTapRecognizer",
    "Material",
    "Mesh",
    "Node",
    "ObliqueSlice",
    "OrbitRecognizer",
    "OrthoSlice",
    "OrthographicCamera",
    "OutOfCoreVolume",
    "PanRecognizer",
    "PerspectiveCamera",
    "PickedPoint",
    "PinchRecognizer",
    "PointSet",
    "RenderingUnavailableError",
    "RotateRecognizer",
    "Rotation",
    "ScalarShape",
    "ScaleBar",
    "SceneExaminer",
    "SceneManager",
    "Separator",
    "Shape",
    "Sphere",
    "Switch",
    "Text2D",
    "Texture2D",
    "TextureFilter",
    "TouchManager",
    "TransferFunction",
    "Transform",
    "Viewport",
    "Volume",
    "VolumeMemoryError",
    "VolumeMode",
    "colormaps",
]
