"""The README's "Walking the Redis Cluster tutorial" section, run as printed.

Theory of operation
-------------------
The test reads the section's ``sh`` blocks from README.md and runs every command line
with bash, in order, after replacing the tutorial's ports 7000-7007 with free ports:
the README cannot drift from what works. Two lines are the test's own job: the loop
that starts the nodes (the test starts the same command, with the README's flags, as
processes whose PIDs it holds, and stops them by PID even when the test fails) and
the final ``shutdown`` loop.

Between lines the test waits, as a reader would, until the cluster has settled: every
member agrees about the slots and about each replica's primary, reports
cluster_state:ok, knows exactly the other members, and every replica's link to its
primary is up (after CLUSTER FAILOVER: until the replica has become the primary).
Checks of what each step must have done are facts of the tutorial (where a key lives,
who owns how many slots, who is primary), never our own output copied.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from redis.cluster import RedisCluster

from tests.cluster_procs import REPO_ROOT, ClusterProc, wait
from tests.support import free_cluster_port, python_module_cmd

SECTION = "## Walking the Redis Cluster tutorial"
TUTORIAL_PORTS = range(7000, 7008)


def tutorial_lines() -> list[str]:
    """Every command line of the section's ``sh`` blocks, in order."""
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end != -1 else None]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip() and not line.startswith("#")]


def node_arguments(start_line: str) -> list[str]:
    """The README's ``python3 -m pyredis_cluster ...`` arguments (``$port`` left in)."""
    command = start_line.split("python3 -m pyredis_cluster", 1)[1].split("&)", 1)[0]
    return shlex.split(command)


@contextmanager
def tutorial_nodes(arguments: list[str]) -> Iterator[dict[int, ClusterProc]]:
    """One process per tutorial port, started with the README's arguments on a free port."""
    nodes: dict[int, ClusterProc] = {}
    with ExitStack() as cleanup:
        for tutorial_port in TUTORIAL_PORTS:
            port = free_cluster_port()
            directory = tempfile.mkdtemp(prefix=f"tutorial-{tutorial_port}-")
            cleanup.callback(shutil.rmtree, directory, ignore_errors=True)
            args = python_module_cmd(*[a.replace("$port", str(port)) for a in arguments], "--bind", "127.0.0.1")
            node = ClusterProc("ours", port, directory, args)
            cleanup.callback(node.stop)
            node.start()
            nodes[tutorial_port] = node
        for node in nodes.values():
            node.wait_ready()
        yield nodes


class Walk:
    """Runs tutorial lines against the nodes and waits for the cluster to settle after each."""

    def __init__(self, nodes: dict[int, ClusterProc], workdir: str) -> None:
        self.nodes = nodes
        self.workdir = workdir
        self.members: list[int] = []  # tutorial ports currently in the cluster

    def node(self, tutorial_port: int) -> ClusterProc:
        return self.nodes[tutorial_port]

    def translate(self, line: str) -> str:
        return re.sub(r"\b(700[0-7])\b", lambda m: str(self.nodes[int(m.group(1))].port), line)

    def run(self, line: str) -> str:
        done = subprocess.run(["bash", "-c", self.translate(line)], cwd=self.workdir, capture_output=True, text=True,
                              timeout=300, check=False)  # fmt: skip
        output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
        assert done.returncode == 0, f"{line}\n{output}"
        assert "[ERR]" not in output and "Could not connect" not in output, f"{line}\n{output}"
        self.track_members(line)
        self.settle(line)
        return output

    def track_members(self, line: str) -> None:
        if "--cluster create" in line:
            self.members = [int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", line)]
        elif "--cluster add-node" in line:
            self.members.append(int(re.findall(r"127\.0\.0\.1:(\d+)", line)[0]))
        elif "--cluster del-node" in line:
            self.members.remove(int(re.search(r"-p (\d+) cluster myid", line).group(1)))

    def myself(self, tutorial_port: int) -> list[str]:
        return next(f for f in self.node(tutorial_port).nodes_lines() if "myself" in f[2])

    def settled(self) -> bool:
        members = [self.node(p) for p in self.members]
        ids = {node.myid() for node in members}
        for node in members:
            node.check_alive()
            if node.cluster_info().get("cluster_state") != "ok":
                return False
            lines = node.nodes_lines()
            if {f[0] for f in lines} != ids or any(set(f[2].split(",")) & {"handshake", "fail", "fail?"} for f in lines):
                return False
            if "slave" in next(f for f in lines if "myself" in f[2])[2] and (
                    "master_link_status:up" not in node.text("INFO", "replication")):  # fmt: skip
                return False
        # Everybody sees the same owners and the same primary for each replica (a primary
        # only accepts a manual failover from a node it knows as its replica).
        views = {tuple(sorted((f[0], f[3], " ".join(t for t in f[8:] if not t.startswith("[")))
                              for f in node.nodes_lines())) for node in members}  # fmt: skip
        return len(views) == 1

    def settle(self, line: str) -> None:
        if not self.members:
            return
        failover = re.search(r"-p (\d+) cluster failover", line)
        if failover:
            port = int(failover.group(1))
            wait(lambda: "master" in self.myself(port)[2], what="the manual failover", nodes=list(self.nodes.values()))
        wait(self.settled, what=f"the cluster to settle after: {line}", nodes=[self.node(p) for p in self.members])

    def owned(self, tutorial_port: int) -> int:
        count = 0
        for token in self.myself(tutorial_port)[8:]:
            if not token.startswith("["):
                first, _, last = token.partition("-")
                count += int(last or first) - int(first) + 1
        return count

    def primaries(self) -> list[int]:
        return [p for p in self.members if "master" in self.myself(p)[2]]


def _got_bar(walk: Walk, output: str) -> None:
    assert output == "bar\n", output


def _after_keys(walk: Walk, output: str) -> None:
    assert sum(walk.node(p).call("DBSIZE") for p in walk.primaries()) == 1001  # foo and key:1..1000


def _after_reshard(walk: Walk, output: str) -> None:
    assert (walk.owned(7000), walk.owned(7001), walk.owned(7002)) == (5461 - 1000, 5462 + 1000, 5461)


def _new_primary_served(walk: Walk, output: str) -> None:
    # redis-cli takes each source's share of the 300 rounded down (one less per source at most).
    assert 300 - 3 <= walk.owned(7006) <= 300 and walk.node(7006).call("DBSIZE") > 0


def _balanced(walk: Walk, output: str) -> None:
    counts = [walk.owned(p) for p in walk.primaries()]
    assert "Moving" in output and max(counts) - min(counts) <= 0.02 * 16384 / len(counts) + 2, counts


def _after_add_replica(walk: Walk, output: str) -> None:
    assert walk.myself(7007)[3] == walk.node(7006).myid()


def _lists_the_replica(walk: Walk, output: str) -> None:
    assert walk.node(7007).myid() in output, output


def _after_failover(walk: Walk, output: str) -> None:
    assert output.splitlines()[0] == "slave"  # ROLE on 7000
    assert walk.myself(7000)[3] == walk.node(7007).myid() and walk.owned(7007) > 0 and walk.owned(7000) == 0


def _after_del_node(walk: Walk, output: str) -> None:
    gone = walk.node(7006).myid()
    assert all(all(f[0] != gone for f in walk.node(p).nodes_lines()) for p in walk.members)


def _reset_node(walk: Walk, output: str) -> None:
    assert [line.split(" ")[2] for line in output.splitlines() if line] == ["myself,master"]


#: What a step must have done, by a fragment of its line.
CHECKS: dict[str, Callable[[Walk, str], None]] = {
    "-p 7002 get foo": _got_bar,
    "seq 1 1000": _after_keys,
    "--cluster-from $(redis-cli -p 7000": _after_reshard,
    "--cluster rebalance 127.0.0.1:7000\n": _balanced,
    "--cluster-from all": _new_primary_served,
    "--cluster-master-id": _after_add_replica,
    "-p 7000 cluster replicas": _lists_the_replica,
    "-p 7000 role": _after_failover,
    "--cluster del-node": _after_del_node,
    "-p 7006 cluster nodes": _reset_node,
}


def test_the_readme_walkthrough_runs_as_printed() -> None:
    lines = tutorial_lines()
    start = next(line for line in lines if "python3 -m pyredis_cluster" in line)
    assert start.startswith("for port in " + " ".join(map(str, TUTORIAL_PORTS)))
    checked: list[str] = []
    workdir = tempfile.mkdtemp(prefix="tutorial-cwd-")
    try:
        with tutorial_nodes(node_arguments(start)) as nodes:
            walk = Walk(nodes, workdir)
            for line in lines:
                if line.startswith("for port in "):
                    continue  # starting and stopping the processes is the test's job (by PID)
                output = walk.run(line)
                for fragment, check in CHECKS.items():
                    if fragment in line + "\n":
                        check(walk, output)
                        checked.append(fragment)
            assert sorted(checked) == sorted(CHECKS), "a step of the tutorial changed: update CHECKS"
            assert sorted(walk.members) == [7000, 7001, 7002, 7003, 7004, 7005, 7007]
            client = RedisCluster(host="127.0.0.1", port=nodes[7001].port, decode_responses=True)
            try:
                assert client.get("foo") == "bar"
                assert [client.get(f"key:{i}") for i in range(1, 1001)] == [f"value:{i}" for i in range(1, 1001)]
            finally:
                client.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
