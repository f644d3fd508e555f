"""SEG-Y surveys through segyio: a regular 3-D survey as a volume of amplitudes.

The volume's array is ``(inline, crossline, sample)`` whatever the file's trace sorting (a
crossline-sorted file is transposed), so ``data[k, j, i]`` is sample ``i`` of crossline ``j`` on
inline ``k``. World coordinates: x and y are the traces' CDP_X/CDP_Y (bytes 181/185, scaled by
byte 71) when they vary, else the inline and crossline numbers; z is minus the sample time (ms)
or depth, so the volume hangs below z = 0 as the survey lies under the ground.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from remoteviz.readers.errors import ReadError, check_claimed_size, reading
from remoteviz.readers.volume_data import VolumeData

ProgressCallback = Callable[[float], None]

INLINE_BYTE = 189
"""Where the inline number is, the SEG-Y rev1 standard's byte; vendors differ (``iline=``)."""
CROSSLINE_BYTE = 193
"""Where the crossline number is (``xline=``)."""


def _coordinates(f: Any, trace: int) -> np.ndarray:
    import segyio

    header = f.header[trace]
    scalar = header[segyio.TraceField.SourceGroupScalar]
    factor = 1.0 if scalar == 0 else (float(scalar) if scalar > 0 else 1.0 / -float(scalar))
    return np.array([header[segyio.TraceField.CDP_X], header[segyio.TraceField.CDP_Y]], dtype=np.float64) * factor


def _grid(f: Any, inline_sorted: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The world origin of the first trace and the steps from one inline and one crossline to the next."""
    n_il, n_xl = len(f.ilines), len(f.xlines)

    def trace(il: int, xl: int) -> int:
        return il * n_xl + xl if inline_sorted else xl * n_il + il

    origin = _coordinates(f, trace(0, 0))
    il_step = _coordinates(f, trace(1, 0)) - origin if n_il > 1 else np.zeros(2)
    xl_step = _coordinates(f, trace(0, 1)) - origin if n_xl > 1 else np.zeros(2)
    if abs(il_step[0] * xl_step[1] - il_step[1] * xl_step[0]) < 1e-9:  # no usable coordinates: line numbers
        origin = np.array([f.ilines[0], f.xlines[0]], dtype=np.float64)
        il_step = np.array([f.ilines[1] - f.ilines[0] if n_il > 1 else 1, 0], dtype=np.float64)
        xl_step = np.array([0, f.xlines[1] - f.xlines[0] if n_xl > 1 else 1], dtype=np.float64)
    return origin, il_step, xl_step


def read_segy(path: str | os.PathLike[str], *, iline: int = INLINE_BYTE, xline: int = CROSSLINE_BYTE,
              progress: ProgressCallback | None = None) -> VolumeData:
    """A regular SEG-Y survey, inline- or crossline-sorted; ``iline``/``xline`` are the header
    bytes of the line numbers when a vendor put them elsewhere."""
    import segyio  # an optional dependency, loaded on first use

    size = os.path.getsize(path)
    if size < 3600:
        raise ReadError(path, f"a SEG-Y file starts with 3600 bytes of headers; this one has {size} bytes")
    with reading(path, "SEG-Y file"):
        f = segyio.open(os.fspath(path), "r", iline=iline, xline=xline, strict=False)
    with f:
        trace_bytes = 240 + len(f.samples) * np.dtype(f.dtype).itemsize
        extended = max(int(f.bin[segyio.BinField.ExtendedHeaders]), 0)
        traces, rest = divmod(size - 3600 - 3200 * extended, trace_bytes)
        if rest:
            raise ReadError(path, f"its size is {traces} traces of {trace_bytes} bytes and {rest} bytes more: it is "
                                  "truncated, or its binary header's sample count or format is wrong")
        if f.unstructured:
            raise ReadError(path, "its traces form no regular inline/crossline grid (irregular or 2-D survey; "
                                  f"the line numbers are read from bytes {iline} and {xline})")
        samples = np.asarray(f.samples, dtype=np.float64)
        n_il, n_xl, n_samples = len(f.ilines), len(f.xlines), len(samples)
        # segyio has checked the trace count against the file's size; this checks the memory.
        check_claimed_size(path, (n_il, n_xl, n_samples), 4, what="samples")
        inline_sorted = f.sorting == segyio.TraceSortingFormat.INLINE_SORTING
        with reading(path, "SEG-Y file"):
            lines = f.iline if inline_sorted else f.xline
            numbers = f.ilines if inline_sorted else f.xlines
            cube = np.empty((len(numbers), n_xl if inline_sorted else n_il, n_samples), np.float32)
            for index, number in enumerate(numbers):
                cube[index] = lines[number]
                if progress is not None:
                    progress((index + 1) / len(numbers))
            origin, il_step, xl_step = _grid(f, inline_sorted)
    if not inline_sorted:
        cube = np.ascontiguousarray(cube.transpose(1, 0, 2))
    dz = samples[1] - samples[0] if n_samples > 1 else 1.0
    matrix = np.eye(4)
    matrix[:3, 0] = (0.0, 0.0, -dz)  # samples point down
    matrix[:3, 1] = (*xl_step, 0.0)
    matrix[:3, 2] = (*il_step, 0.0)
    matrix[:3, 3] = (origin[0], origin[1], -samples[0])
    return VolumeData((cube,), (matrix,), os.fspath(path), units="amplitude", modality="seismic")
