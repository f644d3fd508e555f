"""The ``remoteviz`` command as a user runs it: ``view`` shows their model on the built-in page,
``client-path`` finds the browser client, a file that is no mesh is refused with its reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import trimesh

from ..processes import service_process
from .helpers import canvas_image, changed_fraction, decoded_count, drag, view_box, wait_first_frame, wait_settled

COMMAND = Path(sys.executable).parent / "remoteviz"  # the console script pip installed


def silhouette(image: np.ndarray) -> tuple[int, int]:
    """Width and height in pixels of what differs from the background gradient (one colour per row)."""
    background = image[:, 1, :]
    covered = np.abs(image - background[:, None, :]).max(axis=2) > 12
    rows, columns = np.flatnonzero(covered.any(axis=1)), np.flatnonzero(covered.any(axis=0))
    assert rows.size and columns.size, "nothing but the background is shown"
    return int(columns[-1] - columns[0] + 1), int(rows[-1] - rows[0] + 1)


def test_view_shows_the_model_of_an_stl_file(tmp_path, new_page) -> None:
    model = tmp_path / "plate.stl"
    trimesh.creation.box(extents=(3.0, 1.0, 0.2)).export(model)  # three times as wide as it is high
    with service_process("-m", "remoteviz", "view", str(model), "--port", "0") as service:
        page = new_page(service.url)
        wait_first_frame(page)
        wait_settled(page, after=0)
        image = canvas_image(page)
        width, height = silhouette(image)
        assert 2.5 < width / height < 3.5, f"the plate shows {width} x {height} pixels"
        assert width > 0.5 * image.shape[1], "view_all frames the model"
        painted = decoded_count(page)
        box = view_box(page)
        drag(page, [(box["width"] / 2, 100), (box["width"] / 2, 200), (box["width"] / 2, 300)])
        wait_settled(page, after=painted)
        assert changed_fraction(image, canvas_image(page)) > 0.05, "the examiner turns the model"


def test_client_path_names_the_folder_of_the_client() -> None:
    printed = subprocess.run([str(COMMAND), "client-path"], capture_output=True, text=True, check=True).stdout
    folder = Path(printed.strip())
    assert (folder / "remoteviz.js").is_file() and (folder / "RemoteVizClient.js").is_file()


def test_view_refuses_a_file_that_is_no_mesh(tmp_path) -> None:
    bogus = tmp_path / "notes.stl"
    bogus.write_text("not a mesh at all")
    done = subprocess.run([sys.executable, "-m", "remoteviz", "view", str(bogus), "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"remoteviz: cannot read {bogus}" in done.stderr
