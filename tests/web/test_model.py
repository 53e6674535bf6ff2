"""The live view's model: parsing what nodes answer, merging it, diffing it, and the JSON the page gets.

Pure functions, fed CLUSTER NODES / CLUSTER INFO texts written here in Redis 7.0's
documented format, so no node is started.
"""

from __future__ import annotations

import json
from typing import Any

from pyredis_cluster.cluster.trace import to_json_line
from pyredis_cluster.web.model import (
    EMPTY_SNAPSHOT,
    SLOT_COUNT,
    Observation,
    Role,
    Source,
    build_snapshot,
    diff_snapshots,
    parse_cluster_nodes,
    parse_info,
    resolve_owners,
    slot_runs,
    trace_entry,
)

A, B, C, D = ("a" * 40), ("b" * 40), ("c" * 40), ("d" * 40)
ADDR = {A: "127.0.0.1:7000", B: "127.0.0.1:7001", C: "127.0.0.1:7002", D: "127.0.0.1:7003"}
NOW = 1_700_000_000.0


def line(node_id: str, flags: str, primary: str = "-", epoch: int = 1, link: str = "connected", slots: str = "") -> str:
    host, port = ADDR[node_id].split(":")
    return f"{node_id} {host}:{port}@{int(port) + 10000} {flags} {primary} 0 1700000000000 {epoch} {link} {slots}".rstrip()


def info(current_epoch: int, state: str = "ok") -> dict[str, str]:
    return {"cluster_state": state, "cluster_current_epoch": str(current_epoch)}


def observe(me: str, lines: dict[str, str], current_epoch: int = 3, state: str = "ok", offset: int = 0) -> Observation:
    """What node ``me`` answers: ``lines`` maps node id -> its line as ``me`` sees it."""
    text = "\n".join(
        line_text.replace(" master ", " myself,master ", 1).replace(" slave ", " myself,slave ", 1)
        if node_id == me else line_text
        for node_id, line_text in lines.items()
    )  # fmt: skip
    return Observation(address=ADDR[me], reachable=True, nodes=tuple(parse_cluster_nodes(text)),
                       cluster_info=info(current_epoch, state), replication={"master_repl_offset": offset})  # fmt: skip


def healthy_lines() -> dict[str, str]:
    return {
        A: line(A, "master", epoch=1, slots="0-8191"),
        B: line(B, "master", epoch=2, slots="8192-16383"),
        C: line(C, "slave", primary=A, epoch=1),
    }


def healthy() -> list[Observation]:
    return [observe(node_id, healthy_lines()) for node_id in (A, B, C)]


# ---------------------------------------------------------------------------- parsing
def test_parse_cluster_nodes_reads_every_field_and_migration_markers() -> None:
    text = (
        f"{A} 127.0.0.1:7000@17000,host-a myself,master - 0 0 4 connected 0-99 101 [100->-{B}] [200-<-{C}]\n"
        f"{B} 127.0.0.1:7001@17001 slave,fail? {A} 1700000000000 1700000000000 4 disconnected\n"
        "garbage line\n"
    )
    first, second = parse_cluster_nodes(text)
    assert first.is_myself and first.role is Role.PRIMARY and first.address == "127.0.0.1:7000"
    assert first.bus_port == 17000 and first.config_epoch == 4 and first.link_connected
    assert first.slots == ((0, 99), (101, 101))
    assert first.migrating == {100: B} and first.importing == {200: C}
    assert second.role is Role.REPLICA and second.primary_id == A and not second.link_connected
    assert "fail?" in second.flags and not second.is_myself


def test_parse_cluster_nodes_ipv6_address() -> None:
    (node,) = parse_cluster_nodes(f"{A} ::1:7000@17000 myself,master - 0 0 1 connected 0-16383")
    assert node.host == "::1" and node.port == 7000 and node.slots == ((0, 16383),)


def test_parse_info_ignores_sections_and_blank_lines() -> None:
    assert parse_info("# Cluster\r\ncluster_state:ok\r\n\r\ncluster_current_epoch:6\r\n") == {
        "cluster_state": "ok", "cluster_current_epoch": "6"}  # fmt: skip


# ---------------------------------------------------------------------------- snapshots
def test_snapshot_rows_come_from_each_nodes_own_line() -> None:
    snapshot = build_snapshot(healthy())
    assert [row.address for row in snapshot.nodes] == [ADDR[A], ADDR[B], ADDR[C]]
    a, b, c = snapshot.nodes
    assert a.role is Role.PRIMARY and c.role is Role.REPLICA and c.primary_id == A
    assert "myself" not in a.flags and a.flags == ("master",)
    assert a.current_epoch == 3 and a.cluster_state == "ok" and a.reachable is True
    assert (a.links_up, a.links_total) == (2, 2)  # B and C both see a connected link to A
    assert snapshot.owners[0] == A and snapshot.owners[8191] == A and snapshot.owners[8192] == B
    assert snapshot.current_epoch == 3


def test_pfail_and_fail_are_the_observers_opinions() -> None:
    seen_failing = {**healthy_lines(), A: line(A, "master,fail?", epoch=1, link="disconnected", slots="0-8191")}
    observations = [
        Observation(address=ADDR[A], reachable=False, error="Timeout"),
        observe(B, seen_failing),
        observe(C, {**healthy_lines(), A: line(A, "master,fail", epoch=1, link="disconnected", slots="0-8191")}),
    ]
    snapshot = build_snapshot(observations)
    assert snapshot.problems == ((ADDR[A], "Timeout"),)  # the page lists what did not answer
    row = snapshot.node(A)
    assert row is not None
    assert row.reachable is False and row.pfail_by == (B,) and row.fail_by == (C,)
    assert "fail?" in row.flags and "fail" in row.flags
    assert (row.links_up, row.links_total) == (0, 2)
    assert row.current_epoch is None  # unreachable: no CLUSTER INFO of its own


def test_a_node_not_polled_yet_is_neither_reachable_nor_unreachable() -> None:
    snapshot = build_snapshot([observe(A, healthy_lines())])
    row_b = snapshot.node(B)
    assert row_b is not None and row_b.reachable is None


def test_slot_owner_conflict_goes_to_the_highest_config_epoch() -> None:
    # C was promoted with epoch 5 and claims A's slots; B still lists A with them at epoch 1.
    promoted = {**healthy_lines(), C: line(C, "master", epoch=5, slots="0-8191"), A: line(A, "master,fail", slots="")}
    stale = healthy_lines()
    snapshot = build_snapshot([observe(B, stale), observe(C, promoted)])
    assert snapshot.owners[0] == C and snapshot.owners[8191] == C and snapshot.owners[8192] == B


def test_resolve_owners_prefers_a_nodes_own_claim_on_equal_epochs() -> None:
    (hearsay,) = parse_cluster_nodes(line(A, "master", epoch=2, slots="10-20"))
    (own,) = parse_cluster_nodes(line(B, "myself,master", epoch=2, slots="15"))
    owners = resolve_owners([(own, True), (hearsay, False)])
    assert owners[15] == B and owners[14] == A and owners[21] is None and len(owners) == SLOT_COUNT


def test_slot_runs_group_consecutive_owners() -> None:
    assert slot_runs([A, A, None, B, B, B]) == [(0, 1, A), (2, 2, None), (3, 5, B)]


def test_snapshot_json_is_what_the_page_reads() -> None:
    lines = {**healthy_lines(), A: line(A, "master", epoch=1, slots=f"0-8191 [42->-{B}]"),
             B: line(B, "master", epoch=2, slots=f"8192-16383 [42-<-{A}]")}  # fmt: skip
    snapshot = build_snapshot([observe(node_id, lines, offset=7) for node_id in (A, B, C)])
    data = json.loads(json.dumps(snapshot.to_json()))  # survives the trip through JSON
    assert data["slots"] == [[0, 8191, A], [8192, 16383, B]]
    assert data["migrating"] == [[42, A, B]] and data["importing"] == [[42, B, A]]
    assert data["current_epoch"] == 3 and data["problems"] == []
    row = data["nodes"][0]
    assert row["id"] == A and row["role"] == "primary" and row["slot_count"] == 8192
    assert row["migrating"] == {"42": B} and row["repl_offset"] == 7 and row["reachable"] is True
    assert set(row) >= {"address", "flags", "pfail_by", "fail_by", "config_epoch", "links_up", "links_total",
                        "cluster_state", "primary_id", "current_epoch"}  # fmt: skip


# ---------------------------------------------------------------------------- diffs
def test_first_snapshot_is_not_news() -> None:
    assert diff_snapshots(EMPTY_SNAPSHOT, build_snapshot(healthy()), NOW) == []


def test_identical_snapshots_give_no_entries() -> None:
    assert diff_snapshots(build_snapshot(healthy()), build_snapshot(healthy()), NOW) == []


def test_a_failover_reads_as_a_story() -> None:
    before = build_snapshot(healthy())
    pfail = {**healthy_lines(), A: line(A, "master,fail?", link="disconnected", slots="0-8191")}
    dead = Observation(address=ADDR[A], reachable=False, error="Connection refused")
    flagged = build_snapshot([dead, observe(B, pfail), observe(C, pfail)])
    failed_lines = {**healthy_lines(), A: line(A, "master,fail", link="disconnected", slots="0-8191")}
    failed = build_snapshot([dead, observe(B, failed_lines), observe(C, failed_lines)])
    promoted_lines = {**healthy_lines(), A: line(A, "master,fail", link="disconnected"),
                      C: line(C, "master", epoch=4, slots="0-8191")}  # fmt: skip
    promoted = build_snapshot([dead, observe(B, promoted_lines, current_epoch=4),
                               observe(C, promoted_lines, current_epoch=4)])  # fmt: skip

    step1 = diff_snapshots(before, flagged, NOW)
    assert {entry.kind for entry in step1} == {"node_unreachable", "pfail"}
    pfail_entry = next(entry for entry in step1 if entry.kind == "pfail")
    assert pfail_entry.node == ADDR[A] and ADDR[B] in pfail_entry.text and ADDR[C] in pfail_entry.text
    assert all(entry.source is Source.VIEW and entry.t == NOW for entry in step1)

    assert [entry.kind for entry in diff_snapshots(flagged, failed, NOW)] == ["fail"]

    step3 = diff_snapshots(failed, promoted, NOW)
    kinds = [entry.kind for entry in step3]
    assert {"promoted", "config_epoch", "current_epoch", "slots_moved"} <= set(kinds)
    moved = next(entry for entry in step3 if entry.kind == "slots_moved")
    assert moved.fields == {"first": 0, "last": 8191, "old": A, "new": C}
    assert "0-8191" in moved.text and ADDR[C] in moved.text


def test_recovery_role_change_and_migration_entries() -> None:
    before = build_snapshot([observe(node_id, {**healthy_lines(), A: line(A, "master,fail?", slots="0-8191")})
                             for node_id in (B, C)])  # fmt: skip
    # A is back, demoted to a replica of C; A starts migrating slot 7 to B.
    after_lines = {A: line(A, "slave", primary=C, slots=""), B: line(B, "master", epoch=2, slots="8192-16383"),
                   C: line(C, "master", epoch=4, slots="0-8191")}  # fmt: skip
    migrating = dict(after_lines)
    migrating[C] = line(C, "master", epoch=4, slots=f"0-8191 [7->-{B}]")
    after = build_snapshot([observe(node_id, migrating) for node_id in (A, B, C)])
    kinds = {entry.kind for entry in diff_snapshots(before, after, NOW)}
    assert {"recovered", "role_changed", "promoted", "migrating"} <= kinds
    done = build_snapshot([observe(node_id, after_lines) for node_id in (A, B, C)])
    assert [entry.kind for entry in diff_snapshots(after, done, NOW)] == ["migration_done"]


def test_owner_changes_are_grouped_per_old_and_new_owner() -> None:
    before = build_snapshot(healthy())
    lines = {**healthy_lines(), A: line(A, "master", epoch=1, slots="0-4 8-8191"),
             B: line(B, "master", epoch=6, slots="5-7 8192-16383")}  # fmt: skip
    after = build_snapshot([observe(node_id, lines) for node_id in (A, B, C)])
    moves = [entry.fields for entry in diff_snapshots(before, after, NOW) if entry.kind == "slots_moved"]
    assert moves == [{"first": 5, "last": 7, "old": A, "new": B}]


def test_nodes_joining_and_leaving() -> None:
    before = build_snapshot(healthy())
    lines = {**healthy_lines(), D: line(D, "master", epoch=0)}
    joined = build_snapshot([observe(node_id, lines) for node_id in (A, B, C, D)])
    assert [entry.kind for entry in diff_snapshots(before, joined, NOW)] == ["node_added"]
    assert [entry.kind for entry in diff_snapshots(joined, before, NOW)] == ["node_removed"]


# ---------------------------------------------------------------------------- trace records
def event_record(name: str, text: str, t: int = 1_700_000_000_123) -> str:
    return to_json_line({"v": 1, "t": t, "kind": "event", "node": A, "port": 7000, "name": name,
                         "level": "notice", "fields": {"node": B}, "text": text})  # fmt: skip


def message_record(type_name: str, kind: str = "send") -> str:
    return to_json_line({"v": 1, "t": 1_700_000_000_000, "kind": kind, "node": A, "port": 7000, "type": type_name,
                         "code": 0, "from": A, "from_addr": ADDR[A], "to": B, "to_addr": ADDR[B],
                         "current_epoch": 5, "config_epoch": 2, "about": C})  # fmt: skip


def test_trace_event_becomes_an_entry_with_short_ids() -> None:
    entry = trace_entry(event_record("fail", f"Marking node {B} as failing (quorum reached)."), NOW)
    assert entry is not None and entry.source is Source.TRACE and entry.kind == "trace_event"
    assert entry.t == 1_700_000_000.123 and entry.node == "7000"
    assert B not in entry.text and B[:8] in entry.text and "quorum reached" in entry.text
    assert entry.fields["name"] == "fail"


def test_trace_messages_and_chatter() -> None:
    fail = trace_entry(message_record("FAIL"), NOW)
    assert fail is not None and "FAIL" in fail.text and ADDR[B] in fail.text and C[:8] in fail.text
    assert fail.fields["current_epoch"] == 5
    assert trace_entry(message_record("PING"), NOW) is None  # chatter is hidden by default
    ping = trace_entry(message_record("PONG", kind="recv"), NOW, chatter=True)
    assert ping is not None and "receives PONG from" in ping.text


def test_trace_time_that_is_not_wall_clock_becomes_the_arrival_time() -> None:
    entry = trace_entry(event_record("fail", "simulated", t=1500), NOW)
    assert entry is not None and entry.t == NOW


def test_garbage_on_the_trace_channel_is_ignored() -> None:
    for payload in (b"not json", b"[1, 2]", b'{"v": 1, "kind": "nonsense"}', b"\xff\xfe", b'{"v": 1, "kind": "send"}'):
        assert trace_entry(payload, NOW) is None


def test_entry_json() -> None:
    entry = trace_entry(event_record("fail", "x"), NOW)
    assert entry is not None
    data = json.loads(json.dumps(entry.to_json()))
    assert data == {"t": entry.t, "source": "trace", "kind": "trace_event", "text": "[7000] x", "node": "7000",
                    "fields": {"name": "fail", "node": B}}  # fmt: skip


# ---------------------------------------------------------------------------- what the streams carry
def test_live_view_streams_changed_snapshots_and_their_entries() -> None:
    from pyredis_cluster.web.server import LiveView, sse_message

    view = LiveView([("127.0.0.1", 1)])  # never started: fed snapshots by hand
    stream = view.subscribe()
    assert stream.get_nowait() == ("snapshot", EMPTY_SNAPSHOT.to_json())
    first = build_snapshot(healthy())
    assert view.update(first, NOW) == []  # the starting picture is not news
    assert stream.get_nowait() == ("snapshot", first.to_json()) and stream.empty()
    assert view.update(build_snapshot(healthy()), NOW) == [] and stream.empty()  # nothing changed: nothing sent

    promoted = {**healthy_lines(), C: line(C, "master", epoch=5, slots="0-8191"), A: line(A, "master,fail")}
    second = build_snapshot([observe(node_id, promoted, current_epoch=5) for node_id in (B, C)])
    entries = view.update(second, NOW)
    sent = [stream.get_nowait() for _ in range(stream.qsize())]
    assert sent[0] == ("snapshot", second.to_json())
    assert sent[1:] == [("timeline", entry.to_json()) for entry in entries] and entries

    late = view.subscribe()  # a page connecting later gets the picture and the history
    assert [late.get_nowait() for _ in range(late.qsize())] == sent
    assert sse_message("timeline", {"text": "a → b"}) == b'event: timeline\ndata: {"text":"a \\u2192 b"}\n\n'


async def test_actions_check_their_arguments_before_sending_anything() -> None:
    from pyredis_cluster.web.actions import Actions

    sent: list[tuple[Any, ...]] = []

    async def send(*args: Any) -> Any:
        sent.append(args)
        return b"OK"

    snapshot = build_snapshot(healthy())
    actions = Actions(send, lambda: snapshot)
    for request, error in [
        ({"action": "pause", "node": A, "ms": float("inf")}, "integer"),
        ({"action": "pause", "node": A, "ms": 0}, "at least 1"),
        ({"action": "move_slot", "slot": -1, "target": B}, "at least 0"),
        ({"action": "move_slot", "slot": "x", "target": B}, "integer"),
        ({"action": "move_slot", "slot": 5, "target": C}, "must be a primary"),
        ({"action": "failover", "node": C, "option": "NOW"}, "FORCE or TAKEOVER"),
        ({"action": "kill"}, "no node with id"),
        ({}, "unknown action"),
    ]:
        result = await actions.run(request)
        assert result.error is not None and error in result.error, (request, result)
    assert sent == []
    paused = await actions.run({"action": "pause", "node": A, "ms": 1500})
    assert paused.error is None and sent == [(ADDR[A], "PYREDIS.FAULT", "PAUSE", 1500)]


def test_a_node_nobody_else_knows_keeps_its_last_row_when_it_stops_answering() -> None:
    alone = {A: line(A, "master", epoch=1, slots="0-16383")}
    before = build_snapshot([observe(A, alone)])
    dead = Observation(address=ADDR[A], reachable=False, error="Connection refused")
    after = build_snapshot([dead], before)
    (row,) = after.nodes
    assert row.id == A and row.reachable is False and row.current_epoch is None
    assert set(after.owners) == {A}  # nobody took its slots
    assert [entry.kind for entry in diff_snapshots(before, after, NOW)] == ["node_unreachable"]
    assert build_snapshot([dead]).nodes == ()  # without the previous picture there is nothing to show


def test_a_node_that_met_nobody_is_named_by_the_address_that_answered() -> None:
    # Redis lists itself without an ip until a peer tells it: ":7000@17000".
    (me,) = parse_cluster_nodes(f"{A} :7000@17000 myself,master - 0 0 0 connected 0-16383")
    snapshot = build_snapshot([Observation(address=ADDR[A], reachable=True, nodes=(me,), cluster_info=info(0))])
    (row,) = snapshot.nodes
    assert row.address == row.dialled == ADDR[A]
