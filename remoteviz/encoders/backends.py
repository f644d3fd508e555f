"""Which FFmpeg encoders ("backends") make each video codec: the one list.

Kept apart from :mod:`remoteviz.encoders.video` so that choosing encoders
(:mod:`remoteviz.encoders.frame_encoders`) does not load PyAV.
"""

from __future__ import annotations

from ..protocol import Codec

BACKENDS: dict[Codec, tuple[str, ...]] = {
    Codec.H264: ("h264_nvenc", "libx264", "libopenh264"),
    Codec.VP9: ("libvpx-vp9",),
    Codec.AV1: ("libsvtav1", "librav1e", "libaom-av1"),
}
"""The FFmpeg encoders that can make each video codec, best first: hardware, then the fastest
software encoder with good compression, then the rest. Walk it with :func:`remoteviz.encoders.video.probe`."""

HARDWARE = frozenset({"h264_nvenc"})
"""The backends that need a GPU: only an encoder that names them asks for them."""
