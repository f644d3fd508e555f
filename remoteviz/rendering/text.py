"""Text labels: screen-space text that stays upright, unscaled and on top, whatever the view.

Text is drawn into an image with Pillow, in DejaVu Sans when the system has it (Debian's
``fonts-dejavu-core``) and otherwise in Pillow's own built-in font, then shown at its pixel size
over the scene, either at the projection of a 3-D anchor point or at a fixed place on the screen.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from remoteviz.rendering.fields import Color, Field, as_color, as_float, as_positive_float
from remoteviz.rendering.math3d import BoundingBox, Matrix, as_vec3, transform_points
from remoteviz.rendering.shapes import Shape

if TYPE_CHECKING:
    from remoteviz.rendering.actions import ShapeInstance
    from remoteviz.rendering.camera import Viewport

FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # Debian, Ubuntu
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",  # Fedora
    "/usr/share/fonts/TTF/DejaVuSans.ttf",  # Arch
)
"""Where the label font is looked for, in order; Pillow's built-in font is the fallback."""

_MAX_TEXT = 1000  # characters: a label, not a document


@functools.lru_cache(maxsize=32)
def label_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The label font at ``size`` pixels: DejaVu Sans if installed, else Pillow's default font."""
    for path in FONT_PATHS:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _as_font_size(value: Any) -> float:
    size = as_positive_float(value)
    if size > 512.0:  # a label's image grows with the square of this
        raise ValueError(f"a label's font size is at most 512 pixels, got {value!r}")
    return size


def _as_text(value: Any) -> str:
    text = str(value)
    if len(text) > _MAX_TEXT:
        raise ValueError(f"a label holds at most {_MAX_TEXT} characters")
    return text


def _as_pixel_pair(value: Any) -> tuple[float, float]:
    x, y = (as_float(v) for v in value)
    return x, y


def _as_optional_pixels(value: Any) -> tuple[float, float] | None:
    return None if value is None else _as_pixel_pair(value)


def _as_optional_color(value: Any) -> Color | None:
    return None if value is None else as_color(value)


@dataclass(frozen=True, slots=True, eq=False)
class TextGeometry:
    """A rendered label: ``image`` ``(H, W, 4)`` uint8 premultiplied RGBA, top row first, and
    where it goes."""

    image: npt.NDArray[np.uint8]
    anchor: npt.NDArray[np.float64]
    offset: tuple[float, float]
    screen_position: tuple[float, float] | None

    @property
    def bounding_box(self) -> BoundingBox | None:
        """The anchor point, so that framing the scene keeps a 3-D label in view; None for a
        label fixed on the screen."""
        return None if self.screen_position is not None else BoundingBox.of_points(self.anchor[None])

    def corner_pixels(self, anchor_pixel: tuple[float, float] | None, height: int) -> tuple[float, float]:
        """The label's top-left corner in pixels from the viewport's top-left corner.

        ``anchor_pixel`` is where the anchor projects (ignored for a screen-fixed label).
        """
        if self.screen_position is not None:
            return self.screen_position
        assert anchor_pixel is not None
        # The offset moves the label's bottom-left corner from the anchor, up being positive.
        return anchor_pixel[0] + self.offset[0], anchor_pixel[1] - self.offset[1] - self.image.shape[0]


@dataclass(frozen=True, slots=True)
class TextLayout:
    """Where a label's text goes in its picture, as the server draws it (and the browser follows
    when it draws the label itself, in its own font)."""

    pixel_size: int
    """The font's size in pixels: the label's ``font_size`` rounded, at least 4."""
    size: tuple[int, int]
    """The picture's width and height: the text's extent and a padding around it."""
    text_origin: tuple[float, float]
    """Where the first line's top-left (left edge, ascender line) is drawn, from the picture's top-left."""
    baseline: float
    """The first line's baseline, in pixels from the picture's top."""
    line_height: float
    """Pixels from one line's baseline to the next's (Pillow's multiline spacing)."""


class Text2D(Shape):
    """A text label drawn at a fixed pixel size, facing the viewer and over everything else.

    With ``screen_position`` None (the default) the label's bottom-left corner sits at the screen
    projection of ``position`` (under the transforms before it), moved by ``offset`` pixels (x to
    the right, y up); otherwise its top-left corner is fixed at ``screen_position`` pixels from
    the render area's top-left corner. Clip planes hide a 3-D label whose anchor they cut away.
    ``background`` (None: none) fills a box behind the text so it reads on any picture. Picking
    finds the label under the pick position.
    """

    text = Field("", _as_text, "The text; newlines start new lines.")
    position = Field((0.0, 0.0, 0.0), as_vec3, "The 3-D anchor point.")
    offset = Field((4.0, 4.0), _as_pixel_pair, "Pixels from the anchor to the bottom-left corner.")
    screen_position = Field(None, _as_optional_pixels, "Top-left corner in pixels, or None to follow the anchor.")
    font_size = Field(16.0, _as_font_size, "Text height in pixels (up to 512).")
    color = Field((1.0, 1.0, 1.0), as_color, "Colour of the text.")
    background = Field((0.0, 0.0, 0.0), _as_optional_color, "Colour of the box behind the text, or None.")
    background_opacity = Field(0.6, lambda v: min(max(as_float(v), 0.0), 1.0), "Opacity of that box.")

    def __init__(self, text: str = "", *, name: str = "", **fields: Any) -> None:
        super().__init__(name=name, text=text, **fields)

    def _build_geometry(self) -> TextGeometry:
        layout = self.layout()
        font = label_font(layout.pixel_size)
        width, height = layout.size
        coverage = Image.new("L", (width, height))
        ImageDraw.Draw(coverage).multiline_text(layout.text_origin, self.text, font=font, fill=255)
        alpha_text = np.asarray(coverage, dtype=np.float32) / 255.0
        image = np.zeros((height, width, 4), np.float32)
        if self.background is not None:
            image[...] = (*(np.asarray(self.background) * self.background_opacity), self.background_opacity)
        # Text over the box, premultiplied: blending then needs no division.
        text_rgba = np.asarray([*self.color, 1.0], np.float32)
        image = image * (1.0 - alpha_text[..., None]) + text_rgba * alpha_text[..., None]
        return TextGeometry(
            np.round(image * 255.0).astype(np.uint8), np.asarray(self.position), self.offset, self.screen_position
        )

    def layout(self) -> TextLayout:
        """Where the text goes in the label's picture (its size, first baseline and line spacing)."""
        return _layout(self.text, self.font_size)


def _layout(text: str, font_size: float) -> TextLayout:
    size = max(int(round(font_size)), 4)
    font = label_font(size)
    padding = max(size // 5, 2)
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = measure.multiline_textbbox((0, 0), text or " ", font=font)
    width, height = int(right - left) + 2 * padding, int(bottom - top) + 2 * padding
    # Pillow draws a line from its ascender line ("la" anchor), its baseline the ascent below.
    ascent = font.getmetrics()[0] if isinstance(font, ImageFont.FreeTypeFont) else measure.textbbox((0, 0), "A", font=font)[3]
    line_height = measure.textbbox((0, 0), "A", font=font)[3] + 4  # Pillow's multiline spacing, 4 its default
    return TextLayout(size, (width, height), (padding - left, padding - top), padding - top + ascent, float(line_height))


def project(point_world: np.ndarray, view: Matrix, projection: Matrix, viewport: Viewport) -> tuple[float, float] | None:
    """Where a world point shows, in pixels from the top-left corner, or None behind the camera."""
    clip = projection @ np.append(view[:3, :3] @ point_world + view[:3, 3], 1.0)
    if clip[3] <= 0.0:
        return None
    ndc = clip[:3] / clip[3]
    return (ndc[0] + 1.0) / 2.0 * viewport.width, (1.0 - ndc[1]) / 2.0 * viewport.height


def label_corner(
    instance: ShapeInstance, view: Matrix, projection: Matrix, viewport: Viewport
) -> tuple[float, float] | None:
    """A label's top-left corner in pixels from the viewport's top-left, or None when hidden.

    The projection's near and far planes do not move a point across the screen, so the picker
    may pass any that hold the anchor.
    """
    geometry: TextGeometry = instance.shape.geometry
    if geometry.screen_position is not None:
        return geometry.corner_pixels(None, viewport.height)
    anchor = transform_points(instance.model, geometry.anchor[None])[0]
    if not instance.keeps(anchor[None])[0]:
        return None
    pixel = project(anchor, view, projection, viewport)
    return None if pixel is None else geometry.corner_pixels(pixel, viewport.height)
