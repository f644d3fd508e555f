"""Encoder pair rules and statuses (images here; video support is probed for real)."""

import numpy as np
import pytest

from remoteviz.encoders import Encoder, EncoderStatus, FrameEncoders, is_valid_pair
from remoteviz.encoders.image import ImageEncoder, decode_image
from remoteviz.protocol import Codec

IMAGES = [Encoder.JPEG, Encoder.PNG]
VIDEOS = [Encoder.H264_NVENC, Encoder.H264_OPENH264, Encoder.H264, Encoder.VP9_VPX, Encoder.AV1]


@pytest.mark.parametrize("still", IMAGES + VIDEOS + [Encoder.NONE])
@pytest.mark.parametrize("interactive", IMAGES + VIDEOS + [Encoder.NONE])
def test_pair_rules(still: Encoder, interactive: Encoder) -> None:
    valid = (still, interactive) in {(Encoder.JPEG, Encoder.JPEG), (Encoder.PNG, Encoder.JPEG)} or (
        still.is_video and still is interactive)
    assert is_valid_pair(still, interactive) == valid


def test_default_pair_is_png_still_jpeg_interactive_and_valid() -> None:
    encoders = FrameEncoders()
    assert (encoders.still_encoder, encoders.interactive_encoder) == (Encoder.PNG, Encoder.JPEG)
    assert encoders.validate()
    assert encoders.get_still_encoder_status() is EncoderStatus.OK


def test_incompatible_pair_marks_both_incompatible() -> None:
    encoders = FrameEncoders()
    encoders.set_encoders(Encoder.JPEG, Encoder.PNG)
    assert not encoders.validate()
    assert encoders.still_status is encoders.interactive_status is EncoderStatus.INCOMPATIBLE


def test_encoder_the_browser_cannot_decode_is_unsupported() -> None:
    encoders = FrameEncoders(_client_decoders=frozenset({"jpeg"}))
    assert not encoders.validate()
    assert encoders.still_status is EncoderStatus.UNSUPPORTED  # PNG
    assert encoders.interactive_status is EncoderStatus.OK


def test_names_parse_case_insensitively_and_unknown_names_are_refused() -> None:
    assert Encoder.parse("JPEG") is Encoder.JPEG
    with pytest.raises(ValueError, match="unknown encoder"):
        FrameEncoders().set_still_encoder("gif")


def test_image_encoders_round_trip() -> None:
    image = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    payload, key = ImageEncoder(Codec.PNG).encode(image)
    assert key and payload[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_array_equal(decode_image(Codec.PNG, payload), image)
    small, _ = ImageEncoder(Codec.JPEG).encode(image, quality=0.2)
    big, _ = ImageEncoder(Codec.JPEG).encode(image, quality=0.95)
    assert small[:2] == b"\xff\xd8" and len(small) < len(big)
