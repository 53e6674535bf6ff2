"""The scenario trace as a story: labels for node ids, one line per change seen by several
nodes, one line per message sent to several nodes, plumbing left out, time order."""

from __future__ import annotations

from pyredis_cluster.cluster.events import Event, EventName
from pyredis_cluster.workshop.timeline import MERGE_WINDOW_MS, Timeline

A, B, C = "a" * 40, "b" * 40, "c" * 40
LABELS = {A: "A", B: "B", C: "C"}


def timeline() -> Timeline:
    return Timeline(lambda name: LABELS.get(name, name[:8]))


def pfail(source: str, about: str, t: int) -> Event:
    return Event(EventName.PFAIL, t, source, {"node": about})


def test_the_same_change_on_several_nodes_is_one_line_naming_them_with_labels() -> None:
    story = timeline()
    story.add_event(pfail(B, A, 1000))
    story.add_event(pfail(C, A, 1010))
    lines = story.story()
    assert len(lines) == 1
    assert "B C" in lines[0] and "*** NODE A possibly failing" in lines[0] and A not in lines[0]


def test_identical_changes_far_apart_in_time_stay_separate() -> None:
    story = timeline()
    story.add_event(pfail(B, A, 1000))
    story.add_event(pfail(C, A, 1000 + MERGE_WINDOW_MS + 1))
    assert len(story.story()) == 2


def test_link_plumbing_is_recorded_but_not_told() -> None:
    story = timeline()
    story.add_event(Event(EventName.LINK_CONNECTED, 1000, B, {"node": A}))
    story.add_event(pfail(B, A, 1001))
    assert story.of(EventName.LINK_CONNECTED, "B")  # checks can still see it
    assert len(story.story()) == 1


def test_a_message_to_several_receivers_is_one_line_listing_them() -> None:
    story = timeline()
    story.add_message(2000, "A", "FAILOVER_AUTH_REQUEST epoch 7", "FAILOVER_AUTH_REQUEST", "B")
    story.add_message(2001, "A", "FAILOVER_AUTH_REQUEST epoch 7", "FAILOVER_AUTH_REQUEST", "C")
    story.add_message(2002, "B", "FAILOVER_AUTH_ACK epoch 7", "FAILOVER_AUTH_ACK", "A")
    lines = story.story()
    assert len(lines) == 2
    assert "-> B C  FAILOVER_AUTH_REQUEST epoch 7" in lines[0]
    assert "-> A  FAILOVER_AUTH_ACK epoch 7" in lines[1]


def test_lines_come_in_time_order_and_each_story_tells_only_what_is_new() -> None:
    story = timeline()
    story.add_message(3000, "B", "FAIL about A", "FAIL", "C")  # recorded first, happened 2 s later
    story.add_event(pfail(B, A, 1000))
    first = story.story()
    assert [("NODE A" in line, "FAIL about" in line) for line in first] == [(True, False), (False, True)]
    assert "+  0.000s" in first[0] and "+  2.000s" in first[1]  # seconds since the first line
    assert story.story() == []
    story.add_event(Event(EventName.FAIL, 4000, C, {"node": A, "why": f"Marking node {A} as failing."}))
    assert len(later := story.story()) == 1 and "Marking node A as failing." in later[0]
