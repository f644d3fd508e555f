"""nginx benchmark: HelloCone in headless Chromium, direct against behind nginx, in one run.

Three ways to the same HelloCone service, each measured under the same continuous orbit as
``benchmarks.browser`` (frames painted per second, input-to-picture latency p50/p95, decode):

- ``direct ws``: the page from the service itself, ``ws://`` straight to it;
- ``direct wss``: the same with the service's own TLS (its certificate, its encrypted key);
- ``nginx wss``: the page from Debian's nginx (``deploy/nginx/``), TLS ending there, ``wss://``
  through nginx to the service on plain ``ws://``.

The modes take turns for ``--rounds`` rounds, each round starting with the next mode, so that a
change in the machine's load falls on all of them. Certificates are self-signed, made for the run.

    python -m benchmarks.nginx [--seconds 5] [--rounds 2] [--encoder jpeg] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import remoteviz as rv
from benchmarks.browser import BrowserResult, measure
from benchmarks.streaming import HELLO_CONE, ServiceProcess
from tests.certificates import make_certificate
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


def main(argv: list[str] | None = None) -> None:
    """Measure each mode in turn and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--encoder", default="jpeg")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    width, height = map(int, args.size.split("x"))
    program = [sys.executable, "-m", "benchmarks.nginx", "serve"]
    results: dict[str, list[BrowserResult]] = {"direct ws": [], "direct wss": [], "nginx wss": []}
    print(f"{'mode':11} {'round':>5} {'fps':>6} {'p50 ms':>7} {'p95 ms':>7} {'KB/frame':>8} {'decode ms':>9}")
    with tempfile.TemporaryDirectory() as scratch:
        tls = make_certificate(Path(scratch) / "service", PASSPHRASE)
        proxy_tls = make_certificate(Path(scratch) / "nginx")  # nginx would want ssl_password_file
        proxy_port = free_port()
        proxy_origin = f"https://127.0.0.1:{proxy_port}"
        modes = list(results)
        for round_ in range(1, args.rounds + 1):
            # Each round starts with another mode, so that none always runs first (or last).
            shift = (round_ - 1) % len(modes)
            for mode in modes[shift:] + modes[:shift]:
                extra = {"direct ws": [], "nginx wss": ["--origin", proxy_origin],
                         "direct wss": ["--certificate", str(tls.certificate_path), "--key", str(tls.private_key_path)]}
                service = ServiceProcess(args.encoder, [*program, *extra[mode]])
                try:
                    if mode == "nginx wss":
                        with running_nginx(Path(scratch) / f"nginx{round_}", proxy_tls, HELLO_CONE.parent / "static",
                                           service.port, free_port(), port=proxy_port):
                            result = measure(proxy_origin + "/", args.encoder, width, height, args.seconds,
                                             ignore_https_errors=True)
                    else:
                        scheme = "https" if mode == "direct wss" else "http"
                        result = measure(f"{scheme}://127.0.0.1:{service.port}/", args.encoder, width, height,
                                         args.seconds, ignore_https_errors=True)
                finally:
                    service.stop()
                results[mode].append(result)
                print(f"{mode:11} {round_:5} {result.fps:6.1f} {result.latency_p50_ms:7.1f} "
                      f"{result.latency_p95_ms:7.1f} {result.bytes_per_frame / 1024:8.1f} {result.decode_ms:9.1f}",
                      flush=True)
    print(f"median over {args.rounds} rounds ({args.encoder}, {args.size}; the machine is shared, so compare "
          "the rows of this run only):")
    for mode, rows in results.items():
        print(f"{mode:11} {'':5} {statistics.median(r.fps for r in rows):6.1f} "
              f"{statistics.median(r.latency_p50_ms for r in rows):7.1f} "
              f"{statistics.median(r.latency_p95_ms for r in rows):7.1f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({mode: [asdict(r) for r in rows] for mode, rows in results.items()},
                                      indent=2))
    print(f"results written to {args.output}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2:])
    else:
        main()
