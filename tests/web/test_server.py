"""The live view's server against in-process clusters: discovery, the event stream, the buttons.

Each test starts a harness cluster (port 0) and ``serve_view`` (port 0) in the test's
own event loop and talks HTTP to it with aiohttp's client; what the view reports is
checked against the cluster cores themselves, not against the view's own output.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import redis.asyncio

from pyredis_cluster.cluster.slots import key_hash_slot
from pyredis_cluster.server import errors
from pyredis_cluster.server.node import Node
from pyredis_cluster.testing import start_cluster
from pyredis_cluster.testing.harness import LocalCluster
from pyredis_cluster.web import serve_view
from tests.support import free_port, real_redis_server

DEADLINE = 30.0  # generous: a shared 2-core machine
FAST_TIMEOUT = 500  # cluster-node-timeout (ms): failovers within a couple of seconds
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def node_id(node: Node) -> str:
    assert node.cluster is not None and node.cluster.state is not None
    return node.cluster.state.myid


async def eventually(condition: Callable[[], Awaitable[Any]], what: str, timeout: float = DEADLINE) -> Any:
    """Poll ``condition`` until it returns something truthy, or fail saying ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class ViewClient:
    """HTTP access to one served view."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def state(self) -> dict[str, Any]:
        async with self.session.get(self.url + "api/state") as response:
            return await response.json()

    async def action(self, **request: Any) -> dict[str, Any]:
        async with self.session.post(self.url + "api/action", json=request) as response:
            assert response.status == 200
            return await response.json()

    async def wait_nodes(self, count: int) -> dict[str, Any]:
        async def all_known() -> dict[str, Any] | None:
            snapshot = (await self.state())["snapshot"]
            nodes = snapshot["nodes"]
            return snapshot if len(nodes) == count and all(row["reachable"] for row in nodes) else None

        return await eventually(all_known, f"the view to show {count} answering nodes")

    async def wait_entry(self, kind: str, node: str | None = None) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            return next((entry for entry in (await self.state())["timeline"]
                         if entry["kind"] == kind and node in (None, entry["node"])), None)  # fmt: skip

        return await eventually(found, f"a '{kind}' timeline entry" + (f" about {node}" if node else ""))


async def viewed(cluster: LocalCluster, startup: int = 0) -> AsyncIterator[ViewClient]:
    timeout = aiohttp.ClientTimeout(total=DEADLINE)
    async with serve_view([("127.0.0.1", cluster.nodes[startup].port)]) as url, \
            aiohttp.ClientSession(timeout=timeout) as session:
        yield ViewClient(session, url)


@pytest.fixture
async def fault_cluster() -> AsyncIterator[LocalCluster]:
    async with start_cluster(3, 1, node_timeout=FAST_TIMEOUT, enable_test_commands=True) as cluster:
        yield cluster


@pytest.fixture
async def view(fault_cluster: LocalCluster) -> AsyncIterator[ViewClient]:
    async for client in viewed(fault_cluster, startup=len(fault_cluster.nodes) - 1):
        yield client


async def test_discovers_every_node_from_one_and_shows_the_cores_truth(fault_cluster: LocalCluster,
                                                                       view: ViewClient) -> None:  # fmt: skip
    snapshot = await view.wait_nodes(6)
    rows = {row["id"]: row for row in snapshot["nodes"]}
    assert set(rows) == {node_id(node) for node in fault_cluster.nodes}
    for node in fault_cluster.nodes:
        core = node.cluster.state  # type: ignore[union-attr]
        row = rows[core.myid]
        assert row["address"] == f"127.0.0.1:{node.port}"
        assert row["role"] == ("primary" if core.myself.is_primary else "replica")
        # CLUSTER NODES gives a replica its primary's config epoch, as Redis does.
        described = core.nodes[core.myself.primary_id] if core.myself.is_replica else core.myself
        assert row["config_epoch"] == described.config_epoch
        assert row["current_epoch"] == core.current_epoch
        assert row["links_up"] == row["links_total"] == 5
        if core.myself.is_replica:
            assert row["primary_id"] == core.myself.primary_id
    for first, last, owner in snapshot["slots"]:
        for slot in (first, last):
            assert owner == fault_cluster.nodes[0].cluster.state.owner_of(slot).name  # type: ignore[union-attr]


async def test_event_stream_starts_with_the_snapshot_and_streams_timeline_entries(
        fault_cluster: LocalCluster, view: ViewClient) -> None:  # fmt: skip
    await view.wait_nodes(6)
    async with view.session.get(view.url + "events") as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        first = await read_event(response)
        assert first[0] == "snapshot" and len(first[1]["nodes"]) == 6
        replica = fault_cluster.replicas[0]
        result = await view.action(action="failover", node=node_id(replica))
        assert result["ok"], result
        seen: list[tuple[str, Any]] = []

        async def promoted() -> bool:
            seen.append(await read_event(response))
            return any(name == "timeline" and data["kind"] == "promoted" for name, data in seen)

        await eventually(promoted, "a 'promoted' entry on the stream")
        commands = [data["text"] for name, data in seen if name == "timeline" and data["source"] == "action"]
        assert any("CLUSTER FAILOVER: OK" in text for text in commands)


async def read_event(response: aiohttp.ClientResponse) -> tuple[str, Any]:
    """The next server-sent event (keep-alive comments skipped)."""
    name, data = "message", None
    while True:
        raw = await asyncio.wait_for(response.content.readline(), DEADLINE)
        assert raw, "the stream ended"
        text = raw.decode().rstrip("\n")
        if text.startswith("event: "):
            name = text[len("event: "):]
        elif text.startswith("data: "):
            data = json.loads(text[len("data: "):])
        elif text == "" and data is not None:
            return name, data


async def test_pause_button_shows_the_failover(fault_cluster: LocalCluster, view: ViewClient) -> None:
    await view.wait_nodes(6)
    primary = fault_cluster.node_for_slot(0)
    (replica,) = fault_cluster.replicas_of(primary)
    result = await view.action(action="pause", node=node_id(primary), ms=60000)
    try:
        await check_failover_shown(fault_cluster, view, primary, replica, result)
    finally:
        fault_cluster.resume(primary)  # a paused node would hold up closing the cluster


async def check_failover_shown(fault_cluster: LocalCluster, view: ViewClient, primary: Node, replica: Node,
                               result: dict[str, Any]) -> None:  # fmt: skip
    assert result["ok"], result
    assert result["steps"] == [f"127.0.0.1:{primary.port} ← PYREDIS.FAULT PAUSE 60000: OK"]
    address = f"127.0.0.1:{primary.port}"
    await view.wait_entry("fail", address)
    await view.wait_entry("promoted", f"127.0.0.1:{replica.port}")
    moved = await view.wait_entry("slots_moved")
    assert moved["fields"]["old"] == node_id(primary) and moved["fields"]["new"] == node_id(replica)
    assert (await view.wait_entry("node_unreachable", address))["node"] == address
    snapshot = (await view.state())["snapshot"]
    assert snapshot["slots"][0][:3] == [0, moved["fields"]["last"], node_id(replica)]


async def test_move_slot_rebinds_an_empty_slot_everywhere(fault_cluster: LocalCluster, view: ViewClient) -> None:
    await view.wait_nodes(6)
    slot = 4242
    source = fault_cluster.node_for_slot(slot)
    target = next(node for node in fault_cluster.primaries if node is not source)
    result = await view.action(action="move_slot", slot=slot, target=node_id(target))
    assert result["ok"], result
    sent = [step.split(" ← ", 1) for step in result["steps"]]
    assert sent[0] == [f"127.0.0.1:{target.port}", f"CLUSTER SETSLOT {slot} IMPORTING {node_id(source)}: OK"]
    assert sent[1] == [f"127.0.0.1:{source.port}", f"CLUSTER SETSLOT {slot} MIGRATING {node_id(target)}: OK"]
    assert sent[2] == [f"127.0.0.1:{source.port}", f"CLUSTER GETKEYSINSLOT {slot} 10: 0 item(s)"]
    assert [address for address, _ in sent[3:]] == [f"127.0.0.1:{target.port}", f"127.0.0.1:{source.port}",
                                                    *(f"127.0.0.1:{node.port}" for node in fault_cluster.primaries
                                                      if node not in (source, target))]  # fmt: skip
    for node in fault_cluster.primaries:
        assert node.cluster.state.owner_of(slot).name == node_id(target)  # type: ignore[union-attr]
    moved = await view.wait_entry("slots_moved")
    assert moved["fields"] == {"first": slot, "last": slot, "old": node_id(source), "new": node_id(target)}


async def test_move_slot_carries_its_keys_between_nodes_sharing_one_loop(fault_cluster: LocalCluster,
                                                                         view: ViewClient) -> None:  # fmt: skip
    # MIGRATE lets the loop run while the source waits for the target (server/busy.py), so
    # the button works on an in-process cluster too, not only on node processes.
    await view.wait_nodes(6)
    slot = 777
    keys = [key for key in (f"key:{n}" for n in range(200_000)) if key_hash_slot(key.encode()) == slot][:25]
    source = fault_cluster.node_for_slot(slot)
    target = next(node for node in fault_cluster.primaries if node is not source)
    async with redis.asyncio.Redis(port=source.port) as client:
        for key in keys:
            await client.set(key, f"value of {key}")
    result = await view.action(action="move_slot", slot=slot, target=node_id(target))
    assert result["ok"], result
    assert any(" MIGRATE " in step or step.split(" ← ", 1)[1].startswith("MIGRATE") for step in result["steps"])
    async with redis.asyncio.Redis(port=target.port) as client:
        assert await client.mget(keys) == [f"value of {key}".encode() for key in keys]
    async with redis.asyncio.Redis(port=source.port) as client:
        assert await client.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0


async def test_bad_requests_get_clear_errors(fault_cluster: LocalCluster, view: ViewClient) -> None:
    snapshot = await view.wait_nodes(6)
    json_type = {"Content-Type": "application/json"}
    async with view.session.post(view.url + "api/action", data=b"{not json", headers=json_type) as response:
        assert response.status == 400 and "JSON" in (await response.json())["error"]
    async with view.session.post(view.url + "api/action", data=b"[1]", headers=json_type) as response:
        assert response.status == 400
    form = {"Content-Type": "text/plain"}  # what a cross-site form could send without a preflight
    body = json.dumps({"action": "kill", "node": snapshot["nodes"][0]["id"]}).encode()
    async with view.session.post(view.url + "api/action", data=body, headers=form) as response:
        assert response.status == 415
    assert fault_cluster.faults.is_alive(fault_cluster.node_by_id(snapshot["nodes"][0]["id"]))  # not killed
    assert "unknown action" in (await view.action(action="explode"))["error"]
    assert "no node with id" in (await view.action(action="kill", node="nope"))["error"]
    assert "integer" in (await view.action(action="pause", node=snapshot["nodes"][0]["id"], ms="soon"))["error"]
    primary = node_id(fault_cluster.primaries[0])
    assert "below 16384" in (await view.action(action="move_slot", slot=16384, target=primary))["error"]
    replica = node_id(fault_cluster.replicas[0])
    assert "must be a primary" in (await view.action(action="move_slot", slot=1, target=replica))["error"]
    owner = node_id(fault_cluster.node_for_slot(1))
    assert "already served" in (await view.action(action="move_slot", slot=1, target=owner))["error"]
    refused = await view.action(action="failover", node=primary)
    assert not refused["ok"] and "CLUSTER FAILOVER" in refused["error"]  # a primary refuses it: the node's error


async def test_refused_faults_show_the_nodes_error_and_kill_falls_back_to_shutdown() -> None:
    async with start_cluster(3, 0) as cluster:  # test commands off
        async for view in viewed(cluster):
            await view.wait_nodes(3)
            target = node_id(cluster.nodes[1])
            paused = await view.action(action="pause", node=target)
            assert not paused["ok"] and errors.TEST_COMMANDS_DISABLED.removeprefix("ERR ") in paused["error"]
            # The clock is a test command too: refused with the node's error, no clock column.
            frozen = await view.action(action="freeze")
            assert not frozen["ok"] and errors.CLOCK_TEST_COMMANDS_DISABLED.removeprefix("ERR ") in frozen["error"]
            assert all(row["clock"] is None for row in (await view.state())["snapshot"]["nodes"])
            killed = await view.action(action="kill", node=target)
            assert killed["ok"], killed
            assert "(error)" in killed["steps"][0] and "SHUTDOWN NOSAVE" in killed["steps"][1]
            assert cluster.nodes[1].shutdown_requested is not None and cluster.nodes[1].shutdown_requested.is_set()


async def test_trace_button_brings_the_nodes_trace_into_the_timeline(fault_cluster: LocalCluster,
                                                                     view: ViewClient) -> None:  # fmt: skip
    await view.wait_nodes(6)
    result = await view.action(action="trace", on=True)
    assert result["ok"], result
    assert len(result["steps"]) == 6 and all("PYREDIS.TRACE ON CHANNEL: OK" in step for step in result["steps"])
    replica = fault_cluster.replicas[0]
    assert (await view.action(action="failover", node=node_id(replica)))["ok"]

    async def traced_failover() -> list[dict[str, Any]]:
        return [entry for entry in (await view.state())["timeline"] if entry["source"] == "trace"
                and entry["fields"].get("name") in ("FAILOVER_AUTH_REQUEST", "failover_won", "manual_failover_started")]  # fmt: skip

    entries = await eventually(traced_failover, "the failover's trace records in the timeline")
    assert all(entry["text"].startswith("[") for entry in entries)
    timeline = (await view.state())["timeline"]
    assert not any(entry["fields"].get("name") in ("PING", "PONG") for entry in timeline)  # chatter filtered
    assert (await view.action(action="trace", on=False))["ok"]


async def test_page_and_assets_are_served_from_the_package(fault_cluster: LocalCluster, view: ViewClient) -> None:
    async with view.session.get(view.url) as response:
        page = await response.text()
        assert response.status == 200 and "/static/view.js" in page and "slot-map" in page
        assert "http://" not in page and "https://" not in page  # nothing from the internet
    for asset in ("static/view.js", "static/view.css"):
        async with view.session.get(view.url + asset) as response:
            body = await response.text()
            assert response.status == 200 and body
            assert "https://" not in body and "http://" not in body


async def test_command_line_serves_the_view() -> None:
    async with start_cluster(3, 0) as cluster:
        env = dict(os.environ, PYTHONPATH=REPO_ROOT)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pyredis_cluster", "view", "--port", str(cluster.nodes[0].port), "--http-port", "0",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env, cwd=REPO_ROOT)  # fmt: skip
        try:
            assert process.stdout is not None
            line = (await asyncio.wait_for(process.stdout.readline(), DEADLINE)).decode()
            assert "open http://127.0.0.1:" in line, line
            url = line.split("open ", 1)[1].split()[0]
            async with aiohttp.ClientSession() as session:
                client = ViewClient(session, url)
                snapshot = await client.wait_nodes(3)
                assert {row["id"] for row in snapshot["nodes"]} == {node_id(node) for node in cluster.nodes}
        finally:
            process.terminate()  # the process this test started, by its handle
            await asyncio.wait_for(process.wait(), DEADLINE)


async def test_a_real_redis_server_is_shown_and_kill_falls_back_to_shutdown_nosave() -> None:
    # The oracle: a real redis-server 7.0 cluster node owning every slot. It knows no
    # PYREDIS.FAULT, so the kill button's fallback (SHUTDOWN NOSAVE) must really stop it.
    with real_redis_server("--cluster-enabled", "yes", "--cluster-port", str(free_port())) as port:
        real = redis.asyncio.Redis(host="127.0.0.1", port=port)
        try:
            await real.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
            real_id = (await real.execute_command("CLUSTER", "MYID")).decode()
        finally:
            await real.aclose()
        async with serve_view([("127.0.0.1", port)]) as url, \
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DEADLINE)) as session:  # fmt: skip
            view = ViewClient(session, url)
            snapshot = await view.wait_nodes(1)
            (row,) = snapshot["nodes"]
            assert row["id"] == real_id and row["role"] == "primary" and row["slot_count"] == 16384
            assert snapshot["slots"] == [[0, 16383, real_id]]
            killed = await view.action(action="kill", node=real_id)
            assert killed["ok"], killed
            assert "unknown command" in killed["steps"][0] and "SHUTDOWN NOSAVE" in killed["steps"][1]
            await view.wait_entry("node_unreachable", f"127.0.0.1:{port}")
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=5).close()


# ----------------------------------------------------------------------------
# The clock buttons: slow motion and step mode (clocktool.py's actions, from the page)
# ----------------------------------------------------------------------------
@pytest.fixture
async def clock_cluster() -> AsyncIterator[LocalCluster]:
    # Default node timeout (5 s): advancing frozen time a second must not fail anyone.
    async with start_cluster(3, 0, enable_test_commands=True) as cluster:
        yield cluster


@pytest.fixture
async def clock_view(clock_cluster: LocalCluster) -> AsyncIterator[ViewClient]:
    async for client in viewed(clock_cluster):
        yield client


def held_seqs(node: Node) -> list[int]:
    """The sequence numbers of the messages ``node``'s bus holds, oldest first (from the core side)."""
    assert node.cluster is not None and node.cluster.bus is not None
    return [held.seq for held in node.cluster.bus.held]


async def test_scale_button_reaches_every_node_and_the_clock_column_shows_it(clock_cluster: LocalCluster,
                                                                              clock_view: ViewClient) -> None:  # fmt: skip
    view = clock_view
    await view.wait_nodes(3)
    result = await view.action(action="scale", factor=10)
    assert result["ok"], result
    assert len(result["steps"]) == 3 and all("CONFIG SET cluster-time-scale 10: OK" in s for s in result["steps"])
    assert all(node.cluster.bus.clock.scale == 10 for node in clock_cluster.nodes)  # type: ignore[union-attr]

    async def shown_scaled() -> bool:
        rows = (await view.state())["snapshot"]["nodes"]
        return all(row["clock"] == {"mode": "running", "scale": "10", "held": 0} for row in rows)

    await eventually(shown_scaled, "every row's clock to show scale 10")
    refused = await view.action(action="scale", factor="slow")
    assert not refused["ok"] and "'factor' must be a number" in refused["error"]
    assert (await view.action(action="scale", factor=1))["ok"]
    assert all(node.cluster.bus.clock.scale == 1 for node in clock_cluster.nodes)  # type: ignore[union-attr]


async def test_freeze_advance_step_delivers_the_clusters_oldest_held_message_then_resume(
        clock_cluster: LocalCluster, clock_view: ViewClient) -> None:  # fmt: skip
    view = clock_view
    nodes = clock_cluster.nodes
    buses = {node.port: node.cluster.bus for node in nodes}  # type: ignore[union-attr]
    await view.wait_nodes(3)
    assert "no node holds a message" in (await view.action(action="step"))["error"]  # running: nothing held
    frozen = await view.action(action="freeze")
    assert frozen["ok"], frozen
    assert all(bus.clock.frozen for bus in buses.values())

    async def shown_frozen() -> bool:
        return all(row["clock"] and row["clock"]["mode"] == "frozen"
                   for row in (await view.state())["snapshot"]["nodes"])  # fmt: skip

    await eventually(shown_frozen, "every row's clock to show frozen")
    # Frozen time sends nothing; a second of it runs the crons, whose PINGs the others hold.
    advanced = await view.action(action="advance", ms=1000)
    assert advanced["ok"] and len(advanced["steps"]) == 3, advanced
    assert all("PYREDIS.CLOCK ADVANCE 1000: " in step for step in advanced["steps"])
    seen_held = [-1]

    async def held_and_settled() -> bool:
        # Some message held, and no new one arrived since the last look (PINGs still in
        # flight could otherwise arrive in the same millisecond as the oldest one).
        total = sum(len(bus.held) for bus in buses.values())
        settled, seen_held[0] = total == seen_held[0], total
        return total > 0 and settled

    await eventually(held_and_settled, "held bus messages, none still arriving")

    before = {port: held_seqs(node) for port, node in zip(buses, nodes, strict=True)}
    heads = {port: (int(bus.held[0].arrived_ms), bus.held[0].describe()) for port, bus in buses.items() if bus.held}
    oldest_ms = min(arrived for arrived, _ in heads.values())
    stepped = await view.action(action="step")
    assert stepped["ok"], stepped
    delivering = stepped["steps"][-1]
    assert "PYREDIS.CLOCK STEP: " in delivering
    port = int(delivering.split(" ", 1)[0].rsplit(":", 1)[1])
    assert heads[port][0] == oldest_ms  # the node holding the cluster's oldest message...
    assert delivering.endswith(f"PYREDIS.CLOCK STEP: {heads[port][1]}")  # ...delivered its head
    for other, node in zip(buses, nodes, strict=True):
        # Exactly one message left a queue; later arrivals may only have joined at the end.
        kept = before[other][1:] if other == port else before[other]
        assert held_seqs(node)[: len(kept)] == kept
    timeline = [entry["text"] for entry in (await view.state())["timeline"]]
    assert delivering in timeline

    resumed = await view.action(action="resume")
    assert resumed["ok"], resumed
    assert all(not bus.clock.frozen and not bus.held for bus in buses.values())
    await clock_cluster.wait_until_ok()
