"""Where JPEG frames are encoded (remoteviz/encoders/gpu_jpeg.py), on a machine without a working GPU.

The decision itself is tested with probe results passed in; the real probe, the CPU path and the
GPU encoder's fall-back are tested as they run here. Their GPU side: test_gpu_jpeg_on_device.py.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

import remoteviz as rv
from remoteviz.encoders import gpu_jpeg, open_encoder
from remoteviz.encoders.gpu_jpeg import GpuJpegEncoder, GpuJpegProbe, JpegPaths, decide
from remoteviz.encoders.image import ImageEncoder, decode_image, encode_jpeg
from remoteviz.protocol import Codec

cpu_only = pytest.mark.skipif(gpu_jpeg.probe().available, reason="JPEG works on the GPU here: the CPU-only behaviour "
                              "is not what this machine shows (test_gpu_jpeg_on_device.py runs instead)")

WORKS = GpuJpegProbe(True, "NVIDIA H100, torchvision 0.26")
MISSING = GpuJpegProbe(False, "no NVIDIA driver (libcuda.so.1 is not on this machine)")


def pattern(width: int, height: int) -> np.ndarray:
    """Smooth ramps and a sharp checkerboard: JPEG keeps it close, a wrong picture is far off."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0] = x * 255 // (width - 1)
    image[..., 1] = y * 255 // (height - 1)
    image[..., 2] = ((x // 8 + y // 8) % 2) * 200
    return image


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = float(np.mean((a.astype(float) - b.astype(float)) ** 2))
    return 99.0 if error == 0 else 10 * np.log10(255.0**2 / error)


@pytest.fixture
def backend_reset():
    yield
    gpu_jpeg.choose_backend(None)


@pytest.mark.parametrize(("backend", "found", "on_gpu", "refused"), [
    ("auto", WORKS, True, False),
    ("auto", MISSING, False, False),
    ("gpu", WORKS, True, False),
    ("gpu", MISSING, False, True),
])
def test_the_decision_follows_the_backend_and_the_probe(backend, found, on_gpu, refused) -> None:
    path = decide(backend, lambda: found)
    assert (path.on_gpu, path.refused) == (on_gpu, refused)
    if not found.available:
        assert found.detail in path.message, "the reason is said"
    if refused:
        assert "asked for" in path.message and "CPU" in path.message


def test_cpu_never_probes() -> None:
    probed = []
    path = decide("cpu", lambda: probed.append(1) or WORKS)  # type: ignore[func-returns-value]
    assert not path.on_gpu and not path.refused and probed == []


def test_a_refused_gpu_is_logged_once_with_why_even_when_many_threads_ask(caplog) -> None:
    probes = []

    def probe() -> GpuJpegProbe:
        probes.append(threading.get_ident())
        return MISSING

    paths = JpegPaths(probe)
    answers = []
    with caplog.at_level(logging.INFO, logger="remoteviz.encoders.gpu_jpeg"):
        threads = [threading.Thread(target=lambda: answers.append(paths.path("gpu"))) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        answers.append(paths.path("gpu"))
    assert len(answers) == 9 and all(not a.on_gpu and a.refused for a in answers)
    assert len(probes) == 1, "one probe, however many threads ask at once"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and MISSING.detail in warnings[0].getMessage()
    assert "gpu" in warnings[0].getMessage()


def test_the_backend_names(backend_reset, monkeypatch, caplog) -> None:
    assert gpu_jpeg.parse_backend(" GPU ") == "gpu"
    with pytest.raises(ValueError, match="auto, gpu, cpu"):
        gpu_jpeg.choose_backend("nvjpeg")
    monkeypatch.setenv(gpu_jpeg.BACKEND_VARIABLE, "cpu")
    assert gpu_jpeg.backend_choice() == "cpu"
    gpu_jpeg.choose_backend("gpu")  # the setting wins over the variable
    assert gpu_jpeg.backend_choice() == "gpu"
    gpu_jpeg.choose_backend(None)
    monkeypatch.setenv(gpu_jpeg.BACKEND_VARIABLE, "fastest-please")
    with caplog.at_level(logging.ERROR, logger="remoteviz.encoders.gpu_jpeg"):
        assert gpu_jpeg.backend_choice() == "auto"
    assert "fastest-please" in caplog.text and "auto" in caplog.text


def test_an_unknown_backend_setting_stops_the_service_from_opening() -> None:
    service = rv.Service()
    try:
        assert not service.open(rv.ServiceSettings(host="127.0.0.1", port=0, jpeg_backend="nvjpeg"))  # type: ignore[arg-type]
    finally:
        service.close()
    gpu_jpeg.choose_backend(None)


@cpu_only
def test_the_probe_says_unavailable_here_and_why() -> None:
    found = gpu_jpeg.probe()
    assert not found.available
    assert "NVIDIA driver" in found.detail or "CUDA device" in found.detail or "not installed" in found.detail


@cpu_only
@pytest.mark.parametrize("backend", ["auto", "gpu", "cpu"])
def test_jpeg_is_encoded_on_the_cpu_here_and_decodes_to_the_picture(backend, backend_reset) -> None:
    gpu_jpeg.choose_backend(backend)
    coder = open_encoder(rv.Encoder.JPEG, 160, 120)
    assert isinstance(coder, ImageEncoder) and coder.codec is Codec.JPEG
    picture = pattern(160, 120)
    rgba = np.dstack([picture, np.full((120, 160), 255, np.uint8)])
    for frame in (picture, rgba):
        payload, key = coder.encode(frame, quality=0.9)
        assert key and payload[:2] == b"\xff\xd8"
        assert psnr(decode_image(Codec.JPEG, payload), picture) > 30


@cpu_only
def test_the_gpu_encoder_hands_frames_it_cannot_encode_to_the_cpu_and_says_so_once(caplog) -> None:
    coder = GpuJpegEncoder()  # opened here on purpose: every GPU encode fails on this machine
    picture = pattern(96, 64)
    with caplog.at_level(logging.WARNING, logger="remoteviz.encoders.gpu_jpeg"):
        payloads = [coder.encode(picture, quality=0.9)[0] for _ in range(3)]
    for payload in payloads:
        assert payload == encode_jpeg(picture, 0.9), "the CPU encoder's bytes"
        assert psnr(decode_image(Codec.JPEG, payload), picture) > 30
    warnings = [r for r in caplog.records if "JPEG on the GPU failed" in r.getMessage()]
    assert len(warnings) == 1
