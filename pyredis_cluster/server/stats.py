"""Counters for INFO (stats, commandstats, errorstats)."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .command_table import CommandSpec


@dataclass
class CommandStats:
    calls: int = 0
    usec: float = 0.0
    rejected_calls: int = 0
    failed_calls: int = 0


@dataclass
class Stats:
    started_at: float = field(default_factory=time.time)
    total_connections_received: int = 0
    total_commands_processed: int = 0
    rejected_connections: int = 0
    net_input_bytes: int = 0
    net_output_bytes: int = 0
    total_error_replies: int = 0
    commands: dict[str, CommandStats] = field(default_factory=lambda: defaultdict(CommandStats))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def record_call(self, spec: CommandSpec, seconds: float, failed: bool) -> None:
        entry = self.commands[spec.name]
        entry.calls += 1
        entry.usec += seconds * 1e6
        if failed:
            entry.failed_calls += 1
        self.total_commands_processed += 1

    def reset(self) -> None:
        self.total_connections_received = 0
        self.total_commands_processed = 0
        self.rejected_connections = 0
        self.net_input_bytes = 0
        self.net_output_bytes = 0
        self.total_error_replies = 0
        self.commands.clear()
        self.errors.clear()
