"""When each render area renders: its scheduling state, and the rule over its viewers' windows.

Sans-I/O: the service reports events (input arrived, a frame rendered or encoded, a viewer
joined or left) with the current time (``now``) and asks for decisions: which areas to render now
and for whom, which waiting frames may go, how long it may sleep. Nothing here renders, encodes,
sends, reads a clock or calls a listener.

A render area is rendered only when it is dirty, it is not being rendered already, no frame of it
already waits for the encoders, its back-off (:mod:`remoteviz.failures`) allows it, and at least
one viewer is ready (:meth:`~remoteviz.pipeline.sending.Outgoing.ready_time`). A slow viewer never
makes it render more.

The hand-off to a render thread: from :meth:`AreaSchedule.render_started` to
:meth:`AreaSchedule.render_ended` the area is *rendering*, its scene being read by another thread;
events that would run its listeners or change its scene are then held (:meth:`AreaSchedule.hold`)
and handed back, in the order they came, when the render ends.
"""

from __future__ import annotations

from collections.abc import Callable

from ..failures import Backoff, Report
from ..protocol import Failure
from .frames import RenderedFrame, Send
from .render_scale import RenderScale
from .sending import Outgoing

MAX_SLEEP = 1.0
"""The longest the service sleeps with nothing due (it probes latencies once a second)."""


class AreaSchedule:
    """One render area's scheduling state."""

    __slots__ = ("_still_delay", "_dirty", "_rendering", "_held", "_pending", "_encodes_in_flight", "_backoff",
                 "_failure", "_last_input", "_last_frame_interactive", "_still_pending", "_render_cost", "_encode_cost",
                 "_render_scale")

    def __init__(self, still_delay: float) -> None:
        self._still_delay = still_delay
        self._dirty = True
        self._rendering = False  # a render thread is drawing its scene: see hold()
        self._held: list[Callable[[], None]] = []  # events that came meanwhile, in order
        self._pending: RenderedFrame | None = None  # rendered, waiting for the previous encode
        self._encodes_in_flight = 0
        self._backoff = Backoff()  # rendering or encoding its frames fails: when to try again
        self._failure: Failure | None = None  # what its viewers were told, until frames work again
        self._last_input = -1e9
        self._last_frame_interactive = False
        self._still_pending = False  # its last frame was interactive: a still follows
        # Seconds to render and to encode a frame, smoothed: how early to start the next one.
        self._render_cost = 0.0
        self._encode_cost = 0.0
        self._render_scale = RenderScale()  # of its interactive frames, adapted to their cost

    @property
    def dirty(self) -> bool:
        """Whether its picture changed since it was last rendered (or a still, a viewer or a retry wants one)."""
        return self._dirty

    @property
    def render_scale(self) -> RenderScale:
        """The scale of its interactive renders, adapted to their cost (changed through :meth:`decide_render_scale`)."""
        return self._render_scale

    @property
    def retry_at(self) -> float:
        """Its back-off: the time before which it is not rendered again after a failure (0: none)."""
        return self._backoff.retry_at

    @property
    def frame_cost(self) -> float:
        """Smoothed seconds to render and encode one frame."""
        return self._render_cost + self._encode_cost

    def request_redraw(self) -> bool:
        """The picture changed; True when the area was not dirty already (worth waking the service)."""
        was_dirty, self._dirty = self._dirty, True
        return not was_dirty

    def input_arrived(self, now: float) -> None:
        """Input from a viewer: frames are interactive until ``still_delay`` has passed without any."""
        self._last_input = now
        self._still_pending = True

    def is_interacting(self, now: float) -> bool:
        """True while input arrived less than ``still_delay`` ago."""
        return now - self._last_input < self._still_delay

    def may_render(self, now: float) -> bool:
        """Dirty, not being rendered, nothing waiting for the encoders, and not backing off."""
        return self.wants_render and self._backoff.retry_at <= now

    @property
    def wants_render(self) -> bool:
        """Dirty, not being rendered and nothing waiting for the encoders (back-off aside)."""
        return self._dirty and not self._rendering and self._pending is None

    def render_started(self) -> None:
        """The area is being rendered: changes from now on dirty it again; events wait (hold)."""
        self._dirty = False
        self._rendering = True

    def hold(self, event: Callable[[], None]) -> bool:
        """While the area renders, keep ``event`` (the handling of one that runs its listeners or
        changes its scene) for :meth:`render_ended` and return True; otherwise return False: handle
        it now (asked for each browser message by ``ServiceCore.holds``)."""
        if not self._rendering:
            return False
        self._held.append(event)
        return True

    def render_ended(self) -> list[Callable[[], None]]:
        """The render is over (drawn, failed or abandoned): the events held meanwhile, in order,
        to be handled now, before the area can render again."""
        self._rendering = False
        held, self._held = self._held, []
        return held

    def rendered(self, interactive: bool, seconds: float, scale: float = 1.0) -> None:
        """A frame was rendered in ``seconds``, at ``scale`` of the area's size."""
        self._render_cost = 0.8 * self._render_cost + 0.2 * seconds
        self._last_frame_interactive = interactive
        if interactive:
            self._render_scale.rendered(seconds, scale)
        else:
            self._still_pending = False

    def decide_render_scale(self, budget: float | None, now: float) -> float:
        """The scale to render its next interactive frame at, ``now``, for a frame ``budget`` in seconds
        (None: not scaled for cost; :meth:`~remoteviz.pipeline.render_scale.RenderScale.decide`)."""
        return self._render_scale.decide(budget, now)

    def encoded(self, seconds: float, interactive: bool = False, scale: float = 1.0) -> None:
        """One connection's copy of a frame (rendered at ``scale``) was encoded in ``seconds``
        (each copy counts, as it is sent)."""
        self._encode_cost = 0.8 * self._encode_cost + 0.2 * seconds
        if interactive:
            self._render_scale.encoded(seconds, scale)

    # ---- encodes

    @property
    def encodes_in_flight(self) -> int:
        """Encodes of its frames the encoder threads have now."""
        return self._encodes_in_flight

    def frame_rendered(self, frame: RenderedFrame) -> bool:
        """A frame was rendered: True to encode it now; False while the previous one is encoded, and
        it waits (replacing any that waited), encoded as soon as that one is (:meth:`encode_finished`)."""
        if self._encodes_in_flight:
            self._pending = frame
            return False
        return True

    def encode_started(self) -> None:
        """One encode of its frame went to an encoder thread."""
        self._encodes_in_flight += 1

    def encode_finished(self) -> RenderedFrame | None:
        """One encode came back: the frame that waited, if it is its turn now."""
        self._encodes_in_flight -= 1
        if self._encodes_in_flight or self._pending is None:
            return None
        pending, self._pending = self._pending, None
        return pending

    # ---- failures

    @property
    def failure(self) -> Failure | None:
        """What its viewers were told of its frames failing, until they work again."""
        return self._failure

    def failed(self, stage: str, error: BaseException, now: float, viewer_detail: str) -> Report:
        """Rendering or encoding failed at ``now``: tried again once the back-off's delay has passed. The
        report says what to log; when it :attr:`~remoteviz.failures.Report.is_news`, :attr:`failure`
        is what to tell the viewers (``viewer_detail``: the failure in general terms)."""
        self._dirty = True
        report = self._backoff.failed(stage, error, now)
        if report.is_news:
            self._failure = Failure(stage, viewer_detail, round(report.retry_in * 1000))
        return report

    def succeeded(self) -> bool:
        """A frame made it: the failure is over (its viewers no longer told); True when one was logged."""
        ended, logged = self._backoff.succeeded()
        if ended:
            self._failure = None
        return logged

    def check_still(self, now: float) -> None:
        """Once input has stopped for ``still_delay``, an interactive last frame is followed by a still.

        Not while a frame is being drawn: that frame, once rendered, says whether a still is still
        wanted (it may be the still itself), so a still is never drawn twice.
        """
        if self._rendering:
            return
        if self._still_pending and now - self._last_input >= self._still_delay:
            if self._last_frame_interactive:
                self._dirty = True
            else:
                self._still_pending = False

    def still_due(self, now: float) -> float | None:
        """When a still falls due, if that is still to come."""
        due = self._last_input + self._still_delay
        return due if self._still_pending and due > now else None


class Scheduler:
    """Every render area's schedule and every viewer's outgoing stream, by id."""

    __slots__ = ("_areas", "_viewers")

    def __init__(self) -> None:
        self._areas: dict[str, AreaSchedule] = {}
        self._viewers: dict[str, dict[str, Outgoing]] = {}  # area id -> connection id -> outgoing

    # ---- events

    def add_area(self, area_id: str, schedule: AreaSchedule) -> None:
        """A render area was created."""
        self._areas[area_id] = schedule
        self._viewers.setdefault(area_id, {})

    def remove_area(self, area_id: str) -> None:
        """A render area was disposed."""
        self._areas.pop(area_id, None)
        self._viewers.pop(area_id, None)

    def add_viewer(self, area_id: str, connection_id: str, outgoing: Outgoing) -> None:
        """A connection was accepted: frames of the area may flow to it from now on."""
        self._viewers[area_id][connection_id] = outgoing
        self._areas[area_id].request_redraw()

    def remove_viewer(self, area_id: str, connection_id: str) -> None:
        """A connection is closing or closed: no more frames for it."""
        self._viewers.get(area_id, {}).pop(connection_id, None)

    # ---- queries

    def viewer(self, area_id: str, connection_id: str) -> Outgoing | None:
        """The outgoing stream of an accepted, open connection of the area, or None."""
        return self._viewers.get(area_id, {}).get(connection_id)

    def viewers(self, area_id: str) -> dict[str, Outgoing]:
        """The accepted, open connections of the area."""
        return dict(self._viewers.get(area_id, {}))

    def ready(self, area_id: str, now: float) -> list[str]:
        """Connections that can take a frame of the area by the time it is rendered and encoded."""
        cost = self._areas[area_id].frame_cost
        return [cid for cid, outgoing in self._viewers[area_id].items()
                if (t := outgoing.ready_time(now, cost)) is not None and t <= now]

    # ---- decisions

    def sendable(self, now: float) -> list[tuple[str, str, Send]]:
        """Frames waiting in slots that the rate cap lets go now: (area id, connection id, send)."""
        sends = []
        for area_id, viewers in self._viewers.items():
            for connection_id, outgoing in viewers.items():
                if (send := outgoing.take(now)) is not None:
                    sends.append((area_id, connection_id, send))
        return sends

    def due(self, now: float) -> list[str]:
        """The areas that may be due for a render now, in order; stills that fell due dirty their area.

        Ask :meth:`render_now` of each in turn, with the time then: rendering one area runs
        listeners, which may change the others (dispose them, close connections), and takes time.
        """
        for schedule in self._areas.values():
            schedule.check_still(now)
        return list(self._areas)

    def render_now(self, area_id: str, now: float) -> list[str]:
        """The connections to render area ``area_id`` for now; empty if it is not to be rendered."""
        schedule = self._areas.get(area_id)  # a listener called while rendering another may have disposed it
        # One frame may wait while the previous one is encoded: rendering the next frame
        # overlaps its encoding, and the wait is bounded to that one frame.
        if schedule is None or not schedule.may_render(now):
            return []
        for outgoing in self._viewers[area_id].values():
            outgoing.frame_wanted()  # a full window is congestion
        return self.ready(area_id, now)

    def render_scale(self, area_id: str, interactive: bool, now: float) -> float:
        """The scale to render a frame of area ``area_id`` at now (1: full size; always 1 for a still).

        Below 1 only for interactive frames, while every viewer keeps its frame rate and asked for cost scaling
        (``Targets.frame_budget``) and none streams video (a video stream has one size: each
        change of scale would restart it with a key frame). The budget is the interval of the
        fastest viewer's target rate. A still is the sharp picture at rest: always full size.
        """
        if not interactive:
            return 1.0
        budget: float | None = None
        for outgoing in self._viewers.get(area_id, {}).values():
            own = outgoing.rate.targets.frame_budget
            if own is None or outgoing.is_video:
                budget = None
                break
            budget = own if budget is None else min(budget, own)
        return self._areas[area_id].decide_render_scale(budget, now)

    def has_work(self, now: float) -> bool:
        """Whether some area could be rendered now."""
        return any(schedule.may_render(now) and self.ready(area_id, now) for area_id, schedule in self._areas.items())

    def sleep(self, now: float) -> float:
        """Seconds until a still falls due, a rate cap lets a frame go or an area may render (at most 1)."""
        wait = MAX_SLEEP
        for area_id, viewers in self._viewers.items():
            schedule = self._areas[area_id]
            for outgoing in viewers.values():
                if (send_at := outgoing.send_time()) is not None:
                    wait = min(wait, max(0.0, send_at - now))
                if schedule.wants_render:
                    ready_at = outgoing.ready_time(now, schedule.frame_cost)
                    if ready_at is not None:
                        wait = min(wait, max(0.0, ready_at - now, schedule.retry_at - now))
        for schedule in self._areas.values():
            if (due := schedule.still_due(now)) is not None:  # once due, the area waits like any other
                wait = min(wait, due - now)
        return wait
