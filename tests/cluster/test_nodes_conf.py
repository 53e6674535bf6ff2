"""nodes.conf: reading files written by real redis-server 7.0.15, writing them back,
and the corrupt-file errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pyredis_cluster.cluster.nodes import ClusterNode, NodeFlags
from pyredis_cluster.cluster.nodes_conf import (
    CORRUPTED_MESSAGE,
    NodesConfError,
    NodesConfig,
    format_node_line,
    load_nodes_conf,
    parse_nodes_conf,
    render_cluster_nodes,
    render_nodes_conf,
    split_args,
    write_nodes_conf_atomic,
)
from pyredis_cluster.cluster.slots import SlotBitmap

FIXTURES = Path(__file__).parent / "fixtures"
NOW = 1_700_000_000_123
ID_A = "7bf949be051b6b20433c668e37c349fc0bc0d926"
ID_B = "b4d345108f85396515d7dba42707e38f423e23ef"
ID_C = "7e3911e1c7e8da70f050d8343f5cc90290965ac5"
ID_D = "b06f676789a95dc9100b88a16d0b915f199c53d9"
X = "1" * 40
Y = "2" * 40


def real(name: str) -> str:
    return (FIXTURES / f"nodes_conf_{name}.txt").read_text()


def normalise(text: str) -> str:
    """Blank out what loading deliberately does not preserve: ping/pong times
    (non-zero becomes "now") and the link column (loaded nodes have no link yet)."""
    out = []
    for line in text.splitlines():
        f = line.split(" ")
        if f[0] != "vars":
            f[4] = "0" if f[4] == "0" else "T"
            f[5] = "0" if f[5] == "0" else "T"
            f[7] = "L"
        out.append(" ".join(f))
    return "\n".join(out) + "\n"


# --- files written by redis-server 7.0.15 ------------------------------------------
@pytest.mark.parametrize("name", ["a", "b", "c", "d", "fresh"])
def test_real_files_round_trip(name: str) -> None:
    text = real(name)
    config = parse_nodes_conf(text, NOW)
    assert config is not None
    assert normalise(render_nodes_conf(config)) == normalise(text)


def test_real_file_of_a_primary_with_migrating_slot() -> None:
    config = parse_nodes_conf(real("a"), NOW)
    assert config is not None
    assert config.myself == ID_A
    assert list(config.nodes) == [ID_C, ID_A, ID_D, ID_B]  # file order kept
    a = config.myself_node
    assert a.flags == NodeFlags.MYSELF | NodeFlags.PRIMARY
    assert (a.ip, a.port, a.cport, a.hostname) == ("127.0.0.1", 60521, 50063, "node-a.test")
    assert a.slots == SlotBitmap.from_ranges([(0, 5460)])
    assert a.config_epoch == 1 and a.pong_received == NOW and a.ping_sent == 0
    assert config.migrating_slots_to == {100: ID_B} and config.importing_slots_from == {}
    d = config.nodes[ID_D]
    assert d.is_replica and d.primary_id == ID_C and d.config_epoch == 0  # replicas load epoch 0
    c = config.nodes[ID_C]
    assert c.replica_ids == [ID_D] and NodeFlags.MIGRATE_TO in c.flags
    assert (config.current_epoch, config.last_vote_epoch) == (3, 0)
    assert not any(n.link_connected for n in config.nodes.values())
    # the replica line still prints its primary's epoch
    assert format_node_line(d, primary_config_epoch=c.config_epoch).split()[6] == "3"


def test_real_file_with_importing_slot() -> None:
    config = parse_nodes_conf(real("b"), NOW)
    assert config is not None
    assert config.myself == ID_B and config.importing_slots_from == {100: ID_A}


def test_fresh_node_file() -> None:
    text = real("fresh")
    config = parse_nodes_conf(text, NOW)
    assert config is not None and len(config.nodes) == 1
    node = config.myself_node
    assert node.ip == "" and not node.slots and node.flags == NodeFlags.MYSELF | NodeFlags.PRIMARY
    assert text.splitlines()[0].split()[1].startswith(":")


# --- writing -------------------------------------------------------------------------
def _sample_config() -> NodesConfig:
    me = ClusterNode(
        X,
        NodeFlags.MYSELF | NodeFlags.PRIMARY,
        "10.0.0.1",
        7000,
        17000,
        hostname="h1.example",
        config_epoch=4,
        slots=SlotBitmap.from_ranges([(0, 99), (101, 101), (200, 300)]),
    )
    replica = ClusterNode(
        Y, NodeFlags.REPLICA | NodeFlags.PFAIL, "10.0.0.2", 7001, 17001, primary_id=X, config_epoch=1
    )
    lost = ClusterNode(
        "3" * 40, NodeFlags.PRIMARY | NodeFlags.FAIL | NodeFlags.NOADDR, "", 0, 0, config_epoch=9
    )
    shake = ClusterNode("4" * 40, NodeFlags.HANDSHAKE, "10.0.0.4", 7004, 17004)
    bare = ClusterNode("5" * 40, NodeFlags(0), "10.0.0.5", 7005, 7005, link_connected=True)
    nodes = {n.name: n for n in (me, replica, lost, shake, bare)}
    return NodesConfig(X, nodes, 9, 7, {101: Y}, {5: Y, 101: "3" * 40})


def test_render_exact_lines() -> None:
    config = _sample_config()
    text = render_nodes_conf(config)
    assert text == (
        f"{X} 10.0.0.1:7000@17000,h1.example myself,master - 0 0 4 connected 0-99 101 200-300 [5-<-{Y}] [101->-{Y}]\n"
        f"{Y} 10.0.0.2:7001@17001 slave,fail? {X} 0 0 4 disconnected\n"
        f"{'3' * 40} :0@0 master,fail,noaddr - 0 0 9 disconnected\n"
        f"{'5' * 40} 10.0.0.5:7005@7005 noflags - 0 0 0 connected\n"
        "vars currentEpoch 9 lastVoteEpoch 7\n"
    )
    # CLUSTER NODES keeps handshake nodes, nodes.conf does not
    nodes_text = render_cluster_nodes(config.nodes.values())
    assert f"{'4' * 40} 10.0.0.4:7004@17004 handshake - 0 0 0 disconnected\n" in nodes_text
    assert "[" not in nodes_text  # migrating/importing only when given


def test_pport_for_plaintext_clients() -> None:
    node = ClusterNode(X, NodeFlags.PRIMARY, "1.2.3.4", 6380, 16380, pport=6379)
    assert format_node_line(node).split()[1] == "1.2.3.4:6380@16380"
    assert format_node_line(node, use_pport=True).split()[1] == "1.2.3.4:6379@16380"


def test_write_then_load_round_trip(tmp_path: Path) -> None:
    config = _sample_config()
    del config.nodes["4" * 40]
    config.nodes["5" * 40].link_connected = False
    path = tmp_path / "nodes.conf"
    write_nodes_conf_atomic(path, render_nodes_conf(config))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert os.listdir(tmp_path) == ["nodes.conf"]  # no temp file left behind
    loaded = load_nodes_conf(path, NOW)
    assert loaded is not None
    assert render_nodes_conf(loaded) == render_nodes_conf(config)
    assert loaded.nodes["3" * 40].fail_time == NOW
    # overwriting with shorter content leaves no trailing garbage
    write_nodes_conf_atomic(path, "x\n", fsync=False)
    assert path.read_text() == "x\n"


def test_missing_or_empty_file_means_fresh_start(tmp_path: Path) -> None:
    assert load_nodes_conf(tmp_path / "nope.conf", NOW) is None
    (tmp_path / "empty.conf").write_text("")
    assert load_nodes_conf(tmp_path / "empty.conf", NOW) is None


# --- loading rules -----------------------------------------------------------------------
def test_lenient_loading_rules() -> None:
    text = (
        "\n"
        f"{X} 10.0.0.1:7000 myself,master - 5 6 2 connected 0-10 5 16383\n"  # no @cport
        f"{Y} 10.0.0.2:7001@17001 slave {'9' * 40} 0 0 8 disconnected 3-8\n"  # replica epoch -> 0
        f"{'9' * 40} ::1:7002@17002 MASTER,Fail - 0 0 5 disconnected 10-12 abc\n"
        "\n"
        "vars currentEpoch 3 lastVoteEpoch 2 someFutureVar 1\n"
    )
    config = parse_nodes_conf(text, NOW)
    assert config is not None
    me = config.nodes[X]
    assert (me.port, me.cport, me.ping_sent, me.pong_received) == (7000, 17000, NOW, NOW)
    assert me.slots.format() == "0-10 16383"
    y = config.nodes[Y]
    assert y.config_epoch == 0 and not y.slots  # 3-8 already belong to X, the first claimant
    n9 = config.nodes["9" * 40]
    assert n9.ip == "::1" and n9.port == 7002  # split at the LAST ':'
    assert n9.flags == NodeFlags.PRIMARY | NodeFlags.FAIL | NodeFlags.MIGRATE_TO and n9.fail_time == NOW
    assert n9.slots.format() == "11-12"  # 10 kept by X; "abc" is atoi 0, also X's
    assert config.current_epoch == 5  # raised to the largest configEpoch
    assert config.last_vote_epoch == 2


def test_slots_claimed_twice_stay_with_first_line() -> None:
    text = f"{X} :1@2 myself,master - 0 0 0 connected 0-5\n{Y} :1@2 master - 0 0 0 connected 3-8\n"
    config = parse_nodes_conf(text, NOW)
    assert config is not None
    assert config.nodes[X].slots.format() == "0-5" and config.nodes[Y].slots.format() == "6-8"


def test_primary_without_its_own_line_is_created() -> None:
    config = parse_nodes_conf(f"{X} :1@2 myself,slave {Y} 0 0 0 connected\n", NOW)
    assert config is not None
    assert list(config.nodes) == [X, Y]
    assert config.nodes[Y].flags == NodeFlags.MIGRATE_TO and config.nodes[Y].ctime == NOW
    assert format_node_line(config.nodes[Y]).split()[2] == "noflags"


def test_quoted_fields() -> None:
    assert split_args('a "b c" \'d e\' "\\x41\\n"') == ["a", "b c", "d e", "A\n"]
    assert split_args('"unterminated') is None
    assert split_args('"closed"x') is None
    assert split_args("   ") == []
    config = parse_nodes_conf(f'{X} "10.0.0.1:7000@17000" myself,master - 0 0 0 connected\n', NOW)
    assert config is not None and config.nodes[X].ip == "10.0.0.1"


LINE = f"{X} 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-100"


@pytest.mark.parametrize(
    ("text", "line_number", "bad_line", "detail"),
    [
        (
            f"{LINE}\n{Y} 127.0.0.1:7001@17001 master - 0 0\n",
            2,
            f"{Y} 127.0.0.1:7001@17001 master - 0 0",
            "at least 8",
        ),
        (
            f"{LINE}\n{'A' * 40} :1@2 master - 0 0 0 connected\n",
            2,
            f"{'A' * 40} :1@2 master - 0 0 0 connected",
            "node id",
        ),
        (
            f"{Y} :1@2 master,bogus - 0 0 0 connected\n{LINE}\n",
            1,
            f"{Y} :1@2 master,bogus - 0 0 0 connected",
            "Unknown flag",
        ),
        (
            f"{LINE}\n{Y} 127.0.0.1 master - 0 0 0 connected\n",
            2,
            f"{Y} 127.0.0.1 master - 0 0 0 connected",
            ":port",
        ),
        (f"{LINE} 16384\n", 1, f"{LINE} 16384", "out of range"),
        (f"{LINE} 5-16384\n", 1, f"{LINE} 5-16384", "out of range"),
        (f"{LINE} [16384->-{Y}]\n", 1, f"{LINE} [16384->-{Y}]", "out of range"),
        (f"{LINE} [5->-abc]\n", 1, f"{LINE} [5->-abc]", "node id"),
        (f"{LINE} [5]\n", 1, f"{LINE} [5]", "migrating"),
        (f'{LINE} "oops\n', 1, f'{LINE} "oops', "quotes"),
        (
            f"{LINE}\n{Y} :1@2 myself,master - 0 0 0 connected\n",
            2,
            f"{Y} :1@2 myself,master - 0 0 0 connected",
            "myself",
        ),
        (f"{LINE}\nvars currentEpoch\n", 2, "vars currentEpoch", "pairs"),
        (f"{LINE}\n   \n", 2, "   ", "no fields"),
        (f"{Y} :1@2 slave zzz 0 0 0 connected\n", 1, f"{Y} :1@2 slave zzz 0 0 0 connected", "primary id"),
    ],
)
def test_corrupt_files_name_the_line(text: str, line_number: int, bad_line: str, detail: str) -> None:
    with pytest.raises(NodesConfError) as info:
        parse_nodes_conf(text, NOW)
    err = info.value
    assert err.line_number == line_number and err.line == bad_line
    message = str(err)
    assert message.startswith(CORRUPTED_MESSAGE)
    assert f"Line {line_number}: {bad_line!r}" in message
    assert detail in message


def test_file_without_myself_is_corrupt() -> None:
    for text in (f"{Y} :1@2 master - 0 0 0 connected\n", "\n", "vars currentEpoch 1 lastVoteEpoch 1\n"):
        with pytest.raises(NodesConfError) as info:
            parse_nodes_conf(text, NOW)
        assert info.value.line_number is None and "myself" in str(info.value)
