"""Readers benchmark: seconds to read a volume of each format whole, and ``remoteviz view``'s time to
its URL against its time to the loaded picture.

Writes one CT-like int16 volume (``--size`` voxels a side, default 256: 32 MB) with each format's
own library under ``--folder`` (default ``/tmp/remoteviz-readers``): a DICOM series (one file per
slice), NIfTI ``.nii`` and ``.nii.gz``, a TIFF stack, SEG-Y (float32, inline-sorted) and ``.npy``;
then times ``rv.read_volume`` plus reading every voxel (``np.asarray``), median of ``--repeats``.
Last, runs ``remoteviz view`` on the DICOM series and times, from the process's start, the URL
printed (the page can be opened) and the "showing" line (the volume is in the scene). Prints a
table and writes ``benchmarks/results/readers.json``. The machine's load makes absolute figures
noisy: compare within one run.

    python -m benchmarks.readers [--size 256] [--repeats 3] [--folder /tmp/remoteviz-readers]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import remoteviz as rv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "medical"))
sys.path.insert(0, str(ROOT / "examples" / "seismic"))


def write_files(folder: Path, size: int) -> dict[str, Path]:
    """The same volume in each format, written once (kept for the next run)."""
    import nibabel
    import tifffile
    from synthetic_ct import phantom, write_series
    from synthetic_survey import write_survey

    folder.mkdir(parents=True, exist_ok=True)
    hu = phantom((size, size, size))
    files = {"DICOM series": folder / f"dicom{size}", "NIfTI .nii": folder / f"v{size}.nii",
             "NIfTI .nii.gz": folder / f"v{size}.nii.gz", "TIFF stack": folder / f"v{size}.tif",
             "SEG-Y": folder / f"v{size}.sgy", "NumPy .npy": folder / f"v{size}.npy"}
    if not files["DICOM series"].exists():
        write_series(files["DICOM series"], hu)
    for key in ("NIfTI .nii", "NIfTI .nii.gz"):
        if not files[key].exists():
            nibabel.save(nibabel.Nifti1Image(hu.transpose(2, 1, 0), np.eye(4)), files[key])
    if not files["TIFF stack"].exists():
        tifffile.imwrite(files["TIFF stack"], hu, photometric="minisblack")
    if not files["SEG-Y"].exists():
        write_survey(files["SEG-Y"], hu.astype(np.float32))
    if not files["NumPy .npy"].exists():
        np.save(files["NumPy .npy"], hu)
    return files


def timed(call: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def view_timings(series: Path) -> dict[str, float]:
    """Seconds from starting ``remoteviz view`` to its URL line and to its "showing" line."""
    env = {**os.environ, "PYOPENGL_PLATFORM": "egl", "EGL_PLATFORM": "surfaceless", "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "remoteviz", "view", str(series), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    found: dict[str, float] = {}
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "in a browser" in line and "url" not in found:
                found["url"] = time.perf_counter() - start
            if "showing" in line:
                found["loaded"] = time.perf_counter() - start
                break
    finally:
        process.terminate()
        process.wait(30)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folder", default="/tmp/remoteviz-readers")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "readers.json"))
    args = parser.parse_args()
    files = write_files(Path(args.folder), args.size)
    megabytes = args.size**3 * 2 / 1e6
    results: dict[str, object] = {}
    print(f"{args.size}^3 int16 ({megabytes:.0f} MB), read whole, median of {args.repeats}")
    print(f"{'format':16} {'s':>8} {'MB/s':>8}")
    for name, path in files.items():
        seconds = timed(lambda path=path: np.asarray(rv.read_volume(path).levels[0]).sum(), args.repeats)
        results[name] = seconds
        print(f"{name:16} {seconds:8.3f} {megabytes / seconds:8.0f}")
    view = view_timings(files["DICOM series"])
    results["view"] = view
    print(f"remoteviz view {files['DICOM series'].name}: URL printed after {view.get('url', float('nan')):.2f} s, "
          f"volume shown after {view.get('loaded', float('nan')):.2f} s")
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"when": datetime.now(UTC).isoformat(), "machine": platform.node(),
                                  "size": args.size, "results": results}, indent=2))


if __name__ == "__main__":
    main()
