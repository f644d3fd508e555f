"""``remoteviz.load``: any file a user has as a scene node, shown with the defaults users expect.

The readers (``remoteviz.readers``) turn files into data (:class:`~remoteviz.readers.volume_data.VolumeData`,
:class:`~remoteviz.readers.point_data.PointData`, a trimesh scene); this module turns that data into
nodes and chooses how they look: a CT volume through the "ct" transfer function with its slices
windowed in Hounsfield units (the file's window, else soft tissue), a seismic volume through a
colour map symmetric about zero, any other volume over its histogram's 0.1 to 99.9 percentiles,
points by their RGB, else their intensity, else their class. The scene graph is imported on first
use, so ``import remoteviz`` stays light.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from remoteviz.readers.errors import ReadError
from remoteviz.readers.formats import Format, detect, read_points, read_volume
from remoteviz.readers.point_data import PointData
from remoteviz.readers.volume_data import VolumeData

if TYPE_CHECKING:
    from remoteviz.rendering import Node, Separator, Transform

log = logging.getLogger("remoteviz.loading")

ProgressCallback = Callable[[float], None]

DEFAULT_MEMORY_BUDGET = 2 * 1024**3
"""Bytes a volume may take in memory (as the in-memory :class:`~remoteviz.rendering.Volume` holds
it) before it must be drawn out of core; ``load(memory_budget=)`` and ``remoteviz view --memory``
change it."""

CT_WINDOWS: dict[str, tuple[float, float]] = {
    # level (centre) and width in HU (Radiopaedia's table)
    "brain": (40.0, 80.0),
    "soft tissue": (50.0, 400.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "liver": (30.0, 150.0),
}
"""CT window presets, ``name: (level, width)`` in Hounsfield units."""

CT_VOLUME_RANGE = (-1000.0, 3000.0)
"""The HU range the "ct" transfer function preset is drawn across (air to dense bone)."""

# ASPRS LAS classes and potree's colours for them (src/materials/ClassificationScheme.js).
_CLASS_COLORS = {
    2: (0.63, 0.32, 0.18), 3: (0.0, 1.0, 0.0), 4: (0.0, 0.8, 0.0), 5: (0.0, 0.6, 0.0), 6: (1.0, 0.66, 0.0),
    7: (1.0, 0.0, 1.0), 8: (1.0, 0.0, 0.0), 9: (0.0, 0.0, 1.0), 12: (1.0, 1.0, 0.0),
}
_UNCLASSIFIED = (0.5, 0.5, 0.5)
_SAMPLE_VOXELS = 2_000_000


@dataclass(frozen=True)
class VolumeLook:
    """How a volume is shown by default: the transfer function's preset across ``data_range``, and
    the window (``(low, high)``) and colour map its slices show."""

    preset: str
    data_range: tuple[float, float]
    slice_window: tuple[float, float]
    slice_colormap: str


def _sample(data: VolumeData) -> np.ndarray:
    """About two million voxels spread over the coarsest level that has that many, as float64."""
    level = data.levels[-1]
    for candidate in data.levels:
        if int(np.prod(candidate.shape)) <= 4 * _SAMPLE_VOXELS:
            level = candidate
            break
    shape = level.shape
    stride = max(1, round((int(np.prod(shape)) / _SAMPLE_VOXELS) ** (1 / 3)))
    values = np.asarray(level[::stride, ::stride, ::stride], dtype=np.float64).ravel()
    finite = values[np.isfinite(values)]
    return finite if finite.size else np.zeros(1)


def _widened(low: float, high: float) -> tuple[float, float]:
    return (low, high) if high > low else (low, low + 1.0)


def volume_look(data: VolumeData) -> VolumeLook:
    """The defaults for ``data`` (see the module description), from the file and its histogram."""
    is_ct = data.modality == "CT" or data.units == "HU"
    if is_ct:
        level, width = CT_WINDOWS["soft tissue"]
        window = data.window or (level - width / 2.0, level + width / 2.0)
        return VolumeLook("ct", CT_VOLUME_RANGE, window, "grey")
    values = _sample(data)
    if data.modality == "seismic":
        # Amplitudes swing about zero: a colour map centred on it, clipped at the 99th percentile of |a|.
        top = float(np.percentile(np.abs(values), 99.0)) or 1.0
        return VolumeLook("seismic", (-top, top), (-top, top), "seismic")
    low, high = (float(v) for v in np.percentile(values, [0.1, 99.9]))
    span = _widened(low, high)
    return VolumeLook("grey", span, data.window or span, "grey")


def _decomposed(matrix: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An affine matrix's translation, rotation (3x3, proper) and per-axis scale (a mirror as a
    negative x scale); a shear (a tilted gantry's) is dropped with a warning."""
    linear = np.asarray(matrix, dtype=np.float64)[:3, :3]
    scale = np.linalg.norm(linear, axis=0)
    if (scale < 1e-12).any():
        raise ValueError(f"{name}: a placement matrix squashes an axis flat: {np.round(linear, 6).tolist()}")
    rotation = linear / scale
    if np.linalg.det(rotation) < 0:
        rotation[:, 0] *= -1.0
        scale[0] *= -1.0
    if not np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-4):
        log.warning("%s: the placement is sheared; it is shown without the shear", name or "a node")
        u, _, vt = np.linalg.svd(rotation)
        rotation = u @ vt
    return np.asarray(matrix, dtype=np.float64)[:3, 3], rotation, scale


def transform_node(matrix: np.ndarray, name: str = "") -> Transform:
    """A :class:`~remoteviz.rendering.Transform` for a 4x4 affine matrix: translation, rotation and
    scale, a mirror as a negative x scale; a shear (a tilted gantry's) is dropped with a warning."""
    from remoteviz.rendering import Rotation, Transform

    translation, rotation, scale = _decomposed(matrix, name)
    return Transform(translation=tuple(translation), rotation=Rotation.from_matrix(rotation), scale=tuple(scale),
                     name=name)


def _affine(translation: np.ndarray, rotation: np.ndarray, scale: np.ndarray) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:3, :3] = rotation * scale
    matrix[:3, 3] = translation
    return matrix


def _in_memory_array(data: VolumeData) -> np.ndarray:
    """The full resolution as the in-memory volume takes it: uint8, uint16 or finite float32."""
    array = np.asarray(data.levels[0])
    if array.dtype in (np.uint8, np.uint16):
        return array
    values = array.astype(np.float32)
    if not np.isfinite(values).all():  # NaN marks "no data" in many float volumes
        finite = values[np.isfinite(values)]
        values[~np.isfinite(values)] = float(finite.min()) if finite.size else 0.0
    return values


def in_memory_bytes(data: VolumeData) -> int:
    """The bytes the in-memory volume would hold for ``data``."""
    z, y, x = data.shape
    itemsize = np.dtype(data.levels[0].dtype).itemsize if data.levels[0].dtype in (np.uint8, np.uint16) else 4
    return z * y * x * itemsize


Redraw = Callable[[Callable[[], None]], None]
"""Runs a callback on the thread that may change the scene: a service's ``call_soon``."""


def out_of_core_volume(data: VolumeData, memory_budget: int, name: str = "", *,
                       progress: ProgressCallback | None = None, redraw: Redraw | None = None) -> Node:
    """The node drawing a volume larger than ``memory_budget`` bytes brick by brick, with
    :func:`volume_look`'s defaults (:func:`remoteviz.rendering.out_of_core.volume_node`): drawn
    from where it is when the file is a chunked pyramid, else converted once into a store in the
    cache folder (``progress`` hears how far). ``redraw`` (a service's ``call_soon``) is asked for
    a frame as bricks arrive, so the picture sharpens by itself."""
    from remoteviz.rendering import TransferFunction
    from remoteviz.rendering.out_of_core import volume_node as out_of_core_node

    look = volume_look(data)
    converting = (lambda fraction, _what: progress(fraction)) if progress is not None else None
    try:
        return out_of_core_node(data, memory_budget, progress=converting, redraw=redraw, name=name,
                                transfer_function=TransferFunction.preset(look.preset), data_range=look.data_range)
    except OSError as error:  # the cache folder full or not writable: still one line for the user
        raise ReadError(data.source, f"cannot convert it for out-of-core viewing: {error}") from error


def volume_node(data: VolumeData, memory_budget: int | None = None, name: str = "", *,
                progress: ProgressCallback | None = None, redraw: Redraw | None = None) -> Separator:
    """A separator placing ``data`` by its transform, holding a :class:`~remoteviz.rendering.Volume`
    drawn with :func:`volume_look`'s defaults, or :func:`out_of_core_volume` when it is larger than
    ``memory_budget`` bytes (default :data:`DEFAULT_MEMORY_BUDGET`)."""
    from remoteviz.rendering import Separator, TransferFunction, Volume

    budget = DEFAULT_MEMORY_BUDGET if memory_budget is None else int(memory_budget)
    if in_memory_bytes(data) > budget:
        return Separator([out_of_core_volume(data, budget, name, progress=progress, redraw=redraw)], name=name)
    look = volume_look(data)
    # The volume's own spacing carries the voxel size, so slices made with OrthoSlice.of_volume
    # share it; the transform keeps only the position, the orientation and a mirror's sign.
    translation, rotation, scale = _decomposed(data.index_to_world, name)
    placement = transform_node(_affine(translation, rotation, np.sign(scale)), name=f"{name} placement")
    volume = Volume(_in_memory_array(data), spacing=tuple(np.abs(scale)), name=name,
                    transfer_function=TransferFunction.preset(look.preset), data_range=look.data_range)
    return Separator([placement, volume], name=name)


def point_colors(points: PointData) -> np.ndarray | None:
    """RGB when the file has it, else a grey ramp over the intensity's 1st to 99th percentile,
    else the ASPRS class colours; None when none of them varies (the material's colour)."""
    if points.colors is not None:
        return points.colors
    if points.intensity is not None and len(points) and np.ptp(points.intensity) > 0:
        low, high = np.percentile(points.intensity, [1.0, 99.0])
        grey = np.clip((points.intensity - low) / max(high - low, 1.0), 0.0, 1.0).astype(np.float32)
        return np.repeat(grey[:, None], 3, axis=1)
    if points.classification is not None and len(points) and np.ptp(points.classification) > 0:
        table = np.array([_CLASS_COLORS.get(code, _UNCLASSIFIED) for code in range(256)], np.float32)
        return table[points.classification]
    return None


def points_node(points: PointData, name: str = "") -> Separator:
    """A separator moving a :class:`~remoteviz.rendering.PointSet` to the points' origin, coloured
    by :func:`point_colors`; the file's intensity and classification are the point set's
    ``arrays`` (``color_by`` and the page's colour map control switch to them), and points with
    an intensity but no RGB are coloured by it through the ``grey`` map."""
    from remoteviz.rendering import PointSet, Separator, Transform

    arrays = {key: values for key, values in (("intensity", points.intensity),
                                              ("classification", points.classification)) if values is not None}
    intensity = None if points.intensity is None else points.intensity.astype(np.float64)
    by_intensity = points.colors is None and intensity is not None and len(points) > 0 and np.ptp(intensity) > 0
    cloud = PointSet(points.positions, None if by_intensity else point_colors(points), name=name, size=2.0,
                     arrays=arrays)
    if by_intensity and intensity is not None:
        low, high = (float(v) for v in np.percentile(intensity, [1.0, 99.0]))
        cloud.colormap, cloud.scalar_range = "grey", _widened(low, high)
        cloud.color_by("intensity")
    return Separator([Transform(translation=tuple(points.origin), name=f"{name} origin"), cloud], name=name)


def _material_color(geometry: Any) -> tuple[float, float, float] | None:
    material = getattr(geometry.visual, "material", None)
    color = getattr(material, "main_color", None)
    if color is None:
        return None
    rgb = np.asarray(color, dtype=np.float64)[:3] / 255.0
    return (float(rgb[0]), float(rgb[1]), float(rgb[2]))


def scene_node(scene: Any, name: str = "") -> Separator:
    """A trimesh scene (glTF, or STEP/IGES through cascadio) as a node tree: one
    :class:`~remoteviz.rendering.Separator` per scene node, named as in the file, with its
    :class:`~remoteviz.rendering.Transform` and, for a part, a
    :class:`~remoteviz.rendering.Material` of its colour and its :class:`~remoteviz.rendering.Mesh`.
    A part instanced several times shares one mesh."""
    from remoteviz.rendering import Material, Mesh, Separator

    graph = scene.graph
    children: dict[str, list[str]] = graph.transforms.children
    meshes: dict[str, Mesh] = {}

    def build(parent: str, node: str) -> Separator:
        edge = graph.transforms.edge_data.get((parent, node), {})
        geometry_name = edge.get("geometry")
        # OpenCASCADE names an instance by its label's path ("=>[0:1:1:3]"): its part's name says more.
        group = Separator(name=str(geometry_name) if node.startswith("=>[") and geometry_name else node)
        matrix = np.asarray(edge.get("matrix", np.eye(4)), dtype=np.float64)
        if not np.allclose(matrix, np.eye(4)):
            group.add_child(transform_node(matrix, name=f"{group.name} placement"))
        geometry = scene.geometry.get(geometry_name) if geometry_name is not None else None
        if geometry is not None and len(getattr(geometry, "faces", ())) > 0:
            color = _material_color(geometry)
            if color is not None:
                group.add_child(Material(diffuse_color=color, name=f"{geometry_name} colour"))
            if geometry_name not in meshes:
                meshes[geometry_name] = Mesh.from_trimesh(geometry, name=str(geometry_name))
            group.add_child(meshes[geometry_name])
        for child in children.get(node, []):
            group.add_child(build(node, child))
        return group

    root = Separator(name=name)
    for child in children.get(graph.base_frame, []):
        root.add_child(build(graph.base_frame, child))
    return root


def _mesh_node(path: str | os.PathLike[str], name: str) -> Node:
    from remoteviz.rendering import Mesh

    if os.fspath(path).lower().endswith((".glb", ".gltf")):
        import trimesh

        try:
            scene: Any = trimesh.load(os.fspath(path), force="scene")
        except Exception as error:  # trimesh raises many kinds: each is a message for the user
            raise ReadError(path, f"not a readable glTF file ({error})") from error
        if not scene.geometry:
            raise ReadError(path, "it holds no triangles")
        return scene_node(scene, name)
    try:
        return Mesh.from_file(path)
    except Exception as error:  # trimesh raises many kinds: each is a message for the user
        raise ReadError(path, str(error) or type(error).__name__) from error


def load(path: str | os.PathLike[str], *, memory_budget: int | None = None,
         progress: ProgressCallback | None = None, redraw: Redraw | None = None) -> Node:
    """The file or folder at ``path`` as a scene node, shown with the defaults users expect.

    Volumes (a DICOM series folder, NIfTI, TIFF stacks, SEG-Y, ``.npy``, zarr) become a
    :class:`~remoteviz.rendering.Volume` placed in world coordinates by a transform; point clouds
    (LAS/LAZ, PLY points) a :class:`~remoteviz.rendering.PointSet`; STEP/IGES parts and glTF scenes
    a tree of named parts; other meshes (STL, OBJ, PLY, OFF...) a :class:`~remoteviz.rendering.Mesh`.
    The node and its shape carry the file's name. ``memory_budget`` (bytes) bounds what a volume
    may take in memory (a larger volume is drawn out of core, brick by brick, and ``redraw``, a
    service's ``call_soon``, is asked for frames as its bricks arrive); ``progress`` hears the
    fraction read, 0 to 1. Raises
    :class:`~remoteviz.readers.errors.ReadError`, one line naming the file and the problem, for
    anything it cannot read.
    """
    name = os.path.basename(os.fspath(path).rstrip("/")) or os.fspath(path)
    kind = detect(path)
    try:
        if kind.is_volume:
            return volume_node(read_volume(path, progress), memory_budget, name, progress=progress, redraw=redraw)
        if kind in (Format.LAS, Format.PLY_POINTS):
            return points_node(read_points(path), name)
        if kind is Format.CAD:
            from remoteviz.readers.cad import read_cad

            return scene_node(read_cad(path), name)
        return _mesh_node(path, name)
    except ReadError:
        raise
    except (ValueError, TypeError) as error:  # what a node refuses of what was read: still the file's fault
        raise ReadError(path, str(error) or type(error).__name__) from error
