"""``workshop run --view``: the live view serves the scenario's own cluster while it runs,
and stays up after the scenario until the teacher presses Enter."""

from __future__ import annotations

import builtins
import io
import re

import aiohttp
import pytest

from pyredis_cluster.workshop import run_scenario
from pyredis_cluster.workshop.runner import _view_hook
from pyredis_cluster.workshop.stage import Stage


async def test_the_live_view_shows_the_scenario_cluster_until_enter(monkeypatch: pytest.MonkeyPatch) -> None:
    enter_pressed: list[str] = []
    monkeypatch.setattr(builtins, "input", lambda prompt="": enter_pressed.append(prompt) or "")
    out = io.StringIO()
    stage = Stage(out=out, time_scale=0.3, color=False)
    assert _view_hook(stage, 0)
    seen: dict[str, object] = {}

    async def look_at_the_page(stage: Stage) -> None:  # runs after "Enter", before the cluster stops
        assert stage.cluster is not None
        url = re.search(r"Live view: (http://\S+)", out.getvalue())
        assert url, out.getvalue()
        ports = {str(node.port) for node in stage.cluster.nodes}
        async with aiohttp.ClientSession() as session:
            async with session.get(url.group(1)) as page:
                seen["page"] = (page.status, "<html" in (await page.text()).lower())

            async def lists_every_node() -> bool:  # the view polls the nodes every 0.25 s
                async with session.get(url.group(1) + "api/state") as state:
                    body = await state.text()
                return all(port in body for port in ports)

            seen["ports"] = await stage.wait_for(lists_every_node, "the page lists every node", timeout=10)
        seen["cluster_options"] = dict(stage.cluster_options)

    stage.before_close.append(look_at_the_page)
    result = await run_scenario("epoch-collision", stage=stage)
    assert result.passed, result.reasons
    assert enter_pressed and "Enter" in enter_pressed[0]
    assert seen["page"] == (200, True)
    assert seen["ports"], "the page's state does not list every node of the scenario's cluster"
    assert seen["cluster_options"] == {"enable_test_commands": True}  # the fault buttons work
