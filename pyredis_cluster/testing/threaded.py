"""Run a node in a background thread, for synchronous code (redis-py sync, redis-cli).

``with node_in_thread(port=0, **options) as node:`` starts a :class:`Node` on its own
event loop in a daemon thread and yields it once it is listening (``node.port``); on
exit it closes the node and joins the thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..config import Config


def make_config(**options: Any) -> Config:
    """A Config from keyword options: ``cluster_enabled=True`` sets cluster-enabled yes."""
    config = Config()
    config.port = 0
    for name, value in options.items():
        option = name.replace("_", "-")
        if isinstance(value, bool):
            value = "yes" if value else "no"
        config.set_from_text(option, [str(value)] if not isinstance(value, list) else [str(v) for v in value])
    return config


@contextmanager
def node_in_thread(**options: Any) -> Iterator[Any]:
    from ..server.node import Node

    config = options.pop("config", None) or make_config(**options)
    loop = asyncio.new_event_loop()
    node = Node(config)
    ready = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(node.start())
        except BaseException as err:  # reported to the caller below
            failure.append(err)
            ready.set()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(node.close())
        loop.close()

    thread = threading.Thread(target=run, name="pyredis-node", daemon=True)
    thread.start()
    ready.wait()
    if failure:
        raise failure[0]
    node.loop = loop
    try:
        yield node
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
