"""Which encoders a connection uses: the still/interactive pair, its rules and its statuses.

The pair rules (from RemoteViz): images and video never mix; a video encoder is paired with
itself; the image pairs are JPEG/JPEG and PNG (still) with JPEG (interactive). An encoder is
*supported* when both ends can use it: this server can open it, and the browser said in its
``hello`` that it decodes the codec.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..protocol import Codec
from . import gpu_jpeg
from .backends import BACKENDS, HARDWARE
from .image import ImageEncoder


class Encoder(enum.Enum):
    """An encoder a connection may use for its still or interactive frames."""

    NONE = "none"
    JPEG = "jpeg"
    PNG = "png"
    H264_NVENC = "h264_nvenc"  # H.264 on an NVIDIA GPU
    H264_OPENH264 = "h264_openh264"  # H.264 on the CPU, Cisco's OpenH264
    H264 = "h264"  # H.264 on the CPU, the best CPU encoder present (x264, else OpenH264)
    VP9_VPX = "vp9"  # VP9 on the CPU, libvpx
    AV1 = "av1"  # AV1, the fastest AV1 encoder present

    @property
    def codec(self) -> Codec | None:
        """The codec of the frames this encoder makes (None for NONE)."""
        return _CODECS.get(self)

    @property
    def is_video(self) -> bool:
        """True for the video encoders."""
        codec = self.codec
        return codec is not None and codec.is_video

    @property
    def backends(self) -> tuple[str, ...]:
        """The FFmpeg encoders that can serve this encoder, best first (empty for images)."""
        codec = self.codec
        if codec is None or not codec.is_video:
            return ()
        pinned = _PINNED.get(self)
        # An encoder that names no backend takes its codec's software ones, best first.
        return (pinned,) if pinned else tuple(b for b in BACKENDS[codec] if b not in HARDWARE)

    @classmethod
    def parse(cls, name: str) -> Encoder:
        """The encoder named ``name`` (case-insensitive: ``"jpeg"``, ``"H264_NVENC"``...)."""
        try:
            return cls(name.lower())
        except ValueError:
            raise ValueError(f"unknown encoder {name!r}; one of {', '.join(e.value for e in cls)}") from None


_CODECS = {
    Encoder.JPEG: Codec.JPEG,
    Encoder.PNG: Codec.PNG,
    Encoder.H264_NVENC: Codec.H264,
    Encoder.H264_OPENH264: Codec.H264,
    Encoder.H264: Codec.H264,
    Encoder.VP9_VPX: Codec.VP9,
    Encoder.AV1: Codec.AV1,
}

_PINNED = {Encoder.H264_NVENC: "h264_nvenc", Encoder.H264_OPENH264: "libopenh264"}
"""Encoders that name one backend of :data:`~remoteviz.encoders.backends.BACKENDS`."""

DEFAULT_FALLBACK_CHAIN: tuple[tuple[Encoder, Encoder], ...] = (
    (Encoder.H264_NVENC, Encoder.H264_NVENC),
    (Encoder.VP9_VPX, Encoder.VP9_VPX),
    (Encoder.H264, Encoder.H264),
    (Encoder.PNG, Encoder.JPEG),
    (Encoder.JPEG, Encoder.JPEG),
)
"""(still, interactive) pairs tried in order when the application does not settle a refusal."""


class FrameEncoder(Protocol):
    """What the pipeline needs of an opened encoder, image or video."""

    codec: Codec

    def encode(self, frame: np.ndarray, *, key: bool = False, quality: float = 0.7) -> tuple[bytes, bool]:
        """Encode one ``(H, W, 3)`` frame; returns the payload and whether it is a key frame."""
        ...

    def close(self) -> None:
        """Free the encoder."""
        ...


class EncoderStatus(enum.Enum):
    """Whether one encoder of a pair can be used."""

    UNKNOWN = "unknown"  # not checked yet
    OK = "ok"
    UNSUPPORTED = "unsupported"  # this server or the browser cannot use it
    INCOMPATIBLE = "incompatible"  # usable alone, but not with the other encoder of the pair


_IMAGE_PAIRS = {(Encoder.JPEG, Encoder.JPEG), (Encoder.PNG, Encoder.JPEG)}


def is_valid_pair(still: Encoder, interactive: Encoder) -> bool:
    """True when ``still``/``interactive`` follow the pair rules."""
    if still.is_video or interactive.is_video:
        return still is interactive
    return (still, interactive) in _IMAGE_PAIRS


def server_supports(encoder: Encoder) -> bool:
    """True when this machine can open ``encoder`` (images always; video if a backend opens)."""
    if encoder is Encoder.NONE:
        return False
    if not encoder.is_video:
        return True
    from . import video  # imported lazily: PyAV is only loaded once video is asked for

    return any(video.probe(backend) for backend in encoder.backends)


@dataclass
class FrameEncoders:
    """The still and interactive encoders of one connection, and the status of each.

    The application sets them in ``RenderAreaListener.on_opened_connection`` (and again in
    ``on_refused_encoder`` when the service refused them). Defaults: PNG still, JPEG interactive.
    """

    still_encoder: Encoder = Encoder.PNG
    interactive_encoder: Encoder = Encoder.JPEG
    still_status: EncoderStatus = EncoderStatus.UNKNOWN
    interactive_status: EncoderStatus = EncoderStatus.UNKNOWN
    _client_decoders: frozenset[str] = field(default=frozenset({"jpeg", "png"}), repr=False)

    @property
    def client_decoders(self) -> frozenset[str]:
        """The codecs the browser decodes (``"jpeg"``, ``"h264"``, ...), as its hello said."""
        return self._client_decoders

    def set_still_encoder(self, encoder: Encoder | str) -> None:
        """Choose the encoder of still (best quality) frames."""
        self.still_encoder = encoder if isinstance(encoder, Encoder) else Encoder.parse(encoder)
        self.still_status = EncoderStatus.UNKNOWN

    def set_interactive_encoder(self, encoder: Encoder | str) -> None:
        """Choose the encoder of interactive frames (sent while the user interacts)."""
        self.interactive_encoder = encoder if isinstance(encoder, Encoder) else Encoder.parse(encoder)
        self.interactive_status = EncoderStatus.UNKNOWN

    def set_encoders(self, still: Encoder | str, interactive: Encoder | str | None = None) -> None:
        """Choose both encoders at once (``interactive`` defaults to ``still``)."""
        self.set_still_encoder(still)
        self.set_interactive_encoder(still if interactive is None else interactive)

    def get_still_encoder(self) -> Encoder:
        """The encoder of still frames."""
        return self.still_encoder

    def get_interactive_encoder(self) -> Encoder:
        """The encoder of interactive frames."""
        return self.interactive_encoder

    def get_still_encoder_status(self) -> EncoderStatus:
        """Whether the still encoder was accepted."""
        return self.still_status

    def get_interactive_encoder_status(self) -> EncoderStatus:
        """Whether the interactive encoder was accepted."""
        return self.interactive_status

    @property
    def is_video(self) -> bool:
        """True when the pair streams video."""
        return self.interactive_encoder.is_video

    def supports(self, encoder: Encoder) -> bool:
        """True when both this server and the browser can use ``encoder``."""
        codec = encoder.codec
        return (codec is not None and codec.name.lower() in self._client_decoders
                and server_supports(encoder))

    def validate(self) -> bool:
        """Set both statuses from the pair rules and support; True if the pair can be used."""
        self.still_status = EncoderStatus.OK if self.supports(self.still_encoder) else EncoderStatus.UNSUPPORTED
        self.interactive_status = (
            EncoderStatus.OK if self.supports(self.interactive_encoder) else EncoderStatus.UNSUPPORTED)
        if (self.still_status is EncoderStatus.OK and self.interactive_status is EncoderStatus.OK
                and not is_valid_pair(self.still_encoder, self.interactive_encoder)):
            self.still_status = self.interactive_status = EncoderStatus.INCOMPATIBLE
        return self.is_valid

    @property
    def is_valid(self) -> bool:
        """True when both statuses are OK."""
        return self.still_status is EncoderStatus.OK and self.interactive_status is EncoderStatus.OK

    def first_valid_of(self, pairs: Iterable[tuple[Encoder, Encoder]]) -> bool:
        """Take the first pair of ``pairs`` that validates; False (and the last tried) if none."""
        for still, interactive in pairs:
            self.set_encoders(still, interactive)
            if self.validate():
                return True
        return False


def open_encoder(encoder: Encoder, width: int, height: int, fps: float = 30.0,
                 bitrate: int | None = None) -> FrameEncoder:
    """Open a ready-to-use encoder for frames of ``width`` x ``height``.

    JPEG is encoded on the GPU where :func:`~remoteviz.encoders.gpu_jpeg.jpeg_path` says so
    (``ServiceSettings.jpeg_backend``, ``REMOTEVIZ_JPEG``), else on the CPU.

    A video encoder assumes ``fps`` frames per second and caps its stream at ``bitrate`` bits per
    second where its backend can (None: quality alone sets the size).
    """
    codec = encoder.codec
    if codec is None:
        raise ValueError("Encoder.NONE cannot encode")
    if codec is Codec.JPEG and gpu_jpeg.jpeg_path().on_gpu:  # decided once: ServiceSettings.jpeg_backend
        return gpu_jpeg.GpuJpegEncoder()
    if not codec.is_video:
        return ImageEncoder(codec)
    from . import video

    backend = next((b for b in encoder.backends if video.probe(b)), None)
    if backend is None:
        raise video.VideoEncoderUnavailable(f"no backend of {encoder.name} opens here")
    return video.VideoEncoder(codec, width, height, backend=backend, fps=fps, bitrate=bitrate)
