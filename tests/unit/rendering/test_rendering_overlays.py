"""The colour bar, the axes triad and the scale bar, drawn into real OpenGL frames: the bar's strip
against the colour map read from the cmap package, text where the ticks are, the triad turning
with the camera, the scale bar following the zoom, and their fixed size in pixels."""

from __future__ import annotations

import math

import cmap
import numpy as np
import pytest

import remoteviz as rv
from remoteviz.rendering.overlays import log_ticks, nice_ticks, round_length, tick_label

from .test_rendering_scalars import map_rgb, ramp_quad

BAR = 200  # the colour strip's default length in pixels


def frame(manager, nodes, width=320, height=280, camera_height=120.0, orientation=None):
    camera = rv.OrthographicCamera(position=(0.0, 0.0, 500.0), height=camera_height)
    if orientation is not None:
        camera.orientation = orientation
        camera.position = tuple(-500.0 * np.asarray(camera.view_direction))
    root = rv.SceneExaminer(camera=camera)
    for node in nodes:
        root.add_child(node)
    manager.antialiasing = 0
    manager.scene_graph = root
    return manager.render(width, height).astype(int)


def strip_rows(image, column):
    """The rows of the longest run of non-black pixels in ``column`` (the colour strip)."""
    lit = (image[:, column] > 12).any(axis=1)
    best, start = (0, 0), None
    for row, on in enumerate([*lit, False]):
        if on and start is None:
            start = row
        elif not on and start is not None:
            best = max(best, (row - start, start))
            start = None
    return best[1], best[1] + best[0]


def white(block):
    return (block > 200).all(axis=-1)


def coloured_mesh(**fields):
    mesh = ramp_quad(scalars=[0.0, 0.0, 100.0, 100.0], **fields)
    mesh.vertices = mesh.vertices * 0.3  # small, in the middle, clear of the corners
    return mesh


def test_the_colour_bar_strip_follows_the_map_and_its_ticks_carry_labels(make_manager):
    mesh = coloured_mesh(colormap="viridis")
    bar = rv.ColorBar(mesh, corner="top-left", margin=0.0)
    manager = make_manager()
    image = frame(manager, [mesh, bar])
    column = 6 + 8  # the box's padding, then half the strip's thickness
    top, bottom = strip_rows(image, column)
    assert bottom - top == BAR
    expected = map_rgb("viridis", 1.0 - (np.arange(BAR) + 0.5) / BAR)  # high end at the top
    np.testing.assert_allclose(image[top:bottom, column], expected, atol=2)
    # Ticks 0, 20, ..., 100: text right of the strip at each, none halfway between them.
    text_columns = slice(6 + 16 + 5 + 2, 6 + 16 + 5 + 40)
    for k in range(6):
        y = round(bottom - 1 - k / 5 * (BAR - 1))
        assert white(image[y - 4 : y + 5, text_columns]).sum() > 5, k
        if k < 5:
            middle = round(y - BAR / 10)
            assert not white(image[middle - 3 : middle + 4, text_columns]).any(), k


def test_the_colour_bar_follows_its_nodes_map_range_and_log_scale(make_manager):
    mesh = coloured_mesh(colormap="viridis")
    bar = rv.ColorBar(mesh, corner="top-left", margin=0.0, title="Pressure")
    manager = make_manager()
    before = frame(manager, [mesh, bar])
    mesh.colormap = "coolwarm"
    image = frame(manager, [mesh, bar])
    column = 6 + 8
    top, bottom = strip_rows(image, column)
    assert bottom - top == BAR and not np.array_equal(before, image)
    expected = map_rgb("coolwarm", 1.0 - (np.arange(BAR) + 0.5) / BAR)
    np.testing.assert_allclose(image[top:bottom, column], expected, atol=2)
    assert white(image[:top - 8, 6:80]).sum() > 20  # the title above the strip
    # A log scale from 1 to 1000: labels at the decades, a third of the bar apart.
    mesh.scalars = [1.0, 1.0, 1000.0, 1000.0]
    mesh.log_scale = True
    image = frame(manager, [mesh, bar])
    text_columns = slice(6 + 16 + 5 + 2, 6 + 16 + 5 + 40)
    for k in range(4):
        y = round(bottom - 1 - k / 3 * (BAR - 1))
        assert white(image[y - 4 : y + 5, text_columns]).sum() > 5, k
    assert not white(image[round(bottom - BAR / 6) - 3 : round(bottom - BAR / 6) + 4, text_columns]).any()


def test_a_colour_bar_for_a_volume_and_the_same_pixel_size_in_any_frame(make_manager):
    data = np.linspace(0, 1, 8 * 8 * 8, dtype=np.float32).reshape(8, 8, 8)
    volume = rv.Volume(data, transfer_function=rv.TransferFunction.from_colormap("plasma", 0.05))
    bar = rv.ColorBar(volume, corner="top-left", margin=0.0, length=150.0)
    manager = make_manager()
    table = np.asarray(cmap.Colormap("bids:plasma").lut(256))[:, :3] * 255.0
    for width, height in ((240, 200), (640, 480)):
        image = frame(manager, [volume, bar], width, height)
        top, bottom = strip_rows(image, 14)
        assert bottom - top == 150
        x = (1.0 - (np.arange(150) + 0.5) / 150) * 255
        expected = np.stack([np.interp(x, np.arange(256), table[:, k]) for k in range(3)], axis=-1)
        np.testing.assert_allclose(image[top:bottom, 14], expected, atol=2)


def test_a_colour_bar_for_a_node_without_scalars_is_left_out_and_a_node_without_a_map_refused(make_manager):
    mesh = ramp_quad()
    bar = rv.ColorBar(mesh, corner="top-left", margin=0.0)
    image = frame(make_manager(), [bar])
    assert image.max() == 0
    with pytest.raises(TypeError, match="colour map"):
        rv.ColorBar(rv.Cube())


def red_green_blue_centroids(image, left, top, size):
    """Per axis colour, the mean (dx, dy) of its pixels from the triad's centre (y up)."""
    block = image[top : top + size, left : left + size]
    ys, xs = np.mgrid[:size, :size]
    found = []
    for channel in range(3):
        others = [c for c in range(3) if c != channel]
        mask = (block[..., channel] > 150) & (block[..., others] < 120).all(axis=-1)
        assert mask.sum() > 10, channel
        found.append((xs[mask].mean() - size / 2, size / 2 - ys[mask].mean()))
    return found


def test_the_axes_triad_turns_with_the_camera(make_manager):
    triad = rv.AxesTriad(corner="bottom-left", margin=0.0)
    manager = make_manager()
    image = frame(manager, [triad], 200, 160)
    red, green, blue = red_green_blue_centroids(image, 0, 160 - 90, 90)
    assert red[0] > 15 and abs(red[1]) < 5  # X to the right
    assert green[1] > 15 and abs(green[0]) < 5  # Y up
    assert math.hypot(*blue) < 6  # Z towards the viewer: a dot at the centre
    # Looking down -x: world Z now points left, X at the viewer.
    turned = rv.Rotation.from_axis_angle((0.0, 1.0, 0.0), math.pi / 2)
    image = frame(manager, [triad], 200, 160, orientation=turned)
    red, green, blue = red_green_blue_centroids(image, 0, 160 - 90, 90)
    assert blue[0] < -15 and math.hypot(*red) < 6 and green[1] > 15


def bar_pixels(image):
    """The length of the longest white run in the frame's bottom rows (the scale bar)."""
    best = 0
    for row in image[-30:]:
        run = 0
        for on in white(row):
            run = run + 1 if on else 0
            best = max(best, run)
    return best


def test_the_scale_bar_shows_a_round_length_that_follows_the_zoom(make_manager):
    scale = rv.ScaleBar(units="mm")
    manager = make_manager()
    assert bar_pixels(frame(manager, [scale], 160, 120, camera_height=120.0)) == 100  # 100 mm at 1 mm a pixel
    assert scale.measure(1.0) == (100.0, 100)
    image = frame(manager, [scale], 160, 120, camera_height=180.0)  # zoomed out: 1.5 mm a pixel
    assert scale.measure(1.5) == (200.0, 133) and bar_pixels(image) == 133
    image = frame(manager, [scale], 320, 240, camera_height=180.0)  # a bigger frame: 0.75 mm a pixel
    assert bar_pixels(image) == 133  # 100 mm


def test_round_numbers_for_ticks_and_lengths():
    assert nice_ticks(0.0, 100.0) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(-1.0, 1.0) == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert nice_ticks(0.13, 0.47) == [0.2, 0.3, 0.4]
    assert nice_ticks(0.13, 0.87) == [0.2, 0.4, 0.6, 0.8]
    assert log_ticks(1.0, 1000.0) == [1.0, 10.0, 100.0, 1000.0]
    assert log_ticks(1.0, 1e12) == [1.0, 1e3, 1e6, 1e9, 1e12]
    assert log_ticks(2.0, 8.0) == nice_ticks(2.0, 8.0, 4)
    ticks = nice_ticks(0.0, 1.0)
    assert [tick_label(t, ticks) for t in ticks] == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
    assert tick_label(1e-7, [1e-7, 1e-6]) == "1e-07"
    assert [round_length(x) for x in (150.0, 99.0, 0.3, 7.0)] == [100.0, 50.0, 0.2, 5.0]


def test_a_horizontal_colour_bar_runs_low_to_high_left_to_right_with_labels_below(make_manager):
    mesh = coloured_mesh(colormap="viridis")
    bar = rv.ColorBar(mesh, corner="bottom-left", margin=0.0, orientation="horizontal")
    image = frame(make_manager(), [mesh, bar])
    # The strip: the one row with a run of BAR lit pixels starting near the left edge.
    across = image.transpose(1, 0, 2)  # strip_rows(across, r): the longest lit run along row r
    strip = [(r, strip_rows(across, r)) for r in range(image.shape[0] - 80, image.shape[0])]
    strip = [(r, span) for r, span in strip if span[1] - span[0] == BAR]
    assert len(strip) == 16  # the strip's thickness
    row, (left, right) = strip[0]
    expected = map_rgb("viridis", (np.arange(BAR) + 0.5) / BAR)
    np.testing.assert_allclose(image[row, left:right], expected, atol=2)
    strip_bottom = strip[-1][0] + 1
    for k in range(6):  # 0, 20, ..., 100 under their ticks
        x = round(left + k / 5 * (BAR - 1))
        assert white(image[strip_bottom + 6 : strip_bottom + 24, x - 3 : x + 4]).any(), k
    with pytest.raises(ValueError, match="'vertical' or 'horizontal'"):
        bar.orientation = "diagonal"
