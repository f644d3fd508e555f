"""Viewer tools: a render area's model tree, views, display styles, clip plane, measuring and screenshots,
driven by JSON application messages (the built-in page's toolbar speaks them; so may any page).

    tools = rv.ViewerTools(render_area)   # in on_instantiated_render_area, once the scene is set

Every message is a JSON object whose ``type`` starts with ``viewer.``; other messages are left to
the application's own listeners. The whole API is in ``docs/guide.md`` ("The viewer's tools").
What the tools add to the scene (the measuring marks, the clip plane) lives in two nodes of the
scene root named :data:`ANNOTATIONS_NAME` and :data:`CLIP_PLANE_NAME`, left out of the tree and of
picking. Everything runs on the dispatch thread, as listeners do.
"""

from __future__ import annotations

import enum
import json
import logging
import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from .colormap_messages import ColormapMessages
from .events import MouseButton, MouseEvent
from .render_area import RenderArea, RenderAreaListener
from .rendering import (
    BoundingBox,
    Camera,
    ClipPlane,
    Group,
    LineSet,
    Node,
    OrthographicCamera,
    PerspectiveCamera,
    PointSet,
    Rotation,
    SceneExaminer,
    Separator,
    Shape,
    Text2D,
)
from .rendering.actions import DisplayStyle, gather
from .rendering.math3d import normalized

if TYPE_CHECKING:
    from .connection import Connection
    from .rendering import PickedPoint

log = logging.getLogger("remoteviz.viewer_tools")

MESSAGE_PREFIX = "viewer."
"""The ``type`` of every message the tools take and send starts with this."""

ANNOTATIONS_NAME = "remoteviz viewer annotations"
"""The name of the separator holding the measuring marks (points, lines, labels)."""

CLIP_PLANE_NAME = "remoteviz viewer clip plane"
"""The name of the clip plane the ``viewer.clip`` message turns on and moves."""

MAX_TREE_NODES = 5000
"""A tree message lists at most this many nodes (then says ``"truncated": true``)."""

CLICK_TOLERANCE = 3
"""Pixels a press may move before its release and still count as a click (a pick), not a drag."""

MARK_COLOR = (1.0, 0.2, 0.6)
"""The colour of the measuring marks: points, lines and the labels' text."""

MAX_MARKS = 400
"""Marks (points, lines, labels) kept in the picture; beyond it the oldest go."""

SCREENSHOT_INTERVAL = 0.25
"""Seconds a page waits between screenshots: each is a full-size still drawn on the dispatch thread."""

PROBE_INTERVAL = 0.1
"""Seconds at least between two picks under a hovering pointer; after a slow pick (a big mesh,
on the CPU) four times its duration, so that probing takes at most a fifth of the dispatch
thread. Moves in between are not probed."""

# Where the camera looks from (view direction, up) for each standard view; y is up.
_VIEWS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "front": ((0.0, 0.0, -1.0), (0.0, 1.0, 0.0)),
    "back": ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
    "left": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "right": ((-1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "top": ((0.0, -1.0, 0.0), (0.0, 0.0, -1.0)),
    "bottom": ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "iso": ((-1.0, -1.0, -1.0), (0.0, 1.0, 0.0)),
}
VIEWS = ("home", *_VIEWS)
"""The views ``viewer.view`` takes: home (where the camera was when the tools were attached) and
the standard ones, looking at the scene from the front (down -z), back, left, right, top, bottom
and an isometric corner, the scene framed."""


class ViewerTool(enum.Enum):
    """What a click (press and release without a drag) on the view does."""

    NAVIGATE = "navigate"  # nothing: the examiner alone has the mouse
    SELECT = "select"  # select (highlight) the node under the pointer
    POINT = "point"  # mark the point under the pointer with its coordinates (and value)
    DISTANCE = "distance"  # two clicks: the distance between the points
    ANGLE = "angle"  # three clicks: the angle at the second point


_POINTS_NEEDED = {ViewerTool.POINT: 1, ViewerTool.DISTANCE: 2, ViewerTool.ANGLE: 3}


class ViewerToolsError(ValueError):
    """A viewer message the tools cannot carry out; its text goes back to the page that sent it."""


class ViewerTools(RenderAreaListener):
    """The viewer's tools for one render area; creating it attaches it as the area's listener.

    Drives the area's scene (a :class:`~remoteviz.rendering.SceneExaminer` for the views and the
    projection) from ``viewer.*`` messages and from clicks on the view while a tool is chosen,
    and tells the area's pages what it did (``viewer.state``, ``viewer.tree``,
    ``viewer.measure``...). The same operations are methods, for Python callers.
    """

    def __init__(self, render_area: RenderArea) -> None:
        self._area = render_area
        self._tool = ViewerTool.NAVIGATE
        self._picks: list[tuple[np.ndarray, float | None]] = []
        self._pressed: tuple[int, int] | None = None
        self._selected: Node | None = None
        self._annotations = Separator(name=ANNOTATIONS_NAME)
        self._clip = ClipPlane(name=CLIP_PLANE_NAME, on=False)
        self._clip_position = 0.5
        self._clip_box: BoundingBox | None = None
        self._last_screenshot: dict[str, float] = {}  # connection id -> when it last had one
        self._next_probe = -math.inf
        self._home: Rotation | None = None
        self._remember_home()
        self._root_seen = render_area.scene_manager.scene_graph
        render_area.add_listener(self)
        # The toolbar's colour map and range control speaks the colour map messages.
        render_area.add_listener(ColormapMessages())

    # ------------------------------------------------------------------ what the pages are told

    def state(self) -> dict[str, Any]:
        """The ``viewer.state`` message: tool, style, projection, clip plane, selection, scalars."""
        scene = self._area.scene_manager
        camera = self._camera()
        return {
            "type": MESSAGE_PREFIX + "state",
            "tool": self._tool.value,
            "style": scene.display_style.value,
            "projection": "orthographic" if isinstance(camera, OrthographicCamera) else "perspective",
            "clip": {"on": bool(self._clip.on), "position": self._clip_position},
            "selected": None if self._selected is None else self._node_id(self._selected),
            "picks": len(self._picks),
            "views": list(VIEWS),
            "tools": [tool.value for tool in ViewerTool],
            "styles": [style.value for style in DisplayStyle],
            "scalars": self._has_scalars(),
        }

    def tree(self) -> dict[str, Any]:
        """The ``viewer.tree`` message: the scene's groups and shapes, nested, with their ids.

        A node's id is the path of child positions from the scene root (``"0.2"``: the root's
        first child's third child); it holds until the graph's structure changes, when the page
        asks for the tree again.
        """
        root = self._area.scene_manager.scene_graph
        budget = [MAX_TREE_NODES]
        nodes = self._children_of(root, "", budget) if isinstance(root, Group) else []
        return {"type": MESSAGE_PREFIX + "tree", "nodes": nodes, "truncated": budget[0] < 0}

    # ------------------------------------------------------------------ operations

    def node(self, node_id: str) -> Node:
        """The node with tree id ``node_id``; raises :class:`ViewerToolsError` for none."""
        root = self._area.scene_manager.scene_graph
        if root is None:
            raise ViewerToolsError(f"no node {node_id!r}")
        node: Node = root
        for part in node_id.split(".") if node_id else ():
            if not isinstance(node, Group) or not part.isdigit() or int(part) >= len(node):
                raise ViewerToolsError(f"no node {node_id!r}")
            node = node[int(part)]
        return node

    def set_visible(self, node: Node, visible: bool) -> None:
        """Show or hide ``node`` (and everything below it)."""
        node.visible = bool(visible)

    def isolate(self, node: Node | None) -> None:
        """Show ``node`` alone: its siblings, and those of every group above it, hidden; None shows
        every node of the tree again."""
        root = self._area.scene_manager.scene_graph
        if not isinstance(root, Group):
            return
        if node is None:
            for listed in self._listed(root):
                listed.visible = True
            return
        path = self._path_to(node)
        if path is None:
            raise ViewerToolsError(f"{node!r} is not in the scene")
        for group, child in zip(path, path[1:]):
            assert isinstance(group, Group)  # every node above another on a path holds it
            child.visible = True
            for sibling in group.children:
                if sibling is not child and self._is_listed(sibling):
                    sibling.visible = False

    def fit(self, node: Node | None = None) -> None:
        """Frame ``node`` (its shapes as drawn, transforms above it included), or the whole scene."""
        examiner = self._examiner()
        camera = examiner.camera
        viewport = self._area.viewport
        if node is None:
            camera.view_all(viewport, examiner)
            return
        gathered = gather(examiner)
        box: BoundingBox | None = None
        for instance in gathered.shapes:
            if node in instance.path:
                shape_box = instance.world_bounding_box
                if shape_box is not None:
                    box = shape_box.union(box)
        if box is None:
            raise ViewerToolsError(f"{node!r} shows nothing to frame (hidden or empty)")
        camera.view_box(viewport, box)

    def select(self, node: Node | None) -> None:
        """Highlight ``node`` (None: nothing) in the picture and tell the pages."""
        self._selected = node
        self._area.scene_manager.highlighted = node

    def set_view(self, view: str) -> None:
        """Look at the scene from one of :data:`VIEWS`, framing it."""
        examiner = self._examiner()
        camera = examiner.camera
        if view == "home":
            self._remember_home()
            if self._home is not None:
                camera.orientation = self._home
        elif view in _VIEWS:
            direction, up = _VIEWS[view]
            target = camera.focal_point
            camera.position = target - normalized(direction) * camera.focal_distance
            camera.point_at(target, up)
        else:
            raise ViewerToolsError(f"no view {view!r}: one of {', '.join(VIEWS)}")
        camera.view_all(self._area.viewport, examiner)

    def set_projection(self, orthographic: bool) -> None:
        """Switch the examiner's camera to an orthographic or a perspective one, showing as much
        of the scene at the focal point as before."""
        examiner = self._examiner()
        old = examiner.camera
        if isinstance(old, OrthographicCamera) == bool(orthographic):
            return
        new: Camera
        if isinstance(old, PerspectiveCamera):
            height = 2.0 * old.focal_distance * math.tan(old.height_angle / 2.0)
            new = OrthographicCamera(position=old.position, focal_distance=old.focal_distance, height=height)
        elif isinstance(old, OrthographicCamera):
            new = PerspectiveCamera()
            # Back off along the view so that the focal plane shows the height the orthographic one did.
            distance = old.height / 2.0 / math.tan(new.height_angle / 2.0)
            new.focal_distance = distance
            new.position = old.focal_point - old.view_direction * distance
        else:
            raise ViewerToolsError(f"cannot change the projection of a {type(old).__name__}")
        new.orientation = old.orientation
        examiner.camera = new

    def set_style(self, style: DisplayStyle | str) -> None:
        """Draw triangles as surfaces, wireframes or surfaces with edges (:class:`DisplayStyle`)."""
        try:
            self._area.scene_manager.display_style = DisplayStyle(style)
        except ValueError as error:
            raise ViewerToolsError(f"no style {style!r}: one of {', '.join(s.value for s in DisplayStyle)}") from error

    def set_clip(self, on: bool, position: float | None = None) -> None:
        """Turn the viewer's clip plane on or off; ``position`` (0 to 1) places it across the
        scene along the view direction as it was when the plane was turned on (0: nothing cut
        away, 1: everything)."""
        root = self._root()
        if position is not None:
            if not isinstance(position, (int, float)) or not 0.0 <= position <= 1.0:
                raise ViewerToolsError(f"a clip position is from 0 to 1, got {position!r}")
            self._clip_position = float(position)
        if on and not self._clip.on:
            self._clip_box = self._scene_box()
            camera = self._camera()
            self._clip.normal = tuple(camera.view_direction) if camera is not None else (0.0, 0.0, -1.0)
        if self._clip not in root.children:
            root.insert_child(0, self._clip)  # before every child, so that it cuts them all
        box = self._clip_box
        if box is not None:
            normal = np.asarray(self._clip.normal)
            depths = box.corners @ normal
            # A little beyond the scene at both ends: 0 keeps a face lying on the near end, 1 cuts one on the far end.
            pad = 1e-3 * float(depths.max() - depths.min()) + 1e-9
            low, high = float(depths.min()) - pad, float(depths.max()) + pad
            self._clip.offset = low + self._clip_position * (high - low)
        self._clip.on = bool(on)

    def set_tool(self, tool: ViewerTool | str) -> None:
        """Choose what a click on the view does; an unfinished measure is abandoned (its marks stay
        until :meth:`clear`)."""
        try:
            self._tool = ViewerTool(tool)
        except ValueError as error:
            raise ViewerToolsError(f"no tool {tool!r}: one of {', '.join(t.value for t in ViewerTool)}") from error
        self._picks.clear()

    def clear(self) -> None:
        """Remove every measuring mark."""
        self._picks.clear()
        self._annotations.remove_all_children()

    def pick(self, x: int, y: int) -> dict[str, Any] | None:
        """Carry out the chosen tool at render-area pixel ``(x, y)``: select the node there (none
        over the background), or add the point to the measure. Returns the message the pages are
        sent (None when the tool is NAVIGATE, or a measuring tool finds nothing there)."""
        if self._tool is ViewerTool.NAVIGATE:
            return None
        picked = self._pick(x, y)
        if self._tool is ViewerTool.SELECT:
            node = None if picked is None else self._listed_owner(picked)  # the background: none
            self.select(node)
            return {"type": MESSAGE_PREFIX + "selected", "node": None if node is None else self._node_id(node),
                    "name": None if node is None else node.name}
        if picked is None:
            return None
        point = np.asarray(picked.point, np.float64)
        self._picks.append((point, picked.value))
        self._mark(point + self._lift(picked))
        if len(self._picks) < _POINTS_NEEDED[self._tool]:
            return {"type": MESSAGE_PREFIX + "measure", "tool": self._tool.value, "done": False,
                    "points": [p.tolist() for p, _ in self._picks]}
        return self._finish_measure()

    def screenshot(self) -> bytes:
        """The current view as PNG bytes at the area's full size (see ``RenderArea.screenshot``)."""
        return self._area.screenshot()

    # ------------------------------------------------------------------ the listener

    def on_initialized_connection(self, render_area: RenderArea, connection: Connection, frame_encoders: Any) -> None:
        """A new page: tell it the tools are here, and what the scene holds."""
        self._remember_home()  # a scene set after the tools were attached: its view before any input
        connection.send_message(json.dumps(self.state()))
        connection.send_message(json.dumps(self.tree()))

    def on_received_message(self, render_area: RenderArea, connection: Connection, message: str | bytes) -> None:
        """Carry out a ``viewer.*`` message; a bad one is answered with ``viewer.error`` to its sender."""
        if not isinstance(message, str) or MESSAGE_PREFIX not in message[:200]:
            return
        try:
            request = json.loads(message)
        except ValueError:
            return  # not JSON: another listener's message that happens to mention us
        if not isinstance(request, dict) or not str(request.get("type", "")).startswith(MESSAGE_PREFIX):
            return
        kind = request["type"]
        try:
            self._handle(kind[len(MESSAGE_PREFIX):], request, connection)
        except ViewerToolsError as error:
            connection.send_message(json.dumps({"type": MESSAGE_PREFIX + "error", "request": kind,
                                                "message": str(error)}))

    def on_pre_render(self, render_area: RenderArea) -> bool:
        """A scene replaced since the last frame (a file loaded, say): start over with it and tell
        the pages its tree."""
        root = render_area.scene_manager.scene_graph
        if root is not self._root_seen:
            self._root_seen = root
            self._home = None
            self._remember_home()
            self._picks.clear()
            self._annotations.remove_all_children()
            self._clip.on = False
            self.select(None)
            render_area.send_message(json.dumps(self.state()))
            render_area.send_message(json.dumps(self.tree()))
        return True

    def on_closed_connection(self, render_area: RenderArea, connection_id: str, aborted: bool) -> None:
        """Forget the page's screenshot time."""
        self._last_screenshot.pop(connection_id, None)

    def on_mouse_down(self, render_area: RenderArea, connection: Connection, x: int, y: int, button: int,
                      *, event: MouseEvent) -> bool:
        """A left press may start a click for the chosen tool."""
        self._pressed = (x, y) if button == MouseButton.LEFT and self._tool is not ViewerTool.NAVIGATE else None
        return True

    def on_mouse_up(self, render_area: RenderArea, connection: Connection, x: int, y: int, button: int,
                    *, event: MouseEvent) -> bool:
        """A release near its press is a click: the tool acts there."""
        pressed, self._pressed = self._pressed, None
        if pressed is not None and button == MouseButton.LEFT and \
                max(abs(x - pressed[0]), abs(y - pressed[1])) <= CLICK_TOLERANCE:
            answer = self.pick(x, y)
            if answer is not None:
                self._area.send_message(json.dumps(answer))
            self._area.send_message(json.dumps(self.state()))
        return True

    def on_mouse_move(self, render_area: RenderArea, connection: Connection, x: int, y: int,
                      *, event: MouseEvent) -> bool:
        """While measuring, the point under a hovering pointer goes to its page (``viewer.probe``)."""
        started = time.monotonic()
        if self._tool in _POINTS_NEEDED and not event.buttons and started >= self._next_probe:
            picked = self._pick(x, y)
            self._next_probe = started + max(PROBE_INTERVAL, 4.0 * (time.monotonic() - started))
            connection.send_message(json.dumps({
                "type": MESSAGE_PREFIX + "probe",
                "point": None if picked is None else np.asarray(picked.point).tolist(),
                "value": None if picked is None else picked.value,
                "name": None if picked is None else picked.node.name}))
        return True

    # ------------------------------------------------------------------ messages

    def _handle(self, kind: str, request: dict[str, Any], connection: Connection) -> None:
        if kind == "hello":
            connection.send_message(json.dumps(self.state()))
            connection.send_message(json.dumps(self.tree()))
            return
        if kind == "tree":
            connection.send_message(json.dumps(self.tree()))
            return
        if kind == "screenshot":
            now = time.monotonic()
            if now - self._last_screenshot.get(connection.id, -math.inf) < SCREENSHOT_INTERVAL:
                raise ViewerToolsError(f"one screenshot per {SCREENSHOT_INTERVAL} s")
            self._last_screenshot[connection.id] = now
            try:
                png = self.screenshot()
            except Exception as error:  # no OpenGL, a scene that cannot be drawn: the page hears why
                log.exception("a screenshot of %r failed", self._area)
                raise ViewerToolsError(f"the screenshot failed: {error}") from error
            connection.send_message(json.dumps({"type": MESSAGE_PREFIX + "screenshot", "bytes": len(png),
                                                "width": self._area.width, "height": self._area.height}))
            connection.send_message(png)  # the next message on this connection: the PNG itself
            return
        if kind == "pick":
            answer = self.pick(_integer(request, "x"), _integer(request, "y"))
            if answer is not None:
                self._area.send_message(json.dumps(answer))
        elif kind == "visibility":
            self.set_visible(self.node(_text(request, "node")), _flag(request, "visible"))
            self._area.send_message(json.dumps(self.tree()))
        elif kind == "isolate":
            self.isolate(self._optional_node(request))
            self._area.send_message(json.dumps(self.tree()))
        elif kind == "fit":
            self.fit(self._optional_node(request))
        elif kind == "select":
            self.select(self._optional_node(request))
        elif kind == "view":
            self.set_view(str(request.get("view")))
        elif kind == "projection":
            projection = request.get("projection")
            if projection not in ("perspective", "orthographic"):
                raise ViewerToolsError(f"no projection {projection!r}: perspective or orthographic")
            self.set_projection(projection == "orthographic")
        elif kind == "style":
            self.set_style(str(request.get("style")))
        elif kind == "clip":
            position = request.get("position")
            inserted = self._clip not in self._root().children
            self.set_clip(_flag(request, "on"), None if position is None else _number(position))
            if inserted:  # the plane went before the root's children: their ids moved
                self._area.send_message(json.dumps(self.tree()))
        elif kind == "tool":
            self.set_tool(str(request.get("tool")))
        elif kind == "clear":
            self.clear()
        else:
            raise ViewerToolsError(f"unknown request {MESSAGE_PREFIX + kind!r}")
        self._area.send_message(json.dumps(self.state()))

    def _optional_node(self, request: dict[str, Any]) -> Node | None:
        """The node a request names by id, or None for ``"node": null`` (or none given)."""
        return None if request.get("node") is None else self.node(_text(request, "node"))

    # ------------------------------------------------------------------ the scene

    def _root(self) -> Group:
        root = self._area.scene_manager.scene_graph
        if not isinstance(root, Group):
            raise ViewerToolsError("the render area has no scene")
        return root

    def _examiner(self) -> SceneExaminer:
        root = self._area.scene_manager.scene_graph
        if not isinstance(root, SceneExaminer):
            raise ViewerToolsError("views and projections need a SceneExaminer at the scene's root")
        return root

    def _remember_home(self) -> None:
        """The home view: the camera's direction when the tools first see a camera."""
        if self._home is None:
            camera = self._camera()
            self._home = None if camera is None else camera.orientation

    def _camera(self) -> Camera | None:
        root = self._area.scene_manager.scene_graph
        return root.camera if isinstance(root, SceneExaminer) else None

    def _scene_box(self) -> BoundingBox | None:
        root = self._area.scene_manager.scene_graph
        if root is None:
            return None
        gathered = gather(root)
        box: BoundingBox | None = None
        for instance in gathered.shapes:
            if self._annotations not in instance.path:
                shape_box = instance.world_bounding_box
                if shape_box is not None:
                    box = shape_box.union(box)
        return box

    def _has_scalars(self) -> bool:
        """Whether a shape in the scene is coloured by a scalar field (has ``scalars`` set)."""
        root = self._area.scene_manager.scene_graph
        if root is None:
            return False
        return any(getattr(i.shape, "scalars", None) is not None for i in gather(root).shapes)

    def _is_listed(self, node: Node) -> bool:
        """Groups and shapes appear in the tree; the tools' own nodes do not."""
        return isinstance(node, (Group, Shape)) and node is not self._annotations

    def _listed(self, root: Group) -> Iterator[Node]:
        for child in root.children:
            if self._is_listed(child):
                yield child
                if isinstance(child, Group):
                    yield from self._listed(child)

    def _children_of(self, group: Group, prefix: str, budget: list[int]) -> list[dict[str, Any]]:
        described: list[dict[str, Any]] = []
        for index, child in enumerate(group.children):
            if not self._is_listed(child):
                continue
            budget[0] -= 1
            if budget[0] < 0:
                break
            node_id = f"{prefix}{index}"
            entry: dict[str, Any] = {"id": node_id, "name": child.name, "kind": type(child).__name__,
                                     "visible": bool(child.visible)}
            if isinstance(child, Group):
                entry["children"] = self._children_of(child, node_id + ".", budget)
            described.append(entry)
        return described

    def _path_to(self, node: Node) -> list[Node] | None:
        """The nodes from the scene root down to ``node``, or None when it is not in the scene."""
        root = self._area.scene_manager.scene_graph
        if root is None:
            return None

        def search(current: Node) -> list[Node] | None:
            if current is node:
                return [current]
            if isinstance(current, Group):
                for child in current.children:
                    found = search(child)
                    if found is not None:
                        return [current, *found]
            return None

        return search(root)

    def _node_id(self, node: Node) -> str | None:
        path = self._path_to(node)
        if path is None:
            return None
        positions = []
        for group, child in zip(path, path[1:]):
            assert isinstance(group, Group)
            positions.append(str(next(i for i, c in enumerate(group.children) if c is child)))
        return ".".join(positions)

    def _listed_owner(self, picked: PickedPoint) -> Node | None:
        """The node a click selects: the picked shape's nearest named listed ancestor (itself if named)."""
        listed = [n for n in picked.path[1:] if self._is_listed(n)]
        named = [n for n in listed if n.name]
        return named[-1] if named else (listed[-1] if listed else None)

    # ------------------------------------------------------------------ measuring

    def _pick(self, x: int, y: int) -> PickedPoint | None:
        area = self._area
        if area.scene_manager.scene_graph is None:
            return None
        return area.scene_manager.pick(x, y, area.width, area.height, exclude=self._annotations)

    def _lift(self, picked: PickedPoint) -> np.ndarray:
        """A small step towards the viewer, so that a mark on a surface is drawn in front of it."""
        box = self._scene_box()
        size = float(np.linalg.norm(box.size)) if box is not None else 1.0
        return np.asarray(picked.normal, np.float64) * size * 2e-3

    def _mark(self, point: np.ndarray) -> None:
        root = self._root()
        if self._annotations not in root.children:
            root.add_child(self._annotations)
        self._annotations.add_child(PointSet(point[None], size=9.0, name="mark", colors=[(*MARK_COLOR, 1.0)]))
        self._drop_old_marks()

    def _drop_old_marks(self) -> None:
        while len(self._annotations) > MAX_MARKS:
            self._annotations.remove_child(0)

    def _finish_measure(self) -> dict[str, Any]:
        points = [p for p, _ in self._picks]
        values = [v for _, v in self._picks]
        self._picks.clear()
        answer: dict[str, Any] = {"type": MESSAGE_PREFIX + "measure", "tool": self._tool.value, "done": True,
                                  "points": [p.tolist() for p in points]}
        if self._tool is ViewerTool.POINT:
            (point,) = points
            answer["value"] = values[0]
            text = "({})".format(", ".join(f"{c:.4g}" for c in point))
            if values[0] is not None:
                text += f"\nvalue {values[0]:.4g}"
            anchor = point
        elif self._tool is ViewerTool.DISTANCE:
            distance = float(np.linalg.norm(points[1] - points[0]))
            answer["distance"] = distance
            text, anchor = f"{distance:.4g}", (points[0] + points[1]) / 2.0
        else:
            first, vertex, last = points
            a, b = first - vertex, last - vertex
            cosine = float(np.dot(a, b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-300))
            angle = math.degrees(math.acos(min(1.0, max(-1.0, cosine))))
            answer["angle"] = angle
            text, anchor = f"{angle:.4g}°", vertex
        if len(points) > 1:
            self._annotations.add_child(LineSet(np.asarray(points), width=2.0, name="measure line",
                                                colors=[(*MARK_COLOR, 1.0)] * len(points)))
        self._annotations.add_child(Text2D(text, position=anchor, name="measure label", color=MARK_COLOR))
        self._drop_old_marks()
        return answer


def _flag(request: dict[str, Any], key: str) -> bool:
    value = request.get(key)
    if not isinstance(value, bool):
        raise ViewerToolsError(f"{key!r} must be true or false, got {value!r}")
    return value


def _text(request: dict[str, Any], key: str) -> str:
    value = request.get(key)
    if not isinstance(value, str):
        raise ViewerToolsError(f"{key!r} must be a string, got {value!r}")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ViewerToolsError(f"expected a number, got {value!r}")
    return float(value)


def _integer(request: dict[str, Any], key: str) -> int:
    value = request.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ViewerToolsError(f"{key!r} must be an integer, got {value!r}")
    return value
