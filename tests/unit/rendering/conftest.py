"""Fixtures for the rendering tests: scene managers that are disposed after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from remoteviz.rendering import SceneManager


@pytest.fixture
def make_manager() -> Iterator[Callable[..., SceneManager]]:
    """Build SceneManagers that are disposed (freeing their GL objects) at the end of the test."""
    managers: list[SceneManager] = []

    def make(on_change: Callable[[], None] | None = None) -> SceneManager:
        manager = SceneManager(on_change)
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        manager.dispose()
