"""Test files made by the formats' own libraries: the examples' synthetic CT series and seismic survey."""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
for folder in ("medical", "seismic"):
    if str(EXAMPLES / folder) not in sys.path:
        sys.path.insert(0, str(EXAMPLES / folder))

from synthetic_ct import phantom, write_series  # noqa: E402
from synthetic_survey import reflectors, write_survey  # noqa: E402

__all__ = ["phantom", "reflectors", "write_series", "write_survey"]
