"""What is handed from stage to stage of the frame path: a rendered frame, then an encoded one.

Typed once here, so the renderer, the encode plan, a connection's outgoing stream and the
socket agree on one shape rather than on the order of a tuple's items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..protocol import Codec, FrameFlags, StreamConfig, encode_frame_header


@dataclass(frozen=True, slots=True, eq=False)
class RenderedFrame:
    """One render of a render area, on its way through the encoders."""

    image: np.ndarray
    interactive: bool
    width: int  # the render area's size when it was rendered
    height: int
    # The last input of each connection that this picture shows (its frames carry it back).
    input_seqs: dict[str, int]
    scale: float = 1.0  # the fraction of the area's size it was rendered at (render_scale.py)


@dataclass(frozen=True, slots=True)
class FrameHeader:
    """Everything a frame message's header says except its id, which the connection's pacer gives."""

    codec: Codec
    flags: FrameFlags
    width: int  # of the encoded picture (a downscaled or padded one may differ from the area's)
    height: int
    area_width: int
    area_height: int
    input_seq: int
    text: bytes  # what on_sending_frame returned for this connection

    @property
    def is_key(self) -> bool:
        """A video key frame (images are always decodable alone)."""
        return bool(self.flags & FrameFlags.KEY)

    @property
    def is_still(self) -> bool:
        """The sharp frame sent once input stops."""
        return bool(self.flags & FrameFlags.STILL)

    def encode(self, frame_id: int) -> bytes:
        """The header's bytes on the wire (:func:`remoteviz.protocol.encode_frame_header`)."""
        return encode_frame_header(frame_id, self.codec, self.flags, self.width, self.height, self.area_width,
                                   self.area_height, self.input_seq, self.text)


@dataclass(frozen=True, slots=True, eq=False)
class EncodedFrame:
    """One connection's copy of an encoded frame: what its socket is given, header and payload."""

    header: FrameHeader
    payload: bytes
    is_video: bool
    stream: StreamConfig | None = None  # sent before it: the first frame of a video stream for this connection

    @property
    def is_key(self) -> bool:
        """Whether a video decoder can start from it."""
        return self.header.is_key


@dataclass(frozen=True, slots=True, eq=False)
class Send:
    """A decision: send ``frame`` on the connection now, as frame ``frame_id``."""

    frame_id: int
    frame: EncodedFrame
