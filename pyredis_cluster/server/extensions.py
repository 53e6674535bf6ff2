"""Our own commands, outside Redis's command table: ``PYREDIS.<NAME>``.

Redis clients and tools read COMMAND, COMMAND COUNT and COMMAND DOCS to learn what a
server offers, so commands Redis 7.0 does not have stay out of the table in
``command_table.py``: a tool comparing us with redis-server sees the same list. They
are reached here instead, after the table lookup failed, by their full lowercased name.

Each entry names its handler as ``"module:function"`` and is imported on first use,
so a node that never sees one of them never loads the test double or the trace
machinery. A handler takes ``(client, args)`` and returns a reply like any command;
it does its own argument checks and its own gating (``enable-test-commands`` for the
fault and clock controls).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any, list[bytes]], Any]

#: lowercased command name -> "module:function" (imported lazily)
EXTENSION_COMMANDS: dict[bytes, str] = {
    b"pyredis.fault": "pyredis_cluster.testing.faults:fault_command",
    b"pyredis.trace": "pyredis_cluster.server.trace:trace_command",
    b"pyredis.clock": "pyredis_cluster.testing.timecontrol:clock_command",
}

_loaded: dict[bytes, Handler] = {}


def find_extension(name: bytes) -> Handler | None:
    """The handler for ``name`` (any case), or None if it is not one of ours."""
    key = name.lower()
    handler = _loaded.get(key)
    if handler is None:
        target = EXTENSION_COMMANDS.get(key)
        if target is None:
            return None
        module_name, function_name = target.split(":")
        handler = getattr(importlib.import_module(module_name), function_name)
        _loaded[key] = handler
    return handler
