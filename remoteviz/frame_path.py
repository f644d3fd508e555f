"""The frame path's I/O side: carries out what the scheduler (remoteviz/pipeline/) decides.

It renders an area on a render thread (or asks the application for its frame), hands the encodes
to the encoder threads, and sends encoded frames on the connections' links. The rules (when to
render, what to send, what to drop, what waits while an area renders) are the pipeline's; this
module only carries them out, from the dispatch thread.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from . import protocol
from .connection import Connection
from .encoders import open_encoder
from .encoders.streams import AreaEncoders, Job, Member
from .failures import MAX_DELAY, RELOG_INTERVAL, VIEWER_DETAIL
from .listeners import FAILED, call_all
from .metrics import Monitoring
from .pipeline.frames import EncodedFrame, FrameHeader, RenderedFrame
from .pipeline.render_scale import scaled_size
from .pipeline.scheduler import Scheduler
from .protocol import FrameFlags
from .render_area import RenderArea
from .render_threads import RenderThreads
from .service_core import ServiceCore

if TYPE_CHECKING:
    from .rendering import SceneManager

log = logging.getLogger("remoteviz.service")


class FramePath:
    """Renders, encodes and sends the frames of a service's render areas (dispatch thread).

    Scenes are drawn on the render threads (:mod:`remoteviz.render_threads`), or on the dispatch
    thread itself with one render thread or in INDEPENDENT_SERVICE mode; every listener call runs
    on the dispatch thread. While an area's scene is drawn elsewhere, its events wait (the
    scheduler's :meth:`~remoteviz.pipeline.scheduler.AreaSchedule.hold`), and any other work that
    may change a scene first waits for the renders in flight (:meth:`finish_renders`).
    """

    def __init__(self, scheduler: Scheduler, monitoring: Monitoring, core: ServiceCore,
                 post: Callable[..., None]) -> None:
        """``core``: the service core, whose records it reads and whose outbox its frames go to;
        ``post`` hands a call to the dispatch thread."""
        self._scheduler = scheduler
        self._monitoring = monitoring
        self._core = core
        self._post = post
        self._encoders: dict[RenderArea, AreaEncoders] = {}  # who shares which encode of each area's frames
        self._pool: ThreadPoolExecutor | None = None
        self._render_threads: RenderThreads | None = None  # None: scenes are drawn on the dispatch thread
        self._rendering: dict[str, tuple[RenderArea, Future[_Drawn]]] = {}  # by area id: draws in flight
        self._independent = False

    def open(self, threads: int, *, independent: bool, render_threads: int = 1) -> None:
        """Start the encoder threads and, for ``render_threads`` above 1, the render threads (1: scenes
        are drawn on the dispatch thread); ``independent``: frames come from ``on_requested_frame``,
        always on the dispatch thread."""
        self._independent = independent
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="remoteviz-encoder")
        if render_threads > 1 and not independent:
            from .rendering.gl_platform import Backend, choose_backend  # the scene graph: only where it is used

            if choose_backend() is Backend.GLFW:  # GLFW makes contexts on the main thread only
                log.info("rendering on the dispatch thread: render threads need EGL (no display)")
            else:
                self._render_threads = RenderThreads(render_threads)

    def close(self) -> None:
        """Wait for the renders and encodes in flight and stop the render and encoder threads."""
        self.finish_renders()
        if self._render_threads is not None:
            self._render_threads.close()
            self._render_threads = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def run(self) -> None:
        """Carry out the scheduler's decisions: send what the rate cap lets go, render what is due."""
        now = time.monotonic()
        for area_id, connection_id, send in self._scheduler.sendable(now):
            area = self._core.get_render_area(area_id)
            connection = area.get_connection(connection_id) if area is not None else None
            if connection is not None:
                self._core.transmit(connection, send)
        for area_id in self._scheduler.due(now):
            ready_ids = self._scheduler.render_now(area_id, time.monotonic())
            area = self._core.get_render_area(area_id)
            if not ready_ids or area is None:
                continue
            try:
                if self._independent:
                    ready = [c for cid in ready_ids if (c := area.get_connection(cid)) is not None]
                    self._request_frame(area, ready[0])
                else:
                    self._start_render(area)
            except Exception as error:  # a bug: that area backs off, the others and dispatch() go on
                self._frame_failed(area, "render", error)
                if area.id not in self._rendering:
                    for event in self._core.schedule(area).render_ended():  # what was held meanwhile still runs
                        event()

    def _start_render(self, area: RenderArea) -> None:
        """``on_pre_render``, then the scene drawn on the area's render thread (or here, with one)."""
        started = time.perf_counter()
        schedule = self._core.schedule(area)
        schedule.render_started()  # taken even if vetoed: a refused frame waits for the next change
        if not all(a is not False and a is not FAILED for a in call_all(area.listeners, "on_pre_render", area)):
            for event in schedule.render_ended():  # held while on_pre_render ran, if any
                event()
            return
        interactive = area.is_interacting
        # Smaller while an interactive frame's cost cannot hold the rate; stills at full size.
        scale = self._scheduler.render_scale(area.id, interactive, time.monotonic())
        # The frame's cost counts the listeners' time around the draw too (the application's work per frame).
        draw = functools.partial(_draw, area.scene_manager, area.width, area.height, interactive, scale,
                                 time.perf_counter() - started)
        if self._render_threads is None:
            future: Future[_Drawn] = Future()
            try:
                future.set_result(draw(0))
            except BaseException as error:  # as a render thread's future would hold it
                future.set_exception(error)
            self._rendered(area, future)
            return
        future = self._render_threads.submit(area.id, draw)
        self._rendering[area.id] = (area, future)
        future.add_done_callback(functools.partial(self._post, self.rendered, area.id))

    def rendered(self, area_id: str, future: Future[_Drawn]) -> None:
        """Dispatch thread: a render thread finished drawing an area (unless already taken)."""
        if self._rendering.get(area_id, (None, None))[1] is future:
            area, _ = self._rendering.pop(area_id)
            self._rendered(area, future)

    def finish_render(self, area: RenderArea) -> None:
        """Wait for ``area``'s render in flight, if any, and take its frame (its held events run)."""
        if area.id in self._rendering:
            _, future = self._rendering.pop(area.id)
            wait([future])
            self._rendered(area, future)

    def finish_renders(self) -> None:
        """Wait for every render in flight and take their frames: before work that may change any scene."""
        while self._rendering:
            self.finish_render(next(iter(self._rendering.values()))[0])

    def area_resized(self, area: RenderArea) -> None:
        """``area`` took a new size: every video stream of it restarts at that size with a key frame."""
        if (encoders := self._encoders.get(area)) is not None:
            encoders.reset()
            self._close_retired(area)

    def area_disposed(self, area: RenderArea) -> None:
        """``area`` was disposed (its draw in flight finished first): its encoders let go once none of
        its encodes is in flight, its render thread's place freed."""
        self.area_resized(area)
        if self._render_threads is not None:
            self._render_threads.forget(area.id)

    def _rendered(self, area: RenderArea, future: Future[_Drawn]) -> None:
        """The draw is over: ``on_post_render`` and the frame on its way; then the events held meanwhile."""
        held = self._core.schedule(area).render_ended()
        try:
            if area.is_disposed:
                return
            try:
                drawn = future.result()
            except Exception as error:  # RenderingUnavailableError when no OpenGL context can be made
                self._frame_failed(area, "render", error)
                return
            started = time.perf_counter()
            call_all(area.listeners, "on_post_render", area)
            self._frame_ready(area, dataclasses.replace(drawn, seconds=drawn.seconds + time.perf_counter() - started))
        finally:
            for event in held:  # what Service._handle_message held, in order
                event()

    def _request_frame(self, area: RenderArea, connection: Connection) -> None:
        """INDEPENDENT_SERVICE mode: ask the application for a frame of ``area``, on this thread."""
        started = time.perf_counter()
        schedule = self._core.schedule(area)
        schedule.render_started()
        answers = call_all(area.listeners, "on_requested_frame", area, connection)
        schedule.render_ended()  # nothing was held: the application drew on this thread
        answer = next((a for a in answers if a is not None and a is not FAILED), None)
        if answer is None:
            if FAILED in answers:
                self._frame_failed(area, "render", RuntimeError("the application's on_requested_frame raised"))
            return
        image, interactive = _checked_frame(answer, area)
        if image is not None:
            # The application's frames are of its own size: scale 1.
            self._frame_ready(area, _Drawn(image, interactive, area.width, area.height,
                                           time.perf_counter() - started, 1.0))

    def _frame_ready(self, area: RenderArea, drawn: _Drawn) -> None:
        """Account for a rendered frame, show it in the preview, and encode it (or let it wait)."""
        schedule = self._core.schedule(area)
        schedule.rendered(drawn.interactive, drawn.seconds, drawn.scale)
        self._monitoring.report("on_measured_rendering_time", drawn.seconds * 1000.0, area)
        area.preview_frame(drawn.image)
        input_seqs = {c.id: self._core.outgoing(c).last_input_seq for c in area.connections}
        frame = RenderedFrame(drawn.image, drawn.interactive, drawn.width, drawn.height, input_seqs, drawn.scale)
        if schedule.frame_rendered(frame):  # else encoded as soon as the previous frame is
            self._submit(area, frame)

    def _submit(self, area: RenderArea, frame: RenderedFrame) -> None:
        """Plan who shares which encode of ``frame`` and hand the encodes to the encoder threads."""
        viewers = self._scheduler.viewers(area.id)
        members = []
        for connection_id, outgoing in list(viewers.items()):
            connection = area.get_connection(connection_id)
            assert connection is not None  # a viewer is one of the area's connections
            encoders = connection.frame_encoders
            if not outgoing.join_plan(connection.targets(), encoders.is_video):
                del viewers[connection_id]  # it rejoins through a resync stream once its slot is sent
                continue
            members.append(Member(
                connection_id,
                encoders.interactive_encoder if frame.interactive else encoders.still_encoder,
                outgoing.rate.quality if frame.interactive else 1.0,
                outgoing.needs_key,
                # The link's scale is of the area's size; the picture may be rendered smaller already.
                min(1.0, outgoing.rate.scale / frame.scale) if frame.interactive else 1.0,
                outgoing.rate.targets.fps,
                outgoing.rate.bitrate()))
        height, width = frame.image.shape[:2]
        planner = self._encoders.get(area)
        if planner is None:
            planner = self._encoders[area] = AreaEncoders(open_encoder)
        try:
            jobs = planner.plan(members, width, height, still=not frame.interactive)
        except Exception as error:
            self._frame_failed(area, "encode", error)
            return
        self._close_retired(area)  # nothing of this area is being encoded now
        assert self._pool is not None
        schedule = self._core.schedule(area)
        for job in jobs:
            texts = {}
            for connection_id in job.members:
                viewers[connection_id].encoding_started()
                connection = area.get_connection(connection_id)
                said = [t for t in call_all(area.listeners, "on_sending_frame", area, connection) if isinstance(t, str)]
                texts[connection_id] = "\n".join(said).encode("utf-8", "replace")
            schedule.encode_started()
            future = self._pool.submit(_encode, job, frame.image)
            future.add_done_callback(functools.partial(self._post, self.encoded, area, frame, job, texts))

    def _close_retired(self, area: RenderArea) -> None:
        """Close the encoders an area no longer uses, once none of its encodes is in flight (and forget
        a disposed area's then)."""
        encoders = self._encoders.get(area)
        if encoders is None or self._core.schedule(area).encodes_in_flight:
            return
        for coder in encoders.take_retired():
            coder.close()
        if area.is_disposed:
            del self._encoders[area]

    def needs_key_frame(self, connection: Connection) -> None:
        """The connection cannot decode what follows until it receives a key frame."""
        self._core.outgoing(connection).lose_stream()
        if (encoders := self._encoders.get(connection.render_area)) is not None:
            encoders.forget(connection.id)
        connection.render_area.request_redraw()

    def encoded(self, area: RenderArea, frame: RenderedFrame, job: Job, texts: dict[str, bytes],
                future: Any) -> None:
        """Dispatch thread: an encode finished; send it, then encode the frame waiting, if any."""
        waiting = self._core.schedule(area).encode_finished()
        self._close_retired(area)
        self._send_encoded(area, frame, job, texts, future)
        if waiting is not None and not area.is_disposed:
            self._submit(area, waiting)

    def _encodings_finished(self, area: RenderArea, job: Job, failed_stream: bool) -> None:
        """Count the encode as done for each connection it was started for, viewer or not by now: one
        that left the viewers meanwhile (a page that draws client-side) and comes back must not find
        its window short of a frame for good."""
        for connection_id in job.members:
            if (connection := area.get_connection(connection_id)) is not None:
                self._core.outgoing(connection).encoding_finished(failed_stream=failed_stream)

    def _send_encoded(self, area: RenderArea, frame: RenderedFrame, job: Job, texts: dict[str, bytes],
                      future: Any) -> None:
        try:
            payload, is_key, encode_ms, (width, height) = future.result()
        except Exception as error:
            self._encodings_finished(area, job, failed_stream=job.stream is not None)
            self._frame_failed(area, "encode", error)
            return
        self._encodings_finished(area, job, failed_stream=False)
        self._frame_succeeded(area)
        flags = (FrameFlags.KEY if is_key else FrameFlags.NONE) | (
            FrameFlags.NONE if frame.interactive else FrameFlags.STILL)
        stream = job.stream
        config = None
        if stream is not None and job.encoder.codec is not None:
            config = protocol.StreamConfig(job.encoder.codec, stream.codec_string, stream.width, stream.height)
        for connection_id in job.members:
            outgoing = self._scheduler.viewer(area.id, connection_id)
            connection = area.get_connection(connection_id)
            if outgoing is None or connection is None or not outgoing.accepts(stream is not None, is_key):
                continue  # gone, or it missed a frame of this stream since the plan: it waits for a key frame
            self._monitoring.report("on_measured_encoding_time", encode_ms, connection)
            self._core.schedule(area).encoded(encode_ms / 1000.0, frame.interactive, frame.scale)
            assert job.encoder.codec is not None  # every encoder a connection can use has a codec
            header = FrameHeader(job.encoder.codec, flags, width, height, frame.width, frame.height,
                                 frame.input_seqs.get(connection_id, 0), texts.get(connection_id, b""))
            joined = connection_id in job.joined
            offered = outgoing.offer(EncodedFrame(header, payload, stream is not None, config if joined else None),
                                     time.monotonic())
            if offered.dropped:
                self._monitoring.count("frames_dropped")
            if offered.lost_stream:
                self.needs_key_frame(connection)
            if offered.send is not None:
                self._core.transmit(connection, offered.send)

    def _frame_failed(self, area: RenderArea, stage: str, error: BaseException) -> None:
        """Back off from ``area``; tell its viewers in general terms as an episode starts, and log the
        detail once per kind of failure (``failures.Backoff``)."""
        schedule = self._core.schedule(area)
        report = schedule.failed(stage, error, time.monotonic(), VIEWER_DETAIL[stage])
        if report.log:
            again = f" ({report.not_logged} more since it was last logged)" if report.not_logged else ""
            log.error("%s of %r failed; retrying with back-off (up to %g s), logged once per kind and at most "
                      "every %g s: %s%s", stage, area, MAX_DELAY, RELOG_INTERVAL, report.detail, again,
                      exc_info=error)
        if report.is_news and schedule.failure is not None:
            for connection in area.connections:
                if connection.is_open:
                    self._core.send(connection, schedule.failure)

    def _frame_succeeded(self, area: RenderArea) -> None:
        if self._core.schedule(area).succeeded():
            log.info("frames of %r work again", area)


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class _Drawn:
    """A picture of an area, as its render thread (or the application) made it."""

    image: np.ndarray
    interactive: bool
    width: int  # the area's size when it was drawn
    height: int
    seconds: float  # what it cost: the draw, and the listeners' time before and after it
    scale: float  # of the area's size, that the picture was drawn at


def _draw(scene: SceneManager, width: int, height: int, interactive: bool, scale: float, listeners: float,
          renderer: int) -> _Drawn:
    """Render thread (or the dispatch thread): draw ``scene``, for an area of ``width`` x ``height``,
    at ``scale`` of that size, with the process's renderer ``renderer``; ``listeners``: seconds
    ``on_pre_render`` took."""
    started = time.perf_counter()
    image = scene.render(*scaled_size(width, height, scale), interactive=interactive, renderer=renderer)
    return _Drawn(image, interactive, width, height, listeners + time.perf_counter() - started, scale)


def _encode(job: Job, image: np.ndarray) -> tuple[bytes, bool, float, tuple[int, int]]:
    """Encoder thread: encode one frame for one job; returns payload, key, milliseconds, size."""
    started = time.perf_counter()
    if job.stream is not None and image.shape[2] != 3:
        image = np.ascontiguousarray(image[:, :, :3])  # video encoders take RGB
    if job.scale < 1.0:
        height, width = image.shape[:2]
        size = scaled_size(width, height, job.scale)
        image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
    payload, is_key = job.coder.encode(image, key=job.key, quality=job.quality)
    return payload, is_key, (time.perf_counter() - started) * 1000.0, (image.shape[1], image.shape[0])


def _checked_frame(answer: Any, area: RenderArea) -> tuple[np.ndarray | None, bool]:
    """Validate what on_requested_frame returned; log and drop anything unusable."""
    try:
        image, interactive = answer
        image, interactive = np.asarray(image), bool(interactive)
    except (TypeError, ValueError) as error:
        log.error("on_requested_frame for %r must return (image, is_interactive): %s", area, error)
        return None, False
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4) or 0 in image.shape:
        log.error("on_requested_frame for %r returned an array of shape %s and dtype %s; "
                  "expected (H, W, 3|4) uint8", area, image.shape, image.dtype)
        return None, False
    if image.shape[0] > protocol.MAX_SIDE or image.shape[1] > protocol.MAX_SIDE:
        log.error("on_requested_frame for %r returned a frame larger than %d pixels", area, protocol.MAX_SIDE)
        return None, False
    return image, interactive
