"""``python -m remoteviz.sessions --config sessions.toml``."""

import sys

from .cli import main

sys.exit(main())
