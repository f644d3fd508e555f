"""The README's Examples section, run as written: each ``python examples/...`` command (with the
files it names made here by their formats' own libraries, and ``--port 0``) starts a service whose
log names its page, which loads, and whose render area sends a picture of something."""

from __future__ import annotations

import asyncio
import re
import shlex
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import trimesh

from remoteviz import client

from ..markdown import block_under
from ..processes import ROOT, service_process

README = ROOT / "README.md"


def commands() -> list[list[str]]:
    return [shlex.split(line.split("#")[0]) for line in block_under(README, "Examples", "sh").text.splitlines()
            if line.strip()]


def make_file(name: str, folder: Path) -> Path:
    """A file the README names as the reader's own: a point cloud or a volume."""
    path = folder / name
    rng = np.random.default_rng(1)
    if path.suffix == ".ply":
        points = rng.normal(0.0, 1.0, (2000, 3))
        trimesh.PointCloud(points, colors=np.tile([255, 40, 40, 255], (2000, 1)).astype(np.uint8)).export(path)
    elif path.suffix == ".npy":
        axis = np.linspace(-1.0, 1.0, 40)
        z, y, x = np.meshgrid(axis, axis, axis, indexing="ij")
        np.save(path, ((x**2 + y**2 + z**2 < 0.5) * 1000.0 + rng.uniform(0, 50, x.shape)).astype(np.float64))
    else:
        raise AssertionError(f"the README names {name}, which this test cannot make")
    return path


def test_the_examples_section_lists_every_example() -> None:
    named = {Path(word).parts[1] for command in commands() for word in command if word.startswith("examples/")}
    assert named == {path.name for path in (ROOT / "examples").iterdir() if path.is_dir()}


PYTHON_COMMANDS = [command for command in commands() if command[0] == ".venv/bin/python"]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("command", PYTHON_COMMANDS, ids=[Path(c[1]).stem for c in PYTHON_COMMANDS])
def test_an_example_runs_as_the_readme_says(command: list[str], tmp_path: Path) -> None:
    script, *arguments = command[1:]
    arguments = [str(ROOT / word) if (ROOT / word).exists() else str(make_file(word, tmp_path))
                 if "." in word and not word.startswith("-") else word for word in arguments]
    with service_process(str(ROOT / script), *arguments, "--port", "0", cwd=tmp_path) as service:
        url = service.url
        with urllib.request.urlopen(url, timeout=30) as page:
            assert page.status == 200
            html = page.read().decode()
        # The render area the page opens: the first id in a connectTo or a pair of the two-area page's.
        named = re.search(r"host\}/(\w+)", html) or re.search(r'\["\w+", "(\w+)"\]', html)
        area = named.group(1) if named else "TheCone"  # the built-in page's default

        async def picture() -> np.ndarray:
            ws = url.replace("http://", "ws://").split("?")[0].rstrip("/") + "/" + area
            async with client.connect(ws, width=160, height=120, timeout=60) as view:
                return (await view.next_frame(timeout=60)).image

        image = asyncio.run(picture()).astype(int)
        assert image.shape == (120, 160, 3)
        # Something drawn over the background: the middle differs from the corners.
        centre = image[40:80, 55:105].reshape(-1, 3).mean(axis=0)
        corners = np.concatenate([image[:8, :8].reshape(-1, 3), image[:8, -8:].reshape(-1, 3)]).mean(axis=0)
        assert np.abs(centre - corners).max() > 10, (centre, corners)
