"""JPEG on an NVIDIA GPU (remoteviz/encoders/gpu_jpeg.py), where it works: run by
benchmarks/gpu_device/check.sh on the device machine, skipped (with the probe's reason) elsewhere.
"""

from __future__ import annotations

import concurrent.futures

import numpy as np
import pytest

import remoteviz as rv
from remoteviz.encoders import gpu_jpeg, open_encoder
from remoteviz.encoders.gpu_jpeg import GpuJpegEncoder, encode_jpeg_gpu
from remoteviz.encoders.image import ImageEncoder, decode_image
from remoteviz.protocol import Codec

from ..unit.test_gpu_jpeg import psnr
from .harness import pattern
from .test_gpu_jpeg_service import run_service

FOUND = gpu_jpeg.probe()
pytestmark = pytest.mark.skipif(not FOUND.available, reason=f"no GPU JPEG here: {FOUND.detail}")


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (97, 61), (3840, 2160)])
def test_gpu_jpeg_decodes_to_the_picture(width: int, height: int) -> None:
    picture = pattern(width, height, 5)
    payload = encode_jpeg_gpu(picture, 0.9)
    decoded = decode_image(Codec.JPEG, payload)
    assert decoded.shape == picture.shape
    assert psnr(decoded, picture) > 30


def test_rgba_frames_lose_their_alpha_and_quality_sets_the_size() -> None:
    picture = pattern(640, 360, 2)
    rgba = np.dstack([picture, np.zeros((360, 640), np.uint8)])
    assert encode_jpeg_gpu(rgba, 0.8) == encode_jpeg_gpu(picture, 0.8)
    assert len(encode_jpeg_gpu(picture, 0.3)) < len(encode_jpeg_gpu(picture, 0.95))


@pytest.mark.parametrize(("backend", "kind"), [("auto", GpuJpegEncoder), ("gpu", GpuJpegEncoder),
                                               ("cpu", ImageEncoder)])
def test_jpeg_opens_on_the_gpu_unless_told_otherwise(backend, kind) -> None:
    gpu_jpeg.choose_backend(backend)
    try:
        coder = open_encoder(rv.Encoder.JPEG, 320, 240)
    finally:
        gpu_jpeg.choose_backend(None)
    assert isinstance(coder, kind) and coder.codec is Codec.JPEG
    picture = pattern(320, 240, 1)
    assert psnr(decode_image(Codec.JPEG, coder.encode(picture, quality=0.9)[0]), picture) > 30


def test_encoder_threads_encode_at_once() -> None:
    coder = GpuJpegEncoder()
    pictures = [pattern(1280, 720, seed) for seed in range(8)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        payloads = list(pool.map(lambda p: coder.encode(p, quality=0.9)[0], pictures))
    for picture, payload in zip(pictures, payloads, strict=True):
        assert psnr(decode_image(Codec.JPEG, payload), picture) > 30


def test_a_service_sends_gpu_jpeg_frames_that_decode() -> None:
    found = run_service("default")
    assert found["codecs"] == ["JPEG", "JPEG"] and min(found["psnr"]) > 30, found
    infos = [message for level, message in found["records"] if level == "INFO"]
    assert len(infos) == 1 and "on the GPU" in infos[0], found["records"]
    assert "torchvision" in found["loaded"]
