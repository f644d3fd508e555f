"""The service's side of client-side rendering: who may get geometry, and what each page is sent.

One :class:`SceneStream` per connection that draws client-side: the records it was sent, the
buffers it holds, and its buffer chunks on their way under a window of unacknowledged chunks
(``scene_ack``), so that pings, frames, acks, app messages and input keep flowing while a big
model loads. :class:`SceneStreams` (one per service, dispatch thread) answers ``render`` requests,
takes ``scene_ack`` and ``camera`` messages, and after each dispatch sends every client-side page
what changed in its area's scene: the records that changed, the buffers it lacks (a buffer is
named by its hash: one the page holds is never sent again), and the camera when something other
than the page's own ``camera`` messages moved it.

Navigation runs in the page while the scene's root is a :class:`SceneExaminer` in NAVIGATION mode
(each update says so in ``navigation``): the page moves its camera itself and sends it in ``camera``
messages, which the service's camera takes, so the service stays the truth for its listeners, its
picking, server-side viewers and other pages. A camera moved from one the service has replaced
since (application code, another viewer) is stale and ignored: the page takes the service's.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from remoteviz.listeners import FAILED, call_all
from remoteviz.protocol import (
    MAX_SCENE_CHUNK,
    CameraState,
    ClientMessage,
    ProtocolError,
    RenderDecision,
    RenderMode,
    RenderRequest,
    SceneAck,
    SceneChunk,
    SceneUpdate,
    ServiceMessage,
)
from remoteviz.scene_sync.buffers import Buffer
from remoteviz.scene_sync.decision import decide
from remoteviz.scene_sync.records import SceneEncoder, Snapshot, camera_fields, priorities

if TYPE_CHECKING:
    from remoteviz.connection import Connection
    from remoteviz.render_area import RenderArea
    from remoteviz.rendering.nodes import Node

log = logging.getLogger("remoteviz.service")

_IDENTITY: np.ndarray = np.eye(4)

CHUNK_WINDOW = 4
"""Scene chunks a page may have unacknowledged: 1 MiB in flight at most, then each ack sends one more."""

Send = Callable[["Connection", ServiceMessage], None]


class SceneStream:
    """What one client-side page holds of its area's scene, and what is on its way to it."""

    def __init__(self, connection: Connection, send: Send, loaded: Callable[[], None] | None = None) -> None:
        """``loaded`` is called once, when the first update's buffers have all been acknowledged."""
        self.connection = connection
        self._send = send
        self._on_loaded = loaded
        self.loaded = False
        """Whether the page has held the whole scene once (it draws it from then on)."""
        self._records: dict[str, dict[str, Any]] = {}
        self._held: set[str] = set()  # buffers sent or queued: the page has them, or will
        self._camera: dict[str, Any] | None = None
        self._camera_seq = 0  # the last update that carried a camera
        self._reorder = False  # the page moved the camera while buffers wait: they follow it
        self._extra: dict[str, Any] | None = None  # what the last update said besides records and camera
        self._seq = 0
        self._queue: list[Buffer] = []  # the buffers still to send (or to finish), the first to go first
        # How far the buffers begun are sent: a re-sort (a coarse copy, the camera) may put another
        # first, and a buffer goes on where it was (a chunk says where its piece goes).
        self._sent: dict[str, int] = {}
        self._in_flight: set[int] = set()
        self._next_chunk = 1

    def update(self, snapshot: Snapshot) -> None:
        """Send what changed since the last update (everything, the first time)."""
        if self._reorder:
            self._reorder = False
            if self._queue:
                self._order(snapshot)  # under the page's camera, which the snapshot's is now
        full = self._seq == 0
        changed = [r for rid, r in snapshot.records.items() if self._records.get(rid) != r]
        removed = [rid for rid in self._records if rid not in snapshot.records]
        camera = snapshot.extra["camera"]
        moved = self._camera is None or not _same_camera(self._camera, camera)
        extra = {key: value for key, value in snapshot.extra.items() if key != "camera"}
        if not (full or changed or removed or moved or extra != self._extra):
            return
        referenced = {name for record in snapshot.records.values()
                      for name in (*_buffer_names(record), *_coarse_names(record))}
        needed = {name: len(snapshot.buffers[name].deflated) for name in sorted(self._wanted(snapshot) - self._held)}
        self._seq += 1
        # The camera goes only when it moved: a page navigating itself takes every camera it is sent.
        self._send(self.connection, SceneUpdate(self._seq, full, changed, removed, needed,
                                                {**extra, "camera": camera} if moved else extra))
        if moved:
            self._camera_seq = self._seq
        self._records = dict(snapshot.records)
        self._extra = extra
        self._camera = camera
        # The page keeps only the buffers its records name; so does this record of it.
        self._held &= referenced
        self._sent = {name: offset for name, offset in self._sent.items() if name in referenced}
        self._queue = [b for b in self._queue if b.name in referenced] + [snapshot.buffers[n] for n in needed]
        self._held.update(needed)
        if self._queue and (moved or needed):
            self._order(snapshot)
        self._pump()

    def _wanted(self, snapshot: Snapshot) -> set[str]:
        """The buffers the page should hold: every record's, and a big mesh's coarse copy while its
        full detail has yet to go (a copy made after the full detail went, as the first page of a
        model that is still being decimated sees, is not sent)."""
        queued = {b.name for b in self._queue}
        wanted: set[str] = set()
        for record in snapshot.records.values():
            full = _buffer_names(record)
            wanted.update(full)
            if any(name not in self._held or name in queued for name in full):
                wanted.update(_coarse_names(record))
        return wanted

    def _order(self, snapshot: Snapshot) -> None:
        """First what makes a picture of the whole scene: each big mesh's coarse copy, the first
        part of each big point set, every other record whole; then the rest (full detail, the
        other parts). Within each, what the camera sees first, biggest on screen first, what is
        outside the view last, a record's buffers together. Redone as the camera moves."""
        aspect = self.connection.render_area.width / max(1, self.connection.render_area.height)
        by_record = priorities(snapshot, aspect)
        ranked = sorted(snapshot.records.items(), key=lambda item: (-by_record[item[0]], item[1].get("part", 0), item[0]))
        place: dict[str, tuple[int, int]] = {}
        for position, (_, record) in enumerate(ranked):
            full = _buffer_names(record)
            first = _coarse_names(record) or (full if record.get("part", 0) == 0 else [])
            for tier, names in ((0, first), (1, full)):
                for name in names:
                    place[name] = min(place.get(name, (2, 0)), (tier, position))
        self._queue.sort(key=lambda b: place.get(b.name, (2, 0)))

    def takes_camera(self, seq: int | None) -> bool:
        """Whether a camera the page moved after update ``seq`` (None: unknown) is still news: not
        when the service has sent it another camera since, which the page takes instead."""
        return seq is None or seq >= self._camera_seq

    def camera_from_page(self, fields: dict[str, Any]) -> None:
        """The page moved the camera itself: it need not be told of that camera, but what is still
        to send follows it."""
        self._camera = fields
        self._reorder = True

    def ack(self, chunk: int) -> None:
        """The page holds ``chunk``: send the next one."""
        if chunk not in self._in_flight:
            raise ProtocolError(f"scene_ack names chunk {chunk}, which is not on its way")
        self._in_flight.discard(chunk)
        self._pump()

    @property
    def loading(self) -> bool:
        """Whether buffers are still on their way."""
        return bool(self._queue or self._in_flight)

    def _pump(self) -> None:
        while self._queue and len(self._in_flight) < CHUNK_WINDOW:
            buffer = self._queue[0]
            offset = self._sent.pop(buffer.name, 0)
            payload = memoryview(buffer.deflated)[offset:offset + MAX_SCENE_CHUNK]
            end = offset + len(payload)
            if end < len(buffer.deflated):
                self._sent[buffer.name] = end
            else:
                self._queue.pop(0)
            chunk = self._next_chunk
            self._next_chunk = chunk + 1 if chunk < 2**32 - 1 else 1
            self._in_flight.add(chunk)
            self._send(self.connection, SceneChunk(chunk, buffer.name, offset, len(buffer.deflated), payload))
        if not self.loaded and not self.loading:
            self.loaded = True
            if self._on_loaded is not None:
                self._on_loaded()


def _buffer_names(record: dict[str, Any]) -> list[str]:
    """The buffers of a record's full detail."""
    names = [record[key] for key in ("positions", "normals", "indices", "colors", "sizes", "texcoords") if record.get(key)]
    return [*names, record["texture"]["image"]] if record.get("texture") else names


def _coarse_names(record: dict[str, Any]) -> list[str]:
    """The buffers of a record's coarse copy (none for most)."""
    coarse = record.get("coarse")
    return _buffer_names(coarse) if coarse else []


def _same_camera(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two camera records place the camera alike (to float noise: a page's camera read back)."""
    if a["orthographic"] != b["orthographic"]:
        return False
    numbers_a = [*a["position"], *a["orientation"], a["focal_distance"], a["height"], *a["model"]]
    numbers_b = [*b["position"], *b["orientation"], b["focal_distance"], b["height"], *b["model"]]
    scale = max(1.0, *(abs(v) for v in numbers_a))
    return all(abs(x - y) <= 1e-9 * scale for x, y in zip(numbers_a, numbers_b, strict=True))


class _AreaScene:
    """One area's scene as the streams see it: whether it changed since the last look (its nodes,
    or its examiner's interaction mode, which decides where navigation runs)."""

    def __init__(self) -> None:
        self.root: Node | None = None
        self.dirty = True

    def watch(self, root: Node | None) -> None:
        from remoteviz.rendering.examiner import SceneExaminer

        if root is self.root:
            return
        if self.root is not None:
            self.root.remove_observer(self._changed)
            if isinstance(self.root, SceneExaminer):
                self.root.remove_mode_listener(self._changed)
        self.root = root
        if root is not None:
            root.add_observer(self._changed)
            if isinstance(root, SceneExaminer):
                root.add_mode_listener(self._changed)
        self.dirty = True

    def _changed(self, *_: Any) -> None:
        self.dirty = True


class SceneStreams:
    """Every client-side page of a service (dispatch thread)."""

    def __init__(self, send: Send, post: Callable[..., None],
                 frames: Callable[[Connection, bool], None] | None = None) -> None:
        """``post`` hands a call to the dispatch thread (from the encoding thread); ``frames(connection,
        wanted)`` stops or resumes a connection's frames: they stop once its page holds the whole
        scene (it draws it), and resume when it goes back to frames."""
        self._send = send
        self._frames = frames
        self._streams: dict[Connection, SceneStream] = {}
        self._areas: dict[RenderArea, _AreaScene] = {}
        self._waiting: dict[Connection, RenderRequest] = {}  # asked while their scene is being encoded
        # One encoder for every area, on a thread of its own (a million triangles take seconds to
        # deflate, which the dispatch thread must not wait for): a shape shown in several areas,
        # or in an area made anew for each viewer, is encoded once per version.
        self._encoder = SceneEncoder(
            concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="remoteviz-scene-encoder"),
            lambda: post(self._encoded), coarse=True)

    def close(self) -> None:
        """The service closes: stop making coarse copies."""
        self._encoder.close()

    def stream(self, connection: Connection) -> SceneStream | None:
        """The page's stream while it draws client-side, else None."""
        return self._streams.get(connection)

    def handle(self, area: RenderArea, connection: Connection, message: ClientMessage, allowed: bool) -> None:
        """A page's client-side rendering message (``render``, ``sceneAck``, ``camera``); ``allowed``:
        the service has a scene to send (INDEPENDENT_SERVICE mode draws the application's frames)."""
        match message:
            case RenderRequest() if allowed:
                self.request(area, connection, message)
            case RenderRequest():
                self.refuse(connection, "the application draws its own frames")
            case SceneAck(chunk=chunk):
                self.ack(connection, chunk)
            case CameraState():
                self.camera(area, connection, message)

    def request(self, area: RenderArea, connection: Connection, request: RenderRequest) -> None:
        """The page asked who should draw its view: answer, and start or stop its stream."""
        self._waiting.pop(connection, None)
        allowed = _allowed(area, connection)
        snapshot = self._snapshot(area) if allowed and request.mode is not RenderMode.SERVER else None
        # Answered once the scene is encoded, or for ``client`` as soon as each big mesh's coarse
        # copy is made (the rest follows in a later update); ``auto`` weighs the full detail's bytes.
        if snapshot is not None and (snapshot.pending or (snapshot.provisional and request.mode is not RenderMode.CLIENT)):
            self._waiting[connection] = request
            return
        decision = decide(request, allowed, snapshot, connection.client.settings.bandwidth)
        self._send(connection, RenderDecision(decision.mode, decision.reason))
        if decision.mode is RenderMode.SERVER:
            self._stop(connection)
            return
        log.info("%r draws client-side: %s", connection, decision.reason)
        stream = self._streams.get(connection)
        if stream is None:
            stream = self._streams[connection] = SceneStream(
                connection, self._send, lambda: self._frames(connection, False) if self._frames else None)
        assert snapshot is not None
        stream.update(snapshot)

    def refuse(self, connection: Connection, reason: str) -> None:
        """Answer a page's ``render`` request with server-side rendering, for ``reason``."""
        self._stop(connection)
        self._send(connection, RenderDecision(RenderMode.SERVER, reason))

    def _stop(self, connection: Connection) -> None:
        """The page goes back to frames: they resume, starting with a fresh one."""
        stream = self._streams.pop(connection, None)
        if stream is None:
            return
        if stream.loaded and self._frames is not None and connection.state.live:
            self._frames(connection, True)
        connection.render_area.request_redraw()

    def ack(self, connection: Connection, chunk: int) -> None:
        """The page acknowledged a scene chunk."""
        stream = self._streams.get(connection)
        if stream is None:
            raise ProtocolError("scene_ack from a page that draws server-side")
        stream.ack(chunk)

    def camera(self, area: RenderArea, connection: Connection, state: CameraState) -> None:
        """The page's camera after its own navigation: the scene's camera takes it (the truth stays
        the service's, so listeners, server-side viewers and app code see it)."""
        stream = self._streams.get(connection)
        if stream is None:
            raise ProtocolError("camera from a page that draws server-side")
        if not stream.takes_camera(state.seq):
            return  # moved from a camera the service has replaced since: the page takes the service's
        from remoteviz.rendering.camera import OrthographicCamera, PerspectiveCamera
        from remoteviz.rendering.examiner import SceneExaminer
        from remoteviz.rendering.math3d import Rotation

        scene = self._areas.get(area)
        unchanged = scene is not None and not scene.dirty and scene.root is area.scene_manager.scene_graph
        root = area.scene_manager.scene_graph
        if isinstance(root, SceneExaminer) and not root.has_home:
            root.save_home()  # what Home comes back to: the view before navigation first moved it, as ever
        model: np.ndarray
        if isinstance(root, SceneExaminer):
            camera, model = root.camera, _IDENTITY  # the root's camera, under no transform
        else:
            frame = area.scene_manager.view_frame(area.width, area.height)
            camera, model = frame.camera, frame.camera_model
        camera.position = state.position
        camera.orientation = Rotation(*state.orientation)
        camera.focal_distance = state.focal_distance
        if isinstance(camera, OrthographicCamera) and state.orthographic:
            camera.height = state.height
        elif isinstance(camera, PerspectiveCamera) and not state.orthographic:
            camera.height_angle = state.height
        stream.camera_from_page(camera_fields(camera, model))
        if unchanged and not stream.loading and all(
                other is stream for c, other in self._streams.items() if c.render_area is area):
            # Only the camera moved, and the one page that draws the area moved it: nothing to send.
            assert scene is not None
            scene.dirty = False

    def _encoded(self) -> None:
        """Dispatch thread: a shape was encoded; every area looks again, and the pages that asked
        while it was encoded get their answer."""
        for scene in self._areas.values():
            scene.dirty = True
        for connection, request in list(self._waiting.items()):
            if connection.state.live:
                self.request(connection.render_area, connection, request)
            else:
                del self._waiting[connection]

    def flush(self) -> None:
        """Send each client-side page what changed in its area's scene since the last flush."""
        for connection in [c for c in self._streams if not c.state.live]:
            del self._streams[connection]
        for connection in [c for c in self._waiting if not c.state.live]:
            del self._waiting[connection]
        by_area: dict[RenderArea, list[SceneStream]] = collections.defaultdict(list)
        for connection, stream in self._streams.items():
            by_area[connection.render_area].append(stream)
        waiting_areas = {c.render_area for c in self._waiting}
        for area in [a for a in self._areas if a not in by_area and a not in waiting_areas]:
            self._areas.pop(area).watch(None)
        for area, streams in by_area.items():
            scene = self._areas.get(area)
            if scene is not None and not scene.dirty and scene.root is area.scene_manager.scene_graph:
                continue
            snapshot = self._snapshot(area)
            if snapshot is None:
                continue
            for stream in streams:
                stream.update(snapshot)

    def _snapshot(self, area: RenderArea) -> Snapshot | None:
        if area.is_disposed or area.scene_manager.scene_graph is None:
            return None
        scene = self._areas.get(area)
        if scene is None:
            scene = self._areas[area] = _AreaScene()
        scene.watch(area.scene_manager.scene_graph)
        scene.dirty = False
        try:
            snapshot = self._encoder.snapshot(area.scene_manager.view_frame(area.width, area.height))
        except Exception:
            log.exception("the scene of %r could not be sent to its client-side pages", area)
            return None
        snapshot.extra["navigation"] = _navigation(area)
        return snapshot


def _navigation(area: RenderArea) -> str:
    """Where the area's navigation runs for a page that draws it: ``"page"`` while the scene's root
    is a SceneExaminer in NAVIGATION mode (the page's examiner is its port), else ``"service"``
    (selection mode, a scene without an examiner: every event goes to the service, as with frames)."""
    from remoteviz.rendering.examiner import InteractionMode, SceneExaminer

    root = area.scene_manager.scene_graph
    navigating = isinstance(root, SceneExaminer) and root.interaction_mode is InteractionMode.NAVIGATION
    return "page" if navigating else "service"


def _allowed(area: RenderArea, connection: Connection) -> bool:
    """Whether the application lets ``connection`` receive ``area``'s geometry: a listener's True
    or False decides, a listener that raised refuses, else the area's ``client_rendering``."""
    answers = call_all(area.listeners, "on_requested_client_rendering", area, connection)
    if any(a is False or a is FAILED for a in answers):
        return False
    return any(a is True for a in answers) or area.client_rendering
