"""``python -m pyredis_cluster trace`` against running clusters: in-process, then as a process.

Bounded without sleeps: the in-process run stops on an event once the failover is seen;
the subprocess run stops by itself after ``--count`` records.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from pyredis_cluster.cluster.trace import TRACE_CHANNEL, parse_record
from pyredis_cluster.server.node import Node
from pyredis_cluster.testing import cluster_in_thread, start_cluster
from pyredis_cluster.tracecli import build_parser, run
from tests.support import RawClient

DEADLINE = 30.0


def followed(port: int) -> bool:
    """The node's trace channel is on and has one subscriber (over RESP)."""
    with RawClient(port) as client:
        reply = client.call("PYREDIS.TRACE", "STATUS")
    status = dict(zip(reply[::2], reply[1::2]))
    return status[b"channel"] == b"yes" and status[b"subscribers"] == 1


def trace_state(node: Node) -> tuple[bool, int]:
    """(channel target on, subscribers of the trace channel) of an in-process node."""
    trace = node.cluster._trace
    subscribers = len(node.pubsub.channels.get(TRACE_CHANNEL.encode(), ()))
    return (trace is not None and trace.channel, subscribers)


async def wait_for(predicate: Callable[[], Any], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)  # yield to the nodes' loop (a poll, not a fixed wait)


async def test_cli_tells_a_failover_story_and_switches_the_trace_off() -> None:
    async with start_cluster(3, 1, node_timeout=1000) as cluster:
        victim = cluster.primaries[1]
        replica = cluster.replicas_of(victim)[0]
        port = {node: str(node.port) for node in cluster.nodes}
        args = build_parser().parse_args(["--port", str(cluster.nodes[0].port), "--color", "never"])
        out, stop = io.StringIO(), asyncio.Event()
        task = asyncio.create_task(run(args, out, stop))
        await wait_for(lambda: all(trace_state(node) == (True, 1) for node in cluster.nodes) or task.done(),
                       "the CLI to follow every node")  # fmt: skip
        assert not task.done()
        await cluster.kill(victim)
        await wait_for(lambda: "Failover election won" in out.getvalue(), "the failover in the output")
        stop.set()
        assert await asyncio.wait_for(task, DEADLINE) == 0
        lines = out.getvalue().splitlines()
        text = "\n".join(lines)
        assert f"· *** NODE {port[victim]} possibly failing" in text
        assert "as failing (quorum reached)." in text and f"FAIL about {port[victim]}" in text
        assert f"  {port[replica]}  → " in text and "FAILOVER_AUTH_REQUEST epoch" in text
        assert f"  {port[replica]}  · Failover election won: I'm the new master." in text
        assert f"{port[victim]}  ✕ its trace connection closed" in text  # the killed node's stream ended
        assert " PING " not in text and " PONG " not in text and "\x1b[" not in text
        # every surviving node is back to untraced: the CLI switched on what it switched off
        for node in cluster.nodes:
            if node is not victim:
                assert trace_state(node) == (False, 0) and node.cluster.bus.tracer is None


def test_cli_process_json_merges_every_node_and_restores_their_switches() -> None:
    with cluster_in_thread(3, 0, node_timeout=20_000) as cluster:
        nodes = cluster.nodes
        ids = [node.cluster.state.myid for node in nodes]
        with RawClient(nodes[2].port) as client:  # another viewer already traces node 2
            assert client.call("PYREDIS.TRACE", "ON") == "OK"
        # one PUBLISH on node 0: two sends there, one receive on each of the others
        proc = subprocess.Popen(
            [sys.executable, "-m", "pyredis_cluster", "trace", "--port", str(nodes[0].port), "--json",
             "--count", "4", "--duration", str(DEADLINE)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + DEADLINE
            while not all(followed(node.port) for node in nodes):
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the CLI did not subscribe to every node"
                time.sleep(0.01)
            with RawClient(nodes[0].port) as client:
                client.call("PUBLISH", "news", "from-node-0")
            out, err = proc.communicate(timeout=DEADLINE)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err
        records = [parse_record(line) for line in out.splitlines()]
        assert len(records) == 4 and all(json.loads(line) for line in out.splitlines())
        assert all(r["type"] == "PUBLISH" and r["channel"] == "news" and r["message"] == "from-node-0"
                   for r in records)  # fmt: skip
        sends = sorted(r["to"] for r in records if r["kind"] == "send")
        receivers = sorted(r["node"] for r in records if r["kind"] == "recv")
        assert sends == receivers == sorted(ids[1:])
        assert all(r["node"] == ids[0] for r in records if r["kind"] == "send")
        assert [r["t"] for r in records] == sorted(r["t"] for r in records)  # merged in time
        # the CLI switched its own channels off; node 2's other viewer keeps its trace
        for i, node in enumerate(nodes):
            with RawClient(node.port) as client:
                reply = client.call("PYREDIS.TRACE", "STATUS")
            assert dict(zip(reply[::2], reply[1::2]))[b"channel"] == (b"yes" if i == 2 else b"no")
