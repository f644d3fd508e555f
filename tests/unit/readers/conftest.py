"""The rendering tests' fixtures, for the tests that draw what they load."""

from ..rendering.conftest import make_manager  # noqa: F401  (a fixture, found by its name)
