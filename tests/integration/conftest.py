"""Fixtures of the integration tests; the harness itself is in harness.py."""

import pytest

from .harness import Recorder


@pytest.fixture
def recorder() -> Recorder:
    """A service listener that records every callback."""
    return Recorder()
