"""The colour map messages applied to scenes: by name or to every coloured node, to meshes,
slices and volumes, and refused whole (nothing changed) with a reason."""

from __future__ import annotations

import numpy as np
import pytest

import remoteviz as rv
from remoteviz.colormap_messages import apply_colormap_message, colour_mapped, describe

from .test_rendering_scalars import ramp_quad


def scene():
    mesh = ramp_quad(scalars=[1.0, 1.0, 9.0, 9.0], name="pressure")
    plain = ramp_quad(name="plain")  # no scalars: not colour mapped
    volume = rv.Volume(np.arange(64, dtype=np.uint8).reshape(4, 4, 4), name="ct",
                       transfer_function=rv.TransferFunction.preset("ct"))
    plane = rv.OrthoSlice.of_volume(volume, name="axial", index=1)
    hidden = rv.Separator([plane], visible=False)
    root = rv.SceneExaminer()
    for node in (mesh, plain, volume, hidden):
        root.add_child(node)
    return root, mesh, plain, volume, plane


def test_a_named_node_takes_the_map_the_range_and_the_log_scale():
    root, mesh, plain, volume, plane = scene()
    changed = apply_colormap_message(root, {"type": "colormap", "node": "pressure", "colormap": "Plasma",
                                            "range": [2, 8], "log": True})
    assert changed == [mesh]
    assert (mesh.colormap, mesh.scalar_range, mesh.log_scale) == ("plasma", (2.0, 8.0), True)
    assert describe(mesh) == {"node": "pressure", "colormap": "plasma", "range": [2.0, 8.0], "log": True,
                              "array": None, "arrays": []}
    apply_colormap_message(root, {"type": "colormap", "node": "pressure", "range": None})
    assert mesh.scalar_range is None and mesh.colormap == "plasma" and mesh.log_scale


def test_without_a_node_every_coloured_node_changes_slices_and_volumes_their_own_way():
    root, mesh, plain, volume, plane = scene()
    assert colour_mapped(root) == [mesh, volume, plane]  # hidden ones too; the plain mesh has nothing to map
    opacity = volume.transfer_function.table[:, 3].copy()
    changed = apply_colormap_message(root, {"type": "colormap", "node": None, "colormap": "coolwarm",
                                            "range": [10, 50]})
    assert changed == [mesh, volume, plane]
    assert plane.color_mapping().colormap == "coolwarm" and plane.value_range() == (10.0, 50.0)
    assert volume.transfer_function.name == "coolwarm" and volume.data_range == (10.0, 50.0)
    np.testing.assert_array_equal(volume.transfer_function.table[:, 3], opacity)
    assert plain.colormap == "viridis"


@pytest.mark.parametrize("message,reason", [
    ({"colormap": "nope"}, "unknown colour map 'nope'"),
    ({"range": [5, 1]}, "high > low"),
    ({"range": [0, "x"]}, "range must be"),
    ({"log": "yes"}, "log must be true or false"),
    ({"node": 3, "log": True}, "node must be"),
    ({"node": "nobody", "log": True}, "no node named 'nobody'"),
    ({"node": "plain"}, "nothing to change"),
    ({"colormap": "grey", "extra": 1}, "unknown fields"),
    ({"log": True}, "no log scale"),  # the volume cannot, so nothing changes
    ({"node": "pressure", "log": True, "range": [-1, 5]}, "log scale needs a range above 0"),
])
def test_a_bad_message_changes_nothing_and_says_why(message, reason):
    root, mesh, plain, volume, plane = scene()
    before = [n.version for n in (mesh, plain, volume, plane)]
    with pytest.raises(rv.ColormapMessageError, match=reason):
        apply_colormap_message(root, {"type": "colormap", **message})
    assert [n.version for n in (mesh, plain, volume, plane)] == before


def test_a_log_scale_on_a_slice_with_a_window_below_zero_is_refused():
    root, mesh, plain, volume, plane = scene()
    plane.window, plane.level = 10.0, 0.0
    with pytest.raises(rv.ColormapMessageError, match="range above 0"):
        apply_colormap_message(root, {"type": "colormap", "node": "axial", "log": True})
    apply_colormap_message(root, {"type": "colormap", "node": "axial", "log": True, "range": [1, 60]})
    assert plane.log_scale and plane.value_range() == (1.0, 60.0)


def test_an_array_message_colours_by_another_named_array():
    root, mesh, plain, volume, plane = scene()
    plain.arrays = {"temperature": [5.0, 6.0, 7.0, 8.0]}
    assert plain in colour_mapped(root)
    assert describe(plain) == {"node": "plain", "colormap": "viridis", "range": None, "log": False,
                               "array": None, "arrays": ["temperature"]}
    apply_colormap_message(root, {"type": "colormap", "node": "plain", "array": "temperature", "colormap": "hot"})
    assert plain.scalars_name == "temperature" and plain.effective_scalar_range() == (5.0, 8.0)
    with pytest.raises(rv.ColormapMessageError, match="no array 'pressure'"):
        apply_colormap_message(root, {"type": "colormap", "node": "plain", "array": "pressure"})
