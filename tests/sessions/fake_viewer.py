"""A stand-in viewer service for the session manager's tests: speaks the control channel only.

Its behaviour is the ``mode`` parameter (``REMOTEVIZ_PARAM_MODE``), comma separated:
``ready`` (default: listen, report ready, answer heartbeats, stop when asked), ``crash`` (exit 3
half a second after ready), ``hang`` (ready, then never answer a heartbeat), ``ignore-term``
(ignore SIGTERM and the stop line), ``grandchild`` (start a ``sleep`` that stays in its group;
its pid goes to ``$FAKE_PID_DIR/<session>.grandchild``), ``never-ready``, ``port-busy`` (report
that the port is taken, as a service whose bind failed), ``idle`` (say idle=9999 in every pong), ``slow`` (ready one second late).
It binds and holds its port (its Unix socket in proxy mode) like a real service, so port reuse is observable.
"""

import os
import signal
import socket
import subprocess
import sys
import time

modes = set(os.environ.get("REMOTEVIZ_PARAM_MODE", "ready").split(","))
session = os.environ["REMOTEVIZ_SESSION_ID"]
control = socket.socket(fileno=int(os.environ["REMOTEVIZ_CONTROL_FD"]))
pid_dir = os.environ.get("FAKE_PID_DIR")
if pid_dir:
    with open(os.path.join(pid_dir, f"{session}.pid"), "w") as f:
        f.write(str(os.getpid()))


def say(line: str) -> None:
    control.sendall(line.encode() + b"\n")


if "ignore-term" in modes:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if "grandchild" in modes:
    child = subprocess.Popen(["sleep", "1000"])
    if pid_dir:
        with open(os.path.join(pid_dir, f"{session}.grandchild"), "w") as f:
            f.write(str(child.pid))
if "port-busy" in modes:
    say("failed [Errno 98] error while attempting to bind: address already in use")
    sys.exit(1)
unix_path = os.environ.get("REMOTEVIZ_UNIX_SOCKET")  # proxy mode: a Unix socket, no port
listener = socket.socket(socket.AF_UNIX if unix_path else socket.AF_INET)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's servers do
try:
    listener.bind(unix_path or (os.environ["REMOTEVIZ_HOST"], int(os.environ["REMOTEVIZ_PORT"])))
except OSError as error:  # as a real service reports a port somebody else holds
    say(f"failed {error}")
    sys.exit(1)
listener.listen()
if "slow" in modes:
    time.sleep(1.0)
if "never-ready" in modes:
    time.sleep(1000)
say(f"ready unix={unix_path}" if unix_path else f"ready port={listener.getsockname()[1]}")
if "crash" in modes:
    time.sleep(0.5)
    os._exit(3)
if "hang" in modes:
    while True:
        time.sleep(1000)
reader = control.makefile("r")
for line in reader:
    word, _, argument = line.strip().partition(" ")
    if word == "ping":
        say(f"pong {argument} connections=0 idle={9999 if 'idle' in modes else 0}")
    elif word == "stop" and "ignore-term" not in modes:
        break
if "ignore-term" in modes:
    while True:
        time.sleep(1000)
