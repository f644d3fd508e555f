"""The HelloCone script as a user runs it: a process that serves, then stops cleanly on Ctrl-C."""

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "hello_cone" / "hello_cone.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_hello_cone_serves_its_page_and_stops_cleanly_on_ctrl_c() -> None:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(SCRIPT), "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                    page = response.read().decode()
                break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "the service did not come up"
                time.sleep(0.1)
        assert "RemoteVizRenderArea" in page and "TheCone" in page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/remoteviz/remoteviz.js", timeout=5) as response:
            assert response.headers["Content-Type"].startswith("text/javascript")
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "Traceback" not in output
    with socket.socket() as probe:  # nothing listens on the port any more
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # closed connections may linger
        probe.bind(("127.0.0.1", port))
        probe.listen()
