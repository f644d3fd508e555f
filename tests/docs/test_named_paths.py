"""Every repository path a README or a documentation page names in backticks exists: a reader
told to look at ``tests/notebook/`` or to run ``examples/volume/volume.py`` finds it."""

from __future__ import annotations

import re
from pathlib import Path

from ..processes import ROOT

TOP_FOLDERS = ("remoteviz/", "tests/", "examples/", "docs/", "client-js/", "benchmarks/", "deploy/", ".ci/")


def documents() -> list[Path]:
    return sorted({ROOT / "README.md", ROOT / "client-js" / "README.md", *ROOT.glob("docs/**/*.md"),
                   *ROOT.glob("examples/*/README.md"), *ROOT.glob("deploy/**/*.md")})


def named_paths(text: str) -> list[str]:
    """Paths in backticks (alone or in a command) under the repository's top folders, that name a
    file (with a suffix) or a folder (ending in ``/``); ``remoteviz/app`` (a label) is neither."""
    found = []
    for span in re.findall(r"`[^`\n]+`", text):
        for match in re.finditer(r"(?<![\w./-])((?:" + "|".join(re.escape(t) for t in TOP_FOLDERS) + r")[\w./-]*)", span):
            path = match.group(1).rstrip(".")
            if path.endswith("/") or Path(path).suffix:
                found.append(path)
    return found


def exists(path: str) -> bool:
    # A path may be written relative to a folder the text is about (deploy/kubernetes's
    # `examples/session-pod.yaml`); generated output folders are named in .gitignore.
    ignored = (ROOT / ".gitignore").read_text().split()
    return (ROOT / path).exists() or any(ROOT.glob(f"**/{path.rstrip('/')}")) or path in ignored


def test_the_paths_the_documents_name_exist() -> None:
    missing = [f"{document.relative_to(ROOT)}: {path}" for document in documents()
               for path in named_paths(document.read_text()) if not exists(path)]
    assert not missing, "named but not in the repository:\n" + "\n".join(missing)


def test_a_missing_path_is_found() -> None:
    assert named_paths("see `tests/notebook/` and run `.venv/bin/python examples/volume/volume.py --port 1`") == [
        "tests/notebook/", "examples/volume/volume.py"]
    assert not exists("tests/notebook/") and exists("benchmarks/results/") and exists("examples/volume/")
