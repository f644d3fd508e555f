"""Codec benchmark: encode time, bytes per frame and fidelity of every frame codec.

JPEG (simplejpeg), PNG (Pillow) and the H.264, VP9 and AV1 video encoders, at 1280x720 and
1920x1080, on a continuous orbit-like motion: a smooth gradient background and a shaded, textured
cube turning with a sphere circling it (or on your own frames, ``--source DIR`` of PNG files).
Prints encode milliseconds per frame (median, 95th percentile), bytes per frame, the key frame,
the bit rate at 30 frames per second and PSNR against the source frames, and writes
``benchmarks/results/codecs.json``.

    python -m benchmarks.codecs [--frames 40] [--qualities 0.3,0.7,1.0] [--source DIR] [--output FILE]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
import simplejpeg
from PIL import Image

from remoteviz.encoders.video import BACKENDS, VideoEncoder, probe
from remoteviz.protocol import Codec

SIZES = [(1280, 720), (1920, 1080)]
DEFAULT_OUTPUT = Path(__file__).parent / "results" / "codecs.json"
PNG_COMPRESS_LEVEL = 1  # zlib's fastest: PNG is the lossless still, and level 1 is 3-5x faster than 6
# The decoders a browser uses (Chromium decodes AV1 with dav1d); dav1d must not hold frames back.
DECODERS = {
    Codec.H264: ("h264", {}),
    Codec.VP9: ("vp9", {}),
    Codec.AV1: ("libdav1d", {"max_frame_delay": "1"}),
}


# ---------------------------------------------------------------------- the frames


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    turn = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    tilt = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    return (tilt @ turn).astype(np.float32)


class OrbitScene:
    """Rendered-looking frames of a camera orbiting a cube, drawn by ray casting in numpy.

    Orthographic view of a unit cube (a checker texture on each face, Lambert and Phong shading)
    turning about the vertical axis while the camera bobs up and down, a shiny sphere circling it
    (hidden when it passes behind), over a vertical gradient background.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.scale = 2.0 / min(width, height)  # scene units per pixel: the shorter side spans 2
        ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
        top, bottom = np.array([0.10, 0.12, 0.22], np.float32), np.array([0.55, 0.60, 0.70], np.float32)
        self.background = np.broadcast_to(top + (bottom - top) * ramp, (height, width, 3)).copy()
        light = np.array([-0.4, 0.7, -0.6], np.float32)
        self.light = light / np.linalg.norm(light)
        half = self.light + np.array([0, 0, -1], np.float32)  # halfway to the viewer, for highlights
        self.half = half / np.linalg.norm(half)
        self.palette = np.array([[0.85, 0.35, 0.15], [0.25, 0.55, 0.85], [0.30, 0.75, 0.35]], np.float32)

    def frame(self, t: int) -> np.ndarray:
        """Frame ``t`` of the orbit, (height, width, 3) uint8 RGB."""
        image = self.background.copy()
        depth = np.full((self.height, self.width), np.inf, np.float32)
        self._cube(image, depth, _rotation(0.05 * t, -0.45 + 0.15 * math.sin(0.03 * t)))
        angle = 0.07 * t
        centre = (0.95 * math.cos(angle), 0.3 * math.sin(1.3 * angle), 0.95 * math.sin(angle))
        self._sphere(image, depth, centre)
        return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

    def _window(self, cx: float, cy: float, radius: float) -> tuple[slice, slice, np.ndarray, np.ndarray]:
        """The pixels around a disc (scene units), and their scene x (a row) and y (a column)."""
        w, h, s = self.width, self.height, self.scale
        x0, x1 = max(0, int((cx - radius) / s + w / 2)), min(w, int((cx + radius) / s + w / 2) + 2)
        y0, y1 = max(0, int(h / 2 - (cy + radius) / s)), min(h, int(h / 2 - (cy - radius) / s) + 2)
        xs = (np.arange(x0, x1, dtype=np.float32) - w / 2 + 0.5) * s
        ys = (np.arange(y0, y1, dtype=np.float32) - h / 2 + 0.5) * -s
        return slice(y0, y1), slice(x0, x1), xs[None, :], ys[:, None]

    def _shade(self, normal: Sequence[np.ndarray], base: np.ndarray, shininess: float) -> np.ndarray:
        diffuse = np.clip(sum(n * light for n, light in zip(normal, self.light)), 0.0, 1.0)
        specular = np.clip(sum(n * h for n, h in zip(normal, self.half)), 0.0, 1.0) ** shininess
        return base * (0.2 + 0.8 * diffuse)[..., None] + (0.6 * specular)[..., None]

    def _cube(self, image: np.ndarray, depth: np.ndarray, rotation: np.ndarray) -> None:
        rows, cols, x, y = self._window(0.0, 0.0, 0.87)  # the cube's half diagonal
        # Rays (x, y, -5) + s (0, 0, 1), in the cube's frame (row vectors times the rotation),
        # against the slabs |p| <= 0.5 on each axis.
        origin = [x * rotation[0, k] + y * rotation[1, k] - 5.0 * rotation[2, k] for k in range(3)]
        direction = rotation[2]
        with np.errstate(divide="ignore", invalid="ignore"):  # rays parallel to a face
            slabs = [((-0.5 - origin[k]) / direction[k], (0.5 - origin[k]) / direction[k]) for k in range(3)]
        nears = np.stack(np.broadcast_arrays(*(np.minimum(a, b) for a, b in slabs)))
        far = np.minimum.reduce([np.maximum(a, b) for a, b in slabs])
        axis, near = nears.argmax(0), nears.max(0)
        hit = near < far
        with np.errstate(invalid="ignore"):
            point = [origin[k] + near * direction[k] for k in range(3)]
            face_normal = [np.sign(point[k]) * (axis == k) for k in range(3)]
            normal = [sum(face_normal[j] * rotation[k, j] for j in range(3)) for k in range(3)]
            u = np.where(axis == 0, point[1], point[0])
            v = np.where(axis == 2, point[1], point[2])
            checker = (np.floor(u * 8) + np.floor(v * 8)) % 2
        base = self.palette[axis] * (0.75 + 0.25 * checker)[..., None]
        image[rows, cols][hit] = self._shade(normal, base, 40.0)[hit]
        depth[rows, cols][hit] = near[hit]

    def _sphere(self, image: np.ndarray, depth: np.ndarray, centre: tuple[float, float, float]) -> None:
        cx, cy, cz = centre
        radius = 0.22
        rows, cols, x, y = self._window(cx, cy, radius)
        dx, dy = (x - cx) / radius, (y - cy) / radius
        d2 = dx * dx + dy * dy
        nz = -np.sqrt(np.clip(1.0 - d2, 0.0, 1.0))
        visible = (d2 < 1.0) & (cz + radius * nz + 5.0 < depth[rows, cols])
        shaded = self._shade(np.broadcast_arrays(dx, dy, nz), np.array([0.9, 0.85, 0.3], np.float32), 60.0)
        image[rows, cols][visible] = shaded[visible]


def orbit_frames(width: int, height: int, count: int) -> list[np.ndarray]:
    """``count`` consecutive frames of :class:`OrbitScene`."""
    scene = OrbitScene(width, height)
    return [scene.frame(t) for t in range(count)]


def load_frames(directory: Path) -> list[np.ndarray]:
    """The PNG files of ``directory`` in name order, as RGB frames (all of one size)."""
    frames = [np.asarray(Image.open(path).convert("RGB")) for path in sorted(directory.glob("*.png"))]
    if not frames or len({frame.shape for frame in frames}) != 1:
        raise SystemExit(f"{directory} must hold PNG frames, all of one size")
    return frames


# ---------------------------------------------------------------------- measuring


@dataclass
class Result:
    """One codec at one quality and one size, over the whole sequence."""

    codec: str
    encoder: str
    quality: float | None  # None for PNG: lossless
    width: int
    height: int
    frames: int
    median_ms: float
    p95_ms: float
    mean_bytes: float  # per frame, key frame excluded for video
    key_bytes: int  # the first frame
    mbit_per_s_at_30fps: float
    psnr_db: float  # mean over the frames; inf when lossless
    codec_string: str = ""


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of ``a`` against ``b``, in dB (inf if identical)."""
    mse = float(np.mean((a.astype(np.int32) - b.astype(np.int32)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def summarize(codec: str, encoder: str, quality: float | None, frames: list[np.ndarray], times: list[float],
              sizes: list[int], fidelity: list[float], codec_string: str = "") -> Result:
    """Collapse per-frame measurements into a :class:`Result`."""
    height, width = frames[0].shape[:2]
    steady = sizes[1:] if codec_string and len(sizes) > 1 else sizes  # video: delta frames
    mean_bytes = statistics.fmean(steady)
    return Result(codec, encoder, quality, width, height, len(frames), statistics.median(times),
                  percentile(times, 0.95), mean_bytes, sizes[0], mean_bytes * 8 * 30 / 1e6,
                  statistics.fmean(fidelity), codec_string)


def measure_image(codec: Codec, frames: list[np.ndarray], quality: float | None) -> Result:
    """JPEG at ``quality`` (as quality x 100, 4:2:0 like the video codecs) or PNG."""
    encode: Callable[[np.ndarray], bytes]
    decode: Callable[[bytes], np.ndarray]
    if codec is Codec.JPEG:
        assert quality is not None
        jpeg_quality = min(95, round(quality * 100))  # past 95 JPEG files grow for nothing visible

        def encode(frame: np.ndarray) -> bytes:
            return simplejpeg.encode_jpeg(frame, quality=jpeg_quality, colorspace="RGB",
                                          colorsubsampling="420", fastdct=True)

        def decode(payload: bytes) -> np.ndarray:
            return simplejpeg.decode_jpeg(payload, colorspace="RGB")

        name = "simplejpeg"
    else:
        def encode(frame: np.ndarray) -> bytes:
            buffer = io.BytesIO()
            Image.fromarray(frame).save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL)
            return buffer.getvalue()

        def decode(payload: bytes) -> np.ndarray:
            return np.asarray(Image.open(io.BytesIO(payload)).convert("RGB"))

        name = f"Pillow (compress_level={PNG_COMPRESS_LEVEL})"
    times, sizes, fidelity = [], [], []
    for frame in frames:
        started = time.perf_counter()
        payload = encode(frame)
        times.append((time.perf_counter() - started) * 1000.0)
        sizes.append(len(payload))
        fidelity.append(psnr(decode(payload), frame))
    return summarize(codec.name, name, quality, frames, times, sizes, fidelity)


def measure_video(codec: Codec, frames: list[np.ndarray], quality: float) -> Result:
    """The default backend of ``codec`` at ``quality``, decoded as a browser would."""
    height, width = frames[0].shape[:2]
    name, options = DECODERS[codec]
    decoder = av.CodecContext.create(name, "r")
    decoder.options = dict(options)
    times, sizes, fidelity = [], [], []
    with VideoEncoder(codec, width, height) as video:
        for frame in frames:
            started = time.perf_counter()
            payload, _ = video.encode(frame, quality=quality)
            times.append((time.perf_counter() - started) * 1000.0)
            sizes.append(len(payload))
            (picture,) = decoder.decode(av.Packet(payload))
            fidelity.append(psnr(picture.to_ndarray(format="rgb24")[:height, :width], frame))
        return summarize(codec.name, video.backend, quality, frames, times, sizes, fidelity,
                         video.codec_string)


# ---------------------------------------------------------------------- running


def run(frame_sets: list[list[np.ndarray]], qualities: list[float]) -> list[Result]:
    """Every codec at every quality on every frame set, printing each result as it comes."""
    video_codecs = [codec for codec in BACKENDS if any(probe(backend) for backend in BACKENDS[codec])]
    print(f"{'codec':<5} {'quality':>7} {'size':>9} {'median ms':>9} {'p95 ms':>7} {'KB/frame':>8} "
          f"{'key KB':>7} {'Mbit/s@30':>9} {'PSNR dB':>7}  encoder")
    results = []
    for frames in frame_sets:
        cases: list[tuple[Codec, float | None]] = [(Codec.PNG, None)]
        cases += [(codec, quality) for codec in (Codec.JPEG, *video_codecs) for quality in qualities]
        for codec, quality in cases:
            if codec.is_video:
                assert quality is not None
                result = measure_video(codec, frames, quality)
            else:
                result = measure_image(codec, frames, quality)
            results.append(result)
            shown_quality = "lossless" if quality is None else f"{quality:.1f}"
            print(f"{result.codec:<5} {shown_quality:>7} {f'{result.width}x{result.height}':>9} "
                  f"{result.median_ms:>9.1f} {result.p95_ms:>7.1f} {result.mean_bytes / 1000:>8.1f} "
                  f"{result.key_bytes / 1000:>7.1f} {result.mbit_per_s_at_30fps:>9.2f} "
                  f"{result.psnr_db:>7.1f}  {result.encoder} {result.codec_string}".rstrip(), flush=True)
    return results


def main() -> None:
    """Generate or load the frames, measure every codec, print a table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40, help="frames per size (default 40)")
    parser.add_argument("--qualities", default="0.3,0.7,1.0",
                        help="comma-separated qualities for JPEG and video (default 0.3,0.7,1.0: the lowest "
                             "interactive quality, the interactive default, a still frame)")
    parser.add_argument("--source", type=Path, help="a directory of PNG frames to use instead of the orbit")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON")
    args = parser.parse_args()
    qualities = [float(q) for q in args.qualities.split(",")]

    started = time.perf_counter()
    if args.source:
        frame_sets = [load_frames(args.source)]
    else:
        frame_sets = [orbit_frames(width, height, args.frames) for width, height in SIZES]
    results = run(frame_sets, qualities)

    report = {
        "benchmark": "codecs",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "frames": str(args.source) if args.source else "synthetic orbit",
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "pyav": av.__version__,
        "libavcodec": ".".join(map(str, av.library_versions["libavcodec"])),
        # JSON has no infinity: a lossless PSNR is written as null.
        "results": [{**asdict(result), "psnr_db": result.psnr_db if math.isfinite(result.psnr_db) else None}
                    for result in results],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    print(f"{time.perf_counter() - started:.0f} s; results written to {args.output}")


if __name__ == "__main__":
    main()
