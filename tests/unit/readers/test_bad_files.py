"""Files that are corrupt, truncated, of the wrong kind or absurd in size: each gets one ReadError,
one line naming the file and the problem, and none makes a reader allocate what its header claims
(the size checks answer first: their message says what the header claims)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import laspy
import nibabel
import numpy as np
import pytest
import tifffile

from remoteviz import ReadError, load, read_volume
from remoteviz.readers.formats import read_points

from .files import phantom, reflectors, write_series, write_survey


def refused(path: Path | str, *needles: str, reader=read_volume) -> str:
    """The one-line message of the ReadError ``reader(path)`` raises; it names the file and each needle."""
    with pytest.raises(ReadError) as caught:
        reader(path)
    message = str(caught.value)
    # The file named is the one at fault: ``path``, or the slice of a folder that is.
    assert "\n" not in message and message.startswith(f"cannot read {path}"), message
    for needle in needles:
        assert needle in message, message
    return message


def cut(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def test_a_missing_file_and_an_unknown_kind(tmp_path):
    refused(tmp_path / "absent.nii", "no such file", reader=load)
    (tmp_path / "notes.xyz1").write_text("hello")
    refused(tmp_path / "notes.xyz1", "not a format remoteviz reads", reader=load)
    (tmp_path / "empty.npy").write_bytes(b"")
    refused(tmp_path / "empty.npy", "empty")
    refused(tmp_path, "holds no DICOM series, TIFF slices or zarr store")


def test_a_text_file_named_like_each_format_is_refused(tmp_path):
    for name in ("scan.nii", "scan.nii.gz", "survey.sgy", "stack.tif", "volume.npy", "cloud.las", "part.step",
                 "model.stl", "scene.glb", "slice.dcm"):
        path = tmp_path / name
        path.write_text("this is not what the name says " * 200)
        refused(path, reader=load)


# ---------------------------------------------------------------- NumPy


def test_npy_truncated_absurd_and_of_objects(tmp_path):
    np.save(tmp_path / "cut.npy", np.zeros((20, 20, 20), np.float32))
    refused(cut(tmp_path / "cut.npy", 0.5), "truncated")
    header = tmp_path / "huge.npy"
    with header.open("wb") as file:  # a valid header claiming 10^12 voxels, and no data
        np.lib.format.write_array_header_1_0(file, {"descr": "<u1", "fortran_order": False,
                                                    "shape": (10_000, 10_000, 10_000)})
    refused(header, "claims 1,000,000,000,000 voxels", "truncated")
    np.save(tmp_path / "objects.npy", np.array([[[{}]]], dtype=object), allow_pickle=True)
    refused(tmp_path / "objects.npy", "not a number type")
    np.save(tmp_path / "flat.npy", np.zeros(10))
    refused(tmp_path / "flat.npy", "expected a 3-D")


# ---------------------------------------------------------------- NIfTI


def test_nifti_claiming_10_to_the_12_voxels(tmp_path):
    image = nibabel.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
    image.header.set_data_shape((10_000, 10_000, 10_000))
    with (tmp_path / "huge.nii").open("wb") as file:
        file.write(image.header.binaryblock + b"\0" * 4)
    refused(tmp_path / "huge.nii", "claims 1,000,000,000,000 voxels", "truncated")
    (tmp_path / "huge.nii.gz").write_bytes(gzip.compress((tmp_path / "huge.nii").read_bytes()))
    refused(tmp_path / "huge.nii.gz", "claims 1,000,000,000,000 voxels", "memory")


def test_nifti_truncated(tmp_path):
    data = np.random.default_rng(0).normal(size=(30, 30, 30)).astype(np.float32)
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), tmp_path / "cut.nii")
    refused(cut(tmp_path / "cut.nii", 0.6), "truncated")
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), tmp_path / "cut.nii.gz")
    refused(cut(tmp_path / "cut.nii.gz", 0.6), "NIfTI")


# ---------------------------------------------------------------- DICOM


def test_dicom_truncated_and_corrupt(tmp_path):
    paths = write_series(tmp_path / "series", phantom((3, 32, 32)))
    cut(paths[1], 0.7)
    refused(tmp_path / "series", "DICOM")
    corrupt = tmp_path / "corrupt.dcm"
    corrupt.write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 300)
    refused(corrupt, "DICOM")


def test_dicom_colour_images_and_missing_decoders_are_named():
    import os

    from pydicom.data import get_testdata_file

    folder = os.path.dirname(get_testdata_file("CT_small.dcm"))
    refused(os.path.join(folder, "SC_rgb_rle.dcm"), "colour images")
    refused(os.path.join(folder, "MR_small_jpeg_ls_lossless.dcm"), "JPEG-LS", "needs a decoder: pip install")


def test_a_dicom_multi_frame_header_claiming_terabytes(tmp_path):
    import pydicom

    paths = write_series(tmp_path / "series", phantom((1, 16, 16)))
    ds = pydicom.dcmread(paths[0])
    ds.Rows, ds.Columns, ds.NumberOfFrames = 60000, 60000, 1000
    ds.save_as(tmp_path / "huge.dcm")
    refused(tmp_path / "huge.dcm", "claims")


# ---------------------------------------------------------------- TIFF


def test_tiff_truncated_and_corrupt(tmp_path):
    tifffile.imwrite(tmp_path / "cut.tif", np.zeros((8, 64, 64), np.uint16), photometric="minisblack")
    refused(cut(tmp_path / "cut.tif", 0.5), "truncated")
    (tmp_path / "corrupt.tif").write_bytes(b"II*\x00" + b"\xff" * 200)
    refused(tmp_path / "corrupt.tif", "TIFF")


def test_tiff_claiming_a_trillion_pixels(tmp_path):
    path = tmp_path / "huge.tif"
    tifffile.imwrite(path, np.zeros((4, 4), np.uint8))
    data = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tif:  # where the width and length tags (32-bit) keep their values
        offsets = [tif.pages[0].tags[name].valueoffset for name in ("ImageWidth", "ImageLength")]
    for offset in offsets:
        struct.pack_into("<I", data, offset, 1_000_000)
    path.write_bytes(bytes(data))
    refused(path, "claims 1,000,000,000,000 voxels", "truncated")


def test_tiff_slices_of_different_sizes(tmp_path):
    tifffile.imwrite(tmp_path / "a1.tif", np.zeros((4, 4), np.uint8))
    tifffile.imwrite(tmp_path / "a2.tif", np.zeros((5, 4), np.uint8))
    with pytest.raises(ReadError, match="a2.tif.*the stack's first is"):
        read_volume(tmp_path)


# ---------------------------------------------------------------- SEG-Y


def test_segy_truncated_short_and_irregular(tmp_path):
    path = write_survey(tmp_path / "cut.sgy", reflectors((4, 5, 30)))
    refused(cut(path, 0.8), "truncated")
    (tmp_path / "short.sgy").write_bytes(b"C" * 1000)
    refused(tmp_path / "short.sgy", "3600 bytes")
    path = write_survey(tmp_path / "lines.sgy", reflectors((4, 5, 30)))
    with pytest.raises(ReadError, match="no regular inline/crossline grid"):
        from remoteviz.readers.segy import read_segy

        read_segy(path, iline=9, xline=13)  # bytes holding no line numbers


# ---------------------------------------------------------------- LAS


def write_las(path: Path) -> Path:
    las = laspy.create(point_format=6, file_version="1.4")
    las.header.offsets, las.header.scales = [0.0, 0.0, 0.0], [0.01, 0.01, 0.01]
    las.x, las.y, las.z = np.arange(100.0), np.zeros(100), np.zeros(100)
    las.write(path)
    return path


def test_las_claiming_10_to_the_12_points_and_truncated(tmp_path):
    path = write_las(tmp_path / "huge.las")
    data = bytearray(path.read_bytes())
    struct.pack_into("<Q", data, 247, 10**12)  # LAS 1.4's point count
    path.write_bytes(bytes(data))
    refused(path, "claims", reader=read_points)
    refused(cut(write_las(tmp_path / "cut.las"), 0.7), "truncated", reader=read_points)
    refused(cut(write_las(tmp_path / "cut.laz"), 0.5), reader=read_points)


# ---------------------------------------------------------------- meshes and parts


def test_a_step_file_with_no_shape(tmp_path):
    (tmp_path / "empty.step").write_text("ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n")
    refused(tmp_path / "empty.step", "no shape", reader=load)


def test_a_step_file_that_crashes_opencascade_is_a_read_error(tmp_path):
    # OpenCASCADE dies of a segmentation fault on some corrupt files: the child process it runs in
    # dies, not the caller. A file that kills the tessellating process stands for one.
    import remoteviz.readers.cad as cad

    path = tmp_path / "crash.step"
    path.write_text("ISO-10303-21;\n")
    original = cad._TESSELLATE
    cad._TESSELLATE = "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"
    try:
        refused(path, "OpenCASCADE crashed reading it (SIGSEGV)", reader=load)
    finally:
        cad._TESSELLATE = original


def test_corrupted_copies_of_valid_files_only_ever_raise_read_errors(tmp_path):
    # Seeded corruption (cut short, or bytes overwritten) of a small valid file of each kind. Before
    # this test: a lazrs panic (a BaseException), DICOM header numbers that were no numbers and LAS
    # scales making infinite coordinates escaped as other errors.
    import random

    import trimesh

    valid = {"dcm": write_series(tmp_path / "dcm", phantom((2, 8, 8)))[0]}
    for suffix in ("nii", "nii.gz"):
        nibabel.save(nibabel.Nifti1Image(phantom((4, 8, 8)), np.eye(4)), tmp_path / f"a.{suffix}")
        valid[suffix] = tmp_path / f"a.{suffix}"
    tifffile.imwrite(tmp_path / "a.tif", phantom((4, 8, 8)), photometric="minisblack")
    np.save(tmp_path / "a.npy", phantom((4, 8, 8)))
    valid.update({"tif": tmp_path / "a.tif", "npy": tmp_path / "a.npy",
                  "sgy": write_survey(tmp_path / "a.sgy", reflectors((3, 4, 10)))})
    las = laspy.create(point_format=7, file_version="1.4")
    las.header.scales = [0.01, 0.01, 0.01]
    las.x, las.y, las.z = np.arange(10.0), np.zeros(10), np.zeros(10)
    for suffix in ("las", "laz"):
        las.write(tmp_path / f"a.{suffix}")
        valid[suffix] = tmp_path / f"a.{suffix}"
    trimesh.PointCloud(np.random.default_rng(0).random((10, 3))).export(tmp_path / "a.ply")
    valid["ply"] = tmp_path / "a.ply"
    rng = random.Random(1)
    escaped = []
    for suffix, path in valid.items():
        data = Path(path).read_bytes()
        for trial in range(30):
            corrupt = bytearray(data)
            if trial % 2 == 0:
                corrupt = corrupt[: rng.randrange(1, len(corrupt))]
            else:
                for _ in range(rng.randrange(1, 20)):
                    corrupt[rng.randrange(len(corrupt))] = rng.randrange(256)
            target = tmp_path / f"corrupt{trial}.{suffix}"
            target.write_bytes(bytes(corrupt))
            try:
                load(target)
            except ReadError as error:
                assert "\n" not in str(error) and str(target) in str(error)
            except BaseException as error:  # noqa: B036  (a Rust panic is one)
                escaped.append(f"{target.name}: {type(error).__name__}: {error}")
    assert escaped == []
