"""The HelloCone example's own page in Chromium: the cone shows, a drag turns it, a pinch zooms it,
and two pages on the render area both follow one page's drag."""

from __future__ import annotations

from .helpers import (
    VERTICAL_DRAG,
    assert_a_drag_turns_the_cone,
    assert_shows_cone,
    canvas_image,
    changed_fraction,
    cone_coverage,
    decoded_count,
    drag,
    record,
    view_box,
    wait_settled,
)


def test_the_page_shows_the_cone(cone_page) -> None:
    page = cone_page()
    image = canvas_image(page)
    assert image.shape == (480, 640, 3)  # the view's size: one render-area pixel per CSS pixel
    assert_shows_cone(image)
    connected = [event for event in record(page)["service"] if event[0] == "connected"]
    assert len(connected) == 1 and connected[0][1]["renderAreaId"] == "TheCone"
    assert page.locator("#status").text_content() == "connected"


def test_a_mouse_drag_turns_the_cone(cone_page) -> None:
    assert_a_drag_turns_the_cone(cone_page())


def test_a_touch_pinch_zooms_in(cone_page) -> None:
    page = cone_page(has_touch=True)
    wait_settled(page, after=0)
    before, painted = canvas_image(page), decoded_count(page)
    background = before[:, 1, :]  # the gradient, row by row: the cone does not reach the left edge
    box = view_box(page)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def fingers(spread: float) -> list[dict]:
        return [{"x": x - spread, "y": y, "id": 1}, {"x": x + spread, "y": y, "id": 2}]

    # Two fingers 60 px apart spreading to 120 px: a pinch of scale 2.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": fingers(30)})
    for step in range(1, 7):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": fingers(30 + 5 * step)})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    wait_settled(page, after=painted)
    after = canvas_image(page)
    covered_before, covered_after = cone_coverage(before, background), cone_coverage(after, background)
    assert 0.1 < covered_before < 0.5, covered_before
    assert covered_after > covered_before * 1.5, f"the cone covers {covered_before:.2f}, then {covered_after:.2f}"
    assert_shows_cone_centred(after)


def assert_shows_cone_centred(image) -> None:
    """Zoomed at the middle: the middle is still the grey cone."""
    height, width = image.shape[:2]
    centre = image[height // 2, width // 2]
    assert abs(centre[0] - centre[2]) < 25 and centre.mean() > 150, centre


def test_two_pages_on_one_render_area_both_follow_a_drag(cone_page) -> None:
    first = cone_page()
    second = cone_page()
    ids = [[e[1]["renderAreaId"] for e in record(p)["service"] if e[0] == "connected"] for p in (first, second)]
    assert ids == [["TheCone"], ["TheCone"]]
    for page in (first, second):
        wait_settled(page, after=0)
    before = [canvas_image(page) for page in (first, second)]
    painted = [decoded_count(page) for page in (first, second)]

    drag(first, VERTICAL_DRAG)
    for page, count in zip((first, second), painted):
        wait_settled(page, after=count)
    after = [canvas_image(page) for page in (first, second)]

    assert changed_fraction(before[0], after[0]) > 0.05, "the dragged page did not change"
    assert changed_fraction(before[1], after[1]) > 0.05, "the other page on the render area did not change"
    # Both show the same final (still, lossless) picture of the render area.
    assert changed_fraction(after[0], after[1], threshold=3) < 0.001
