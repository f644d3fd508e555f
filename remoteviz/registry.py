"""Who is connected: a service's clients, connections and render areas, and every way one comes or
goes: created, refused or closed (``fail``, the one failure path), removed, disposed, resized.

It owns the three tables and keeps them, the scheduler and the gauges in step; everything else reads
them. Connections and render areas call back into it through the Protocols they define
(``ConnectionOwner``, ``RenderAreaOwner``). Dispatch thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from . import protocol
from .audit import Audit
from .connection import Client, Connection, ConnectionState
from .dispatch_thread import DispatchThread
from .frame_path import FramePath
from .listeners import call_all
from .metrics import Monitoring
from .pipeline.scheduler import Scheduler
from .protocol import CloseCode, Disconnect, DisconnectReason, Hello, Resize
from .render_area import RenderArea
from .settings import ServiceSettings
from .transport import Link

log = logging.getLogger("remoteviz")

NotebookView = Callable[[RenderArea, Any, Any], dict[str, Any] | tuple[dict[Any, Any], dict[Any, Any]] | None]


class Registry:
    """A service's clients, connections and render areas (the tables are read-only to everyone else)."""

    def __init__(self, settings: Callable[[], ServiceSettings], scheduler: Scheduler, monitoring: Monitoring,
                 audit: Audit, call_service: Callable[..., list[Any]], wake: Callable[[], None],
                 notebook_view: NotebookView, forget_render: Callable[[RenderArea], None],
                 dispatch_thread: DispatchThread) -> None:
        """``settings`` gives the service's current settings; ``call_service`` asks the service listeners;
        ``wake`` wakes the dispatch loop; ``notebook_view`` makes an area's live Jupyter view;
        ``forget_render`` finishes an area's draw in flight before it is disposed (``FramePath.forget``);
        ``dispatch_thread`` says which thread may change the tables, and carries calls from others to it."""
        self.clients: dict[str, Client] = {}
        """The connected clients by id."""
        self.connections: dict[Link, Connection] = {}
        """The connections by the link they came on."""
        self.render_areas: dict[str, RenderArea] = {}
        """The render areas by id."""
        self._settings = settings
        self._scheduler = scheduler
        self._monitoring = monitoring
        self._audit = audit
        self._call_service = call_service
        self._wake = wake
        self._notebook_view = notebook_view
        self._forget_render = forget_render
        self._dispatch_thread = dispatch_thread

    # ---- coming

    def client_for(self, client_id: str, hello: Hello) -> tuple[Client, bool]:
        """The client ``client_id``, created (``on_connected_client``) if it is new; and whether it is."""
        client = self.clients.get(client_id)
        if client is not None:
            return client, False
        client = self.clients[client_id] = Client(client_id, hello)
        self._monitoring.report("on_changed_num_clients", len(self.clients))
        self._call_service("on_connected_client", client.id, client.network_performance)
        return client, True

    def add_connection(self, connection: Connection) -> None:
        """Count a new connection in its client, its area and the service."""
        self.connections[connection.link] = connection
        connection.client.attach(connection)
        connection.render_area.attach(connection)
        self._monitoring.report("on_changed_num_connections", len(self.connections))

    def new_render_area(self, area_id: str, width: int, height: int, creator_id: str | None = None,
                        creator_address: str | None = None) -> RenderArea:
        """Create a render area at ``width`` x ``height`` within the size limits (``on_instantiated_render_area``)."""
        area = RenderArea(self, area_id, *self.clamp_size(width, height), self._settings().still_delay, creator_id,
                          creator_address)
        self.render_areas[area_id] = area
        self._scheduler.add_area(area_id, area.schedule)
        self._monitoring.report("on_changed_num_render_areas", len(self.render_areas))
        self._call_service("on_instantiated_render_area", area)
        return area

    def clamp_size(self, width: int, height: int) -> tuple[int, int]:
        """A requested size within ``max_width`` x ``max_height``."""
        settings = self._settings()
        return max(1, min(int(width), settings.max_width)), max(1, min(int(height), settings.max_height))

    def pixel_refusal(self, pixels: int, creator_id: str | None, creator_address: str | None,
                      replacing: RenderArea | None = None) -> str | None:
        """Why ``pixels`` more (in place of ``replacing``'s, for a resize) would break a pixel budget, or None.

        The pixels of the areas a client created count against its budget (``max_pixels_per_client``),
        those its address's clients created against the address's (``max_pixels_per_address``), and
        every area's against ``max_total_pixels``: so one client, or one address, cannot take every
        pixel the service has (areas the application created count in the total only).
        """
        settings = self._settings()
        others = [a for a in self.render_areas.values() if a is not replacing]
        budgets = [("the service has", settings.max_total_pixels, others)]
        if creator_address is not None:
            budgets.insert(0, ("this address has", settings.max_pixels_per_address,
                               [a for a in others if a.creator_address == creator_address]))
        if creator_id is not None:
            budgets.insert(0, ("this client has", settings.max_pixels_per_client,
                               [a for a in others if a.creator_id == creator_id]))
        for subject, budget, areas in budgets:
            if sum(a.width * a.height for a in areas) + pixels > budget:
                return f"{subject} reached its pixel limit (render area memory)"
        return None

    def fits(self, area: RenderArea, width: int, height: int) -> bool:
        """Whether ``area`` resized to ``width`` x ``height`` keeps within every pixel budget it counts in."""
        new_width, new_height = self.clamp_size(width, height)
        return self.pixel_refusal(new_width * new_height, area.creator_id, area.creator_address, area) is None

    # ---- sending (ConnectionOwner)

    def send(self, connection: Connection, message: protocol.ServiceMessage) -> None:
        """Send ``message`` to the connection's browser, unless it is closing or closed."""
        if connection.state.live:
            connection.link.send(protocol.serialize(message))

    # ---- going

    def fail(self, link: Link, code: CloseCode, detail: str, connection: Connection | None = None, *,
             area_id: str | None = None) -> None:
        """The one way the service ends a link: log a refusal or protocol error, tell the browser why
        (``disconnect`` with the reason of ``code``, or ``error``), close with ``code``, forget its connection.
        """
        if connection is not None:
            if not connection.state.live:
                return
            connection.state = ConnectionState.CLOSING
        message: protocol.ServiceMessage
        if code is CloseCode.PROTOCOL_ERROR:
            self._audit.protocol_error(link.address, detail)
            message = protocol.Error(detail)
        elif code is CloseCode.INTERNAL_ERROR:  # logged, with its traceback, where it was caught
            message = protocol.Error(detail)
        else:
            reason = DisconnectReason[code.name]
            if reason is DisconnectReason.REFUSED:
                self._audit.refused(link.address, detail, area_id)
            message = Disconnect(reason, detail)
        link.send(protocol.serialize(message))
        link.close(code, code.name.lower().replace("_", " "))
        if connection is not None:
            self.remove_connection(connection, aborted=False)

    def close_connection(self, connection: Connection, reason: DisconnectReason, detail: str) -> None:
        """Tell the browser why, close its socket, and forget the connection now (ConnectionOwner)."""
        self.fail(connection.link, CloseCode[reason.value], detail, connection)

    def link_closed(self, link: Link, aborted: bool) -> None:
        """The link closed (the peer, the network): forget its connection, if it had one."""
        connection = self.connections.get(link)
        if connection is not None:
            self.remove_connection(connection, aborted)

    def remove_connection(self, connection: Connection, aborted: bool) -> None:
        """Forget a connection (``on_closed_connection``); an area or a client left without any goes too."""
        if self.connections.pop(connection.link, None) is None:
            return
        connection.state = ConnectionState.CLOSED
        self._scheduler.remove_viewer(connection.render_area.id, connection.id)
        area, client = connection.render_area, connection.client
        area.detach(connection.id)
        client.detach(connection.id)
        self._monitoring.report("on_changed_num_connections", len(self.connections))
        call_all(area.listeners, "on_closed_connection", area, connection.id, aborted)
        if not area.num_connections and not area.keep_alive and not area.is_disposed:
            self.dispose_render_area(area, DisconnectReason.DISPOSED)
        if not client.num_connections:
            self.drop_client(client)

    def drop_client(self, client: Client) -> None:
        """Forget a client without connections (``on_disconnected_client``)."""
        if self.clients.pop(client.id, None) is not None:
            self._monitoring.report("on_changed_num_clients", len(self.clients))
            self._call_service("on_disconnected_client", client.id)

    def dispose_render_area(self, area: RenderArea, reason: DisconnectReason,
                            detail: str = "the render area was disposed") -> None:
        """Close the area's connections with ``reason``, release it and forget it (RenderAreaOwner)."""
        if area.is_disposed:
            return
        self._forget_render(area)  # its scene is not drawn meanwhile; the events it held run first
        if area.is_disposed:
            return  # one of them disposed it
        area.is_disposed = True
        self._call_service("on_disposing_render_area", area)
        for connection in area.connections:
            self.close_connection(connection, reason, detail)
        area.release()
        FramePath.close_retired(area)
        self.render_areas.pop(area.id, None)
        self._scheduler.remove_area(area.id)
        self._monitoring.report("on_changed_num_render_areas", len(self.render_areas))
        self._call_service("on_disposed_render_area", area.id)

    def clear(self) -> None:
        """Forget every connection and client (the service closes; its areas are disposed already)."""
        self.connections.clear()
        self.clients.clear()

    # ---- the rest of RenderAreaOwner

    def resize_render_area(self, area: RenderArea, width: int, height: int) -> None:
        """Resize ``area`` within the size limits; tell its listeners and its browsers, render at the new size."""
        width, height = self.clamp_size(width, height)
        if (width, height) == (area.width, area.height):
            return
        area.take_size(width, height)
        FramePath.close_retired(area)
        call_all(area.listeners, "on_resize", area, width, height)
        message = protocol.serialize(Resize(width, height))
        for connection in area.connections:
            if connection.is_open:
                connection.link.send(message)
        area.request_redraw()
        self._wake()

    def wake(self) -> None:
        """Wake the dispatch loop: an area has a frame to render."""
        self._wake()

    # ---- calls from any thread (RenderAreaOwner, ConnectionOwner)

    def run_on_dispatch_thread(self, call: Callable[[], None]) -> None:
        """Call ``call()`` now on the dispatch thread, or post it there from another thread."""
        self._dispatch_thread.run(call)

    def check_dispatch_thread(self, what: str) -> None:
        """Raise WrongThreadError naming ``what`` when called off the dispatch thread."""
        self._dispatch_thread.check(what)

    def notebook_view(self, area: RenderArea, include: Any,
                      exclude: Any) -> dict[str, Any] | tuple[dict[Any, Any], dict[Any, Any]] | None:
        """The area's live view as Jupyter shows it; raises ImportError without the notebook extra."""
        return self._notebook_view(area, include, exclude)
