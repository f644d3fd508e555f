"""GPU copies of what shapes draw: vertex buffers, textures, volume bricks.

Each class here is made from one geometry (see ``shapes``, ``points``, ``lines``, ``slices``,
``volume``, ``text``) with the context current, and freed by :meth:`delete` on the rendering
thread; the renderer keeps them per shape and replaces them through :meth:`updated` when the
shape changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from OpenGL import GL

from remoteviz.rendering.lines import LineGeometry
from remoteviz.rendering.overlays import OverlayPicture
from remoteviz.rendering.points import PointGeometry
from remoteviz.rendering.shapes import Geometry
from remoteviz.rendering.slices import SliceGeometry
from remoteviz.rendering.text import TextGeometry
from remoteviz.rendering.texture import Texture2D, TextureFilter
from remoteviz.rendering.volume import (
    TABLE_SIZE,
    Brick,
    TransferFunction,
    Volume,
    VolumeGeometry,
    VolumeMemoryError,
    brick_layout,
)

# Attribute locations shared by the shaders.
POSITION, NORMAL, COLOR, TEXCOORD, SIZE, SCALAR = 0, 1, 2, 3, 4, 5

_VOLUME_FORMATS = {
    np.dtype(np.uint8): (GL.GL_R8, GL.GL_UNSIGNED_BYTE, 255.0),
    np.dtype(np.uint16): (GL.GL_R16, GL.GL_UNSIGNED_SHORT, 65535.0),
    np.dtype(np.float32): (GL.GL_R32F, GL.GL_FLOAT, 1.0),
}


def volume_format(dtype: np.dtype[Any]) -> tuple[int, int, float]:
    """A volume texture's GL internal format, pixel type, and the value a texel of 1.0 stands for,
    for uint8, uint16 or float32 voxels."""
    return _VOLUME_FORMATS[np.dtype(dtype)]


class _VertexArray:
    """A vertex array object with float attribute buffers and an optional index buffer."""

    def __init__(self, attributes: Sequence[tuple[int, np.ndarray | None]], indices: np.ndarray | None) -> None:
        self.vao = GL.glGenVertexArrays(1)
        GL.glBindVertexArray(self.vao)
        present = [(location, data) for location, data in attributes if data is not None]
        self.buffers = [int(b) for b in np.atleast_1d(GL.glGenBuffers(len(present) + (indices is not None)))]
        for (location, data), buffer in zip(present, self.buffers, strict=False):
            array = np.ascontiguousarray(data, np.float32)
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, buffer)
            GL.glBufferData(GL.GL_ARRAY_BUFFER, array.nbytes, array, GL.GL_STATIC_DRAW)
            GL.glEnableVertexAttribArray(location)
            components = 1 if array.ndim == 1 else array.shape[1]
            GL.glVertexAttribPointer(location, components, GL.GL_FLOAT, GL.GL_FALSE, 0, None)
        self.index_count = 0
        if indices is not None:
            flat = np.ascontiguousarray(indices, np.uint32)
            GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, self.buffers[-1])
            GL.glBufferData(GL.GL_ELEMENT_ARRAY_BUFFER, flat.nbytes, flat, GL.GL_STATIC_DRAW)
            self.index_count = flat.size
        GL.glBindVertexArray(0)
        self.locations = {location for location, _ in present}

    def draw_elements(self, mode: int) -> None:
        """Draw the indexed primitives."""
        GL.glBindVertexArray(self.vao)
        GL.glDrawElements(mode, self.index_count, GL.GL_UNSIGNED_INT, None)

    def draw_arrays(self, mode: int, count: int) -> None:
        """Draw ``count`` vertices in order."""
        GL.glBindVertexArray(self.vao)
        GL.glDrawArrays(mode, 0, count)

    def delete(self) -> None:
        """Free the buffers; safe to call twice."""
        if self.buffers:
            GL.glDeleteBuffers(len(self.buffers), self.buffers)
            GL.glDeleteVertexArrays(1, [self.vao])
            self.buffers = []


class _VertexResource:
    """What the classes drawing one vertex array share: replacing and freeing it."""

    vertices: _VertexArray

    def __init__(self, geometry: Any) -> None:
        raise NotImplementedError

    def updated(self, geometry: Any) -> Self:
        """The GPU copy of a changed geometry (this one freed)."""
        self.delete()
        return type(self)(geometry)

    def delete(self) -> None:
        """Free the buffers; safe to call twice."""
        self.vertices.delete()


class GpuTexture:
    """A 1-, 2- or 3-D texture of one or four channels."""

    def __init__(
        self,
        data: np.ndarray,
        internal_format: int,
        pixel_format: int,
        pixel_type: int,
        *,
        linear: bool = True,
        repeat: bool = False,
    ) -> None:
        self.target = {1: GL.GL_TEXTURE_1D, 2: GL.GL_TEXTURE_2D, 3: GL.GL_TEXTURE_3D}[
            data.ndim - (pixel_format == GL.GL_RGBA)
        ]
        self.handle = int(GL.glGenTextures(1))
        GL.glBindTexture(self.target, self.handle)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)  # rows of any width
        filtering = GL.GL_LINEAR if linear else GL.GL_NEAREST
        GL.glTexParameteri(self.target, GL.GL_TEXTURE_MIN_FILTER, filtering)
        GL.glTexParameteri(self.target, GL.GL_TEXTURE_MAG_FILTER, filtering)
        wrap = GL.GL_REPEAT if repeat else GL.GL_CLAMP_TO_EDGE
        for parameter in (GL.GL_TEXTURE_WRAP_S, GL.GL_TEXTURE_WRAP_T, GL.GL_TEXTURE_WRAP_R):
            GL.glTexParameteri(self.target, parameter, wrap)
        array = np.ascontiguousarray(data)
        if self.target == GL.GL_TEXTURE_1D:
            GL.glTexImage1D(self.target, 0, internal_format, array.shape[0], 0, pixel_format, pixel_type, array)
        elif self.target == GL.GL_TEXTURE_2D:
            height, width = array.shape[:2]
            GL.glTexImage2D(self.target, 0, internal_format, width, height, 0, pixel_format, pixel_type, array)
        else:
            depth, height, width = array.shape[:3]
            GL.glTexImage3D(
                self.target, 0, internal_format, width, height, depth, 0, pixel_format, pixel_type, array
            )
        GL.glBindTexture(self.target, 0)
        self.nbytes = int(array.nbytes)

    def bind(self, unit: int) -> None:
        """Bind to texture unit ``unit``."""
        GL.glActiveTexture(GL.GL_TEXTURE0 + unit)
        GL.glBindTexture(self.target, self.handle)

    def delete(self) -> None:
        """Free the texture; safe to call twice."""
        if self.handle:
            GL.glDeleteTextures(1, [self.handle])
            self.handle = 0


def rgba_texture(image: npt.NDArray[np.uint8], *, linear: bool, flip: bool = True, repeat: bool = False) -> GpuTexture:
    """An RGBA8 2-D texture from an ``(H, W, 4)`` image, top row first unless ``flip`` is False."""
    rows = image[::-1] if flip else image
    return GpuTexture(rows, GL.GL_RGBA8, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE, linear=linear, repeat=repeat)


def table_texture(transfer: TransferFunction) -> GpuTexture:
    """A 1-D RGBA texture from a transfer function's table."""
    return colormap_texture(transfer.table.reshape(TABLE_SIZE, 4))


def colormap_texture(table: npt.NDArray[np.float32]) -> GpuTexture:
    """A 1-D RGBA texture from an ``(N, 4)`` table of floats 0..1 (a colour map's)."""
    return GpuTexture(np.ascontiguousarray(table, np.float32), GL.GL_RGBA32F, GL.GL_RGBA, GL.GL_FLOAT)


class GpuTriangles(_VertexResource):
    """A shape's triangles in GPU buffers."""

    def __init__(self, geometry: Geometry) -> None:
        self.vertices = _VertexArray(
            [
                (POSITION, geometry.positions),
                (NORMAL, geometry.normals),
                (COLOR, geometry.colors),
                (TEXCOORD, geometry.texcoords),
                (SCALAR, geometry.scalars),
            ],
            geometry.indices,
        )
        self.has_colors = geometry.colors is not None
        self.has_texcoords = geometry.texcoords is not None
        self.has_scalars = geometry.scalars is not None
        self.nbytes = 0
        self.winding = 0
        """1 or -1 once the triangles are known to close a solid wound counter-clockwise or
        clockwise seen from outside (``level_of_detail.winding``), else 0."""

    @property
    def triangle_count(self) -> int:
        """How many triangles :meth:`draw` draws."""
        return self.vertices.index_count // 3

    def draw(self) -> None:
        """Draw the triangles with the current program."""
        self.vertices.draw_elements(GL.GL_TRIANGLES)



class GpuPoints(_VertexResource):
    """A point set's positions, colours and sizes."""

    def __init__(self, geometry: PointGeometry) -> None:
        self.vertices = _VertexArray(
            [
                (POSITION, geometry.positions),
                (COLOR, geometry.colors),
                (SIZE, geometry.sizes),
                (SCALAR, geometry.scalars),
            ],
            None,
        )
        self.count = len(geometry.positions)
        self.has_colors = geometry.colors is not None
        self.has_scalars = geometry.scalars is not None
        self.nbytes = 0

    def draw(self) -> None:
        """Draw the points."""
        self.vertices.draw_arrays(GL.GL_POINTS, self.count)



class GpuLines(_VertexResource):
    """A line set's vertices and segment index pairs."""

    def __init__(self, geometry: LineGeometry) -> None:
        self.vertices = _VertexArray(
            [(POSITION, geometry.positions), (COLOR, geometry.colors), (SCALAR, geometry.scalars)], geometry.segments
        )
        self.has_colors = geometry.colors is not None
        self.has_scalars = geometry.scalars is not None
        self.nbytes = 0

    def draw(self) -> None:
        """Draw the segments."""
        self.vertices.draw_elements(GL.GL_LINES)



class GpuSlice:
    """A slice's rectangle, its values as a float texture and its colour map's table."""

    def __init__(self, geometry: SliceGeometry) -> None:
        self.triangles = GpuTriangles(geometry.triangles)
        self.values = GpuTexture(
            geometry.values, GL.GL_R32F, GL.GL_RED, GL.GL_FLOAT, linear=not geometry.nearest
        )
        self._table: npt.NDArray[np.float32] | None = None
        self.colormap = GpuTexture(np.zeros((TABLE_SIZE, 4), np.float32), GL.GL_RGBA32F, GL.GL_RGBA, GL.GL_FLOAT)
        self.nbytes = self.values.nbytes

    def use_table(self, table: npt.NDArray[np.float32]) -> None:
        """Hold ``table`` (a read-only colour table) in the colour map texture, uploading it only
        when it is another table than last time."""
        if table is not self._table:
            self.colormap.delete()
            self.colormap = colormap_texture(table)
            self._table = table

    def updated(self, geometry: SliceGeometry) -> GpuSlice:
        """The GPU copy of a changed geometry (this one freed)."""
        self.delete()
        return GpuSlice(geometry)

    def delete(self) -> None:
        """Free the buffers and textures; safe to call twice."""
        self.triangles.delete()
        self.values.delete()
        self.colormap.delete()


class GpuImage:
    """A 2-D RGBA texture made from a :class:`Texture2D` node, a label's image or an overlay's
    picture."""

    def __init__(self, source: Texture2D | TextGeometry | OverlayPicture) -> None:
        if isinstance(source, Texture2D):
            self.texture = rgba_texture(source.image, linear=source.filter is TextureFilter.LINEAR, repeat=True)
        else:
            self.texture = rgba_texture(source.image, linear=False)
            self.size = (source.image.shape[1], source.image.shape[0])
        self.nbytes = self.texture.nbytes

    def updated(self, source: Texture2D | TextGeometry | OverlayPicture) -> GpuImage:
        """The GPU copy of a changed image (this one freed)."""
        self.delete()
        return GpuImage(source)

    def delete(self) -> None:
        """Free the texture; safe to call twice."""
        self.texture.delete()


class GpuVolume:
    """A volume's bricks as 3-D textures, and its transfer function as a 1-D texture.

    A change that keeps the same array (a new transfer function, mode, sampling) keeps the
    bricks; only a new array, or :meth:`Volume.data_changed`, uploads the voxels again.
    """

    def __init__(self, geometry: VolumeGeometry, max_size: int, available_bytes: int) -> None:
        data = geometry.data
        internal_format, pixel_type, self.value_unit = _VOLUME_FORMATS[data.dtype]
        brick_side = min(max_size, geometry.brick_size or max_size)
        self.layout: list[Brick] = brick_layout(data.shape[::-1], brick_side)
        needed = sum(
            int(np.prod(np.subtract(b.hi, b.lo))) * data.dtype.itemsize for b in self.layout
        )
        if needed > available_bytes:
            raise VolumeMemoryError(
                f"{geometry.label} needs {needed / 1e6:.1f} MB of GPU memory but only "
                f"{max(available_bytes, 0) / 1e6:.1f} MB of Volume.memory_budget "
                f"({Volume.memory_budget / 1e6:.1f} MB) is left; raise the budget, downsample the "
                "volume or show part of it"
            )
        self.bricks: list[GpuTexture] = []
        self.value_ranges: list[tuple[float, float]] = []  # per brick: what its samples can be
        try:
            for brick in self.layout:
                (x0, y0, z0), (x1, y1, z1) = brick.lo, brick.hi
                block = data[z0:z1, y0:y1, x0:x1]
                self.bricks.append(GpuTexture(block, internal_format, GL.GL_RED, pixel_type))
                if len(self.layout) > 1:
                    self.value_ranges.append((float(block.min()), float(block.max())))
        except Exception:
            self.delete()
            raise
        self.nbytes = needed
        self.data = data
        self.data_generation = geometry.data_generation
        self.transfer = geometry.transfer_function
        self.table = table_texture(self.transfer)
        self.max_size = max_size

    def updated(self, geometry: VolumeGeometry, available_bytes: int) -> GpuVolume:
        """This volume's GPU copy after a change: the same bricks if the voxels are the same."""
        same_bricks = brick_layout(geometry.data.shape[::-1], min(self.max_size, geometry.brick_size or self.max_size))
        if (
            geometry.data is self.data
            and geometry.data_generation == self.data_generation
            and same_bricks == self.layout
        ):
            if geometry.transfer_function is not self.transfer:
                self.table.delete()
                self.transfer = geometry.transfer_function
                self.table = table_texture(self.transfer)
            return self
        freed = self.nbytes
        self.delete()
        return GpuVolume(geometry, self.max_size, available_bytes + freed)

    def delete(self) -> None:
        """Free the textures; safe to call twice."""
        for brick in self.bricks:
            brick.delete()
        self.bricks = []
        table = getattr(self, "table", None)
        if table is not None:
            table.delete()
        self.nbytes = 0
