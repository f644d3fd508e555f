"""Meshes of known shape for the tests, made at any size."""

from __future__ import annotations

import numpy as np

import remoteviz as rv


def torus(u: int, v: int, name: str = "torus") -> rv.Mesh:
    """A torus of ``2 * u * v`` triangles around the y axis: ring radius 1, tube radius 0.35, its
    ``u * v`` vertices shared by the triangles (so it can be decimated)."""
    a, b = np.meshgrid(np.linspace(0, 2 * np.pi, u, endpoint=False), np.linspace(0, 2 * np.pi, v, endpoint=False))
    points = np.stack([(1 + 0.35 * np.cos(b)) * np.cos(a), 0.35 * np.sin(b), (1 + 0.35 * np.cos(b)) * np.sin(a)],
                      axis=-1).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(u), np.arange(v))
    p, q = j * u + i, j * u + (i + 1) % u
    r, s = ((j + 1) % v) * u + i, ((j + 1) % v) * u + (i + 1) % u
    faces = np.concatenate([np.stack([p, r, q], -1).reshape(-1, 3), np.stack([q, r, s], -1).reshape(-1, 3)])
    return rv.Mesh(points, faces, name=name)
