"""The point cloud example through the Python client: a million points render, the point size
follows a message, and a double click picks the nearest point."""

import asyncio
import json
import sys
from pathlib import Path

import numpy as np

import remoteviz as rv
from remoteviz import client
from remoteviz.events import MouseAction, MouseButton

from .harness import running_service

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "point_cloud"))
import point_cloud  # noqa: E402


def test_a_million_points_show_grow_with_the_size_message_and_are_picked():
    listener = point_cloud.PointCloudServiceListener()
    assert len(listener.points.positions) == 1_000_000

    async def scenario(runner):
        async with client.connect(runner.url(point_cloud.AREA, "width=200&height=150")) as view:
            small = await view.latest_frame(settle=0.5)
            await view.send_message(json.dumps({"size": 6}))
            large = await view.latest_frame(settle=0.5)
            await view.send_message(json.dumps({"size": "huge"}))
            error = json.loads(await view.next_message())
            await view.mouse(MouseAction.DOUBLE_CLICK, 100, 75, MouseButton.LEFT)
            picked = json.loads(await view.next_message())
            return small, large, error, picked

    with running_service(listener, run_mode=rv.RunMode.INVENTOR_SERVICE,
                         static_dir=str(point_cloud.STATIC_DIR)) as runner:
        small, large, error, picked = asyncio.run(scenario(runner))
    image = small.image.astype(int)
    sky = image[2, 100]
    middle = image[60:90, 70:130]
    # The terrain's greens and browns cover the middle, under a blue sky.
    assert (np.abs(middle - sky).max(axis=2) > 40).mean() > 0.9
    assert not np.array_equal(small.image, large.image)
    assert listener.points.size == 6.0 and "size" in error["error"]
    index = picked["picked"]["index"]
    np.testing.assert_allclose(picked["picked"]["point"], listener.points.positions[index], atol=1e-4)
