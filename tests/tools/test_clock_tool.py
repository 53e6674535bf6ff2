"""``python -m pyredis_cluster clock``: slow motion and step mode for a whole cluster."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from pyredis_cluster import clocktool
from pyredis_cluster.testing import cluster_in_thread
from pyredis_cluster.testing.harness import ThreadedCluster


@pytest.fixture
def cluster() -> Iterator[ThreadedCluster]:
    with cluster_in_thread(3, 0, enable_test_commands=True) as running:
        yield running


def run_tool(cluster: ThreadedCluster, *argv: str) -> str:
    out = io.StringIO()
    args = clocktool.build_parser().parse_args(["--port", str(cluster.nodes[0].port), *argv])
    assert asyncio.run(clocktool.run(args, out)) == 0
    return out.getvalue()


def clock_state(port: int) -> dict[str, Any]:
    client = redis.Redis(port=port)
    try:
        reply = client.execute_command("PYREDIS.CLOCK")
    finally:
        client.close()
    pairs = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2], strict=True)
    return {key.decode(): value for key, value in pairs}


def test_scale_reaches_every_node_and_show_lists_them(cluster: ThreadedCluster) -> None:
    ports = [node.port for node in cluster.nodes]
    out = run_tool(cluster, "scale", "10")
    assert "scale 10 on 3 nodes" in out
    for port in ports:
        assert clock_state(port)["scale"] == b"10"
    shown = run_tool(cluster, "show").splitlines()
    assert sorted(int(line.split()[0]) for line in shown) == sorted(ports)
    assert all("running" in line and "scale 10" in line for line in shown)
    run_tool(cluster, "scale", "1")
    assert all(clock_state(port)["scale"] == b"1" for port in ports)


def test_freeze_advance_step_delivers_the_oldest_message_of_the_cluster_then_resume(cluster: ThreadedCluster) -> None:
    ports = [node.port for node in cluster.nodes]
    assert "frozen" in run_tool(cluster, "freeze")
    assert all(clock_state(port)["mode"] == b"frozen" for port in ports)
    # Time stands still, so nobody pings: advance it (each node's cron runs and sends PINGs,
    # which the other frozen nodes hold).
    run_tool(cluster, "advance", "2000")
    held = {port: clock_state(port) for port in ports}
    assert sum(state["held"] for state in held.values()) > 0
    pending = run_tool(cluster, "pending").splitlines()
    assert len(pending) == sum(state["held"] for state in held.values())
    oldest_port = min((state["oldest-held-arrival-ms"], port) for port, state in held.items() if state["held"])[1]
    stepped = run_tool(cluster, "step").strip()
    assert stepped.startswith(f"{oldest_port}  delivered #1 ")
    assert clock_state(oldest_port)["held"] == held[oldest_port]["held"] - 1
    assert "held messages delivered" in run_tool(cluster, "resume")
    assert all(clock_state(port)["mode"] == b"running" and clock_state(port)["held"] == 0 for port in ports)


def test_step_mode_needs_test_commands() -> None:
    with cluster_in_thread(3, 0) as plain:
        args = clocktool.build_parser().parse_args(["--port", str(plain.nodes[0].port), "freeze"])
        with pytest.raises(clocktool.ClusterToolError, match="enable-test-commands"):
            asyncio.run(clocktool.run(args, io.StringIO()))


def test_bad_values_are_refused_before_anything_is_sent(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        clocktool.main(["--port", "1", "advance"])
    with pytest.raises(SystemExit):
        clocktool.main(["--port", "1", "step", "two"])
    assert "takes a whole number" in capsys.readouterr().err


def test_oldest_holder_picks_the_earliest_arrival_first_on_a_tie_and_none_when_nothing_is_held() -> None:
    # The choice both the tool's ``step`` and the live view's step button make.
    assert clocktool.oldest_holder([("a", {"oldest-held-arrival-ms": None}), ("b", {})]) is None
    assert clocktool.oldest_holder([]) is None
    clocks = [("a", {"oldest-held-arrival-ms": 1700}), ("b", {"oldest-held-arrival-ms": 1500}),
              ("c", {"oldest-held-arrival-ms": None}), ("d", {"oldest-held-arrival-ms": 1500})]  # fmt: skip
    assert clocktool.oldest_holder(clocks) == "b"
    assert clocktool.clock_fields([b"mode", b"frozen", b"held", 2]) == {"mode": b"frozen", "held": 2}
    assert clocktool.clock_fields({b"mode": b"running"}) == {"mode": b"running"}
