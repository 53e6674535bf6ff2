"""The protocol's clocks (pyredis_cluster/clock.py), on a fake wall clock: no waiting.

Also the ``cluster-time-scale`` option's parsing (config.py).
"""

from __future__ import annotations

import pytest

from pyredis_cluster.clock import (
    MANUAL_CLOCK_START_MS,
    ClockMode,
    ProtocolClock,
    ScaledClock,
    TimeBase,
    check_time_scale,
)
from pyredis_cluster.config import Config, ConfigError


class FakeWall:
    """A wall clock the test moves by hand (Unix ms)."""

    def __init__(self, ms: float = 1_000_000.0) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms


def test_scale_one_reads_the_wall_clock() -> None:
    wall = FakeWall()
    clock = ScaledClock(1, wall=wall)
    wall.ms += 1234
    assert clock.now_ms() == 1_000_000 + 1234


@pytest.mark.parametrize("factor", [10, 0.1, 2.5])
def test_protocol_time_runs_at_wall_time_divided_by_the_factor(factor: float) -> None:
    wall = FakeWall()
    clock = ScaledClock(factor, TimeBase(wall.ms, 5_000), wall=wall)
    wall.ms += 10_000
    assert clock.now_ms() == int(5_000 + 10_000 / factor)
    # ... and the way back: when will the protocol time read 6000?
    assert clock.wall_ms_at(6_000) == pytest.approx(wall.ms - 10_000 + 1_000 * factor)


def test_rebase_keeps_time_continuous_and_changes_the_rate() -> None:
    wall = FakeWall()
    clock = ScaledClock(1, wall=wall)
    wall.ms += 1_000
    before = clock.now_ms()
    clock.rebase(10)
    assert clock.now_ms() == before  # no jump
    wall.ms += 1_000
    assert clock.now_ms() == before + 100  # ten times slower from now on


def test_clocks_sharing_a_base_agree() -> None:
    wall = FakeWall()
    base = TimeBase(wall.ms, wall.ms)
    first, second = ScaledClock(0.1, base, wall=wall), ScaledClock(0.1, base, wall=wall)
    wall.ms += 777
    assert first.now_ms() == second.now_ms() == int(base.core_ms + 7770)


def test_frozen_clock_moves_only_when_told() -> None:
    wall = FakeWall()
    clock = ProtocolClock(ScaledClock(1, wall=wall), frozen_at=MANUAL_CLOCK_START_MS)
    assert clock.mode is ClockMode.FROZEN
    wall.ms += 60_000
    assert clock.now_ms() == MANUAL_CLOCK_START_MS
    assert clock.advance(250) == MANUAL_CLOCK_START_MS + 250
    assert clock.now_ms() == MANUAL_CLOCK_START_MS + 250
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_freeze_keeps_the_reading_and_resume_continues_scaled_from_it() -> None:
    wall = FakeWall()
    clock = ProtocolClock(ScaledClock(2, TimeBase(wall.ms, 0), wall=wall))
    wall.ms += 1_000
    assert clock.now_ms() == 500
    clock.freeze()
    wall.ms += 5_000  # wall time passing while frozen does not count
    clock.advance(100)
    clock.resume()
    assert clock.now_ms() == 600
    wall.ms += 1_000
    assert clock.now_ms() == 1_100
    with pytest.raises(ValueError):
        clock.advance(10)  # running clocks are not moved by hand


def test_tick_period_is_100_ms_of_protocol_time() -> None:
    assert ProtocolClock(ScaledClock(10)).tick_seconds == pytest.approx(1.0)
    assert ProtocolClock(ScaledClock(0.1)).tick_seconds == pytest.approx(0.01)


def test_conversions_for_the_server() -> None:
    wall = FakeWall()
    clock = ProtocolClock(ScaledClock(10, TimeBase(wall.ms, 0), wall=wall))
    wall.ms += 10_000  # protocol time 1000
    assert clock.core_ms_at(wall.ms - 5_000) == 500  # the server's "5 s ago" is 500 ms of protocol time
    assert clock.wall_ms_at(1_500) == pytest.approx(wall.ms + 5_000)
    clock.freeze()
    assert clock.wall_ms_at(1_500) is None  # frozen time never gets there by itself
    assert clock.core_ms_at(wall.ms - 5_000) == 1_000  # frozen time does not pass: no age


def test_set_scale_while_frozen_applies_after_resume() -> None:
    wall = FakeWall()
    clock = ProtocolClock.manual(start_ms=0)
    clock.scaled.wall = wall
    clock.set_scale(4)
    clock.resume()
    wall.ms += 400
    assert clock.now_ms() == 100


@pytest.mark.parametrize("factor", [0, -1, 1e9, float("nan"), float("inf")])
def test_time_scale_out_of_range_is_refused(factor: float) -> None:
    with pytest.raises(ValueError):
        check_time_scale(factor)


def test_time_scale_option() -> None:
    config = Config()
    assert config.cluster_time_scale == "1"
    config.set_from_text("cluster-time-scale", ["10.0"])
    assert config.cluster_time_scale == "10"
    config.set_from_text("cluster-time-scale", ["0.25"])
    assert float(config.cluster_time_scale) == 0.25
    for bad in ("abc", "0", "nan", "-2", "5000"):
        with pytest.raises(ConfigError):
            config.set_from_text("cluster-time-scale", [bad])
    assert config.cluster_time_scale == "0.25"
