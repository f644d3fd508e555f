"""The medical and seismic examples through the Python client: real files written by pydicom and
segyio, real EGL rendering, real sockets. The medical page's four views show the volume and the
three slices in the radiological convention, window presets and slice positions follow its
messages, a double click picks HU; the seismic page's slices move from its messages and a double
click picks an amplitude at its inline, crossline and time."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import numpy as np

import remoteviz as rv
from remoteviz import client
from remoteviz.events import MouseAction, MouseButton

from .harness import running_service

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
for folder in ("medical", "seismic"):
    sys.path.insert(0, str(EXAMPLES / folder))
import medical_viewer  # noqa: E402
import seismic_viewer  # noqa: E402
import synthetic_ct  # noqa: E402
import synthetic_survey  # noqa: E402

SIZE = "width=160&height=120"


def changed(a: np.ndarray, b: np.ndarray) -> float:
    return float((np.abs(a.astype(int) - b.astype(int)).mean(axis=2) > 10).mean())


def test_the_medical_views_follow_the_window_and_slice_messages_and_pick_hu(tmp_path):
    hu = synthetic_ct.phantom((24, 64, 64))
    synthetic_ct.write_series(tmp_path, hu)

    async def scenario(runner):
        async with client.connect(runner.url("Axial", SIZE)) as axial, \
                client.connect(runner.url("Volume", SIZE)) as volume, \
                client.connect(runner.url("Sagittal", SIZE)) as sagittal:
            sliders = json.loads(await axial.next_message())  # first, the sliders' ranges
            soft = await axial.latest_frame(settle=0.5)
            shown = await volume.latest_frame(settle=0.5)
            side = await sagittal.latest_frame(settle=0.5)
            await axial.send_message(json.dumps({"window": "lung"}))
            lung = await axial.latest_frame(settle=0.5)
            await axial.send_message(json.dumps({"axial": 22}))
            low = await axial.latest_frame(settle=0.5)
            await axial.send_message(json.dumps({"window": "nonsense"}))
            error = json.loads(await axial.next_message())
            await axial.mouse(MouseAction.DOUBLE_CLICK, 80, 60, MouseButton.LEFT)
            hit = json.loads(await axial.next_message())
            return sliders, soft, shown, side, lung, low, error, hit

    listener = medical_viewer.MedicalServiceListener(tmp_path)
    with running_service(listener, run_mode=rv.RunMode.INVENTOR_SERVICE,
                         static_dir=str(medical_viewer.STATIC_DIR)) as runner:
        sliders, soft, shown, side, lung, low, error, hit = asyncio.run(scenario(runner))
    assert sliders == {"slices": {"axial": {"index": 12, "count": 24}, "coronal": {"index": 32, "count": 64},
                                  "sagittal": {"index": 32, "count": 64}}}
    image = soft.image.astype(int)
    row = image[60, :, 0]
    body = np.flatnonzero(row > 60)
    assert len(body) > 40, "the body fills the middle of the axial view"
    # The lung (dark, -800 HU) lies at low x, the patient's right: the screen's left half.
    left, right = row[body[0]: 80], row[80: body[-1]]
    assert (left < 30).sum() > 10 and (right < 30).sum() == 0, row
    assert changed(soft.image, lung.image) > 0.2, "the lung window shows the same slice differently"
    assert changed(lung.image, low.image) > 0.01, "another slice is another picture"
    assert (np.abs(shown.image.astype(int) - shown.image[2, 2].astype(int)).max(axis=2) > 30).mean() > 0.05
    assert side.image.std() > 10
    assert "unknown window" in error["error"]
    picked = hit["picked"]
    assert picked["view"] == "Axial" and picked["value"] == 40.0  # soft tissue at the centre, in HU
    assert abs(picked["point"][2] - 22 * 2.5) < 1e-6  # axial slice 22, 2.5 mm apart from z = 0


def test_the_seismic_slices_move_from_the_page_and_pick_amplitudes(tmp_path):
    amplitude = synthetic_survey.reflectors((20, 24, 80))
    path = synthetic_survey.write_survey(tmp_path / "survey.sgy", amplitude, crossline_sorted=True)

    async def scenario(runner):
        async with client.connect(runner.url(seismic_viewer.AREA, SIZE)) as view:
            sliders = json.loads(await view.next_message())
            first = await view.latest_frame(settle=0.5)
            await view.send_message(json.dumps({"volume": False}))
            plain = await view.latest_frame(settle=0.5)
            await view.send_message(json.dumps({"inline": 3, "crossline": 20}))
            moved = await view.latest_frame(settle=0.5)
            await view.send_message(json.dumps({"inline": 20}))
            error = json.loads(await view.next_message())
            await view.mouse(MouseAction.DOUBLE_CLICK, 80, 60, MouseButton.LEFT)
            hit = json.loads(await view.next_message())
            return sliders, first, plain, moved, error, hit

    listener = seismic_viewer.SeismicServiceListener(path)
    with running_service(listener, run_mode=rv.RunMode.INVENTOR_SERVICE,
                         static_dir=str(seismic_viewer.STATIC_DIR)) as runner:
        sliders, first, plain, moved, error, hit = asyncio.run(scenario(runner))
    assert sliders["slices"]["inline"] == {"index": 10, "count": 20}
    assert sliders["slices"]["time"] == {"index": 40, "count": 80}
    assert changed(first.image, plain.image) > 0.01, "hiding the volume changes the picture"
    assert changed(plain.image, moved.image) > 0.01, "the slices moved"
    assert "inline must be an index from 0 to 19" in error["error"]
    picked = hit["picked"]
    assert picked is not None and picked["on"] in ("inline", "crossline", "time", "survey.sgy")
    index = (picked["inline"], picked["crossline"], round(picked["time"] / 4.0))
    assert abs(amplitude[index] - picked["amplitude"]) < 0.35, (index, picked)
