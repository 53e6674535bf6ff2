"""Differential testing: the same commands to our node and to a real redis-server 7.0,
replies compared byte for byte.

A script is a list of commands (each a list of words). Both servers are flushed and
switched to the requested protocol version first. ``compare`` returns the mismatches
so a test can show all of them at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from tests.support import RawClient

Command = Sequence[bytes | str | int]


def run_script(port: int, script: Sequence[Command], resp: int = 2) -> list[bytes]:
    with RawClient(port) as conn:
        conn.raw("HELLO", resp)
        conn.raw("FLUSHALL")
        return [conn.raw(*cmd) for cmd in script]


def compare(ours: int, real: int, script: Sequence[Command], resp: int = 2) -> list[str]:
    mine = run_script(ours, script, resp)
    theirs = run_script(real, script, resp)
    problems = []
    for cmd, a, b in zip(script, mine, theirs):
        if a != b:
            problems.append(f"RESP{resp} {' '.join(map(str, cmd))!r}: ours={a!r} redis={b!r}")
    return problems


def assert_same(ours: int, real: int, script: Sequence[Command], resps: Sequence[int] = (2, 3)) -> None:
    problems = []
    for resp in resps:
        problems += compare(ours, real, script, resp)
    assert not problems, "replies differ from redis-server:\n" + "\n".join(problems)
