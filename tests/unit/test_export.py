"""Single-file export: a self-contained HTML page and glTF binary, from Python and the command line."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import trimesh

import remoteviz as rv
from remoteviz import cli
from remoteviz.scene_sync import ExportError, export_scene
from remoteviz.scene_sync import export as export_module


def scene() -> rv.SceneExaminer:
    examiner = rv.SceneExaminer()
    examiner.add_child(rv.Separator([rv.Transform(translation=(2, 0, 0)), rv.Material(diffuse_color=(1, 0, 0)),
                                     rv.Sphere(name="ball")]))
    examiner.add_child(rv.PointSet(np.random.default_rng(0).normal(size=(50, 3))))
    return examiner


def test_the_html_page_holds_everything_it_needs_and_names_no_other_file(tmp_path) -> None:
    path = tmp_path / "model.html"
    written = export_scene(scene(), path)
    text = path.read_text()
    assert written == len(text.encode())
    code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # JSDoc names types with import("...")
    assert not re.search(r"""(src|href)\s*=|https?://|\bimport\s*\(|^\s*import\s""", code, re.M), \
        "no script, style or module loaded from elsewhere"
    assert "default-src 'none'" in text, "the page's policy forbids any network request"
    model = json.loads(re.search(r'id="remoteviz-model">(.*?)</script>', text, re.S).group(1))
    kinds = sorted(r["kind"] for r in model["scene"]["records"])
    assert kinds == ["mesh", "points"]
    assert set(model["buffers"]) == set(model["scene"]["buffers"])


def test_a_model_too_big_for_one_file_is_refused_with_the_reason(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(export_module, "MAX_HTML_GEOMETRY_BYTES", 1000)
    with pytest.raises(ExportError, match=r"over the 0 MiB an HTML export holds: export a \.glb instead"):
        export_scene(scene(), tmp_path / "model.html")
    assert not (tmp_path / "model.html").exists()


def test_a_scene_the_page_cannot_draw_is_refused(tmp_path) -> None:
    examiner = scene()
    examiner.add_child(rv.Volume(np.arange(64, dtype=np.uint8).reshape(4, 4, 4)))
    with pytest.raises(ExportError, match=r"cannot draw \(Volume\)"):
        export_scene(examiner, tmp_path / "model.html")


def test_the_glb_holds_the_meshes_where_the_scene_puts_them(tmp_path) -> None:
    path = tmp_path / "model.glb"
    export_scene(scene(), path)
    loaded = trimesh.load(path)
    meshes = [g for g in loaded.dump() if isinstance(g, trimesh.Trimesh)]
    assert len(meshes) == 1
    ball = rv.Sphere().geometry
    assert len(meshes[0].vertices) == len(ball.positions)
    assert meshes[0].bounds.mean(axis=0) == pytest.approx([2, 0, 0], abs=1e-5), "under its transform"
    assert tuple(meshes[0].visual.vertex_colors[0][:3]) == (255, 0, 0)


def test_a_render_area_exports_its_scene(tmp_path) -> None:
    area = rv.Service().create_render_area("Parts", 320, 200)  # a service not opened: no socket, no thread
    area.scene_manager.scene_graph = scene()
    assert area.export(tmp_path / "parts.glb") > 1000
    assert "<title>Parts</title>" in (area.export(tmp_path / "parts.html") and (tmp_path / "parts.html").read_text())


def test_the_export_command_writes_a_page_and_says_what_it_cannot_do(tmp_path, capsys) -> None:
    trimesh.creation.icosphere(2).export(tmp_path / "ball.stl")
    assert cli.main(["export", str(tmp_path / "ball.stl"), "-o", str(tmp_path / "ball.html")]) == 0
    assert "wrote" in capsys.readouterr().out and (tmp_path / "ball.html").stat().st_size > 10_000
    with pytest.raises(SystemExit, match="name it .html or .glb"):
        cli.main(["export", str(tmp_path / "ball.stl"), "-o", str(tmp_path / "ball.obj")])
