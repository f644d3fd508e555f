"""Still-image encoders: JPEG (simplejpeg, libjpeg-turbo) and PNG (Pillow).

Both release the GIL while they compress, so the service runs them in its worker threads.
"""

from __future__ import annotations

import io

import numpy as np
import simplejpeg
from PIL import Image

from ..protocol import Codec

PNG_COMPRESS_LEVEL = 1
"""zlib level for PNG: level 1 is several times faster than 6 and only a little larger."""


def jpeg_quality(quality: float) -> int:
    """The JPEG quality 1..100 of a frame ``quality`` in 0..1 (the CPU and GPU encoders alike)."""
    return max(1, min(100, round(quality * 100)))


def encode_jpeg(image: np.ndarray, quality: float) -> bytes:
    """JPEG bytes of an ``(H, W, 3|4)`` uint8 RGB(A) image; ``quality`` in 0..1."""
    rgb = np.ascontiguousarray(image[:, :, :3])
    q = jpeg_quality(quality)
    # 4:2:0 halves the chroma bytes; at high quality keep full chroma for sharp coloured edges.
    subsampling = "444" if q >= 90 else "420"
    return bytes(simplejpeg.encode_jpeg(rgb, quality=q, colorspace="RGB", colorsubsampling=subsampling,
                                        fastdct=True))


def encode_png(image: np.ndarray) -> bytes:
    """Lossless PNG bytes of an ``(H, W, 3|4)`` uint8 RGB(A) image."""
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image[:, :, :3])).save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return out.getvalue()


def decode_image(codec: Codec, payload: bytes | memoryview) -> np.ndarray:
    """Decode a JPEG or PNG payload to an ``(H, W, 3)`` uint8 RGB array."""
    if codec is Codec.JPEG:
        return np.asarray(simplejpeg.decode_jpeg(bytes(payload), colorspace="RGB"))
    if codec is Codec.PNG:
        with Image.open(io.BytesIO(payload)) as picture:
            return np.asarray(picture.convert("RGB"))
    raise ValueError(f"{codec.name} is not an image codec")


class ImageEncoder:
    """A stateless JPEG or PNG encoder with the same ``encode`` shape as the video encoders."""

    def __init__(self, codec: Codec) -> None:
        if codec not in (Codec.JPEG, Codec.PNG):
            raise ValueError(f"{codec.name} is not an image codec")
        self.codec: Codec = codec

    def encode(self, frame: np.ndarray, *, key: bool = False, quality: float = 0.7) -> tuple[bytes, bool]:
        """Encode ``frame``; every image is a key frame, so ``key`` changes nothing."""
        payload = encode_jpeg(frame, quality) if self.codec is Codec.JPEG else encode_png(frame)
        return payload, True

    def close(self) -> None:
        """Nothing to free; present so image and video encoders are used alike."""
