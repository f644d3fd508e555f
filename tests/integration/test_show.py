"""``rv.show(obj)`` as users call it: what each kind of object becomes, a script that serves it
until Ctrl-C (its URL printed, a frame of it drawn), and a Jupyter kernel where it returns a live
view whose render area draws it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

import remoteviz as rv
from remoteviz import client
from remoteviz.showing import scene_nodes

from ..processes import ROOT, service_process


def test_each_kind_of_object_becomes_its_scene_node(tmp_path: Path) -> None:
    box = trimesh.creation.box()
    box.visual.face_colors = [200, 30, 30, 255]
    [mesh] = scene_nodes(box)
    assert isinstance(mesh, rv.Mesh) and len(mesh.vertices) == 8 and mesh.face_colors is not None
    scene = trimesh.Scene([trimesh.creation.box(), trimesh.creation.icosphere().apply_translation((3, 0, 0))])
    [merged] = scene_nodes(scene)
    assert isinstance(merged, rv.Mesh) and merged.vertices[:, 0].max() > 3.5  # both parts, placed
    [cloud] = scene_nodes(trimesh.PointCloud(np.random.default_rng(0).normal(size=(50, 3))))
    assert isinstance(cloud, rv.PointSet) and len(cloud.positions) == 50
    [points] = scene_nodes(np.zeros((10, 3)))
    assert isinstance(points, rv.PointSet) and points.positions.dtype == np.float32
    [volume] = scene_nodes(np.arange(4 * 5 * 6, dtype=np.int64).reshape(4, 5, 6))
    assert isinstance(volume, rv.Volume) and volume.data.shape == (4, 5, 6) and volume.data.dtype == np.float32
    path = tmp_path / "part.stl"
    trimesh.creation.cylinder(radius=1.0, height=2.0).export(path)
    [read] = scene_nodes(path)
    assert isinstance(read, rv.Mesh) and read.name == "part.stl"
    cone = rv.Cone()
    assert scene_nodes(cone) == [cone] and len(scene_nodes([cone, str(path)])) == 2
    with pytest.raises(TypeError, match="shape"):
        scene_nodes(np.zeros((4, 4)))
    with pytest.raises(TypeError, match="cannot show a dict"):
        scene_nodes({"not": "a model"})


def the_middle_differs_from_the_corner(image: np.ndarray) -> bool:
    """Something drawn in the middle: pixels there unlike the background gradient (each row's edge pixel)."""
    image = image.astype(int)
    drawn = np.abs(image - image[:, :1, :]).max(axis=2) > 12
    height, width = drawn.shape
    return bool(drawn[height // 4: 3 * height // 4, width // 4: 3 * width // 4].mean() > 0.05)


@pytest.mark.timeout(120)
def test_a_script_serves_what_it_shows_until_ctrl_c(tmp_path: Path) -> None:
    script = tmp_path / "show_points.py"
    script.write_text("import numpy as np\nimport remoteviz as rv\n\n"
                      "points = np.random.default_rng(0).normal(size=(20000, 3))\n"
                      "rv.show(points, port=0)\n"
                      "print('show returned')\n")
    with service_process(str(script), cwd=tmp_path) as service:
        url = service.url  # "remoteviz: open http://127.0.0.1:PORT/ in a browser", as remoteviz view prints

        async def picture() -> np.ndarray:
            async with client.connect(url.replace("http://", "ws://") + "Shown", width=120, height=90) as view:
                return (await view.next_frame(timeout=60)).image

        assert the_middle_differs_from_the_corner(asyncio.run(picture()))
    assert "show returned" in service.output  # Ctrl-C ended the serving, not the script


@pytest.mark.timeout(180)
def test_in_a_kernel_it_returns_a_live_view_of_what_it_shows(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    cells = [nbformat.v4.new_code_cell(source) for source in (
        "import numpy as np\nimport remoteviz as rv\n"
        "axis = np.linspace(-1, 1, 32)\nz, y, x = np.meshgrid(axis, axis, axis, indexing='ij')\n"
        "view = rv.show((x**2 + y**2 + z**2 < 0.6).astype(np.uint8) * 255, 160, 120)\nview",
        "import json\nprint(json.dumps({'url': view.url, 'token': view.token()}))",
    )]
    book = nbformat.v4.new_notebook(cells=cells)
    runner = NotebookClient(book, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    with runner.setup_kernel():
        runner.execute_cell(book.cells[0], 0)
        runner.execute_cell(book.cells[1], 1)
        assert "application/vnd.jupyter.widget-view+json" in book.cells[0].outputs[-1]["data"]
        shown = json.loads(book.cells[1].outputs[0]["text"])
        assert shown["url"].endswith("/show-1"), shown["url"]

        async def picture() -> np.ndarray:
            # The kernel is idle now: its loop dispatches the service, as between cells.
            async with client.connect(f"{shown['url']}?token={shown['token']}", width=160, height=120) as view:
                return (await view.next_frame(timeout=60)).image

        image = asyncio.run(picture())
        assert image.shape == (120, 160, 3) and the_middle_differs_from_the_corner(image)
