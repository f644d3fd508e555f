"""SceneManager: one render area's scene, its frames, its input and its picking.

The service keeps one scene manager per render area. It renders on the thread that calls
:meth:`SceneManager.render` (one of the service's render threads, or the dispatch thread), where it
makes the renderer's OpenGL context current; each manager has its own framebuffers at the render
area's size, in the context of each renderer that drew it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from remoteviz.events import InputEvent, TouchEvent
from remoteviz.rendering.actions import (
    DisplayStyle,
    EventArea,
    EventView,
    Frame,
    GatherAction,
    HandleEventAction,
    LightInstance,
    gather,
)
from remoteviz.rendering.camera import Camera, PerspectiveCamera, Viewport
from remoteviz.rendering.gl_platform import HEADLESS_PACKAGES, RenderingUnavailableError
from remoteviz.rendering.math3d import Matrix
from remoteviz.rendering.nodes import DirectionalLight, Group, Node
from remoteviz.rendering.picking import PickedPoint, pick
from remoteviz.rendering.shapes import Geometry
from remoteviz.rendering.touch import GestureEvent, TouchManager

if TYPE_CHECKING:
    from remoteviz.rendering.framebuffer import Framebuffer
    from remoteviz.rendering.renderer import Renderer

ANTIALIASING_MAX_TRIANGLES = 500_000
"""Default :attr:`SceneManager.antialiasing_max_triangles`: above it stills are not multisampled."""


def _shared_renderer(index: int = 0) -> Renderer:
    """The process's renderer ``index`` (:meth:`Renderer.shared`). OpenGL is first imported here,
    not when remoteviz is: an application that supplies its own frames then runs on machines
    without GL libraries."""
    try:
        from remoteviz.rendering.renderer import Renderer
    except (ImportError, OSError, AttributeError) as error:
        # PyOpenGL reports a missing libEGL/libGL as an AttributeError on its platform object.
        raise RenderingUnavailableError(
            f"OpenGL could not be loaded ({error}). "
            f"On Debian or Ubuntu install: apt-get install {HEADLESS_PACKAGES}"
        ) from error
    return Renderer.shared(index)


class SceneManager:
    """Renders one render area's scene graph and routes its input events.

    ``on_change`` is called (with no arguments) whenever the scene graph is replaced or anything in
    it changes: a field, a child added or removed, the camera moved by navigation. The render area
    uses it to mark itself dirty and schedule a frame.

    When the scene has no camera, a default perspective camera frames the whole scene each frame,
    with a headlight.
    """

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._on_change = on_change
        self._scene_graph: Node | None = None
        self._touch_manager = TouchManager()
        # By renderer (framebuffers belong to one context), then by sample count: still and interactive.
        self._framebuffers: dict[Renderer, dict[int, Framebuffer]] = {}
        self._antialiasing = 4
        self._interactive_antialiasing = 0
        self._antialiasing_max_triangles: int | None = ANTIALIASING_MAX_TRIANGLES
        self._default_camera = PerspectiveCamera(name="default camera")
        self._default_headlight = DirectionalLight(name="default headlight")
        self._display_style = DisplayStyle.SURFACE
        self._highlighted: Node | None = None
        self._last_renderer = 0
        self._disposed = False

    @property
    def scene_graph(self) -> Node | None:
        """The root of the scene, usually a SceneExaminer; setting it notifies ``on_change``."""
        return self._scene_graph

    @scene_graph.setter
    def scene_graph(self, root: Node | None) -> None:
        if root is not None and not isinstance(root, Node):
            raise TypeError(f"expected a Node or None, got {root!r}")
        if self._scene_graph is not None:
            self._scene_graph.remove_observer(self._changed)
        self._scene_graph = root
        if root is not None:
            root.add_observer(self._changed)
        self._changed()

    def find(self, name: str) -> Node | None:
        """The first node named ``name`` in the scene (see :meth:`Group.find`), or None."""
        root = self._scene_graph
        if root is None:
            return None
        return root.find(name) if isinstance(root, Group) else (root if root.name == name else None)

    def find_all(self, name: str) -> list[Node]:
        """Every node named ``name`` in the scene, depth first (see :meth:`Group.find_all`)."""
        root = self._scene_graph
        if root is None:
            return []
        return root.find_all(name) if isinstance(root, Group) else ([root] if root.name == name else [])

    @property
    def display_style(self) -> DisplayStyle:
        """How triangles are drawn: SURFACE (the default), WIREFRAME or SURFACE_WITH_EDGES.

        Points, lines, slices, volumes and labels are drawn as they are in every style.
        """
        return self._display_style

    @display_style.setter
    def display_style(self, style: DisplayStyle | str) -> None:
        self._display_style = DisplayStyle(style)
        self._changed()

    @property
    def highlighted(self) -> Node | None:
        """The node whose triangles (its own, or those of the shapes below it) are outlined in
        the highlight colour, over whatever hides them not; None (the default) for none."""
        return self._highlighted

    @highlighted.setter
    def highlighted(self, node: Node | None) -> None:
        if node is not None and not isinstance(node, Node):
            raise TypeError(f"expected a Node or None, got {node!r}")
        self._highlighted = node
        self._changed()

    @property
    def last_renderer(self) -> int:
        """The index of the renderer the last frame was drawn with (0 before any): a still drawn
        with it again (``render(..., renderer=last_renderer)``) finds the scene's GPU copies there."""
        return self._last_renderer

    @property
    def antialiasing(self) -> int:
        """Samples per pixel for multisample antialiasing (default 4; 0 turns it off).

        Software OpenGL (llvmpipe) pays for samples in full: 4 costs it about four times as much
        as 0. The driver's maximum applies when this asks for more.
        """
        return self._antialiasing

    @antialiasing.setter
    def antialiasing(self, samples: int) -> None:
        self._antialiasing = _sample_count(samples)
        self._changed()

    @property
    def interactive_antialiasing(self) -> int:
        """Samples per pixel for interactive frames (default 0: while the view moves, speed first).

        Still frames use :attr:`antialiasing`, so the picture at rest is smooth.
        """
        return self._interactive_antialiasing

    @interactive_antialiasing.setter
    def interactive_antialiasing(self, samples: int) -> None:
        self._interactive_antialiasing = _sample_count(samples)

    @property
    def antialiasing_max_triangles(self) -> int | None:
        """Still frames of scenes with more triangles than this use :attr:`interactive_antialiasing`
        (None: no limit; default :data:`ANTIALIASING_MAX_TRIANGLES`).

        On software OpenGL multisampling costs per triangle: llvmpipe draws a million triangles
        at 1280x720 in about 110 ms without it and 380 ms with 4 samples (2 cost as much as 4),
        so a huge mesh's sharp still would come long after the mouse is released. With a GPU,
        set None.
        """
        return self._antialiasing_max_triangles

    @antialiasing_max_triangles.setter
    def antialiasing_max_triangles(self, triangles: int | None) -> None:
        if triangles is not None and (not isinstance(triangles, int) or triangles < 0):
            raise ValueError(f"expected a triangle count of 0 or more or None, got {triangles!r}")
        self._antialiasing_max_triangles = triangles
        self._changed()

    @property
    def touch_manager(self) -> TouchManager:
        """The gesture recognizers for touch input on this render area."""
        return self._touch_manager

    def render(self, width: int, height: int, interactive: bool = False, *,
               renderer: int = 0) -> npt.NDArray[np.uint8]:
        """Draw the scene at ``width`` x ``height``; returns ``(height, width, 3)`` RGB, top row first.

        An ``interactive`` frame uses :attr:`interactive_antialiasing` instead of
        :attr:`antialiasing` (so does a still of more than :attr:`antialiasing_max_triangles`
        triangles), and volumes take their interactive sample rate. ``renderer`` is the index of the
        process's renderer to draw with (the service's render threads each use their own); the
        scene must not change meanwhile. Raises :class:`RenderingUnavailableError` when no OpenGL
        context can be made.
        """
        self._check_alive()
        viewport = Viewport(width, height)
        drawer = _shared_renderer(renderer)
        self._last_renderer = renderer
        frame = self._frame(viewport, interactive)
        limit = self._antialiasing_max_triangles
        huge = limit is not None and _triangle_count(frame) > limit
        samples = self._interactive_antialiasing if interactive or huge else self._antialiasing
        with drawer.bound():
            framebuffer = self._target(drawer, width, height, samples)
            drawer.draw(frame, framebuffer)
            return framebuffer.read_pixels()

    def process_event(self, event: InputEvent, width: int, height: int, *,
                      render_area: EventArea | None = None, connection: EventView | None = None) -> bool:
        """Send an input event to the scene: the examiner, touch gestures, event callbacks.

        Touch events also feed the touch manager; the gestures it recognizes go to its listeners,
        then through the scene. ``render_area`` and ``connection`` (where the event came from, as
        the service passes them) reach event callbacks on the action. Returns True when anything
        handled the event.
        """
        self._check_alive()
        viewport = Viewport(width, height)
        handled = False
        source = (render_area, connection)
        if isinstance(event, TouchEvent):
            for gesture in self._touch_manager.recognize(event):
                claimed = self._touch_manager.notify(gesture)
                handled = claimed or self._handle(gesture, viewport, source) or handled
        return self._handle(event, viewport, source) or handled

    def pick(self, x: int, y: int, width: int, height: int, *, exclude: Node | None = None) -> PickedPoint | None:
        """The scene point under pixel ``(x, y)`` (origin top-left), or None over the background.

        Shapes at or below ``exclude`` (an overlay of markers, say) are not picked.
        """
        self._check_alive()
        viewport = Viewport(width, height)
        gathered, camera, camera_model = self._view(viewport)
        shapes = gathered.shapes if exclude is None else [i for i in gathered.shapes if exclude not in i.path]
        return pick(shapes, camera, camera_model, viewport, x, y)

    def view_frame(self, width: int, height: int) -> Frame:
        """What a frame of ``width`` x ``height`` shows: the shapes as traversed, the camera (the
        default one, framing the scene, when the scene has none), background and default lights.
        Client-side rendering sends this instead of drawing it; no OpenGL is needed."""
        self._check_alive()
        return self._frame(Viewport(width, height), False)

    def dispose(self) -> None:
        """Free this render area's GL objects and stop observing the scene. Idempotent."""
        if self._disposed:
            return
        self._disposed = True
        if self._scene_graph is not None:
            self._scene_graph.remove_observer(self._changed)
        for drawer, framebuffers in self._framebuffers.items():
            from remoteviz.rendering.framebuffer import release_deleted  # OpenGL is loaded: there are framebuffers

            with drawer.bound():
                for framebuffer in framebuffers.values():
                    framebuffer.delete()
                release_deleted()
        self._framebuffers.clear()

    def _target(self, drawer: Renderer, width: int, height: int, samples: int) -> Framebuffer:
        """This render area's framebuffer in ``drawer``'s context for ``samples``, at the size asked for."""
        from remoteviz.rendering.framebuffer import Framebuffer  # OpenGL is loaded: see _shared_renderer

        framebuffers = self._framebuffers.setdefault(drawer, {})
        for stale in [n for n in framebuffers if n not in (self._antialiasing, self._interactive_antialiasing)]:
            framebuffers.pop(stale).delete()  # a sample count no longer in use
        framebuffer = framebuffers.get(samples)
        if framebuffer is None:
            framebuffer = framebuffers[samples] = Framebuffer(width, height, samples)
        framebuffer.resize(width, height)
        return framebuffer

    def _handle(self, event: InputEvent | GestureEvent, viewport: Viewport,
                source: tuple[EventArea | None, EventView | None]) -> bool:
        if self._scene_graph is None:
            return False
        action = HandleEventAction(
            event, viewport, lambda x, y: self.pick(x, y, viewport.width, viewport.height),
            render_area=source[0], connection=source[1],
        )
        action.apply(self._scene_graph)
        return action.handled

    def _view(self, viewport: Viewport) -> tuple[GatherAction, Camera, Matrix]:
        """The scene's shapes and the camera to see them with (the default one if it has none)."""
        gathered = gather(self._scene_graph if self._scene_graph is not None else Group())
        if gathered.camera is not None:
            return gathered, gathered.camera, gathered.camera_model
        if self._scene_graph is not None:
            self._default_camera.view_all(viewport, self._scene_graph)
        return gathered, self._default_camera, np.eye(4)

    def _frame(self, viewport: Viewport, interactive: bool) -> Frame:
        gathered, camera, camera_model = self._view(viewport)
        headlights: tuple[LightInstance, ...] = ()
        if camera is self._default_camera:
            headlights = (LightInstance(self._default_headlight, camera.matrix),)
        return Frame(gathered.shapes, camera, camera_model, gathered.background, headlights, interactive,
                     self._display_style, self._highlighted)

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def _check_alive(self) -> None:
        if self._disposed:
            raise RuntimeError("this SceneManager has been disposed")


def _triangle_count(frame: Frame) -> int:
    """Triangles of the frame's meshes and surface shapes (in full, as a still draws them)."""
    return sum(len(i.shape.geometry.indices) for i in frame.shapes if type(i.shape.geometry) is Geometry)


def _sample_count(samples: int) -> int:
    if not isinstance(samples, int) or samples < 0:
        raise ValueError(f"expected a sample count of 0 or more, got {samples!r}")
    return samples
