"""A synthetic 3-D seismic survey written as SEG-Y by segyio, for the seismic example and the tests.

    python examples/seismic/synthetic_survey.py OUTPUT.sgy [--crossline-sorted]

writes reflectors (Ricker wavelets on dipping layers, one of them cut by a fault) as 4-byte IEEE
float traces with inline/crossline numbers at bytes 189/193 and CDP_X/CDP_Y at 181/185 scaled by
byte 71 (-100: centimetres), sorted by inline (or by crossline) as surveys are.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt


def reflectors(shape: tuple[int, int, int] = (60, 80, 200), dt_ms: float = 4.0) -> npt.NDArray[np.float32]:
    """Amplitudes ``(inline, crossline, sample)``: three dipping reflectors, the deepest offset by
    a fault across the inlines' middle, so the two horizontal axes cannot be swapped unseen."""
    n_il, n_xl, n_samples = shape
    il, xl, t = np.meshgrid(np.arange(n_il), np.arange(n_xl), np.arange(n_samples) * dt_ms, indexing="ij")
    amplitude = np.zeros(shape, np.float32)
    for depth, dip_il, dip_xl, strength in ((200.0, 1.0, 0.0, 1.0), (420.0, 0.0, 1.5, -0.7), (600.0, 0.5, 0.5, 0.9)):
        horizon = depth + dip_il * il + dip_xl * xl
        if depth == 600.0:
            horizon = horizon + np.where(il > n_il // 2, 60.0, 0.0)  # the fault throws the deepest layer down
        arg = (np.pi * 0.025 * (t - horizon)) ** 2  # a 25 Hz Ricker wavelet
        amplitude += (strength * (1 - 2 * arg) * np.exp(-arg)).astype(np.float32)
    return amplitude


def write_survey(path: str | Path, amplitude: npt.NDArray[np.floating], *, crossline_sorted: bool = False,
                 first_lines: tuple[int, int] = (1000, 2000), dt_ms: float = 4.0,
                 origin: Sequence[float] = (500000.0, 6700000.0), bin_size: tuple[float, float] = (25.0, 12.5),
                 scalar: int = -100) -> Path:
    """Write ``amplitude`` ``(inline, crossline, sample)`` as a SEG-Y file and return its path.

    Inline ``first_lines[0] + k`` lies ``k * bin_size[0]`` metres east of ``origin``, crossline
    ``first_lines[1] + j`` ``j * bin_size[1]`` metres north; coordinates are stored as integers
    times ``scalar`` (negative: divided by it), as byte 71 says.
    """
    import segyio

    n_il, n_xl, n_samples = amplitude.shape
    spec = segyio.spec()
    spec.format = 5  # 4-byte IEEE floats
    spec.sorting = segyio.TraceSortingFormat.CROSSLINE_SORTING if crossline_sorted else \
        segyio.TraceSortingFormat.INLINE_SORTING
    spec.samples = np.arange(n_samples) * dt_ms
    spec.ilines = np.arange(n_il) + first_lines[0]
    spec.xlines = np.arange(n_xl) + first_lines[1]
    factor = -float(scalar) if scalar < 0 else 1.0 / float(scalar)
    pairs = [(k, j) for j in range(n_xl) for k in range(n_il)] if crossline_sorted else \
        [(k, j) for k in range(n_il) for j in range(n_xl)]
    with segyio.create(str(path), spec) as f:
        for trace, (k, j) in enumerate(pairs):
            f.header[trace] = {
                segyio.TraceField.INLINE_3D: int(spec.ilines[k]),
                segyio.TraceField.CROSSLINE_3D: int(spec.xlines[j]),
                segyio.TraceField.CDP_X: round((origin[0] + k * bin_size[0]) * factor),
                segyio.TraceField.CDP_Y: round((origin[1] + j * bin_size[1]) * factor),
                segyio.TraceField.SourceGroupScalar: scalar,
                segyio.TraceField.TRACE_SAMPLE_COUNT: n_samples,
                segyio.TraceField.TRACE_SAMPLE_INTERVAL: int(dt_ms * 1000),
            }
            f.trace[trace] = np.ascontiguousarray(amplitude[k, j], dtype=np.float32)
        f.bin.update(hdt=int(dt_ms * 1000), hns=n_samples)
    return Path(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="the SEG-Y file to write")
    parser.add_argument("--crossline-sorted", action="store_true", help="sort traces by crossline")
    args = parser.parse_args()
    write_survey(args.path, reflectors(), crossline_sorted=args.crossline_sorted)
    print(f"wrote {args.path}")


if __name__ == "__main__":
    main()
