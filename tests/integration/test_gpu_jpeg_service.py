"""JPEG frames from a real service on a machine without a working GPU: they flow, from the CPU, with
GPU JPEG asked for or not, and nothing of PyTorch, torchvision, CuPy or CUDA is imported.

Each case runs in a fresh interpreter: what it imports, and the one-time decision and its log line,
belong to the process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from remoteviz.encoders import gpu_jpeg

# Where the driver shows a CUDA device the probe goes on to look for PyTorch, and may find it.
pytestmark = pytest.mark.skipif(gpu_jpeg.cuda_devices()[0] > 0, reason="a CUDA device here "
                                "(test_gpu_jpeg_on_device.py covers this machine)")

GPU_STACK = ("torch", "torchvision", "cupy", "cuda", "nvidia")

SCRIPT = r"""
import asyncio, json, logging, sys

GPU_STACK = set(sys.argv[2].split(","))
attempted = []


class Watch:
    # First on sys.meta_path: sees every import tried, even of a package that is not installed.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in GPU_STACK:
            attempted.append(name)
        return None


sys.meta_path.insert(0, Watch())
records = []


class Keep(logging.Handler):
    def emit(self, record):
        records.append([record.levelname, record.getMessage()])


logger = logging.getLogger("remoteviz.encoders.gpu_jpeg")
logger.addHandler(Keep())
logger.setLevel(logging.INFO)

import numpy as np

import remoteviz as rv
from remoteviz import client
from tests.integration.harness import pattern, running_service


class Source(rv.RenderAreaListener):
    def on_opened_connection(self, render_area, connection, frame_encoders):
        frame_encoders.set_encoders(rv.Encoder.JPEG, rv.Encoder.JPEG)

    def on_requested_frame(self, render_area, connection):
        return pattern(render_area.width, render_area.height, 3), False


class Areas(rv.ServiceListener):
    def on_instantiated_render_area(self, render_area):
        render_area.add_listener(Source())


async def scenario(runner):
    frames = []
    for area in ("A", "B"):  # two areas: two JPEG encoders opened, one decision
        async with client.connect(runner.url(area, "width=160&height=120")) as view:
            frames.append(await asyncio.wait_for(view.next_frame(), 60))
    return frames


backend = sys.argv[1]
with running_service(Areas(), **({} if backend == "default" else {"jpeg_backend": backend})) as runner:
    frames = asyncio.run(scenario(runner))
expected = pattern(160, 120, 3).astype(float)
errors = [float(np.mean((f.image.astype(float) - expected) ** 2)) for f in frames]
print(json.dumps({
    "codecs": [f.codec.name for f in frames],
    "psnr": [99.0 if e == 0 else float(10 * np.log10(255.0**2 / e)) for e in errors],
    "records": records,
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in GPU_STACK),
    "attempted": attempted,
}))
"""


def run_service(backend: str) -> dict:
    done = subprocess.run([sys.executable, "-c", SCRIPT, backend, ",".join(GPU_STACK)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_by_default_jpeg_frames_come_from_the_cpu_and_no_gpu_library_is_even_tried() -> None:
    found = run_service("default")
    assert found["codecs"] == ["JPEG", "JPEG"]
    assert min(found["psnr"]) > 30, found["psnr"]
    assert found["loaded"] == [] and found["attempted"] == []
    infos = [message for level, message in found["records"] if level == "INFO"]
    assert len(infos) == 1 and "on the CPU" in infos[0], found["records"]
    assert not [r for r in found["records"] if r[0] == "WARNING"]


def test_a_forced_gpu_is_refused_once_with_why_and_the_frames_still_flow() -> None:
    found = run_service("gpu")
    assert found["codecs"] == ["JPEG", "JPEG"]
    assert min(found["psnr"]) > 30, found["psnr"]
    warnings = [message for level, message in found["records"] if level == "WARNING"]
    assert len(warnings) == 1, found["records"]
    assert "refused" in warnings[0] and gpu_jpeg.probe().detail in warnings[0]
    assert found["loaded"] == [] and found["attempted"] == []
