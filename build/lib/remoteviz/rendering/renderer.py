"""The renderer: draws a gathered scene into a framebuffer with OpenGL 3.3 core.

One renderer per process owns the GL context, the shader programs and the GPU copies of shapes'
geometry, shared by every render area (each has its own framebuffer). GPU buffers are made when a
shape is first drawn, remade when it changes, and freed on the rendering thread after the shape
is garbage-collected.
"""

from __future__ import annotations

import collections
import contextlib
import weakref
from dataclasses import dataclass
from typing import ClassVar, Iterator

import numpy as np
from OpenGL import GL

from remoteviz.rendering.actions import Frame, LightInstance, ShapeInstance
from remoteviz.rendering.camera import OrthographicCamera, Viewport
from remoteviz.rendering.context import GLContext, create_context
from remoteviz.rendering.framebuffer import Framebuffer
from remoteviz.rendering.math3d import Matrix, transform_points
from remoteviz.rendering.nodes import GradientBackground
from remoteviz.rendering.shaders import (
    BACKGROUND_FRAGMENT,
    BACKGROUND_VERTEX,
    MAX_LIGHTS,
    SURFACE_FRAGMENT,
    SURFACE_VERTEX,
    ShaderProgram,
)
from remoteviz.rendering.shapes import Geometry, Shape

_POSITION, _NORMAL, _COLOR = 0, 1, 2  # attribute locations in SURFACE_VERTEX


class _GpuGeometry:
    """A shape's geometry in GPU buffers, bound together by a vertex array object."""

    def __init__(self, geometry: Geometry) -> None:
        self.vao = GL.glGenVertexArrays(1)
        GL.glBindVertexArray(self.vao)
        arrays = [(_POSITION, geometry.positions), (_NORMAL, geometry.normals)]
        if geometry.colors is not None:
            arrays.append((_COLOR, geometry.colors))
        self.buffers = list(GL.glGenBuffers(len(arrays) + 1))
        for (location, data), buffer in zip(arrays, self.buffers, strict=False):
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, buffer)
            GL.glBufferData(
                GL.GL_ARRAY_BUFFER, data.nbytes, np.ascontiguousarray(data, np.float32), GL.GL_STATIC_DRAW
            )
            GL.glEnableVertexAttribArray(location)
            GL.glVertexAttribPointer(location, data.shape[1], GL.GL_FLOAT, GL.GL_FALSE, 0, None)
        indices = np.ascontiguousarray(geometry.indices, np.uint32)
        GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, self.buffers[-1])
        GL.glBufferData(GL.GL_ELEMENT_ARRAY_BUFFER, indices.nbytes, indices, GL.GL_STATIC_DRAW)
        GL.glBindVertexArray(0)
        self.index_count = indices.size
        self.has_colors = geometry.colors is not None

    def draw(self) -> None:
        """Draw the triangles with the current program."""
        GL.glBindVertexArray(self.vao)
        GL.glDrawElements(GL.GL_TRIANGLES, self.index_count, GL.GL_UNSIGNED_INT, None)

    def delete(self) -> None:
        """Free the buffers; safe to call twice."""
        if self.buffers:
            GL.glDeleteBuffers(len(self.buffers), self.buffers)
            GL.glDeleteVertexArrays(1, [self.vao])
            self.buffers = []


@dataclass(slots=True)
class _CacheEntry:
    """The GPU copy of one shape, and the shape version it was made from."""

    version: int
    gpu: _GpuGeometry


class Renderer:
    """Draws frames; use :meth:`shared` for the process-wide instance."""

    _shared: ClassVar[Renderer | None] = None

    def __init__(self, context: GLContext) -> None:
        self.context = context
        self._surface = ShaderProgram(SURFACE_VERTEX, SURFACE_FRAGMENT)
        self._background = ShaderProgram(BACKGROUND_VERTEX, BACKGROUND_FRAGMENT)
        self._empty_vao = GL.glGenVertexArrays(1)  # core profile draws need a bound VAO
        self._cache: weakref.WeakKeyDictionary[Shape, _CacheEntry] = weakref.WeakKeyDictionary()
        # Filled by garbage collection (on any thread), emptied on the rendering thread.
        self._released: collections.deque[_CacheEntry] = collections.deque()

    @classmethod
    def shared(cls) -> Renderer:
        """The process's renderer, created with its context on first use."""
        if cls._shared is None:
            cls._shared = cls(create_context())
        return cls._shared

    @contextlib.contextmanager
    def bound(self) -> Iterator[None]:
        """The context current on this thread for the block, then released.

        Released after every use, because the service's dispatch thread may change (a service
        closed and opened again, an asyncio loop on another thread) and a context still bound to a
        thread that has gone cannot be made current elsewhere. Buffers of shapes that were
        garbage-collected are freed here, where the context is current.
        """
        self.context.make_current()
        try:
            while self._released:
                self._released.popleft().gpu.delete()
            yield
        finally:
            self.context.release()

    def draw(self, frame: Frame, framebuffer: Framebuffer) -> None:
        """Draw ``frame`` into ``framebuffer``; the context must be current."""
        framebuffer.bind()
        GL.glDepthMask(GL.GL_TRUE)
        GL.glClearColor(0.0, 0.0, 0.0, 1.0)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
        if frame.background is not None:
            self._draw_background(frame.background)
        if frame.shapes:
            self._draw_shapes(frame, Viewport(framebuffer.width, framebuffer.height))
        GL.glBindVertexArray(0)
        GL.glUseProgram(0)
        GL.glDisable(GL.GL_CULL_FACE)

    def _draw_background(self, background: GradientBackground) -> None:
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDisable(GL.GL_BLEND)
        self._background.use()
        self._background.set_vec3("u_top", background.top_color)
        self._background.set_vec3("u_bottom", background.bottom_color)
        GL.glBindVertexArray(self._empty_vao)
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)

    def _draw_shapes(self, frame: Frame, viewport: Viewport) -> None:
        view = np.linalg.inv(frame.camera_model @ frame.camera.matrix)
        boxes = [(instance, instance.world_bounding_box) for instance in frame.shapes]
        visible = [(instance, box) for instance, box in boxes if box is not None]
        if not visible:
            return
        # Clipping planes fitted to the scene's depth range keep the depth buffer's precision.
        corners_view = transform_points(view, np.concatenate([box.corners for _, box in visible]))
        near, far = frame.camera.clipping_range(-corners_view[:, 2])
        program = self._surface
        program.use()
        program.set_matrix("u_projection", frame.camera.projection_matrix(viewport.aspect, near, far))
        program.set_int("u_orthographic", isinstance(frame.camera, OrthographicCamera))
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthFunc(GL.GL_LESS)

        opaque = [(i, b) for i, b in visible if i.material.transparency == 0.0]
        GL.glDisable(GL.GL_BLEND)
        for instance, _ in opaque:
            self._draw_shape(instance, view, frame.global_lights)

        # Transparent shapes last, farthest first, blended over what is behind them.
        transparent = [(i, b) for i, b in visible if i.material.transparency > 0.0]
        transparent.sort(key=lambda item: float(transform_points(view, item[1].center[None])[0, 2]))
        GL.glEnable(GL.GL_BLEND)
        GL.glBlendFunc(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)
        GL.glDepthMask(GL.GL_FALSE)
        for instance, _ in transparent:
            self._draw_shape(instance, view, frame.global_lights)
        GL.glDepthMask(GL.GL_TRUE)
        GL.glDisable(GL.GL_BLEND)

    def _draw_shape(
        self, instance: ShapeInstance, view: Matrix, global_lights: tuple[LightInstance, ...]
    ) -> None:
        program, material = self._surface, instance.material
        model_view = view @ instance.model
        program.set_matrix("u_model_view", model_view)
        program.set_matrix("u_normal_matrix", np.linalg.inv(model_view[:3, :3]).T)
        program.set_vec3("u_ambient", material.ambient_color)
        program.set_vec3("u_specular", material.specular_color)
        program.set_vec3("u_emissive", material.emissive_color)
        program.set_float("u_shininess", material.shininess)
        program.set_float("u_opacity", 1.0 - material.transparency)
        lights = (global_lights + instance.lights)[:MAX_LIGHTS]
        program.set_int("u_light_count", len(lights))
        if lights:
            directions = [view[:3, :3] @ light.world_direction for light in lights]
            program.set_vec3("u_light_directions", [d / np.linalg.norm(d) for d in directions])
            program.set_vec3(
                "u_light_colors", [np.asarray(li.light.color) * li.light.intensity for li in lights]
            )
        if instance.shape.closed and material.transparency == 0.0:
            GL.glEnable(GL.GL_CULL_FACE)
            # A mirroring transform turns the winding around, and with it which faces are front.
            GL.glFrontFace(GL.GL_CW if np.linalg.det(model_view[:3, :3]) < 0 else GL.GL_CCW)
        else:
            GL.glDisable(GL.GL_CULL_FACE)
        gpu = self._gpu_geometry(instance.shape)
        if not gpu.has_colors:
            # Without a colour array the attribute reads this constant: the diffuse colour.
            GL.glVertexAttrib4f(_COLOR, *material.diffuse_color, 1.0)
        gpu.draw()

    def _gpu_geometry(self, shape: Shape) -> _GpuGeometry:
        entry = self._cache.get(shape)
        if entry is None:
            entry = _CacheEntry(shape.version, _GpuGeometry(shape.geometry))
            self._cache[shape] = entry
            weakref.finalize(shape, self._released.append, entry)
        elif entry.version != shape.version:
            entry.gpu.delete()
            entry.gpu, entry.version = _GpuGeometry(shape.geometry), shape.version
        return entry.gpu
