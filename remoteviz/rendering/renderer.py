"""The renderer: draws a gathered scene into a framebuffer with OpenGL 3.3 core.

A renderer owns a GL context, the shader programs and the GPU copies of what shapes draw
(buffers, textures, volume bricks), shared by every render area it draws (each has its own
framebuffer). The process has one renderer per render thread (:meth:`Renderer.shared` with the
thread's index), each with a context of its own: contexts share no objects, so a scene drawn by
two of them is uploaded to each. GPU copies are made when a shape is first drawn, updated when it changes, and freed
on the rendering thread after the shape is garbage-collected.

A frame is drawn in this order: the background; opaque triangles, slices, points and lines with
depth testing; transparent triangles, farthest first; volumes, ray cast brick by brick front to
back into a layer of their own that is then laid over the picture (out-of-core volumes there too,
with the bricks of the resolution each part of the picture needs); text labels on top; then the
overlays (colour bars, axes triads, scale bars) over everything.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import threading
import weakref
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from OpenGL import GL

from remoteviz.rendering.actions import DisplayStyle, Frame, LightInstance, ShapeInstance
from remoteviz.rendering.brick_selection import BrickView
from remoteviz.rendering.camera import OrthographicCamera, Viewport
from remoteviz.rendering.colormaps import ColorMapping
from remoteviz.rendering.context import GLContext, create_context
from remoteviz.rendering.framebuffer import Framebuffer
from remoteviz.rendering.gpu import (
    COLOR,
    GpuImage,
    GpuLines,
    GpuPoints,
    GpuSlice,
    GpuTexture,
    GpuTriangles,
    GpuVolume,
    colormap_texture,
)
from remoteviz.rendering.gpu_bricks import GpuBricks
from remoteviz.rendering.level_of_detail import Decimator, LevelOfDetail, wants_lod
from remoteviz.rendering.lines import LineGeometry, LineSet
from remoteviz.rendering.math3d import BoundingBox, Matrix, transform_points
from remoteviz.rendering.nodes import GradientBackground, Node
from remoteviz.rendering.out_of_core import DrawnBricks, OutOfCoreGeometry, OutOfCoreVolume
from remoteviz.rendering.overlays import Overlay, OverlayGeometry, OverlayView
from remoteviz.rendering.points import PointGeometry
from remoteviz.rendering.scalars import ScalarShape
from remoteviz.rendering.shaders import (
    BACKGROUND_FRAGMENT,
    BACKGROUND_VERTEX,
    COMPOSITE_FRAGMENT,
    LINE_FRAGMENT,
    LINE_GEOMETRY,
    LINE_VERTEX,
    MAX_LIGHTS,
    OVERLAY_FRAGMENT,
    OVERLAY_VERTEX,
    POINT_FRAGMENT,
    POINT_VERTEX,
    SLICE_FRAGMENT,
    SURFACE_FRAGMENT,
    SURFACE_VERTEX,
    VOLUME_FRAGMENT,
    VOLUME_VERTEX,
    ShaderProgram,
)
from remoteviz.rendering.shapes import Geometry, Shape
from remoteviz.rendering.slices import ObliqueSlice, OrthoSlice, SliceGeometry
from remoteviz.rendering.text import TextGeometry, label_corner
from remoteviz.rendering.texture import Texture2D
from remoteviz.rendering.volume import Volume, VolumeGeometry, VolumeMode

INTERACTIVE_VOLUME_SCALE = 0.5
"""Interactive frames ray cast volumes at this fraction of the frame's width and height (a
quarter of the rays) and stretch the result; still frames cast one ray per pixel."""

_LINE_DEPTH_BIAS = 2e-4  # NDC depth that lets a line win against the surface it lies on
EDGE_COLOR = (0.08, 0.08, 0.1)
"""The colour of triangle edges in ``DisplayStyle.SURFACE_WITH_EDGES``."""
HIGHLIGHT_COLOR = (1.0, 0.75, 0.0)
"""The colour the highlighted node's triangle edges are drawn in (``SceneManager.highlighted``)."""
_UNIT_CUBE = np.array([(x, y, z) for x in (0, 1) for y in (0, 1) for z in (0, 1)], np.float32)
_CUBE_TRIANGLES = np.array(
    [
        [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5],  # x = 0, x = 1
        [0, 4, 5], [0, 5, 1], [2, 3, 7], [2, 7, 6],  # y = 0, y = 1
        [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3],  # z = 0, z = 1
    ],
    np.uint32,
)
_VOLUME_MODES = {VolumeMode.COMPOSITE: 0, VolumeMode.MIP: 1, VolumeMode.ISOSURFACE: 2}


@dataclass(slots=True)
class _CacheEntry:
    """The GPU copy of one node, and the node version it was made from; for a big mesh, also
    its decimated copy for interactive frames (being made, then on the GPU)."""

    version: int
    gpu: Any
    lod: concurrent.futures.Future[LevelOfDetail] | None = None
    lod_gpu: GpuTriangles | None = None

    def drop_lod(self) -> None:
        """Forget the decimated copy (the mesh changed); the context must be current."""
        if self.lod is not None:
            self.lod.cancel()
        if self.lod_gpu is not None:
            self.lod_gpu.delete()
        self.lod = self.lod_gpu = None

    def delete(self) -> None:
        """Free the GPU copies; the context must be current."""
        self.drop_lod()
        self.gpu.delete()


@dataclass(slots=True)
class _OverlayImage:
    """An overlay's picture on the GPU and the key it was drawn for."""

    key: Hashable
    image: GpuImage

    def delete(self) -> None:
        """Free the texture; the context must be current."""
        self.image.delete()


class _Layer:
    """Single-sampled textures the size of the frame: a float colour layer the volumes are drawn
    into, and a copy of the scene's depth that stops their rays at opaque surfaces."""

    def __init__(self) -> None:
        self.fbo, self.depth_fbo = (int(f) for f in GL.glGenFramebuffers(2))
        self.texture, self.depth = (int(t) for t in GL.glGenTextures(2))
        self.size = (0, 0)
        # A multisampled depth buffer cannot be resolved and scaled in one blit: it is resolved
        # at full size here first (made on first need).
        self._resolved: tuple[int, int, tuple[int, int]] | None = None

    def bind(self, framebuffer: Framebuffer, scale: float) -> None:
        """Copy ``framebuffer``'s depth, then draw into the layer, ``scale`` times the
        framebuffer's size, cleared to transparent."""
        width = max(1, round(framebuffer.width * scale))
        height = max(1, round(framebuffer.height * scale))
        if self.size != (width, height):
            self._allocate(width, height)
        if framebuffer.samples and (width, height) != framebuffer.size:
            resolved = self._resolved_depth(framebuffer.size)
            framebuffer.copy_depth_to(resolved, *framebuffer.size)
            GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, resolved)
            GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, self.depth_fbo)
            GL.glBlitFramebuffer(0, 0, *framebuffer.size, 0, 0, width, height, GL.GL_DEPTH_BUFFER_BIT, GL.GL_NEAREST)
        else:
            framebuffer.copy_depth_to(self.depth_fbo, width, height)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.fbo)
        GL.glViewport(0, 0, width, height)
        GL.glClearColor(0.0, 0.0, 0.0, 0.0)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT)

    def _resolved_depth(self, size: tuple[int, int]) -> int:
        """A single-sampled depth framebuffer of ``size``, kept until the size changes."""
        if self._resolved is None or self._resolved[2] != size:
            if self._resolved is not None:
                GL.glDeleteFramebuffers(1, [self._resolved[0]])
                GL.glDeleteTextures(1, [self._resolved[1]])
            fbo, texture = int(GL.glGenFramebuffers(1)), int(GL.glGenTextures(1))
            GL.glBindTexture(GL.GL_TEXTURE_2D, texture)
            GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_DEPTH_COMPONENT24, *size, 0, GL.GL_DEPTH_COMPONENT,
                            GL.GL_FLOAT, None)
            GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
            GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, GL.GL_TEXTURE_2D, texture, 0)
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
            self._resolved = (fbo, texture, size)
        return self._resolved[0]

    def _allocate(self, width: int, height: int) -> None:
        for texture, fbo, internal, pixel_format, pixel_type, attachment in (
            (self.texture, self.fbo, GL.GL_RGBA16F, GL.GL_RGBA, GL.GL_FLOAT, GL.GL_COLOR_ATTACHMENT0),
            (self.depth, self.depth_fbo, GL.GL_DEPTH_COMPONENT24, GL.GL_DEPTH_COMPONENT, GL.GL_FLOAT, GL.GL_DEPTH_ATTACHMENT),
        ):
            GL.glBindTexture(GL.GL_TEXTURE_2D, texture)
            GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, internal, width, height, 0, pixel_format, pixel_type, None)
            # The colour layer is stretched over the frame when drawn smaller: blend its texels.
            filtering = GL.GL_LINEAR if texture == self.texture else GL.GL_NEAREST
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, filtering)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, filtering)
            for wrap in (GL.GL_TEXTURE_WRAP_S, GL.GL_TEXTURE_WRAP_T):
                GL.glTexParameteri(GL.GL_TEXTURE_2D, wrap, GL.GL_CLAMP_TO_EDGE)
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
            GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, attachment, GL.GL_TEXTURE_2D, texture, 0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        self.size = (width, height)


class Renderer:
    """Draws frames; use :meth:`shared` for the process-wide instances."""

    _shared: ClassVar[dict[int, Renderer]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, context: GLContext) -> None:
        self.context = context
        # A context is current on one thread at a time: whoever binds it holds this meanwhile.
        self._lock = threading.RLock()
        self._surface = ShaderProgram(SURFACE_VERTEX, SURFACE_FRAGMENT)
        self._background = ShaderProgram(BACKGROUND_VERTEX, BACKGROUND_FRAGMENT)
        self._points = ShaderProgram(POINT_VERTEX, POINT_FRAGMENT)
        self._lines = ShaderProgram(LINE_VERTEX, LINE_FRAGMENT, LINE_GEOMETRY)
        self._slice = ShaderProgram(SURFACE_VERTEX, SLICE_FRAGMENT)
        self._volume = ShaderProgram(VOLUME_VERTEX, VOLUME_FRAGMENT)
        self._overlay = ShaderProgram(OVERLAY_VERTEX, OVERLAY_FRAGMENT)
        self._composite = ShaderProgram(BACKGROUND_VERTEX, COMPOSITE_FRAGMENT)
        self._empty_vao = GL.glGenVertexArrays(1)  # core profile draws need a bound VAO
        self._cube = GpuTriangles(Geometry(_UNIT_CUBE, _UNIT_CUBE, _CUBE_TRIANGLES))
        self._layer = _Layer()
        self.max_3d_texture_size = int(GL.glGetIntegerv(GL.GL_MAX_3D_TEXTURE_SIZE))
        self.bricks_drawn = 0
        """Volume bricks ray cast in the last frame (empty ones are skipped): for diagnostics."""
        self.triangles_drawn = 0
        """Triangles of meshes and shapes drawn in the last frame (decimated copies counted as
        drawn): for diagnostics."""
        self.triangles_culled = 0
        """Of :attr:`triangles_drawn`, those drawn with their hidden faces culled: for diagnostics."""
        self._decimator = Decimator()
        self._cache: weakref.WeakKeyDictionary[Node, _CacheEntry] = weakref.WeakKeyDictionary()
        # Named colour maps' tables as 1-D textures: a few dozen at most, kept for the context's life.
        self._colormaps: dict[str, GpuTexture] = {}
        # Filled by garbage collection (on any thread), emptied on the rendering thread.
        self._released: collections.deque[_CacheEntry] = collections.deque()

    @classmethod
    def shared(cls, index: int = 0) -> Renderer:
        """The process's renderer number ``index`` (one per render thread), created with its own
        context on first use; 0 is the one of direct ``SceneManager.render`` calls."""
        with cls._shared_lock:
            renderer = cls._shared.get(index)
            if renderer is None:
                context = create_context()
                try:
                    renderer = cls._shared[index] = cls(context)
                finally:
                    context.release()  # made current by its creation: bound() binds it where it is used
            return renderer

    @contextlib.contextmanager
    def bound(self) -> Iterator[None]:
        """The context current on this thread for the block, then released.

        Released after every use, because the thread that renders may change (a service closed
        and opened again, an asyncio loop on another thread, a render thread and the dispatch
        thread taking turns) and a context still bound to one thread cannot be made current on
        another; a thread that binds it while another has it bound waits. GPU copies of nodes
        that were garbage-collected are freed here, where the context is current.
        """
        with self._lock:
            self.context.make_current()
            try:
                while self._released:
                    self._released.popleft().delete()
                yield
            finally:
                self.context.release()

    @property
    def volume_bytes(self) -> int:
        """GPU bytes the volumes drawn so far hold (counted against ``Volume.memory_budget``)."""
        return sum(entry.gpu.nbytes for entry in list(self._cache.values()) if isinstance(entry.gpu, GpuVolume))

    def draw(self, frame: Frame, framebuffer: Framebuffer) -> None:
        """Draw ``frame`` into ``framebuffer``; the context must be current."""
        GL.glDepthMask(GL.GL_TRUE)
        self.triangles_drawn = self.triangles_culled = 0
        background = frame.background
        if background is None:
            framebuffer.bind()
            GL.glClearColor(0.0, 0.0, 0.0, 1.0)
            GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
        else:
            look = (tuple(background.top_color), tuple(background.bottom_color))
            framebuffer.clear_to_background(look, lambda: self._draw_background(background))
        try:
            if frame.shapes:
                self._draw_scene(frame, framebuffer)
        finally:
            # Back to the defaults every draw assumes, even after a failed one (a volume over
            # the memory budget raises halfway through a frame).
            GL.glBindVertexArray(0)
            GL.glUseProgram(0)
            GL.glDisable(GL.GL_CULL_FACE)
            GL.glCullFace(GL.GL_BACK)
            GL.glDisable(GL.GL_BLEND)
            GL.glBlendEquation(GL.GL_FUNC_ADD)
            GL.glDepthMask(GL.GL_TRUE)
            GL.glPolygonMode(GL.GL_FRONT_AND_BACK, GL.GL_FILL)
            GL.glDisable(GL.GL_POLYGON_OFFSET_FILL)

    def _draw_background(self, background: GradientBackground) -> None:
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDisable(GL.GL_BLEND)
        self._background.use()
        self._background.set_vec3("u_top", background.top_color)
        self._background.set_vec3("u_bottom", background.bottom_color)
        GL.glBindVertexArray(self._empty_vao)
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)

    def _draw_scene(self, frame: Frame, framebuffer: Framebuffer) -> None:
        viewport = Viewport(framebuffer.width, framebuffer.height)
        view = np.linalg.inv(frame.camera_model @ frame.camera.matrix)
        boxes = [(instance, instance.world_bounding_box) for instance in frame.shapes]
        visible = [(instance, box) for instance, box in boxes if box is not None]
        labels = [i for i in frame.shapes if isinstance(i.shape.geometry, TextGeometry)]
        overlays = [i for i in frame.shapes if isinstance(i.shape.geometry, OverlayGeometry)]
        if not visible and not labels and not overlays:
            return
        near, far = 1.0, 2.0
        if visible:
            # Clipping planes fitted to the scene's depth range keep the depth buffer's precision.
            corners_view = transform_points(view, np.concatenate([box.corners for _, box in visible]))
            near, far = frame.camera.clipping_range(-corners_view[:, 2])
        projection = frame.camera.projection_matrix(viewport.aspect, near, far)
        orthographic = isinstance(frame.camera, OrthographicCamera)
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDepthFunc(GL.GL_LESS)
        GL.glDisable(GL.GL_BLEND)

        kinds: dict[type, list[ShapeInstance]] = collections.defaultdict(list)
        for instance, _ in visible:
            kinds[type(instance.shape.geometry)].append(instance)
        triangles = kinds[Geometry]
        opaque = [i for i in triangles if i.material.transparency == 0.0]
        highlighted = [i for i in triangles if frame.highlight is not None and frame.highlight in i.path]
        # Surfaces a little farther in depth where edges are drawn over them, so that the edges win.
        offset = frame.style is DisplayStyle.SURFACE_WITH_EDGES or bool(highlighted)
        self._draw_triangles(opaque, view, projection, orthographic, frame, offset)
        self._draw_slices(kinds[SliceGeometry], view, projection)
        self._draw_points(kinds[PointGeometry], view, projection)
        self._draw_lines(kinds[LineGeometry], view, projection, viewport)

        # Transparent shapes last, farthest first, blended over what is behind them.
        transparent = [i for i in triangles if i.material.transparency > 0.0]
        transparent.sort(key=lambda i: float(transform_points(view, _world_center(i)[None])[0, 2]))
        GL.glEnable(GL.GL_BLEND)
        GL.glBlendFunc(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)
        GL.glDepthMask(GL.GL_FALSE)
        self._draw_triangles(transparent, view, projection, orthographic, frame, offset)
        GL.glDepthMask(GL.GL_TRUE)
        GL.glDisable(GL.GL_BLEND)
        if frame.style is DisplayStyle.SURFACE_WITH_EDGES:
            self._draw_edges(opaque, EDGE_COLOR, view, projection, orthographic, frame)
        if highlighted:
            self._draw_edges(highlighted, HIGHLIGHT_COLOR, view, projection, orthographic, frame)

        volumes = kinds[VolumeGeometry] + kinds[OutOfCoreGeometry]
        if volumes:
            self._draw_volumes(volumes, view, projection, orthographic, frame.interactive, framebuffer)
        if labels:
            self._draw_labels(labels, view, projection, viewport)
        if overlays:
            self._draw_overlays(overlays, view, frame, viewport)

    # ------------------------------------------------------------------ triangles

    def _draw_triangles(
        self,
        instances: list[ShapeInstance],
        view: Matrix,
        projection: Matrix,
        orthographic: bool,
        frame: Frame,
        offset: bool = False,
    ) -> None:
        if not instances:
            return
        program = self._surface
        program.use()
        program.set_matrix("u_projection", projection)
        program.set_int("u_orthographic", orthographic)
        program.set_int("u_texture", 0)
        program.set_int("u_colormap", 1)
        wireframe = frame.style is DisplayStyle.WIREFRAME
        if wireframe:
            GL.glPolygonMode(GL.GL_FRONT_AND_BACK, GL.GL_LINE)
        elif offset:
            GL.glEnable(GL.GL_POLYGON_OFFSET_FILL)
            GL.glPolygonOffset(1.0, 1.0)
        for instance in instances:
            # A wireframe shows the hidden faces' edges too: nothing is culled.
            self._draw_shape(instance, view, frame.global_lights, frame.interactive, cull=not wireframe)
        GL.glPolygonMode(GL.GL_FRONT_AND_BACK, GL.GL_FILL)
        GL.glDisable(GL.GL_POLYGON_OFFSET_FILL)

    def _draw_edges(self, instances: list[ShapeInstance], color: tuple[float, float, float], view: Matrix,
                    projection: Matrix, orthographic: bool, frame: Frame) -> None:
        """The triangles' edges as lines of one unlit colour, where they are not hidden."""
        program = self._surface
        program.use()
        program.set_matrix("u_projection", projection)
        program.set_int("u_orthographic", orthographic)
        GL.glPolygonMode(GL.GL_FRONT_AND_BACK, GL.GL_LINE)
        GL.glDepthFunc(GL.GL_LEQUAL)
        GL.glDisable(GL.GL_CULL_FACE)
        # Unlit: no lights, no ambient or specular term; the emissive colour is the whole colour.
        for name, value in (("u_ambient", (0.0, 0.0, 0.0)), ("u_specular", (0.0, 0.0, 0.0)), ("u_emissive", color)):
            program.set_vec3(name, value)
        program.set_int("u_light_count", 0)
        program.set_int("u_textured", False)
        program.set_int("u_scalar_mapped", False)  # edges take the one colour, not the shape's scalars
        program.set_float("u_opacity", 1.0)
        for instance in instances:
            model_view = view @ instance.model
            program.set_matrix("u_model_view", model_view)
            program.set_matrix("u_normal_matrix", np.linalg.inv(model_view[:3, :3]).T)
            program.set_clip_planes(_planes_in(instance, view))
            self._triangles(instance.shape, frame.interactive).draw()
        GL.glPolygonMode(GL.GL_FRONT_AND_BACK, GL.GL_FILL)
        GL.glDepthFunc(GL.GL_LESS)

    def _draw_shape(
        self, instance: ShapeInstance, view: Matrix, global_lights: tuple[LightInstance, ...], interactive: bool,
        cull: bool = True,
    ) -> None:
        program, material = self._surface, instance.material
        model_view = view @ instance.model
        program.set_matrix("u_model_view", model_view)
        program.set_matrix("u_normal_matrix", np.linalg.inv(model_view[:3, :3]).T)
        program.set_clip_planes(_planes_in(instance, view))
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
        gpu = self._triangles(instance.shape, interactive)
        self.triangles_drawn += gpu.triangle_count
        # Solids (by their class, or found closed on the LOD thread) hide their back faces;
        # a clipped solid shows its inside through the cut, a transparent one its far side.
        winding = 1 if instance.shape.closed else gpu.winding
        if gpu.winding and not _outside(instance, model_view):
            winding = 0  # a camera inside a mesh sees its inner faces
        if cull and winding and material.transparency == 0.0 and not instance.clip_planes:
            GL.glEnable(GL.GL_CULL_FACE)
            GL.glCullFace(GL.GL_BACK if winding > 0 else GL.GL_FRONT)
            # A mirroring transform turns the winding around, and with it which faces are front.
            GL.glFrontFace(GL.GL_CW if np.linalg.det(model_view[:3, :3]) < 0 else GL.GL_CCW)
            self.triangles_culled += gpu.triangle_count
        else:
            GL.glDisable(GL.GL_CULL_FACE)
        if not gpu.has_colors:
            # Without a colour array the attribute reads this constant: the diffuse colour.
            GL.glVertexAttrib4f(COLOR, *material.diffuse_color, 1.0)
        self._set_scalar_mapping(program, instance.shape, gpu.has_scalars, 1)
        texture: Texture2D | None = getattr(instance.shape, "texture", None) or instance.texture
        drawn_texture = texture if gpu.has_texcoords else None
        program.set_int("u_textured", drawn_texture is not None)
        if drawn_texture is not None:
            self._gpu(drawn_texture).texture.bind(0)
        gpu.draw()

    # ------------------------------------------------------------------ slices, points, lines

    def _draw_slices(self, instances: list[ShapeInstance], view: Matrix, projection: Matrix) -> None:
        if not instances:
            return
        program = self._slice
        program.use()
        program.set_matrix("u_projection", projection)
        program.set_int("u_values", 0)
        program.set_int("u_colormap", 1)
        GL.glDisable(GL.GL_CULL_FACE)
        for instance in instances:
            plane = instance.shape
            assert isinstance(plane, (OrthoSlice, ObliqueSlice))  # only slices build a SliceGeometry
            gpu: GpuSlice = self._gpu(plane)
            program.set_matrix("u_model_view", view @ instance.model)
            program.set_matrix("u_normal_matrix", np.eye(3))
            program.set_clip_planes(_planes_in(instance, view))
            mapping = plane.color_mapping()
            low, high = mapping.scale_ends()
            program.set_float("u_low", low)
            program.set_float("u_high", high)
            program.set_int("u_log", mapping.log)
            program.set_vec3("u_nan_color", mapping.nan_color)
            gpu.use_table(mapping.table)
            gpu.values.bind(0)
            gpu.colormap.bind(1)
            gpu.triangles.draw()

    def _draw_points(self, instances: list[ShapeInstance], view: Matrix, projection: Matrix) -> None:
        if not instances:
            return
        program = self._points
        program.use()
        program.set_matrix("u_projection", projection)
        program.set_int("u_colormap", 0)
        GL.glEnable(GL.GL_PROGRAM_POINT_SIZE)
        for instance in instances:
            gpu: GpuPoints = self._gpu(instance.shape)
            program.set_matrix("u_model_view", view @ instance.model)
            program.set_clip_planes(_planes_in(instance, view))
            if not gpu.has_colors:
                GL.glVertexAttrib4f(COLOR, *instance.material.diffuse_color, 1.0)
            self._set_scalar_mapping(program, instance.shape, gpu.has_scalars, 0)
            gpu.draw()
        GL.glDisable(GL.GL_PROGRAM_POINT_SIZE)

    def _draw_lines(
        self, instances: list[ShapeInstance], view: Matrix, projection: Matrix, viewport: Viewport
    ) -> None:
        if not instances:
            return
        program = self._lines
        program.use()
        program.set_matrix("u_projection", projection)
        program.set_vec2("u_viewport", (viewport.width, viewport.height))
        program.set_float("u_depth_bias", _LINE_DEPTH_BIAS)
        program.set_int("u_colormap", 0)
        GL.glDisable(GL.GL_CULL_FACE)
        for instance in instances:
            lines = instance.shape
            assert isinstance(lines, LineSet)  # only a LineSet builds a LineGeometry
            gpu: GpuLines = self._gpu(lines)
            program.set_matrix("u_model_view", view @ instance.model)
            program.set_clip_planes(_planes_in(instance, view))
            program.set_float("u_width", lines.width)
            if not gpu.has_colors:
                GL.glVertexAttrib4f(COLOR, *instance.material.diffuse_color, 1.0)
            self._set_scalar_mapping(program, lines, gpu.has_scalars, 0)
            gpu.draw()

    def _set_scalar_mapping(self, program: ShaderProgram, shape: Shape, has_scalars: bool, unit: int) -> None:
        """Colour by the shape's scalars through its colour map (bound to ``unit``), if it has them."""
        mapping = shape.color_mapping() if has_scalars and isinstance(shape, ScalarShape) else None
        program.set_int("u_scalar_mapped", mapping is not None)
        if mapping is None:
            return
        low, high = mapping.scale_ends()
        program.set_float("u_scalar_low", low)
        program.set_float("u_scalar_high", high)
        program.set_int("u_scalar_log", mapping.log)
        program.set_vec3("u_nan_color", mapping.nan_color)
        self._colormap(mapping).bind(unit)

    def _colormap(self, mapping: ColorMapping) -> GpuTexture:
        """The 1-D texture of a named map's table, made on first use."""
        texture = self._colormaps.get(mapping.colormap)
        if texture is None:
            texture = self._colormaps[mapping.colormap] = colormap_texture(mapping.table)
        return texture

    # ------------------------------------------------------------------ volumes

    def _draw_volumes(
        self,
        instances: list[ShapeInstance],
        view: Matrix,
        projection: Matrix,
        orthographic: bool,
        interactive: bool,
        framebuffer: Framebuffer,
    ) -> None:
        # A still of an out-of-core volume still missing bricks is not the last picture: it is cast
        # as an interactive frame is, so the first picture comes quickly and sharpens cheaply.
        progressive = not interactive and any(
            isinstance(i.shape, OutOfCoreVolume) and not i.shape.bricks_complete for i in instances
        )
        self._layer.bind(framebuffer, INTERACTIVE_VOLUME_SCALE if interactive or progressive else 1.0)
        program = self._volume
        program.use()
        program.set_matrix("u_projection", projection)
        program.set_matrix("u_inverse_projection", np.linalg.inv(projection))
        program.set_vec2("u_viewport", self._layer.size)
        program.set_int("u_depth", 2)
        GL.glActiveTexture(GL.GL_TEXTURE2)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._layer.depth)
        program.set_int("u_orthographic", orthographic)
        program.set_int("u_data", 0)
        program.set_int("u_transfer", 1)
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glEnable(GL.GL_CULL_FACE)
        GL.glEnable(GL.GL_BLEND)
        camera_world = np.linalg.inv(view)[:3, 3]
        view_direction = -np.linalg.inv(view)[:3, 2]
        # Whole volumes front to back, then each one's bricks front to back.
        def depth(point_world: np.ndarray) -> float:
            offset = point_world - camera_world
            return float(offset @ view_direction) if orthographic else float(np.linalg.norm(offset))

        ordered = sorted(instances, key=lambda i: depth(_world_center(i)))
        self.bricks_drawn = 0
        for instance in ordered:
            if isinstance(instance.shape.geometry, OutOfCoreGeometry):
                self._draw_out_of_core(instance, view, projection, orthographic, interactive, progressive, depth,
                                       framebuffer.height)
            else:
                self._draw_volume(instance, view, interactive, depth)
        GL.glBlendEquation(GL.GL_FUNC_ADD)
        GL.glDisable(GL.GL_CULL_FACE)
        # Lay the volumes' layer (premultiplied) over the picture.
        framebuffer.bind()
        GL.glBlendFunc(GL.GL_ONE, GL.GL_ONE_MINUS_SRC_ALPHA)
        self._composite.use()
        self._composite.set_int("u_layer", 0)
        self._composite.set_vec2("u_size", framebuffer.size)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._layer.texture)
        GL.glBindVertexArray(self._empty_vao)
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)
        GL.glDisable(GL.GL_BLEND)
        GL.glEnable(GL.GL_DEPTH_TEST)

    def _volume_uniforms(
        self, instance: ShapeInstance, model_view: Matrix, box: BoundingBox, mode: VolumeMode, iso_position: float,
        data_range: tuple[float, float], value_unit: float,
    ) -> None:
        """Set what every brick of a volume shares: placement, clip planes, value mapping, mode."""
        program = self._volume
        program.set_matrix("u_model_view", model_view)
        program.set_matrix("u_view_to_local", np.linalg.inv(model_view))
        program.set_matrix("u_local_to_view_normal", np.linalg.inv(model_view[:3, :3]).T)
        # Clip planes in the volume's own coordinates, where the rays are marched.
        program.set_clip_planes([plane @ instance.model for plane in instance.clip_planes])
        program.set_vec3("u_volume_min", box.minimum)
        program.set_vec3("u_volume_max", box.maximum)
        low, high = data_range
        program.set_float("u_value_scale", value_unit / (high - low))
        program.set_float("u_value_offset", -low / (high - low))
        program.set_int("u_mode", _VOLUME_MODES[mode])
        program.set_float("u_iso", iso_position)
        if mode is VolumeMode.MIP:
            GL.glBlendEquation(GL.GL_MAX)
            GL.glBlendFunc(GL.GL_ONE, GL.GL_ONE)
        else:
            # Front to back: what is already in the layer hides what comes after it.
            GL.glBlendEquation(GL.GL_FUNC_ADD)
            GL.glBlendFunc(GL.GL_ONE_MINUS_DST_ALPHA, GL.GL_ONE)
        # Back faces only: the ray starts where it enters, which may be the camera itself.
        GL.glCullFace(GL.GL_FRONT)
        GL.glFrontFace(GL.GL_CW if np.linalg.det(model_view[:3, :3]) < 0 else GL.GL_CCW)

    def _cast_brick(
        self, lo: np.ndarray, hi: np.ndarray, tex_origin: np.ndarray, tex_extent: np.ndarray, texels: np.ndarray,
        texture: GpuTexture,
    ) -> None:
        """Ray cast one brick's box (volume coordinates) through its texture, which spans
        ``tex_origin`` to ``tex_origin + tex_extent`` and holds ``texels`` voxels (x, y, z)."""
        program = self._volume
        program.set_vec3("u_brick_min", lo)
        program.set_vec3("u_brick_max", hi)
        program.set_vec3("u_tex_origin", tex_origin)
        program.set_vec3("u_tex_scale", 1.0 / tex_extent)
        program.set_vec3("u_texel", 1.0 / texels)
        texture.bind(0)
        self._cube.draw()

    def _draw_volume(self, instance: ShapeInstance, view: Matrix, interactive: bool, depth: Any) -> None:
        program = self._volume
        volume = instance.shape
        assert isinstance(volume, Volume)  # only a Volume builds a VolumeGeometry
        geometry: VolumeGeometry = volume.geometry
        gpu: GpuVolume = self._gpu(volume)
        model_view = view @ instance.model
        iso = float(geometry.transfer_position(volume.effective_iso_value()))
        self._volume_uniforms(instance, model_view, geometry.bounding_box, volume.mode, iso, geometry.data_range,
                              gpu.value_unit)
        spacing, origin = geometry.spacing, geometry.origin
        samples = volume.interactive_samples_per_voxel if interactive else volume.samples_per_voxel
        reference = float(spacing.min())
        step = reference / samples
        program.set_float("u_step", step)
        program.set_float("u_opacity_exponent", step / reference)
        gpu.table.bind(1)
        bricks = list(zip(gpu.layout, gpu.bricks, strict=True))
        if len(bricks) > 1:
            # Empty-space skipping: a brick whose values the transfer function (or the
            # isosurface) cannot show casts no rays.
            shown = []
            for pair, (low, high) in zip(bricks, gpu.value_ranges, strict=True):
                p_low, p_high = geometry.transfer_position([low, high])
                if volume.mode is VolumeMode.ISOSURFACE:
                    if p_high >= iso:
                        shown.append(pair)
                elif geometry.transfer_function.visible_between(p_low, p_high):
                    shown.append(pair)
            bricks = shown
        if len(bricks) > 1:
            centres = [origin + (np.add(b.box_lo, b.box_hi) / 2.0) * spacing for b, _ in bricks]
            world = transform_points(instance.model, np.array(centres))
            order = np.argsort([depth(p) for p in world])
            bricks = [bricks[i] for i in order]
        self.bricks_drawn += len(bricks)
        for brick, texture in bricks:
            # The texture holds voxels lo..hi-1; their centres are at texture (i + 0.5) / n.
            texels = np.subtract(brick.hi, brick.lo).astype(np.float64)
            self._cast_brick(origin + np.asarray(brick.box_lo) * spacing, origin + np.asarray(brick.box_hi) * spacing,
                             origin + (np.asarray(brick.lo) - 0.5) * spacing, texels * spacing, texels, texture)
        GL.glCullFace(GL.GL_BACK)

    def _draw_out_of_core(
        self, instance: ShapeInstance, view: Matrix, projection: Matrix, orthographic: bool, interactive: bool,
        progressive: bool, depth: Any, height: int,
    ) -> None:
        """Draw an out-of-core volume's bricks for this view (``out_of_core``, ``gpu_bricks``):
        ``progressive`` for a still drawn as an interactive frame while bricks are missing, which
        still asks for the bricks of a still ``height`` pixels high."""
        volume = instance.shape
        assert isinstance(volume, OutOfCoreVolume)  # only it builds an OutOfCoreGeometry
        geometry: OutOfCoreGeometry = volume.geometry
        gpu: GpuBricks = self._gpu(volume)
        pyramid = geometry.source.pyramid
        model_view = view @ instance.model
        index_to_local = np.diag([*geometry.spacing, 1.0])
        index_to_local[:3, 3] = geometry.origin
        to_view = model_view @ index_to_local
        # Screen error in the pixels of the layer the rays are cast into (half size while moving).
        pixels_per_unit = float(projection[1, 1]) * (self._layer.size[1] if interactive else height) / 2.0
        brick_view = BrickView(to_view, projection @ to_view, pixels_per_unit, orthographic)
        error = volume.interactive_pixels_per_voxel if interactive else volume.pixels_per_voxel
        arrivals = geometry.source.arrivals
        drawn, complete, more = gpu.prepare(geometry, brick_view, error, interactive)
        self._volume_uniforms(instance, model_view, geometry.bounding_box, geometry.mode, geometry.iso_position,
                              geometry.data_range, gpu.value_unit)
        gpu.table.bind(1)
        spacing, origin = geometry.spacing, geometry.origin
        quick = interactive or progressive
        samples = volume.interactive_samples_per_voxel if quick else volume.samples_per_voxel
        reference = float(spacing.min())
        places = [pyramid.place(key) for key in drawn]
        centres = [origin + (p.box_lo + p.box_hi) / 2.0 * spacing for p in places]
        world = transform_points(instance.model, np.array(centres).reshape(-1, 3))
        order = np.argsort([depth(p) for p in world])
        self.bricks_drawn += len(drawn)
        program = self._volume
        for index in order:
            key, place = drawn[index], places[index]
            # Coarse bricks take coarse steps; opacity is corrected against one full-resolution voxel.
            step = float((pyramid.voxel_size(key[0]) * spacing).min()) / samples
            program.set_float("u_step", step)
            program.set_float("u_opacity_exponent", step / reference)
            tex_origin, tex_extent = pyramid.texture_mapping(key)
            self._cast_brick(origin + place.box_lo * spacing, origin + place.box_hi * spacing,
                             origin + tex_origin * spacing, tex_extent * spacing,
                             np.subtract(place.hi, place.lo).astype(np.float64), gpu.textures[key])
        GL.glCullFace(GL.GL_BACK)
        finest = min((key[0] for key in drawn), default=pyramid.coarsest)
        volume.frame_drawn(DrawnBricks(complete, len(drawn), finest, gpu.nbytes), more, arrivals,
                           interactive=interactive, progressive=progressive)

    # ------------------------------------------------------------------ labels

    def _draw_labels(self, instances: list[ShapeInstance], view: Matrix, projection: Matrix, viewport: Viewport) -> None:
        with self._screen_pictures(viewport):
            for instance in instances:
                corner = label_corner(instance, view, projection, viewport)
                if corner is None:
                    continue
                self._draw_image(self._gpu(instance.shape), (round(corner[0]), round(corner[1])), viewport)

    @contextlib.contextmanager
    def _screen_pictures(self, viewport: Viewport) -> Iterator[None]:
        """The overlay program in use, blending premultiplied pictures over the frame without a
        depth test, for the block; then depth testing again."""
        program = self._overlay
        program.use()
        program.set_vec2("u_viewport", (viewport.width, viewport.height))
        program.set_int("u_image", 0)
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glEnable(GL.GL_BLEND)
        GL.glBlendFunc(GL.GL_ONE, GL.GL_ONE_MINUS_SRC_ALPHA)
        yield
        GL.glDisable(GL.GL_BLEND)
        GL.glEnable(GL.GL_DEPTH_TEST)

    def _draw_image(self, gpu: GpuImage, top_left: tuple[int, int], viewport: Viewport) -> None:
        """Draw a picture at its pixel size, its top-left corner at ``top_left`` pixels from the
        frame's top-left; the overlay program must be in use, with blending set."""
        width, height = gpu.size
        self._overlay.set_vec2("u_corner", (top_left[0], viewport.height - top_left[1] - height))
        self._overlay.set_vec2("u_size", (width, height))
        gpu.texture.bind(0)
        GL.glBindVertexArray(self._empty_vao)
        GL.glDrawArrays(GL.GL_TRIANGLE_STRIP, 0, 4)

    # ------------------------------------------------------------------ overlays

    def _draw_overlays(self, instances: list[ShapeInstance], view: Matrix, frame: Frame, viewport: Viewport) -> None:
        """Colour bars, triads, scale bars: last, over everything, each at its corner."""
        looking = OverlayView(view[:3, :3].copy(), frame.camera.units_per_pixel(viewport), viewport)
        with self._screen_pictures(viewport):
            for instance in instances:
                overlay = instance.shape
                assert isinstance(overlay, Overlay)  # only overlays build an OverlayGeometry
                key = overlay.picture_key(looking)
                if key is None:
                    continue
                gpu = self._overlay_image(overlay, key, looking)
                self._draw_image(gpu, overlay.top_left(gpu.size, viewport), viewport)

    def _overlay_image(self, overlay: Overlay, key: Hashable, looking: OverlayView) -> GpuImage:
        """The overlay's picture on the GPU, drawn again only when its key changed."""
        entry = self._cache.get(overlay)
        if entry is not None and entry.gpu.key == key:
            image: GpuImage = entry.gpu.image
            return image
        fresh = _OverlayImage(key, GpuImage(overlay.picture(looking)))
        if entry is None:
            entry = self._cache[overlay] = _CacheEntry(0, fresh)
            weakref.finalize(overlay, self._released.append, entry)
        else:
            entry.gpu.delete()
            entry.gpu = fresh
        return fresh.image

    # ------------------------------------------------------------------ GPU copies

    def _gpu(self, node: Node) -> Any:
        """The GPU copy of a shape's geometry (or of a texture node), made or updated as needed."""
        entry = self._cache.get(node)
        source = node if not hasattr(node, "geometry") else node.geometry
        # A shape's colour map or range changes its version but not its geometry's: no upload.
        version = node.geometry_version if isinstance(node, Shape) else node.version
        if entry is None:
            entry = _CacheEntry(version, self._make(source))
            self._cache[node] = entry
            weakref.finalize(node, self._released.append, entry)
        elif entry.version != version:
            if isinstance(entry.gpu, GpuVolume):
                assert isinstance(source, VolumeGeometry)  # a node's geometry keeps its kind
                entry.gpu = entry.gpu.updated(source, Volume.memory_budget - self.volume_bytes)
            else:
                entry.gpu = entry.gpu.updated(source)
            entry.drop_lod()
            entry.version = version
        return entry.gpu

    def _triangles(self, shape: Shape, interactive: bool) -> GpuTriangles:
        """The GPU triangles to draw ``shape`` with: for an interactive frame of a big mesh, its
        decimated copy once the background thread has made it; else the full mesh."""
        gpu: GpuTriangles = self._gpu(shape)
        if not interactive:
            return gpu
        entry = self._cache[shape]
        if entry.lod_gpu is not None:
            return entry.lod_gpu
        if entry.lod is None:
            geometry = shape.geometry
            if wants_lod(geometry):
                entry.lod = self._decimator.submit(geometry)
        elif entry.lod.done() and not entry.lod.cancelled() and entry.lod.exception() is None:
            found = entry.lod.result()
            entry.lod_gpu = GpuTriangles(found.copy)
            entry.lod_gpu.winding, gpu.winding = found.copy_winding, found.winding
            return entry.lod_gpu
        return gpu

    def _make(self, source: Any) -> Any:
        if isinstance(source, Geometry):
            return GpuTriangles(source)
        if isinstance(source, PointGeometry):
            return GpuPoints(source)
        if isinstance(source, LineGeometry):
            return GpuLines(source)
        if isinstance(source, SliceGeometry):
            return GpuSlice(source)
        if isinstance(source, VolumeGeometry):
            return GpuVolume(source, self.max_3d_texture_size, Volume.memory_budget - self.volume_bytes)
        if isinstance(source, OutOfCoreGeometry):
            return GpuBricks(source, self.max_3d_texture_size)
        return GpuImage(source)  # a Texture2D node or a label


def _world_center(instance: ShapeInstance) -> np.ndarray:
    """The centre of a drawn shape's world bounding box."""
    box = instance.world_bounding_box
    assert box is not None  # shapes without a box are culled before drawing
    return box.center


def _outside(instance: ShapeInstance, model_view: Matrix) -> bool:
    """Whether the camera is outside the shape's bounding box (in the shape's coordinates)."""
    box = instance.shape.bounding_box
    assert box is not None  # shapes without a box are culled before drawing
    eye = np.linalg.inv(model_view)[:3, 3]
    return bool(np.any(eye < box.minimum) or np.any(eye > box.maximum))


def _planes_in(instance: ShapeInstance, view: Matrix) -> list[np.ndarray]:
    """The instance's clip planes in view coordinates (where the shaders test points)."""
    to_world = np.linalg.inv(view)
    return [plane @ to_world for plane in instance.clip_planes]
