"""JPEG on an NVIDIA GPU (nvJPEG through torchvision), and where JPEG frames are encoded.

``Encoder.JPEG`` encodes on the GPU by itself where that works, else on the CPU (simplejpeg):
:func:`jpeg_path` decides once per process, from the backend asked for
(``ServiceSettings.jpeg_backend``, else ``REMOTEVIZ_JPEG``, else ``"auto"``) and a one-time
:func:`probe`. A GPU asked for where it cannot work is refused with a warning saying why, and JPEG
stays on the CPU: frames keep flowing.

Nothing here imports PyTorch, torchvision or CUDA until a GPU is known to be there: the probe first
asks the NVIDIA driver itself (``libcuda.so.1`` through ctypes) for a CUDA device, so a CPU machine
never loads them, installed or not. The frame still comes from host memory (the service reads the
framebuffer back); only the compression runs on the GPU.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from ..protocol import Codec
from .image import decode_image, encode_jpeg, jpeg_quality

_log = logging.getLogger(__name__)

JpegBackend = Literal["auto", "gpu", "cpu"]
"""Where JPEG frames are encoded: ``"auto"`` (the GPU where it works), ``"gpu"``, ``"cpu"``."""

JPEG_BACKENDS: tuple[JpegBackend, ...] = get_args(JpegBackend)

#: Environment variable that says where JPEG frames are encoded when ``ServiceSettings.jpeg_backend``
#: is None: ``auto``, ``gpu`` or ``cpu``.
BACKEND_VARIABLE = "REMOTEVIZ_JPEG"

INSTALL_HINT = "pip install 'remoteviz[gpu]'"

_PROBE_WIDTH, _PROBE_HEIGHT = 64, 48
_PROBE_TOLERANCE = 12.0  # mean absolute error, in 0..255, that a quality-90 gradient stays well under

_backend_choice: JpegBackend | None = None  # set by choose_backend(); the environment variable otherwise


@dataclass(frozen=True)
class GpuJpegProbe:
    """Whether JPEG can be encoded on the GPU here: ``detail`` names the GPU, or says why not."""

    available: bool
    detail: str


@dataclass(frozen=True)
class JpegPath:
    """Where JPEG frames are encoded, and the line logged once about it."""

    on_gpu: bool
    message: str
    refused: bool = False  # the GPU was asked for ("gpu") and cannot work here


def parse_backend(value: str) -> JpegBackend:
    """``value`` as a :data:`JpegBackend` (case and spaces aside); ValueError names the choices."""
    cleaned = value.strip().lower()
    if cleaned not in JPEG_BACKENDS:
        raise ValueError(f"unknown JPEG backend {value!r}; one of {', '.join(JPEG_BACKENDS)}")
    return cleaned


def choose_backend(backend: str | None) -> None:
    """Say where JPEG frames are encoded from now on (``ServiceSettings.jpeg_backend``); None goes
    back to ``REMOTEVIZ_JPEG``, then ``"auto"``. Raises ValueError for an unknown backend."""
    global _backend_choice
    _backend_choice = None if backend is None else parse_backend(backend)


def backend_choice() -> JpegBackend:
    """The backend asked for: :func:`choose_backend`'s, else ``REMOTEVIZ_JPEG``'s, else ``"auto"``.

    An unknown ``REMOTEVIZ_JPEG`` is logged (once) and read as ``"auto"``.
    """
    if _backend_choice is not None:
        return _backend_choice
    value = os.environ.get(BACKEND_VARIABLE, "").strip()
    if not value:
        return "auto"
    try:
        return parse_backend(value)
    except ValueError as error:
        _warn_bad_variable(str(error))
        return "auto"


@functools.cache
def _warn_bad_variable(message: str) -> None:
    _log.error("%s=%s: %s; taken as auto", BACKEND_VARIABLE, os.environ.get(BACKEND_VARIABLE), message)


def decide(backend: JpegBackend, probe_result: Callable[[], GpuJpegProbe]) -> JpegPath:
    """Where JPEG frames go for ``backend``, given how the GPU probe came out.

    ``probe_result`` is only called when the answer depends on it (not for ``"cpu"``).
    """
    if backend == "cpu":
        return JpegPath(False, f"JPEG frames are encoded on the CPU ({BACKEND_VARIABLE} / jpeg_backend = cpu)")
    found = probe_result()
    if found.available:
        return JpegPath(True, f"JPEG frames are encoded on the GPU with nvJPEG ({found.detail})")
    if backend == "gpu":
        return JpegPath(False, f"JPEG on the GPU was asked for (jpeg_backend / {BACKEND_VARIABLE} = gpu) but is "
                               f"refused: {found.detail}; JPEG frames are encoded on the CPU instead", refused=True)
    return JpegPath(False, f"JPEG frames are encoded on the CPU: no GPU JPEG here ({found.detail})")


class JpegPaths:
    """Where JPEG frames go for each backend, decided with ``probe_result`` once and logged once (a
    refused ``"gpu"`` as a warning). Thread-safe: the first encoder threads to ask wait for one probe."""

    def __init__(self, probe_result: Callable[[], GpuJpegProbe]) -> None:
        self._probe = probe_result
        self._lock = threading.Lock()
        self._decided: dict[JpegBackend, JpegPath] = {}

    def path(self, backend: JpegBackend) -> JpegPath:
        """Where JPEG frames go for ``backend``; the first call for it probes (unless "cpu") and logs."""
        with self._lock:
            found = self._decided.get(backend)
            if found is None:
                found = self._decided[backend] = decide(backend, self._probe)
                (_log.warning if found.refused else _log.info)("%s", found.message)
            return found


def jpeg_path() -> JpegPath:
    """Where this process encodes JPEG frames, for the backend asked for now (:func:`backend_choice`)."""
    return _PATHS.path(backend_choice())


def cuda_devices() -> tuple[int, str]:
    """How many CUDA devices the NVIDIA driver sees (0 and why where none), asked of the driver
    library through ctypes so that no Python CUDA package is imported to learn there is no GPU."""
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0, "no NVIDIA driver (libcuda.so.1 is not on this machine)"
    code = driver.cuInit(0)
    if code != 0:
        return 0, f"the NVIDIA driver does not start (cuInit error {code})"
    count = ctypes.c_int(0)
    code = driver.cuDeviceGetCount(ctypes.byref(count))
    if code != 0 or count.value == 0:
        return 0, "the NVIDIA driver sees no CUDA device"
    return count.value, ""


@functools.cache
def probe() -> GpuJpegProbe:
    """Whether nvJPEG through torchvision encodes here: a CUDA device, torchvision importable, and a
    small test picture encoded on the GPU that decodes back to itself. Cached; never raises."""
    count, why_not = cuda_devices()
    if count == 0:
        return GpuJpegProbe(False, why_not)
    missing = [name for name in ("torch", "torchvision") if importlib.util.find_spec(name) is None]
    if missing:
        return GpuJpegProbe(False, f"{' and '.join(missing)} not installed ({INSTALL_HINT})")
    try:
        torch, torchvision = _modules()
        if not torch.cuda.is_available():
            return GpuJpegProbe(False, f"PyTorch {torch.__version__} sees no CUDA device (a CPU-only build?)")
        picture = _test_picture()
        decoded = decode_image(Codec.JPEG, encode_jpeg_gpu(picture, 0.9)).astype(np.float32)
        if decoded.shape != picture.shape:
            return GpuJpegProbe(False, f"the test encode decoded to {decoded.shape}, not {picture.shape}")
        error = float(np.abs(decoded - picture).mean())
        if error > _PROBE_TOLERANCE:
            return GpuJpegProbe(False, f"the test encode decoded {error:.1f} levels off on average")
        return GpuJpegProbe(True, f"{torch.cuda.get_device_name()}, torchvision {torchvision.__version__}")
    except Exception as error:  # noqa: BLE001 - any failure of a foreign stack means "not here", said why
        return GpuJpegProbe(False, f"the test encode on the GPU failed: {type(error).__name__}: {error}")


def _test_picture() -> np.ndarray:
    """Smooth ramps (red across, green down, blue constant): what a working JPEG keeps closely."""
    across = np.linspace(0, 255, _PROBE_WIDTH)[None, :].repeat(_PROBE_HEIGHT, 0)
    down = np.linspace(0, 255, _PROBE_HEIGHT)[:, None].repeat(_PROBE_WIDTH, 1)
    return np.stack([across, down, np.full_like(across, 128)], axis=-1).astype(np.uint8)


def _modules() -> tuple[Any, Any]:
    import torch  # lazily: only once a CUDA device is known to be there (see probe)
    import torchvision
    import torchvision.io

    return torch, torchvision


def encode_jpeg_gpu(image: np.ndarray, quality: float) -> bytes:
    """JPEG bytes of an ``(H, W, 3|4)`` uint8 RGB(A) image encoded on the GPU; ``quality`` in 0..1.

    The pixels are copied to the GPU, reordered there to the channels-first layout nvJPEG takes,
    and only the compressed bytes come back. Chroma is always kept whole (4:4:4: torchvision sets
    it), where the CPU encoder halves it below quality 0.9, so frames are larger than the CPU's at
    the same quality. Raises what PyTorch raises (no GPU, out of memory).
    """
    torch, torchvision = _modules()
    pixels = torch.from_numpy(np.ascontiguousarray(image)).to("cuda")
    planes = pixels[:, :, :3].permute(2, 0, 1).contiguous()
    # torchvision runs nvJPEG on a stream of its own that does not wait for this one: the copy up and
    # the reordering must be done before it reads the planes.
    torch.cuda.current_stream().synchronize()
    encoded = torchvision.io.encode_jpeg(planes, quality=jpeg_quality(quality))
    return bytes(encoded.cpu().numpy().tobytes())


_PATHS = JpegPaths(probe)


class GpuJpegEncoder:
    """A JPEG encoder on the GPU with the ``encode`` shape of :class:`~remoteviz.encoders.image.ImageEncoder`.

    A frame the GPU fails to encode (out of memory, a lost device) is encoded on the CPU instead,
    the first such failure logged, so frames keep flowing.
    """

    codec: Codec = Codec.JPEG

    def __init__(self) -> None:
        self._failed = False

    def encode(self, frame: np.ndarray, *, key: bool = False, quality: float = 0.7) -> tuple[bytes, bool]:
        """Encode ``frame`` on the GPU (the CPU if that fails); every image is a key frame."""
        try:
            return encode_jpeg_gpu(frame, quality), True
        except Exception as error:  # noqa: BLE001 - PyTorch raises RuntimeError and friends alike
            if not self._failed:
                self._failed = True
                _log.warning("JPEG on the GPU failed (%s: %s); this frame and any such after it go to the CPU",
                             type(error).__name__, error)
            return encode_jpeg(frame, quality), True

    def close(self) -> None:
        """Nothing to free: torchvision keeps one nvJPEG encoder per process."""
