"""STEP and IGES parts through cascadio (OpenCASCADE): tessellated into a glTF scene that keeps the
assembly's structure, its part names and colours.

OpenCASCADE writes a STEP part's glTF in metres, as glTF requires, whatever unit the file uses: a
part drawn in millimetres comes out a thousand times smaller, its shape unchanged. IGES parts keep
the file's units, and come as one shape (IGES has no assembly structure).
"""

from __future__ import annotations

import io
import os
from typing import Any

from remoteviz.readers.errors import ReadError, reading

STEP_SUFFIXES = (".step", ".stp")
IGES_SUFFIXES = (".iges", ".igs")

LINEAR_TOLERANCE = 0.01
"""The tessellation's largest distance from the true surface, in the file's units."""
ANGULAR_TOLERANCE = 0.5
"""The tessellation's largest angle between neighbouring facets, in radians."""


def read_cad(path: str | os.PathLike[str]) -> Any:
    """The STEP or IGES file as a ``trimesh.Scene``: one node per assembly instance, named, with
    its placement, and a PBR material per coloured part."""
    import cascadio  # an optional dependency, loaded on first use
    import trimesh

    kind = cascadio.FileType.IGES if os.fspath(path).lower().endswith(IGES_SUFFIXES) else cascadio.FileType.STEP
    with open(path, "rb") as file:
        data = file.read()
    with reading(path, "STEP/IGES file"):
        glb = cascadio.to_glb_bytes(data, file_type=kind, tol_linear=LINEAR_TOLERANCE, tol_angular=ANGULAR_TOLERANCE)
    if not glb:
        raise ReadError(path, "OpenCASCADE found no shape in it (not a valid STEP/IGES file?)")
    with reading(path, "STEP/IGES file"):
        scene = trimesh.load(io.BytesIO(glb), file_type="glb")
    if not getattr(scene, "geometry", None):
        raise ReadError(path, "it holds no solid or surface to draw")
    return scene
