"""Triangle meshes from numpy arrays or from files (STL, OBJ, PLY, glTF and more, via trimesh)."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import numpy.typing as npt

from remoteviz.rendering.fields import Field, as_float
from remoteviz.rendering.scalars import ScalarShape
from remoteviz.rendering.shapes import Geometry
from remoteviz.rendering.texture import Texture2D


def as_points(value: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Finite ``(N, 3)`` float32 coordinates."""
    points = np.ascontiguousarray(value, dtype=np.float32)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"expected an (N, 3) array, got shape {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("coordinates must be finite")
    return points


def _as_optional_points(value: npt.ArrayLike | None) -> npt.NDArray[np.float32] | None:
    return None if value is None else as_points(value)


def as_index_rows(value: npt.ArrayLike | None, width: int, what: str) -> npt.NDArray[np.uint32] | None:
    """Vertex indices as ``(N, width)`` uint32 rows (None stays None); ``what`` names them in errors."""
    if value is None:
        return None
    indices = np.asarray(value)
    if not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"{what} must be integers, got {indices.dtype}")
    if indices.size and indices.min() < 0:
        raise ValueError(f"{what} must not be negative")
    return np.ascontiguousarray(indices, dtype=np.uint32).reshape(-1, width)


def _as_indices(value: npt.ArrayLike | None) -> npt.NDArray[np.uint32] | None:
    return as_index_rows(value, 3, "indices")


def as_colors(value: npt.ArrayLike | None) -> npt.NDArray[np.float32] | None:
    """``(N, 4)`` float32 RGBA from ``(N, 3)`` or ``(N, 4)`` floats 0..1 or integers 0..255, or None."""
    if value is None:
        return None
    colors = np.asarray(value)
    if colors.ndim != 2 or colors.shape[1] not in (3, 4):
        raise ValueError(f"expected an (N, 3) or (N, 4) array of colours, got shape {colors.shape}")
    # Integer colours are 0..255, as files and image libraries give them; floats are 0..1.
    scaled = colors / 255.0 if np.issubdtype(colors.dtype, np.integer) else colors
    rgba = np.ones((len(colors), 4), dtype=np.float32)
    rgba[:, : colors.shape[1]] = scaled
    return np.clip(rgba, 0.0, 1.0)


def _as_texcoords(value: npt.ArrayLike | None) -> npt.NDArray[np.float32] | None:
    if value is None:
        return None
    coords = np.ascontiguousarray(value, dtype=np.float32)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"expected an (N, 2) array of texture coordinates, got shape {coords.shape}")
    if not np.isfinite(coords).all():
        raise ValueError("texture coordinates must be finite")
    return coords


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    lengths = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(lengths == 0.0, 1.0, lengths)


def _smooth_normals(
    vertices: npt.NDArray[np.float32],
    indices: npt.NDArray[np.uint32],
    crease_angle: float,
    colors: np.ndarray | None,
    texcoords: np.ndarray | None,
    scalars: np.ndarray | None,
) -> Geometry:
    """Normals for a mesh that has none, with the vertices that sharp edges split copied.

    Each vertex gets the area-weighted mean of its triangles' normals. A triangle corner whose
    own face turns away from that mean by more than ``crease_angle`` gets a copy of the vertex
    with the face's normal instead, so hard edges (a box's) stay sharp while curved surfaces shade
    smoothly.
    """
    corners = vertices[indices]
    # The cross product's length is twice the triangle's area, which gives the weighting.
    area_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    sums = np.stack(
        [np.bincount(indices.ravel(), np.repeat(area_normals[:, k], 3), len(vertices)) for k in range(3)],
        axis=-1,
    )
    normals = _unit_rows(sums)
    face_normals = _unit_rows(area_normals)
    agreement = np.einsum("fk,fck->fc", face_normals, normals[indices])
    faces, slots = np.nonzero(agreement < np.cos(crease_angle))
    if len(faces) == 0:
        return Geometry(vertices, normals.astype(np.float32), indices, colors, texcoords, scalars)
    copied = indices[faces, slots]
    split = indices.copy()
    split[faces, slots] = np.arange(len(vertices), len(vertices) + len(faces), dtype=np.uint32)
    return Geometry(
        np.concatenate([vertices, vertices[copied]]),
        np.concatenate([normals, face_normals[faces]]).astype(np.float32),
        split,
        None if colors is None else np.concatenate([colors, colors[copied]]),
        None if texcoords is None else np.concatenate([texcoords, texcoords[copied]]),
        None if scalars is None else np.concatenate([scalars, scalars[copied]]),
    )


def _per_face(geometry: Geometry, face_colors: np.ndarray | None, face_scalars: np.ndarray | None) -> Geometry:
    """The triangles with vertices of their own, so that each face carries one colour or scalar."""
    corners = geometry.indices.ravel()

    def per_corner(per_vertex: np.ndarray | None, per_face: np.ndarray | None) -> np.ndarray | None:
        if per_face is not None:
            return np.repeat(per_face, 3, axis=0)
        return None if per_vertex is None else per_vertex[corners]

    return Geometry(
        geometry.positions[corners],
        geometry.normals[corners],
        np.arange(len(corners), dtype=np.uint32).reshape(-1, 3),
        per_corner(geometry.colors, face_colors),
        per_corner(geometry.texcoords, None),
        per_corner(geometry.scalars, face_scalars),
    )


def _material_image(material: Any) -> Any:
    """The colour image of a trimesh material (PBR or simple), or None."""
    for attribute in ("baseColorTexture", "image"):
        image = getattr(material, attribute, None)
        if image is not None:
            return image
    return None


# PLY properties that are positions, normals, colours or texture coordinates, not scalars to show.
_PLY_GEOMETRY = {"x", "y", "z", "nx", "ny", "nz", "red", "green", "blue", "alpha", "r", "g", "b", "a",
                 "s", "t", "u", "v", "texture_u", "texture_v", "vertex_indices", "vertex_index"}


def _ply_fields(element: Any) -> dict[str, np.ndarray]:
    """A PLY element's properties by name, as trimesh keeps them (a dict of arrays for ASCII
    files, a structured array for binary ones)."""
    data = element.get("data") if isinstance(element, dict) else None
    if isinstance(data, dict):
        return {str(k): np.asarray(v) for k, v in data.items()}
    if isinstance(data, np.ndarray) and data.dtype.names:
        return {name: data[name] for name in data.dtype.names}
    return {}


def _ply_columns(element: Any) -> dict[str, np.ndarray]:
    """A PLY element's numeric one-value properties, by name."""
    found = {}
    for name, values in _ply_fields(element).items():
        array = np.asarray(values)
        if name in _PLY_GEOMETRY or array.dtype.kind not in "biuf" or array.ndim > 2 or array.size != len(array):
            continue
        found[str(name)] = array.reshape(-1).astype(np.float32)
    return found


def _file_arrays(loaded: Any) -> dict[str, np.ndarray]:
    """The scalar arrays a loaded trimesh carries: a PLY's extra vertex and face properties (in
    the file's order), other formats' one-value vertex attributes."""
    arrays: dict[str, np.ndarray] = {}
    for name, values in getattr(loaded, "vertex_attributes", {}).items():
        array = np.asarray(values)
        if array.dtype.kind in "biuf" and array.size == len(loaded.vertices) and name != "color":
            arrays[str(name)] = array.reshape(-1).astype(np.float32)
    raw = loaded.metadata.get("_ply_raw") or {}
    arrays.update(_ply_columns(raw.get("vertex")))
    for name, values in _ply_columns(raw.get("face")).items():
        arrays[name if name not in arrays else f"{name} (faces)"] = values
    return arrays


def _as_in_file(loaded: Any) -> bool:
    """Whether trimesh kept a PLY's vertices and faces as the file has them (so its arrays line up)."""
    raw = loaded.metadata.get("_ply_raw") or {}
    data = _ply_fields(raw.get("vertex"))
    if not all(k in data for k in "xyz"):
        return True  # not a PLY: trimesh's own attributes follow its vertices
    xyz = np.column_stack([data[k].reshape(-1) for k in "xyz"])
    faces = _ply_fields(raw.get("face")).get("vertex_indices")
    same_faces = faces is None or len(faces) == len(loaded.faces)
    return xyz.shape == loaded.vertices.shape and bool(np.allclose(xyz, loaded.vertices)) and same_faces


class Mesh(ScalarShape):
    """Triangles given as numpy arrays.

    ``vertices`` is ``(N, 3)``; ``indices`` ``(M, 3)`` picks three vertices per triangle (None: each
    three consecutive vertices make one); ``normals`` ``(N, 3)`` (None: smooth normals are computed);
    ``colors`` ``(N, 3)`` or ``(N, 4)``, floats 0..1 or integers 0..255, replace the material's
    diffuse colour; ``face_colors`` ``(M, 3)`` or ``(M, 4)`` give each triangle one colour instead
    (CAD parts, per-cell results). ``texcoords`` ``(N, 2)`` place the current
    :class:`~remoteviz.rendering.texture.Texture2D` (or the mesh's own ``texture``) on the
    triangles. ``scalars`` (one per vertex or per triangle) colour the mesh through ``colormap``
    instead (see :class:`~remoteviz.rendering.scalars.ScalarShape`); per triangle, each face is
    flat. Computed normals shade smoothly except across edges sharper than
    ``crease_angle``. Assign a new array to change a field; after editing one in place, call
    :meth:`touch`.
    """

    vertices = Field(np.zeros((0, 3), np.float32), as_points, "Vertex positions, (N, 3).")
    indices = Field(None, _as_indices, "Vertex indices, three per triangle, or None.")
    normals = Field(None, _as_optional_points, "Vertex normals, (N, 3), or None to compute them.")
    colors = Field(None, as_colors, "Vertex colours as (N, 4) RGBA floats, or None.")
    face_colors = Field(None, as_colors, "Triangle colours as (M, 4) RGBA floats, or None.")
    texcoords = Field(None, _as_texcoords, "Texture coordinates, (N, 2), or None.")
    crease_angle = Field(
        math.radians(40.0), as_float, "Computed normals: edges sharper than this (radians) stay hard."
    )

    def __init__(
        self,
        vertices: npt.ArrayLike,
        indices: npt.ArrayLike | None = None,
        normals: npt.ArrayLike | None = None,
        colors: npt.ArrayLike | None = None,
        *,
        face_colors: npt.ArrayLike | None = None,
        texcoords: npt.ArrayLike | None = None,
        texture: Texture2D | None = None,
        name: str = "",
        **fields: Any,
    ) -> None:
        self._texture: Texture2D | None = None
        super().__init__(
            name=name,
            vertices=vertices,
            indices=indices,
            normals=normals,
            colors=colors,
            face_colors=face_colors,
            texcoords=texcoords,
            **fields,
        )
        self.texture = texture

    @property
    def texture(self) -> Texture2D | None:
        """The mesh's own texture, used instead of the current one; None uses the current one."""
        return self._texture

    @texture.setter
    def texture(self, texture: Texture2D | None) -> None:
        if texture is not None and not isinstance(texture, Texture2D):
            raise TypeError(f"expected a Texture2D or None, got {texture!r}")
        # The mesh holds its texture as a parent does, so that editing the texture redraws it.
        if self._texture is not None:
            self._texture._remove_parent(self)
        self._texture = texture
        if texture is not None:
            texture._add_parent(self)
        self.touch()

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], scalars: str | None = None, **load_options: Any) -> Mesh:
        """Load a mesh file with trimesh; a file holding a scene is merged into one mesh.

        ``load_options`` go to ``trimesh.load`` (``file_type=...`` for a name without extension).
        Vertex colours in the file become vertex colours, face colours face colours, and a
        textured material (glTF's base colour texture, an OBJ's ``map_Kd``) becomes the mesh's
        ``texture`` with the file's texture coordinates. A PLY's other numeric vertex and face
        properties (and the scalar vertex attributes trimesh reads from other formats) become
        :attr:`arrays`; ``scalars`` names the one to colour by (see :meth:`color_by`).
        """
        # trimesh takes a fifth of a second to import; only file loading needs it.
        import trimesh

        def load(**options: Any) -> trimesh.Trimesh:
            loaded = trimesh.load(os.fspath(path), force="mesh", **options)
            if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
                raise ValueError(f"{os.fspath(path)!r} holds no triangles")
            return loaded

        loaded = load(**load_options)
        arrays = _file_arrays(loaded)
        if arrays and "process" not in load_options and not _as_in_file(loaded):
            # trimesh merged or dropped vertices or faces: load them as the file has them, so
            # that the arrays line up.
            loaded = load(process=False, **load_options)
            arrays = _file_arrays(loaded)
        counts = (len(loaded.vertices), len(loaded.faces))
        arrays = {name: values for name, values in arrays.items() if len(values) in counts}
        mesh = cls.from_trimesh(loaded, name=os.path.basename(os.fspath(path)), arrays=arrays)
        if scalars is not None:
            mesh.color_by(scalars)
        return mesh

    @classmethod
    def from_trimesh(cls, mesh: Any, *, name: str = "", arrays: dict[str, Any] | None = None) -> Mesh:
        """A mesh from a ``trimesh.Trimesh``: its vertex or face colours, or its texture with the
        texture coordinates (a material's plain colour is the caller's, as a :class:`Material`);
        ``arrays`` are named per-vertex or per-face values to colour by (:attr:`arrays`)."""
        import trimesh

        visual = mesh.visual
        options: dict[str, Any] = {"arrays": arrays or {}}
        if isinstance(visual, trimesh.visual.ColorVisuals):
            if visual.kind == "vertex":
                options["colors"] = visual.vertex_colors
            elif visual.kind == "face":
                options["face_colors"] = visual.face_colors
        elif isinstance(visual, trimesh.visual.TextureVisuals) and visual.uv is not None:
            image = _material_image(visual.material)
            if image is not None:
                options["texcoords"] = visual.uv
                options["texture"] = Texture2D(np.asarray(image.convert("RGBA")))
        # Normals are computed here rather than by trimesh, whose smoothing needs scipy.
        return cls(mesh.vertices, mesh.faces, name=name, **options)

    def _build_geometry(self) -> Geometry:
        vertices = self.vertices
        count = len(vertices)
        indices = self.indices
        if indices is None:
            if count % 3:
                raise ValueError(f"without indices the vertex count must be a multiple of 3, got {count}")
            indices = np.arange(count, dtype=np.uint32).reshape(-1, 3)
        elif indices.size and int(indices.max()) >= count:
            raise ValueError(f"an index reaches {int(indices.max())} but there are {count} vertices")
        for label, array in (("normals", self.normals), ("colors", self.colors), ("texcoords", self.texcoords)):
            if array is not None and len(array) != count:
                raise ValueError(f"{label} has {len(array)} rows for {count} vertices")
        face_colors = self.face_colors
        if face_colors is not None and len(face_colors) != len(indices):
            raise ValueError(f"face_colors has {len(face_colors)} rows for {len(indices)} triangles")
        scalars, per_cell = self._scalars_per(count, len(indices), "triangle")
        vertex_scalars = None if per_cell else scalars
        if self.normals is not None:
            geometry = Geometry(vertices, self.normals, indices, self.colors, self.texcoords, vertex_scalars)
        else:
            geometry = _smooth_normals(
                vertices, indices, self.crease_angle, self.colors, self.texcoords, vertex_scalars
            )
        if face_colors is None and not per_cell:
            return geometry
        return _per_face(geometry, face_colors, scalars if per_cell else None)
