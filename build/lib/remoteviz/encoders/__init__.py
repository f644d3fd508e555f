"""Frame encoders: the still/interactive pair of a connection, images (JPEG, PNG) and video."""

from .frame_encoders import (
    DEFAULT_FALLBACK_CHAIN,
    Encoder,
    EncoderStatus,
    FrameEncoder,
    FrameEncoders,
    is_valid_pair,
    open_encoder,
    server_supports,
)

__all__ = [
    "DEFAULT_FALLBACK_CHAIN",
    "Encoder",
    "EncoderStatus",
    "FrameEncoder",
    "FrameEncoders",
    "is_valid_pair",
    "open_encoder",
    "server_supports",
]
