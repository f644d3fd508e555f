"""Out-of-core volumes: drawn brick by brick from a multi-resolution store, within memory budgets.

An :class:`OutOfCoreVolume` looks like a :class:`~remoteviz.rendering.Volume` (transfer function,
composite, MIP and isosurface modes, clip planes, picking) but never holds its voxels whole: each
frame picks the bricks the camera needs at the resolution the picture needs
(:mod:`~remoteviz.rendering.brick_selection`), draws those on the GPU, and asks background
threads (:mod:`~remoteviz.rendering.brick_loader`) for the missing ones, which go through a host
cache (:mod:`~remoteviz.rendering.brick_cache`) to the GPU, a bounded number per frame. The
coarsest level is read when the volume is made and stays, so the first picture comes at once and
sharpens as bricks arrive. Host and GPU memory each stay within their budget.

A picture drawn while bricks were missing is not the last one: with a service, give the volume
the service's ``call_soon`` (:meth:`OutOfCoreVolume.redraw_through`) and it asks for a redraw,
on the dispatch thread, whenever bricks arrive, until the picture is complete. Without one (a
script calling ``SceneManager.render``), render again until :attr:`OutOfCoreVolume.complete`,
waiting for the loader between (:meth:`OutOfCoreVolume.wait_for_bricks`).

:func:`volume_node` is what ``rv.load`` and ``remoteviz view --memory`` call for data larger
than the budget: a source that is not already a brickable pyramid is converted once into a
store under the cache folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from remoteviz.readers.volume_data import VolumeData
from remoteviz.rendering.brick_pyramid import BrickKey
from remoteviz.rendering.brick_source import DEFAULT_BRICK, TEXTURE_DTYPES, BrickSource, FullResolution
from remoteviz.rendering.fields import Field, as_positive_float
from remoteviz.rendering.math3d import BoundingBox, Rotation, as_vec3
from remoteviz.rendering.nodes import Node, Separator, Transform
from remoteviz.rendering.shapes import Shape
from remoteviz.rendering.slices import ObliqueSlice, OrthoSlice
from remoteviz.rendering.volume import TransferFunction, Volume, VolumeMode

_log = logging.getLogger(__name__)

_AXES = {"x": 0, "y": 1, "z": 2}


class OutOfCoreObliqueSlice(ObliqueSlice):
    """An :class:`~remoteviz.rendering.ObliqueSlice` of an out-of-core volume's full resolution
    that reads only the bricks its plane cuts; make one with :meth:`OutOfCoreVolume.oblique_slice`."""

    def __init__(self, volume: OutOfCoreVolume, **fields: Any) -> None:
        self._source = volume.bricks
        self._limits = volume.effective_range()
        super().__init__(np.zeros((1, 1, 1), np.uint8), tuple(volume.spacing), tuple(volume.origin), **fields)

    def _voxels(self) -> Any:
        return FullResolution(self._source)

    def _data_limits(self) -> tuple[float, float]:
        return self._limits


@dataclass(frozen=True, slots=True)
class DrawnBricks:
    """What one frame drew of an out-of-core volume: whether every wanted brick was there, how
    many bricks, the finest level among them, and the bytes of the renderer's brick textures."""

    complete: bool
    bricks: int
    finest_level: int
    gpu_bytes: int


@dataclass(frozen=True, slots=True, eq=False)
class OutOfCoreGeometry:
    """What the renderer and the picker need of an out-of-core volume (it does not hold the node)."""

    label: str
    source: BrickSource
    origin: npt.NDArray[np.float64]
    spacing: npt.NDArray[np.float64]
    data_range: tuple[float, float]
    bounding_box: BoundingBox
    transfer_function: TransferFunction
    mode: VolumeMode
    iso_position: float
    pick_threshold: float
    gpu_budget: int

    def to_index(self, points: np.ndarray) -> np.ndarray:
        """Volume coordinates ``(N, 3)`` to fractional level-0 voxel indices ``(i, j, k)``."""
        return (points - self.origin) / self.spacing

    def transfer_position(self, values: npt.ArrayLike) -> np.ndarray:
        """Data values to transfer function positions (0..1 across the data range)."""
        low, high = self.data_range
        return (np.asarray(values, dtype=np.float64) - low) / (high - low)

    def shown(self, key: BrickKey) -> bool:
        """Whether the brick may show anything: its values reach the isosurface, or the transfer
        function gives some of them opacity (unknown ranges are shown)."""
        known = self.source.value_range(key)
        if known is None:
            return True
        low, high = self.transfer_position(known)
        if self.mode is VolumeMode.ISOSURFACE:
            return bool(high >= self.iso_position)
        return self.transfer_function.visible_between(float(low), float(high))


class OutOfCoreVolume(Shape):
    """A volume drawn from its store brick by brick (see the module description).

    ``source`` is a :class:`~remoteviz.readers.volume_data.VolumeData` whose levels halve (or
    keep) each axis from one to the next, as OME-Zarr pyramids and ``remoteviz convert`` stores
    do, or the path of such a store. ``host_budget`` bounds the bytes of bricks held in memory
    and ``gpu_budget`` those of each renderer's textures. The look's fields are
    :class:`~remoteviz.rendering.Volume`'s; ``pixels_per_voxel`` is the screen-space error the
    still picture accepts (1: one voxel per pixel; 2 needs an eighth of the bricks), and
    ``interactive_pixels_per_voxel`` that of frames drawn while the view moves (coarser bricks
    take coarser steps, so moving stays quick). The node is
    placed as the volume's axis-aligned part says (``origin`` and ``spacing`` of level 0); a
    rotated source is placed by :func:`volume_node`'s transform.
    """

    # The look's fields are Volume's own, so both check and convert values alike.
    data_range = Volume.data_range
    transfer_function = Volume.transfer_function
    mode = Volume.mode
    iso_value = Volume.iso_value
    samples_per_voxel = Volume.samples_per_voxel
    interactive_samples_per_voxel = Volume.interactive_samples_per_voxel
    pick_threshold = Volume.pick_threshold
    pixels_per_voxel = Field(1.0, as_positive_float, "Screen pixels a voxel may cover before finer bricks are wanted.")
    interactive_pixels_per_voxel = Field(2.0, as_positive_float, "The same for frames drawn while the view moves.")

    def __init__(
        self,
        source: VolumeData | str | Path,
        *,
        host_budget: int = 256 * 1024**2,
        gpu_budget: int = 256 * 1024**2,
        brick: int | None = None,
        name: str = "",
        **fields: Any,
    ) -> None:
        if not isinstance(source, VolumeData):
            from remoteviz.readers.ome_zarr import read_zarr

            source = read_zarr(source)
        if gpu_budget <= 0:
            raise ValueError(f"expected a GPU memory budget above 0 bytes, got {gpu_budget}")
        self.bricks = BrickSource(source, host_budget, brick)
        self.gpu_budget = int(gpu_budget)
        matrix = np.asarray(source.transforms[0], dtype=np.float64)
        self.spacing = np.linalg.norm(matrix[:3, :3], axis=0)
        self.origin = matrix[:3, 3].copy()
        self._redraw_poster: Callable[[Callable[[], None]], None] | None = None
        self._redraw_posted = threading.Event()
        self.complete = False
        """Whether the last frame drawn had every brick it wanted (and, a still, was drawn in full)."""
        self.bricks_complete = False
        """Whether the last still had every brick it wanted (while not, stills are drawn quickly,
        as interactive frames are, until one has them all)."""
        self.last_frame: DrawnBricks | None = None
        """What the last frame drew (None before the first)."""
        reference = weakref.ref(self)
        self.bricks.add_listener(lambda: _arrived(reference))
        weakref.finalize(self, self.bricks.close)
        super().__init__(name=name, **fields)

    @property
    def shape(self) -> tuple[int, int, int]:
        """The full resolution's ``(z, y, x)``."""
        z, y, x = self.bricks.levels[0].shape
        return int(z), int(y), int(x)

    def redraw_through(self, post: Callable[[Callable[[], None]], None] | None) -> None:
        """Ask for redraws as bricks arrive by ``post(callback)``, which must run ``callback`` on
        the thread that may change the scene (``Service.call_soon``); None stops asking."""
        self._redraw_poster = post

    def frame_drawn(
        self, frame: DrawnBricks, more_to_upload: bool, arrivals_seen: int, *, interactive: bool, progressive: bool
    ) -> None:
        """The renderer's report after drawing the volume (any render thread): what the frame
        drew, whether bricks already loaded wait for the next frame's upload, how many bricks had
        arrived when it chose its bricks (those arriving since ask for the next frame), and
        whether it was an interactive frame or a still drawn as one while bricks were missing."""
        self.last_frame = frame
        # Only a still tells whether a still has all it wants; a quick still with all its bricks
        # asks for one more, drawn in full.
        self.bricks_complete = frame.complete and not interactive
        self.complete = frame.complete and not progressive
        if more_to_upload or self.bricks.arrivals != arrivals_seen or (progressive and frame.complete):
            self._request_redraw()

    def _request_redraw(self) -> None:
        post = self._redraw_poster
        if post is None or self.complete or self._redraw_posted.is_set():
            return
        self._redraw_posted.set()
        post(self._redraw)

    def _redraw(self) -> None:
        """The posted redraw, on the thread that may change the scene: a later arrival may post again."""
        self._redraw_posted.clear()
        self.touch()

    def wait_for_bricks(self, timeout: float = 30.0) -> bool:
        """Wait until the loader has read every brick asked for (for scripts without a service)."""
        return self.bricks.loader.wait_idle(timeout)

    def effective_range(self) -> tuple[float, float]:
        """``data_range``, else the store's recorded range, else the coarsest level's."""
        low, high = self.data_range or self.bricks.stored_range or self.bricks.coarsest_range()
        return (low, high) if high > low else (low, low + 1.0)

    def effective_iso_value(self) -> float:
        """``iso_value``, or the middle of the data range."""
        low, high = self.effective_range()
        return self.iso_value if self.iso_value is not None else (low + high) / 2.0

    def effective_pick_threshold(self) -> float:
        """The value picking stops at, as :meth:`Volume.effective_pick_threshold` chooses it."""
        if self.pick_threshold is not None:
            return self.pick_threshold
        if self.mode is VolumeMode.ISOSURFACE:
            return self.effective_iso_value()
        low, high = self.effective_range()
        return low + self.transfer_function.lowest_visible() * (high - low)

    def ortho_slice(self, axis: str, index: int, **fields: Any) -> OrthoSlice:
        """An :class:`~remoteviz.rendering.OrthoSlice` of the full resolution, reading only the
        plane (the chunks it cuts); ``fields`` set the slice's colour map, window and level."""
        if axis not in _AXES:
            raise ValueError(f"expected an axis 'x', 'y' or 'z', got {axis!r}")
        along = _AXES[axis]
        count = self.shape[2 - along]
        if not 0 <= index < count:
            raise ValueError(f"slice index {index} is outside 0..{count - 1} along {axis}")
        level = self.bricks.levels[0]
        key = [slice(None)] * 3
        key[2 - along] = slice(index, index + 1)
        plane = np.asarray(level[tuple(key)])
        plane = plane if plane.dtype in TEXTURE_DTYPES else plane.astype(np.float32)
        origin = self.origin.copy()
        origin[along] += index * self.spacing[along]
        return OrthoSlice(plane, tuple(self.spacing), tuple(origin), axis=axis, index=0, **fields)

    def oblique_slice(self, point: Iterable[float], normal: Iterable[float], **fields: Any) -> ObliqueSlice:
        """An :class:`~remoteviz.rendering.ObliqueSlice` of the full resolution through ``point``
        facing ``normal`` (volume coordinates) that reads only the bricks the plane cuts;
        ``fields`` set its resolution, colour map, window and level."""
        return OutOfCoreObliqueSlice(self, point=point, normal=normal, **fields)

    def _build_geometry(self) -> OutOfCoreGeometry:
        nz, ny, nx = self.shape
        low_corner = self.origin - self.spacing / 2.0
        high_corner = self.origin + (np.array([nx, ny, nz]) - 0.5) * self.spacing
        data_range = self.effective_range()
        iso = (self.effective_iso_value() - data_range[0]) / (data_range[1] - data_range[0])
        return OutOfCoreGeometry(
            repr(self), self.bricks, self.origin, self.spacing, data_range,
            BoundingBox(as_vec3(low_corner), as_vec3(high_corner)), self.transfer_function, self.mode,
            float(iso), self.effective_pick_threshold(), self.gpu_budget,
        )


def _arrived(reference: weakref.ref[OutOfCoreVolume]) -> None:
    volume = reference()
    if volume is not None:
        volume._request_redraw()


def _rotation_from_matrix(rotation: np.ndarray) -> Rotation:
    """The quaternion of a proper rotation matrix."""
    m = rotation
    w = np.sqrt(max(0.0, 1.0 + m[0, 0] + m[1, 1] + m[2, 2])) / 2.0
    x = np.sqrt(max(0.0, 1.0 + m[0, 0] - m[1, 1] - m[2, 2])) / 2.0
    y = np.sqrt(max(0.0, 1.0 - m[0, 0] + m[1, 1] - m[2, 2])) / 2.0
    z = np.sqrt(max(0.0, 1.0 - m[0, 0] - m[1, 1] + m[2, 2])) / 2.0
    x = np.copysign(x, m[2, 1] - m[1, 2])
    y = np.copysign(y, m[0, 2] - m[2, 0])
    z = np.copysign(z, m[1, 0] - m[0, 1])
    return Rotation(float(x), float(y), float(z), float(w))


def default_cache_folder() -> Path:
    """Where :func:`volume_node` keeps converted stores: ``$REMOTEVIZ_CACHE`` or ``~/.cache/remoteviz``."""
    return Path(os.environ.get("REMOTEVIZ_CACHE") or Path.home() / ".cache" / "remoteviz") / "volumes"


def _cache_store(data: VolumeData, folder: Path) -> Path:
    """The converted store for ``data``: named by its source, size and modification time."""
    try:
        stamp = str(Path(data.source).stat().st_mtime_ns)
    except OSError:
        stamp = ""
    digest = hashlib.sha256(f"{Path(data.source).resolve()}|{data.shape}|{stamp}".encode()).hexdigest()[:16]
    return folder / f"{Path(data.source).name or 'volume'}-{digest}.zarr"


def volume_node(
    data: VolumeData,
    memory_budget: int,
    *,
    cache_folder: Path | None = None,
    progress: Callable[[float, str], None] | None = None,
    redraw: Callable[[Callable[[], None]], None] | None = None,
    **fields: Any,
) -> Node:
    """An out-of-core volume of ``data`` within ``memory_budget`` bytes (half for host bricks, half
    for GPU textures), as a node ready for a scene.

    ``data`` whose levels are chunked in pieces of at most 256 voxels a side and form a pyramid
    is drawn from where it is; other data
    (a NumPy array, a memory map, a single-level file) is first converted once into a store
    under ``cache_folder`` (:func:`default_cache_folder`), ``progress`` told how far it is. A
    source whose axes are rotated in the world comes back inside a separator with its rotation.
    ``redraw`` is given to :meth:`OutOfCoreVolume.redraw_through` (a service's ``call_soon``).
    ``fields`` set the volume's fields (``transfer_function``, ``mode``...).
    """
    half = max(int(memory_budget) // 2, 1)
    try:
        # Drawn where it is only if chunked in pieces a brick reads few of (a store chunked in
        # whole slices would decode a slice per brick row).
        chunked = all(max(getattr(level, "chunks", None) or (1 << 30,)) <= 4 * DEFAULT_BRICK for level in data.levels)
        volume = OutOfCoreVolume(data, host_budget=half, gpu_budget=half, **fields) if chunked else None
    except ValueError as error:
        _log.info("%s is converted before it is drawn out of core: %s", data.source, error)
        volume = None
    if volume is None:
        from remoteviz.readers.ome_zarr import read_zarr
        from remoteviz.readers.pyramid_store import write_pyramid

        store = _cache_store(data, cache_folder or default_cache_folder())
        if not (store / "zarr.json").is_file():
            store.parent.mkdir(parents=True, exist_ok=True)
            partial = store.with_suffix(".partial")
            write_pyramid(data, partial, progress=progress)
            partial.rename(store)
        converted = read_zarr(store)
        volume = OutOfCoreVolume(converted, host_budget=half, gpu_budget=half, **fields)
    volume.redraw_through(redraw)
    matrix = np.asarray(data.transforms[0], dtype=np.float64)
    axes = matrix[:3, :3] / np.linalg.norm(matrix[:3, :3], axis=0)
    if np.allclose(axes, np.eye(3), atol=1e-9):
        return volume
    # The node is placed by the axis-aligned part; the rotation (and a mirror) goes in a transform.
    mirror = np.linalg.det(axes) < 0.0
    rotation = axes @ np.diag([-1.0, 1.0, 1.0]) if mirror else axes
    volume.origin = np.zeros(3)
    volume.touch()
    transform = Transform(translation=tuple(matrix[:3, 3]), rotation=_rotation_from_matrix(rotation),
                          scale=(-1.0 if mirror else 1.0, 1.0, 1.0))
    return Separator([transform, volume])
