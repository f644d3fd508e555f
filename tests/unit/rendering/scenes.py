"""Scenes with a known projection for pixel tests: one world unit per pixel, looking down -z."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from remoteviz.rendering import Node, OrthographicCamera, SceneExaminer, SceneManager

W, H = 160, 120


def examiner(nodes: Iterable[Node], height: float = H) -> SceneExaminer:
    """An examiner whose orthographic camera at +z shows ``height`` units across the view's
    height, so pixel ``(px, py)`` sees ``x = px + 0.5 - W / 2``, ``y = H / 2 - py - 0.5`` (at the
    default height)."""
    camera = OrthographicCamera(position=(0.0, 0.0, 500.0), height=height)
    root = SceneExaminer(camera=camera)
    for node in nodes:
        root.add_child(node)
    return root


def pixel_centres(width: int = W, height: int = H, units: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """World x and y of every pixel centre, as ``(height, width)`` arrays."""
    x = (np.arange(width) + 0.5 - width / 2.0) * units
    y = (height / 2.0 - np.arange(height) - 0.5) * units
    return np.broadcast_to(x[None, :], (height, width)), np.broadcast_to(y[:, None], (height, width))


def render(manager: SceneManager, root: Node, interactive: bool = False) -> np.ndarray:
    """``root`` rendered without multisampling, as an int array."""
    manager.antialiasing = 0
    manager.scene_graph = root
    return manager.render(W, H, interactive=interactive).astype(int)
