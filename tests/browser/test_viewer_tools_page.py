"""The built-in page's toolbar, model tree, measuring tools, screenshot and recording, in Chromium,
against a service whose areas show the named parts of ``viewer_scene`` with the viewer's tools."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import av
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page

import remoteviz as rv

from ..integration.harness import ServiceThread, running_service
from ..integration.viewer_scene import LEFT_CENTRE, RIGHT_CENTRE, PartsViewer, angle_at, front_plane_point, project
from .helpers import VIEW, canvas_image, changed_fraction, decoded_count, view_box, wait_first_frame, wait_settled


@pytest.fixture(scope="module")
def parts() -> Iterator[tuple[ServiceThread, PartsViewer]]:
    """A service with no static folder (so it serves the built-in page), the parts in every area."""
    viewer = PartsViewer()
    with running_service(viewer, run_mode=rv.RunMode.INVENTOR_SERVICE) as runner:
        yield runner, viewer


@pytest.fixture
def parts_page(parts, new_page, request) -> Callable[[], tuple[Page, rv.RenderArea]]:
    """The built-in page on an area of the test's own (a fresh scene), once the toolbar and a still show."""
    runner, viewer = parts

    def open_page() -> tuple[Page, rv.RenderArea]:
        area_id = request.node.name.replace("test_", "")[:60]
        page = new_page(f"http://127.0.0.1:{runner.service.port}/?area={area_id}")
        wait_first_frame(page)
        page.wait_for_selector("#rv-toolbar:not([hidden])")
        # The toolbar took its place above the view: the render area follows the view's new size.
        page.wait_for_function("theRenderArea.getRenderAreaHeight() === document.querySelector('#TheDiv').clientHeight"
                               " && document.querySelector('.remoteviz-view canvas').height === theRenderArea.getRenderAreaHeight()")
        wait_settled(page, after=0)
        return page, viewer.areas[area_id]

    return open_page


def act(page: Page, key: str) -> None:
    """Press a shortcut key on the view and wait for the picture it brings."""
    painted = decoded_count(page)
    page.locator(VIEW).press(key)
    wait_settled(page, after=painted)


def choose_tool(page: Page, key: str, tool: str) -> None:
    """Press a tool's shortcut and wait for the service to say it is chosen (the picture stays)."""
    page.locator(VIEW).press(key)
    page.wait_for_function(f"document.querySelector('#rv-toolbar select[title^=Tool]').value === {tool!r}")


def open_tree(page: Page) -> None:
    page.locator(VIEW).press("t")
    page.locator(".rv-tree-row").first.wait_for()


def click_view(page: Page, x: int, y: int) -> None:
    box = view_box(page)
    page.mouse.click(box["x"] + x + 0.5, box["y"] + y + 0.5)  # the pixel's centre, wherever the view starts


def viewer_messages(page: Page, kind: str) -> list[dict]:
    return [m for m in (json.loads(text) for text in page.evaluate("window.__rv.messages")
                        if isinstance(text, str) and text.startswith("{")) if m.get("type") == "viewer." + kind]


def cube_pixel(area: rv.RenderArea, centre: tuple[float, float, float] = LEFT_CENTRE) -> tuple[int, int]:
    """Where a cube's centre shows now."""
    return project(area.scene_manager.scene_graph.camera, centre, area.width, area.height)


def test_a_part_toggled_off_in_the_tree_disappears_and_comes_back(parts_page) -> None:
    page, area = parts_page()
    page.locator("#rv-toolbar [data-action=tree]").click()
    rows = page.locator(".rv-tree-row .rv-name")
    rows.first.wait_for()
    assert rows.all_inner_texts()[:4] == ["base", "base shape", "assembly", "left"]
    x, y = cube_pixel(area)
    before = canvas_image(page)
    assert before[y, x, 0] > before[y, x, 2] + 80, "the left cube shows red"
    painted = decoded_count(page)
    page.locator('.rv-tree-row[data-node="2.0"] input[type=checkbox]').uncheck()
    wait_settled(page, after=painted)
    hidden = canvas_image(page)
    assert abs(hidden[y, x, 0] - hidden[y, x, 2]) < 25, f"grey plate where the cube was: {hidden[y, x]}"
    assert area.scene_manager.find("left").visible is False
    painted = decoded_count(page)
    page.locator('.rv-tree-row[data-node="2.0"] input[type=checkbox]').check()
    wait_settled(page, after=painted)
    assert np.array_equal(canvas_image(page), before)


def test_isolate_shows_one_part_and_fit_frames_it(parts_page) -> None:
    page, area = parts_page()
    open_tree(page)
    x, y = cube_pixel(area)
    full = canvas_image(page)
    painted = decoded_count(page)
    page.locator('.rv-tree-row[data-node="2.1"] button[title^=Isolate]').click()
    wait_settled(page, after=painted)
    alone = canvas_image(page)
    background = full[:, 2, :]  # the gradient, one colour per row, at the left edge
    assert np.abs(alone[y, x] - background[y]).max() < 12, "neither the left cube nor the plate shows"
    green = (alone[..., 1] > alone[..., 0] + 60) & (alone[..., 1] > alone[..., 2] + 60)
    assert green.mean() > 0.01, "the right cube shows"
    painted = decoded_count(page)
    page.locator('.rv-tree-row[data-node="2.1"] button[title^=Fit]').click()
    wait_settled(page, after=painted)
    fitted = canvas_image(page)
    green = (fitted[..., 1] > fitted[..., 0] + 60) & (fitted[..., 1] > fitted[..., 2] + 60)
    height, width = green.shape
    assert green[height // 2, width // 2], "the right cube in the middle"
    rows, columns = np.flatnonzero(green.any(axis=1)), np.flatnonzero(green.any(axis=0))
    assert rows[-1] - rows[0] > 0.6 * height or columns[-1] - columns[0] > 0.6 * width, "it fills the view"


def test_a_distance_measured_on_the_page_matches_numpy(parts_page) -> None:
    page, area = parts_page()
    act(page, "1")  # front
    act(page, "o")  # orthographic
    camera = area.scene_manager.scene_graph.camera
    assert isinstance(camera, rv.OrthographicCamera)
    choose_tool(page, "d", "distance")
    before = canvas_image(page)
    clicks = [(area.width // 2 - 60, area.height // 2 - 80), (area.width // 2 + 50, area.height // 2 + 90)]
    painted = decoded_count(page)
    for x, y in clicks:
        click_view(page, x, y)
    page.wait_for_function("document.querySelector('#rv-readout').textContent.startsWith('distance')")
    wait_settled(page, after=painted)
    measured = viewer_messages(page, "measure")[-1]
    expected = [front_plane_point(camera, area.width, area.height, x, y) for x, y in clicks]
    assert np.allclose(measured["points"], expected, atol=1e-4)
    assert measured["distance"] == pytest.approx(float(np.linalg.norm(expected[1] - expected[0])), rel=1e-5)
    assert f"distance {measured['distance']:.6g}"[:12] in page.locator("#rv-readout").inner_text()
    box = view_box(page)  # hovering: the point under the pointer shows below the result, which stays
    page.mouse.move(box["x"] + area.width // 2 + 0.5, box["y"] + area.height // 2 - 40.5)
    page.wait_for_function("document.querySelector('#rv-probe').textContent.startsWith('under the pointer: base shape')")
    assert page.locator("#rv-result").inner_text().startswith("distance")
    marked = canvas_image(page)
    pink = (np.abs(marked - (255, 51, 153)).max(axis=2) < 40) & (np.abs(before - (255, 51, 153)).max(axis=2) >= 40)
    assert pink.sum() > 50, "the marks, the line and the label are drawn into the picture"


def test_an_angle_of_three_clicked_points(parts_page) -> None:
    page, area = parts_page()
    act(page, "1")
    act(page, "o")
    choose_tool(page, "a", "angle")
    camera = area.scene_manager.scene_graph.camera
    cx, cy = area.width // 2, area.height // 2
    clicks = [(cx - 40, cy - 100), (cx - 40, cy + 60), (cx + 70, cy - 30)]
    for x, y in clicks:
        click_view(page, x, y)
    page.wait_for_function("document.querySelector('#rv-readout').textContent.startsWith('angle')")
    measured = viewer_messages(page, "measure")[-1]
    points = [front_plane_point(camera, area.width, area.height, x, y) for x, y in clicks]
    assert measured["angle"] == pytest.approx(angle_at(points[1], points[0], points[2]), abs=1e-3)


def test_the_screenshot_is_a_full_size_png_equal_to_the_still_frame(parts_page) -> None:
    page, area = parts_page()
    still = canvas_image(page)
    assert record_is_still(page)
    with page.expect_download() as download:
        page.locator("#rv-toolbar [data-action=screenshot]").click()
    path = download.value.path()
    assert download.value.suggested_filename.endswith(".png")
    image = Image.open(path)
    assert image.format == "PNG" and image.size == (area.width, area.height) == (still.shape[1], still.shape[0])
    assert np.array_equal(np.asarray(image.convert("RGB")).astype(int), still)


def record_is_still(page: Page) -> bool:
    return page.evaluate("(() => { const d = window.__rv.decoded; return d[d.length - 1].still && d[d.length - 1].lossless; })()")


def test_a_recording_decodes_and_has_frames(parts_page) -> None:
    page, _ = parts_page()
    page.locator(VIEW).press("r")
    page.wait_for_selector("#rv-toolbar [data-action=record].rv-on")
    for view in ("2", "3", "4", "1"):
        act(page, view)  # the picture changes: frames to record
    with page.expect_download() as download:
        page.locator(VIEW).press("r")
    name = download.value.suggested_filename
    assert name.endswith((".webm", ".mp4"))
    with av.open(download.value.path()) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(frames) >= 3, f"{len(frames)} frames"
    assert max(float(np.abs(f.astype(int) - frames[0].astype(int)).mean()) for f in frames) > 5, "the views differ"


def silhouette(image: np.ndarray) -> tuple[int, int]:
    background = image[:, 1, :]
    covered = np.abs(image - background[:, None, :]).max(axis=2) > 12
    rows, columns = np.flatnonzero(covered.any(axis=1)), np.flatnonzero(covered.any(axis=0))
    return int(columns[-1] - columns[0] + 1), int(rows[-1] - rows[0] + 1)


def test_standard_views_and_orthographic_change_the_picture_as_expected(parts_page) -> None:
    page, area = parts_page()
    act(page, "1")
    front = canvas_image(page)
    width, height = silhouette(front)
    assert 1.6 < width / height < 2.4, f"the 8 x 4 plate from the front: {width} x {height}"
    act(page, "2")
    top = canvas_image(page)
    width, height = silhouette(top)
    assert width / height > 4.5, f"the plate seen from above is 8 wide and 1.2 deep: {width} x {height}"
    act(page, "1")
    assert np.array_equal(canvas_image(page), front), "the front view again"
    act(page, "o")
    ortho = canvas_image(page)
    assert page.locator("#rv-toolbar select[title^=Projection]").input_value() == "orthographic"
    width, height = silhouette(ortho)
    assert abs(width / height - 2.0) < 0.05, f"without perspective the plate's outline is exactly 2:1: {width} x {height}"
    assert changed_fraction(front, ortho) > 0.005, "the cubes' sides no longer show"
    # The cubes' inner side faces, seen in perspective, are gone: less of the cubes' colour.
    red = lambda image: ((image[..., 0] > image[..., 2] + 80) & (image[..., 0] > image[..., 1] + 80)).sum()  # noqa: E731
    assert red(ortho) < red(front)


def test_wireframe_and_edges_differ_from_surfaces(parts_page) -> None:
    page, area = parts_page()
    act(page, "1")
    surface = canvas_image(page)
    act(page, "w")
    wire = canvas_image(page)
    assert changed_fraction(surface, wire) > 0.2, "the plate's faces are gone, its edges left"
    height, width = wire.shape[:2]
    rows, columns = slice(height // 2 - 60, height // 2 - 30), slice(width // 2 - 20, width // 2 + 20)
    background = surface[rows, 2][:, None, :]  # the gradient at the left edge, row by row
    through = np.abs(wire[rows, columns] - background).max(axis=2) < 12
    assert through.mean() > 0.9, "inside the plate's outline, away from its diagonals, the background shows"
    act(page, "e")
    edges = canvas_image(page)
    assert 0.002 < changed_fraction(surface, edges) < 0.2, "the surfaces with a few dark lines"
    act(page, "s")
    assert np.array_equal(canvas_image(page), surface)


def test_the_help_lists_the_shortcuts(parts_page) -> None:
    page, _ = parts_page()
    page.locator(VIEW).press("?")
    help_box = page.locator("#rv-help")
    help_box.wait_for(state="visible")
    text = help_box.inner_text()
    assert "distance between two points" in text and "wireframe" in text
    page.locator(VIEW).press("?")
    help_box.wait_for(state="hidden")


def test_the_colour_map_control_shows_only_for_scalars_and_sends_the_colormap_message(parts_page) -> None:
    page, area = parts_page()
    assert page.locator("#rv-colormap").is_hidden(), "no scalars in this scene"
    page.evaluate("""() => {
        const state = JSON.parse(window.__rv.messages.filter((m) => typeof m === "string" && m.includes('"viewer.state"')).pop());
        window.theViewerTools.channel._emit("state", { ...state, scalars: true });
    }""")
    assert page.locator("#rv-colormap").is_visible()
    sent: list[str] = []
    area.add_listener(Capture(sent))
    page.locator("#rv-colormap select").select_option("plasma")
    page.wait_for_function("true")
    deadline = 50
    while not sent and deadline:
        page.wait_for_timeout(100)
        deadline -= 1
    assert json.loads(sent[-1]) == {"type": "colormap", "node": None, "colormap": "plasma", "range": None, "log": False}


class Capture(rv.RenderAreaListener):
    def __init__(self, sent: list[str]) -> None:
        self.sent = sent

    def on_received_message(self, render_area, connection, message) -> None:
        if isinstance(message, str) and '"colormap"' in message:
            self.sent.append(message)


def test_a_click_with_the_select_tool_highlights_the_part_and_its_tree_row(parts_page) -> None:
    page, area = parts_page()
    open_tree(page)  # over the view's left side
    choose_tool(page, "x", "select")
    x, y = cube_pixel(area, RIGHT_CENTRE)
    before = canvas_image(page)
    painted = decoded_count(page)
    click_view(page, x, y)
    page.wait_for_selector('.rv-tree-row.rv-selected[data-node="2.1.2"]')
    wait_settled(page, after=painted)
    after = canvas_image(page)
    yellow = (np.abs(after - (255, 191, 0)).max(axis=2) < 40) & (np.abs(before - (255, 191, 0)).max(axis=2) >= 40)
    assert yellow.sum() > 20, "the right cube's edges drawn in the highlight colour"
    assert area.scene_manager.highlighted is area.scene_manager.find("right shape")


def test_a_service_without_tools_keeps_the_plain_page(new_page) -> None:
    class Cone(rv.ServiceListener):
        def on_instantiated_render_area(self, render_area: rv.RenderArea) -> None:
            root = rv.SceneExaminer([rv.Cone()])
            render_area.scene_manager.scene_graph = root
            root.view_all(render_area.viewport)

    with running_service(Cone(), run_mode=rv.RunMode.INVENTOR_SERVICE) as runner:
        page = new_page(f"http://127.0.0.1:{runner.service.port}/?area=Plain")
        wait_first_frame(page)
        wait_settled(page, after=0)
        assert page.locator("#rv-toolbar").is_hidden()
        page.locator(VIEW).press("w")  # not a shortcut here: the key goes to the service as before
        assert viewer_messages(page, "state") == []



def test_the_toolbar_works_under_the_services_content_security_policy(parts, new_page) -> None:
    runner, _ = parts
    refused: list[str] = []
    page = new_page(f"http://127.0.0.1:{runner.service.port}/?area=csp", bypass_csp=False)
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
    page.wait_for_selector("#rv-toolbar:not([hidden])")
    page.locator(VIEW).press("?")
    page.wait_for_selector("#rv-help:not([hidden])")
    with page.expect_download() as download:
        page.locator("#rv-toolbar [data-action=screenshot]").click()
    assert Image.open(download.value.path()).format == "PNG"
    assert refused == []


def test_the_clip_plane_cuts_the_parts_and_goes_away_again(parts_page) -> None:
    page, area = parts_page()
    act(page, "1")
    whole = canvas_image(page)
    act(page, "c")
    assert page.locator("#rv-toolbar input[title^=Clip]").is_checked()
    cut = canvas_image(page)
    x, y = cube_pixel(area)
    # Cut halfway through the scene's depth (z from -0.1 to 1.1): the cubes lose their red front
    # faces (at z = 1.1), and the plate (its front face at z = 0.1, where the cubes stand) shows.
    assert whole[y, x, 0] > whole[y, x, 2] + 80 and abs(cut[y, x, 0] - cut[y, x, 2]) < 25, (whole[y, x], cut[y, x])
    painted = decoded_count(page)
    page.locator("#rv-toolbar input[title^='Where the clip']").fill("1")
    wait_settled(page, after=painted)
    everything_cut = canvas_image(page)
    assert np.abs(everything_cut[y, x] - whole[:, 2][y]).max() < 12, "cut at the far end: only the background"
    act(page, "c")
    assert np.array_equal(canvas_image(page), whole)
