"""The live view: a local web page showing a running cluster, with buttons to break it.

``python -m pyredis_cluster view --port 7000`` serves it (``server.py``); from Python,
``async with serve_view([("127.0.0.1", 7000)]) as url: ...``. Reading order:
``model.py`` (what the page shows, and the timeline derived from state changes, pure),
``poller.py`` (the connections to the nodes), ``actions.py`` (the buttons),
``server.py`` (HTTP and server-sent events), ``static/`` (the page, vanilla JS),
``cli.py`` (the command).
Needs the ``view`` extra (aiohttp, redis-py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["serve_view"]

if TYPE_CHECKING:
    from .server import serve_view


def __getattr__(name: str) -> Any:
    # Imported on first use, so `import pyredis_cluster.web.model` works without aiohttp.
    if name == "serve_view":
        from .server import serve_view

        return serve_view
    raise AttributeError(name)
