"""remoteviz as docs/notebooks.md says to install it where no index has it: a wheel built from the
repository (``pip wheel --no-deps``), installed with the notebook extra into a fresh virtual
environment (no system site packages; its dependencies from the package index, through pip's
cache), runs HelloCone from the example's script outside the repository and serves its page and a
frame of the cone. About two minutes, most of it pip."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import urllib.request
import venv
from pathlib import Path

import numpy as np
import pytest

from remoteviz import client

from ..processes import HEADLESS_GL, ROOT, ServiceProcess


def run(*command: str | Path, cwd: Path, env: dict[str, str], timeout: float) -> str:
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.timeout(600)  # pip fetches numpy, PyAV, trimesh... (from its cache when it has them)
def test_a_built_wheel_installs_in_a_fresh_venv_and_runs_hello_cone(tmp_path: Path) -> None:
    # Nothing of this test's own environment: not the repository on PYTHONPATH, not its venv.
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", ROOT,
        cwd=tmp_path, env=env, timeout=300)
    [wheel] = (tmp_path / "dist").glob("remoteviz-*.whl")
    venv.create(tmp_path / "venv", with_pip=True, system_site_packages=False)
    python = tmp_path / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", f"{wheel}[notebook]", cwd=tmp_path, env=env, timeout=540)
    where = run(python, "-c", "import remoteviz, anywidget; print(remoteviz.__file__)", cwd=tmp_path, env=env,
                timeout=60)
    assert where.strip().startswith(str(tmp_path / "venv")), where  # the installed copy, not the repository's

    script = tmp_path / "hello_cone"
    script.mkdir()
    for path in (ROOT / "examples" / "hello_cone").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            target = script / path.relative_to(ROOT / "examples" / "hello_cone")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    process = subprocess.Popen([str(python), str(script / "hello_cone.py"), "--port", "0"], cwd=tmp_path,
                               env={**env, **HEADLESS_GL, "PYTHONUNBUFFERED": "1"}, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    service = ServiceProcess(process)
    try:
        url = service.url
        with urllib.request.urlopen(url, timeout=30) as page:
            assert page.status == 200 and b"TheCone" in page.read()
        with urllib.request.urlopen(url + "remoteviz/remoteviz.js", timeout=30) as module:
            assert b"RemoteVizRenderArea" in module.read()  # the client's files are in the wheel

        async def picture() -> np.ndarray:
            async with client.connect(url.replace("http://", "ws://") + "TheCone", width=160, height=120) as view:
                return (await view.next_frame(timeout=60)).image

        image = asyncio.run(picture()).astype(int)
        centre, corner = image[60, 80], image[117, 2]
        assert centre.mean() > corner.mean() + 40, (centre, corner)  # the lit cone over the darker bottom
    finally:
        process.terminate()
        process.wait(timeout=30)
