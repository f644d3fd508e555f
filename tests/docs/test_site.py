"""The documentation site builds with warnings as errors: a broken link, a missing page or a
docstring mkdocstrings cannot read fails CI."""

from __future__ import annotations

import os
import re
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


def test_every_public_name_of_remoteviz_is_in_the_api_reference(tmp_path) -> None:
    """Each name of ``remoteviz.__all__`` has its own entry (an anchor mkdocstrings makes from the
    object's path) on a page of the built API reference: a name exported but never documented fails."""
    import remoteviz

    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    anchors = {anchor.rsplit(".", 1)[-1] for page in (site / "reference").rglob("*.html")
               for anchor in re.findall(r'id="(remoteviz\.[\w.]+)"', page.read_text())}
    missing = sorted(set(remoteviz.__all__) - anchors)
    assert not missing, f"public names with no entry in docs/reference/*.md: {missing}"
