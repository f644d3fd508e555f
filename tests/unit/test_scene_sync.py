"""Scene buffers and who draws a view: quantization bounds, names by content, the decision table."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import remoteviz as rv
from remoteviz.protocol import RenderMode, RenderRequest
from remoteviz.scene_sync import SceneEncoder, decide
from remoteviz.scene_sync import buffers as scene_buffers
from remoteviz.scene_sync.decision import MAX_LOAD_SECONDS
from remoteviz.scene_sync.records import priorities

from ..meshes import torus


def test_quantized_positions_decode_within_half_a_step_of_their_box() -> None:
    points = np.random.default_rng(0).uniform(-1000, 5000, size=(10_000, 3)).astype(np.float32)
    buffer, quantization = scene_buffers.positions(points)
    q = np.frombuffer(zlib.decompress(buffer.deflated), "<u2").reshape(-1, 3)
    decoded = np.asarray(quantization["offset"]) + q * np.asarray(quantization["scale"])
    step = np.asarray(quantization["scale"])
    assert (np.abs(decoded - points) <= step / 2 + 1e-3).all()
    assert buffer.size == points.size * 2


def test_a_buffer_is_named_by_its_content_and_kind() -> None:
    a = np.ones((100, 3), np.float32)
    assert scene_buffers.normals(a).name == scene_buffers.normals(a.copy()).name
    assert scene_buffers.normals(a).name != scene_buffers.normals(-a).name
    assert scene_buffers.floats(np.zeros(4, np.float32)).name != scene_buffers.positions(np.zeros((2, 3)))[0].name


def test_indices_are_16_bit_when_the_vertices_allow() -> None:
    rows = np.array([[0, 1, 65535]], np.uint32)
    assert scene_buffers.indices(rows, 65536)[1] == "u16"
    assert scene_buffers.indices(rows, 65537)[1] == "u32"


def snapshot_of(*shapes: rv.Node):
    manager = rv.SceneManager()
    manager.scene_graph = rv.SceneExaminer()
    for shape in shapes:
        manager.scene_graph.add_child(shape)
    return SceneEncoder().snapshot(manager.view_frame(64, 64))


def test_a_shape_is_encoded_once_per_version() -> None:
    cone = rv.Cone()
    manager = rv.SceneManager()
    manager.scene_graph = rv.Separator([cone])
    encoder = SceneEncoder()
    first = encoder.snapshot(manager.view_frame(64, 64))
    again = encoder.snapshot(manager.view_frame(64, 64))
    assert next(iter(first.buffers.values())) is next(iter(again.buffers.values())), "cached, not re-encoded"
    cone.height = 3.0
    changed = encoder.snapshot(manager.view_frame(64, 64))
    assert set(changed.buffers) != set(first.buffers)


REQUEST = RenderRequest(RenderMode.AUTO, webgl2=True, software=False, memory_mb=8192)


@pytest.mark.parametrize("request_, allowed, bandwidth, mode, reason", [
    (REQUEST, False, 0.0, RenderMode.SERVER, "keeps this view's geometry"),
    (RenderRequest(RenderMode.SERVER, True), True, 0.0, RenderMode.SERVER, "asked for server-side"),
    (RenderRequest(RenderMode.AUTO, webgl2=False), True, 0.0, RenderMode.SERVER, "no WebGL2"),
    (RenderRequest(RenderMode.AUTO, True, software=True), True, 0.0, RenderMode.SERVER, "software"),
    (RenderRequest(RenderMode.CLIENT, True, software=True), True, 0.0, RenderMode.CLIENT, "asked for client-side"),
    (REQUEST, True, 1.0, RenderMode.SERVER, f"over {MAX_LOAD_SECONDS:g} s"),
    (RenderRequest(RenderMode.AUTO, True, memory_mb=1), True, 0.0, RenderMode.CLIENT, "fits"),
    (REQUEST, True, 1e9, RenderMode.CLIENT, "fits"),
])
def test_who_draws(request_, allowed, bandwidth, mode, reason) -> None:
    decision = decide(request_, allowed, snapshot_of(rv.Sphere()), bandwidth)
    assert decision.mode is mode and reason in decision.reason


def test_a_scene_the_page_cannot_draw_stays_server_side_even_when_asked() -> None:
    snapshot = snapshot_of(rv.Sphere(), rv.Volume(np.arange(64, dtype=np.uint8).reshape(4, 4, 4)))
    assert snapshot.unsupported == {"Volume"}
    decision = decide(RenderRequest(RenderMode.CLIENT, True), True, snapshot, 0.0)
    assert decision.mode is RenderMode.SERVER and "cannot draw" in decision.reason


def test_a_page_that_reports_little_memory_gets_big_geometry_server_side() -> None:
    big = rv.Mesh(np.random.default_rng(1).normal(size=(200_000, 3)), np.arange(600_000).reshape(-1, 3) % 200_000)
    decision = decide(RenderRequest(RenderMode.AUTO, True, memory_mb=16), True, snapshot_of(big), 0.0)
    assert decision.mode is RenderMode.SERVER and "memory" in decision.reason


def test_a_big_point_set_goes_as_shuffled_parts_each_a_fair_sample() -> None:
    from remoteviz.scene_sync.records import POINTS_PER_PART

    count = 2 * POINTS_PER_PART + 1000
    rng = np.random.default_rng(4)
    points = np.concatenate([rng.uniform(0, 1, size=(count // 2, 3)), rng.uniform(10, 11, size=(count - count // 2, 3))])
    snapshot = snapshot_of(rv.PointSet(points.astype(np.float32)))
    parts = [r for r in snapshot.records.values() if r["kind"] == "points"]
    assert [p["vertices"] for p in parts] == [POINTS_PER_PART, POINTS_PER_PART, 1000]
    decoded = []
    for part in parts:
        q = np.frombuffer(zlib.decompress(snapshot.buffers[part["positions"]].deflated), "<u2").reshape(-1, 3)
        decoded.append(np.asarray(part["quantization"]["offset"]) + q * np.asarray(part["quantization"]["scale"]))
    # Sorted points were split in halves by value: each shuffled part holds both halves alike.
    for part in decoded[:2]:
        assert abs((part[:, 0] > 5).mean() - 0.5) < 0.01
    assert sum(len(p) for p in decoded) == count


def test_what_the_camera_sees_is_sent_first_biggest_first_and_what_is_behind_it_last() -> None:
    from types import SimpleNamespace

    from remoteviz.protocol import SceneChunk, SceneUpdate
    from remoteviz.scene_sync import SceneStream
    from remoteviz.scene_sync.records import priorities

    examiner = rv.SceneExaminer()
    near = rv.Separator([rv.Transform(translation=(0, 0, 2)), rv.Sphere(radius=0.5, name="near")])
    far = rv.Separator([rv.Transform(translation=(0, 0, -20)), rv.Cube(name="far")])
    behind = rv.Separator([rv.Transform(translation=(0, 0, 30)), rv.Cone(name="behind")])
    for part in (behind, far, near):
        examiner.add_child(part)
    examiner.camera.position = (0, 0, 10)
    examiner.camera.focal_distance = 10
    manager = rv.SceneManager()
    manager.scene_graph = examiner
    snapshot = SceneEncoder().snapshot(manager.view_frame(64, 64))
    by_name = {snapshot.records[rid]["name"]: value for rid, value in priorities(snapshot, 1.0).items()}
    assert by_name["near"] > by_name["far"] > by_name["behind"]
    sent: list = []
    area = SimpleNamespace(width=64, height=64)
    stream = SceneStream(SimpleNamespace(render_area=area), lambda connection, message: sent.append(message))
    stream.update(snapshot)
    assert isinstance(sent[0], SceneUpdate)
    name_of = {name: r["name"] for r in snapshot.records.values() for name in (r["positions"], r["normals"], r["indices"])}
    order: list[str] = []
    while stream.loading:
        chunks = [m for m in sent if isinstance(m, SceneChunk)]
        sent.clear()
        for chunk in chunks:
            if not order or order[-1] != name_of[chunk.buffer]:
                order.append(name_of[chunk.buffer])
            stream.ack(chunk.chunk)
    assert order == ["near", "far", "behind"]


class Page:
    """A client-side page's stream, and what it was sent."""

    def __init__(self) -> None:
        from types import SimpleNamespace

        from remoteviz.scene_sync import SceneStream

        self.sent: list = []
        self.stream = SceneStream(SimpleNamespace(render_area=SimpleNamespace(width=64, height=64)),
                                  lambda connection, message: self.sent.append(message))


def streamed(snapshot, page: Page | None = None) -> tuple[list, list]:
    """The updates and chunks a page is sent for ``snapshot``, acknowledging every chunk."""
    from remoteviz.protocol import SceneChunk

    page = page or Page()
    sent, stream = page.sent, page.stream
    sent.clear()
    stream.update(snapshot)
    chunks: list = []
    while stream.loading:
        new = [m for m in sent if isinstance(m, SceneChunk) and m not in chunks]
        chunks.extend(new)
        for chunk in new:
            stream.ack(chunk.chunk)
    chunks.extend(m for m in sent if isinstance(m, SceneChunk) and m not in chunks)
    return [m for m in sent if not isinstance(m, SceneChunk)], chunks


def test_every_big_mesh_goes_as_its_coarse_copy_first_then_full_detail(monkeypatch) -> None:
    from remoteviz.scene_sync import coarse

    monkeypatch.setattr(coarse, "COARSE_MIN_TRIANGLES", 4000)  # small meshes, the rule of big ones
    examiner = rv.SceneExaminer()
    for x, (u, v, name) in zip((-3.0, 0.0, 3.0), [(80, 40, "big"), (60, 40, "bigger"), (20, 10, "small")], strict=True):
        examiner.add_child(rv.Separator([rv.Transform(translation=(x, 0, 0)), torus(u, v, name)]))
    manager = rv.SceneManager()
    manager.scene_graph = examiner
    examiner.view_all(rv.Viewport(64, 64))
    snapshot = SceneEncoder(coarse=True).snapshot(manager.view_frame(64, 64))
    records = {r["name"]: r for r in snapshot.records.values()}
    assert "coarse" not in records["small"], "a mesh under the size has no coarse copy"
    _, chunks = streamed(snapshot)
    order = [c.buffer for c in chunks]
    full_of_big = [n for name in ("big", "bigger") for n in
                   (records[name]["positions"], records[name]["normals"], records[name]["indices"])]
    first_full = min(order.index(n) for n in full_of_big)
    for name in ("big", "bigger"):
        record, copy = records[name], records[name]["coarse"]
        assert copy["count"] <= record["count"] // 4 and copy["vertices"] < record["vertices"]
        copy_names = [copy["positions"], copy["normals"], copy["indices"]]
        assert max(order.index(n) for n in copy_names) < first_full, f"{name}: coarse copies before any full detail"
        q = np.frombuffer(zlib.decompress(snapshot.buffers[copy["positions"]].deflated), "<u2").reshape(-1, 3)
        decoded = np.asarray(copy["quantization"]["offset"]) + q * np.asarray(copy["quantization"]["scale"])
        # The copy lies on the torus: its points are 0.35 from the ring of radius 1.
        radial = np.hypot(decoded[:, 0], decoded[:, 2]) - 1.0
        assert np.abs(np.hypot(radial, decoded[:, 1]) - 0.35).max() < 0.05
    # The small mesh, whole, is part of the first picture too: before any big mesh's full detail.
    assert max(order.index(n) for n in (records["small"]["positions"], records["small"]["indices"])) < first_full
    assert len(order) == len(set(order)) == len(snapshot.buffers), "each buffer once"


def test_a_big_mesh_goes_as_its_copy_alone_while_its_full_detail_is_encoded_then_the_rest(monkeypatch) -> None:
    import concurrent.futures
    import threading

    from remoteviz.scene_sync import coarse, records

    monkeypatch.setattr(coarse, "COARSE_MIN_TRIANGLES", 4000)
    encoding = threading.Event()
    release = threading.Event()
    encode = records._encode_geometry

    def held(shape, geometry):  # the full detail's encoding waits until the test lets it go
        encoding.set()
        assert release.wait(60)
        return encode(shape, geometry)

    monkeypatch.setattr(records, "_encode_geometry", held)
    done = threading.Semaphore(0)
    executor = concurrent.futures.ThreadPoolExecutor(1)
    encoder = SceneEncoder(executor, done.release, coarse=True)
    manager = rv.SceneManager()
    mesh = torus(80, 40, "big")
    manager.scene_graph = rv.Separator([mesh])
    frame = manager.view_frame(64, 64)
    try:
        first = encoder.snapshot(frame)  # the copy may be made already (it is small), the full detail not
        assert (first.pending, first.provisional) in ((1, 0), (0, 1))
        assert encoding.wait(60), "the copy was made first, then the full detail began"
        early = encoder.snapshot(frame)
        record = next(iter(early.records.values()))
        assert early.pending == 0 and early.provisional == 1 and record["provisional"] is True
        assert "coarse" not in record and record["count"] <= 80 * 40 * 2 * 3 // 4
        vertices = 80 * 40
        assert early.raw_bytes == sum(b.size for b in early.buffers.values()) + 9 * vertices + 80 * 40 * 2 * 3 * 2
        page = Page()
        updates, chunks = streamed(early, page)
        assert {c.buffer for c in chunks} == set(early.buffers), "the copy alone"
        release.set()
        deadline = 60.0
        while not encoder.snapshot(frame).records[record["id"]].get("coarse"):
            assert done.acquire(timeout=deadline), "the full detail was never encoded"
        later = encoder.snapshot(frame)
        full = later.records[record["id"]]
        assert "provisional" not in full and full["coarse"] == {k: record[k] for k in full["coarse"]}
        assert full["count"] == 80 * 40 * 2 * 3 and later.provisional == 0
        updates, chunks = streamed(later, page)
        names = {full[k] for k in ("positions", "normals", "indices")}
        assert set(updates[0].buffers) == names == {c.buffer for c in chunks}, "the full detail, not the copy again"
    finally:
        release.set()
        executor.shutdown()


def test_closing_the_encoder_drops_what_has_not_begun_and_a_later_snapshot_starts_it_afresh(monkeypatch) -> None:
    import concurrent.futures
    import threading

    from remoteviz.scene_sync import coarse, records

    monkeypatch.setattr(coarse, "COARSE_MIN_TRIANGLES", 4000)
    calls: list[str] = []
    encode, copy = records._encode_geometry, records.clustered_copy
    monkeypatch.setattr(records, "_encode_geometry", lambda *a: calls.append("encode") or encode(*a))
    monkeypatch.setattr(records, "clustered_copy", lambda *a: calls.append("copy") or copy(*a))
    executor = concurrent.futures.ThreadPoolExecutor(1)
    busy = threading.Event()
    executor.submit(busy.wait, 60)  # the encoder's thread is busy: what is queued waits
    done = threading.Semaphore(0)
    encoder = SceneEncoder(executor, done.release, coarse=True)
    manager = rv.SceneManager()
    manager.scene_graph = rv.Separator([torus(80, 40, "big")])
    frame = manager.view_frame(64, 64)
    try:
        assert encoder.snapshot(frame).pending == 1
        encoder.close()
        busy.set()
        executor.submit(lambda: None).result(timeout=60)  # what was queued before it has run, or never will
        assert calls == [], "the copy and the encoding queued were dropped"
        assert encoder.snapshot(frame).pending == 1, "a later snapshot starts them again"
        while encoder.snapshot(frame).provisional or encoder.snapshot(frame).pending:
            assert done.acquire(timeout=60), "the encoding started afresh never ended"
        record = next(iter(encoder.snapshot(frame).records.values()))
        assert record["count"] == 80 * 40 * 2 * 3 and "coarse" in record and calls == ["copy", "encode"]
    finally:
        busy.set()
        executor.shutdown()


def test_a_coarse_copy_made_after_its_full_detail_went_is_not_sent(monkeypatch) -> None:
    from remoteviz.protocol import SceneUpdate
    from remoteviz.scene_sync import coarse

    monkeypatch.setattr(coarse, "COARSE_MIN_TRIANGLES", 4000)
    manager = rv.SceneManager()
    manager.scene_graph = rv.Separator([torus(80, 40, "big")])
    frame = manager.view_frame(64, 64)
    without, with_copy = SceneEncoder().snapshot(frame), SceneEncoder(coarse=True).snapshot(frame)
    record = next(iter(with_copy.records.values()))
    assert "coarse" in record and "coarse" not in next(iter(without.records.values()))
    page = Page()
    streamed(without, page)
    updates, chunks = streamed(with_copy, page)
    assert isinstance(updates[0], SceneUpdate) and updates[0].records == [record], "the record names its copy"
    assert updates[0].buffers == {} and chunks == [], "the page already holds the full detail"


def test_point_set_parts_go_in_order_each_whole_before_the_next_so_any_prefix_is_a_fair_sample() -> None:
    from remoteviz.scene_sync.records import POINTS_PER_PART

    count = 3 * POINTS_PER_PART
    rng = np.random.default_rng(5)
    points = np.sort(rng.uniform(0, 1, size=(count, 3)).astype(np.float32), axis=0)  # sorted: a prefix of the
    snapshot = snapshot_of(rv.PointSet(points))                                       # input is not a sample
    parts = sorted((r for r in snapshot.records.values()), key=lambda r: r["part"])
    assert [(p["part"], p["parts"]) for p in parts] == [(0, 3), (1, 3), (2, 3)]
    _, chunks = streamed(snapshot)
    complete = {c.buffer: i for i, c in enumerate(chunks) if c.offset + len(c.payload) == c.total}
    whole = [max(complete[p["positions"]], complete[p["sizes"]]) for p in parts]  # (equal sizes share a buffer)
    started = [min(i for i, c in enumerate(chunks) if c.buffer == p["positions"]) for p in parts]
    assert whole[0] < started[1] and whole[1] < started[2], "each part whole, in order"
    # Any prefix of the parts is a fair sample: the first part alone has the whole's spread.
    q = np.frombuffer(zlib.decompress(snapshot.buffers[parts[0]["positions"]].deflated), "<u2").reshape(-1, 3)
    first = np.asarray(parts[0]["quantization"]["offset"]) + q * np.asarray(parts[0]["quantization"]["scale"])
    assert np.allclose(np.percentile(first, [10, 50, 90], axis=0), np.percentile(points, [10, 50, 90], axis=0),
                       atol=0.01)


def test_a_clustered_copy_has_at_most_its_triangles_lies_on_the_surface_and_has_unit_normals() -> None:
    import trimesh

    from remoteviz.scene_sync.coarse import cluster, clustered_copy

    def sphere_outward(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The unit sphere's distance from ``p``, and its outward normal there."""
        radius = np.linalg.norm(p, axis=1)
        return np.abs(radius - 1.0), p / radius[:, None]

    def torus_outward(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The torus's (ring 1, tube 0.35) distance from ``p``, and its outward normal there."""
        ring = np.hypot(p[:, 0], p[:, 2])
        centre = np.stack([p[:, 0] / ring, np.zeros(len(p)), p[:, 2] / ring], axis=1)
        away = p - centre
        tube = np.linalg.norm(away, axis=1)
        return np.abs(tube - 0.35), away / tube[:, None]

    sphere = trimesh.creation.icosphere(subdivisions=6)  # 81,920 triangles
    for mesh, surface in ((rv.Mesh(sphere.vertices, sphere.faces), sphere_outward),
                          (torus(300, 100, "ring"), torus_outward)):
        geometry = mesh.geometry
        chord = surface(geometry.positions[geometry.indices].mean(axis=1))[0].max()  # the mesh's own error
        for triangles in (20_000, 3_000):
            copy = clustered_copy(geometry, triangles)
            assert triangles // 3 < len(copy.indices) <= triangles, "at most the target, and not far under it"
            assert copy.indices.max() < len(copy.positions) == len(np.unique(copy.indices))
            assert np.allclose(np.linalg.norm(copy.normals, axis=1), 1.0, atol=1e-5)
            rows = np.sort(copy.indices, axis=1)
            assert len(np.unique(rows, axis=0)) == len(rows), "no triangle twice"
            assert (rows[:, 0] != rows[:, 1]).all() and (rows[:, 1] != rows[:, 2]).all(), "no degenerate triangle"
            # The normals are the surface's, all facing one side of it (the side the mesh's own face).
            facing = np.einsum("ij,ij->i", copy.normals, surface(copy.positions)[1])
            assert max((facing > 0.9).mean(), (facing < -0.9).mean()) > 0.95
        for cell in (0.05, 0.2):
            distance = surface(cluster(geometry, cell).positions)[0]
            assert distance.max() <= np.sqrt(3) * cell + chord, "each vertex within a cell's diagonal of the surface"
            assert distance.max() > chord, "the copy's vertices moved: it is not the mesh itself"


def test_a_text_label_is_a_record_of_its_own_with_the_servers_layout_and_no_buffers() -> None:
    label = rv.Text2D("Hi\nthere", position=(1.0, 2.0, 3.0), offset=(5.0, -2.0), font_size=20, color=(1, 0, 0),
                      background=None)
    fixed = rv.Text2D("corner", screen_position=(7.0, 9.0))
    moved = rv.Separator([rv.Transform(translation=(10.0, 0.0, 0.0)), label])
    snapshot = snapshot_of(rv.Sphere(), moved, fixed)
    assert snapshot.unsupported == set()
    labels = {r["text"]: r for r in snapshot.records.values() if r["kind"] == "label"}
    assert set(labels) == {"Hi\nthere", "corner"}
    anchored, on_screen = labels["Hi\nthere"], labels["corner"]
    world = np.asarray(anchored["model"]).reshape(4, 4).T @ np.append(anchored["position"], 1.0)
    assert world[:3].tolist() == [11.0, 2.0, 3.0]
    assert anchored["box"] == [[11.0, 2.0, 3.0], [11.0, 2.0, 3.0]]
    assert anchored["offset"] == [5.0, -2.0] and anchored["screen_position"] is None
    assert anchored["color"] == [1.0, 0.0, 0.0] and anchored["background"] is None and anchored["font_size"] == 20
    # The layout is the server's picture's: its size, the first baseline inside it, the line spacing.
    picture = label.geometry.image
    assert anchored["size"] == [picture.shape[1], picture.shape[0]]
    rows = np.flatnonzero(picture[..., 3].max(axis=1) > 0)
    assert rows[0] < anchored["baseline"] < rows[-1]  # the first line's ink sits on its baseline
    assert anchored["baseline"] + anchored["line_height"] <= picture.shape[0]
    assert 20 <= anchored["line_height"] <= 32
    # A label fixed on the screen has no box (it bounds nothing) and goes all the same.
    assert on_screen["box"] is None and on_screen["screen_position"] == [7.0, 9.0]
    assert on_screen["background"] == [0.0, 0.0, 0.0] and on_screen["background_opacity"] == pytest.approx(0.6)
    assert not any(name in snapshot.buffers for r in labels.values() for name in r.values() if isinstance(name, str))
    assert set(priorities(snapshot, 1.0)) == set(snapshot.records)


def quadrants(size: int = 8) -> np.ndarray:
    """An RGBA image whose four quadrants differ (top-left red, top-right green, bottom-left blue,
    bottom-right white): a flip or a mirror changes it."""
    image = np.zeros((size, size, 4), np.uint8)
    image[..., 3] = 255
    half = size // 2
    image[:half, :half, 0] = 255
    image[:half, half:, 1] = 255
    image[half:, :half, 2] = 255
    image[half:, half:, :3] = 255
    return image


def test_a_textured_mesh_sends_its_coordinates_and_its_image_bottom_row_first() -> None:
    image = quadrants()
    snapshot = snapshot_of(rv.ImagePlane(image, filter="nearest"))
    assert not snapshot.unsupported
    (record,) = snapshot.records.values()
    texture = record["texture"]
    assert (texture["width"], texture["height"], texture["filter"]) == (8, 8, "nearest")
    pixels = np.frombuffer(scene_buffers.inflate(snapshot.buffers[texture["image"]]), np.uint8).reshape(8, 8, 4)
    assert np.array_equal(pixels, image[::-1]), "the first row sent is the image's bottom one (texture v = 0)"
    coords = np.frombuffer(scene_buffers.inflate(snapshot.buffers[record["texcoords"]]), "<f4").reshape(-1, 2)
    assert coords.tolist() == [[0, 0], [1, 0], [1, 1], [0, 1]]


def test_a_texture_shared_by_meshes_is_one_buffer_and_an_untextured_mesh_sends_no_coordinates() -> None:
    texture = rv.Texture2D(quadrants(16))
    coords = np.array([[0, 0], [2, 0], [0, 2]], np.float32)  # outside 0..1: the image repeats
    triangle = rv.Mesh(np.eye(3), [[0, 1, 2]], texcoords=coords)
    moved = rv.Mesh(np.eye(3) + 2, [[0, 1, 2]], texcoords=coords)
    bare = rv.Mesh(np.eye(3) - 2, [[0, 1, 2]], texcoords=coords)
    snapshot = snapshot_of(rv.Separator([texture, triangle, moved]), bare)
    textured = [r for r in snapshot.records.values() if "texture" in r]
    assert len(textured) == 2 and textured[0]["texture"] == textured[1]["texture"]
    assert [b.kind for b in snapshot.buffers.values()].count("img8") == 1, "the shared image is one buffer"
    (plain,) = [r for r in snapshot.records.values() if "texture" not in r]
    assert "texcoords" not in plain
    sent = np.frombuffer(scene_buffers.inflate(snapshot.buffers[textured[0]["texcoords"]]), "<f4").reshape(-1, 2)
    assert np.array_equal(sent, coords), "coordinates outside 0..1 are kept as they are"


def test_a_texture_over_the_page_limit_stays_server_side_with_the_reason() -> None:
    from remoteviz.scene_sync.records import MAX_TEXTURE_SIDE

    snapshot = snapshot_of(rv.ImagePlane(np.zeros((2, MAX_TEXTURE_SIDE + 1), np.uint8)))
    assert not snapshot.records
    decision = decide(RenderRequest(RenderMode.CLIENT, True), True, snapshot, 0.0)
    assert decision.mode is RenderMode.SERVER and f"a texture over {MAX_TEXTURE_SIDE} pixels" in decision.reason


def test_a_big_textured_mesh_goes_in_full_detail_only_and_its_untextured_instance_gets_its_copy(monkeypatch) -> None:
    from remoteviz.scene_sync import coarse

    monkeypatch.setattr(coarse, "COARSE_MIN_TRIANGLES", 4000)
    u, v = np.meshgrid(np.linspace(0, 1, 80), np.linspace(0, 1, 40))
    points = np.stack([u, v, 0.1 * np.sin(6 * u)], axis=-1).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(79), np.arange(39))
    a, b, c, d = j * 80 + i, j * 80 + i + 1, (j + 1) * 80 + i, (j + 1) * 80 + i + 1
    faces = np.concatenate([np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)])
    sheet = rv.Mesh(points, faces, texcoords=np.stack([u, v], axis=-1).reshape(-1, 2))
    manager = rv.SceneManager()
    manager.scene_graph = rv.Separator([rv.Separator([rv.Texture2D(quadrants()), sheet]), rv.Separator([sheet])])
    snapshot = SceneEncoder(coarse=True).snapshot(manager.view_frame(64, 64))
    textured, plain = sorted(snapshot.records.values(), key=lambda r: "texture" not in r)
    assert "texture" in textured and "texcoords" in textured
    assert "coarse" not in textured, "a copy has no texture coordinates: the textured mesh is drawn in full detail"
    assert "coarse" in plain and "texcoords" not in plain and "texture" not in plain


def test_a_page_is_sent_a_shared_image_once_and_after_a_new_image_only_that() -> None:
    texture = rv.Texture2D(quadrants(16))
    coords = np.array([[0, 0], [1, 0], [0, 1]], np.float32)
    first = rv.Mesh(np.eye(3), [[0, 1, 2]], texcoords=coords)
    second = rv.Mesh(np.eye(3) + 2, [[0, 1, 2]], texcoords=coords)
    manager = rv.SceneManager()
    manager.scene_graph = rv.SceneExaminer()
    manager.scene_graph.add_child(rv.Separator([texture, first, second]))
    encoder, page = SceneEncoder(), Page()
    snapshot = encoder.snapshot(manager.view_frame(64, 64))
    image = next(r["texture"]["image"] for r in snapshot.records.values())
    _, chunks = streamed(snapshot, page)
    assert sorted({c.buffer for c in chunks}) == sorted(snapshot.buffers) and image in snapshot.buffers
    assert sum(c.total for c in chunks if c.buffer == image and c.offset == 0) == len(snapshot.buffers[image].deflated)
    texture.image = quadrants(16)[::-1]
    changed = encoder.snapshot(manager.view_frame(64, 64))
    updates, chunks = streamed(changed, page)
    (new_image,) = {r["texture"]["image"] for r in changed.records.values()}
    assert new_image != image
    assert {c.buffer for c in chunks} == set(updates[0].buffers) == {new_image}, "the new image alone, once"
    assert len(updates[0].records) == 2, "both records changed (their texture field)"
