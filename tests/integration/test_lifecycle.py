"""Connect, share, refuse, dispose: callback order and what the browser sees, on real sockets."""

import asyncio

import pytest

import remoteviz as rv
from remoteviz import client
from remoteviz.client import ServiceClosed

from .harness import Recorder, async_wait_until, running_service, wait_until


def test_callback_order_for_connect_share_and_disconnect(recorder: Recorder) -> None:
    async def scenario(url: str) -> None:
        async with client.connect(url + "?width=120&height=80", client_id="page-1") as first:
            await first.next_frame()
            async with client.connect(url, client_id="page-1") as second:
                await second.next_frame()
                assert second.accept.render_area_id == "Area"
                assert (second.width, second.height) == (120, 80)
            await async_wait_until(lambda: recorder.names().count("on_closed_connection") == 1)
        await async_wait_until(lambda: "on_disconnected_client" in recorder.names())

    with running_service(recorder) as runner:
        asyncio.run(scenario(runner.url("Area")))
        wait_until(lambda: "on_disconnected_client" in recorder.names())
    assert recorder.names() == [
        "on_connected_client",
        "on_pending_create_render_area",
        "on_instantiated_render_area",
        "on_opened_connection",
        "on_initialized_client",
        "on_initialized_connection",
        # the second view of the same page shares the area; the client is not new
        "on_pending_share_render_area",
        "on_opened_connection",
        "on_initialized_connection",
        "on_closed_connection",
        "on_closed_connection",
        "on_disposing_render_area",
        "on_disposed_render_area",
        "on_disconnected_client",
    ]
    assert ("on_pending_create_render_area", "Area", 120, 80) in recorder.log


def test_refused_connection_sees_refused_and_the_client_is_dropped(recorder: Recorder) -> None:
    recorder.refuse = True

    async def scenario(url: str) -> ServiceClosed:
        with pytest.raises(ServiceClosed) as refused:
            async with client.connect(url):
                pass
        return refused.value

    with running_service(recorder) as runner:
        error = asyncio.run(scenario(runner.url("Secret", "token=wrong")))
        wait_until(lambda: "on_disconnected_client" in recorder.names())
        assert runner.service.render_areas == []
        assert runner.service.num_clients == 0
    assert error.reason == "REFUSED"
    assert error.code == 4002
    assert recorder.names() == ["on_connected_client", "on_pending_create_render_area", "on_disconnected_client"]


def test_token_in_parameters_decides_and_size_can_be_changed() -> None:
    class Gate(rv.ServiceListener):
        def on_pending_create_render_area(self, render_area_id, width, height, client, parameters):
            if parameters.get_value("token") != "s3cret":
                return False
            return (width // 2, height // 2)

    async def scenario(url: str):
        with pytest.raises(ServiceClosed):
            async with client.connect(url + "?token=nope&width=200&height=100"):
                pass
        async with client.connect(url + "?token=s3cret&width=200&height=100") as view:
            return view.accept

    with running_service(Gate()) as runner:
        accept = asyncio.run(scenario(runner.url("Guarded")))
    assert (accept.width, accept.height) == (100, 50)


def test_render_area_created_up_front_outlives_its_connections(recorder: Recorder) -> None:
    async def scenario(url: str) -> None:
        async with client.connect(url) as view:
            assert (view.width, view.height) == (320, 200)

    with running_service(recorder) as runner:
        area = runner.call(runner.service.create_render_area, "Kept", 320, 200)
        assert runner.call(runner.service.create_render_area, "Kept", 1, 1) is area
        asyncio.run(scenario(runner.url("Kept")))
        wait_until(lambda: "on_disconnected_client" in recorder.names())
        assert runner.service.get_render_area("Kept") is area
        assert not area.is_disposed
    assert "on_pending_share_render_area" in recorder.names()
    assert "on_disposed_render_area" in recorder.names()  # only when the service closed


def test_application_closing_a_connection_kicks_the_browser(recorder: Recorder) -> None:
    async def scenario(runner) -> None:
        async with client.connect(runner.url("Kick")) as view:
            await view.next_frame()
            area = runner.service.get_render_area("Kick")
            area.connections[0].close()
            await view.wait_closed()
            assert view.disconnect.reason.value == "KICKED"
            assert view.close_code == 4003

    with running_service(recorder) as runner:
        asyncio.run(scenario(runner))
        wait_until(lambda: runner.service.get_render_area("Kick") is None)


def test_disposing_closes_every_connection_with_disposed(recorder: Recorder) -> None:
    async def scenario(runner) -> None:
        async with client.connect(runner.url("Gone")) as a, client.connect(runner.url("Gone")) as b:
            await a.next_frame()
            runner.service.get_render_area("Gone").close_connections_and_dispose()
            await a.wait_closed()
            await b.wait_closed()
            assert a.disconnect.reason.value == b.disconnect.reason.value == "DISPOSED"
            assert a.close_code == b.close_code == 4001

    with running_service(recorder) as runner:
        asyncio.run(scenario(runner))
        wait_until(lambda: recorder.names().count("on_disconnected_client") == 2)


def test_vanished_socket_is_reported_as_aborted(recorder: Recorder) -> None:
    async def scenario(url: str) -> None:
        async with client.connect(url) as view:
            await view.next_frame()
            view._ws.transport.abort()  # the TCP connection drops without a close handshake

    with running_service(recorder) as runner:
        asyncio.run(scenario(runner.url("Drop")))
        wait_until(lambda: "on_disconnected_client" in recorder.names())
    assert ("on_closed_connection", "Drop", True) in recorder.log


def test_run_returns_on_stop_and_serve_runs_callbacks_on_the_event_loop_thread(recorder: Recorder) -> None:
    import threading

    service = rv.Service()
    threads = []

    class Where(rv.ServiceListener):
        def on_connected_client(self, client_id, network_performance):
            threads.append(threading.get_ident())

    service.add_listener(Where())

    async def main() -> None:
        settings = rv.ServiceSettings(port=0, run_mode=rv.RunMode.INDEPENDENT_SERVICE)
        serving = asyncio.create_task(service.serve(settings))
        await async_wait_until(lambda: service.is_open and service.port)
        async with client.connect(f"ws://127.0.0.1:{service.port}/Async"):
            pass
        service.stop()
        await serving

    asyncio.run(main())
    assert threads == [threading.get_ident()]
    assert not service.is_open


def test_open_fails_cleanly_when_the_port_is_taken() -> None:
    first = rv.Service()
    assert first.open(rv.ServiceSettings(port=0))
    try:
        second = rv.Service()
        assert second.open(rv.ServiceSettings(port=first.port)) is False
        assert not second.is_open
    finally:
        first.close()


def test_instance_is_a_singleton() -> None:
    assert rv.Service.instance() is rv.Service.instance()


def test_refused_encoders_ask_the_application_again_until_valid() -> None:
    seen = []

    class Picky(rv.RenderAreaListener):
        def on_opened_connection(self, render_area, connection, frame_encoders):
            frame_encoders.set_still_encoder(rv.Encoder.JPEG)
            frame_encoders.set_interactive_encoder(rv.Encoder.PNG)  # not a valid pair

        def on_refused_encoder(self, render_area, connection, frame_encoders):
            seen.append((frame_encoders.still_status, frame_encoders.interactive_status))
            if len(seen) == 1:
                frame_encoders.set_encoders(rv.Encoder.H264)  # this browser decodes no video
            else:
                frame_encoders.set_encoders(rv.Encoder.JPEG, rv.Encoder.JPEG)

    class Attach(rv.ServiceListener):
        def on_instantiated_render_area(self, render_area):
            render_area.add_listener(Picky())

    async def scenario(url: str):
        async with client.connect(url) as view:
            return view.accept

    with running_service(Attach()) as runner:
        accept = asyncio.run(scenario(runner.url("Picky")))
    assert seen == [(rv.EncoderStatus.INCOMPATIBLE, rv.EncoderStatus.INCOMPATIBLE),
                    (rv.EncoderStatus.UNSUPPORTED, rv.EncoderStatus.UNSUPPORTED)]
    assert (accept.still_encoder, accept.interactive_encoder) == ("jpeg", "jpeg")


def test_when_the_application_settles_nothing_the_default_chain_decides() -> None:
    class Stubborn(rv.RenderAreaListener):
        def on_opened_connection(self, render_area, connection, frame_encoders):
            frame_encoders.set_encoders(rv.Encoder.H264_NVENC)  # no NVIDIA GPU and no video decoder

    class Attach(rv.ServiceListener):
        def on_instantiated_render_area(self, render_area):
            render_area.add_listener(Stubborn())

    async def scenario(url: str):
        async with client.connect(url) as view:
            return view.accept

    with running_service(Attach()) as runner:
        accept = asyncio.run(scenario(runner.url("Chain")))
    assert (accept.still_encoder, accept.interactive_encoder) == ("png", "jpeg")


def test_health_endpoint_and_the_http_hook() -> None:
    import urllib.error
    import urllib.request

    class Routes(rv.ServiceListener):
        def on_http_request(self, request):
            if request.path == "/api/status":
                return rv.HttpResponse(200, '{"ok": true}', "application/json")
            return None

    with running_service(Routes()) as runner:
        base = f"http://127.0.0.1:{runner.service.port}"
        with urllib.request.urlopen(base + "/health", timeout=5) as response:
            assert response.status == 200 and response.read() == b"ok\n"
        with urllib.request.urlopen(base + "/api/status?x=1", timeout=5) as response:
            assert response.headers["Content-Type"] == "application/json"
            assert response.read() == b'{"ok": true}'
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(base + "/nothing", timeout=5)
        assert missing.value.code == 404


def test_what_the_application_sends_between_two_dispatches_goes_out_before_the_next_one_waits() -> None:
    # An application with its own loop acts on the dispatch thread between dispatch() calls: the
    # core's actions it causes are carried out as the next dispatch() starts, not once its wait ends.
    import threading

    service = rv.Service()
    assert service.open(rv.ServiceSettings(port=0, run_mode=rv.RunMode.INDEPENDENT_SERVICE))
    received: list[str | bytes] = []
    got_it = threading.Event()

    async def page() -> None:
        async with client.connect(f"ws://127.0.0.1:{service.port}/Loop") as view:
            received.append(await view.next_message(timeout=60))
            got_it.set()
            service.call_soon(lambda: None)  # wakes the dispatch() that waits

    browser = threading.Thread(target=asyncio.run, args=(page(),))
    browser.start()
    try:
        while not (service.render_areas and service.render_areas[0].connections
                   and service.render_areas[0].connections[0].is_open):
            service.dispatch(timeout=0.02)
        service.render_areas[0].connections[0].send_message("between dispatches")
        service.dispatch(timeout=20.0)  # the page wakes it once the message is there
        delivered_while_waiting = got_it.is_set()
    finally:
        browser.join(timeout=60)
        service.close()
    assert received == ["between dispatches"] and delivered_while_waiting
