"""Counters behind INFO's stats, commandstats, errorstats and latencystats sections.

Theory of operation
-------------------
Redis counts, per command (subcommands apart: ``cmdstat_config|get``): ``calls`` and
``usec`` for commands that ran, ``failed_calls`` for those that ran and answered an
error, ``rejected_calls`` for those refused before running (wrong arity, NOAUTH,
MOVED...). Every error reply a client gets also counts once in ``total_error_replies``
and in the ``errorstat_<CODE>`` of its first word (``ERR``, ``WRONGTYPE``...); Redis
stops adding new codes after 128 distinct ones, and so do we.

Latency percentiles (``latency_percentiles_usec_<cmd>:p50=...``) come from a small
log-linear histogram per command, the same idea as the HdrHistogram Redis uses (two
significant digits): recording is O(1) and memory is bounded whatever the traffic.

``instantaneous_ops_per_sec`` is Redis's: a ring of 16 samples of the ops/s rate,
taken by the server cron every 100 ms, averaged.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..protocol.encoder import ErrorReply

if TYPE_CHECKING:
    from .command_table import CommandSpec

#: Redis keeps at most this many distinct error codes in errorstats.
MAX_ERROR_CODES = 128
#: Samples kept for the instantaneous metrics, and the sampling period.
METRIC_SAMPLES = 16
METRIC_PERIOD_S = 0.1
#: Histogram resolution: values are grouped in buckets of 1/64 of their power of two.
_SUB_BUCKETS = 64


class LatencyHistogram:
    """Bucketed latencies (microseconds), for percentile queries."""

    __slots__ = ("buckets", "count")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = defaultdict(int)
        self.count = 0

    def record(self, usec: float) -> None:
        value = int(usec) or 1
        # _bucket_of, inlined: this runs once per command.
        if value < 64:
            self.buckets[value] += 1
        else:
            exponent = value.bit_length() - 1
            self.buckets[(exponent << 8) | (value >> (exponent - 5))] += 1
        self.count += 1

    def percentile(self, pct: float) -> float:
        """The upper edge of the bucket holding the ``pct`` percentile."""
        wanted = max(1, math.ceil(self.count * pct / 100))
        seen = 0
        bucket = 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= wanted:
                break
        return bucket_top(bucket)


def _bucket_of(value: int) -> int:
    exponent = value.bit_length() - 1
    if exponent < 6:
        return value
    shift = exponent - 5
    return (exponent << 8) | (value >> shift)


def bucket_top(bucket: int) -> float:
    if bucket < 64:
        return float(bucket)
    exponent = bucket >> 8
    shift = exponent - 5
    low = (bucket & 0xFF) << shift
    return float(low + (1 << shift) - 1)


@dataclass
class CommandStats:
    calls: int = 0
    usec: float = 0.0
    rejected_calls: int = 0
    failed_calls: int = 0
    latency: LatencyHistogram | None = None


@dataclass
class Stats:
    started_at: float = field(default_factory=time.time)
    total_connections_received: int = 0
    total_commands_processed: int = 0
    rejected_connections: int = 0
    net_input_bytes: int = 0
    net_output_bytes: int = 0
    total_error_replies: int = 0
    total_reads_processed: int = 0
    total_writes_processed: int = 0
    #: LATENCY-TRACKING: whether per-command histograms are kept (config latency-tracking).
    latency_tracking: bool = True
    commands: dict[str, CommandStats] = field(default_factory=lambda: defaultdict(CommandStats))
    errors: dict[str, int] = field(default_factory=dict)
    _ops_samples: list[float] = field(default_factory=lambda: [0.0] * METRIC_SAMPLES)
    _in_samples: list[float] = field(default_factory=lambda: [0.0] * METRIC_SAMPLES)
    _out_samples: list[float] = field(default_factory=lambda: [0.0] * METRIC_SAMPLES)
    _sample_index: int = 0
    _last_sample: tuple[float, int, int, int] = (0.0, 0, 0, 0)

    def record_call(self, spec: CommandSpec, seconds: float, reply: Any) -> None:
        """A command ran (``reply`` is what it answered: an error counts as a failed call)."""
        entry = self.commands[spec.name]
        entry.calls += 1
        usec = seconds * 1e6
        entry.usec += usec
        if self.latency_tracking:
            latency = entry.latency
            if latency is None:
                latency = entry.latency = LatencyHistogram()
            latency.record(usec)
        if type(reply) is ErrorReply:
            entry.failed_calls += 1
            self.record_error(reply)
        self.total_commands_processed += 1

    def record_rejected(self, spec: CommandSpec | None, reply: ErrorReply) -> None:
        """A command refused before it ran (unknown, arity, NOAUTH, redirection...)."""
        if spec is not None:
            self.commands[spec.name].rejected_calls += 1
        self.record_error(reply)

    def record_failed(self, spec: CommandSpec | None, reply: ErrorReply) -> None:
        """A command that ran earlier ended with an error later (a blocked client unblocked with an error)."""
        if spec is not None:
            self.commands[spec.name].failed_calls += 1
        self.record_error(reply)

    def record_error(self, reply: str) -> None:
        """Count an error reply in total_error_replies and in its code's errorstat."""
        self.total_error_replies += 1
        code = reply.split(" ", 1)[0]
        if code in self.errors:
            self.errors[code] += 1
        elif len(self.errors) < MAX_ERROR_CODES:
            self.errors[code] = 1

    def sample(self, now: float | None = None) -> None:
        """Take one sample of the ops and network rates (called by the cron)."""
        now = time.monotonic() if now is None else now
        last_time, last_ops, last_in, last_out = self._last_sample
        elapsed = now - last_time
        if last_time and elapsed > 0:
            i = self._sample_index
            self._ops_samples[i] = (self.total_commands_processed - last_ops) / elapsed
            self._in_samples[i] = (self.net_input_bytes - last_in) / elapsed / 1024
            self._out_samples[i] = (self.net_output_bytes - last_out) / elapsed / 1024
            self._sample_index = (i + 1) % METRIC_SAMPLES
        self._last_sample = (now, self.total_commands_processed, self.net_input_bytes, self.net_output_bytes)

    @property
    def instantaneous_ops_per_sec(self) -> int:
        return int(sum(self._ops_samples) / METRIC_SAMPLES)

    @property
    def instantaneous_input_kbps(self) -> float:
        return sum(self._in_samples) / METRIC_SAMPLES

    @property
    def instantaneous_output_kbps(self) -> float:
        return sum(self._out_samples) / METRIC_SAMPLES

    def reset(self) -> None:
        """CONFIG RESETSTAT."""
        self.total_connections_received = 0
        self.total_commands_processed = 0
        self.rejected_connections = 0
        self.net_input_bytes = 0
        self.net_output_bytes = 0
        self.total_error_replies = 0
        self.total_reads_processed = 0
        self.total_writes_processed = 0
        self.commands.clear()
        self.errors.clear()
        self._ops_samples = [0.0] * METRIC_SAMPLES
        self._in_samples = [0.0] * METRIC_SAMPLES
        self._out_samples = [0.0] * METRIC_SAMPLES
