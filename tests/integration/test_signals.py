"""Defect 8 of issue #9: SIGTERM (Docker, Kubernetes, systemd) and Ctrl-C stop run() cleanly."""

import asyncio
import signal
import subprocess
import sys
import textwrap

import pytest

from remoteviz import client

SCRIPT = textwrap.dedent("""
    import logging, sys
    import numpy as np
    import remoteviz as rv

    logging.basicConfig(level=logging.INFO)

    class Source(rv.RenderAreaListener):
        def on_requested_frame(self, render_area, connection):
            render_area.request_redraw()  # keeps dispatch busy, as a spinning scene would
            return np.zeros((render_area.height, render_area.width, 3), np.uint8), True

    class Listener(rv.ServiceListener):
        def on_instantiated_render_area(self, render_area):
            render_area.add_listener(Source())

    service = rv.Service.instance()
    service.add_listener(Listener())
    settings = rv.ServiceSettings(host="127.0.0.1", port=0, run_mode=rv.RunMode.INDEPENDENT_SERVICE)
    original = service.open

    def open_and_tell(settings=None):
        ok = original(settings)
        print("PORT", service.port, flush=True)
        return ok

    service.open = open_and_tell
    service.run(settings)
    print("RETURNED", flush=True)
""")


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_defect_8_a_stop_signal_closes_every_viewer_with_the_services_code_and_exits_0(signal_number, tmp_path):
    script = tmp_path / "serve.py"
    script.write_text(SCRIPT)
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        line = process.stdout.readline()
        while line and not line.startswith("PORT"):
            line = process.stdout.readline()
        assert line.startswith("PORT"), "the service did not start"
        port = int(line.split()[1])

        async def view_then_signal():
            async with client.connect(f"ws://127.0.0.1:{port}/Area", width=32, height=24) as one, \
                    client.connect(f"ws://127.0.0.1:{port}/Other", width=32, height=24) as two:
                await one.next_frame()
                await two.next_frame()
                process.send_signal(signal_number)
                await one.wait_closed(timeout=15)
                await two.wait_closed(timeout=15)
                return [(v.close_code, v.disconnect.reason.value if v.disconnect else None) for v in (one, two)]

        closes = asyncio.run(view_then_signal())
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert closes == [(4001, "DISPOSED"), (4001, "DISPOSED")]
    assert process.returncode == 0, output
    assert "RETURNED" in output and "Traceback" not in output
    assert signal.Signals(signal_number).name + " received" in output
