"""Server-side rendering: a small Open Inventor-like scene graph drawn headlessly with OpenGL.

Importing this package chooses the OpenGL backend (EGL without a display, GLFW with one) before
PyOpenGL is loaded; OpenGL itself is loaded only when the first frame is rendered.
"""

from remoteviz.rendering import gl_platform

gl_platform.configure_pyopengl()

from remoteviz.rendering.actions import HandleEventAction  # noqa: E402  (after configuring)
from remoteviz.rendering.camera import Camera, OrthographicCamera, PerspectiveCamera, Viewport  # noqa: E402
from remoteviz.rendering.examiner import InteractionMode, SceneExaminer  # noqa: E402
from remoteviz.rendering.gl_platform import RenderingUnavailableError  # noqa: E402
from remoteviz.rendering.math3d import BoundingBox, Rotation  # noqa: E402
from remoteviz.rendering.mesh import Mesh  # noqa: E402
from remoteviz.rendering.nodes import (  # noqa: E402
    DirectionalLight,
    EventCallback,
    GradientBackground,
    Group,
    Material,
    Node,
    Separator,
    Transform,
)
from remoteviz.rendering.picking import PickedPoint  # noqa: E402
from remoteviz.rendering.scene_manager import SceneManager  # noqa: E402
from remoteviz.rendering.shapes import Cone, Cube, Cylinder, Shape, Sphere  # noqa: E402
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

__all__ = [
    "BoundingBox",
    "Camera",
    "Cone",
    "Cube",
    "Cylinder",
    "DirectionalLight",
    "DoubleTapRecognizer",
    "EventCallback",
    "GestureEvent",
    "GestureRecognizer",
    "GestureState",
    "GestureType",
    "GradientBackground",
    "Group",
    "HandleEventAction",
    "InteractionMode",
    "LongTapRecognizer",
    "Material",
    "Mesh",
    "Node",
    "OrbitRecognizer",
    "OrthographicCamera",
    "PanRecognizer",
    "PerspectiveCamera",
    "PickedPoint",
    "PinchRecognizer",
    "RenderingUnavailableError",
    "RotateRecognizer",
    "Rotation",
    "SceneExaminer",
    "SceneManager",
    "Separator",
    "Shape",
    "Sphere",
    "TouchManager",
    "Transform",
    "Viewport",
]
