"""Video encoders: H.264, VP9 and AV1 through PyAV (FFmpeg), tuned for interactive streaming.

A :class:`VideoEncoder` turns RGB frames into one compressed access unit each, at once: no
B-frames, no lookahead, no frame reordering, so the picture a user's input produced leaves the
encoder in the same call. It makes key frames only when asked to (and on the first frame), since
a WebSocket never loses a frame and a browser that joins or whose decoder fails asks for one.

Each codec can be made by several FFmpeg encoders ("backends"); :data:`BACKENDS` lists them in
order of preference and :func:`probe` says which really work on this machine.

Payloads are what WebCodecs' ``VideoDecoder.decode()`` takes with the ``codec_string`` given to
``configure()`` and no ``description``:

- H.264: Annex B, with SPS and PPS before every key frame;
- VP9: one frame per payload (no alt-ref frames, so no hidden frames or superframes);
- AV1: one temporal unit per payload, with the sequence header on key frames.

Pictures are converted to 8-bit 4:2:0 YUV with BT.709 coefficients in limited range, and the
stream says so (with the sRGB transfer function, which is what rendered pixels use), so that
browsers convert them back exactly.

``quality`` (0..1) sets each backend's constant-quality quantizer. Where the backend can change it
between frames (libvpx-vp9), a change applies to the next frame; elsewhere the encoder is reopened,
which makes the next frame a key frame (:attr:`VideoEncoder.live_quality` says which), so there a
change of at most :data:`QUANTIZER_JUMP` steps (the rate controller's small steps) waits for the
next key frame, or for the change to add up to more.

The bitrate cap (:meth:`VideoEncoder.set_bitrate`) is steered while a stream goes on. FFmpeg's
libx264 wrapper would re-read a new cap (``rc_max_rate``, ``rc_buffer_size``) before any frame, but
PyAV can set neither on an open encoder (``max_bit_rate`` is read-only, and private options only
apply at open), so a new cap takes effect by reopening, which makes a key frame: at once for a
change of more than :data:`STEER_RATIO` (at most once a second of frames), else with the next key
frame the stream makes anyway.
"""

from __future__ import annotations

import fractions
import functools
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import cast

import av
import numpy as np
from av.codec.context import Flags
from av.video.codeccontext import VideoCodecContext
from av.video.frame import PictureType
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc, VideoReformatter

from ..protocol import Codec
from .backends import BACKENDS

__all__ = ["BACKENDS", "QUANTIZER_JUMP", "STEER_RATIO", "VideoEncoder", "VideoEncoderUnavailable", "probe"]

_log = logging.getLogger(__name__)

# SVT-AV1 prints its whole configuration to stderr each time an encoder opens, and a service opens
# one per connection; keep its errors only, unless the user chose a level. SVT-AV1 reads this
# variable at every open; setting it at import, not later from a worker thread, avoids racing
# other threads' getenv().
os.environ.setdefault("SVT_LOG", "1")



class VideoEncoderUnavailable(RuntimeError):
    """The backend asked for, or every backend of the codec asked for, does not work here."""


# Key frames come only when asked for; this is as close to "never otherwise" as every backend
# accepts (x264's own "infinite" is 2**30), about 9,900 hours at 30 frames per second.
_NO_PERIODIC_KEY_FRAMES = 1 << 30

# AVColorSpace (not swscale's Colorspace enum, which PyAV also exposes) for BT.709 coefficients.
_AVCOL_SPC_BT709 = 1

STEER_RATIO = 1.5
"""A bitrate cap this many times lower or higher than the one in force is applied at once (with a
key frame); a smaller change waits for the stream's next key frame."""

QUANTIZER_JUMP = 4
"""On a backend that reopens for a new quantizer, a change of more steps than this applies at once
(quality 0.7 to 1.0 is 10 steps for x264); a smaller one waits for the next key frame."""

_PROBE_SIZE = 256  # NVENC's H.264 encoder refuses pictures under 145x145: 64 would be too small


def _threads() -> int:
    return min(os.cpu_count() or 1, 8)


def _vbv(bitrate: int) -> dict[str, str]:
    # Half a second of buffer: a key frame may exceed the per-frame share, the average may not, and
    # after a new cap (a reopened encoder starts with its buffer nearly full) frames fit the link
    # within half a second of them, not a second.
    return {"maxrate": str(bitrate), "bufsize": str(bitrate // 2)}


def _x264_options(quantizer: int, bitrate: int | None) -> dict[str, str]:
    return {
        # veryfast codes a rendered 1080p frame in about 7 ms on two cores, 40% smaller than
        # ultrafast does; its CABAC and 8x8 transforms make the stream High profile.
        "preset": "veryfast",
        "tune": "zerolatency",  # no B-frames, no lookahead, slice threads instead of frame threads
        "crf": str(quantizer),
        "forced-idr": "1",  # a forced key frame must be an IDR so that a new decoder can start there
        "sc_threshold": "0",  # no scene-cut key frames: key frames come only when asked for
        **(_vbv(bitrate) if bitrate else {}),
    }


def _nvenc_options(quantizer: int, bitrate: int | None) -> dict[str, str]:
    rate_control = (
        {"rc": "vbr", "cq": str(quantizer), **_vbv(bitrate)}
        if bitrate
        else {"rc": "constqp", "qp": str(quantizer)}
    )
    return {
        "preset": "p3",
        "tune": "ull",  # ultra-low latency
        "profile": "high",
        "zerolatency": "1",
        "delay": "0",  # the default holds packets back by the number of surfaces in flight
        "rc-lookahead": "0",
        "forced-idr": "1",
        **rate_control,
    }


def _openh264_options(quantizer: int, bitrate: int | None) -> dict[str, str]:
    if bitrate:  # the quantizer is the best quality allowed; rate control keeps to the budget
        rate_control = {"rc_mode": "bitrate", "b": str(bitrate), "qmin": str(quantizer), "qmax": "51"}
    else:  # the quantizer is pinned
        rate_control = {"rc_mode": "quality", "qmin": str(quantizer), "qmax": str(quantizer)}
    return {"allow_skip_frames": "0", **rate_control}  # a skipped frame would be a frame held back


def _vpx_options(quantizer: int, bitrate: int | None) -> dict[str, str]:
    # Q mode with the worst constant quantizer (crf 63), under a max quantizer that libvpxenc
    # re-reads before every frame (see _retune_vpx): the max quantizer is then the quantizer, and
    # can change from one frame to the next. Q mode has no bit rate ceiling.
    return {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "auto-alt-ref": "0",  # alt-ref frames are hidden frames shown later: a frame held back
        "row-mt": "1",
        "threads": str(_threads()),  # libvpx uses one thread unless told
        # libvpx may place key frames of its own anywhere from keyint_min to gop_size frames
        # apart: with both at the maximum, it places none.
        "keyint_min": str(_NO_PERIODIC_KEY_FRAMES),
        "crf": "63",
        "qmin": "0",
        "qmax": "63",  # the real quantizer is set right after opening, before the first frame
    }


def _retune_vpx(context: VideoCodecContext, quantizer: int) -> None:
    # libvpxenc compares qmax with the encoder's max quantizer before each frame and reconfigures
    # the encoder when they differ, without a key frame.
    context.qmax = quantizer


def _svtav1_options(quantizer: int, bitrate: int | None) -> dict[str, str]:
    return {
        # Real-time mode's faster presets (10 to 12) smear moving edges badly (frames below 30 dB
        # PSNR at crf 22); 9 codes a rendered 1080p frame in about 18 ms on two cores without that.
        "preset": "9",
        # Real-time mode, low-delay prediction (every frame refers back only), no lookahead, and
        # no temporal layers, whose frames would alternate between high and low quality.
        "svtav1-params": "rtc=1:pred-struct=1:lookahead=0:hierarchical-levels=0",
        "crf": str(quantizer),
    }


def _rav1e_options(quantizer: int, bitrate: int | None) -> dict[str, str]:
    return {"speed": "10", "qp": str(quantizer), "rav1e-params": "low_latency=true"}


def _aom_options(quantizer: int, bitrate: int | None) -> dict[str, str]:
    return {
        "usage": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "row-mt": "1",
        "crf": str(quantizer),
    }


@dataclass(frozen=True, slots=True)
class _Backend:
    """How to drive one FFmpeg encoder for interactive streaming."""

    codec: Codec
    # The backend's quantizer at quality 0 and at quality 1, chosen so that each codec's 0.7 looks
    # good (about 40 dB PSNR on a rendered scene) and 1.0 is close to the limit of 4:2:0.
    quantizers: tuple[int, int]
    options: Callable[[int, int | None], dict[str, str]]
    caps_bitrate: bool
    even_size: bool = False  # H.264 4:2:0 encoders refuse odd widths and heights
    min_side: int = 1  # smaller pictures are padded up to this
    global_header: bool = False  # read the parameter sets (H.264) or sequence header (AV1) at open
    retune: Callable[[VideoCodecContext, int], None] | None = None  # changes the quantizer live


_SPECS: dict[str, _Backend] = {
    "h264_nvenc": _Backend(Codec.H264, (44, 10), _nvenc_options, caps_bitrate=True, even_size=True,
                           global_header=True),
    "libx264": _Backend(Codec.H264, (44, 10), _x264_options, caps_bitrate=True, even_size=True,
                        global_header=True),
    "libopenh264": _Backend(Codec.H264, (44, 10), _openh264_options, caps_bitrate=True, even_size=True,
                            global_header=True),
    "libvpx-vp9": _Backend(Codec.VP9, (56, 8), _vpx_options, caps_bitrate=False, retune=_retune_vpx),
    # SVT-AV1 takes pictures from 8x8 up but writes out of bounds on them: under glibc's malloc
    # checker an 8x8 encode crashes (64x64 runs clean), and in the full test suite the corruption
    # surfaced as "realloc(): invalid next size" and an abort. Pictures are padded to 64x64, the
    # floor it long required (tests/unit/test_video_encoder.py runs a 3x3 area under the checker).
    "libsvtav1": _Backend(Codec.AV1, (56, 8), _svtav1_options, caps_bitrate=False, global_header=True,
                          min_side=64),
    # rav1e's quantizer is AV1's qindex, 0..255, about four times the others' scale
    "librav1e": _Backend(Codec.AV1, (224, 32), _rav1e_options, caps_bitrate=False, global_header=True, min_side=8),
    "libaom-av1": _Backend(Codec.AV1, (56, 8), _aom_options, caps_bitrate=False, global_header=True, min_side=8),
}


def _open_context(
    spec: _Backend, name: str, width: int, height: int, rate: fractions.Fraction, quantizer: int,
    bitrate: int | None,
) -> VideoCodecContext:
    context = cast(VideoCodecContext, av.CodecContext.create(name, "w"))  # a video codec: a video context
    context.width = width
    context.height = height
    context.pix_fmt = "yuv420p"
    context.framerate = rate
    context.time_base = 1 / rate
    context.gop_size = _NO_PERIODIC_KEY_FRAMES
    context.max_b_frames = 0
    context.colorspace = _AVCOL_SPC_BT709
    context.color_primaries = ColorPrimaries.BT709
    context.color_trc = ColorTrc.IEC61966_2_1
    context.color_range = ColorRange.MPEG
    if spec.global_header:
        context.flags |= Flags.global_header
    context.options = spec.options(quantizer, bitrate)
    context.open()
    # FFmpeg hands back the options that nothing consumed: a misspelt one would go unnoticed.
    if context.options:
        _log.warning("%s ignored options %s", name, context.options)
    if spec.retune is not None:
        spec.retune(context, quantizer)
    return context


def _flush(context: VideoCodecContext) -> None:
    # Ends the stream properly (SVT-AV1 complains otherwise); nothing is pending, as every frame
    # came out at once.
    context.encode(None)


@functools.cache
def probe(backend: str) -> bool:
    """True if the FFmpeg encoder named ``backend`` works here.

    The first call opens a small encoder and encodes one frame with it (a hardware encoder without
    its GPU fails there); the answer is cached. Unknown names are False. Never raises.
    """
    spec = _SPECS.get(backend)
    if spec is None:
        return False
    try:
        context = _open_context(spec, backend, _PROBE_SIZE, _PROBE_SIZE, fractions.Fraction(30),
                                spec.quantizers[0], None)
        black = np.zeros((_PROBE_SIZE, _PROBE_SIZE, 3), np.uint8)
        picture = av.VideoFrame.from_ndarray(black, format="rgb24").reformat(format="yuv420p")
        picture.pts = 0
        context.encode(picture)
        _flush(context)
    except (av.FFmpegError, ValueError) as error:  # PyAV raises ValueError for unknown codecs
        _log.info("video encoder %s is unavailable: %s", backend, error)
        return False
    return True


class VideoEncoder:
    """Encodes RGB frames into a low-latency H.264, VP9 or AV1 stream, one payload per frame.

    ``backend`` names the FFmpeg encoder (see :data:`BACKENDS`); None picks the first that works
    (:func:`probe`) and opens at this size. ``fps`` is the expected frame rate, which rate control
    and the stream's level assume. ``bitrate`` (bits per second) caps the stream's rate where the
    backend can cap a constant-quality stream (the H.264 backends, see :attr:`caps_bitrate`);
    elsewhere it is ignored and ``quality`` alone sets the size.

    H.264 in 4:2:0 needs an even width and height: frames of odd size are padded by repeating
    their last column or row, so the decoded picture is :attr:`coded_width` x :attr:`coded_height`
    while :attr:`width` x :attr:`height` stays the real size, which a client crops to. VP9 and AV1
    code odd sizes as they are; AV1 pictures smaller than 8x8 (SVT-AV1 refuses less than 4x4) are
    padded the same way.

    Use an encoder from one thread at a time. Raises :class:`VideoEncoderUnavailable` if the
    backend does not make ``codec``, does not work here or does not open at this size (or, without
    ``backend``, if none does).
    """

    codec: Codec
    backend: str
    width: int
    height: int
    coded_width: int
    coded_height: int
    codec_string: str
    """What WebCodecs' ``VideoDecoder.configure()`` takes as ``codec`` for this stream."""
    live_quality: bool
    """True if ``quality`` can change between frames without forcing a key frame."""
    caps_bitrate: bool
    """True if the backend enforces ``bitrate``."""
    _context: VideoCodecContext | None  # None once closed

    def __init__(
        self,
        codec: Codec,
        width: int,
        height: int,
        *,
        backend: str | None = None,
        fps: float = 30.0,
        bitrate: int | None = None,
    ) -> None:
        if not codec.is_video:
            raise ValueError(f"{codec.name} is not a video codec")
        if width < 1 or height < 1:
            raise ValueError(f"bad picture size {width}x{height}")
        if not fps > 0:
            raise ValueError(f"bad frame rate {fps}")
        self.codec = codec
        self.width, self.height = width, height
        self._rate = fractions.Fraction(fps).limit_denominator(1001)
        self._bitrate = self._wanted_bitrate = bitrate
        self._pts = 0
        self._capped_at = 0  # the frame number (pts) at which the cap in force was applied
        # One converter for the stream: swscale's context is made once, not per frame.
        self._reformatter = VideoReformatter()
        self._first = True  # the next frame starts a stream, and must be a key frame
        failures = []
        for candidate in _candidates(codec, backend):
            try:
                self._start(candidate)
                break
            except (av.FFmpegError, ValueError) as error:  # e.g. NVENC refuses pictures under 145x145
                failures.append(f"{candidate}: {error}")
        else:
            raise VideoEncoderUnavailable(f"no {codec.name} encoder opens at {width}x{height}: "
                                          + "; ".join(failures))

    def encode(self, frame: np.ndarray, *, key: bool = False, quality: float = 0.7) -> tuple[bytes, bool]:
        """Encode one ``(height, width, 3)`` uint8 RGB frame, rows top-down.

        Returns the payload and whether it is a key frame, which it is when ``key`` is true, on
        the first frame, and after a quality change applied on a backend without
        :attr:`live_quality` (see :data:`QUANTIZER_JUMP`) or a new bitrate cap applied.
        ``quality`` runs from 0 (smallest) to 1 (near-lossless, for a still frame).
        """
        if self._context is None:
            raise ValueError("the encoder is closed")
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(
                f"expected a ({self.height}, {self.width}, 3) uint8 RGB frame, "
                f"got {frame.shape} {frame.dtype}"
            )
        if not 0.0 <= quality <= 1.0:
            raise ValueError(f"quality {quality} is outside [0, 1]")
        key = key or self._first
        self._retune(self._quantizer_due(quality, key), self._bitrate_due(key))
        key = key or self._first  # a reopened encoder starts with a key frame
        picture = self._picture(frame)
        if key:
            picture.pict_type = PictureType.I
        picture.pts = self._pts
        self._pts += 1
        packets = self._context.encode(picture)
        if len(packets) != 1:
            # Every option above exists to make this impossible; a backend that holds frames back
            # would add latency to every frame after it.
            raise RuntimeError(f"{self.backend} returned {len(packets)} packets for one frame")
        packet = packets[0]
        if key and not packet.is_keyframe:
            raise RuntimeError(f"{self.backend} did not make the key frame it was asked for")
        self._first = False
        payload = bytes(packet)
        if self.codec is Codec.H264 and packet.is_keyframe and not _has_sps(payload):
            payload = (self._context.extradata or b"") + payload
        return payload, packet.is_keyframe

    @property
    def bitrate(self) -> int | None:
        """The bitrate cap in force (bits per second; None: none)."""
        return self._bitrate

    def set_bitrate(self, bitrate: int | None) -> None:
        """Cap the stream at ``bitrate`` bits per second (None: no cap) from a coming frame on.

        A change of more than :data:`STEER_RATIO` applies to the next frame, which is then a key
        frame (the encoder reopens), unless the cap in force came less than a second of frames
        ago; a smaller one waits for the next key frame. Ignored unless :attr:`caps_bitrate`.
        """
        if bitrate is not None and bitrate <= 0:
            raise ValueError(f"bad bitrate {bitrate}")
        self._wanted_bitrate = bitrate

    def close(self) -> None:
        """Release the encoder; further :meth:`encode` calls raise ValueError. Idempotent."""
        context, self._context = self._context, None
        if context is not None:
            _flush(context)

    def __enter__(self) -> VideoEncoder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<VideoEncoder {self.backend} {self.width}x{self.height} {self.codec_string}>"

    # ------------------------------------------------------------------ internals

    def _start(self, backend: str) -> None:
        spec = self._spec = _SPECS[backend]
        self.backend = backend
        self.coded_width = max(spec.min_side, self.width + self.width % 2 if spec.even_size else self.width)
        self.coded_height = max(spec.min_side, self.height + self.height % 2 if spec.even_size else self.height)
        self.live_quality = spec.retune is not None
        self.caps_bitrate = spec.caps_bitrate
        self._quantizer = self._quantizer_for(0.7)
        self._context = self._open()
        self._first = True  # the next frame starts a stream, and must be a key frame
        self.codec_string = self._describe()

    def _open(self) -> VideoCodecContext:
        return _open_context(self._spec, self.backend, self.coded_width, self.coded_height, self._rate,
                             self._quantizer, self._bitrate)

    def _quantizer_for(self, quality: float) -> int:
        # Whole quantizer steps, so that a tiny change of quality reopens nothing.
        worst, best = self._spec.quantizers
        return round(worst + (best - worst) * quality)

    def _quantizer_due(self, quality: float, key: bool) -> int:
        """The quantizer the next frame is coded at: ``quality``'s, unless a reopen for it can wait."""
        wanted = self._quantizer_for(quality)
        if key or self._spec.retune is not None or abs(wanted - self._quantizer) > QUANTIZER_JUMP:
            return wanted
        return self._quantizer

    def _bitrate_due(self, key: bool) -> int | None:
        """The cap the next frame is coded at: the wanted one, if it is due (see :meth:`set_bitrate`)."""
        wanted, current = self._wanted_bitrate, self._bitrate
        if wanted == current or not self.caps_bitrate:
            return current
        far = wanted is None or current is None or not 1 / STEER_RATIO <= wanted / current <= STEER_RATIO
        if key or (far and self._pts - self._capped_at >= self._rate):
            return wanted
        return current

    def _retune(self, quantizer: int, bitrate: int | None) -> None:
        """Code from the next frame on with ``quantizer`` and ``bitrate``: live if the backend can, else reopened."""
        if quantizer == self._quantizer and bitrate == self._bitrate:
            return
        assert self._context is not None
        if bitrate == self._bitrate and self._spec.retune is not None:
            self._quantizer = quantizer
            self._spec.retune(self._context, quantizer)
            return
        if bitrate != self._bitrate:
            self._capped_at = self._pts
        self._quantizer, self._bitrate = quantizer, bitrate
        _flush(self._context)
        self._context = self._open()
        self._first = True
        self.codec_string = self._describe()  # the level may follow the cap; joiners configure with this

    def _picture(self, frame: np.ndarray) -> av.VideoFrame:
        pad_rows, pad_columns = self.coded_height - self.height, self.coded_width - self.width
        if pad_rows or pad_columns:
            frame = np.pad(frame, ((0, pad_rows), (0, pad_columns), (0, 0)), mode="edge")
        rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        return self._reformatter.reformat(rgb, format="yuv420p", dst_colorspace=Colorspace.ITU709,
                                          dst_color_range=ColorRange.MPEG)

    def _describe(self) -> str:
        assert self._context is not None
        if self.codec is Codec.H264:
            return _avc_codec_string(self._context.extradata or b"")
        if self.codec is Codec.VP9:
            return _vp9_codec_string(self.coded_width, self.coded_height, float(self._rate))
        return _av1_codec_string(self._context.extradata or b"")


def _candidates(codec: Codec, backend: str | None) -> list[str]:
    """The backends to try, best first: ``backend`` alone if given, else every one that works."""
    if backend is None:
        working = [candidate for candidate in BACKENDS[codec] if probe(candidate)]
        if not working:
            tried = ", ".join(BACKENDS[codec])
            raise VideoEncoderUnavailable(f"no {codec.name} encoder works here (tried {tried})")
        return working
    spec = _SPECS.get(backend)
    if spec is None or spec.codec is not codec:
        raise VideoEncoderUnavailable(f"{backend!r} is not a {codec.name} encoder this library drives")
    if not probe(backend):
        raise VideoEncoderUnavailable(f"the {backend} encoder does not work here")
    return [backend]


# ---------------------------------------------------------------------- bitstream inspection


def _nal_units(stream: bytes) -> Iterator[bytes]:
    """The NAL units of an H.264 Annex B byte stream, without start codes, lazily."""
    start = stream.find(b"\x00\x00\x01")
    while start >= 0:
        start += 3
        end = stream.find(b"\x00\x00\x01", start)
        # A NAL unit never ends with a zero byte: zeros before the next start code belong to it
        # (a four-byte start code, or trailing padding).
        yield stream[start:end if end >= 0 else len(stream)].rstrip(b"\x00")
        start = end


_NAL_SPS = 7


def _has_sps(access_unit: bytes) -> bool:
    for nal in _nal_units(access_unit):
        kind = nal[0] & 0x1F
        if kind == _NAL_SPS:
            return True
        if 1 <= kind <= 5:  # the first slice: parameter sets would have come before it
            return False
    return False


def _avc_codec_string(parameter_sets: bytes) -> str:
    """``avc1.PPCCLL`` from the stream's own SPS: profile_idc, constraint flags, level_idc."""
    for nal in _nal_units(parameter_sets):
        if nal[0] & 0x1F == _NAL_SPS:
            # These three bytes can hold no emulation-prevention byte: profile_idc is never 0.
            return "avc1." + nal[1:4].hex().upper()
    raise RuntimeError("the H.264 encoder gave no sequence parameter set")


# (level, max luma samples per second, max luma picture size, max width or height), from
# https://www.webmproject.org/vp9/levels/
_VP9_LEVELS = (
    (10, 829_440, 36_864, 512),
    (11, 2_764_800, 73_728, 768),
    (20, 4_608_000, 122_880, 960),
    (21, 9_216_000, 245_760, 1_344),
    (30, 20_736_000, 552_960, 2_048),
    (31, 36_864_000, 983_040, 2_752),
    (40, 83_558_400, 2_228_224, 4_160),
    (41, 160_432_128, 2_228_224, 4_160),
    (50, 311_951_360, 8_912_896, 8_384),
    (51, 588_251_136, 8_912_896, 8_384),
    (52, 1_176_502_272, 8_912_896, 8_384),
    (60, 1_176_502_272, 35_651_584, 16_832),
    (61, 2_353_004_544, 35_651_584, 16_832),
    (62, 4_706_009_088, 35_651_584, 16_832),
)


def _vp9_codec_string(width: int, height: int, fps: float) -> str:
    """``vp09.00.LL.08``: profile 0 (8-bit 4:2:0), the lowest level that holds the stream.

    A VP9 bitstream does not carry its level, so it comes from the picture size and frame rate.
    """
    samples = width * height
    level = next(
        (lv for lv, rate, size, side in _VP9_LEVELS
         if samples * fps <= rate and samples <= size and max(width, height) <= side),
        _VP9_LEVELS[-1][0],
    )
    return f"vp09.00.{level:02d}.08"


class _BitReader:
    def __init__(self, data: bytes) -> None:
        self._data, self._position = data, 0

    def bits(self, count: int) -> int:
        value = 0
        for _ in range(count):
            byte = self._data[self._position >> 3]
            value = value << 1 | (byte >> (7 - (self._position & 7))) & 1
            self._position += 1
        return value

    def uvlc(self) -> int:
        zeros = 0
        while not self.bits(1):
            zeros += 1
        return self.bits(zeros) + (1 << zeros) - 1


def _obus(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The (type, payload) of each OBU in a low-overhead AV1 bitstream."""
    position = 0
    while position < len(data):
        header = data[position]
        kind, has_extension, has_size = header >> 3 & 0xF, header >> 2 & 1, header >> 1 & 1
        position += 1 + has_extension
        size = len(data) - position
        if has_size:
            size = shift = 0
            while True:
                byte = data[position]
                position += 1
                size |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
        yield kind, data[position:position + size]
        position += size


_OBU_SEQUENCE_HEADER = 1


def _av1_codec_string(extradata: bytes) -> str:
    """``av01.P.LLT.08`` from the stream's sequence header: profile, level, tier, bit depth 8."""
    if extradata[:1] == b"\x81":  # an AV1CodecConfigurationRecord (librav1e): OBUs follow 4 bytes
        extradata = extradata[4:]
    header = next((payload for kind, payload in _obus(extradata) if kind == _OBU_SEQUENCE_HEADER), None)
    if header is None:
        raise RuntimeError("the AV1 encoder gave no sequence header")
    bits = _BitReader(header)
    profile = bits.bits(3)
    bits.bits(1)  # still_picture
    if bits.bits(1):  # reduced_still_picture_header
        level, tier = bits.bits(5), 0
    else:
        if bits.bits(1):  # timing_info_present_flag
            bits.bits(64)  # num_units_in_display_tick, time_scale
            if bits.bits(1):  # equal_picture_interval
                bits.uvlc()
            if bits.bits(1):  # decoder_model_info_present_flag
                bits.bits(5 + 32 + 5 + 5)
        bits.bits(1)  # initial_display_delay_present_flag
        bits.bits(5)  # operating_points_cnt_minus_1: the first operating point is the whole stream
        bits.bits(12)  # operating_point_idc[0]
        level = bits.bits(5)
        tier = bits.bits(1) if level > 7 else 0
    return f"av01.{profile}.{level:02d}{'H' if tier else 'M'}.08"
