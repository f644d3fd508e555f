"""A synthetic CT series written as DICOM files by pydicom, for the medical example and the tests.

    python examples/medical/synthetic_ct.py OUTPUT_FOLDER [--slices 48]

writes one file per axial slice, as a scanner would: 12-bit stored values with RescaleSlope and
RescaleIntercept giving Hounsfield units, ImagePositionPatient and ImageOrientationPatient
placing each slice, PixelSpacing, a WindowCenter/Width, and file names and InstanceNumbers in no
useful order (readers must sort by position).
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt


def phantom(shape: tuple[int, int, int] = (48, 96, 96)) -> npt.NDArray[np.int16]:
    """An asymmetric torso-like phantom in HU, ``(z, y, x)``: air around, soft tissue narrowing
    towards high z (the head), a spine at the back (high y), a lung on one side only (low x), and
    denser bone at the low-z end of the spine, so a mirror or a swapped axis shows."""
    nz, ny, nx = shape
    z, y, x = np.meshgrid(np.linspace(-1, 1, nz), np.linspace(-1, 1, ny), np.linspace(-1, 1, nx), indexing="ij")
    hu = np.full(shape, -1000, np.int16)
    body = (x / 0.9) ** 2 + (y / 0.7) ** 2 < 1.0 - 0.5 * np.clip(z, 0.0, None)  # narrower towards the head
    hu[body] = 40
    hu[body & (((x + 0.4) / 0.3) ** 2 + (y / 0.4) ** 2 < 1.0)] = -800  # one lung, on the low-x side
    hu[body & ((x / 0.15) ** 2 + ((y - 0.5) / 0.15) ** 2 < 1.0)] = 700  # the spine, at the back
    hu[(z < -0.6) & ((x / 0.15) ** 2 + ((y - 0.5) / 0.15) ** 2 < 0.3)] = 1500  # dense bone low in the spine
    return hu


def write_series(folder: str | Path, hu: npt.NDArray[np.integer], *, spacing: Sequence[float] = (0.8, 0.8, 2.5),
                 origin: Sequence[float] = (-38.0, -38.0, 0.0),
                 orientation: Sequence[float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0), slope: float = 1.0,
                 intercept: float = -1024.0, window: tuple[float, float] | None = (40.0, 400.0),
                 positions: Sequence[Sequence[float]] | None = None, seed: int = 0) -> list[Path]:
    """Write ``hu`` ``(z, y, x)`` as one CT file per slice in ``folder``; the files written.

    ``spacing`` is (between columns, between rows, between slices) in mm; slice ``k`` lies at
    ``origin + k * spacing[2] * normal`` unless ``positions`` gives each slice's
    ImagePositionPatient (to make a gap). Stored values are ``(hu - intercept) / slope``.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    row, column = np.array(orientation[:3], float), np.array(orientation[3:], float)
    normal = np.cross(row, column)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    order = list(range(hu.shape[0]))
    random.Random(seed).shuffle(order)  # names and InstanceNumbers say nothing of the position
    written = []
    for number, k in enumerate(order):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality = "CT"
        ds.PatientName = "Synthetic^Phantom"
        ds.PatientID = "0"
        ds.InstanceNumber = number + 1
        position = positions[k] if positions is not None else np.asarray(origin, float) + k * spacing[2] * normal
        ds.ImagePositionPatient = [float(v) for v in position]
        ds.ImageOrientationPatient = [float(v) for v in orientation]
        ds.PixelSpacing = [float(spacing[1]), float(spacing[0])]  # between rows, between columns
        ds.SliceThickness = float(spacing[2])
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = slope, intercept, "HU"
        if window is not None:
            ds.WindowCenter, ds.WindowWidth = window
        stored = np.rint((hu[k].astype(np.float64) - intercept) / slope).astype(np.uint16)
        ds.set_pixel_data(stored, "MONOCHROME2", 12)
        path = folder / f"IM{random.Random(seed + k).randrange(10**6):06d}_{number}.dcm"
        ds.save_as(path, enforce_file_format=True)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="where to write the slices")
    parser.add_argument("--slices", type=int, default=48, help="number of axial slices (default 48)")
    args = parser.parse_args()
    written = write_series(args.folder, phantom((args.slices, 96, 96)))
    print(f"wrote {len(written)} slices to {args.folder}")


if __name__ == "__main__":
    main()
