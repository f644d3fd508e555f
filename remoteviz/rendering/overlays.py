"""Overlays the server draws into the picture: a colour bar, an axes triad and a scale bar.

They are scene nodes, so they show in every client, screenshot and recording. Each is a small
picture of a fixed size in pixels, whatever the frame's size, drawn last, over everything, in a
corner of the frame. An overlay draws its picture with Pillow (labels in the label font of
:mod:`remoteviz.rendering.text`) from what it shows now: the colour bar from the colour mapping of
the node it describes, the triad from the camera's orientation, the scale bar from the camera's
zoom. The renderer asks for a new picture only when that changes (:meth:`Overlay.picture_key`).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from remoteviz.rendering.colormaps import ColorMapping
from remoteviz.rendering.fields import Field, as_color, as_float, as_positive_float
from remoteviz.rendering.math3d import BoundingBox, Matrix
from remoteviz.rendering.shapes import Shape
from remoteviz.rendering.text import label_font

if TYPE_CHECKING:
    from remoteviz.rendering.camera import Viewport

CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
"""Where an overlay sits in the frame."""

_SUPERSAMPLE = 3  # lines are drawn this many times larger, then shrunk: smooth edges
_BACKGROUND = (0, 0, 0, 110)  # the box behind an overlay's picture: readable on any scene


class ColorMapped(Protocol):
    """A node that draws values through a colour map: meshes, points and lines with scalars,
    slices, volumes."""

    def color_mapping(self) -> ColorMapping | None:
        """How its values are drawn now, or None when it draws none."""


@dataclass(frozen=True, slots=True, eq=False)
class OverlayGeometry:
    """What the renderer gathers for an overlay: it has no place in the scene's space."""

    @property
    def bounding_box(self) -> BoundingBox | None:
        """None: an overlay is not framed by ``view_all`` and not depth sorted."""
        return None


@dataclass(frozen=True, slots=True)
class OverlayView:
    """What an overlay may follow: the view's rotation (world to camera, 3 x 3), the world
    length of one pixel at the camera's focal distance, and the frame's size."""

    rotation: Matrix
    units_per_pixel: float
    viewport: Viewport


@dataclass(frozen=True, slots=True, eq=False)
class OverlayPicture:
    """An overlay's picture: ``image`` ``(H, W, 4)`` uint8 premultiplied RGBA, top row first."""

    image: npt.NDArray[np.uint8]


def _as_corner(value: Any) -> str:
    if value not in CORNERS:
        raise ValueError(f"expected a corner of {', '.join(map(repr, CORNERS))}, got {value!r}")
    return str(value)


def _as_pixels(value: Any) -> float:
    size = as_positive_float(value)
    if size > 2048.0:
        raise ValueError(f"an overlay's size is at most 2048 pixels, got {value!r}")
    return size


class Overlay(Shape):
    """The base of the overlays: a picture of a fixed pixel size in a ``corner`` of the frame,
    ``margin`` pixels from its edges."""

    corner = Field("bottom-right", _as_corner, "Which corner of the frame: 'top-left', 'bottom-right', ...")
    margin = Field(12.0, as_float, "Pixels between the overlay and the frame's edges.")
    color = Field((1.0, 1.0, 1.0), as_color, "Colour of lines and labels.")
    font_size = Field(13.0, _as_pixels, "Label height in pixels.")

    def _build_geometry(self) -> OverlayGeometry:
        return OverlayGeometry()

    def picture_key(self, view: OverlayView) -> Hashable:
        """What the picture depends on in ``view`` and in the node: equal keys, equal pictures."""
        raise NotImplementedError

    def picture(self, view: OverlayView) -> OverlayPicture:
        """The picture for ``view``."""
        raise NotImplementedError

    def top_left(self, size: tuple[int, int], viewport: Viewport) -> tuple[int, int]:
        """Where a picture of ``size`` (width, height) goes, in pixels from the frame's top-left."""
        width, height = size
        margin = round(self.margin)
        left = margin if self.corner.endswith("left") else viewport.width - width - margin
        top = margin if self.corner.startswith("top") else viewport.height - height - margin
        return left, top

    def _ink(self) -> tuple[int, int, int, int]:
        r, g, b = (round(c * 255) for c in self.color)
        return r, g, b, 255

    def _font(self, scale: int = 1) -> Any:
        return label_font(max(round(self.font_size * scale), 4))


def _premultiplied(image: Image.Image) -> OverlayPicture:
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
    rgba[..., :3] *= rgba[..., 3:] / 255.0
    return OverlayPicture(np.round(rgba).astype(np.uint8))


# ---------------------------------------------------------------------------- colour bar


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values from ``low`` to ``high`` (1, 2, 2.5 or 5 times a power of ten apart), at most
    about ``count`` + 1 of them."""
    span = high - low
    if not (span > 0.0 and math.isfinite(span)):
        return [low]
    magnitude = 10.0 ** math.floor(math.log10(span / count))
    step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if span / (m * magnitude) <= count)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    # Multiples of the step, rounded so that 0.1 * 3 prints as 0.3.
    digits = max(0, -math.floor(math.log10(step)) + 1)
    return [round(k * step, digits) for k in range(first, last + 1)]


def log_ticks(low: float, high: float) -> list[float]:
    """Powers of ten from ``low`` to ``high`` (every second or third when there are many); round
    values on a linear spacing when the range holds fewer than two."""
    first, last = math.ceil(math.log10(low) - 1e-9), math.floor(math.log10(high) + 1e-9)
    if last - first + 1 < 2:
        return nice_ticks(low, high, 4)
    stride = max(1, math.ceil((last - first + 1) / 6))
    return [10.0**k for k in range(first, last + 1, stride)]


def tick_label(value: float, ticks: list[float]) -> str:
    """A tick's label with as many digits as tell the ticks apart, no more."""
    if len(ticks) > 1:
        step = min(abs(b - a) for a, b in zip(ticks, ticks[1:], strict=False))
        if step > 0 and 1e-4 <= max(abs(t) for t in ticks) < 1e6 and step < 1.0:
            return f"{value:.{max(0, -math.floor(math.log10(step) + 1e-9))}f}"
    return f"{value:.6g}"


def _as_target(value: Any) -> Any:
    if not callable(getattr(value, "color_mapping", None)):
        raise TypeError(f"a colour bar describes a node with a colour map (a mesh, points, lines, a slice, "
                        f"a volume), got {value!r}")
    return value


def _as_orientation(value: Any) -> str:
    if value not in ("vertical", "horizontal"):
        raise ValueError(f"expected 'vertical' or 'horizontal', got {value!r}")
    return str(value)


class ColorBar(Overlay):
    """A legend for the colour map of ``node``: its colours from low (bottom, or left when
    ``orientation`` is ``"horizontal"``) to high, with ``title`` above and round-numbered ticks
    beside (powers of ten on a log scale).

    The bar follows the node: a new map, range or scale shows at the next frame. ``length`` and
    ``thickness`` are the colour strip's size in pixels. A node with nothing to show (a mesh
    without scalars) leaves the bar out.
    """

    title = Field("", str, "Text above the bar; empty: the node's ``scalars_name``, if it has one.")
    length = Field(200.0, _as_pixels, "The colour strip's length in pixels.")
    thickness = Field(16.0, _as_pixels, "The colour strip's width in pixels.")
    orientation = Field("vertical", _as_orientation, "'vertical' (low end at the bottom) or 'horizontal' (on the left).")

    def __init__(self, node: ColorMapped, *, name: str = "", **fields: Any) -> None:
        fields.setdefault("corner", "top-right")
        super().__init__(name=name, **fields)
        self._target = _as_target(node)

    @property
    def node(self) -> ColorMapped:
        """The node whose colour map the bar shows."""
        target: ColorMapped = self._target
        return target

    @node.setter
    def node(self, node: ColorMapped) -> None:
        self._target = _as_target(node)
        self.touch()

    def picture_key(self, view: OverlayView) -> Hashable:
        """The mapping shown and the bar's own fields."""
        mapping = self._target.color_mapping()
        if mapping is None:
            return None
        table = hash(mapping.table.tobytes())
        return (self.version, mapping.colormap, table, mapping.low, mapping.high, mapping.log, self._title())

    def _title(self) -> str:
        return self.title or str(getattr(self._target, "scalars_name", ""))

    def picture(self, view: OverlayView) -> OverlayPicture:
        """The strip, its ticks and labels, and the title, on a translucent box."""
        mapping = self._target.color_mapping()
        assert mapping is not None  # the renderer skips a bar whose key is None
        ticks = log_ticks(mapping.low, mapping.high) if mapping.log else nice_ticks(mapping.low, mapping.high)
        ticks = [t for t in ticks if mapping.low <= t <= mapping.high]
        labels = [tick_label(t, ticks) for t in ticks]
        where = mapping.positions(np.asarray(ticks, dtype=np.float64))
        font = self._font()
        measure = ImageDraw.Draw(Image.new("L", (1, 1)))
        boxes = [measure.textbbox((0, 0), label, font=font) for label in labels]
        title = self._title()
        title_box = measure.textbbox((0, 0), title, font=font) if title else (0, 0, 0, 0)
        pad, tick_length = 6, 5
        length, thickness = round(self.length), round(self.thickness)
        title_height = title_box[3] + pad if title else 0
        # The strip: position 0 (the low end) at the bottom, or on the left when horizontal.
        positions = (np.arange(length) + 0.5) / length
        rgb = _table_colors(mapping.table, positions)
        if self.orientation == "vertical":
            half_text = round(self.font_size * 0.7)
            text_width = max((box[2] for box in boxes), default=0)
            width = max(pad + thickness + tick_length + 3 + text_width + pad, title_box[2] + 2 * pad)
            height = pad + title_height + half_text + length + half_text + pad
            left, top = pad, int(pad + title_height + half_text)
            strip = np.broadcast_to(rgb[::-1, None, :], (length, thickness, 3))
        else:
            half_label = max(((box[2] + 1) // 2 for box in boxes), default=0)
            text_height = max((box[3] for box in boxes), default=0)
            width = max(pad + half_label + length + half_label + pad, title_box[2] + 2 * pad)
            height = pad + title_height + thickness + tick_length + 2 + text_height + pad
            left, top = int(pad + half_label), int(pad + title_height)
            strip = np.broadcast_to(rgb[None, :, :], (thickness, length, 3))
        image = Image.new("RGBA", (int(width), int(height)), _BACKGROUND)
        draw = ImageDraw.Draw(image)
        ink = self._ink()
        if title:
            draw.text((pad, pad), title, font=font, fill=ink)
        image.paste(Image.fromarray(np.ascontiguousarray(strip)), (left, top))
        for label, box, t in zip(labels, boxes, where, strict=True):
            if not math.isfinite(t):
                continue
            if self.orientation == "vertical":
                x, y = left + thickness, top + (1.0 - t) * (length - 1)
                draw.line([(x, y), (x + tick_length, y)], fill=ink, width=1)
                draw.text((x + tick_length + 3, y - (box[1] + box[3]) / 2.0), label, font=font, fill=ink)
            else:
                x, y = left + t * (length - 1), top + thickness
                draw.line([(x, y), (x, y + tick_length)], fill=ink, width=1)
                draw.text((x - (box[0] + box[2]) / 2.0, y + tick_length + 2), label, font=font, fill=ink)
        return _premultiplied(image)


def _table_colors(table: npt.NDArray[np.float32], positions: np.ndarray) -> npt.NDArray[np.uint8]:
    """RGB 0..255 at positions 0..1 along a table (position 0 the first entry, 1 the last)."""
    x = np.clip(positions, 0.0, 1.0) * (len(table) - 1)
    rgb = np.stack([np.interp(x, np.arange(len(table)), table[:, k]) for k in range(3)], axis=-1)
    return np.round(rgb * 255.0).astype(np.uint8)


# ---------------------------------------------------------------------------- axes triad

AXIS_COLORS = ((230, 50, 50), (60, 200, 60), (70, 110, 255))
"""The triad's X, Y and Z: red, green, blue."""


class AxesTriad(Overlay):
    """The world's X, Y and Z axes in red, green and blue, turning with the camera, ``size``
    pixels square, in a corner (bottom-left by default)."""

    size = Field(90.0, _as_pixels, "Width and height in pixels.")

    def __init__(self, *, name: str = "", **fields: Any) -> None:
        fields.setdefault("corner", "bottom-left")
        super().__init__(name=name, **fields)

    def picture_key(self, view: OverlayView) -> Hashable:
        """The rotation, to a thousandth (a turn too small to move a line's end by a pixel)."""
        return self.version, tuple(np.round(np.asarray(view.rotation)[:3, :3], 3).ravel())

    def picture(self, view: OverlayView) -> OverlayPicture:
        """Three lines from the centre, labelled at their ends, the nearest drawn last."""
        scale = _SUPERSAMPLE
        side = round(self.size)
        big = side * scale
        image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        font = self._font(scale)
        centre = big / 2.0
        reach = big / 2.0 - self.font_size * scale * 1.1
        rotation = np.asarray(view.rotation)[:3, :3]
        ends = rotation  # column k: world axis k in camera coordinates (x right, y up, z towards us)
        order = np.argsort(ends[2, :])  # farthest (most negative z) first
        draw.ellipse([centre - 3 * scale, centre - 3 * scale, centre + 3 * scale, centre + 3 * scale],
                     fill=(200, 200, 200, 255))
        for axis in order:
            x, y = ends[0, axis], ends[1, axis]
            tip = (centre + x * reach, centre - y * reach)
            draw.line([(centre, centre), tip], fill=(*AXIS_COLORS[axis], 255), width=3 * scale)
            label = "XYZ"[axis]
            bbox = draw.textbbox((0, 0), label, font=font)
            lx = centre + x * (reach + self.font_size * scale * 0.6) - (bbox[0] + bbox[2]) / 2.0
            ly = centre - y * (reach + self.font_size * scale * 0.6) - (bbox[1] + bbox[3]) / 2.0
            draw.text((lx, ly), label, font=font, fill=(*AXIS_COLORS[axis], 255))
        small = image.resize((side, side), Image.Resampling.BOX)
        backed = Image.new("RGBA", (side, side), _BACKGROUND)
        backed.alpha_composite(small)
        return _premultiplied(backed)


# ---------------------------------------------------------------------------- scale bar


def round_length(most: float) -> float:
    """The largest 1, 2 or 5 times a power of ten that is at most ``most`` (> 0)."""
    magnitude = 10.0 ** math.floor(math.log10(most))
    return next(m * magnitude for m in (5.0, 2.0, 1.0) if m * magnitude <= most * (1 + 1e-9))


class ScaleBar(Overlay):
    """A bar of a round length in world units (1, 2 or 5 times a power of ten) at the camera's
    focal distance, at most ``length`` pixels long, labelled with ``units``; it changes as the
    camera zooms."""

    length = Field(150.0, _as_pixels, "The longest the bar may be, in pixels.")
    units = Field("", str, "Unit name after the length, such as 'mm'.")

    def __init__(self, *, name: str = "", **fields: Any) -> None:
        fields.setdefault("corner", "bottom-right")
        super().__init__(name=name, **fields)

    def measure(self, units_per_pixel: float) -> tuple[float, int]:
        """The bar's world length and its length in pixels for a pixel of ``units_per_pixel``."""
        world = round_length(self.length * units_per_pixel)
        return world, max(1, round(world / units_per_pixel))

    def picture_key(self, view: OverlayView) -> Hashable:
        """The bar's length in world units and pixels."""
        return self.version, self.measure(view.units_per_pixel)

    def picture(self, view: OverlayView) -> OverlayPicture:
        """The bar with end ticks, its length written above."""
        world, pixels = self.measure(view.units_per_pixel)
        label = f"{world:.6g} {self.units}".strip()
        font = self._font()
        measure = ImageDraw.Draw(Image.new("L", (1, 1)))
        text = measure.textbbox((0, 0), label, font=font)
        pad, tick = 6, 6
        width = max(pixels, text[2]) + 2 * pad
        height = pad + text[3] + 4 + tick + pad
        image = Image.new("RGBA", (int(width), int(height)), _BACKGROUND)
        draw = ImageDraw.Draw(image)
        ink = self._ink()
        left = (width - pixels) // 2
        draw.text(((width - text[2]) / 2.0, pad), label, font=font, fill=ink)
        y = height - pad - 1
        draw.rectangle([left, y - 2, left + pixels - 1, y], fill=ink)
        for x in (left, left + pixels - 1):
            draw.line([(x, y - tick), (x, y)], fill=ink, width=1)
        return _premultiplied(image)
