"""An out-of-core volume behind a real service and socket: the first frame comes from the coarsest
level while the disk is held, then frames keep coming with no input as bricks arrive (the volume
asks through ``Service.call_soon``), until the picture equals the complete one."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

import remoteviz as rv
from remoteviz import client

from .harness import running_service

zarr = pytest.importorskip("zarr")

from remoteviz.readers.ome_zarr import read_zarr  # noqa: E402
from remoteviz.readers.pyramid_store import write_pyramid  # noqa: E402
from remoteviz.readers.volume_data import VolumeData  # noqa: E402

N = 64
RAMP = rv.TransferFunction.from_points([(0.0, 1.0, 0.0, 0.0, 0.0), (0.1, 1.0, 0.0, 0.0, 0.0), (1.0, 1.0, 0.4, 0.1, 1.0)])


class Held:
    """A level whose reads wait for ``gate``: a disk that has not answered yet."""

    def __init__(self, array, gate: threading.Event) -> None:
        self.array, self.gate, self.chunks = array, gate, array.chunks

    shape = property(lambda self: self.array.shape)
    dtype = property(lambda self: self.array.dtype)

    def __getitem__(self, key):
        self.gate.wait()
        return self.array[key]


def balls() -> np.ndarray:
    k, j, i = np.mgrid[:N, :N, :N].astype(np.float32)
    near = np.clip(9.0 - np.sqrt((i - 20) ** 2 + (j - 40) ** 2 + (k - 30) ** 2), 0.0, 1.0) * 250
    far = np.clip(12.0 - np.sqrt((i - 44) ** 2 + (j - 24) ** 2 + (k - 36) ** 2), 0.0, 1.0) * 160
    return np.maximum(near, far).astype(np.uint8)


class OutOfCoreListener(rv.ServiceListener):
    def __init__(self, data: VolumeData, service: rv.Service) -> None:
        self.data, self.service = data, service
        self.volumes: list[rv.OutOfCoreVolume] = []

    def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
        volume = rv.OutOfCoreVolume(self.data, transfer_function=RAMP, data_range=(0.0, 255.0))
        volume.redraw_through(self.service.call_soon)
        self.volumes.append(volume)
        root = rv.SceneExaminer(camera=rv.OrthographicCamera(position=(0.0, 0.0, 300.0), height=80.0))
        root.add_child(volume)
        render_area.scene_manager.scene_graph = root


def test_the_picture_sharpens_by_itself_as_bricks_arrive(tmp_path):
    data = balls()
    matrix = np.eye(4)
    matrix[:3, 3] = -(N - 1) / 2.0
    stored = read_zarr(write_pyramid(VolumeData((data,), (matrix,), "balls.npy"), tmp_path / "balls.zarr", brick=16))
    gate = threading.Event()
    held = VolumeData(tuple(Held(level, gate) for level in stored.levels[:-1]) + (stored.levels[-1],),
                      stored.transforms, stored.source)
    service_listener: list[OutOfCoreListener] = []

    async def scenario(runner) -> tuple[np.ndarray, np.ndarray, int]:
        async with client.connect(runner.url("ooc", "width=160&height=120")) as view:
            first = (await view.next_frame(timeout=30.0)).image.astype(int)
            gate.set()  # the disk answers: from here on nobody sends anything
            frames = 0
            last = first
            volume = service_listener[0].volumes[0]
            for _ in range(60):
                try:
                    last = (await view.next_frame(timeout=5.0)).image.astype(int)
                except TimeoutError:
                    break
                frames += 1
            assert volume.complete
            return first, last, frames

    with running_service(run_mode=rv.RunMode.INVENTOR_SERVICE) as runner:
        listener = OutOfCoreListener(held, runner.service)
        service_listener.append(listener)
        runner.service.add_listener(listener)
        first, last, frames = asyncio.run(scenario(runner))
    gate.set()
    assert frames >= 1  # frames came with no input at all
    reference = rv.Volume(data, origin=(-(N - 1) / 2.0,) * 3, transfer_function=RAMP, data_range=(0.0, 255.0))
    root = rv.SceneExaminer(camera=rv.OrthographicCamera(position=(0.0, 0.0, 300.0), height=80.0))
    root.add_child(reference)
    manager = rv.SceneManager()
    manager.scene_graph = root
    expected = manager.render(160, 120).astype(int)
    manager.dispose()
    assert (expected.max(axis=-1) > 60).mean() > 0.03 and (first.max(axis=-1) > 60).mean() > 0.03
    # The still is PNG (lossless): the last frame is the complete out-of-core picture, which
    # differs from the in-memory one only in the one-voxel bands at brick seams.
    assert np.abs(last - expected).mean() < 1.5
    assert np.abs(first - expected).mean() > np.abs(last - expected).mean()  # it did sharpen
