"""HelloCone through the Python client: real EGL rendering, real sockets."""

import asyncio
import sys
import urllib.request
from pathlib import Path

import numpy as np

import remoteviz as rv
from remoteviz import client
from remoteviz.rendering.renderer import Renderer

from .harness import running_service

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "hello_cone"))
import hello_cone  # noqa: E402


def cone_service(**settings):
    return running_service(hello_cone.HelloConeServiceListener(), run_mode=rv.RunMode.INVENTOR_SERVICE,
                           static_dir=str(hello_cone.STATIC_DIR), **settings)


def test_first_frame_shows_a_cone_on_a_gradient_and_a_drag_turns_it() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("TheCone", "width=200&height=150")) as view:
            first = await view.next_frame()
            await view.drag([(100, 40), (100, 60), (100, 80), (100, 100)])
            turned = await view.latest_frame(settle=0.4)
            return first, turned

    with cone_service() as runner:
        first, turned = asyncio.run(scenario(runner))
    image = first.image.astype(int)
    assert image.shape == (150, 200, 3)
    centre, corner_top, corner_bottom = image[75, 100], image[2, 2], image[147, 2]
    assert centre.mean() > corner_bottom.mean() + 40  # the lit grey cone stands out of the background
    assert corner_top.mean() > corner_bottom.mean()  # a gradient, lighter at the top
    assert abs(int(corner_top[0]) - int(corner_top[2])) < 30  # greys, not colours
    assert turned.is_still
    changed = np.abs(turned.image.astype(int) - image).mean(axis=2) > 20
    assert changed.mean() > 0.02, "a vertical drag tilts the cone: many pixels change"


def test_frame_size_follows_a_resize() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("TheCone", "width=160&height=120")) as view:
            await view.next_frame()
            await view.request_size(240, 100)
            return await view.frame_where(lambda f: f.image.shape == (100, 240, 3))

    with cone_service() as runner:
        frame = asyncio.run(scenario(runner))
    assert frame.frame.area_width == 240


def test_the_page_chooses_its_encoder_with_a_connection_parameter() -> None:
    async def scenario(runner):
        url = runner.url("TheCone", "width=64&height=48&encoder=jpeg")
        async with client.connect(url) as view:
            return view.accept, await view.next_frame()

    with cone_service() as runner:
        accept, frame = asyncio.run(scenario(runner))
    assert (accept.still_encoder, accept.interactive_encoder) == ("jpeg", "jpeg")
    assert frame.codec is rv.Codec.JPEG


def test_metrics_name_the_opengl_renderer_that_drew_the_frames() -> None:
    async def scenario(runner):
        async with client.connect(runner.url("TheCone", "width=64&height=48")) as view:
            await view.next_frame()
        return await asyncio.to_thread(_get_text, f"http://127.0.0.1:{runner.service.port}/metrics")

    with cone_service() as runner:
        text = asyncio.run(scenario(runner))
    contexts = [line for line in text.splitlines() if line.startswith("remoteviz_opengl_contexts{")]
    drawn_by = Renderer.shared(0).context  # this process's: llvmpipe here, the GPU on a GPU server
    assert contexts, text
    assert all(f'renderer="{drawn_by.renderer_name}"' in line for line in contexts), contexts
    assert all(f'display="{drawn_by.display_kind}"' in line for line in contexts), contexts
    assert sum(int(line.rsplit(" ", 1)[1]) for line in contexts) >= 1


def _get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()
