"""``remoteviz-sessions --config sessions.toml`` (also ``python -m remoteviz.sessions``)."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import sys

from .config import ConfigError, load
from .server import serve


def main(argv: list[str] | None = None) -> int:
    """Validate the configuration, then run the manager until SIGTERM or Ctrl-C; the exit status."""
    parser = argparse.ArgumentParser(prog="remoteviz-sessions",
                                     description="Start a remoteviz viewer service per request (docs/sessions.md).")
    parser.add_argument("--config", help="the TOML configuration (REMOTEVIZ_SESSIONS_* variables override it)")
    parser.add_argument("--check", action="store_true", help="validate the configuration and exit")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    try:
        config = load(args.config)
    except ConfigError as error:
        print(f"remoteviz-sessions: {error}", file=sys.stderr)
        return 2
    if args.check:
        print(f"configuration ok: apps {', '.join(config.apps)}")
        return 0
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    try:
        asyncio.run(serve(config))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            print(f"remoteviz-sessions: cannot listen on {config.host}:{config.port}: the port is in use by another "
                  "program (set port in the configuration, or REMOTEVIZ_SESSIONS_PORT)", file=sys.stderr)
        else:
            print(f"remoteviz-sessions: cannot start: {error}", file=sys.stderr)
        return 1
    return 0
