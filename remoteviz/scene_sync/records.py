"""A render area's scene as records and buffers, for the browser to draw (client-side rendering).

The scene is flattened as the renderer sees it (:func:`~remoteviz.rendering.actions.gather`): one
record per drawn shape instance, with its world matrix, material, lights and clip planes in force,
and the names of its geometry buffers (:mod:`remoteviz.scene_sync.buffers`). A shape's buffers are
encoded once per version of the shape, however many instances and viewers it has. A big mesh's
record also names the buffers of its coarse copy (``coarse``, :mod:`remoteviz.scene_sync.coarse`)
once that is made, and a big point set goes as several records, its ``parts``. What the page
cannot draw (volumes, slices, a texture over :data:`MAX_TEXTURE_SIDE`) is listed in
``unsupported``: such a scene stays server-side. A textured mesh's record names its texture
coordinates (``texcoords``) and its image (``texture``, :func:`texture_fields`). A text label
is a record of its own (``kind`` "label"), with no buffers: its text, anchor and layout,
drawn by the page in its own font.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from remoteviz.scene_sync import buffers
from remoteviz.scene_sync.buffers import Buffer
from remoteviz.scene_sync.coarse import clustered_copy, wants_coarse

log = logging.getLogger("remoteviz.service")

Parts = list[tuple[dict[str, Any], list[Buffer]]]
"""A shape's encoding: record fields and their buffers, per part."""

Encoded = tuple[Parts, Any]
"""A shape's parts and the bounding box (in its own coordinates) of the geometry they encode."""

Part = tuple[dict[str, Any], list[Buffer]]
"""One part's record fields and buffers."""

COARSE_FIELDS = ("positions", "quantization", "normals", "indices", "index_type", "count", "vertices", "colors")
"""The fields of a mesh record that its ``coarse`` copy has its own of."""

POINTS_PER_PART = 1 << 18
"""Point sets bigger than this go as several records of this many points, shuffled once: each part
is a uniform sample of the whole, so the page's picture is fair from the first part on."""

MAX_TEXTURE_SIDE = 4096
"""The widest and tallest texture sent to a page: what WebGL2 implementations give at the least in
practice (``MAX_TEXTURE_SIZE``; the service's Mesa takes 16384). A bigger one stays server-side."""

if TYPE_CHECKING:
    from remoteviz.rendering.actions import Frame, LightInstance, ShapeInstance
    from remoteviz.rendering.camera import Camera
    from remoteviz.rendering.shapes import Shape
    from remoteviz.rendering.texture import Texture2D


@dataclass(slots=True)
class Snapshot:
    """The scene at one moment: records by id, the buffers they name, the camera and background
    (``extra``), what the page could not draw, and the buffers' deflated bytes in all."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    buffers: dict[str, Buffer] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    unsupported: set[str] = field(default_factory=set)
    pending: int = 0
    """Shapes left out because they are still being encoded (in the background)."""
    provisional: int = 0
    """Big meshes sent as their coarse copy alone (their record says ``provisional``) because their
    full detail is still being encoded: a later snapshot has it."""
    unencoded_bytes: int = 0
    """What the provisional meshes' full detail will take in the page's memory, inflated."""

    @property
    def geometry_bytes(self) -> int:
        """What sending every buffer costs, deflated."""
        return sum(len(b.deflated) for b in self.buffers.values())

    @property
    def raw_bytes(self) -> int:
        """What the buffers take in the page's memory, inflated (with the full detail still being
        encoded)."""
        return sum(b.size for b in self.buffers.values()) + self.unencoded_bytes


def _column_major(matrix: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(matrix, dtype=np.float64).T.reshape(-1)]


def camera_fields(camera: Camera, model: np.ndarray) -> dict[str, Any]:
    """A camera as the page takes it: placement in its parent's coordinates, and that parent's matrix."""
    from remoteviz.rendering.camera import OrthographicCamera

    orthographic = isinstance(camera, OrthographicCamera)
    height = camera.height if isinstance(camera, OrthographicCamera) else getattr(camera, "height_angle", 0.785)
    return {"position": [float(v) for v in camera.position], "orientation": list(camera.orientation.quaternion),
            "focal_distance": float(camera.focal_distance), "height": float(height), "orthographic": orthographic,
            "model": _column_major(model)}


class SceneEncoder:
    """Makes snapshots of scenes, keeping each shape's encoded buffers until the shape changes.

    With ``background`` (an executor), shapes are encoded there and ``encoded()`` is called from
    its thread as each one is done: a snapshot meanwhile leaves a new shape out (``pending``), and
    keeps a changed one's previous encoding. Without, they are encoded in the call.

    With ``coarse``, a big mesh also gets a coarse copy (:mod:`remoteviz.scene_sync.coarse`),
    once per version: with ``background`` made there just before its full detail is encoded (so
    it is ready when the encoding is), else in the call.
    """

    def __init__(self, background: concurrent.futures.Executor | None = None,
                 encoded: Callable[[], None] | None = None, coarse: bool = False) -> None:
        self._shapes: weakref.WeakKeyDictionary[Shape, tuple[int, Encoded | None]] = weakref.WeakKeyDictionary()
        # A shape's encoding being made: its version, the future, and what the result will take inflated.
        self._pending: weakref.WeakKeyDictionary[
            Shape, tuple[int, concurrent.futures.Future[Encoded | None], int]] = weakref.WeakKeyDictionary()
        self._coarse: weakref.WeakKeyDictionary[
            Shape, tuple[int, Part | None | concurrent.futures.Future[Part | None]]] = weakref.WeakKeyDictionary()
        self._background = background
        self._encoded = encoded
        self._coarse_wanted = coarse
        # Each texture's image buffer, made once per version of the texture node.
        self._images: weakref.WeakKeyDictionary[Texture2D, tuple[int, Buffer]] = weakref.WeakKeyDictionary()

    def close(self) -> None:
        """Drop the encodings and copies not begun yet (the service closes); a later snapshot
        starts them afresh."""
        for jobs in (self._pending, self._coarse):
            for shape, entry in list(jobs.items()):
                if isinstance(entry[1], concurrent.futures.Future) and entry[1].cancel():
                    del jobs[shape]

    def snapshot(self, frame: Frame) -> Snapshot:
        """The records of everything ``frame`` draws."""
        snapshot = Snapshot()
        for instance in frame.shapes:
            encoded = self._encode(instance.shape)
            provisional = encoded is _PENDING
            if provisional:
                # A big mesh's copy is made before its full detail: until that is done, the copy alone.
                early = self._early(instance.shape)
                # The copy has no texture coordinates: a textured mesh waits for its full detail.
                if early is None or (_texture_of(instance) is not None and instance.shape.geometry.texcoords is not None):
                    snapshot.pending += 1
                    continue
                encoded, unencoded = early
                snapshot.provisional += 1
                snapshot.unencoded_bytes += unencoded
            if encoded is None:
                snapshot.unsupported.add(type(instance.shape).__name__)
                continue
            assert isinstance(encoded, tuple)
            parts, local_box = encoded
            if local_box is None and not _screen_label(parts):
                continue
            # The box of the geometry encoded (the previous one while a change is encoded); none
            # for a label fixed on the screen, which neither moves nor bounds the scene.
            box = None if local_box is None else local_box.transformed(instance.model)
            shared: dict[str, Any] = {
                "name": instance.shape.name,
                "model": _column_major(instance.model),
                "material": _material(instance),
                "clip": [[float(v) for v in plane] for plane in instance.clip_planes],
                "lights": [_light(light, instance) for light in (*frame.global_lights, *instance.lights)],
                "box": None if box is None else [[float(v) for v in box.minimum], [float(v) for v in box.maximum]],
            }
            record_id = _instance_id(instance)
            textured = self._texture(instance, parts[0][0], snapshot)
            if textured is False:
                continue
            if textured is not None:
                shared["texture"] = textured
            if provisional:
                shared["provisional"] = True
            # A textured mesh is drawn in full detail only (its copy has no texture coordinates).
            coarse = None if provisional or textured else self._coarse_of(instance.shape, self._shapes[instance.shape][0])
            if coarse is not None:
                for buffer in coarse[1]:
                    snapshot.buffers[buffer.name] = buffer
                shared["coarse"] = {key: coarse[0][key] for key in COARSE_FIELDS}
            for number, (geometry, shape_buffers) in enumerate(parts):
                if textured is None and "texcoords" in geometry:  # coordinates with no texture to show
                    geometry = {key: value for key, value in geometry.items() if key != "texcoords"}
                    shape_buffers = [b for b in shape_buffers if b.kind != "uv32"]
                for buffer in shape_buffers:
                    snapshot.buffers[buffer.name] = buffer
                part_id = record_id if number == 0 else f"{record_id}.{number}"
                # The parts of a big point set: each a fair sample of the whole, the first enough for a picture.
                numbering = {"part": number, "parts": len(parts)} if len(parts) > 1 else {}
                snapshot.records[part_id] = {"id": part_id, **geometry, **shared, **numbering}
        background = frame.background
        snapshot.extra = {
            "camera": camera_fields(frame.camera, frame.camera_model),
            "background": None if background is None else {"top": list(background.top_color),
                                                           "bottom": list(background.bottom_color)},
        }
        return snapshot

    def _texture(self, instance: ShapeInstance, geometry: dict[str, Any], snapshot: Snapshot) -> dict[str, Any] | None | bool:
        """The ``texture`` field of a textured mesh's record, its image added to the snapshot's
        buffers; None for a shape drawn without a texture (as the renderer: the shape's own texture,
        else the current one, on a mesh with texture coordinates); False for one too big to send,
        added to what the page cannot draw."""
        texture = _texture_of(instance)
        if texture is None or "texcoords" not in geometry:
            return None
        height, width = texture.image.shape[:2]
        if max(width, height) > MAX_TEXTURE_SIDE:
            snapshot.unsupported.add(f"a texture over {MAX_TEXTURE_SIDE} pixels a side")
            return False
        cached = self._images.get(texture)
        if cached is None or cached[0] != texture.version:
            cached = (texture.version, buffers.image(texture.image))
            self._images[texture] = cached
        snapshot.buffers[cached[1].name] = cached[1]
        return texture_fields(texture, cached[1])

    def _encode(self, shape: Shape) -> Encoded | None | object:
        version = shape.version
        pending = self._pending.get(shape)
        if pending is not None and pending[1].done():
            del self._pending[shape]
            try:
                self._shapes[shape] = (pending[0], pending[1].result())
            except Exception:
                log.exception("encoding %r for client-side rendering failed", shape)
                self._shapes[shape] = (pending[0], None)
        cached = self._shapes.get(shape)
        if cached is not None and cached[0] == version:
            return cached[1]
        if self._background is None:
            geometry = shape.geometry
            self._shapes[shape] = (version, _encode_geometry(shape, geometry))
            if self._coarse_wanted and _wants_coarse(shape, geometry):
                self._coarse[shape] = (version, _encode_part(shape, clustered_copy(geometry)))
            return self._shapes[shape][1]
        if pending is None or pending[0] != version:
            # The geometry is taken here, on the caller's thread: the scene may change meanwhile.
            geometry = shape.geometry
            if self._coarse_wanted and _wants_coarse(shape, geometry):
                # The copy first: on a one-thread executor it is ready when the full detail is, so
                # the model's first page gets a picture of it after its first chunks.
                earlier = self._coarse.get(shape)
                if earlier is not None and isinstance(earlier[1], concurrent.futures.Future):
                    earlier[1].cancel()  # not begun yet: a mesh changing often queues one copy, not one per change
                copy = self._background.submit(lambda: _encode_part(shape, clustered_copy(geometry)))
                self._when_done(copy)
                self._coarse[shape] = (version, copy)
            future = self._background.submit(_encode_geometry, shape, geometry)
            self._when_done(future)
            self._pending[shape] = (version, future, _inflated_size(geometry))
        return cached[1] if cached is not None else _PENDING

    def _when_done(self, future: concurrent.futures.Future[Any]) -> None:
        if self._encoded is not None:
            encoded = self._encoded
            future.add_done_callback(lambda _: encoded())

    def _early(self, shape: Shape) -> tuple[Encoded, int] | None:
        """A shape whose first encoding is being made: its coarse copy as its encoding (its box the
        copy's), and what its full detail will take inflated; None until the copy is made."""
        from remoteviz.rendering.math3d import BoundingBox

        version, _, unencoded = self._pending[shape]
        copy = self._coarse_of(shape, version)
        if copy is None:
            return None
        offset, scale = (np.asarray(copy[0]["quantization"][key]) for key in ("offset", "scale"))
        return ([copy], BoundingBox.of_points([offset, offset + 65535.0 * scale])), unencoded

    def _coarse_of(self, shape: Shape, version: int) -> Part | None:
        """The coarse copy of ``shape`` at ``version`` (that of the encoding in use), once made."""
        entry = self._coarse.get(shape)
        if entry is None or entry[0] != version:
            return None
        made = entry[1]
        if isinstance(made, concurrent.futures.Future):
            if not made.done():
                return None
            try:
                made = made.result()
            except Exception as error:  # the full detail is sent all the same
                log.warning("a coarse copy of %r for client-side rendering failed: %s", shape, error)
                made = None
            self._coarse[shape] = (version, made)
        return made


_PENDING = object()
"""What ``SceneEncoder._encode`` answers for a shape whose first encoding is not done yet."""


def _encode_geometry(shape: Shape, geometry: Any) -> Encoded | None:
    """A shape's geometry as record fields and buffers (one part, or several for a big point set),
    and its bounding box."""
    parts = _encode_parts(shape, geometry)
    return None if parts is None else (parts, geometry.bounding_box)


def _encode_parts(shape: Shape, geometry: Any) -> Parts | None:
    from remoteviz.rendering.points import PointGeometry

    if type(geometry) is PointGeometry and len(geometry.positions) > POINTS_PER_PART:
        order = np.random.default_rng(0).permutation(len(geometry.positions))
        parts: Parts = []
        for start in range(0, len(order), POINTS_PER_PART):
            chosen = order[start:start + POINTS_PER_PART]
            sample = PointGeometry(geometry.positions[chosen],
                                   None if geometry.colors is None else geometry.colors[chosen], geometry.sizes[chosen])
            encoded = _encode_part(shape, sample)
            if encoded is not None:
                parts.append(encoded)
        return parts
    whole = _encode_part(shape, geometry)
    return None if whole is None else [whole]


def _inflated_size(geometry: Any) -> int:
    """What a geometry's buffers take inflated (:mod:`remoteviz.scene_sync.buffers`): 16-bit
    positions, byte normals and colours, 16- or 32-bit indices; 0 for other kinds than meshes."""
    from remoteviz.rendering.shapes import Geometry

    if type(geometry) is not Geometry:
        return 0
    vertices = len(geometry.positions)
    colors = 0 if geometry.colors is None else 4 * vertices
    return 6 * vertices + 3 * vertices + geometry.indices.size * (2 if vertices <= 65536 else 4) + colors


def _wants_coarse(shape: Shape, geometry: Any) -> bool:
    from remoteviz.rendering.shapes import Geometry

    return (type(geometry) is Geometry and wants_coarse(geometry)
            and (getattr(shape, "texture", None) is None or geometry.texcoords is None))


def _encode_part(shape: Shape, geometry: Any) -> Part | None:
    from remoteviz.rendering.lines import LineGeometry
    from remoteviz.rendering.points import PointGeometry
    from remoteviz.rendering.shapes import Geometry
    from remoteviz.rendering.text import TextGeometry

    if type(geometry) is TextGeometry:
        return _label_fields(shape, geometry), []
    if type(geometry) is Geometry:
        position, quantization = buffers.positions(geometry.positions)
        normal = buffers.normals(geometry.normals)
        index, index_type = buffers.indices(geometry.indices, len(geometry.positions))
        parts = [position, normal, index]
        fields: dict[str, Any] = {"kind": "mesh", "positions": position.name, "quantization": quantization,
                                  "normals": normal.name, "indices": index.name, "index_type": index_type,
                                  "count": int(geometry.indices.size), "vertices": len(geometry.positions),
                                  "closed": bool(shape.closed)}
        if geometry.texcoords is not None:  # dropped from the records of instances with no texture
            texcoord = buffers.texcoords(geometry.texcoords)
            parts.append(texcoord)
            fields["texcoords"] = texcoord.name
    elif type(geometry) is PointGeometry:
        position, quantization = buffers.positions(geometry.positions)
        size = buffers.floats(geometry.sizes)
        parts = [position, size]
        fields = {"kind": "points", "positions": position.name, "quantization": quantization, "sizes": size.name,
                  "vertices": len(geometry.positions)}
    elif type(geometry) is LineGeometry:
        position, quantization = buffers.positions(geometry.positions)
        index, index_type = buffers.indices(geometry.segments, len(geometry.positions))
        parts = [position, index]
        fields = {"kind": "lines", "positions": position.name, "quantization": quantization, "indices": index.name,
                  "index_type": index_type, "count": int(geometry.segments.size),
                  "vertices": len(geometry.positions), "width": float(getattr(shape, "width", 1.0))}
    else:
        return None
    if geometry.colors is not None:
        color = buffers.colors(geometry.colors)
        parts.append(color)
        fields["colors"] = color.name
    else:
        fields["colors"] = None
    return fields, parts


def _label_fields(shape: Shape, geometry: Any) -> dict[str, Any]:
    """A text label as the page draws it: the text, where it goes (the projection of ``position``
    under the record's ``model``, moved by ``offset`` pixels, or fixed at ``screen_position``), its
    look, and the server's layout of its picture, so that the page places it the same way."""
    from remoteviz.rendering.text import Text2D

    assert isinstance(shape, Text2D)
    layout = shape.layout()
    screen = geometry.screen_position
    return {"kind": "label", "text": shape.text, "position": [float(v) for v in geometry.anchor],
            "offset": [float(v) for v in geometry.offset],
            "screen_position": None if screen is None else [float(v) for v in screen],
            "font_size": layout.pixel_size, "color": [float(v) for v in shape.color],
            "background": None if shape.background is None else [float(v) for v in shape.background],
            "background_opacity": float(shape.background_opacity), "size": list(layout.size),
            "text_origin": [float(v) for v in layout.text_origin], "baseline": float(layout.baseline),
            "line_height": layout.line_height}


def _screen_label(parts: Parts) -> bool:
    """Whether a shape's parts are a label fixed on the screen (it has no bounding box)."""
    return len(parts) == 1 and parts[0][0].get("kind") == "label" and parts[0][0]["screen_position"] is not None


def _texture_of(instance: ShapeInstance) -> Texture2D | None:
    """The texture a shape instance is drawn with, as the renderer picks it: the shape's own, else
    the current one (shown only on a mesh with texture coordinates)."""
    texture: Texture2D | None = getattr(instance.shape, "texture", None) or instance.texture
    return texture


def texture_fields(texture: Texture2D, image: Buffer) -> dict[str, Any]:
    """A textured mesh's ``texture`` field: the name of its image's buffer
    (:func:`~remoteviz.scene_sync.buffers.image`), its size, and how it is sampled (as the
    service's renderer: ``linear`` or ``nearest`` both ways, no mipmaps, repeated outside 0..1)."""
    height, width = texture.image.shape[:2]
    return {"image": image.name, "width": int(width), "height": int(height), "filter": texture.filter.value}


def _instance_id(instance: ShapeInstance) -> str:
    """A shape instance's id: its path, so one shape met twice makes two records."""
    path = ",".join(str(id(node)) for node in instance.path)
    return hashlib.blake2b(path.encode(), digest_size=8).hexdigest()


def _material(instance: ShapeInstance) -> dict[str, Any]:
    material = instance.material
    return {"diffuse": list(material.diffuse_color), "ambient": list(material.ambient_color),
            "specular": list(material.specular_color), "emissive": list(material.emissive_color),
            "shininess": float(material.shininess), "transparency": float(material.transparency)}


def _light(light: LightInstance, instance: ShapeInstance) -> dict[str, Any]:
    """A light's colour and its direction: in the world, or (a headlight) along the view."""
    from remoteviz.rendering.examiner import SceneExaminer

    color = (np.asarray(light.light.color) * light.light.intensity).tolist()
    headlight = light.light.name == "default headlight" or any(
        isinstance(node, SceneExaminer) and node.headlight is light.light for node in instance.path)
    if headlight:
        return {"camera": True, "color": color}
    return {"camera": False, "direction": light.world_direction.tolist(), "color": color}


def priorities(snapshot: Snapshot, aspect: float) -> dict[str, float]:
    """Each record's sending priority under the snapshot's camera: its projected size (the radius
    of its box over its distance, or the radius for an orthographic camera), and below every
    record in view, those outside it."""
    from remoteviz.rendering.math3d import Rotation

    camera = snapshot.extra["camera"]
    placement = np.eye(4)
    placement[:3, :3] = Rotation(*camera["orientation"]).as_matrix3()
    placement[:3, 3] = camera["position"]
    view = np.linalg.inv(np.asarray(camera["model"]).reshape(4, 4).T @ placement)
    half = camera["height"] / 2.0 if camera["orthographic"] else float(np.tan(min(camera["height"], 3.14) / 2.0))
    half_w, half_h = (half * aspect, half) if aspect >= 1.0 else (half, half / aspect)
    found: dict[str, float] = {}
    for record_id, record in snapshot.records.items():
        if record["box"] is None:  # a label fixed on the screen: no buffers to send
            found[record_id] = 0.0
            continue
        low, high = np.asarray(record["box"][0]), np.asarray(record["box"][1])
        radius = float(np.linalg.norm(high - low)) / 2.0
        x, y, z = view[:3, :3] @ ((low + high) / 2.0) + view[:3, 3]
        depth = -z
        if camera["orthographic"]:
            size, reach = radius, 1.0
        else:
            size, reach = radius / max(depth, 1e-9), max(depth, 0.0)
        inside = depth + radius > 0 and abs(x) <= half_w * reach + radius and abs(y) <= half_h * reach + radius
        # Outside the view: below everything in it, the nearest and biggest first.
        found[record_id] = size if inside else radius / (abs(depth) + radius + 1e-9) - 1e9
    return found
