"""The live view in a real browser: headless Chromium (Debian's package) driven by Playwright.

The page is loaded from ``serve_view`` (port 0) against a running cluster: an in-process
harness cluster (fast) and a local cluster of node processes started with the CLI
(``cluster start --detach --enable-test-commands``). The tests see every node and the
slot map, press the page's buttons, and wait (with deadlines) until the timeline tells
the failover and the slot map repaints the slots in the new owner's colour. Screenshots
go to ``$PYREDIS_ARTIFACTS`` (or the test's tmp_path) and their paths are printed;
``PYREDIS_README_SCREENSHOT=1`` also refreshes docs/img/live-view.png.

Playwright only drives the system's Chromium (``executable_path``); it never downloads a
browser (``playwright install`` is not used).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from playwright.async_api import Browser, Page, async_playwright

from pyredis_cluster.testing import start_cluster
from pyredis_cluster.web import serve_view
from tests.test_local_cluster_cli import cluster_dir, free_base_port, gone, node_pids, run_cli  # noqa: F401
from tests.web.test_server import node_id

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
DEADLINE_MS = 60_000  # generous: a shared 2-core machine
REPO_ROOT = Path(__file__).resolve().parents[2]
README_SCREENSHOT = REPO_ROOT / "docs" / "img" / "live-view.png"

#: Reads the colour the page painted for one slot of the 128 x 128 canvas, and the colour
#: the page gave to a node, both as [r, g, b].
SLOT_RGB = """(slot) => {
  const canvas = document.querySelector('#slot-map');
  const cell = canvas.width / 128;
  const x = (slot % 128) * cell + cell / 2, y = Math.floor(slot / 128) * cell + cell / 2;
  return Array.from(canvas.getContext('2d').getImageData(x, y, 1, 1).data.slice(0, 3));
}"""
NODE_RGB = """(id) => {
  const hex = window.liveView.colourOf(id);
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}"""


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("PYREDIS_ARTIFACTS") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
def script_errors() -> Iterator[list[str]]:
    """Uncaught errors of the page's script; a test that opened a page must leave none."""
    errors: list[str] = []
    yield errors
    assert errors == [], errors


async def open_page(browser: Browser, url: str, script_errors: list[str]) -> Page:
    page = await browser.new_page(viewport={"width": 1500, "height": 980})
    page.set_default_timeout(DEADLINE_MS)
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    await page.goto(url)
    return page


async def screenshot(page: Page, artifacts: Path, name: str) -> Path:
    path = artifacts / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


async def wait_nodes_shown(page: Page, count: int) -> None:
    await page.wait_for_function(
        "(count) => document.querySelectorAll('#nodes tbody tr').length === count"
        " && window.liveView.snapshot.nodes.every((row) => row.reachable === true)", arg=count)  # fmt: skip
    await page.wait_for_selector("#stream-state.on")


async def wait_slot_colour(page: Page, slot: int, owner: str) -> None:
    """Until the canvas shows ``slot`` in the colour the page gave ``owner``."""
    await page.wait_for_function(
        f"([slot, id]) => JSON.stringify(({SLOT_RGB})(slot)) === JSON.stringify(({NODE_RGB})(id))",
        arg=[slot, owner])  # fmt: skip


async def timeline_texts(page: Page, kind: str) -> list[str]:
    return await page.locator(f'#timeline li[data-kind="{kind}"]').all_inner_texts()


async def test_pausing_a_primary_shows_the_failover_in_the_browser(script_errors: list[str], browser: Browser,
                                                                   artifacts: Path) -> None:  # fmt: skip
    async with start_cluster(3, 1, node_timeout=500, enable_test_commands=True) as cluster, \
            serve_view([("127.0.0.1", cluster.nodes[0].port)]) as url:  # fmt: skip
        page = await open_page(browser, url, script_errors)
        await wait_nodes_shown(page, 6)
        # Every node of the cluster is a row; the slot map is painted by owner.
        shown_ids = await page.locator("#nodes tbody tr").evaluate_all("(rows) => rows.map((r) => r.dataset.nodeId)")
        assert sorted(shown_ids) == sorted(node_id(node) for node in cluster.nodes)
        primary = cluster.node_for_slot(0)
        (replica,) = cluster.replicas_of(primary)
        for node in cluster.primaries:
            core = cluster.nodes[0].cluster.state  # type: ignore[union-attr]
            first_slot = next(slot for slot in range(16384) if core.owner_of(slot).name == node_id(node))
            await wait_slot_colour(page, first_slot, node_id(node))
        legend = await page.locator("#slot-legend li").all_inner_texts()
        assert len(legend) == 3 and all(f"127.0.0.1:{node.port}" in " ".join(legend) for node in cluster.primaries)
        assert await page.evaluate(SLOT_RGB, 0) != await page.evaluate(NODE_RGB, node_id(replica))
        await screenshot(page, artifacts, "live-view-before")

        await page.click("#trace-on")
        await page.wait_for_selector("#action-result.ok")
        await page.fill("#pause-ms", "60000")
        try:
            await page.click(f'tr[data-node-id="{node_id(primary)}"] button[data-action="pause"]')
            await page.wait_for_selector('#action-result.ok:has-text("pause")')
            await page.wait_for_selector('#timeline li[data-kind="fail"]')
            await page.wait_for_selector('#timeline li[data-kind="promoted"]')
            await page.wait_for_selector('#timeline li[data-kind="slots_moved"]')
            await wait_slot_colour(page, 0, node_id(replica))
            await page.wait_for_selector(f'tr.fail[data-node-id="{node_id(primary)}"]')
            await page.wait_for_selector(f'tr[data-node-id="{node_id(replica)}"][data-role="primary"]')
            await page.wait_for_selector('#timeline li[data-source="trace"]')
            await screenshot(page, artifacts, "live-view-after-failover")
            if os.environ.get("PYREDIS_README_SCREENSHOT"):
                README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(artifacts / "live-view-after-failover.png", README_SCREENSHOT)
        finally:
            cluster.resume(primary)  # a paused node would hold up closing the cluster
        (promoted,) = await timeline_texts(page, "promoted")
        assert f"127.0.0.1:{replica.port}" in promoted
        (moved,) = await timeline_texts(page, "slots_moved")
        assert f"127.0.0.1:{primary.port} → 127.0.0.1:{replica.port}" in moved
        assert any(f"127.0.0.1:{primary.port}" in text for text in await timeline_texts(page, "fail"))


async def test_manual_failover_button_with_an_option(script_errors: list[str], browser: Browser) -> None:
    async with start_cluster(3, 1, enable_test_commands=True) as cluster, \
            serve_view([("127.0.0.1", cluster.nodes[0].port)]) as url:  # fmt: skip
        page = await open_page(browser, url, script_errors)
        await wait_nodes_shown(page, 6)
        replica = cluster.replicas[0]
        await page.select_option("#failover-option", "TAKEOVER")
        await page.click(f'tr[data-node-id="{node_id(replica)}"] button[data-action="failover"]')
        await page.wait_for_selector('#timeline li[data-source="action"]:has-text("CLUSTER FAILOVER TAKEOVER: OK")')
        await page.wait_for_selector(f'tr[data-node-id="{node_id(replica)}"][data-role="primary"]')
        assert replica.cluster.state.myself.is_primary  # type: ignore[union-attr]

        # Step mode from the clock controls: freeze, let a second of protocol time run (the
        # crons' PINGs are held, the clock column counts them), deliver the oldest one.
        await page.click("#clock-freeze")
        await page.wait_for_selector('#action-result.ok:has-text("freeze")')
        await page.wait_for_function("() => [...document.querySelectorAll('#nodes tbody td.clock')]"
                                     ".every((cell) => cell.textContent.startsWith('frozen'))")  # fmt: skip
        await page.fill("#clock-advance-ms", "1000")
        await page.click("#clock-advance")
        await page.wait_for_selector('#action-result.ok:has-text("advance 1000 ms")')
        await page.wait_for_selector('#nodes td.clock:has-text("held")')
        await page.click("#clock-step")
        await page.wait_for_selector('#action-result.ok:has-text("step")')
        delivered = page.locator('#timeline li[data-source="action"]:has-text("PYREDIS.CLOCK STEP: #")')
        await delivered.wait_for()
        assert " from " in await delivered.inner_text()  # "#3 PING from <id> (link 5)"
        await page.click("#clock-resume")
        await page.wait_for_selector('#action-result.ok:has-text("resume")')
        assert all(not node.cluster.bus.clock.frozen for node in cluster.nodes)  # type: ignore[union-attr]


async def test_a_refused_button_shows_the_nodes_error(script_errors: list[str], browser: Browser) -> None:
    async with start_cluster(3, 0) as cluster, serve_view([("127.0.0.1", cluster.nodes[0].port)]) as url:
        page = await open_page(browser, url, script_errors)
        await wait_nodes_shown(page, 3)
        await page.click(f'tr[data-node-id="{node_id(cluster.nodes[2])}"] button[data-action="isolate"]')
        error = page.locator("#action-result.error")
        await error.wait_for()
        assert "enable-test-commands" in await error.inner_text()


async def test_process_cluster_move_a_slot_with_keys_then_kill_its_owner(
        script_errors: list[str], browser: Browser, artifacts: Path, cluster_dir: str) -> None:  # noqa: F811  # fmt: skip
    base = free_base_port(6)
    started = run_cli("start", "--detach", "--enable-test-commands", "--nodes", "6", "--replicas", "1",
                      "--port", str(base), "--dir", cluster_dir, "--node-timeout", "2000")  # fmt: skip
    assert started.returncode == 0, started.stderr
    client = redis.asyncio.RedisCluster(host="127.0.0.1", port=base)
    try:
        keys = [f"{{workshop}}:{index}" for index in range(15)]
        for key in keys:
            await client.set(key, key)
        slot = client.keyslot(keys[0])
        async with serve_view([("127.0.0.1", base)]) as url:
            page = await open_page(browser, url, script_errors)
            await wait_nodes_shown(page, 6)
            snapshot: dict[str, Any] = await page.evaluate("window.liveView.snapshot")
            source = next(owner for first, last, owner in snapshot["slots"] if first <= slot <= last)
            target = next(row for row in snapshot["nodes"] if row["role"] == "primary" and row["id"] != source)

            # Move the slot through the form: its keys follow it (MIGRATE between processes).
            await page.fill("#move-slot-number", str(slot))
            await page.select_option("#move-slot-target", target["id"])
            await page.click('#move-slot button[type="submit"]')
            await page.wait_for_selector('#action-result.ok:has-text("move slot")')
            await wait_slot_colour(page, slot, target["id"])
            migrations = await page.locator('#timeline li[data-source="action"]:has-text("MIGRATE")').count()
            assert migrations == 2  # 15 keys, batches of 10
            assert [(await client.get(key)) for key in keys] == [key.encode() for key in keys]
            target_client = redis.asyncio.Redis(host="127.0.0.1", port=int(target["address"].rsplit(":", 1)[1]))
            try:
                assert await target_client.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == len(keys)
            finally:
                await target_client.aclose()

            # Kill the slot's new owner: its replica takes over, and the page shows it.
            await page.click(f'tr[data-node-id="{target["id"]}"] button[data-action="kill"]')
            await page.wait_for_selector('#action-result.ok:has-text("kill")')
            await page.wait_for_selector(f'tr.unreachable[data-node-id="{target["id"]}"]')
            await page.wait_for_selector(f'#problems:has-text("{target["address"]}")')  # why it is grey
            await page.wait_for_selector('#timeline li[data-kind="fail"]')
            await page.wait_for_selector('#timeline li[data-kind="promoted"]')
            replica = next(row for row in snapshot["nodes"] if row["primary_id"] == target["id"])
            await wait_slot_colour(page, slot, replica["id"])
            await screenshot(page, artifacts, "live-view-processes-after-kill")
            assert "PYREDIS.FAULT KILL" in " ".join(
                await page.locator('#timeline li[data-source="action"]').all_inner_texts())
        assert await client.get(keys[0]) == keys[0].encode()  # served by the promoted replica
    finally:
        await client.aclose()
        pids = node_pids(cluster_dir)
        assert run_cli("stop", "--dir", cluster_dir).returncode == 0
        assert all(gone(pid) for pid in pids)
