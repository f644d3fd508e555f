"""Textures: images from numpy arrays put on meshes, and an image plane that shows one.

A :class:`Texture2D` node makes its image the current texture for the meshes after it in its
separator (a mesh with texture coordinates shows it, multiplied by its colour); a mesh may also
hold a texture of its own (``Mesh.texture``, set by ``Mesh.from_file`` for textured files).
:class:`ImagePlane` is a flat rectangle showing an image, e.g. a photo or a 2-D slice.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from remoteviz.rendering.fields import Field, as_positive_float
from remoteviz.rendering.nodes import Node
from remoteviz.rendering.shapes import Geometry, Shape

if TYPE_CHECKING:
    from remoteviz.rendering.actions import Action


class TextureFilter(enum.Enum):
    """How a texture is sampled between texel centres."""

    NEAREST = "nearest"  # each texel a sharp square: pixel art, labels, exact data
    LINEAR = "linear"  # bilinear blending: photos


def as_image(value: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """An image as ``(H, W, 4)`` RGBA uint8, top row first.

    Accepts ``(H, W)`` grey, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA; integers are 0..255, floats
    0..1 (clipped).
    """
    image = np.asarray(value)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {image.shape}")
    if np.issubdtype(image.dtype, np.floating):
        if not np.isfinite(image).all():
            raise ValueError("image values must be finite")
        image = np.round(np.clip(image, 0.0, 1.0) * 255.0)
    elif not (np.issubdtype(image.dtype, np.integer) or image.dtype == np.bool_):
        raise TypeError(f"expected an integer or float image, got {image.dtype}")
    image = np.clip(image, 0, 255).astype(np.uint8)
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    if image.shape[2] == 3:
        image = np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return np.ascontiguousarray(image)


def _as_filter(value: TextureFilter | str) -> TextureFilter:
    return TextureFilter(value)


class Texture2D(Node):
    """An image that textures the meshes after it (those with texture coordinates).

    ``image`` is an ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` numpy array, top row first
    (integers 0..255 or floats 0..1); texture coordinate ``(0, 0)`` is its bottom-left corner and
    ``(1, 1)`` its top-right one. Coordinates outside 0..1 repeat the image. The image must fit
    the driver's largest texture (16384 pixels a side on Mesa).
    """

    image = Field(np.zeros((1, 1, 4), np.uint8) + 255, as_image, "RGBA uint8 pixels, (H, W, 4), top row first.")
    filter = Field(TextureFilter.LINEAR, _as_filter, "How texels are blended when magnified or shrunk.")

    def __init__(self, image: npt.ArrayLike | None = None, *, name: str = "", **fields: Any) -> None:
        super().__init__(name=name, **fields)
        if image is not None:
            self.image = image

    def traverse(self, action: Action) -> None:
        """Make this the current texture."""
        action.visit_texture(self)


class ImagePlane(Shape):
    """A flat rectangle in the xy plane, centred on the origin and facing +z, showing an image.

    ``width`` is its size along x; the height follows the image's aspect ratio (as given here)
    unless ``height`` is given. The image is drawn with the current material's lighting (use an emissive white
    material, or none, for its true colours: the plane is lit head-on by the headlight).
    """

    width = Field(1.0, as_positive_float, "Size along x.")

    def __init__(
        self,
        image: npt.ArrayLike,
        *,
        width: float = 1.0,
        height: float | None = None,
        filter: TextureFilter | str = TextureFilter.LINEAR,
        name: str = "",
    ) -> None:
        self.texture = Texture2D(image, filter=filter)
        rows, columns = self.texture.image.shape[:2]
        self._height = as_positive_float(height) if height is not None else as_positive_float(width) * rows / columns
        super().__init__(name=name, width=width)
        self.texture._add_parent(self)  # editing the image redraws the plane

    @property
    def height(self) -> float:
        """Size along y."""
        return self._height

    def _build_geometry(self) -> Geometry:
        half_w, half_h = self.width / 2.0, self.height / 2.0
        positions = np.array(
            [[-half_w, -half_h, 0.0], [half_w, -half_h, 0.0], [half_w, half_h, 0.0], [-half_w, half_h, 0.0]],
            np.float32,
        )
        return Geometry(
            positions,
            np.tile(np.array([0.0, 0.0, 1.0], np.float32), (4, 1)),
            np.array([[0, 1, 2], [0, 2, 3]], np.uint32),
            texcoords=np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], np.float32),
        )
