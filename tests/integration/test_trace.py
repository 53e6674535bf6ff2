"""The teaching trace on running nodes (server/trace.py): PYREDIS.TRACE, the options, the targets.

In-process clusters (testing/harness.py) in the test's own loop; everything is checked
over RESP as a teacher would. Records reach a subscriber or a file synchronously while
the command that caused them runs, so a marker PUBLISH after it bounds every read:
no fixed sleep anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio

from pyredis_cluster.cluster.trace import TRACE_CHANNEL, parse_record
from pyredis_cluster.server import errors
from pyredis_cluster.testing import cluster_in_thread, start_cluster
from tests.support import RawClient

MARKER = "trace-test-marker"


def status(reply: list[Any] | dict[Any, Any]) -> dict[str, Any]:
    """PYREDIS.TRACE STATUS as a dict of str (a RESP2 flat array, or a map)."""
    pairs = reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2]))

    def text(value: Any) -> Any:
        return value.decode() if isinstance(value, bytes) else value

    return {text(k): text(v) for k, v in pairs.items()}


async def read_until_marker(pubsub: Any, marker: str) -> list[dict[str, Any]]:
    """Trace records received before the marker message (the marker itself is consumed)."""
    records = []
    while True:
        message = await pubsub.get_message(timeout=10.0)
        assert message is not None, "neither a record nor the marker arrived"
        if message["type"] != "message":
            continue
        if message["channel"] == MARKER.encode():
            if message["data"] == marker.encode():
                return records
            continue
        assert message["channel"] == TRACE_CHANNEL.encode()
        records.append(parse_record(message["data"]))


async def test_trace_on_off_status_and_the_channel_target() -> None:
    async with start_cluster(3, 0) as cluster:
        node, others = cluster.nodes[0], cluster.nodes[1:]
        me = node.cluster.state.myid
        other_ids = {other.cluster.state.myid for other in others}
        client = redis.asyncio.Redis(port=node.port)
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(TRACE_CHANNEL, MARKER)
            before = status(await client.execute_command("PYREDIS.TRACE", "STATUS"))
            assert before == {"tracing": "no", "file": "", "channel": "no", "channel-name": TRACE_CHANNEL,
                              "subscribers": 1, "records": 0, "format-version": 1}  # fmt: skip
            assert await client.execute_command("PYREDIS.TRACE", "ON") == b"OK"
            after = status(await client.execute_command("PYREDIS.TRACE", "STATUS"))
            assert (after["tracing"], after["channel"], after["file"]) == ("yes", "yes", "")

            # a PUBLISH goes over the bus to the two other nodes: two send records
            await client.publish("news", "hello")
            await client.publish(MARKER, "1")
            records = await read_until_marker(pubsub, "1")
            publishes = [r for r in records if r["kind"] == "send" and r["type"] == "PUBLISH"
                         and r["channel"] == "news"]  # fmt: skip
            assert {r["to"] for r in publishes} == other_ids and len(publishes) == 2
            assert all((r["node"], r["port"], r["from"], r["message"]) == (me, node.port, me, "hello")
                       for r in publishes)  # fmt: skip
            # the records themselves never travel over the bus
            assert not any(r.get("channel") == TRACE_CHANNEL for r in records)

            # a state change is an event record with the human text
            other_id = next(iter(other_ids))
            slot = next(iter(node.cluster.state.myself.slots))
            assert await client.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", other_id) == b"OK"
            assert await client.execute_command("CLUSTER", "SETSLOT", slot, "STABLE") == b"OK"
            await client.publish(MARKER, "2")
            events = [r for r in await read_until_marker(pubsub, "2") if r["kind"] == "event"]
            changes = [r for r in events if r["name"] == "slot_state_changed"]
            assert [r["fields"]["slot"] for r in changes] == [slot, slot]
            assert all(r["node"] == me and r["text"].startswith(f"Slot {slot} is now") for r in changes)
            assert status(await client.execute_command("PYREDIS.TRACE", "STATUS"))["records"] >= 4

            # OFF: nothing more, and the bus is back to its untraced path
            assert await client.execute_command("PYREDIS.TRACE", "OFF") == b"OK"
            assert node.cluster.bus.tracer is None
            await client.publish(MARKER, "3")
            await read_until_marker(pubsub, "3")  # records sent before OFF, if any
            await client.publish("news", "unseen")
            await client.execute_command("CLUSTER", "SETSLOT", slot, "STABLE")
            await client.publish(MARKER, "4")
            assert await read_until_marker(pubsub, "4") == []
            assert status(await client.execute_command("PYREDIS.TRACE", "STATUS"))["tracing"] == "no"
        finally:
            await pubsub.aclose()
            await client.aclose()


async def test_config_options_and_the_file_target(tmp_path: Path) -> None:
    async with start_cluster(3, 0) as cluster:
        node = cluster.nodes[0]
        me = node.cluster.state.myid
        client = redis.asyncio.Redis(port=node.port, decode_responses=True)
        path = tmp_path / "node0.jsonl"
        try:
            assert await client.config_set("cluster-trace-file", str(path))
            assert await client.config_get("cluster-trace-file") == {"cluster-trace-file": str(path)}
            assert "cluster-trace-file" not in await client.config_get("*")  # CONFIG GET * stays Redis's
            state = status(await client.execute_command("PYREDIS.TRACE", "STATUS"))
            assert (state["tracing"], state["file"], state["channel"]) == ("yes", str(path), "no")
            await client.publish("news", "to-the-file")
            records = [parse_record(line) for line in path.read_text().splitlines()]
            assert records and all(r["node"] == me for r in records)
            assert any(r["kind"] == "send" and r["type"] == "PUBLISH" and r["message"] == "to-the-file"
                       for r in records)  # fmt: skip

            # a file that cannot be opened: CONFIG SET fails and changes nothing
            with pytest.raises(redis.ResponseError, match="can't open the trace file"):
                await client.config_set("cluster-trace-file", str(tmp_path / "missing-dir" / "x.jsonl"))
            assert await client.config_get("cluster-trace-file") == {"cluster-trace-file": str(path)}

            # "" switches the file target off: a PUBLISH now adds no line
            assert await client.config_set("cluster-trace-file", "")
            lines = path.read_text().count("\n")
            await client.publish("news", "not-in-the-file")
            assert path.read_text().count("\n") == lines
            assert status(await client.execute_command("PYREDIS.TRACE", "STATUS"))["tracing"] == "no"

            # the channel option, and the command driving both options
            assert await client.config_set("cluster-trace-channel", "yes")
            assert status(await client.execute_command("PYREDIS.TRACE", "STATUS"))["tracing"] == "yes"
            second = tmp_path / "second.jsonl"
            assert await client.execute_command("PYREDIS.TRACE", "ON", "FILE", str(second), "CHANNEL") == "OK"
            assert await client.config_get("cluster-trace-*") == {}  # hidden options: exact names only
            assert await client.config_get("cluster-trace-file") == {"cluster-trace-file": str(second)}
            assert await client.execute_command("PYREDIS.TRACE", "OFF", "CHANNEL") == "OK"
            state = status(await client.execute_command("PYREDIS.TRACE", "STATUS"))
            assert (state["tracing"], state["file"], state["channel"]) == ("yes", str(second), "no")
            await client.publish("news", "second")
            assert any(json.loads(line).get("message") == "second" for line in second.read_text().splitlines())
            assert await client.execute_command("PYREDIS.TRACE", "OFF") == "OK"
            assert await client.config_get("cluster-trace-channel") == {"cluster-trace-channel": "no"}
            assert status(await client.execute_command("PYREDIS.TRACE", "STATUS"))["tracing"] == "no"
        finally:
            await client.aclose()


def test_bad_arguments_get_clear_errors(tmp_path: Path) -> None:
    with cluster_in_thread(3, 0) as cluster, RawClient(cluster.nodes[0].port) as client:
        syntax = f"-{errors.TRACE_SYNTAX}\r\n".encode()
        for args in ([], ["BOGUS"], ["ON", "FILE"], ["ON", "FILE", ""], ["ON", "NOISE"],
                     ["ON", "CHANNEL", "CHANNEL"], ["OFF", "FILE", "x"], ["STATUS", "extra"]):  # fmt: skip
            assert client.raw("PYREDIS.TRACE", *args) == syntax, args
        missing = str(tmp_path / "no-such-dir" / "t.jsonl")
        reply = client.call("PYREDIS.TRACE", "ON", "FILE", missing)
        assert str(reply).startswith(f"ERR can't open the trace file '{missing}'")
        state = status(client.call("PYREDIS.TRACE", "STATUS"))
        assert (state["tracing"], state["file"]) == ("no", "")
        assert client.call("PYREDIS.TRACE", "status")[1] == b"no"  # any case, like any command
        assert client.call("PING") == "PONG"  # the connection and the node are fine


def test_a_standalone_node_has_no_trace(node: Any) -> None:
    with RawClient(node.port) as client:
        assert client.raw("PYREDIS.TRACE", "STATUS") == f"-{errors.CLUSTER_DISABLED}\r\n".encode()
        assert client.raw("PYREDIS.TRACE", "ON") == f"-{errors.CLUSTER_DISABLED}\r\n".encode()


async def test_trace_file_from_the_start(tmp_path: Path) -> None:
    """``cluster-trace-file`` at start-up: the first handshake of the bus is in the file."""
    path = tmp_path / "cluster.jsonl"
    async with start_cluster(2, 0, cluster_trace_file=str(path)) as cluster:
        ids = [node.cluster.state.myid for node in cluster.nodes]
        records = [parse_record(line) for line in path.read_text().splitlines()]
    by_node = {node_id: [r for r in records if r["node"] == node_id] for node_id in ids}
    for mine, peer in (ids, ids[::-1]):
        # readiness needs a PONG on every outbound link: our PING went out, the PONG came back
        assert any(r["kind"] == "send" and r["type"] == "PING" and r["to"] == peer for r in by_node[mine])
        assert any(r["kind"] == "recv" and r["type"] == "PONG" and r["from"] == peer for r in by_node[mine])
