"""STEP and IGES parts through cascadio (OpenCASCADE): tessellated into a glTF scene that keeps the
assembly's structure, its part names and colours.

OpenCASCADE writes a STEP part's glTF in metres, as glTF requires, whatever unit the file uses: a
part drawn in millimetres comes out a thousand times smaller, its shape unchanged. IGES parts keep
the file's units, and come as one shape (IGES has no assembly structure).

OpenCASCADE crashes the process on some corrupt files (a segmentation fault, no exception) and
loops on others, so it runs in a child process of its own process group: a crash there is a
:class:`ReadError` here, a loop is ended after :data:`TIMEOUT` with the group (OpenCASCADE's
helper processes too), and a service showing the part keeps running.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import tempfile
from typing import Any

from remoteviz.readers.errors import ReadError, reading

STEP_SUFFIXES = (".step", ".stp")
IGES_SUFFIXES = (".iges", ".igs")

LINEAR_TOLERANCE = 0.01
"""The tessellation's largest distance from the true surface, in the file's units."""
ANGULAR_TOLERANCE = 0.5
"""The tessellation's largest angle between neighbouring facets, in radians."""
TIMEOUT = 300.0
"""Seconds OpenCASCADE may take to read and tessellate one file."""

_TESSELLATE = """
import sys
import cascadio

source, kind, target = sys.argv[1:4]
with open(source, "rb") as file:
    data = file.read()
glb = cascadio.to_glb_bytes(data, file_type=getattr(cascadio.FileType, kind), tol_linear=float(sys.argv[4]),
                            tol_angular=float(sys.argv[5]))
with open(target, "wb") as file:
    file.write(glb)
"""


def _tessellated(path: str | os.PathLike[str], kind: str) -> bytes:
    """The file as GLB bytes (empty if OpenCASCADE found no shape), made in a child process."""
    with tempfile.TemporaryDirectory(prefix="remoteviz-cad-") as folder:
        target = os.path.join(folder, "part.glb")
        child = subprocess.Popen(
            [sys.executable, "-c", _TESSELLATE, os.fspath(path), kind, target, str(LINEAR_TOLERANCE),
             str(ANGULAR_TOLERANCE)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        try:
            _, errors = child.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise ReadError(path, f"OpenCASCADE took more than {TIMEOUT:.0f} s to read it") from None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)  # whatever of its group is left
            child.wait()
        if child.returncode < 0:
            name = signal.Signals(-child.returncode).name
            raise ReadError(path, f"OpenCASCADE crashed reading it ({name}): the file is corrupt")
        if child.returncode != 0:
            reason = (errors.strip().splitlines() or ["no reason given"])[-1]
            raise ReadError(path, f"OpenCASCADE could not read it ({reason})")
        with open(target, "rb") as file:
            return file.read()


def read_cad(path: str | os.PathLike[str]) -> Any:
    """The STEP or IGES file as a ``trimesh.Scene``: one node per assembly instance, named, with
    its placement, and a PBR material per coloured part."""
    import trimesh

    if not os.path.isfile(path):
        raise ReadError(path, "no such file")
    kind = "IGES" if os.fspath(path).lower().endswith(IGES_SUFFIXES) else "STEP"
    glb = _tessellated(path, kind)
    if not glb:
        raise ReadError(path, "OpenCASCADE found no shape in it (not a valid STEP/IGES file?)")
    with reading(path, "STEP/IGES file"):
        scene = trimesh.load(io.BytesIO(glb), file_type="glb")
    if not getattr(scene, "geometry", None):
        raise ReadError(path, "it holds no solid or surface to draw")
    return scene
