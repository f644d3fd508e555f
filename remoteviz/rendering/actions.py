"""Actions: walks over a scene graph that carry Open Inventor's traversal state.

:class:`GatherAction` records what a frame needs (shapes with their matrices, materials and lights,
the camera, the background); rendering, picking and bounding boxes all start from it.
:class:`HandleEventAction` carries one input event through the graph until something handles it.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from remoteviz.rendering.math3d import BoundingBox, Matrix
from remoteviz.rendering.nodes import (
    DEFAULT_MATERIAL,
    MAX_CLIP_PLANES,
    ClipPlane,
    DirectionalLight,
    EventCallback,
    GradientBackground,
    Material,
    Node,
)

if TYPE_CHECKING:
    from remoteviz.events import InputEvent
    from remoteviz.rendering.camera import Camera, Viewport
    from remoteviz.rendering.examiner import SceneExaminer
    from remoteviz.rendering.picking import PickedPoint
    from remoteviz.rendering.shapes import Shape
    from remoteviz.rendering.texture import Texture2D
    from remoteviz.rendering.touch import GestureEvent


@dataclass(frozen=True, slots=True)
class LightInstance:
    """A light as traversed: the node and the model matrix in force where it was met."""

    light: DirectionalLight
    model: Matrix

    @property
    def world_direction(self) -> np.ndarray:
        """The light's direction in world coordinates, unit length."""
        d: np.ndarray = self.model[:3, :3] @ np.asarray(self.light.direction)
        unit: np.ndarray = d / np.linalg.norm(d)
        return unit


def world_plane(plane: ClipPlane, model: Matrix) -> np.ndarray:
    """A clip plane's ``(a, b, c, d)`` in world coordinates, under the model matrix ``model``.

    Planes transform by the inverse transpose; the result is scaled so that ``(a, b, c)`` has unit
    length, so ``a*x + b*y + c*z + d`` is a signed world distance.
    """
    equation: np.ndarray = plane.equation @ np.linalg.inv(model)
    unit: np.ndarray = equation / np.linalg.norm(equation[:3])
    return unit


@dataclass(slots=True)
class TraversalState:
    """What nodes met earlier in the traversal impose on the nodes after them.

    ``clip_planes`` are world ``(a, b, c, d)`` equations (kept where ``a*x + b*y + c*z + d >= 0``);
    ``texture`` is the current :class:`~remoteviz.rendering.texture.Texture2D` or None.
    """

    model: Matrix = field(default_factory=lambda: np.eye(4))
    material: Material = DEFAULT_MATERIAL
    lights: tuple[LightInstance, ...] = ()
    clip_planes: tuple[np.ndarray, ...] = ()
    texture: Texture2D | None = None


class Action:
    """Walks a scene graph depth first; subclasses react to the kinds of node they care about."""

    def __init__(self) -> None:
        self.state = TraversalState()
        self._path: list[Node] = []

    @property
    def path(self) -> tuple[Node, ...]:
        """The nodes from the root to the node being traversed."""
        return tuple(self._path)

    @property
    def is_done(self) -> bool:
        """True when the rest of the graph need not be traversed."""
        return False

    def apply(self, root: Node) -> None:
        """Traverse the graph under ``root``."""
        self.traverse(root)

    def traverse(self, node: Node) -> None:
        """Traverse one node, keeping the path up to date; hidden nodes are skipped."""
        if not node.visible:
            return
        self._path.append(node)
        try:
            node.traverse(self)
        finally:
            self._path.pop()

    @contextmanager
    def saved_state(self) -> Iterator[None]:
        """Restore the traversal state on exit (what a Separator does)."""
        saved = dataclasses.replace(self.state)
        try:
            yield
        finally:
            self.state = saved

    def visit_light(self, light: DirectionalLight) -> None:
        """Add a light to the lights in force."""
        if light.on:
            self.state.lights = (*self.state.lights, LightInstance(light, self.state.model))

    def visit_clip_plane(self, plane: ClipPlane) -> None:
        """Add a clip plane to the planes in force."""
        if len(self.state.clip_planes) >= MAX_CLIP_PLANES:
            raise ValueError(f"more than {MAX_CLIP_PLANES} clip planes in force at {plane!r}")
        self.state.clip_planes = (*self.state.clip_planes, world_plane(plane, self.state.model))

    def visit_texture(self, texture: Texture2D) -> None:
        """Make ``texture`` the current texture."""
        self.state.texture = texture

    def visit_camera(self, camera: Camera) -> None:
        """React to a camera; most actions ignore cameras."""

    def visit_shape(self, shape: Shape) -> None:
        """React to a shape; most actions ignore shapes."""

    def visit_background(self, background: GradientBackground) -> None:
        """React to a background; most actions ignore it."""

    def visit_event_callback(self, node: EventCallback) -> None:
        """React to an event callback node; only event handling cares."""

    def visit_examiner(self, examiner: SceneExaminer) -> None:
        """Traverse a scene examiner's camera, headlight and children."""
        examiner.traverse_contents(self)


@dataclass(frozen=True, slots=True)
class ShapeInstance:
    """A shape as traversed, with everything needed to draw or pick it."""

    shape: Shape
    model: Matrix
    material: Material
    lights: tuple[LightInstance, ...]
    path: tuple[Node, ...]
    clip_planes: tuple[np.ndarray, ...] = ()
    texture: Texture2D | None = None

    def keeps(self, points: np.ndarray) -> np.ndarray:
        """Which world ``(N, 3)`` points the clip planes in force keep."""
        kept = np.ones(len(points), dtype=bool)
        for plane in self.clip_planes:
            kept &= points @ plane[:3] + plane[3] >= 0.0
        return kept

    @property
    def world_bounding_box(self) -> BoundingBox | None:
        """The shape's bounding box in world coordinates, or None when it is empty."""
        box = self.shape.bounding_box
        return None if box is None else box.transformed(self.model)


class DisplayStyle(enum.Enum):
    """How a render area draws triangles (meshes and shapes): :attr:`SceneManager.display_style`."""

    SURFACE = "surface"  # filled and lit
    WIREFRAME = "wireframe"  # the triangles' edges only, lit, hidden ones included
    SURFACE_WITH_EDGES = "edges"  # filled and lit, with every triangle's visible edges drawn dark over it


@dataclass(frozen=True, slots=True)
class Frame:
    """Everything one frame draws: the shapes, the camera with its placement, the background,
    lights that shine on every shape (e.g. a default headlight), and whether the frame is
    interactive (drawn while the view moves: volumes then take fewer samples); how triangles
    are drawn (``style``), and the node whose triangles are outlined in the highlight colour
    (``highlight``, or None)."""

    shapes: Sequence[ShapeInstance]
    camera: Camera
    camera_model: Matrix
    background: GradientBackground | None = None
    global_lights: tuple[LightInstance, ...] = ()
    interactive: bool = False
    style: DisplayStyle = DisplayStyle.SURFACE
    highlight: Node | None = None


class GatherAction(Action):
    """Records the shapes, the first camera and the first background of a scene graph."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[ShapeInstance] = []
        self.camera: Camera | None = None
        self.camera_model: Matrix = np.eye(4)
        self.background: GradientBackground | None = None

    def visit_camera(self, camera: Camera) -> None:
        """Keep the first camera and the model matrix above it."""
        if self.camera is None:
            self.camera = camera
            self.camera_model = self.state.model

    def visit_shape(self, shape: Shape) -> None:
        """Record the shape with the current state."""
        state = self.state
        self.shapes.append(
            ShapeInstance(
                shape, state.model, state.material, state.lights, self.path, state.clip_planes, state.texture
            )
        )

    def visit_background(self, background: GradientBackground) -> None:
        """Keep the first background."""
        if self.background is None:
            self.background = background

    @property
    def bounding_box(self) -> BoundingBox | None:
        """The world bounding box of every shape gathered, or None when there is nothing."""
        box: BoundingBox | None = None
        for instance in self.shapes:
            shape_box = instance.world_bounding_box
            if shape_box is not None:
                box = shape_box.union(box)
        return box


def gather(root: Node) -> GatherAction:
    """Run a :class:`GatherAction` over ``root`` and return it."""
    action = GatherAction()
    action.apply(root)
    return action


class EventArea(Protocol):
    """The render area an event happened in, as the scene graph sees it: a
    :class:`remoteviz.RenderArea` (the scene graph names no service type; narrow with ``isinstance``
    for the rest of it)."""

    @property
    def id(self) -> str:
        """The render area's id."""

    @property
    def width(self) -> int:
        """Its width in pixels."""

    @property
    def height(self) -> int:
        """Its height in pixels."""

    def request_redraw(self) -> None:
        """Draw a new frame soon."""

    def send_message(self, message: str | bytes) -> None:
        """Send an application message to every page that shows the area."""


class EventView(Protocol):
    """The browser view an event came from, as the scene graph sees it: a
    :class:`remoteviz.Connection` (narrow with ``isinstance`` for the rest of it)."""

    @property
    def id(self) -> str:
        """The connection's id."""

    def send_message(self, message: str | bytes) -> None:
        """Send an application message to that view's page."""


class HandleEventAction(Action):
    """Carries an input event through the graph until a node handles it.

    Event callbacks receive this action: ``event`` is the event, ``viewport`` the render area's
    size, and ``picked_point`` what lies under the event's position (computed on first use).
    """

    def __init__(
        self,
        event: InputEvent | GestureEvent,
        viewport: Viewport,
        pick: Callable[[int, int], PickedPoint | None],
        *,
        render_area: EventArea | None = None,
        connection: EventView | None = None,
    ) -> None:
        super().__init__()
        self.event = event
        self.viewport = viewport
        self.render_area = render_area
        """The render area the event happened in (None when the scene is driven without a service)."""
        self.connection = connection
        """The connection (browser view) that sent the event: where to answer with ``send_message``."""
        self._pick = pick
        self._picked: tuple[PickedPoint | None] | None = None
        self._handled = False

    @property
    def handled(self) -> bool:
        """Whether a node has handled the event."""
        return self._handled

    @property
    def is_done(self) -> bool:
        """A handled event goes no further."""
        return self._handled

    def set_handled(self) -> None:
        """Mark the event handled, ending its traversal."""
        self._handled = True

    @property
    def picked_point(self) -> PickedPoint | None:
        """The scene point under the event's position, or None over the background."""
        if self._picked is None:
            x, y = getattr(self.event, "x", None), getattr(self.event, "y", None)
            self._picked = (None if x is None or y is None else self._pick(int(x), int(y)),)
        return self._picked[0]

    def visit_event_callback(self, node: EventCallback) -> None:
        """Let the node's callbacks handle the event."""
        if node.dispatch(self):
            self.set_handled()

    def visit_examiner(self, examiner: SceneExaminer) -> None:
        """Let the examiner navigate; pass the event to its children only in SELECTION mode."""
        if examiner.handle_event(self):
            self.set_handled()
        elif examiner.passes_events_to_scene:
            examiner.traverse_contents(self)
