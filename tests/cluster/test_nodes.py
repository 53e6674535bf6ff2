"""Node flags and their wire words, node ids, failure reports; purity of the modules."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from pyredis_cluster.cluster.nodes import (
    FLAG_WORDS,
    ClusterNode,
    NodeFlags,
    clear_flags,
    format_flags,
    is_valid_node_id,
    parse_flags,
    random_node_id,
)


def test_flag_bits_are_redis_7_0_values() -> None:
    assert {f.name: f.value for f in NodeFlags} == {
        "PRIMARY": 1,
        "REPLICA": 2,
        "PFAIL": 4,
        "FAIL": 8,
        "MYSELF": 16,
        "HANDSHAKE": 32,
        "NOADDR": 64,
        "MEET": 128,
        "MIGRATE_TO": 256,
        "NOFAILOVER": 512,
    }


def test_flag_words_in_cluster_nodes_order() -> None:
    assert [w for _, w in FLAG_WORDS] == [
        "myself",
        "master",
        "slave",
        "fail?",
        "fail",
        "handshake",
        "noaddr",
        "nofailover",
    ]
    everything = NodeFlags(1023)
    assert format_flags(everything) == "myself,master,slave,fail?,fail,handshake,noaddr,nofailover"
    assert format_flags(NodeFlags(0)) == "noflags"
    assert format_flags(NodeFlags.MEET | NodeFlags.MIGRATE_TO) == "noflags"  # never printed
    assert format_flags(NodeFlags.PRIMARY | NodeFlags.MYSELF) == "myself,master"


def test_parse_flags() -> None:
    assert parse_flags("myself,master") == NodeFlags.MYSELF | NodeFlags.PRIMARY
    assert parse_flags("SLAVE,Fail?") == NodeFlags.REPLICA | NodeFlags.PFAIL
    assert parse_flags("noflags") == NodeFlags(0)
    for bad in ("master,,slave", "meet", "primary", ""):
        with pytest.raises(ValueError, match="Unknown flag"):
            parse_flags(bad)


def test_unknown_bits_kept_and_clear_flags() -> None:
    flags = NodeFlags(1024 | 17)
    assert flags.value == 1041
    assert clear_flags(flags, NodeFlags.MYSELF).value == 1025


def test_node_ids() -> None:
    a = random_node_id(random.Random(42))
    assert a == random_node_id(random.Random(42)) and is_valid_node_id(a)
    assert len({random_node_id(random.Random(i)) for i in range(50)}) == 50
    assert not is_valid_node_id("A" * 40)  # uppercase is rejected, as in Redis
    assert not is_valid_node_id("a" * 39) and not is_valid_node_id("g" * 41)
    assert is_valid_node_id("z" * 40)  # Redis accepts [a-z0-9], not only hex


def test_failure_reports() -> None:
    node = ClusterNode("a" * 40, NodeFlags.PRIMARY | NodeFlags.PFAIL)
    assert node.timed_out and not node.failed and node.is_primary and not node.is_replica
    assert node.add_failure_report("b" * 40, 1000) is True
    assert node.add_failure_report("b" * 40, 2000) is False  # refreshed, not duplicated
    assert node.add_failure_report("c" * 40, 1500) is True
    # node_timeout 500: reports are valid for 2 * 500 ms
    assert node.failure_report_count(now=2500, node_timeout=500) == 2
    assert node.failure_report_count(now=2501, node_timeout=500) == 1  # c's report (1500) expired
    assert node.remove_failure_report("b" * 40) is True
    assert node.remove_failure_report("b" * 40) is False
    assert node.fail_reports == []


def test_pure_modules_import_neither_asyncio_nor_the_server() -> None:
    code = (
        "import sys\n"
        "import pyredis_cluster.cluster.slots, pyredis_cluster.cluster.nodes, pyredis_cluster.cluster.messages\n"
        "import pyredis_cluster.cluster.codec, pyredis_cluster.cluster.nodes_conf, pyredis_cluster.cluster.constants\n"
        "bad = [m for m in sys.modules if m == 'asyncio' or m.startswith('pyredis_cluster.server')]\n"
        "print(','.join(bad))\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == ""
