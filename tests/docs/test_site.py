"""The documentation site builds with warnings as errors: a broken link, a missing page or a
docstring mkdocstrings cannot read fails CI."""

from __future__ import annotations

import os
import subprocess
import sys

from ..processes import ROOT


def test_the_site_builds_strictly(tmp_path) -> None:
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    reference = (site / "reference" / "scene-graph" / "index.html").read_text()
    assert "save_home" in reference and "voxel" in reference  # generated from the docstrings
    assert "RemoteVizRenderArea" in (site / "client" / "index.html").read_text()  # the client's README, included
