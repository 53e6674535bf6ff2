"""String commands (placeholder: GET and SET only, to be completed)."""

from __future__ import annotations

from typing import Any

from ...protocol.encoder import OK
from ..client import Client
from ..command_table import KeySpec, command


@command("get", 2, "readonly fast", "@string", keys=[KeySpec("RO access", index=1)],
         group="string", since="1.0.0", summary="Get the value of a key", complexity="O(1)")  # fmt: skip
def get(c: Client, args: list[bytes]) -> Any:
    return c.db.lookup_read(args[1])


@command("set", -3, "write denyoom", "@string",
         keys=[KeySpec("RW access update variable_flags", index=1, notes="RW and ACCESS due to the optional `GET` argument")],
         group="string", since="1.0.0", summary="Set the string value of a key", complexity="O(1)")  # fmt: skip
def set_(c: Client, args: list[bytes]) -> Any:
    c.db.set(args[1], args[2])
    c.modified(args[1])
    return OK
