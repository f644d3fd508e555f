"""Offscreen framebuffers: draw multisampled, resolve by blit, read back top-down RGB rows.

OpenGL's rows run bottom-up. Where the driver has ``GL_MESA_pack_invert`` (Mesa, llvmpipe
included) ``glReadPixels`` writes them top-down itself, so reading the pixels back is the only
copy; elsewhere numpy reverses them after the read. Readback goes straight into a fresh numpy
array: measured on Mesa llvmpipe at 1920x1080, ``glReadPixels`` into client memory took 1.7 ms against 2.9 ms through a
pixel buffer object mapped at once; a PBO pays off only when the mapping can wait for a later
frame, which would deliver every frame one frame late.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from OpenGL import GL

_PACK_INVERT_MESA = 0x8758  # GL_MESA_pack_invert: glReadPixels returns rows top to bottom


class Framebuffer:
    """A render target of a given size: a multisampled colour + depth buffer and a resolve buffer.

    ``samples`` per pixel is clamped to the driver's maximum; 0 gives single-sampled buffers.
    """

    def __init__(self, width: int, height: int, samples: int) -> None:
        self.requested_samples = samples
        self.samples = min(samples, int(GL.glGetIntegerv(GL.GL_MAX_SAMPLES)))
        self._draw_fbo, self._resolve_fbo = GL.glGenFramebuffers(2)
        self._color, self._depth, self._resolved = GL.glGenRenderbuffers(3)
        for renderbuffer in (self._color, self._depth, self._resolved):
            GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, renderbuffer)  # a name becomes an object when bound
        self._attach(self._draw_fbo, GL.GL_COLOR_ATTACHMENT0, self._color)
        self._attach(self._draw_fbo, GL.GL_DEPTH_ATTACHMENT, self._depth)
        self._attach(self._resolve_fbo, GL.GL_COLOR_ATTACHMENT0, self._resolved)
        # A copy of the background, drawn once per size and look, copied in at every clear.
        self._background_fbo = int(GL.glGenFramebuffers(1))
        self._background = int(GL.glGenRenderbuffers(1))
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, self._background)
        self._attach(self._background_fbo, GL.GL_COLOR_ATTACHMENT0, self._background)
        self._background_key: object = None
        self.flips_in_driver = _has_extension("GL_MESA_pack_invert")
        """Whether :meth:`read_pixels` has the driver write the rows top-down (else numpy flips
        them): True where the context offers ``GL_MESA_pack_invert``."""
        self.width = self.height = 0
        self.resize(width, height)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return self.width, self.height

    def resize(self, width: int, height: int) -> None:
        """Reallocate the buffers for a new size (nothing happens when the size is unchanged)."""
        if (width, height) == self.size:
            return
        if width <= 0 or height <= 0:
            raise ValueError(f"a framebuffer needs a positive size, got {width}x{height}")
        limit = int(GL.glGetIntegerv(GL.GL_MAX_RENDERBUFFER_SIZE))
        if width > limit or height > limit:
            raise ValueError(f"{width}x{height} exceeds the driver's largest buffer, {limit}x{limit}")
        for buffer, internal_format, samples in (
            (self._color, GL.GL_RGBA8, self.samples),
            (self._depth, GL.GL_DEPTH_COMPONENT24, self.samples),
            (self._resolved, GL.GL_RGBA8, 0),
            (self._background, GL.GL_RGBA8, self.samples),
        ):
            GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, buffer)
            GL.glRenderbufferStorageMultisample(GL.GL_RENDERBUFFER, samples, internal_format, width, height)
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, 0)
        self.width, self.height = width, height
        self._background_key = None
        for fbo in (self._draw_fbo, self._resolve_fbo, self._background_fbo):
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
            status = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER)
            if status != GL.GL_FRAMEBUFFER_COMPLETE:
                raise RuntimeError(f"framebuffer incomplete (status 0x{int(status):04x})")

    def bind(self) -> None:
        """Direct drawing into the multisampled buffer, covering all of it."""
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._draw_fbo)
        GL.glViewport(0, 0, self.width, self.height)

    def clear_to_background(self, key: object, draw: Callable[[], None]) -> None:
        """Bind, clear the depth, and fill the colour with a background: ``draw()`` draws it into
        a cached buffer the first time (and again when ``key``, which names its look, changes),
        and every clear copies that buffer in.

        On llvmpipe the copy (``glCopyImageSubData``, a memory copy) costs about a tenth of
        shading every pixel again; without the copy (GL before 4.3 and no ARB_copy_image),
        ``draw()`` runs at every clear.
        """
        if not bool(GL.glCopyImageSubData):
            self.bind()
            GL.glClear(GL.GL_DEPTH_BUFFER_BIT)
            draw()
            return
        if key != self._background_key:
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._background_fbo)
            GL.glViewport(0, 0, self.width, self.height)
            draw()
            self._background_key = key
        w, h = self.width, self.height
        GL.glCopyImageSubData(self._background, GL.GL_RENDERBUFFER, 0, 0, 0, 0,
                              self._color, GL.GL_RENDERBUFFER, 0, 0, 0, 0, w, h, 1)
        self.bind()
        GL.glClear(GL.GL_DEPTH_BUFFER_BIT)

    def copy_depth_to(self, fbo: int, width: int, height: int) -> None:
        """Copy the depth buffer (resolving samples, scaled to ``width`` x ``height``) into
        framebuffer ``fbo``."""
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self._draw_fbo)
        GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, fbo)
        w, h = self.width, self.height
        GL.glBlitFramebuffer(0, 0, w, h, 0, 0, width, height, GL.GL_DEPTH_BUFFER_BIT, GL.GL_NEAREST)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)

    def read_pixels(self) -> npt.NDArray[np.uint8]:
        """Resolve the samples and return the image as ``(height, width, 3)`` rows top to bottom.

        GL's rows run bottom to top: with :attr:`flips_in_driver` the driver writes them in
        reverse as it copies them out (on llvmpipe at 1280x636, 0.62 ms for the read against
        0.74 ms for a read and numpy's flip); otherwise numpy reverses them, which on llvmpipe is
        several times cheaper than a mirrored blit. Without multisampling the drawing buffer is
        read directly, with no resolve at all.
        """
        w, h = self.width, self.height
        if self.samples:
            GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self._draw_fbo)
            GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, self._resolve_fbo)
            GL.glBlitFramebuffer(0, 0, w, h, 0, 0, w, h, GL.GL_COLOR_BUFFER_BIT, GL.GL_NEAREST)
            GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self._resolve_fbo)
        else:
            GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self._draw_fbo)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        pixels = np.empty((h, w, 3), dtype=np.uint8)
        if self.flips_in_driver:
            GL.glPixelStorei(_PACK_INVERT_MESA, GL.GL_TRUE)
            try:
                GL.glReadPixels(0, 0, w, h, GL.GL_RGB, GL.GL_UNSIGNED_BYTE, pixels)
            finally:
                GL.glPixelStorei(_PACK_INVERT_MESA, GL.GL_FALSE)  # other reads (picking) expect GL's order
        else:
            GL.glReadPixels(0, 0, w, h, GL.GL_RGB, GL.GL_UNSIGNED_BYTE, pixels)
            pixels = np.ascontiguousarray(pixels[::-1])
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        return pixels

    def delete(self) -> None:
        """Free the GL objects; the context must be current."""
        GL.glDeleteFramebuffers(3, [self._draw_fbo, self._resolve_fbo, self._background_fbo])
        GL.glDeleteRenderbuffers(4, [self._color, self._depth, self._resolved, self._background])
        self.width = self.height = 0

    @staticmethod
    def _attach(fbo: int, attachment: int, renderbuffer: int) -> None:
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, attachment, GL.GL_RENDERBUFFER, renderbuffer)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)


def release_deleted() -> None:
    """Make the driver let go of the storage of framebuffers just deleted; the context must be current.

    Mesa keeps the framebuffer it last drew into and the buffer it last read from referenced in
    its state until the next draw validates new state, so the storage of a deleted framebuffer
    outlived it: on llvmpipe, 160 MB per GL context after a 3840x2160 area with 4x multisampling
    was disposed (issue 19). A clear of a 1x1 framebuffer, then a finish, takes new state.
    """
    fbo, renderbuffer = int(GL.glGenFramebuffers(1)), int(GL.glGenRenderbuffers(1))
    GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, renderbuffer)
    GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_RGBA8, 1, 1)
    GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, 0)
    Framebuffer._attach(fbo, GL.GL_COLOR_ATTACHMENT0, renderbuffer)
    GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
    GL.glViewport(0, 0, 1, 1)
    GL.glClear(GL.GL_COLOR_BUFFER_BIT)
    GL.glFinish()
    GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
    GL.glDeleteFramebuffers(1, [fbo])
    GL.glDeleteRenderbuffers(1, [renderbuffer])


def _has_extension(name: str) -> bool:
    """Whether the current context offers the OpenGL extension ``name``."""
    count = int(GL.glGetIntegerv(GL.GL_NUM_EXTENSIONS))
    return any(GL.glGetStringi(GL.GL_EXTENSIONS, i) == name.encode() for i in range(count))
