"""Colour maps switched from a page: the ``colormap`` application messages and their answers.

A page (the built-in viewer's toolbar, or an application's own) sends a text message::

    {"type": "colormap", "node": "pressure" | null, "colormap": "plasma", "range": [0, 10] | null, "log": false,
     "array": "temperature"}

``node`` names the nodes to change (null: every node of the scene drawn through a colour map);
``colormap``, ``range`` (null: the data's own), ``log`` and ``array`` (which of a mesh's or point
set's named arrays to colour by) are each optional, and left as they are when absent. ``{"type": "colormaps"}`` asks what there is. :class:`ColormapMessages`, a render
area listener, applies them to the area's scene and answers with text messages (see
docs/protocol.md, "Colour map messages"). A message is checked whole before anything changes:
a bad one changes nothing and only its sender hears why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .render_area import RenderArea, RenderAreaListener

if TYPE_CHECKING:
    from .connection import Connection
    from .rendering.nodes import Node

MAX_MESSAGE_BYTES = 4096
"""A colour map message is a few dozen bytes; longer ones are refused unread."""


class ColormapMessageError(ValueError):
    """A colour map message that cannot be applied; the text says why."""


def _nodes(root: Node) -> Iterator[Node]:
    """Every node under ``root`` (hidden ones and a switch's unshown children too), each once."""
    from .rendering.nodes import Group

    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        if isinstance(node, Group):
            pending.extend(reversed(node.children))


def colour_mapped(root: Node) -> list[Node]:
    """The nodes under ``root`` drawn through a colour map (shapes with scalars, slices, volumes)
    or that could be (shapes with named arrays)."""
    found = []
    for node in _nodes(root):
        mapping = getattr(node, "color_mapping", None)
        if callable(mapping) and (mapping() is not None or getattr(node, "arrays", None)):
            found.append(node)
    return found


def describe(node: Node) -> dict[str, Any]:
    """A node's colour map as the answers carry it: name, map, range (None before it shows
    scalars), log scale, the array shown and the arrays it has."""
    mapping = node.color_mapping()  # type: ignore[attr-defined]  # colour_mapped() nodes have it
    arrays = list(getattr(node, "arrays", {}))
    return {"node": node.name or None,
            "colormap": (mapping.colormap if mapping else getattr(node, "colormap", "")) or None,
            "range": [mapping.low, mapping.high] if mapping else None,
            "log": mapping.log if mapping else bool(getattr(node, "log_scale", False)),
            "array": getattr(node, "scalars_name", "") or None, "arrays": arrays}


def _parse(message: str | bytes) -> dict[str, Any] | None:
    """The message's fields if it is a colour map message, None if it is another application's."""
    if len(message) > MAX_MESSAGE_BYTES:
        return None
    try:
        fields = json.loads(message)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(fields, dict) or fields.get("type") not in ("colormap", "colormaps"):
        return None
    return fields


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    """The changes a ``colormap`` message asks for, converted, or ColormapMessageError."""
    from .rendering.colormaps import as_scalar_range, colormap_name

    unknown = set(fields) - {"type", "node", "colormap", "range", "log", "array"}
    if unknown:
        raise ColormapMessageError(f"unknown fields {sorted(unknown)}")
    node = fields.get("node")
    if node is not None and not isinstance(node, str):
        raise ColormapMessageError("node must be a node's name or null")
    changes: dict[str, Any] = {}
    try:
        if "colormap" in fields:
            changes["colormap"] = colormap_name(fields["colormap"])
        if "range" in fields:
            value = fields["range"]
            if value is not None and not (isinstance(value, list) and len(value) == 2
                                          and all(isinstance(v, (int, float)) for v in value)):
                raise ValueError("range must be [low, high] or null")
            changes["range"] = as_scalar_range(value)
    except (ValueError, TypeError) as error:
        raise ColormapMessageError(str(error)) from None
    if "log" in fields:
        if not isinstance(fields["log"], bool):
            raise ColormapMessageError("log must be true or false")
        changes["log"] = fields["log"]
    if "array" in fields:
        if not isinstance(fields["array"], str):
            raise ColormapMessageError("array must be the name of one of the node's arrays")
        changes["array"] = fields["array"]
    if not changes:
        raise ColormapMessageError("nothing to change: give colormap, range, log or array")
    return changes


def _targets(root: Node, name: str | None) -> list[Node]:
    if name is None:
        targets = colour_mapped(root)
        if not targets:
            raise ColormapMessageError("the scene has no node drawn through a colour map")
        return targets
    targets = [n for n in _nodes(root) if n.name == name and callable(getattr(n, "color_mapping", None))]
    if not targets:
        raise ColormapMessageError(f"no node named {name!r} with a colour map")
    return targets


def apply_colormap_message(root: Node, fields: dict[str, Any]) -> list[Node]:
    """Apply a parsed ``colormap`` message to the scene under ``root``; returns the nodes changed.

    Meshes, points and lines take ``colormap``, ``scalar_range`` and ``log_scale``; slices their
    ``colormap``, a window and level spanning the range, and ``log_scale``; volumes the map's
    colours with their transfer function's opacities and ``data_range`` (no log scale). Raises
    :class:`ColormapMessageError`, having changed nothing, when any node cannot take the change.
    """
    from .rendering.scalars import ScalarShape
    from .rendering.slices import ObliqueSlice, OrthoSlice
    from .rendering.volume import Volume

    changes = _checked(fields)
    targets = _targets(root, fields.get("node"))
    for node in targets:  # every node is checked before any changes
        if isinstance(node, Volume):
            if changes.get("log") or "array" in changes:
                raise ColormapMessageError(f"{node!r} is a volume: it has no log scale and no arrays")
            continue
        if not isinstance(node, (ScalarShape, OrthoSlice, ObliqueSlice)):
            raise ColormapMessageError(f"{node!r} cannot change its colour map")
        if "array" in changes and changes["array"] not in getattr(node, "arrays", {}):
            raise ColormapMessageError(f"{node!r} has no array {changes['array']!r}")
        log_scale = changes.get("log", node.log_scale)
        explicit = changes["range"] if "range" in changes else _explicit_range(node)
        if log_scale and explicit is not None and explicit[0] <= 0.0:
            raise ColormapMessageError(f"a log scale needs a range above 0; {node!r} would have "
                                       f"({explicit[0]:g}, {explicit[1]:g}): send a positive range or null")
    for node in targets:
        _apply(node, changes)
    return targets


def _explicit_range(node: Node) -> tuple[float, float] | None:
    """The range a node was given (None: it follows its data)."""
    from .rendering.scalars import ScalarShape

    if isinstance(node, ScalarShape):
        return node.scalar_range
    if node.window is None and node.level is None:  # type: ignore[attr-defined]  # a slice
        return None
    low_high: tuple[float, float] = node.value_range()  # type: ignore[attr-defined]
    return low_high


def _apply(node: Node, changes: dict[str, Any]) -> None:
    from .rendering.scalars import ScalarShape
    from .rendering.volume import Volume

    if isinstance(node, Volume):
        if "colormap" in changes:
            node.transfer_function = node.transfer_function.with_colormap(changes["colormap"])
        if "range" in changes:
            node.data_range = changes["range"]
        return
    if "array" in changes:
        assert isinstance(node, ScalarShape)  # checked by the caller
        node.color_by(changes["array"])
    if "colormap" in changes:
        node.colormap = changes["colormap"]  # type: ignore[attr-defined]  # checked by the caller
    if "log" in changes:
        node.log_scale = changes["log"]  # type: ignore[attr-defined]
    if "range" in changes:
        value = changes["range"]
        if isinstance(node, ScalarShape):
            node.scalar_range = value
        else:  # a slice: the window spans the range, around its middle
            node.window = None if value is None else value[1] - value[0]  # type: ignore[attr-defined]
            node.level = None if value is None else (value[0] + value[1]) / 2.0  # type: ignore[attr-defined]


class ColormapMessages(RenderAreaListener):
    """Applies the colour map messages a page sends to the render area's scene (see the module
    description); add it with ``render_area.add_listener(ColormapMessages())``.

    Answers, as text messages: ``{"type": "colormap-applied", "nodes": [...]}`` to every viewer
    of the area after a change (each node described as ``{"node", "colormap", "range", "log"}``),
    ``{"type": "colormaps", "names": [...], "nodes": [...]}`` to a ``colormaps`` question, and
    ``{"type": "colormap-error", "reason": "..."}`` to the sender of a message that could not be
    applied. Other applications' messages are left alone.
    """

    def on_received_message(self, render_area: RenderArea, connection: Connection, message: str | bytes) -> None:
        """Apply a colour map message, or answer a ``colormaps`` question."""
        fields = _parse(message)
        if fields is None:
            return
        root = render_area.scene_manager.scene_graph
        try:
            if root is None:
                raise ColormapMessageError("the render area has no scene")
            if fields["type"] == "colormaps":
                from .rendering.colormaps import colormaps

                answer = {"type": "colormaps", "names": colormaps(),
                          "nodes": [describe(n) for n in colour_mapped(root)]}
                connection.send_message(json.dumps(answer))
                return
            changed = apply_colormap_message(root, fields)
            answer = {"type": "colormap-applied", "nodes": [describe(n) for n in changed]}
        except ColormapMessageError as error:
            connection.send_message(json.dumps({"type": "colormap-error", "reason": str(error)}))
            return
        render_area.send_message(json.dumps(answer))
