"""One renderer's GPU copy of an out-of-core volume: brick textures within the GPU budget.

Each brick is a 3-D texture of its own (GL 3.3 has no sparse textures, and one texture per brick
keeps each under ``GL_MAX_3D_TEXTURE_SIZE`` whatever the volume's size), drawn front to back as
:class:`~remoteviz.rendering.Volume`'s bricks are, by the same ray casting program. The coarsest
level's bricks are uploaded first and never dropped; others are uploaded from the host cache at
most about :data:`UPLOAD_BYTES_PER_FRAME` an interactive frame (one brick more;
:data:`STILL_UPLOAD_BYTES_PER_FRAME` a still), and the least recently drawn are dropped when the
budget is full.
"""

from __future__ import annotations

import collections

import numpy as np
from OpenGL import GL

from remoteviz.rendering.brick_pyramid import BrickKey
from remoteviz.rendering.brick_selection import BrickView, Selection, select_bricks
from remoteviz.rendering.gpu import GpuTexture, table_texture, volume_format
from remoteviz.rendering.out_of_core import OutOfCoreGeometry
from remoteviz.rendering.volume import VolumeMemoryError

UPLOAD_BYTES_PER_FRAME = 16 * 1024**2
"""Bytes of bricks an interactive frame uploads at most (64 bricks of 64^3 uint8), so a frame
that meets many new bricks stays short; the rest go up in the frames after."""

STILL_UPLOAD_BYTES_PER_FRAME = 128 * 1024**2
"""The same for a still frame, which is slower anyway and which the user waits on to sharpen."""

_CUT_SHARE = 0.8
"""The share of the GPU budget the wanted bricks may fill: the rest holds the coarser bricks drawn
in their place while they load."""


class GpuBricks:
    """Brick textures of one volume on one renderer, and its transfer function's table."""

    def __init__(self, geometry: OutOfCoreGeometry, max_size: int) -> None:
        if geometry.source.pyramid.brick > max_size:
            raise VolumeMemoryError(
                f"{geometry.label}: bricks of {geometry.source.pyramid.brick} voxels exceed this driver's 3-D texture "
                f"limit ({max_size}); convert the volume with smaller bricks (remoteviz convert --brick)"
            )
        self.source = geometry.source
        self.budget = geometry.gpu_budget
        self._format = volume_format(self.source.dtype)
        self.value_unit = self._format[2]
        self.textures: collections.OrderedDict[BrickKey, GpuTexture] = collections.OrderedDict()
        self.nbytes = 0
        self.transfer = geometry.transfer_function
        self.table = table_texture(self.transfer)
        pyramid = self.source.pyramid
        for key in pyramid.level_bricks(pyramid.coarsest):
            brick = self.source.cache.get(key)
            if brick is None or not self._upload(key, brick, set()):
                self.delete()
                raise VolumeMemoryError(
                    f"{geometry.label}: the coarsest level does not fit the {self.budget / 1e6:.1f} MB GPU budget"
                )

    @property
    def budget_bricks(self) -> int:
        """How many bricks the wanted cut may hold."""
        return max(1, int(self.budget * _CUT_SHARE) // self.source.brick_bytes)

    def has(self, key: BrickKey) -> bool:
        """Whether the brick is on the GPU."""
        return key in self.textures

    def prepare(
        self, geometry: OutOfCoreGeometry, view: BrickView, pixels_per_voxel: float, interactive: bool
    ) -> tuple[list[BrickKey], bool, bool]:
        """Choose this frame's bricks, upload what the host cache has of the missing ones, ask the
        loader for the rest. Returns the bricks to draw, whether nothing was missing, and whether
        loaded bricks still wait for an upload."""
        pyramid = self.source.pyramid

        def select() -> Selection:
            return select_bricks(pyramid, view, shown=geometry.shown, resident=self.has,
                                 budget_bricks=self.budget_bricks, pixels_per_voxel=pixels_per_voxel)

        selection = select()
        waiting = [key for key in sorted(selection.requests, key=selection.requests.__getitem__)
                   if key in self.source.cache]
        if waiting:
            protect = set(selection.drawn)
            budget = UPLOAD_BYTES_PER_FRAME if interactive else STILL_UPLOAD_BYTES_PER_FRAME
            for key in waiting:  # the first always goes, however big a brick is
                brick = self.source.cache.get(key)
                if brick is None:
                    continue
                if budget <= 0 or not self._upload(key, brick, protect):
                    break
                budget -= brick.nbytes
            selection = select()  # draw what just went up already
        self.source.loader.request(
            {key: priority for key, priority in selection.requests.items() if key not in self.source.cache}
        )
        for key in selection.drawn:
            self.textures.move_to_end(key)
        more = any(key in self.source.cache for key in selection.requests)
        return selection.drawn, selection.complete, more

    def _upload(self, key: BrickKey, brick: np.ndarray, protect: set[BrickKey]) -> bool:
        """Put a brick on the GPU, dropping least recently drawn ones (not in ``protect``, not of
        the coarsest level) to make room; False when there is none."""
        coarsest = self.source.pyramid.coarsest
        size = int(brick.nbytes)
        while self.nbytes + size > self.budget:
            victim = next((k for k in self.textures if k not in protect and k[0] != coarsest), None)
            if victim is None:
                return False
            texture = self.textures.pop(victim)
            self.nbytes -= texture.nbytes
            texture.delete()
        internal_format, pixel_type, _ = self._format
        self.textures[key] = GpuTexture(brick, internal_format, GL.GL_RED, pixel_type)
        self.nbytes += size
        return True

    def updated(self, geometry: OutOfCoreGeometry) -> GpuBricks:
        """This copy after a change of the volume's look: the same bricks, a new table if needed."""
        if geometry.transfer_function is not self.transfer:
            self.table.delete()
            self.transfer = geometry.transfer_function
            self.table = table_texture(self.transfer)
        self.budget = geometry.gpu_budget
        return self

    def delete(self) -> None:
        """Free the textures; safe to call twice."""
        for texture in self.textures.values():
            texture.delete()
        self.textures.clear()
        self.nbytes = 0
        self.table.delete()
