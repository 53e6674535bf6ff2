"""COMMAND and its subcommands.

The main proof is differential: ``COMMAND INFO <name>`` of every command and subcommand
in our table must be byte-identical to a real redis-server 7.0's, in RESP2 and RESP3,
because clients (redis-py's cluster client, redis-cli) route and validate from it. A
mismatch here is usually a wrong declaration in the module that owns the command.
"""

from __future__ import annotations

import pytest

from pyredis_cluster.protocol.encoder import encode
from pyredis_cluster.server import commands  # noqa: F401  (fills the table)
from pyredis_cluster.server.command_table import COMMANDS
from pyredis_cluster.server.commands.command_info import command_entry, find_spec
from tests.support import RawClient

TOP_LEVEL = sorted(COMMANDS)
SUBCOMMANDS = sorted(f"{name}|{sub}" for name, spec in COMMANDS.items() for sub in spec.subcommands)


def _info(port: int, name: str, resp: int) -> bytes:
    with RawClient(port) as conn:
        conn.raw("HELLO", resp)
        return conn.raw("COMMAND", "INFO", name)


def _sorted_subcommands(value: object) -> object:
    """A parsed COMMAND INFO reply with each entry's subcommands sorted by name (Redis uses hash order)."""
    entries = []
    for entry in value:  # type: ignore[attr-defined]
        if isinstance(entry, list) and len(entry) == 10 and isinstance(entry[9], list):
            entry = entry[:9] + [sorted(entry[9], key=lambda sub: sub[0])]
        entries.append(entry)
    return entries


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_command_info_matches_redis(our_port: int, real_redis_port: int, name: str) -> None:
    for resp in (2, 3):
        ours, theirs = _info(our_port, name, resp), _info(real_redis_port, name, resp)
        if COMMANDS[name].subcommands:
            # Subcommand order is Redis's hash order: compare parsed, sorted (each sub is checked byte for byte below).
            with RawClient(our_port) as a, RawClient(real_redis_port) as b:
                assert _sorted_subcommands(a.call("COMMAND", "INFO", name)) == _sorted_subcommands(
                    b.call("COMMAND", "INFO", name)
                )
            assert len(ours) == len(theirs), f"RESP{resp} COMMAND INFO {name}"
        else:
            assert ours == theirs, f"RESP{resp} COMMAND INFO {name}"


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_info_matches_redis(our_port: int, real_redis_port: int, name: str) -> None:
    for resp in (2, 3):
        assert _info(our_port, name, resp) == _info(real_redis_port, name, resp), f"RESP{resp} COMMAND INFO {name}"


def test_docs_name_every_command_with_summary_and_group() -> None:
    for name, spec in COMMANDS.items():
        assert spec.summary, f"{name} has no summary"
        assert spec.group and spec.since, name
        for sub in spec.subcommands.values():
            assert sub.summary, f"{sub.name} has no summary"


def test_entry_encoding_shapes() -> None:
    """Flags, categories, tips and key specs are RESP3 sets; no subcommands is an empty set."""
    entry = encode(command_entry(COMMANDS["get"]), 3)
    assert entry.startswith(b"*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~")
    assert entry.endswith(b"~0\r\n")
    assert encode(command_entry(COMMANDS["get"]), 2).endswith(b"*0\r\n")


def test_find_spec_by_full_name() -> None:
    assert find_spec(b"CONFIG|Get") is COMMANDS["config"].subcommands["get"]
    assert find_spec(b"get|x") is None
    assert find_spec(b"config|get|x") is None
    assert find_spec(b"nosuch") is None


def test_command_count_and_list_agree(client: RawClient) -> None:
    count = client.call("COMMAND", "COUNT")
    names = client.call("COMMAND", "LIST")
    assert count == len(COMMANDS)
    assert set(names) == {n.encode() for n in TOP_LEVEL} | {n.encode() for n in SUBCOMMANDS}
    assert len(client.call("COMMAND")) == count
    assert len(client.call("COMMAND", "INFO")) == count
    assert client.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "config|*") == [
        f"config|{sub}".encode() for sub in COMMANDS["config"].subcommands
    ]
    admin = client.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "admin")
    assert b"config|set" in admin and b"get" not in admin


def test_getkeys_of_every_keyed_command_matches_redis(our_port: int, real_redis_port: int) -> None:
    """GETKEYS on a simple line for each command with plain index key specs."""
    lines = []
    for name, spec in COMMANDS.items():
        if spec.subcommands or not spec.key_specs or spec.getkeys is not None:
            continue
        arity = abs(spec.arity)
        lines.append([name] + [f"k{i}" for i in range(1, arity)])
    with RawClient(our_port) as a, RawClient(real_redis_port) as b:
        for line in lines:
            assert a.raw("COMMAND", "GETKEYS", *line) == b.raw("COMMAND", "GETKEYS", *line), line
            assert a.raw("COMMAND", "GETKEYSANDFLAGS", *line) == b.raw("COMMAND", "GETKEYSANDFLAGS", *line), line
