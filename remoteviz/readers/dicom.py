"""DICOM series through pydicom: a folder of slices (or one file) as a volume in patient coordinates.

World coordinates are DICOM's patient coordinates in millimetres, LPS+ (x grows towards the
patient's left, y to the back, z to the head). The slices of a folder are grouped by
SeriesInstanceUID and orientation (a localiser sharing a series UID is not stacked with the
axial slices), the largest group is shown, and its slices are sorted by their position along the
slice normal (never by InstanceNumber, which scanners number either way). The spacing between
slices comes from those positions, not from SliceThickness; uneven gaps are reported. Stored
values become modality values (Hounsfield units for CT) through RescaleSlope/Intercept, and the
first WindowCenter/Width becomes the suggested window.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from remoteviz.readers.errors import ReadError, check_claimed_size, reading
from remoteviz.readers.volume_data import VolumeData

log = logging.getLogger("remoteviz.readers")

ProgressCallback = Callable[[float], None]

_GAP_TOLERANCE = 0.05
"""Slices whose spacing differs from the median by more than this fraction are reported."""


@dataclass(frozen=True)
class _Slice:
    path: Path
    series: str
    orientation: tuple[float, ...]
    position: np.ndarray
    rows: int
    columns: int


def _orientation(ds: Any) -> tuple[float, ...]:
    values = getattr(ds, "ImageOrientationPatient", None)
    return tuple(float(v) for v in values) if values is not None and len(values) == 6 else (1, 0, 0, 0, 1, 0)


def _position(ds: Any) -> np.ndarray:
    values = getattr(ds, "ImagePositionPatient", None)
    return np.array([float(v) for v in values]) if values is not None and len(values) == 3 else np.zeros(3)


def _window(ds: Any) -> tuple[float, float] | None:
    """The first WindowCenter/WindowWidth pair as a (low, high) range, or None."""
    center, width = getattr(ds, "WindowCenter", None), getattr(ds, "WindowWidth", None)
    if center is None or width is None:
        return None
    first = [float(v[0] if isinstance(v, Sequence) and not isinstance(v, str) else v) for v in (center, width)]
    if not np.isfinite(first).all() or first[1] <= 0:
        return None
    return first[0] - first[1] / 2.0, first[0] + first[1] / 2.0


def _pixel_spacing(ds: Any) -> tuple[float, float]:
    """(between columns along a row, between rows): DICOM's PixelSpacing is (row, column) spacing."""
    values = getattr(ds, "PixelSpacing", None) or getattr(ds, "ImagerPixelSpacing", None)
    if values is None or len(values) != 2:
        return 1.0, 1.0
    row_spacing, column_spacing = (float(v) for v in values)
    if not (row_spacing > 0 and column_spacing > 0):
        return 1.0, 1.0
    return column_spacing, row_spacing


def _scan(folder: Path, progress: ProgressCallback | None) -> list[_Slice]:
    """The headers of the folder's DICOM files; files of other kinds are skipped."""
    import pydicom  # an optional dependency, loaded on first use
    from pydicom.errors import InvalidDicomError

    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    found = []
    for number, path in enumerate(files):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError, EOFError):
            continue  # a DICOMDIR's neighbours, notes, thumbnails: not slices
        if progress is not None and number % 16 == 0:
            progress(0.4 * number / len(files))
        if "Rows" not in ds or "Columns" not in ds or getattr(ds, "SOPClassUID", "") == "1.2.840.10008.1.3.10":
            continue  # no image (a DICOMDIR, a structured report)
        with reading(path, "DICOM file"):  # a header value that is no number
            orientation = tuple(round(v, 4) for v in _orientation(ds))
            found.append(_Slice(path, str(getattr(ds, "SeriesInstanceUID", "")), orientation, _position(ds),
                                int(ds.Rows), int(ds.Columns)))
    return found


def _largest_stack(folder: Path, slices: list[_Slice]) -> list[_Slice]:
    """The slices of the largest (series, orientation, size) group, sorted along their normal."""
    groups: dict[tuple[Any, ...], list[_Slice]] = {}
    for item in slices:
        groups.setdefault((item.series, item.orientation, item.rows, item.columns), []).append(item)
    chosen = max(groups.values(), key=len)
    if len(groups) > 1:
        log.warning("%s holds %d series or orientations; showing the largest (%d of %d images)",
                    folder, len(groups), len(chosen), len(slices))
    orientation = np.array(chosen[0].orientation)
    normal = np.cross(orientation[:3], orientation[3:])
    return sorted(chosen, key=lambda s: float(normal @ s.position))


def _slice_step(source: str, stack: list[_Slice], normal: np.ndarray, fallback: float) -> np.ndarray:
    """The vector from one slice's first voxel to the next's, from the sorted positions."""
    if len(stack) < 2:
        return normal * fallback
    positions = np.array([s.position for s in stack])
    distances = np.diff(positions @ normal)
    if (distances < 1e-6).any():
        raise ReadError(source, f"{int((distances < 1e-6).sum())} slices share a position with another "
                                "(a series of several acquisitions?)")
    median = float(np.median(distances))
    uneven = np.abs(distances - median) > _GAP_TOLERANCE * median
    if uneven.any():
        where = int(np.flatnonzero(uneven)[0])
        log.warning("%s: slices are not evenly spaced (%.3g mm between slices %d and %d, %.3g mm elsewhere); "
                    "they are shown %.3g mm apart", source, distances[where], where, where + 1, median, median)
    # Along the line through the first and last slices (tilted for a gantry tilt), the median apart.
    direction = positions[-1] - positions[0]
    step: np.ndarray = direction * median / float(direction @ normal)
    return step


def _rescaled(ds: Any, stored: np.ndarray) -> np.ndarray:
    """Stored values to modality values (HU for CT): ``stored * RescaleSlope + RescaleIntercept``."""
    slope = float(getattr(ds, "RescaleSlope", 1.0) or 1.0)
    intercept = float(getattr(ds, "RescaleIntercept", 0.0) or 0.0)
    scale = float(getattr(ds, "DoseGridScaling", 1.0) or 1.0)  # RT dose: stored values times this are Gy
    if slope == 1.0 and intercept == 0.0 and scale == 1.0:
        return stored
    if slope == 1.0 and scale == 1.0 and intercept.is_integer():
        return stored.astype(np.int32) + int(intercept)
    return (stored.astype(np.float64) * slope * scale + intercept).astype(np.float32)


def _narrowest(values: np.ndarray) -> np.ndarray:
    """Integer values in the smallest integer type that holds them (HU fit int16)."""
    if values.dtype.kind not in "iu" or values.size == 0:
        return values
    low, high = int(values.min()), int(values.max())
    for kind in (np.uint8, np.int16, np.uint16, np.int32):
        info = np.iinfo(kind)
        if info.min <= low and high <= info.max:
            return values.astype(kind, copy=False)
    return values


def _units(ds: Any) -> str:
    if getattr(ds, "Modality", "") == "CT":
        return "HU"
    if getattr(ds, "Modality", "") == "RTDOSE":
        return str(getattr(ds, "DoseUnits", "GY")).lower().replace("gy", "Gy")
    return str(getattr(ds, "RescaleType", "") or "")


def _transform(ds: Any, step: np.ndarray, origin: np.ndarray) -> np.ndarray:
    orientation = np.array(_orientation(ds))
    column_spacing, row_spacing = _pixel_spacing(ds)
    matrix = np.eye(4)
    matrix[:3, 0] = orientation[:3] * column_spacing  # along a row: the column index i grows
    matrix[:3, 1] = orientation[3:] * row_spacing  # down a column: the row index j grows
    matrix[:3, 2] = step
    matrix[:3, 3] = origin
    return matrix


def _decode(ds: Any, source: Path) -> np.ndarray:
    if int(getattr(ds, "SamplesPerPixel", 1) or 1) != 1:
        raise ReadError(source, "it holds colour images (a secondary capture?), not a volume of values")
    with reading(source, "DICOM image"):
        try:
            return np.asarray(ds.pixel_array)
        except (NotImplementedError, RuntimeError) as error:
            syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
            name = getattr(syntax, "name", syntax)
            raise ReadError(source, f"its pixel data is compressed as {name}, which needs a decoder: pip install "
                                    "python-gdcm (or pylibjpeg with pylibjpeg-openjpeg)") from error


def _multi_frame(path: Path, ds: Any) -> VolumeData:
    """One file of several frames: per-frame positions, or RT dose's GridFrameOffsetVector."""
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    rows, columns = int(ds.Rows), int(ds.Columns)
    check_claimed_size(path, (frames, rows, columns), 4)
    per_frame = getattr(ds, "PerFrameFunctionalGroupsSequence", None)
    shared = getattr(ds, "SharedFunctionalGroupsSequence", None)
    plane = None
    if shared:
        plane = getattr(shared[0], "PlaneOrientationSequence", None)
        measures = getattr(shared[0], "PixelMeasuresSequence", None)
        if measures:
            ds.PixelSpacing = measures[0].PixelSpacing
    if plane:
        ds.ImageOrientationPatient = plane[0].ImageOrientationPatient
    orientation = np.array(_orientation(ds))
    normal = np.cross(orientation[:3], orientation[3:])
    if per_frame and getattr(per_frame[0], "PlanePositionSequence", None):
        positions = np.array([[float(v) for v in f.PlanePositionSequence[0].ImagePositionPatient] for f in per_frame])
    elif getattr(ds, "GridFrameOffsetVector", None) is not None:
        offsets = np.array([float(v) for v in ds.GridFrameOffsetVector])
        positions = _position(ds) + offsets[:, None] * normal
    else:
        thickness = float(getattr(ds, "SliceThickness", 1.0) or 1.0)
        positions = _position(ds) + np.arange(frames)[:, None] * thickness * normal
    order = np.argsort(positions @ normal)
    stack = [_Slice(path, "", (), positions[i], rows, columns) for i in order]
    step = _slice_step(os.fspath(path), stack, normal, 1.0)
    pixels = _decode(ds, path).reshape(frames, rows, columns)[order]
    values = _narrowest(_rescaled(ds, pixels))
    return VolumeData((values,), (_transform(ds, step, stack[0].position),), os.fspath(path), window=_window(ds),
                      units=_units(ds), modality=str(getattr(ds, "Modality", "")))


def read_dicom(path: str | os.PathLike[str], progress: ProgressCallback | None = None) -> VolumeData:
    """A DICOM series: a folder of slice files (searched recursively), or one file (one slice or
    a multi-frame image). ``progress`` hears the fraction done, 0 to 1, as files are read."""
    import pydicom  # an optional dependency, loaded on first use

    source = Path(path)
    if source.is_file():
        with reading(source, "DICOM file"):
            ds = pydicom.dcmread(source)
            if "PixelData" not in ds:
                raise ReadError(source, "the DICOM file holds no image")
            if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
                return _multi_frame(source, ds)
            stack = [_Slice(source, "", _orientation(ds), _position(ds), int(ds.Rows), int(ds.Columns))]
    else:
        stack = _largest_stack(source, _scan(source, progress)) if source.is_dir() else []
        if not stack:
            raise ReadError(source, "the folder holds no DICOM image")
    check_claimed_size(source, (len(stack), stack[0].rows, stack[0].columns), 4)
    with reading(stack[0].path, "DICOM file"):
        first = pydicom.dcmread(stack[0].path, stop_before_pixels=True)
        orientation = np.array(stack[0].orientation or _orientation(first))
        normal = np.cross(orientation[:3], orientation[3:])
        thickness = float(getattr(first, "SpacingBetweenSlices", None) or getattr(first, "SliceThickness", None)
                          or 1.0)
    step = _slice_step(os.fspath(source), stack, normal, thickness)
    planes = []
    for number, item in enumerate(stack):
        with reading(item.path, "DICOM file"):
            ds = pydicom.dcmread(item.path)
            planes.append(_rescaled(ds, _decode(ds, item.path)))
        if progress is not None:
            progress(0.4 + 0.6 * (number + 1) / len(stack))
    volume = np.stack(planes)  # slices rescaled differently promote to one type
    if volume.dtype == np.float64:
        volume = volume.astype(np.float32)
    with reading(stack[0].path, "DICOM file"):
        transform, window = _transform(first, step, stack[0].position), _window(first)
    return VolumeData((_narrowest(volume),), (transform,), os.fspath(source), window=window, units=_units(first),
                      modality=str(getattr(first, "Modality", "")))
