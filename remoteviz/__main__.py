"""``python -m remoteviz``: the ``remoteviz`` command (:mod:`remoteviz.cli`)."""

import sys

from .cli import main

sys.exit(main())
