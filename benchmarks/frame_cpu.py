"""Where the service's CPU goes: CPU milliseconds per rendered frame of each of its threads.

Starts the HelloCone service in a subprocess, drives the continuous orbit of
``benchmarks.streaming`` from a Python client, and prints each thread's CPU time over the orbit
(from ``/proc``) divided by the frames rendered: the dispatch thread (``MainThread``: events),
the render threads (``remoteviz-render-N``: rendering, readback), llvmpipe's rasterizer threads,
the encoder and network threads. Python
threads are named from ``py-spy dump`` (the test extra installs py-spy). Run it with
``LP_NUM_THREADS=N`` in the environment to try another llvmpipe thread count.

    python -m benchmarks.frame_cpu [--encoder jpeg] [--size 1280x636] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks import streaming

_THREAD = re.compile(r"Thread (0x[0-9A-Fa-f]+|\d+) \([^)]*\): \"?([^\"\n]+)")


def thread_cpu(service: streaming.ServiceProcess) -> dict[int, tuple[str, float]]:
    """Each thread's id, OS name and CPU seconds so far."""
    threads = {}
    for thread in service.info.threads():
        comm = Path(f"/proc/{service.info.pid}/task/{thread.id}/comm")
        name = comm.read_text().strip() if comm.exists() else "?"
        threads[thread.id] = (name, thread.user_time + thread.system_time)
    return threads


def python_thread_names(pid: int) -> dict[int, str]:
    """Native thread id -> Python thread name, from ``py-spy dump`` (empty without py-spy)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    try:
        dump = subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=60).stdout
    except OSError:
        return {}
    return {int(match.group(1), 0): match.group(2) for match in _THREAD.finditer(dump)}


def main(argv: list[str] | None = None) -> None:
    """Orbit once and print the CPU per frame of each thread."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="jpeg")
    parser.add_argument("--size", default="1280x636")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    width, height = map(int, args.size.split("x"))
    service = streaming.ServiceProcess(args.encoder)
    try:
        before = thread_cpu(service)
        result = asyncio.run(streaming.measure(streaming._direct(service.port), args.encoder, width, height, 1, 1,
                                               args.seconds, service, "frame_cpu"))
        after = thread_cpu(service)
        names = python_thread_names(service.info.pid)
    finally:
        service.stop()
    frames = max(1, result.frames_rendered)
    per_thread: collections.Counter[str] = collections.Counter()
    for tid, (name, cpu) in after.items():
        per_thread[names.get(tid, name)] += cpu - before.get(tid, (name, 0.0))[1]
    print(f"{args.encoder} {args.size}: {result.fps:.1f} fps, {frames} frames rendered, "
          f"{result.server_cpu_ms_per_frame:.1f} ms of CPU per frame (threads that ended during the run "
          f"are only in this total), p50 latency {result.latency_p50_ms:.0f} ms")
    for name, cpu in per_thread.most_common():
        if cpu > 0:
            print(f"  {name:24} {cpu * 1000 / frames:6.2f} ms/frame")


if __name__ == "__main__":
    main()
