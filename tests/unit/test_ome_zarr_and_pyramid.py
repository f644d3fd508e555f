"""The zarr/OME-Zarr reader (NGFF 0.4 and 0.5 metadata, written with zarr itself), the pyramid
store writer (levels, per-brick ranges, progress, bounded reads) and ``remoteviz convert``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")

from remoteviz.readers.ome_zarr import read_zarr  # noqa: E402
from remoteviz.readers.pyramid_store import brick_ranges, level_shapes, write_pyramid  # noqa: E402
from remoteviz.readers.volume_data import VolumeData  # noqa: E402


def _write_ome(path: Path, version: str, levels: list[np.ndarray], axes: list[dict], datasets: list[dict],
               omero: dict | None = None, outer: list | None = None) -> None:
    group = zarr.open_group(str(path), mode="w", zarr_format=2 if version == "0.4" else 3)
    for index, level in enumerate(levels):
        group.create_array(str(index), data=level, chunks=(8,) * level.ndim)
    multiscale = {"axes": axes, "datasets": datasets, **({"coordinateTransformations": outer} if outer else {})}
    if version == "0.4":
        group.attrs.update({"multiscales": [{"version": "0.4", **multiscale}], **({"omero": omero} if omero else {})})
    else:
        group.attrs.update({"ome": {"version": "0.5", "multiscales": [multiscale], **({"omero": omero} if omero else {})}})


def _dataset(path: str, scale: list[float], translation: list[float]) -> dict:
    return {"path": path, "coordinateTransformations": [{"type": "scale", "scale": scale},
                                                        {"type": "translation", "translation": translation}]}


SPACE = [{"name": n, "type": "space", "unit": "micrometer"} for n in ("z", "y", "x")]


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_levels_take_their_scale_and_translation(tmp_path, version):
    fine = np.arange(16 * 12 * 10, dtype=np.uint16).reshape(16, 12, 10)
    coarse = fine[::2, ::2, ::2].copy()
    _write_ome(tmp_path / "image.zarr", version, [fine, coarse], SPACE,
               [_dataset("0", [2.0, 0.5, 0.25], [10.0, 20.0, 30.0]), _dataset("1", [4.0, 1.0, 0.5], [11.0, 20.25, 30.125])],
               omero={"channels": [{"window": {"start": 100, "end": 900, "min": 0, "max": 2000}}]})
    data = read_zarr(tmp_path / "image.zarr")
    assert [level.shape for level in data.levels] == [(16, 12, 10), (8, 6, 5)]
    # Voxel (i, j, k) = (x, y, z) = (1, 2, 3) of level 0 sits at x = 30 + 0.25, y = 20 + 2 * 0.5, z = 10 + 3 * 2.
    assert np.allclose(data.transforms[0] @ [1, 2, 3, 1], [30.25, 21.0, 16.0, 1.0])
    assert np.allclose(data.transforms[1] @ [1, 2, 3, 1], [30.625, 22.25, 23.0, 1.0])
    assert data.window == (100.0, 900.0) and data.units == "micrometer"
    assert np.array_equal(np.asarray(data.levels[1][2:4, 1, 0:3]), coarse[2:4, 1, 0:3])


def test_time_and_channel_axes_are_read_at_index_zero_and_outer_transformations_apply(tmp_path):
    volume = np.random.default_rng(1).integers(0, 255, (2, 3, 8, 8, 8), dtype=np.uint8)
    axes = [{"name": "t", "type": "time"}, {"name": "c", "type": "channel"}, *SPACE]
    _write_ome(tmp_path / "tczyx.zarr", "0.5", [volume], axes, [_dataset("0", [1, 1, 2, 2, 2], [0, 0, 0, 0, 0])],
               outer=[{"type": "scale", "scale": [1, 1, 3, 3, 3]}])
    data = read_zarr(tmp_path / "tczyx.zarr")
    assert data.shape == (8, 8, 8)
    assert np.array_equal(np.asarray(data.levels[0][1:3, 4, :]), volume[0, 0, 1:3, 4, :])
    assert np.allclose(np.diag(data.transforms[0])[:3], [6.0, 6.0, 6.0])


def test_a_plain_zarr_array_is_one_level_at_unit_spacing(tmp_path):
    array = zarr.create_array(str(tmp_path / "plain.zarr"), shape=(4, 5, 6), chunks=(2, 2, 2), dtype=np.float32)
    array[...] = 1.5
    data = read_zarr(tmp_path / "plain.zarr")
    assert data.shape == (4, 5, 6) and np.array_equal(data.transforms[0], np.eye(4))


@pytest.mark.parametrize(("attrs", "message"), [
    ({}, "without OME-Zarr multiscales"),
    ({"ome": {"multiscales": [{"axes": SPACE, "datasets": []}]}}, "no datasets"),
    ({"ome": {"multiscales": [{"axes": SPACE, "datasets": [_dataset("0", [1, 1, -1], [0, 0, 0])]}]}},
     "scales must be greater than 0"),
    ({"ome": {"multiscales": [{"axes": SPACE, "datasets": [_dataset("9", [1, 1, 1], [0, 0, 0])]}]}}, "missing"),
])
def test_malformed_metadata_gets_a_clear_error_naming_the_store(tmp_path, attrs, message):
    group = zarr.open_group(str(tmp_path / "bad.zarr"), mode="w", zarr_format=3)
    group.create_array("0", data=np.zeros((4, 4, 4), np.uint8))
    group.attrs.update(attrs)
    with pytest.raises(ValueError, match=message) as caught:
        read_zarr(tmp_path / "bad.zarr")
    assert "bad.zarr" in str(caught.value)


def test_a_folder_that_is_no_store_gets_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not a zarr store"):
        read_zarr(tmp_path / "missing.zarr")


class CountingArray:
    """A (z, y, x) array that records the largest read (a stand-in for a file larger than RAM)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array, self.largest, self.voxels = array, 0, 0

    shape = property(lambda self: self.array.shape)
    dtype = property(lambda self: self.array.dtype)

    def __getitem__(self, key):
        part = self.array[key]
        self.largest = max(self.largest, part.size)
        self.voxels += part.size
        return part


def test_the_pyramid_halves_each_level_keeps_brick_ranges_and_reads_tile_by_tile(tmp_path):
    rng = np.random.default_rng(7)
    volume = rng.integers(0, 200, (40, 36, 50), dtype=np.uint8)
    volume[5, 6, 7] = 255
    source = CountingArray(volume)
    matrix = np.diag([0.5, 0.5, 2.0, 1.0])
    reports: list[tuple[float, str]] = []
    store = write_pyramid(VolumeData((source,), (matrix,), "volume.npy", window=(0, 100), units="mm"),
                          tmp_path / "store.zarr", brick=16, progress=lambda f, w: reports.append((f, w)))
    assert level_shapes((40, 36, 50), 16) == [(40, 36, 50), (20, 18, 25), (10, 9, 13)]
    data = read_zarr(store)
    assert [level.shape for level in data.levels] == [(40, 36, 50), (20, 18, 25), (10, 9, 13)]
    assert np.array_equal(np.asarray(data.levels[0][...]), volume)
    # Level 1 is the rounded mean of 2x2x2 voxels.
    expected = np.rint(volume[:2, :2, :2].mean())
    assert np.asarray(data.levels[1][0, 0, 0]) == expected
    # Its voxel 0 sits at the centre of the 2x2x2 voxels it averages.
    assert np.allclose(data.transforms[1] @ [0, 0, 0, 1], matrix @ [0.5, 0.5, 0.5, 1])
    assert data.window == (0.0, 100.0) and data.units == "mm"
    group = zarr.open_group(str(store), mode="r")
    ranges0, ranges2 = brick_ranges(group, 0), brick_ranges(group, 2)
    assert ranges0.shape == (3, 3, 4, 2)
    assert tuple(ranges0[0, 0, 0]) == (float(volume[:16, :16, :16].min()), 255.0)
    # A coarse brick's range spans the full-resolution values below it, not its averages.
    assert tuple(ranges2[0, 0, 0]) == (float(volume.min()), 255.0)
    # Progress rises to 1; the input was read once, a tile of at most brick x brick rows at a time.
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert source.voxels == volume.size and source.largest <= 16 * 16 * 50


def test_convert_writes_a_store_with_progress(tmp_path):
    volume = np.random.default_rng(3).integers(0, 255, (30, 20, 40), dtype=np.uint8)
    np.save(tmp_path / "volume.npy", volume)
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-m", "remoteviz", "convert", str(tmp_path / "volume.npy"),
                           str(tmp_path / "out.zarr"), "--brick", "16"],
                          capture_output=True, text=True, env=environment, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "100%" in done.stderr and "level 0" in done.stderr
    data = read_zarr(tmp_path / "out.zarr")
    assert np.array_equal(np.asarray(data.levels[0][...]), volume) and len(data.levels) == 3
    bad = subprocess.run([sys.executable, "-m", "remoteviz", "convert", str(tmp_path / "nothing.npy"),
                          str(tmp_path / "x.zarr")], capture_output=True, text=True, env=environment, timeout=60)
    assert bad.returncode == 1 and "nothing.npy" in bad.stderr and "Traceback" not in bad.stderr
