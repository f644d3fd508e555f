"""Meshes of known shape for the tests, made at any size (the benchmarks' tori, as a scene node)."""

from __future__ import annotations

import remoteviz as rv
from benchmarks.csr import torus_grid


def torus(u: int, v: int, name: str = "torus") -> rv.Mesh:
    """A torus of ``2 * u * v`` triangles around the y axis: ring radius 1, tube radius 0.35, its
    ``u * v`` vertices shared by the triangles (so it can be decimated)."""
    points, faces = torus_grid(u, v)
    return rv.Mesh(points, faces, name=name)
