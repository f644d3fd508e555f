"""A notebook's service: pages of Jupyter's origin get in with the token their view carries; a
page of any other site, or one without the token, does not."""

from __future__ import annotations

import asyncio

import pytest

import remoteviz as rv
from remoteviz import client, notebook
from remoteviz.client import ServiceClosed


def test_a_notebook_view_opens_with_its_token_and_nothing_opens_without_one() -> None:
    async def scenario() -> None:
        service = rv.Service()
        notebook.start(service=service)
        try:
            url = notebook.view("TheCone", 64, 48, service=service).url
            async with client.connect(url, width=64, height=48, origin="http://127.0.0.1:8888") as view:
                assert view.accept.render_area_id == "TheCone"
                assert (await view.next_frame()).image.shape == (48, 64, 3)  # the empty scene, drawn
            bare = url.split("?")[0]
            with pytest.raises(ServiceClosed, match="missing access token"):
                async with client.connect(bare, width=64, height=48, origin="https://evil.example"):
                    pass
            other = notebook.view("Other", 64, 48, service=service).url.replace("/Other?", "/TheCone?")
            with pytest.raises(ServiceClosed, match="another render area"):
                async with client.connect(other, width=64, height=48, origin="http://127.0.0.1:8888"):
                    pass
        finally:
            service.stop()
            await asyncio.sleep(0.1)  # the dispatch task sees the stop and closes the service
            service.close()

    asyncio.run(scenario())


def test_a_render_area_shown_by_a_cell_is_a_live_view_of_it_on_its_own_service() -> None:
    # RenderArea._repr_mimebundle_ reaches the notebook through its owner (the service), not an import of it.
    service = rv.Service()
    assert service.open(rv.ServiceSettings(port=0, run_mode=rv.RunMode.INDEPENDENT_SERVICE))
    try:
        area = service.create_render_area("Shown", 64, 48)
        bundle = area._repr_mimebundle_()
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        assert "application/vnd.jupyter.widget-view+json" in data, data
        widget = notebook.view(area, service=service)
        assert widget.url.endswith(f":{service.port}/Shown")
    finally:
        service.close()
