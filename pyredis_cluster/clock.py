"""The cluster protocol's time: the wall clock, a scaled clock, and a frozen (manual) one.

Theory of operation
-------------------
The cluster core (``cluster/state.py``) never reads a clock: every call takes
``now_ms``. Whoever drives it decides what time it is. Three answers:

* **Wall time** (the default): Unix milliseconds, as redis-server uses. Nodes that
  share a cluster with real redis-server nodes must stay on it, because gossip
  carries PONG times in Unix seconds and a peer ignores times in its future.
* **Scaled time** (``cluster-time-scale <factor>``): a virtual time
  ``v = v0 + (wall - w0) / factor``. With factor 10 it runs ten times slower than
  the wall clock, so *every* protocol timer (node-timeout, the once-a-second random
  PING, election delays, handshake and manual-failover timeouts...) takes ten times
  longer: slow motion for a teacher. With factor 0.1 a failover is ten times quicker:
  fast tests. Only the time the core *sees* changes, plus the period of the cron
  timer (``100 ms x factor`` of wall time, so the core still gets about one tick per
  100 ms of its own time); nothing inside the core is rescaled, so all its rules keep
  their relative timings. Changing the factor at run time *re-bases*:
  ``(w0, v0)`` become (now, the current reading), so the time stays continuous.
  Nodes of one cluster must agree on the time (gossiped PONG times), so a harness
  gives all its nodes one shared :class:`TimeBase`.
* **Frozen time** (step mode, a manual clock): the reading moves only when told
  (:meth:`ProtocolClock.advance`). Freezing a running clock keeps its reading;
  resuming continues, scaled, from wherever the frozen time was left.

:class:`ProtocolClock` is what a node's cluster bus owns: one object with both
behaviours, switched by :meth:`~ProtocolClock.freeze` / :meth:`~ProtocolClock.resume`.
It also converts between the two time lines for the server, which lives on wall
time: a write pause the core asks "until core time T" (manual failover) ends at
wall time :meth:`~ProtocolClock.wall_ms_at` (T), and the server's "last interaction
with my primary at wall time W" is core time :meth:`~ProtocolClock.core_ms_at` (W).

Deliberately weak: only the cluster protocol is scaled. Key expiry, client timeouts,
CLIENT PAUSE and replication keep wall time (they are not part of the cluster
protocol and clients measure them with their own clocks). While frozen, wall time
that passes does not age anything in the core (``core_ms_at`` answers "now").
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .cluster.constants import CLUSTER_CRON_PERIOD

#: The smallest and largest time scale accepted (a factor outside would either
#: spin the cron timer every 100 us or stretch a failover to days).
MIN_TIME_SCALE = 0.001
MAX_TIME_SCALE = 1000.0

#: Where a manual clock starts when nobody says otherwise: a fixed Unix time, so that
#: runs with one seed see the same times (2023-11-14T22:13:20Z).
MANUAL_CLOCK_START_MS = 1_700_000_000_000


def wall_ms() -> float:
    """The wall clock, Unix milliseconds (with the fraction: scaled time needs it)."""
    return time.time() * 1000


class Clock(Protocol):
    """Anything that tells the cluster protocol what time it is (Unix ms)."""

    def now_ms(self) -> int: ...


class ClockMode(enum.Enum):
    RUNNING = "running"  # moves with the wall clock, scaled
    FROZEN = "frozen"  # moves only when told (step mode, the manual clock)


@dataclass(frozen=True)
class TimeBase:
    """One point of both time lines: at wall time ``wall_ms`` the core time was ``core_ms``."""

    wall_ms: float
    core_ms: float

    @classmethod
    def now(cls, wall: Callable[[], float] = wall_ms) -> TimeBase:
        """Both time lines at the current wall instant (core time = wall time)."""
        reading = wall()
        return cls(reading, reading)


class ScaledClock:
    """``v = v0 + (wall - w0) / factor``: the wall clock slowed down (factor > 1) or sped up."""

    def __init__(self, factor: float = 1.0, base: TimeBase | None = None,
                 wall: Callable[[], float] = wall_ms) -> None:  # fmt: skip
        self.wall = wall
        self.factor = check_time_scale(factor)
        self.base = base if base is not None else TimeBase.now(wall)

    def reading(self) -> float:
        """The core time now, with the fraction of a millisecond."""
        return self.core_ms_at(self.wall())

    def now_ms(self) -> int:
        return int(self.reading())

    def core_ms_at(self, wall_ms: float) -> float:
        return self.base.core_ms + (wall_ms - self.base.wall_ms) / self.factor

    def wall_ms_at(self, core_ms: float) -> float:
        return self.base.wall_ms + (core_ms - self.base.core_ms) * self.factor

    def rebase(self, factor: float, core_ms: float | None = None, wall_now: float | None = None) -> None:
        """Run at ``factor`` from now on, continuing from ``core_ms`` (default: the reading now)."""
        factor = check_time_scale(factor)
        wall_now = self.wall() if wall_now is None else wall_now
        core_now = self.core_ms_at(wall_now) if core_ms is None else core_ms
        self.base = TimeBase(wall_now, core_now)
        self.factor = factor


class ProtocolClock:
    """A node's cluster time: scaled wall time while running, manual while frozen."""

    def __init__(self, scaled: ScaledClock | None = None, *, frozen_at: int | None = None) -> None:
        self.scaled = scaled if scaled is not None else ScaledClock()
        self._frozen_at = frozen_at  # the reading while FROZEN; None while RUNNING

    @classmethod
    def manual(cls, start_ms: int = MANUAL_CLOCK_START_MS, factor: float = 1.0) -> ProtocolClock:
        """A clock that starts frozen at ``start_ms`` (``factor`` applies after ``resume``)."""
        return cls(ScaledClock(factor), frozen_at=start_ms)

    # -- reading ---------------------------------------------------------------------------
    @property
    def mode(self) -> ClockMode:
        return ClockMode.RUNNING if self._frozen_at is None else ClockMode.FROZEN

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    @property
    def scale(self) -> float:
        return self.scaled.factor

    def now_ms(self) -> int:
        return self._frozen_at if self._frozen_at is not None else self.scaled.now_ms()

    @property
    def tick_seconds(self) -> float:
        """Wall seconds between two cron ticks while running: 100 ms of core time."""
        return CLUSTER_CRON_PERIOD * self.scaled.factor / 1000

    # -- conversions for the server (which lives on wall time) ------------------------------
    def wall_ms_at(self, core_ms: int) -> float | None:
        """When (wall Unix ms) the core time will read ``core_ms``; None while frozen (never
        on its own)."""
        return None if self._frozen_at is not None else self.scaled.wall_ms_at(core_ms)

    def core_ms_at(self, wall_ms: float) -> int:
        """The core time of a past wall instant (frozen: now, since frozen time does not pass)."""
        if self._frozen_at is not None:
            return self._frozen_at
        return min(int(self.scaled.core_ms_at(wall_ms)), self.scaled.now_ms())

    # -- control -------------------------------------------------------------------------------
    def set_scale(self, factor: float) -> None:
        """A new time scale, from now on (the reading stays continuous)."""
        if self._frozen_at is None:
            self.scaled.rebase(factor)
        else:
            self.scaled.factor = check_time_scale(factor)  # the base is set on resume

    def freeze(self) -> None:
        """Stop time at its current reading (step mode)."""
        if self._frozen_at is None:
            self._frozen_at = self.scaled.now_ms()

    def resume(self, base: TimeBase | None = None) -> None:
        """Let time run again, scaled, from the frozen reading (or from ``base``, shared by
        several nodes so that they agree)."""
        if self._frozen_at is None:
            return
        if base is None:
            self.scaled.rebase(self.scaled.factor, core_ms=self._frozen_at)
        else:
            self.scaled.base = base
        self._frozen_at = None

    def advance(self, ms: int) -> int:
        """Frozen only: move time forward by ``ms``; returns the new reading."""
        if self._frozen_at is None:
            raise ValueError("the clock is running: freeze it before advancing it")
        if ms < 0:
            raise ValueError("time does not go backwards")
        self._frozen_at += ms
        return self._frozen_at


def check_time_scale(factor: float) -> float:
    if not MIN_TIME_SCALE <= factor <= MAX_TIME_SCALE:  # also refuses NaN
        raise ValueError(f"the time scale must be between {MIN_TIME_SCALE:g} and {MAX_TIME_SCALE:g}")
    return float(factor)
