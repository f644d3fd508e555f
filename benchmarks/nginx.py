"""nginx benchmark: HelloCone in headless Chromium, direct against behind nginx, in one run.

Three ways to the same HelloCone service, each measured under the same continuous orbit as
``benchmarks.browser`` (frames painted per second, input-to-picture latency p50/p95, decode),
and by WebSocket ping round trips from Python before the page opens (the transport alone, no
rendering: what the path itself costs, less blurred by the machine's load):

- ``direct ws``: the page from the service itself, ``ws://`` straight to it;
- ``direct wss``: the same with the service's own TLS (its certificate, its encrypted key);
- ``nginx wss``: the page from Debian's nginx (``deploy/nginx/``), TLS ending there, ``wss://``
  through nginx to the service on plain ``ws://``.

The modes take turns for ``--rounds`` rounds, each round starting with the next mode, so that a
change in the machine's load falls on all of them. Certificates are self-signed, made for the run.

    python -m benchmarks.nginx [--seconds 5] [--rounds 2] [--pings 1000] [--encoder jpeg] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from websockets.asyncio.client import connect as ws_connect

import remoteviz as rv
from benchmarks.browser import BrowserResult, measure
from benchmarks.streaming import HELLO_CONE, ServiceProcess
from tests.certificates import Certificate, make_certificate
from tests.nginx import free_port, running_nginx

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "nginx.json"
PASSPHRASE = "benchmark"


class _Passphrase(rv.ServiceListener):
    def on_requested_private_key_passphrase(self) -> str:
        return PASSPHRASE


def serve(argv: list[str]) -> None:
    """The service process: HelloCone with allowed origins and, optionally, its own TLS."""
    sys.path.insert(0, str(HELLO_CONE.parent))
    import hello_cone

    parser = argparse.ArgumentParser()
    parser.add_argument("--origin", action="append", default=[])
    parser.add_argument("--certificate")
    parser.add_argument("--key")
    own, rest = parser.parse_known_args(argv)
    args = hello_cone.parse_args(rest)
    settings = hello_cone.settings_from(args)
    settings.allowed_origins = own.origin or None
    if own.certificate:
        settings.enable_secure_connection(own.certificate, own.key)
    service = rv.Service.instance()
    service.add_listener(hello_cone.HelloConeServiceListener(args.encoder))
    service.add_listener(_Passphrase())
    service.run(settings)


MODES = ("direct ws", "direct wss", "nginx wss")


@contextlib.contextmanager
def opened(mode: str, encoder: str, scratch: Path, tls: Certificate, proxy_tls: Certificate,
           proxy_port: int) -> Iterator[tuple[str, ssl.SSLContext | None]]:
    """The service (and nginx) for ``mode``; yields the page's base URL and the TLS context that
    trusts its certificate (None for plain http)."""
    proxy_origin = f"https://127.0.0.1:{proxy_port}"
    extra = {"direct ws": [], "nginx wss": ["--origin", proxy_origin],
             "direct wss": ["--certificate", str(tls.certificate_path), "--key", str(tls.private_key_path)]}
    service = ServiceProcess(encoder, [sys.executable, "-m", "benchmarks.nginx", "serve", *extra[mode]])
    try:
        if mode == "nginx wss":
            with running_nginx(scratch / f"nginx-{proxy_port}", proxy_tls, HELLO_CONE.parent / "static",
                               service.port, free_port(), port=proxy_port):
                yield proxy_origin, proxy_tls.client_context()
        elif mode == "direct wss":
            yield f"https://127.0.0.1:{service.port}", tls.client_context()
        else:
            yield f"http://127.0.0.1:{service.port}", None
    finally:
        service.stop()


async def ping_round_trips(base_url: str, context: ssl.SSLContext | None, count: int) -> list[float]:
    """Milliseconds of ``count`` WebSocket pings, one after the other, on a link to the render
    area: the transport alone (the service's network thread answers them), no rendering."""
    url = base_url.replace("http", "ws", 1) + "/TheCone"
    tls = {"ssl": context} if context else {}
    async with ws_connect(url, origin=base_url, compression=None, **tls) as websocket:
        times = []
        for _ in range(count):  # well within the service's 10 s wait for a hello
            started = time.perf_counter()
            await (await websocket.ping())
            times.append((time.perf_counter() - started) * 1000.0)
    return sorted(times)


def main(argv: list[str] | None = None) -> None:
    """Measure each mode in turn and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pings", type=int, default=1000)
    parser.add_argument("--encoder", default="jpeg")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    width, height = map(int, args.size.split("x"))
    results: dict[str, list[BrowserResult]] = {mode: [] for mode in MODES}
    pings: dict[str, list[float]] = {mode: [] for mode in MODES}
    print(f"{'mode':11} {'round':>5} {'fps':>6} {'p50 ms':>7} {'p95 ms':>7} {'KB/frame':>8} {'decode ms':>9} "
          f"{'ping p50':>8} {'ping p99':>8}")
    with tempfile.TemporaryDirectory() as scratch:
        tls = make_certificate(Path(scratch) / "service", PASSPHRASE)
        proxy_tls = make_certificate(Path(scratch) / "nginx")  # nginx would want ssl_password_file
        proxy_port = free_port()
        for round_ in range(1, args.rounds + 1):
            # Each round starts with another mode, so that none always runs first (or last).
            shift = (round_ - 1) % len(MODES)
            for mode in MODES[shift:] + MODES[:shift]:
                with opened(mode, args.encoder, Path(scratch), tls, proxy_tls, proxy_port) as (base, context):
                    round_trips = asyncio.run(ping_round_trips(base, context, args.pings))
                    result = measure(base + "/", args.encoder, width, height, args.seconds,
                                     ignore_https_errors=True)
                results[mode].append(result)
                pings[mode].extend(round_trips)
                print(f"{mode:11} {round_:5} {result.fps:6.1f} {result.latency_p50_ms:7.1f} "
                      f"{result.latency_p95_ms:7.1f} {result.bytes_per_frame / 1024:8.1f} {result.decode_ms:9.1f} "
                      f"{_quantile(round_trips, 0.5):8.3f} {_quantile(round_trips, 0.99):8.3f}", flush=True)
    print(f"median over {args.rounds} rounds ({args.encoder}, {args.size}; pings: all rounds together; the "
          "machine is shared, so compare the rows of this run only):")
    for mode, rows in results.items():
        together = sorted(pings[mode])
        print(f"{mode:11} {'':5} {statistics.median(r.fps for r in rows):6.1f} "
              f"{statistics.median(r.latency_p50_ms for r in rows):7.1f} "
              f"{statistics.median(r.latency_p95_ms for r in rows):7.1f} {'':8} {'':9} "
              f"{_quantile(together, 0.5):8.3f} {_quantile(together, 0.99):8.3f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({mode: {"browser": [asdict(r) for r in rows],
                                              "ping_ms_p50": _quantile(sorted(pings[mode]), 0.5),
                                              "ping_ms_p99": _quantile(sorted(pings[mode]), 0.99)}
                                       for mode, rows in results.items()}, indent=2))
    print(f"results written to {args.output}")


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2:])
    else:
        main()
