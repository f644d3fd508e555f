"""The scene graph's nodes: grouping, transforms, materials, lights, background, event callbacks.

Nodes form a directed acyclic graph. Each node tells its observers and its parents when it changes
(a field assigned, a child added or removed), so an observer on the root hears about any edit
below it; this is how a render area knows it must draw a new frame. Traversal follows Open
Inventor: an action walks the graph depth first, and nodes such as :class:`Transform`,
:class:`Material` and :class:`DirectionalLight` change the state for the nodes after them, up to
the end of the enclosing :class:`Separator`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from remoteviz.rendering.fields import (
    Field,
    as_bool,
    as_color,
    as_float,
    as_unit_float,
)
from remoteviz.rendering.math3d import (
    Matrix,
    Rotation,
    as_rotation,
    as_vec3,
    normalized,
    scale_matrix,
    translation_matrix,
)

if TYPE_CHECKING:
    from remoteviz.rendering.actions import Action, HandleEventAction

N = TypeVar("N", bound="Node")

ChangeCallback = Callable[[], None]


def _as_direction_value(value: Iterable[float]) -> tuple[float, float, float]:
    return as_vec3(normalized(as_vec3(value)))


def as_child_index(value: Any) -> int:
    """A child position, or -1 for none."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"expected an integer child position, got {value!r}")
    if value < -1:
        raise ValueError(f"expected a child position or -1, got {value!r}")
    return int(value)


class Node:
    """The base of every scene graph node.

    Keyword arguments set fields: ``Material(diffuse_color=(1, 0, 0))``. ``name`` is free text for
    the application (it shows up in pick paths). A node whose ``visible`` is False is skipped by
    every traversal, with everything below it: it is neither drawn, picked nor framed, and its
    state changes (a transform, a clip plane) do not apply, until it is made visible again.
    """

    visible = Field(True, as_bool, "False hides the node and everything below it from every traversal.")

    def __init__(self, *, name: str = "", **fields: Any) -> None:
        self.name = name
        # Parents are held weakly, so a child kept by the application does not keep old scenes
        # alive; the count covers a child added several times to one group.
        self._parents: weakref.WeakKeyDictionary[Node, int] = weakref.WeakKeyDictionary()
        self._observers: list[ChangeCallback] = []
        self._version = 0
        for field_name, value in fields.items():
            if not isinstance(getattr(type(self), field_name, None), Field):
                raise TypeError(f"{type(self).__name__} has no field {field_name!r}")
            setattr(self, field_name, value)

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<{type(self).__name__}{label}>"

    @property
    def version(self) -> int:
        """A counter bumped each time this node itself changes (not its children)."""
        return self._version

    @property
    def parents(self) -> tuple[Node, ...]:
        """The nodes that hold this one."""
        return tuple(self._parents.keys())

    def add_observer(self, callback: ChangeCallback) -> None:
        """Call ``callback()`` whenever this node or anything below it changes."""
        self._observers.append(callback)

    def remove_observer(self, callback: ChangeCallback) -> None:
        """Stop calling ``callback``; one registration is removed per call."""
        self._observers.remove(callback)

    def touch(self) -> None:
        """Mark this node changed and notify observers up the graph.

        Fields call this themselves; call it after changing an array in place (``mesh.vertices[0]
        = ...``), which a field cannot see.
        """
        self._version += 1
        self._notify_changed()

    def touch_appearance(self) -> None:
        """Mark a change of how the node looks that leaves its geometry as it is (a colour map, a
        value range): observers redraw, and a shape keeps its geometry and its GPU buffers."""
        self.touch()

    def traverse(self, action: Action) -> None:
        """Apply ``action`` to this node; the base node does nothing."""

    def _notify_changed(self) -> None:
        for callback in tuple(self._observers):
            callback()
        for parent in tuple(self._parents.keys()):
            parent._notify_changed()

    def _add_parent(self, parent: Node) -> None:
        self._parents[parent] = self._parents.get(parent, 0) + 1

    def _remove_parent(self, parent: Node) -> None:
        remaining = self._parents[parent] - 1
        if remaining:
            self._parents[parent] = remaining
        else:
            del self._parents[parent]

    def _is_ancestor_of(self, node: Node) -> bool:
        pending = [node]
        while pending:
            current = pending.pop()
            if current is self:
                return True
            pending.extend(current.parents)
        return False


class Group(Node):
    """A node holding an ordered list of children, traversed in order.

    State changes made by children (transforms, materials, lights) carry on to the siblings after
    them and beyond the group; use a :class:`Separator` to contain them.
    """

    def __init__(self, children: Iterable[Node] = (), *, name: str = "", **fields: Any) -> None:
        super().__init__(name=name, **fields)
        self._children: list[Node] = []
        for child in children:
            self.add_child(child)

    @property
    def children(self) -> tuple[Node, ...]:
        """The children, in traversal order."""
        return tuple(self._children)

    def add_child(self, child: N) -> N:
        """Append ``child`` and return it."""
        return self.insert_child(len(self._children), child)

    def insert_child(self, index: int, child: N) -> N:
        """Insert ``child`` before position ``index`` and return it."""
        if not isinstance(child, Node):
            raise TypeError(f"expected a Node, got {child!r}")
        if child._is_ancestor_of(self):
            raise ValueError(f"adding {child!r} to {self!r} would make a cycle")
        self._children.insert(index, child)
        child._add_parent(self)
        self.touch()
        return child

    def remove_child(self, child: Node | int) -> Node:
        """Remove a child given by identity or position, and return it."""
        if isinstance(child, int):
            removed = self._children.pop(child)
        else:
            index = next((i for i, c in enumerate(self._children) if c is child), None)
            if index is None:
                raise ValueError(f"{child!r} is not a child of {self!r}")
            removed = self._children.pop(index)
        removed._remove_parent(self)
        self.touch()
        return removed

    def remove_all_children(self) -> None:
        """Remove every child."""
        for child in self._children:
            child._remove_parent(self)
        self._children.clear()
        self.touch()

    def __len__(self) -> int:
        return len(self._children)

    def __iter__(self) -> Iterator[Node]:
        return iter(tuple(self._children))

    def __getitem__(self, index: int) -> Node:
        return self._children[index]

    def find(self, name: str) -> Node | None:
        """The first node named ``name`` at or below this group (depth first, children in order,
        hidden nodes and every child of a :class:`Switch` included), or None."""
        return next(self._named(name), None)

    def find_all(self, name: str) -> list[Node]:
        """Every node named ``name`` at or below this group, depth first, each once."""
        return list(self._named(name))

    def _named(self, name: str) -> Iterator[Node]:
        seen: set[int] = set()
        pending: list[Node] = [self]
        while pending:
            node = pending.pop()
            if id(node) in seen:
                continue  # a node shared by several groups of this graph
            seen.add(id(node))
            if node.name == name:
                yield node
            if isinstance(node, Group):
                pending.extend(reversed(node._children))

    def traverse(self, action: Action) -> None:
        """Traverse the children in order, stopping early once the action is done."""
        for child in tuple(self._children):
            if action.is_done:
                return
            action.traverse(child)


class Switch(Group):
    """A group that traverses one of its children, or none (Open Inventor's SoSwitch).

    ``which_child`` is the position of the child shown; -1 (the default) shows none, and a
    position past the last child shows none too, so removing children never makes it invalid.
    """

    which_child = Field(-1, as_child_index, "Position of the child shown, or -1 for none.")

    def traverse(self, action: Action) -> None:
        """Traverse only the chosen child."""
        if 0 <= self.which_child < len(self._children):
            action.traverse(self._children[self.which_child])


class Separator(Group):
    """A group that saves the traversal state before its children and restores it after."""

    def traverse(self, action: Action) -> None:
        """Traverse the children with state changes kept inside this node."""
        with action.saved_state():
            super().traverse(action)


class Transform(Node):
    """Moves, rotates and scales the nodes after it: ``translation @ rotation @ scale``.

    Rotation and scale happen around ``center``. ``rotation`` accepts a
    :class:`~remoteviz.rendering.math3d.Rotation`, an ``(axis, angle)`` pair or an ``(x, y, z, w)``
    quaternion.
    """

    translation = Field((0.0, 0.0, 0.0), as_vec3, "Offset applied last.")
    rotation = Field(Rotation(), as_rotation, "Rotation around ``center``.")
    scale = Field((1.0, 1.0, 1.0), as_vec3, "Scale factors along x, y, z, around ``center``.")
    center = Field((0.0, 0.0, 0.0), as_vec3, "The fixed point of rotation and scale.")

    @property
    def matrix(self) -> Matrix:
        """The transform as a ``(4, 4)`` matrix."""
        center = np.asarray(self.center)
        return (
            translation_matrix(np.asarray(self.translation) + center)
            @ self.rotation.as_matrix()
            @ scale_matrix(self.scale)
            @ translation_matrix(-center)
        )

    def traverse(self, action: Action) -> None:
        """Compose this transform onto the current model matrix."""
        action.state.model = action.state.model @ self.matrix


class Material(Node):
    """Surface appearance for the shapes after it (Open Inventor's defaults: a light grey)."""

    diffuse_color = Field((0.8, 0.8, 0.8), as_color, "Colour lit by lights, replaced by vertex colours.")
    ambient_color = Field((0.2, 0.2, 0.2), as_color, "Colour added where no light falls.")
    specular_color = Field((0.0, 0.0, 0.0), as_color, "Colour of highlights.")
    emissive_color = Field((0.0, 0.0, 0.0), as_color, "Colour emitted regardless of light.")
    shininess = Field(0.2, as_unit_float, "Highlight sharpness from 0 (dull) to 1 (mirror-like).")
    transparency = Field(0.0, as_unit_float, "0 is opaque, 1 is invisible.")

    def traverse(self, action: Action) -> None:
        """Make this the current material."""
        action.state.material = self


DEFAULT_MATERIAL = Material(name="default")

#: Clip planes in force at once beyond this are refused.
MAX_CLIP_PLANES = 6


class ClipPlane(Node):
    """Cuts away what lies behind a plane from everything after it in its separator.

    Points ``p`` with ``dot(normal, p) >= offset`` (in the coordinates where the plane is met,
    i.e. under the transforms before it) are kept; the rest is not drawn and cannot be picked.
    Several clip planes add up (what any of them removes is gone), up to :data:`MAX_CLIP_PLANES`.
    Move the plane from application code, for example from ``on_received_message``, with
    :meth:`set_plane` or :meth:`move`; no dragger is needed.
    """

    normal = Field((0.0, 0.0, 1.0), _as_direction_value, "The side that is kept (unit vector).")
    offset = Field(0.0, as_float, "Kept: points p with dot(normal, p) >= offset.")
    on = Field(True, as_bool, "Whether the plane clips.")

    def set_plane(self, point: Iterable[float], normal: Iterable[float]) -> None:
        """Place the plane through ``point``, keeping the side ``normal`` points to."""
        unit = _as_direction_value(normal)
        self.normal = unit
        self.offset = float(np.dot(as_vec3(point), unit))

    def move(self, distance: float) -> None:
        """Slide the plane along its normal by ``distance`` (positive: cut away more)."""
        self.offset = self.offset + as_float(distance)

    @property
    def equation(self) -> np.ndarray:
        """``(a, b, c, d)`` with ``a*x + b*y + c*z + d >= 0`` on the kept side."""
        return np.array([*self.normal, -self.offset])

    def traverse(self, action: Action) -> None:
        """Add this plane to the clip planes in force."""
        if self.on:
            action.visit_clip_plane(self)


class DirectionalLight(Node):
    """A light from infinitely far away, lighting the shapes after it in its separator."""

    direction = Field((0.0, 0.0, -1.0), _as_direction_value, "Where the light travels to (unit vector).")
    color = Field((1.0, 1.0, 1.0), as_color, "Colour of the light.")
    intensity = Field(1.0, as_unit_float, "Brightness from 0 to 1.")
    on = Field(True, as_bool, "Whether the light shines.")

    def traverse(self, action: Action) -> None:
        """Add this light to the current lights."""
        action.visit_light(self)


class GradientBackground(Node):
    """Fills the background with a vertical gradient; the first one traversed is used."""

    top_color = Field((0.85, 0.85, 0.87), as_color, "Colour along the top edge.")
    bottom_color = Field((0.35, 0.35, 0.38), as_color, "Colour along the bottom edge.")

    def traverse(self, action: Action) -> None:
        """Offer this background to the action."""
        action.visit_background(self)


EventHandler = Callable[["HandleEventAction"], Any]


class EventCallback(Node):
    """Calls application functions for input events reaching it in the scene graph.

    Events reach the scene when no :class:`~remoteviz.rendering.examiner.SceneExaminer` is in
    NAVIGATION mode above this node. A callback receives the
    :class:`~remoteviz.rendering.actions.HandleEventAction` (``action.event``,
    ``action.picked_point``, ``action.viewport``, and where the event came from:
    ``action.render_area`` and ``action.connection``); returning a true value marks the event
    handled, which stops its traversal.
    """

    def __init__(self, *, name: str = "") -> None:
        super().__init__(name=name)
        self._callbacks: list[tuple[type, EventHandler]] = []

    def add_event_callback(self, event_type: type, callback: EventHandler) -> None:
        """Call ``callback(action)`` for events that are instances of ``event_type``.

        ``event_type`` is one of :mod:`remoteviz.events`' classes (``MouseEvent``, ``WheelEvent``,
        ``KeyEvent``, ``TouchEvent``) or :class:`~remoteviz.rendering.touch.GestureEvent`.
        """
        self._callbacks.append((event_type, callback))

    def remove_event_callback(self, event_type: type, callback: EventHandler) -> None:
        """Remove a callback added with the same arguments."""
        self._callbacks.remove((event_type, callback))

    def dispatch(self, action: HandleEventAction) -> bool:
        """Call the callbacks matching ``action.event``; True when one of them handled it."""
        for event_type, callback in tuple(self._callbacks):
            if isinstance(action.event, event_type) and callback(action):
                return True
        return False

    def traverse(self, action: Action) -> None:
        """Offer the action's event to the callbacks."""
        action.visit_event_callback(self)
