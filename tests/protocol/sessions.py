"""Multi-connection wire sessions, for differential tests of pub/sub and transactions.

``tests/differential.py`` assumes one reply per command on one connection. Pub/sub
breaks both assumptions: SUBSCRIBE a b answers with two frames, PUBLISH on one
connection produces pushes on others, and an EXEC holding a SUBSCRIBE writes more
frames than its array header announces. A :class:`Session` drives several raw
connections step by step; each step says how many frames it produces on which
connection, the session waits for exactly those (so the next step cannot overtake
them inside the server), and records every frame's exact bytes per step and
connection. Running the same script against our node and a real redis-server then
compares everything byte for byte, including pushes and trailing frames nobody
expected (read after a final QUIT).

Frame counts are facts the test author states (``SUBSCRIBE a b`` -> 2); a wrong count
shows up as a mismatch or a read timeout, never as a silent pass.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyredis_cluster.protocol.reply_parser import NEED_DATA, ReplyParser
from tests.support import encode_command

#: Commands answering one frame per name given (outside MULTI).
_PER_NAME = {"subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe"}


class _Conn:
    def __init__(self, port: int, timeout: float) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.parser = ReplyParser()
        self.in_multi = False

    def read_frame(self) -> bytes:
        while True:
            result = self.parser.next_reply()
            if result is not NEED_DATA:
                return result[1]  # type: ignore[index]
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.parser.feed(chunk)

    def read_to_eof(self) -> list[bytes]:
        frames = []
        while True:
            try:
                frames.append(self.read_frame())
            except (ConnectionError, OSError):
                return frames


@dataclass
class Step:
    conn: int
    args: tuple[Any, ...]
    frames: dict[int, int]  # connection -> frames expected from this step
    unordered: bool = False
    received: dict[int, list[bytes]] = field(default_factory=dict)

    def describe(self) -> str:
        words = " ".join(a.decode("latin-1") if isinstance(a, bytes) else str(a) for a in self.args)
        return f"[conn {self.conn}] {words}"


class Session:
    """Raw connections to one server at ``port``, flushed and switched to ``resp`` first."""

    def __init__(self, port: int, connections: int = 1, resp: int = 2, timeout: float = 5.0) -> None:
        self.conns = [_Conn(port, timeout) for _ in range(connections)]
        self.steps: list[Step] = []
        for conn in self.conns:
            if resp == 3:
                self._send(conn, ("HELLO", 3))
                conn.read_frame()  # HELLO's map carries the client id: not compared
        self._send(self.conns[0], ("FLUSHALL",))
        self.conns[0].read_frame()

    @staticmethod
    def _send(conn: _Conn, args: Sequence[Any]) -> None:
        conn.sock.sendall(encode_command(list(args)))

    def run(self, conn: int, *args: Any, n: int | None = None, pushes: dict[int, int] | None = None,
            unordered: bool = False) -> Step:  # fmt: skip
        """Send ``args`` on connection ``conn``; wait for ``n`` frames there (default: one,
        or one per name for the (un)subscribe family outside MULTI) and for ``pushes``
        frames on other connections."""
        c = self.conns[conn]
        name = str(args[0]).lower() if not isinstance(args[0], bytes) else args[0].decode().lower()
        if n is None:
            n = max(1, len(args) - 1) if name in _PER_NAME and not c.in_multi else 1
        if name == "multi":
            c.in_multi = True
        elif name in ("exec", "discard"):
            c.in_multi = False
        frames = {conn: n, **(pushes or {})}
        step = Step(conn, args, frames, unordered)
        self._send(c, args)
        try:
            for index, count in frames.items():
                step.received[index] = [self.conns[index].read_frame() for _ in range(count)]
        except OSError as err:  # timeouts included: a frame count that did not come
            raise ConnectionError(f"{step.describe()}: {err!r}, got {step.received!r}") from err
        self.steps.append(step)
        return step

    def raw(self, conn: int, data: bytes, n: int = 1, label: str = "raw") -> Step:
        """Send bytes as they are (inline commands, pipelines) and wait for ``n`` frames."""
        c = self.conns[conn]
        step = Step(conn, (label, data), {conn: n})
        c.sock.sendall(data)
        step.received[conn] = [c.read_frame() for _ in range(n)]
        self.steps.append(step)
        return step

    def finish(self) -> list[list[bytes]]:
        """QUIT every connection; return the frames nobody waited for, per connection."""
        leftovers = []
        for conn in self.conns:
            try:
                self._send(conn, ("QUIT",))
            except OSError:
                pass
            leftovers.append(conn.read_to_eof())
            conn.sock.close()
        return leftovers


def transcript(session: Session) -> list[tuple[str, list[tuple[int, list[bytes]]]]]:
    """Each step with the frames each connection got (sorted where order is not defined)."""
    lines = []
    for step in session.steps:
        got = [(conn, sorted(frames) if step.unordered else frames) for conn, frames in sorted(step.received.items())]
        lines.append((step.describe(), got))
    leftovers = session.finish()
    lines.append(("(after QUIT)", list(enumerate(leftovers))))
    return lines


def assert_same_sessions(ours: list[Any], theirs: list[Any], resp: int) -> None:
    """Compare two transcripts step by step; show every differing step."""
    problems = []
    for (label, mine), (_, real) in zip(ours, theirs):
        if mine != real:
            problems.append(f"RESP{resp} {label}:\n    ours:  {mine!r}\n    redis: {real!r}")
    assert len(ours) == len(theirs)
    assert not problems, "sessions differ from redis-server:\n" + "\n".join(problems)


def assert_same_script(our_port: int, real_port: int, script: Any, connections: int = 1,
                       resps: Sequence[int] = (2, 3)) -> None:  # fmt: skip
    """Run ``script(session)`` against both servers, in each protocol; compare transcripts."""
    for resp in resps:
        transcripts = []
        for port in (our_port, real_port):
            session = Session(port, connections, resp)
            try:
                script(session)
            except OSError as err:
                raise AssertionError(f"RESP{resp} port {port} ({'ours' if port == our_port else 'redis'}): {err}") from err
            transcripts.append(transcript(session))
        assert_same_sessions(transcripts[0], transcripts[1], resp)
