"""GPU benchmark: what renders, and what a frame costs, on whatever machine it runs.

Prints the machine's OpenGL renderer (and how EGL reached it), the GPUs and encoders it finds
(NVIDIA's ``nvidia-smi``, CUDA through PyTorch, NVENC through FFmpeg), then for HelloCone, the
1-million-triangle mesh and a 512^3 volume at 1280x720, 1920x1080 and 3840x2160:

- render ms (a still frame without multisampling: the full mesh, not the decimated copy a CPU
  renderer draws while the view moves, and volume rays at full resolution),
- readback ms (the pixels from the GPU to host memory),
- JPEG (quality 0.7) encode ms and bytes per frame on the CPU path (simplejpeg) and on the GPU
  path (nvJPEG, remoteviz/encoders/gpu_jpeg.py: host pixels copied up, bytes copied back), or why
  the GPU path was skipped;

then frames per second for 1, 4 and 16 viewers of separate render areas at 1920x1080 (JPEG),
end to end through a service process and Python clients, with JPEG on the CPU and, where it works,
on the GPU (``--jpeg cpu,gpu``). On a machine without a GPU it says which
GPU checks it skipped. Figures from a machine shared with other work are comparable only within
one run.

    python -m benchmarks.gpu [--frames 10] [--sizes 1280x720,1920x1080,3840x2160]
                             [--scenes hello_cone,mesh_1m_triangles,volume_512] [--viewers 1,4,16]
                             [--seconds 4] [--jpeg cpu,gpu] [--output benchmarks/results/gpu.json]

``--serve SCENE --port N --encoder E --jpeg-backend B`` runs the service the viewer figures use
(every render area shows SCENE, JPEG on backend B).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import remoteviz as rv
from remoteviz.encoders import gpu_jpeg
from remoteviz.encoders.image import encode_jpeg
from remoteviz.rendering import SceneExaminer, SceneManager
from remoteviz.rendering.context import egl_devices
from remoteviz.rendering.framebuffer import Framebuffer
from remoteviz.rendering.renderer import Renderer

from .render import hello_cone, million_triangles, volume_scene
from .streaming import ServiceProcess, measure

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "gpu.json"
JPEG_QUALITY = 0.7
WARMUP_FRAMES = 2

SCENES: dict[str, Callable[[], SceneExaminer]] = {
    "hello_cone": hello_cone,
    "mesh_1m_triangles": million_triangles,
    "volume_512": lambda: volume_scene(512),
}


def machine() -> dict[str, object]:
    """The renderer and the GPU tools found, each with why it is missing where it is."""
    renderer = Renderer.shared(0)
    found: dict[str, object] = {
        "gl_renderer": renderer.context.renderer_name,
        "reached_through": getattr(renderer.context, "display_kind", ""),
        "egl_devices": [device.describe() + (" (software)" if device.is_software else "")
                        for device, _ in egl_devices()],
    }
    smi = shutil.which("nvidia-smi")
    found["nvidia_smi"] = (subprocess.run([smi, "-L"], capture_output=True, text=True).stdout.strip()
                           if smi else "skipped: no nvidia-smi on this machine")
    try:
        import torch  # the device machine's PyTorch; never a dependency of remoteviz's own
    except ImportError:
        found["cuda"] = "skipped: no PyTorch here to ask CUDA"
    else:
        found["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "skipped: no CUDA device"
    from remoteviz.encoders.video import probe

    found["h264_nvenc"] = "works" if probe("h264_nvenc") else "refused (no NVENC here): the default chain takes libx264"
    jpeg_on_gpu = gpu_jpeg.probe()
    found["gpu_jpeg"] = (f"works: {jpeg_on_gpu.detail}" if jpeg_on_gpu.available
                         else f"skipped: {jpeg_on_gpu.detail}")
    return found


def readback_ms(width: int, height: int, frames: int) -> float:
    """Median milliseconds to read ``width`` x ``height`` RGB pixels back from a framebuffer."""
    renderer = Renderer.shared(0)
    times = []
    with renderer.bound():
        framebuffer = Framebuffer(width, height, 0)
        try:
            for _ in range(frames + WARMUP_FRAMES):
                started = time.perf_counter()
                framebuffer.read_pixels()
                times.append((time.perf_counter() - started) * 1000.0)
        finally:
            framebuffer.delete()
    return statistics.median(times[WARMUP_FRAMES:])


def frame_costs(scene: str, width: int, height: int, frames: int) -> dict[str, object]:
    """One scene at one size: render and readback milliseconds, and JPEG encode milliseconds and
    bytes per frame on the CPU and (where it works) on the GPU, of the same rendered frames."""
    manager = SceneManager()
    manager.antialiasing = 0
    examiner = SCENES[scene]()
    manager.scene_graph = examiner
    examiner.view_all(rv.Viewport(width, height))
    on_gpu = gpu_jpeg.probe().available
    totals, encodes, sizes, gpu_encodes, gpu_sizes = [], [], [], [], []
    for index in range(frames + WARMUP_FRAMES):
        started = time.perf_counter()
        image = manager.render(width, height)
        rendered = time.perf_counter()
        payload = encode_jpeg(image, JPEG_QUALITY)
        encoded = time.perf_counter()
        if index >= WARMUP_FRAMES:
            totals.append((rendered - started) * 1000.0)
            encodes.append((encoded - rendered) * 1000.0)
            sizes.append(len(payload))
        if on_gpu:  # the first frames warm nvJPEG up (its encoder state, the buffers of this size)
            started = time.perf_counter()
            payload = gpu_jpeg.encode_jpeg_gpu(image, JPEG_QUALITY)
            if index >= WARMUP_FRAMES:
                gpu_encodes.append((time.perf_counter() - started) * 1000.0)
                gpu_sizes.append(len(payload))
    manager.dispose()
    readback = readback_ms(width, height, frames)
    total = statistics.median(totals)
    return {"scene": scene, "size": f"{width}x{height}", "render_ms": max(0.0, total - readback),
            "readback_ms": readback, "cpu_encode_ms": statistics.median(encodes),
            "bytes_per_frame": statistics.fmean(sizes),
            "gpu_encode_ms": statistics.median(gpu_encodes) if on_gpu else None,
            "gpu_bytes_per_frame": statistics.fmean(gpu_sizes) if on_gpu else None}


async def viewers_fps(scene: str, viewers: int, seconds: float, jpeg: str) -> dict[str, object]:
    """Frames per second of each of ``viewers`` viewers of separate 1920x1080 areas of ``scene``,
    JPEG encoded on ``jpeg`` ("cpu" or "gpu")."""
    service = ServiceProcess("jpeg", program=[sys.executable, "-m", "benchmarks.gpu", "--serve", scene],
                             options=["--jpeg-backend", jpeg])
    try:
        url_of = lambda area, w, h: f"ws://127.0.0.1:{service.port}/{area}?width={w}&height={h}"  # noqa: E731
        result = await measure(url_of, "jpeg", 1920, 1080, 1, viewers, seconds, service, f"{scene} areas")
    finally:
        service.stop()
    return {"scene": scene, "jpeg": jpeg, "areas": viewers, "fps_per_viewer": result.fps, "p50_ms": result.latency_p50_ms,
            "server_cpu_ms_per_frame": result.server_cpu_ms_per_frame}


def serve(scene: str, port: int, encoder: str, jpeg: str) -> None:
    """The service the viewer figures use: every render area shows ``scene``."""

    class Encoders(rv.RenderAreaListener):
        def on_opened_connection(self, render_area: rv.RenderArea, connection: rv.Connection,
                                 frame_encoders: rv.FrameEncoders) -> None:
            chosen = rv.Encoder.parse(encoder)
            frame_encoders.set_encoders(chosen, chosen)

    class Scenes(rv.ServiceListener):
        def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
            examiner = SCENES[scene]()
            render_area.scene_manager.scene_graph = examiner
            examiner.view_all(render_area.viewport)
            render_area.add_listener(Encoders())

    service = rv.Service.instance()
    service.add_listener(Scenes())
    service.run(rv.ServiceSettings(host="127.0.0.1", port=port, max_render_areas_per_client=16,
                                   jpeg_backend=gpu_jpeg.parse_backend(jpeg)))


def print_tables(found: dict[str, object], costs: list[dict[str, object]], fps: list[dict[str, object]]) -> None:
    for key, value in found.items():
        print(f"{key:16} {value}")
    print()
    print(f"{'scene':18} {'size':10} {'render ms':>10} {'readback ms':>12} {'CPU JPEG ms':>12} {'KB/frame':>9} "
          f"{'GPU JPEG ms':>12} {'GPU KB/frame':>13}")
    for row in costs:
        gpu_ms = "skipped" if row["gpu_encode_ms"] is None else f"{row['gpu_encode_ms']:.2f}"
        gpu_kb = "skipped" if row["gpu_bytes_per_frame"] is None else f"{float(row['gpu_bytes_per_frame']) / 1024:.1f}"
        print(f"{row['scene']:18} {row['size']:10} {row['render_ms']:10.2f} {row['readback_ms']:12.2f} "
              f"{row['cpu_encode_ms']:12.2f} {float(row['bytes_per_frame']) / 1024:9.1f} {gpu_ms:>12} {gpu_kb:>13}")
    if fps:
        print()
        print(f"{'scene':18} {'JPEG on':>7} {'areas':>5} {'fps/viewer':>11} {'p50 ms':>8} {'server CPU ms/frame':>20}")
        for row in fps:
            print(f"{row['scene']:18} {row['jpeg']:>7} {row['areas']:5} {row['fps_per_viewer']:11.1f} {row['p50_ms']:8.1f} "
                  f"{row['server_cpu_ms_per_frame']:20.1f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--sizes", default="1280x720,1920x1080,3840x2160")
    parser.add_argument("--scenes", default=",".join(SCENES))
    parser.add_argument("--viewers", default="1,4,16", help="areas of the viewer figures; empty: none")
    parser.add_argument("--viewer-scene", default="hello_cone")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--jpeg", default="cpu,gpu", help="where the viewer figures' service encodes JPEG "
                        "(gpu is skipped where it does not work)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--serve", choices=sorted(SCENES), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--encoder", default="jpeg", help=argparse.SUPPRESS)
    parser.add_argument("--jpeg-backend", default="auto", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, args.encoder, args.jpeg_backend)
        return
    found = machine()
    costs = [frame_costs(scene, *map(int, size.split("x")), args.frames)
             for scene in args.scenes.split(",") for size in args.sizes.split(",")]
    backends = [b for b in args.jpeg.split(",") if b and (b != "gpu" or gpu_jpeg.probe().available)]
    if "gpu" in args.jpeg.split(",") and "gpu" not in backends and args.viewers.strip(","):
        found["gpu_jpeg_viewers"] = f"skipped: {gpu_jpeg.probe().detail}"
    fps = [asyncio.run(viewers_fps(args.viewer_scene, int(n), args.seconds, jpeg))
           for jpeg in backends for n in args.viewers.split(",") if n]
    print_tables(found, costs, fps)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"date": datetime.now(UTC).isoformat(), "machine": platform.node(),
                                       "found": found, "frames": costs, "viewers": fps}, indent=2))


if __name__ == "__main__":
    main()
