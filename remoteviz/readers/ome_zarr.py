"""Zarr arrays and OME-Zarr images (NGFF 0.4 and 0.5) as :class:`VolumeData`, read lazily.

A plain zarr array (v2 or v3) of three dimensions is one level at unit spacing. An OME-Zarr group
names its levels in ``multiscales`` (NGFF 0.4: the group's ``.zattrs``; 0.5: the ``ome`` key of
``zarr.json``'s attributes): each level is used as it is, its ``scale`` and ``translation``
(after the multiscale's own transformations) making the level's index-to-world matrix (a store
:mod:`~remoteviz.readers.pyramid_store` wrote gives its full matrix instead). Axes
other than the last three spatial ones (time, channel) are read at index 0. The first channel's
``omero`` window, when there is one, becomes :attr:`VolumeData.window`. No voxel is read here: the
levels are the zarr arrays themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from remoteviz.readers.pyramid_store import level_transform, stored_attributes
from remoteviz.readers.volume_data import VolumeData, VoxelArray

_SPATIAL = ("z", "y", "x")


class SpatialView:
    """The last three (z, y, x) axes of an array whose leading axes (time, channel) are fixed.

    Indexing it indexes the array with the fixed leading indices prepended, so nothing beyond
    what is asked for is read.
    """

    def __init__(self, array: Any, leading: tuple[int, ...]) -> None:
        self._array = array
        self._leading = leading

    @property
    def shape(self) -> tuple[int, ...]:
        """The ``(z, y, x)`` shape."""
        return tuple(int(n) for n in self._array.shape[len(self._leading):])

    @property
    def dtype(self) -> np.dtype[Any]:
        """The array's dtype."""
        dtype: np.dtype[Any] = np.dtype(self._array.dtype)
        return dtype

    @property
    def chunks(self) -> tuple[int, ...]:
        """The array's chunk shape along z, y and x."""
        return tuple(int(n) for n in self._array.chunks[len(self._leading):])

    def __getitem__(self, key: Any) -> Any:
        key = key if isinstance(key, tuple) else (key,)
        return self._array[self._leading + key]


def read_zarr(path: str | Path) -> VolumeData:
    """The volume in a zarr array or OME-Zarr image at ``path`` (a folder).

    Raises ``ValueError`` naming the path and the problem for what is not a 3-D volume (a
    group without ``multiscales``, an array of the wrong rank, malformed transformations).
    """
    import zarr  # an optional dependency (remoteviz[data])

    source = str(path)
    try:
        node = zarr.open(source, mode="r")
    except Exception as error:  # zarr raises several kinds for a folder that is not a store
        raise ValueError(f"{source}: not a zarr store ({error})") from None
    if isinstance(node, zarr.Array):
        level = _spatial(node, source, None)
        return VolumeData((level,), (np.eye(4),), source)
    attributes: dict[str, Any] = dict(node.attrs)
    ome: Mapping[str, Any] = attributes["ome"] if isinstance(attributes.get("ome"), Mapping) else attributes
    multiscales = ome.get("multiscales")
    if not isinstance(multiscales, list) or not multiscales or not isinstance(multiscales[0], Mapping):
        raise ValueError(f"{source}: a zarr group without OME-Zarr multiscales metadata")
    image: Mapping[str, Any] = multiscales[0]
    axes = _axes(image.get("axes"), source)
    datasets = image.get("datasets")
    if not isinstance(datasets, list) or not datasets:
        raise ValueError(f"{source}: multiscales has no datasets")
    outer = _scale_translation(image.get("coordinateTransformations", []), len(axes), source)
    levels: list[VoxelArray] = []
    transforms: list[np.ndarray] = []
    for dataset in datasets:
        if not isinstance(dataset, Mapping) or not isinstance(dataset.get("path"), str):
            raise ValueError(f"{source}: a multiscales dataset without a path")
        try:
            array: Any = node[dataset["path"]]
        except KeyError:
            raise ValueError(f"{source}: level {dataset['path']!r} is missing") from None
        if len(array.shape) != len(axes):
            raise ValueError(f"{source}: level {dataset['path']!r} has {len(array.shape)} axes, metadata {len(axes)}")
        levels.append(_spatial(array, source, axes))
        scale, translation = _scale_translation(dataset.get("coordinateTransformations", []), len(axes), source)
        # The multiscale's own transformations apply after the dataset's.
        scale, translation = scale * outer[0], translation * outer[0] + outer[1]
        transforms.append(_index_to_world(scale[-3:], translation[-3:]))
    units, modality = _units(image.get("axes")), ""
    own = stored_attributes(node)
    if own is not None:
        # A store remoteviz wrote keeps the full matrix (an oblique series has a rotation NGFF cannot say).
        matrix = np.asarray(own.get("index_to_world"), dtype=np.float64)
        if matrix.shape == (4, 4) and np.isfinite(matrix).all():
            transforms = [level_transform(matrix, 2**level) for level in range(len(levels))]
        units, modality = str(own.get("units", units)), str(own.get("modality", ""))
    return VolumeData(
        tuple(levels), tuple(transforms), source, window=_window(ome.get("omero")), units=units, modality=modality
    )


def _spatial(array: Any, source: str, axes: Sequence[str] | None) -> VoxelArray:
    """The array's (z, y, x) part: leading axes fixed at 0."""
    rank = len(array.shape)
    if rank < 3:
        raise ValueError(f"{source}: a volume needs 3 spatial axes, the array has {rank}")
    if axes is not None and tuple(axes[-3:]) != _SPATIAL:
        raise ValueError(f"{source}: the last three axes must be z, y, x, not {', '.join(axes[-3:])}")
    if axes is None and rank != 3:
        raise ValueError(f"{source}: a plain zarr array must have 3 axes (z, y, x), it has {rank}")
    if 0 in tuple(array.shape):
        raise ValueError(f"{source}: the array is empty, shape {tuple(array.shape)}")
    level: VoxelArray = SpatialView(array, (0,) * (rank - 3)) if rank > 3 else array
    return level


def _axes(value: Any, source: str) -> list[str]:
    if value is None:
        return list(_SPATIAL)  # NGFF 0.1-0.3 had no axes: the data were (t, c, z, y, x)
    if not isinstance(value, list):
        raise ValueError(f"{source}: multiscales axes must be a list")
    names = [a.get("name") if isinstance(a, Mapping) else a for a in value]
    if not all(isinstance(n, str) for n in names):
        raise ValueError(f"{source}: every axis needs a name")
    return [str(n) for n in names]


def _units(value: Any) -> str:
    if isinstance(value, list):
        for axis in value:
            if isinstance(axis, Mapping) and axis.get("type") == "space" and isinstance(axis.get("unit"), str):
                return str(axis["unit"])
    return ""


def _scale_translation(transformations: Any, rank: int, source: str) -> tuple[np.ndarray, np.ndarray]:
    """The product of a list of NGFF ``scale`` and ``translation`` transformations."""
    scale, translation = np.ones(rank), np.zeros(rank)
    if not isinstance(transformations, list):
        raise ValueError(f"{source}: coordinateTransformations must be a list")
    for item in transformations:
        if not isinstance(item, Mapping):
            raise ValueError(f"{source}: a malformed coordinate transformation {item!r}")
        kind = item.get("type")
        if kind == "identity":
            continue
        if kind not in ("scale", "translation") or not isinstance(item.get(kind), list):
            raise ValueError(f"{source}: unsupported coordinate transformation {item!r}")
        values = np.asarray(item[kind], dtype=np.float64)
        if values.shape != (rank,) or not np.isfinite(values).all():
            raise ValueError(f"{source}: a {kind} of {len(item[kind])} values for {rank} axes")
        if kind == "scale":
            if (values <= 0.0).any():
                raise ValueError(f"{source}: scales must be greater than 0, got {item[kind]}")
            scale, translation = scale * values, translation * values
        else:
            translation = translation + values
    return scale, translation


def _index_to_world(scale_zyx: np.ndarray, translation_zyx: np.ndarray) -> np.ndarray:
    """The 4x4 matrix from (i, j, k) = (x, y, z) indices to world x, y, z."""
    matrix = np.eye(4)
    matrix[:3, :3] = np.diag(scale_zyx[::-1])
    matrix[:3, 3] = translation_zyx[::-1]
    return matrix


def _window(omero: Any) -> tuple[float, float] | None:
    try:
        window = omero["channels"][0]["window"]
        low, high = float(window["start"]), float(window["end"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return (low, high) if np.isfinite(low) and np.isfinite(high) and high > low else None
