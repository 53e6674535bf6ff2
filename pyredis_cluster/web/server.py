"""The live view's web server: one page, a server-sent event stream, an action endpoint.

::

    python -m pyredis_cluster view --port 7000 [--host 127.0.0.1] [--http-port 8080]   (cli.py)

    async with serve_view([("127.0.0.1", 7000)]) as url:   # from Python (port 0 by default)
        print("open", url)

Theory of operation
-------------------
:class:`LiveView` owns the state: ``ClusterLinks`` (poller.py) keeps the latest
answer of every node; each time one arrives the view rebuilds the
:class:`~.model.Snapshot` (at most once per ``interval``), diffs it against the
previous one (``model.diff_snapshots``) and *publishes*: a ``snapshot`` event when
the picture changed, a ``timeline`` event per new entry. Trace records
(``__pyredis__:trace``) and the steps of the buttons (actions.py) are published as
timeline events too. The last ``history`` entries are kept for pages that connect
later.

The HTTP side is aiohttp (a well-kept asyncio server: routing, static files and
streaming responses, no framework around it):

* ``GET /`` the page, ``GET /static/...`` its script and style, all shipped in the
  package (``web/static``; nothing is fetched from the internet);
* ``GET /events``: a ``text/event-stream`` (server-sent events). The browser's
  ``EventSource`` reconnects by itself; every new stream starts with the current
  snapshot and the kept history, so a reload loses nothing. Each stream has its
  own bounded queue: a stalled page is dropped rather than slowing the others.
* ``GET /api/state``: the same snapshot and history as one JSON document (scripts,
  tests);
* ``POST /api/action``: ``{"action": "kill", "node": "<id>"}`` and the like
  (actions.py), as ``application/json`` only (a form posted by another web site
  cannot press the buttons); the answer says what was sent and, if a node refused,
  its error.

Only the page and the view's own node connections use the network; the server binds
to loopback unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from .actions import Actions
from .model import (
    EMPTY_SNAPSHOT,
    Snapshot,
    Source,
    TimelineEntry,
    build_snapshot,
    diff_snapshots,
    trace_entry,
)
from .poller import ClusterLinks

log = logging.getLogger(__name__)

STATIC_DIR = Path(str(resources.files(__package__) / "static"))
#: Timeline entries kept for pages that connect later.
HISTORY = 500
#: Events queued for one page before it is considered stalled and disconnected.
STREAM_QUEUE = 2000
#: A comment line on idle streams, so proxies and browsers keep them open.
KEEPALIVE_SECONDS = 15.0
_CLOSE = ("", None)  # queued to end a stream when the server stops


class LiveView:
    """Snapshot, timeline and subscribers of one cluster (module docstring)."""

    def __init__(self, startup_nodes: Iterable[tuple[str, int]], *, interval: float = 0.25, timeout: float = 1.0,
                 chatter: bool = False) -> None:  # fmt: skip
        self.interval = interval
        self.chatter = chatter  # keep PING/PONG trace records
        self.links = ClusterLinks(startup_nodes, interval=interval, timeout=timeout, on_trace=self._on_trace)
        self.snapshot: Snapshot = EMPTY_SNAPSHOT
        self._snapshot_json: dict[str, Any] = EMPTY_SNAPSHOT.to_json()
        self.history: deque[TimelineEntry] = deque(maxlen=HISTORY)
        self._streams: set[asyncio.Queue[tuple[str, Any]]] = set()
        self._task: asyncio.Task[None] | None = None
        self.actions = Actions(self.links.command, lambda: self.snapshot, self._on_action_step)

    async def start(self) -> None:
        self.links.start()
        self._task = asyncio.create_task(self._rebuild_forever(), name="view-snapshots")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.links.close()
        for queue in self._streams:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(_CLOSE)

    # -- state --------------------------------------------------------------------------

    def state_json(self) -> dict[str, Any]:
        return {"snapshot": self._snapshot_json, "timeline": [entry.to_json() for entry in self.history]}

    async def _rebuild_forever(self) -> None:
        while True:
            await self.links.changed.wait()
            self.links.changed.clear()
            try:
                self.update(build_snapshot(self.links.observations(), self.snapshot), time.time())
            except Exception:  # a bug here must not freeze the page: log it, keep polling
                log.exception("the live view could not rebuild its snapshot")
            await asyncio.sleep(self.interval)  # coalesce the answers of one polling round

    def update(self, snapshot: Snapshot, now: float) -> list[TimelineEntry]:
        """Adopt a new snapshot; publish it (if it changed) and the entries its diff gives."""
        entries = diff_snapshots(self.snapshot, snapshot, now)
        self.snapshot = snapshot
        snapshot_json = snapshot.to_json()
        if snapshot_json != self._snapshot_json:
            self._snapshot_json = snapshot_json
            self._publish("snapshot", snapshot_json)
        for entry in entries:
            self.add_entry(entry)
        return entries

    def add_entry(self, entry: TimelineEntry) -> None:
        self.history.append(entry)
        self._publish("timeline", entry.to_json())

    def _on_trace(self, address: str, payload: bytes) -> None:
        entry = trace_entry(payload, time.time(), chatter=self.chatter)
        if entry is not None:
            self.add_entry(entry if entry.node else dataclasses.replace(entry, node=address))

    def _on_action_step(self, address: str, step: str) -> None:
        self.add_entry(TimelineEntry(time.time(), Source.ACTION, "command", step, address))

    # -- streams ------------------------------------------------------------------------

    def _publish(self, name: str, data: Any) -> None:
        for queue in list(self._streams):
            try:
                queue.put_nowait((name, data))
            except asyncio.QueueFull:  # a stalled page: drop it, it reconnects and resyncs
                self._streams.discard(queue)

    def subscribe(self) -> asyncio.Queue[tuple[str, Any]]:
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(STREAM_QUEUE)
        queue.put_nowait(("snapshot", self._snapshot_json))
        for entry in self.history:
            queue.put_nowait(("timeline", entry.to_json()))
        self._streams.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[str, Any]]) -> None:
        self._streams.discard(queue)


# ----------------------------------------------------------------------------
# HTTP
# ----------------------------------------------------------------------------
VIEW_KEY = web.AppKey("view", LiveView)


def sse_message(name: str, data: Any) -> bytes:
    """One server-sent event (``data`` is one line of JSON, so no escaping is needed)."""
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def _state(request: web.Request) -> web.Response:
    return web.json_response(request.app[VIEW_KEY].state_json())


async def _events(request: web.Request) -> web.StreamResponse:
    view = request.app[VIEW_KEY]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    queue = view.subscribe()
    try:
        while True:
            try:
                name, data = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if (name, data) == _CLOSE:
                break
            await response.write(sse_message(name, data))
    except ConnectionResetError:  # the page went away
        pass
    finally:
        view.unsubscribe(queue)
    return response


async def _action(request: web.Request) -> web.Response:
    # Only JSON: another site open in the teacher's browser cannot send it here without a
    # CORS preflight, which this server never grants, so it cannot press the buttons.
    if request.content_type != "application/json":
        return web.json_response({"ok": False, "error": "send the action as application/json"}, status=415)
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return web.json_response({"ok": False, "error": "the body must be a JSON object"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"ok": False, "error": "the body must be a JSON object"}, status=400)
    try:
        result = await request.app[VIEW_KEY].actions.run(body)
    except Exception as err:  # a bug in a button: the page shows a message, the server keeps running
        log.exception("action %r failed", body.get("action"))
        return web.json_response({"ok": False, "error": f"the view failed: {err}"}, status=500)
    return web.json_response(result.to_json())


def make_app(view: LiveView) -> web.Application:
    app = web.Application()
    app[VIEW_KEY] = view
    app.router.add_get("/", _index)
    app.router.add_get("/events", _events)
    app.router.add_get("/api/state", _state)
    app.router.add_post("/api/action", _action)
    app.router.add_static("/static/", STATIC_DIR)
    return app


@asynccontextmanager
async def serve_view(startup_nodes: Iterable[tuple[str, int]], http_port: int = 0, *, http_host: str = "127.0.0.1",
                     interval: float = 0.25, timeout: float = 1.0, chatter: bool = False) -> AsyncIterator[str]:  # fmt: skip
    """Serve the live view of the cluster reachable through ``startup_nodes``; yields its URL.

    ``http_port=0`` picks a free port. Everything stops on exit (pages see the stream end).
    """
    view = LiveView(startup_nodes, interval=interval, timeout=timeout, chatter=chatter)
    await view.start()
    runner = web.AppRunner(make_app(view), shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, http_host, http_port)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/"
    finally:
        await view.close()  # ends the event streams first, so the runner need not wait for them
        await runner.cleanup()
