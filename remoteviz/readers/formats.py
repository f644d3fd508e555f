"""Which reader reads a path: by the file's first bytes where the format has a signature, else by
its extension (SEG-Y, IGES and the mesh formats have none), and a folder by what it holds."""

from __future__ import annotations

import enum
import importlib
import os
from collections.abc import Callable
from pathlib import Path

from remoteviz.readers.errors import ReadError
from remoteviz.readers.point_data import PointData
from remoteviz.readers.volume_data import VolumeData

ProgressCallback = Callable[[float], None]


class Format(enum.Enum):
    """The kinds of file :func:`detect` tells apart."""

    DICOM = "DICOM"
    NIFTI = "NIfTI"
    TIFF = "TIFF"
    SEGY = "SEG-Y"
    NUMPY = "NumPy"
    ZARR = "zarr"
    LAS = "LAS/LAZ"
    PLY_POINTS = "PLY points"
    CAD = "STEP/IGES"
    MESH = "mesh"

    @property
    def is_volume(self) -> bool:
        """Whether the format holds a volume (read by :func:`read_volume`)."""
        return self in (Format.DICOM, Format.NIFTI, Format.TIFF, Format.SEGY, Format.NUMPY, Format.ZARR)


_SEGY_SUFFIXES = (".sgy", ".segy", ".sgy3d")
_CAD_SUFFIXES = (".step", ".stp", ".iges", ".igs")
_NIFTI_MAGICS = (b"n+1\x00", b"ni1\x00", b"n+2\x00", b"ni2\x00")
# What trimesh reads; anything else with no signature is refused by name rather than guessed.
_MESH_SUFFIXES = (".stl", ".obj", ".ply", ".off", ".glb", ".gltf", ".3mf", ".dae", ".3ds", ".xaml", ".dxf",
                  ".svg", ".json")


def _head(path: Path, count: int = 512) -> bytes:
    with path.open("rb") as file:
        return file.read(count)


def _detect_folder(path: Path) -> Format:
    if (path / ".zarray").exists() or (path / ".zgroup").exists() or (path / "zarr.json").exists():
        return Format.ZARR
    names = [p for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")]
    if any(p.suffix.lower() in (".tif", ".tiff") for p in names):
        return Format.TIFF
    for item in names[:64] + [p for p in sorted(path.rglob("*")) if p.is_file()][:64]:
        if _head(item, 132)[128:132] == b"DICM" or item.suffix.lower() == ".dcm":
            return Format.DICOM
    raise ReadError(path, "the folder holds no DICOM series, TIFF slices or zarr store")


def detect(path: str | os.PathLike[str]) -> Format:
    """The format of a file, a folder (a DICOM series, TIFF slices, a zarr store) or a glob pattern
    of TIFF slices; :class:`ReadError` if it is none remoteviz reads."""
    text = os.fspath(path)
    source = Path(text)
    lower = text.lower()
    if not source.exists():
        if any(c in text for c in "*?[") and lower.endswith((".tif", ".tiff")):
            return Format.TIFF
        raise ReadError(path, "no such file or folder")
    if source.is_dir():
        return _detect_folder(source)
    head = _head(source)
    if len(head) == 0:
        raise ReadError(path, "the file is empty")
    if head[128:132] == b"DICM" or lower.endswith(".dcm"):
        return Format.DICOM
    if head.startswith(b"\x93NUMPY"):
        return Format.NUMPY
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return Format.TIFF
    if head[:4] == b"LASF":
        return Format.LAS
    if head[344:348] in _NIFTI_MAGICS or head[4:8] in _NIFTI_MAGICS or lower.endswith((".nii", ".nii.gz")):
        return Format.NIFTI
    if head.startswith(b"ISO-10303-21") or lower.endswith(_CAD_SUFFIXES):
        return Format.CAD
    if lower.endswith(_SEGY_SUFFIXES):
        return Format.SEGY
    if lower.endswith(".npy"):
        return Format.NUMPY
    if lower.endswith((".las", ".laz")):
        return Format.LAS
    if lower.endswith(".ply"):
        from remoteviz.readers.ply import ply_header

        counts = ply_header(source)
        return Format.PLY_POINTS if counts.get("vertex", 0) > 0 and counts.get("face", 0) == 0 else Format.MESH
    if lower.endswith(_MESH_SUFFIXES):
        return Format.MESH
    raise ReadError(path, "not a format remoteviz reads (DICOM, NIfTI, TIFF, SEG-Y, .npy, zarr, LAS/LAZ, PLY, "
                          "STEP/IGES, or a mesh: STL, OBJ, glTF, OFF...)")


def read_volume(path: str | os.PathLike[str], progress: ProgressCallback | None = None) -> VolumeData:
    """The volume at ``path`` (DICOM series folder or file, NIfTI, TIFF stack/folder/glob, SEG-Y,
    ``.npy``, zarr/OME-Zarr), not yet drawn; ``progress`` hears the fraction read, 0 to 1, from
    readers that read piece by piece. Raises :class:`ReadError` for anything it cannot read."""
    kind = detect(path)
    if kind is Format.DICOM:
        from remoteviz.readers.dicom import read_dicom

        return read_dicom(path, progress)
    if kind is Format.NIFTI:
        from remoteviz.readers.nifti import read_nifti

        return read_nifti(path)
    if kind is Format.TIFF:
        from remoteviz.readers.tiff import read_tiff

        return read_tiff(path, progress)
    if kind is Format.SEGY:
        from remoteviz.readers.segy import read_segy

        return read_segy(path, progress=progress)
    if kind is Format.NUMPY:
        from remoteviz.readers.npy import read_npy

        return read_npy(path)
    if kind is Format.ZARR:
        # The zarr reader lives beside the out-of-core volume that reads its levels brick by brick.
        try:
            reader: Callable[[str | os.PathLike[str]], VolumeData] = importlib.import_module(
                "remoteviz.readers.ome_zarr").read_zarr
        except ImportError as error:
            raise ReadError(path, f"reading zarr stores needs {error.name or 'zarr'} (pip install zarr)") from error
        return reader(path)
    raise ReadError(path, f"it holds {kind.value}, not a volume")


def read_points(path: str | os.PathLike[str]) -> PointData:
    """The point cloud at ``path`` (LAS, LAZ, a PLY file of points only)."""
    kind = detect(path)
    if kind is Format.LAS:
        from remoteviz.readers.las import read_las

        return read_las(path)
    if kind is Format.PLY_POINTS:
        from remoteviz.readers.ply import read_ply_points

        return read_ply_points(path)
    raise ReadError(path, f"it holds {kind.value}, not a point cloud")
