"""The keyspace on its own (no sockets): TTL index, lazy and active expiry, the SCAN
cursor guarantee, access times and LFU counters, random keys, SWAPDB's exchange."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from pyredis_cluster.server.keyspace import LFU_INIT_VAL, Keyspace, ScanIndex, scan_position

NOW = 1_700_000_000_000


def make_keyspace() -> Keyspace:
    keyspace = Keyspace(4)
    keyspace.now_ms = NOW
    return keyspace


# -- TTLs and the expiry index ---------------------------------------------------------


def test_set_expire_replaces_the_old_index_entry():
    ks = make_keyspace()
    db = ks[0]
    db.add(b"k", b"v")
    db.set_expire(b"k", NOW + 100)
    db.set_expire(b"k", NOW + 50)
    assert db.get_expire(b"k") == NOW + 50
    assert db.next_expiry() == NOW + 50
    assert len(db._expiry_index) == 1
    assert db.remove_expire(b"k") is True
    assert db.remove_expire(b"k") is False
    assert db.next_expiry() is None


def test_set_drops_the_ttl_unless_keep_ttl():
    ks = make_keyspace()
    db = ks[0]
    db.add(b"k", b"v")
    db.set_expire(b"k", NOW + 100)
    db.set(b"k", b"w", keep_ttl=True)
    assert db.get_expire(b"k") == NOW + 100
    db.set(b"k", b"x")
    assert db.get_expire(b"k") is None
    assert db.next_expiry() is None


def test_lazy_expiry_on_lookup_counts_and_notifies():
    ks = make_keyspace()
    expired: list[tuple[int, bytes]] = []
    ks.on_expired = lambda db, key: expired.append((db.index, key))
    db = ks[2]
    db.add(b"k", b"v")
    db.set_expire(b"k", NOW + 10)
    assert db.get(b"k") == b"v"
    ks.now_ms = NOW + 10  # due exactly now: expired (Redis: when <= now)
    assert db.get(b"k") is None
    assert b"k" not in db.data and db.get_expire(b"k") is None
    assert ks.expired_keys == 1
    assert expired == [(2, b"k")]


def test_expired_key_invalidates_watchers():
    ks = make_keyspace()
    db = ks[0]

    class Watcher:
        watch_dirty = False
        watched_stale: set = set()  # keys WATCHed while already expired (none here)

    watcher = Watcher()
    db.watched[b"k"] = {watcher}
    db.add(b"k", b"v")
    db.set_expire(b"k", NOW)
    assert db.peek(b"k") is None
    assert watcher.watch_dirty is True


def test_is_expired_does_not_delete():
    ks = make_keyspace()
    db = ks[0]
    db.add(b"k", b"v")
    db.set_expire(b"k", NOW - 1)
    assert db.is_expired(b"k") is True
    assert b"k" in db.data
    assert ks.expired_keys == 0


def test_replica_hides_expired_keys_without_deleting_them():
    ks = make_keyspace()
    ks.is_replica = True
    db = ks[0]
    db.add(b"k", b"v")
    db.set_expire(b"k", NOW - 1)
    assert db.get(b"k") is None
    assert b"k" in db.data
    assert ks.active_expire_cycle() == 0
    assert b"k" in db.data


def test_active_expiry_deletes_due_keys_in_time_order_only():
    ks = make_keyspace()
    order: list[bytes] = []
    ks.on_expired = lambda db, key: order.append(key)
    for db_index, key, delta in [(0, b"a", -5), (1, b"b", -10), (0, b"c", -1), (0, b"later", 1000)]:
        ks[db_index].add(key, b"v")
        ks[db_index].set_expire(key, NOW + delta)
    ks[0].add(b"forever", b"v")
    assert ks.active_expire_cycle() == 3
    assert sorted(order) == [b"a", b"b", b"c"]
    assert order[:2] == [b"a", b"c"]  # db 0 first, earliest first within it
    assert set(ks[0].data) == {b"later", b"forever"}
    assert ks.expired_keys == 3


def test_active_expiry_respects_a_key_budget_and_resumes():
    ks = make_keyspace()
    db = ks[0]
    for i in range(100):
        db.add(b"k%d" % i, b"v")
        db.set_expire(b"k%d" % i, NOW - 100 + i)
    assert ks.active_expire_cycle(max_keys=30) == 30
    assert len(db) == 70
    # the earliest ones went first
    assert all(b"k%d" % i not in db.data for i in range(30))
    assert ks.active_expire_cycle() == 70
    assert len(db) == 0


def test_flush_clears_every_index():
    ks = make_keyspace()
    db = ks[0]
    for i in range(10):
        db.add(b"k%d" % i, b"v")
        db.set_expire(b"k%d" % i, NOW + 1000)
    db.scan(0, 5)
    assert db.flush() == 10
    assert not db.data and not db.expires and not db.access and db.next_expiry() is None
    db.add(b"new", b"v")
    assert db.scan(0, 10) == (0, [b"new"])


# -- SCAN ---------------------------------------------------------------------------------


def full_scan(db, count: int, between=lambda: None) -> list[bytes]:
    cursor, seen = 0, []
    while True:
        cursor, page = db.scan(cursor, count)
        seen += page
        if cursor == 0:
            return seen
        between()


def test_scan_returns_every_key_once_on_a_stable_db():
    ks = make_keyspace()
    db = ks[0]
    keys = [b"key:%d" % i for i in range(1000)]
    for key in keys:
        db.add(key, b"v")
    for count in (1, 7, 10, 1000, 5000):
        seen = full_scan(db, count)
        assert sorted(seen) == sorted(keys)


def test_scan_index_is_only_built_by_the_first_scan():
    ks = make_keyspace()
    db = ks[0]
    db.add(b"a", b"v")
    assert db._scan_index is None  # plain writes pay nothing
    db.scan(0, 10)
    assert db._scan_index is not None
    db.add(b"b", b"v")
    db.delete(b"a")
    assert db.scan(0, 10) == (0, [b"b"])


def test_scan_cursor_is_a_63_bit_position_and_never_zero_mid_iteration():
    ks = make_keyspace()
    db = ks[0]
    for i in range(200):
        db.add(b"%d" % i, b"v")
    cursor = 0
    while True:
        cursor, page = db.scan(cursor, 3)
        assert 0 <= cursor < 2**63
        if cursor == 0:
            break
        assert all(scan_position(key) < cursor for key in page)


def test_scan_page_never_splits_members_sharing_a_position(monkeypatch):
    # Force collisions: every member of a group has the same position.
    import pyredis_cluster.server.keyspace as keyspace_module

    monkeypatch.setattr(keyspace_module, "scan_position", lambda member: int(member.split(b":")[0]))
    index = ScanIndex([b"%d:%d" % (group, i) for group in (5, 9, 20) for i in range(4)])
    cursor, page = index.page(0, 2)
    assert sorted(page) == [b"5:0", b"5:1", b"5:2", b"5:3"]
    assert cursor == 9
    cursor, page = index.page(cursor, 5)
    assert len(page) == 8 and cursor == 0


@settings(max_examples=60, deadline=None)
@given(
    initial=st.sets(st.binary(max_size=6), max_size=60),
    steps=st.lists(
        st.tuples(st.sampled_from(["add", "delete"]), st.binary(max_size=6)),
        max_size=120,
    ),
    count=st.integers(min_value=1, max_value=15),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_scan_guarantee_under_growth_and_deletion(initial, steps, count, seed):
    """Every key present from the first SCAN call to the last is returned at least once,
    however many keys are added or deleted between the calls; nothing that was never
    in the database is ever returned."""
    ks = make_keyspace()
    db = ks[0]
    for key in initial:
        db.add(key, b"v")
    rng = random.Random(seed)
    pending = list(steps)
    ever_present = set(initial)
    deleted_or_added: set[bytes] = set()

    def mutate() -> None:
        for _ in range(rng.randint(0, 5)):
            if not pending:
                return
            action, key = pending.pop(0)
            if action == "add" and key not in db.data:
                db.add(key, b"v")
                ever_present.add(key)
                deleted_or_added.add(key)
            elif action == "delete" and db.delete(key):
                deleted_or_added.add(key)

    seen = full_scan(db, count, mutate)
    stayed = set(initial) - deleted_or_added
    assert stayed <= set(seen)
    assert set(seen) <= ever_present
    # no duplicates: positions only move forward
    assert len(seen) == len(set(seen))


# -- access times, LFU, random keys, SWAPDB ------------------------------------------------------


def test_get_records_access_time_but_peek_does_not():
    ks = make_keyspace()
    db = ks[0]
    db.add(b"k", b"v")
    ks.now_ms = NOW + 5000
    assert db.peek(b"k") == b"v"
    assert db.peek_read(b"k") == b"v"
    assert db.idle_ms(b"k") == 5000
    assert db.get(b"k") == b"v"
    assert db.idle_ms(b"k") == 0
    db.set_idle(b"k", 42)
    assert db.idle_ms(b"k") == 42_000


def test_read_lookups_count_hits_and_misses_and_report_keymiss():
    ks = make_keyspace()
    misses: list[bytes] = []
    ks.on_keymiss = lambda db, key: misses.append(key)
    db = ks[0]
    db.add(b"k", b"v")
    db.lookup_read(b"k")
    db.lookup_read(b"nope")
    db.peek_read(b"nope2")
    db.peek_read(b"nope3", notify=False)
    db.get(b"nope4")  # write lookups count nothing
    assert (ks.keyspace_hits, ks.keyspace_misses) == (1, 3)
    assert misses == [b"nope", b"nope2"]


def test_lfu_counter_starts_at_init_value_grows_logarithmically_and_decays():
    ks = make_keyspace()
    ks.lfu_enabled = True
    db = ks[0]
    db.add(b"k", b"v")
    assert db.lfu_counter(b"k") == LFU_INIT_VAL
    for _ in range(2000):
        db.get(b"k")
    grown = db.lfu_counter(b"k")
    # With lfu-log-factor 10, a few thousand hits give a counter in the low tens.
    assert LFU_INIT_VAL < grown < 40
    ks.now_ms += 3 * 60_000  # three idle minutes with lfu-decay-time 1
    assert db.lfu_counter(b"k") == grown - 3
    db.set_lfu(b"k", 100)
    assert db.lfu_counter(b"k") == 100


def test_random_key_skips_and_deletes_expired_keys():
    ks = make_keyspace()
    db = ks[0]
    assert db.random_key() is None
    for i in range(20):
        db.add(b"gone%d" % i, b"v")
        db.set_expire(b"gone%d" % i, NOW - 1)
    db.add(b"live", b"v")
    assert db.random_key(random.Random(1)) == b"live"
    db.delete(b"live")
    assert db.random_key() is None
    assert len(db) == 0


def test_random_key_draws_every_key():
    ks = make_keyspace()
    db = ks[0]
    for key in (b"a", b"b", b"c"):
        db.add(key, b"v")
    rng = random.Random(7)
    assert {db.random_key(rng) for _ in range(200)} == {b"a", b"b", b"c"}


def test_swap_contents_moves_keys_ttls_and_indexes():
    ks = make_keyspace()
    first, second = ks[0], ks[1]
    first.add(b"a", b"1")
    first.set_expire(b"a", NOW + 100)
    first.scan(0, 10)
    second.add(b"b", b"2")
    first.swap_contents(second)
    assert first.get(b"b") == b"2" and second.get(b"a") == b"1"
    assert second.get_expire(b"a") == NOW + 100 and second.next_expiry() == NOW + 100
    assert first.next_expiry() is None
    assert second.scan(0, 10) == (0, [b"a"])
    assert first.scan(0, 10) == (0, [b"b"])


def test_idle_scan_index_is_dropped_and_old_cursors_stay_valid():
    ks = make_keyspace()
    db = ks[0]
    for i in range(100):
        db.add(b"k%d" % i, b"v")
    cursor, first = db.scan(0, 10)
    ks.now_ms += 30_000
    ks.release_idle_scan_indexes()
    assert db._scan_index is not None  # used 30 s ago: kept
    ks.now_ms += 31_000
    ks.release_idle_scan_indexes()
    assert db._scan_index is None  # a minute idle: dropped, writes are free again
    rest = []
    while cursor:
        cursor, page = db.scan(cursor, 10)  # rebuilt on demand, same positions
        rest += page
    assert sorted(first + rest) == sorted(db.data)
    assert not set(first) & set(rest)
