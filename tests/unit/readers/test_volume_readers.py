"""The volume readers on files written by each format's own library (and the sample files pydicom and
nibabel ship): values, shapes, slice order, spacing, orientation and the suggested window."""

from __future__ import annotations

import logging
import os

import nibabel
import numpy as np
import pydicom
import pytest
import segyio
import tifffile
from pydicom.data import get_testdata_file

from remoteviz.readers.dicom import read_dicom
from remoteviz.readers.formats import Format, detect, read_volume
from remoteviz.readers.nifti import read_nifti
from remoteviz.readers.npy import read_npy
from remoteviz.readers.segy import read_segy
from remoteviz.readers.tiff import read_tiff

from .files import phantom, reflectors, write_series, write_survey

PYDICOM_FILES = os.path.dirname(get_testdata_file("CT_small.dcm"))
NIBABEL_FILES = os.path.join(os.path.dirname(nibabel.__file__), "tests", "data")


def world(matrix: np.ndarray, ijk: tuple[float, float, float]) -> np.ndarray:
    return (matrix @ np.array([*ijk, 1.0]))[:3]


# ---------------------------------------------------------------- DICOM


def test_ct_small_loads_in_hounsfield_units():
    data = read_dicom(os.path.join(PYDICOM_FILES, "CT_small.dcm"))
    values = np.asarray(data.levels[0])
    stored = pydicom.dcmread(os.path.join(PYDICOM_FILES, "CT_small.dcm")).pixel_array
    assert (int(stored.min()), int(stored.max())) == (128, 2191)  # what the file stores...
    assert values.shape == (1, 128, 128)
    assert (int(values.min()), int(values.max())) == (-896, 1167)  # ...is HU after the intercept of -1024
    assert data.units == "HU" and data.modality == "CT"
    assert np.allclose(np.diag(data.index_to_world)[:2], 0.661468)


def test_ct5n_is_sorted_by_position_not_instance_number():
    folder = os.path.join(PYDICOM_FILES, "dicomdirtests", "98892001", "CT5N")
    data = read_dicom(folder)
    headers = [pydicom.dcmread(os.path.join(folder, name)) for name in sorted(os.listdir(folder))]
    by_z = sorted(headers, key=lambda ds: float(ds.ImagePositionPatient[2]))
    by_number = sorted(headers, key=lambda ds: int(ds.InstanceNumber))
    assert by_z != by_number, "the sample numbers its slices against their position"
    expected = np.stack([ds.pixel_array.astype(np.int32) + int(ds.RescaleIntercept) for ds in by_z])
    assert np.array_equal(np.asarray(data.levels[0]), expected)
    assert data.index_to_world[2, 2] == pytest.approx(2.5)  # from the positions
    assert world(data.index_to_world, (0, 0, 0))[2] == pytest.approx(float(by_z[0].ImagePositionPatient[2]))


def test_mr2_does_not_stack_mixed_orientations(caplog):
    folder = os.path.join(PYDICOM_FILES, "dicomdirtests", "98892003", "MR2")
    with caplog.at_level(logging.WARNING, "remoteviz.readers"):
        data = read_dicom(folder)
    assert data.shape[0] == 1  # no two of its images share series and orientation
    assert "series or orientations" in caplog.text


def test_a_synthetic_series_comes_back_exactly_with_its_placement(tmp_path):
    hu = phantom((12, 40, 32))
    write_series(tmp_path, hu, spacing=(0.7, 0.9, 3.0), origin=(-10.0, 20.0, 50.0), window=(-600, 1500))
    data = read_volume(tmp_path)
    assert np.array_equal(np.asarray(data.levels[0]), hu)
    assert data.window == (-1350.0, 150.0)  # level -600, width 1500
    expected = np.array([[0.7, 0, 0, -10], [0, 0.9, 0, 20], [0, 0, 3.0, 50], [0, 0, 0, 1]])
    assert np.allclose(data.index_to_world, expected)


def test_a_rescale_slope_of_two_gives_the_known_values(tmp_path):
    hu = phantom((4, 16, 16))
    write_series(tmp_path, hu, slope=2.0, intercept=-1000.0)
    assert np.array_equal(np.asarray(read_dicom(tmp_path).levels[0]), hu)  # even HU survive a slope of 2


def test_a_coronal_series_with_tilted_rows_is_placed_by_its_orientation(tmp_path):
    hu = np.zeros((6, 10, 8), np.int16)
    hu[5, 9, 7] = 1000  # the far corner
    # Rows run along -x, columns along -z (coronal, as viewed from the front); slices step along +y... or -y.
    orientation = (-1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
    write_series(tmp_path, hu, orientation=orientation, spacing=(0.5, 2.0, 4.0), origin=(100.0, -30.0, 60.0))
    data = read_dicom(tmp_path)
    normal = np.cross(orientation[:3], orientation[3:])
    k, j, i = np.argwhere(np.asarray(data.levels[0]) == 1000)[0]
    expected = np.array([100.0, -30.0, 60.0]) + 5 * 4.0 * normal + 7 * 0.5 * np.array(orientation[:3]) \
        + 9 * 2.0 * np.array(orientation[3:])
    assert np.allclose(world(data.index_to_world, (i, j, k)), expected)


def test_an_uneven_gap_is_reported(tmp_path, caplog):
    hu = phantom((5, 16, 16))
    positions = [(0.0, 0.0, z) for z in (0.0, 2.0, 4.0, 30.0, 32.0)]
    write_series(tmp_path, hu, positions=positions)
    with caplog.at_level(logging.WARNING, "remoteviz.readers"):
        data = read_dicom(tmp_path)
    assert "not evenly spaced" in caplog.text
    assert data.index_to_world[2, 2] == pytest.approx(2.0)  # the usual spacing, not the mean


def test_a_folder_with_other_files_reads_only_the_slices(tmp_path):
    write_series(tmp_path, phantom((3, 8, 8)))
    (tmp_path / "notes.txt").write_text("not DICOM")
    assert detect(tmp_path) is Format.DICOM
    assert read_volume(tmp_path).shape == (3, 8, 8)


def test_rle_compressed_slices_are_decoded(tmp_path):
    from pydicom.uid import RLELossless

    paths = write_series(tmp_path, phantom((3, 16, 16)))
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.compress(RLELossless)
        ds.save_as(path, enforce_file_format=True)
    assert np.array_equal(np.asarray(read_dicom(tmp_path).levels[0]), phantom((3, 16, 16)))


def test_rt_dose_frames_are_placed_by_their_grid_offsets():
    data = read_dicom(os.path.join(PYDICOM_FILES, "rtdose.dcm"))
    assert data.shape == (15, 10, 10)
    assert data.index_to_world[2, 2] == pytest.approx(5.0)


# ---------------------------------------------------------------- NIfTI


def test_nifti_flipped_affine_places_the_marker_where_the_world_says(tmp_path):
    array = np.zeros((16, 12, 8), np.int16)  # nibabel's (i, j, k)
    array[2, 3, 5] = 1000
    affine = np.array([[-4.0, 0, 0, 30], [0, 3.0, 0, -20], [0, 0, 2.0, 5], [0, 0, 0, 1]])
    nibabel.save(nibabel.Nifti1Image(array, affine), tmp_path / "phantom.nii.gz")
    data = read_nifti(tmp_path / "phantom.nii.gz")
    values = np.asarray(data.levels[0])
    assert values.shape == (8, 12, 16)  # (z, y, x)
    k, j, i = np.argwhere(values == 1000)[0]
    assert np.allclose(world(data.index_to_world, (i, j, k)), [22.0, -11.0, 15.0])


def test_nifti_uses_the_sform_when_its_code_is_set_else_the_qform(tmp_path):
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    image = nibabel.Nifti1Image(array, None)
    qform = np.diag([2.0, 2.0, 2.0, 1.0])
    sform = np.diag([3.0, 3.0, 3.0, 1.0])
    image.set_qform(qform, code=1)
    image.set_sform(sform, code=2)
    nibabel.save(image, tmp_path / "both.nii")
    assert np.allclose(read_nifti(tmp_path / "both.nii").index_to_world, sform)
    image.set_sform(sform, code=0)
    nibabel.save(image, tmp_path / "qform.nii")
    assert np.allclose(read_nifti(tmp_path / "qform.nii").index_to_world, qform)


def test_nibabel_anatomical_is_memory_mapped_and_big_endian():
    data = read_nifti(os.path.join(NIBABEL_FILES, "anatomical.nii"))
    image = nibabel.load(os.path.join(NIBABEL_FILES, "anatomical.nii"))
    assert isinstance(data.levels[0].base, np.memmap) or isinstance(data.levels[0], np.memmap)
    assert np.array_equal(np.asarray(data.levels[0]), np.asarray(image.dataobj).transpose(2, 1, 0))
    assert np.allclose(data.index_to_world, image.affine)


def test_a_4d_nifti_shows_its_first_volume(tmp_path):
    array = np.random.default_rng(0).integers(0, 100, (4, 5, 6, 3)).astype(np.int16)
    nibabel.save(nibabel.Nifti1Image(array, np.eye(4)), tmp_path / "series.nii")
    assert np.array_equal(np.asarray(read_nifti(tmp_path / "series.nii").levels[0]), array[..., 0].transpose(2, 1, 0))


# ---------------------------------------------------------------- TIFF


RAMP = np.arange(4 * 5 * 6, dtype=np.uint16).reshape(4, 5, 6)


def test_an_imagej_stack_keeps_its_voxel_size_and_is_memory_mapped(tmp_path):
    tifffile.imwrite(tmp_path / "stack.tif", RAMP, imagej=True, resolution=(2.0, 2.0),
                     metadata={"spacing": 3.0, "unit": "um", "axes": "ZYX"})
    data = read_tiff(tmp_path / "stack.tif")
    assert isinstance(data.levels[0], np.memmap)
    assert np.array_equal(np.asarray(data.levels[0]), RAMP)
    assert np.allclose(np.diag(data.index_to_world), [0.5, 0.5, 3.0, 1.0])


def test_an_ome_tiff_keeps_its_physical_sizes(tmp_path):
    tifffile.imwrite(tmp_path / "stack.ome.tif", RAMP, ome=True,
                     metadata={"axes": "ZYX", "PhysicalSizeX": 0.3, "PhysicalSizeY": 0.4, "PhysicalSizeZ": 1.5})
    data = read_volume(tmp_path / "stack.ome.tif")
    assert np.array_equal(np.asarray(data.levels[0]), RAMP)
    assert np.allclose(np.diag(data.index_to_world), [0.3, 0.4, 1.5, 1.0])


def test_a_compressed_stack_is_decoded(tmp_path):
    tifffile.imwrite(tmp_path / "z.tif", RAMP, compression="zlib", photometric="minisblack")
    assert np.array_equal(np.asarray(read_tiff(tmp_path / "z.tif").levels[0]), RAMP)


def test_a_folder_and_a_glob_of_slices_are_stacked_in_natural_order(tmp_path):
    for k in range(4):
        tifffile.imwrite(tmp_path / f"slice{k * 5}.tif", RAMP[k])  # slice0, slice5, slice10, slice15
    assert np.array_equal(np.asarray(read_volume(tmp_path).levels[0]), RAMP)
    assert np.array_equal(np.asarray(read_volume(str(tmp_path / "slice*.tif")).levels[0]), RAMP)


# ---------------------------------------------------------------- SEG-Y


@pytest.mark.parametrize("crossline_sorted", [False, True])
def test_both_segy_sortings_give_the_inline_crossline_sample_cube(tmp_path, crossline_sorted):
    amplitude = reflectors((6, 9, 50))
    path = write_survey(tmp_path / "survey.sgy", amplitude, crossline_sorted=crossline_sorted)
    with segyio.open(path, ignore_geometry=True) as f:  # the traces really are in the other order
        second = (f.header[1][segyio.TraceField.INLINE_3D], f.header[1][segyio.TraceField.CROSSLINE_3D])
    assert second == ((1001, 2000) if crossline_sorted else (1000, 2001))
    data = read_segy(path)
    assert data.modality == "seismic"
    assert np.array_equal(np.asarray(data.levels[0]), amplitude)
    # CDP_X/Y were stored in centimetres (scalar -100): inline 1003, crossline 2005, sample 10.
    assert np.allclose(world(data.index_to_world, (10, 5, 3)), [500000 + 3 * 25.0, 6700000 + 5 * 12.5, -40.0])


def test_an_ibm_float_segy_from_segyio_tools_reads_back(tmp_path):
    amplitude = reflectors((3, 4, 20))
    segyio.tools.from_array(str(tmp_path / "ibm.sgy"), amplitude)  # IBM floats, no coordinates
    data = read_segy(tmp_path / "ibm.sgy")
    assert np.allclose(np.asarray(data.levels[0]), amplitude, atol=1e-5)
    # No coordinates: the lines' numbers (1, 2, ...) place it; samples 4 ms apart point down.
    assert np.allclose(world(data.index_to_world, (2, 1, 1)), [2.0, 2.0, -8.0])


# ---------------------------------------------------------------- NumPy


def test_npy_is_memory_mapped_and_a_leading_unit_axis_dropped(tmp_path):
    np.save(tmp_path / "v.npy", RAMP)
    data = read_npy(tmp_path / "v.npy")
    assert isinstance(data.levels[0], np.memmap) and np.array_equal(data.levels[0], RAMP)
    np.save(tmp_path / "w.npy", RAMP[None])
    assert read_volume(tmp_path / "w.npy").shape == (4, 5, 6)
