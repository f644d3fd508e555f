"""A notebook's service: the pages of the Jupyter servers on this machine get in with a short-lived
token they ask the kernel for; a page of any other origin, or one without a token, does not; no
token is in the widget's state (what a saved notebook keeps)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

import remoteviz as rv
from remoteviz import client, notebook
from remoteviz.client import ServiceClosed
from remoteviz.tokens import verify_token

from .test_hostile_clients import refusal_for

JUPYTER = "http://127.0.0.1:8888"


@pytest.fixture
def jupyter_server(tmp_path, monkeypatch) -> None:
    """A Jupyter server's runtime file, as JupyterLab writes it for its kernels to find."""
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "jpserver-4242.json").write_text(json.dumps({"url": f"{JUPYTER}/", "port": 8888, "pid": 4242}))


def test_a_notebook_view_opens_with_its_token_from_the_jupyter_page_only(jupyter_server) -> None:
    async def scenario() -> None:
        service = rv.Service()
        notebook.start(service=service)
        try:
            assert set(service.settings.allowed_origins or []) == {JUPYTER, "http://localhost:8888"}
            widget = notebook.view("TheCone", 64, 48, service=service)
            assert "token" not in widget.url and "token" not in json.dumps(widget.get_state(["url", "width"]))
            token = widget.token()
            assert token is not None
            claims = verify_token(service.settings.access, token, "TheCone", now=time.time())  # type: ignore[arg-type]
            assert claims.expires - time.time() <= notebook.VIEW_TOKEN_TTL <= 600, "minutes, not days"
            url = f"{widget.url}?token={token}"
            async with client.connect(url, width=64, height=48, origin=JUPYTER) as view:
                assert view.accept.render_area_id == "TheCone"
                assert (await view.next_frame()).image.shape == (48, 64, 3)  # the empty scene, drawn
            code, said = await refusal_for(url, origin="https://evil.example")  # a token is not enough elsewhere
            assert code == 4002 and "may not connect" in said["detail"], (code, said)
            with pytest.raises(ServiceClosed, match="missing access token"):
                async with client.connect(widget.url, width=64, height=48, origin=JUPYTER):
                    pass
            other = notebook.view("Other", 64, 48, service=service).token()
            with pytest.raises(ServiceClosed, match="another render area"):
                async with client.connect(f"{widget.url}?token={other}", width=64, height=48, origin=JUPYTER):
                    pass
            given = notebook.view("TheCone", 64, 48, service=service, token=token, mode="x")
            assert given.token() == token and "token" not in given.url and given.url.endswith("/TheCone?mode=x")
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
