"""Typing: the package is clean under ``mypy --strict`` (its configuration is pyproject.toml's), a
user's script sees every scene name with its real type, and the names stay lazy at run time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import remoteviz

ROOT = Path(__file__).resolve().parents[2]


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_the_package_the_examples_and_a_user_script_pass_mypy_strict() -> None:
    done = mypy("remoteviz", "tests/typing/scene_script.py", *map(str, sorted(ROOT.glob("examples/*/*.py"))))
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_mistake_with_a_scene_name_is_caught() -> None:
    # The check above can fail: with scene names typed as ``object`` this would pass unnoticed.
    done = mypy("--strict", "-c", "import remoteviz as rv\nrv.SceneExaminer().view_all(3)\n")
    assert done.returncode == 1 and 'incompatible type "int"; expected "Viewport"' in done.stdout, done.stdout


def test_the_type_checking_block_names_exactly_the_scene_graphs_public_names() -> None:
    tree = ast.parse((ROOT / "remoteviz" / "__init__.py").read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test))
    typed = [alias.asname for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names]
    import remoteviz.rendering as rendering

    assert typed == list(rendering.__all__), "remoteviz/__init__.py's TYPE_CHECKING block and rendering.__all__ differ"
    assert all(getattr(remoteviz, name) is getattr(rendering, name) for name in typed)
    assert set(typed) <= set(remoteviz.__all__)


def test_importing_remoteviz_loads_neither_the_scene_graph_nor_opengl() -> None:
    code = "import sys, remoteviz; print('remoteviz.rendering' in sys.modules, 'OpenGL' in sys.modules)"
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert printed.split() == ["False", "False"]
    assert (Path(remoteviz.__file__).parent / "py.typed").is_file()
