"""The trace CLI's formatter (tracecli.py) on a simulated failover, and its merge buffer."""

from __future__ import annotations

import io
import re

from pyredis_cluster.cluster.trace import is_chatter, parse_record
from pyredis_cluster.resp_client import parse_cluster_nodes
from pyredis_cluster.tracecli import (
    FormatOptions,
    Merger,
    Printer,
    TraceFormatter,
    format_records,
)
from tests.cluster.test_trace import failover_sim

ANSI = re.compile(r"\x1b\[[0-9;]*m")
NODE_ID = re.compile(r"\b[0-9a-f]{40}\b")


def first_index(lines: list[str], *needles: str) -> int:
    """Index of the first line containing every needle (fails if there is none)."""
    for i, line in enumerate(lines):
        if all(needle in line for needle in needles):
            return i
    raise AssertionError(f"no line with {needles!r} in:\n" + "\n".join(lines))


def test_failover_reads_as_a_short_story() -> None:
    sim, victim_i, winner_i = failover_sim()
    name = {sim.id(i): str(sim.nodes[i].port) for i in range(6)}  # the CLI names nodes by port
    victim, winner = name[sim.id(victim_i)], name[sim.id(winner_i)]
    lines = format_records(sim.trace)
    assert not any(NODE_ID.search(line) for line in lines)  # every id shortened to its port
    assert not any(ANSI.search(line) for line in lines)  # no colour unless asked
    assert not any(" PING" in line or " PONG" in line for line in lines)  # heartbeat hidden
    assert len(lines) < len(sim.trace) / 5  # a short story, not the firehose

    # golden lines derived from the records: who did what, in which epoch
    won = next(r for r in sim.trace if r["kind"] == "event" and r["name"] == "failover_won")
    epoch = won["fields"]["epoch"]
    voters = [name[r["from"]] for r in sim.trace if r["kind"] == "send" and r["type"] == "FAILOVER_AUTH_ACK"]
    reporter = name[next(r["from"] for r in sim.trace if r["kind"] == "send" and r["type"] == "FAIL")]
    pfail = first_index(lines, f"  {winner}  · *** NODE {victim} possibly failing")
    quorum = first_index(lines, f"  {reporter}  · Marking node {victim} as failing (quorum reached).")
    fail_sent = first_index(lines, f"  {reporter}  → ", f"FAIL about {victim}")
    election = first_index(lines, f"  {winner}  · Starting a failover election for epoch {epoch}.")
    request = first_index(lines, f"  {winner}  → ", f"FAILOVER_AUTH_REQUEST epoch {epoch}")
    votes = [first_index(lines, f"  {voter}  · Failover auth granted to {winner} for epoch {epoch}")
             for voter in voters]  # fmt: skip
    acks = [first_index(lines, f"  {voter}  → {winner:<5} FAILOVER_AUTH_ACK epoch {epoch}") for voter in voters]
    counted = first_index(lines, f"  {winner}  · Failover auth ack from", "2/2 votes")
    victory = first_index(lines, f"  {winner}  · Failover election won: I'm the new master.")
    assert quorum < fail_sent < request < min(votes) and quorum > 0 <= pfail
    assert max(acks) < counted < victory and max(votes) < victory
    assert abs(election - request) <= len(voters) + 3  # the requests go out as the election starts
    # times: relative to the first line, in seconds, never going backwards
    times = [float(line.split()[0]) for line in lines]
    assert times[0] == 0.0 and times == sorted(times)


def test_times_are_relative_to_the_first_line_shown() -> None:
    sim, _, _ = failover_sim()
    lines = format_records(sim.trace)
    shown = [r for r in sim.trace if TraceFormatter().wanted(r)]
    won = next(r for r in sim.trace if r["kind"] == "event" and r["name"] == "failover_won")
    line = next(line for line in lines if "Failover election won" in line)
    assert float(line.split()[0]) == round((won["t"] - shown[0]["t"]) / 1000, 3)


def test_chatter_events_only_and_colour() -> None:
    sim, _, _ = failover_sim()
    quiet = format_records(sim.trace)
    loud = format_records(sim.trace, FormatOptions(chatter=True))
    assert any(" PING " in line for line in loud) and any(" PONG " in line for line in loud)
    assert len(loud) > 3 * len(quiet)
    events = format_records(sim.trace, FormatOptions(events_only=True))
    assert events and all("  · " in line for line in events)
    assert len(events) == sum(1 for line in quiet if "  · " in line)
    coloured = format_records(sim.trace, FormatOptions(color=True))
    assert [ANSI.sub("", line) for line in coloured] == quiet
    assert all(line.startswith("\x1b[") and line.endswith("\x1b[0m") for line in coloured)
    victory = next(line for line in coloured if "Failover election won" in line)
    assert victory.startswith("\x1b[1;")  # the headline is bold


def test_each_node_has_its_own_colour() -> None:
    sim, _, _ = failover_sim()
    formatter = TraceFormatter(FormatOptions(color=True))
    seen: dict[str, set[str]] = {}
    for record in sorted(sim.trace, key=lambda r: r["t"]):
        line = formatter.format(record)
        if line is not None:
            colour = re.findall(r"\d+", ANSI.match(line).group(0))[-1]  # type: ignore[union-attr]
            seen.setdefault(record["node"], set()).add(colour)
    assert all(len(colours) == 1 for colours in seen.values())
    assert len({next(iter(c)) for c in seen.values()}) == len(seen) >= 5


def test_only_mode_shows_both_directions_of_one_node() -> None:
    sim, _, winner_i = failover_sim()
    winner_id, winner = sim.id(winner_i), str(sim.nodes[winner_i].port)
    mine = [r for r in sim.trace if r["node"] == winner_id]
    lines = format_records(mine, FormatOptions(only=True, followed={winner_id}))
    acks_in = [line for line in lines if "FAILOVER_AUTH_ACK" in line]
    assert acks_in and all(f"→ {winner:<5}" in line and f"(received by {winner})" in line for line in acks_in)
    # the merged view of all nodes shows each ACK once, when it is sent
    merged = [line for line in format_records(sim.trace) if "FAILOVER_AUTH_ACK" in line]
    assert len(merged) == len(acks_in) and not any("received by" in line for line in merged)


def test_receives_from_unfollowed_senders_are_shown() -> None:
    """A real redis-server peer has no trace: its messages show at the receiving end."""
    sim, _, _ = failover_sim()
    untraced = sim.id(0)  # a voter, pretending not to be followed
    followed = {sim.id(i) for i in range(6)} - {untraced}
    records = [r for r in sim.trace if r["node"] != untraced]
    lines = format_records(records, FormatOptions(followed=followed))
    voter = str(sim.nodes[0].port)
    assert any(line.split()[1] == voter and "FAILOVER_AUTH_ACK" in line and "received by" in line for line in lines)


def test_merger_orders_records_from_several_nodes_by_time() -> None:
    merger = Merger(window=0.25)
    merger.push({"t": 30, "n": "late"}, arrived=10.0)
    merger.push({"t": 10, "n": "early"}, arrived=10.1)
    assert merger.ready(10.2) == []  # the earliest has not waited long enough
    merger.push({"t": 20, "n": "middle"}, arrived=10.2)
    assert [r["n"] for r in merger.ready(10.36)] == ["early"]
    assert [r["n"] for r in merger.ready(10.5)] == ["middle", "late"]
    merger.push({"t": 5, "n": "x"}, arrived=11.0)
    assert len(merger) == 1 and [r["n"] for r in merger.drain()] == ["x"] and len(merger) == 0


def test_parse_cluster_nodes_skips_nodes_without_an_address() -> None:
    text = (
        f"{'a' * 40} 127.0.0.1:7001@17001 master - 0 0 1 connected 0-5460\n"
        f"{'b' * 40} :7000@17000 myself,master - 0 0 2 connected 5461-16383\n"
        f"{'c' * 40} :0@0 master,noaddr - 0 0 3 disconnected\n"
        f"{'d' * 40} 127.0.0.1:7009@17009 handshake - 0 0 0 connected\n"
    )
    peers = parse_cluster_nodes(text, "10.1.1.1")
    assert [(p.node_id[0], p.host, p.port) for p in peers] == [("b", "10.1.1.1", 7000), ("a", "127.0.0.1", 7001)]


def test_json_output_keeps_both_ends_and_honours_the_filters() -> None:
    sim, _, _ = failover_sim()
    ordered = sorted(sim.trace, key=lambda r: r["t"])

    def printed(options: FormatOptions, count: int | None = None) -> list[dict]:
        out = io.StringIO()
        printer = Printer(TraceFormatter(options), as_json=True, out=out, count=count)
        for record in ordered:
            printer.emit(record)
        return [parse_record(line) for line in out.getvalue().splitlines()]

    story = printed(FormatOptions())
    assert story == [r for r in ordered if not is_chatter(r)]  # unchanged records, receives included
    assert any(r["kind"] == "recv" for r in story)
    events = [r for r in ordered if r["kind"] == "event"]
    assert printed(FormatOptions(events_only=True)) == [r for r in events if not is_chatter(r)]
    assert printed(FormatOptions(events_only=True, chatter=True)) == events
    assert printed(FormatOptions(chatter=True)) == ordered
    assert printed(FormatOptions(chatter=True), count=7) == ordered[:7]
