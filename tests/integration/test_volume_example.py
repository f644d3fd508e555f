"""The volume example through the Python client: real EGL ray casting, real sockets. The volume
shows, a drag turns it, messages change the transfer function, the clip plane and the slice, a
bad message gets an error for its sender, and a double click picks a voxel with its value."""

import asyncio
import json
import sys
from pathlib import Path

import numpy as np

import remoteviz as rv
from remoteviz import client
from remoteviz.events import MouseAction, MouseButton

from .harness import running_service

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "volume"))
import volume_viewer  # noqa: E402

SIZE = 48  # voxels a side: small, so that software OpenGL on a loaded machine keeps up


def volume_service():
    return running_service(volume_viewer.VolumeServiceListener(SIZE), run_mode=rv.RunMode.INVENTOR_SERVICE,
                           static_dir=str(volume_viewer.STATIC_DIR))


def changed(a: np.ndarray, b: np.ndarray) -> float:
    return float((np.abs(a.astype(int) - b.astype(int)).mean(axis=2) > 10).mean())


def test_the_phantom_is_ct_like():
    data = volume_viewer.ct_phantom(SIZE)
    assert data.dtype == np.uint16 and data.shape == (SIZE,) * 3
    centre = data[SIZE // 2, SIZE // 2]
    assert data[0, 0, 0] < 100  # air
    assert (centre > 1500).any() and ((centre > 950) & (centre < 1150)).any()  # bone and soft tissue


def test_the_volume_shows_turns_and_follows_the_editor_messages():
    async def scenario(runner):
        async with client.connect(runner.url(volume_viewer.AREA, "width=160&height=120")) as view:
            first = await view.latest_frame(settle=0.5)
            await view.drag([(80, 20), (80, 40), (80, 60), (80, 80)])  # a quarter turn
            turned = await view.latest_frame(settle=0.5)
            await view.send_message(json.dumps({"opacity": 0.1}))
            faint = await view.latest_frame(settle=0.5)
            await view.send_message(json.dumps({"clip": 0.0, "slice": SIZE // 2}))
            cut = await view.latest_frame(settle=0.5)
            await view.send_message("{not json")
            error = json.loads(await view.next_message())
            await view.send_message(json.dumps({"opacity": 5}))
            range_error = json.loads(await view.next_message())
            return first, turned, faint, cut, error, range_error

    with volume_service() as runner:
        first, turned, faint, cut, error, range_error = asyncio.run(scenario(runner))
    image = first.image.astype(int)
    background = image[2, 2]
    centre = image[50:70, 70:90]
    assert (np.abs(centre - background).max(axis=2) > 60).all(), "the head fills the middle"
    assert first.is_still and turned.is_still
    assert changed(first.image, turned.image) > 0.05, "a drag turns the volume"
    assert changed(turned.image, faint.image) > 0.05, "a lower opacity changes the picture"
    assert changed(faint.image, cut.image) > 0.02, "the clip plane and the slice change it too"
    assert "not JSON" in error["error"] and "opacity" in range_error["error"]


def test_a_double_click_picks_a_voxel_and_reports_its_value():
    async def scenario(runner):
        async with client.connect(runner.url(volume_viewer.AREA, "width=160&height=120")) as view:
            await view.latest_frame(settle=0.3)
            await view.mouse(MouseAction.DOUBLE_CLICK, 80, 60, MouseButton.LEFT)
            hit = json.loads(await view.next_message())
            await view.mouse(MouseAction.DOUBLE_CLICK, 2, 2, MouseButton.LEFT)
            miss = json.loads(await view.next_message())
            label = await view.latest_frame(settle=0.3)
            return hit, miss, label

    with volume_service() as runner:
        hit, miss, label = asyncio.run(scenario(runner))
    picked = hit["picked"]
    data = volume_viewer.ct_phantom(SIZE)
    assert picked["node"] == "volume"
    assert data[tuple(picked["voxel"])] == picked["value"]
    assert picked["value"] > 880  # the first voxel the CT transfer function shows: skin
    assert miss == {"picked": None}
