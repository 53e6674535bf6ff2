"""The teaching trace on a running node: the switch, the targets, and PYREDIS.TRACE.

Theory of operation
-------------------
``cluster/trace.py`` defines the records (one per bus message sent or received, one
per cluster event) and builds them; this module decides whether a node records at
all and where the records go. Two targets, each on or off:

* **a file**: records appended as JSON lines (``cluster-trace-file <path>``; ``""``
  for none). Line-buffered, so ``tail -f`` shows each record as it happens;
* **the channel**: each record published *node-locally* on the pub/sub channel
  ``__pyredis__:trace`` (``cluster-trace-channel yes``), like a PUBLISH that is
  never propagated over the bus. ``SUBSCRIBE __pyredis__:trace`` on a node's client
  port shows that node's records; the trace CLI, the live view and the workshop
  scenarios all read them that way.

Tracing is on while at least one target is. The two config options are the one
source of truth: set them in the config file or with CONFIG SET, or with the
runtime command (not gated by ``enable-test-commands``: teachers use it on normal
nodes)::

    PYREDIS.TRACE ON                  the channel target on (the file target unchanged)
    PYREDIS.TRACE ON FILE <path>      the file target on (appending to <path>)
    PYREDIS.TRACE ON FILE <p> CHANNEL both
    PYREDIS.TRACE OFF                 every target off
    PYREDIS.TRACE OFF CHANNEL|FILE    that target off (the other unchanged)
    PYREDIS.TRACE STATUS              tracing, file, channel, subscribers, records, version

ON only adds targets and OFF with a target only removes that one, so a tool that
switched the channel on for itself (``ON`` / ``OFF CHANNEL``) never stops a file
trace a teacher configured.

Cost when off: the bus tests ``ClusterBus.tracer is None`` once per message and no
event listener is registered; nothing else runs. When on, each record is built and
encoded once for both targets.

Deliberately weak
-----------------
A file that cannot be written any more (disk full) is dropped as a target with a
warning, and the option is cleared: the node keeps running. Pub/sub delivery is
best effort: a subscriber that reads too slowly is disconnected by the pub/sub
output-buffer limit, as for any channel.
"""

from __future__ import annotations

import logging
from typing import IO, TYPE_CHECKING, Any

from ..cluster.trace import TRACE_CHANNEL, TRACE_FORMAT_VERSION, Record, TraceRecorder, to_json_line
from ..config import ConfigError
from ..protocol.encoder import OK, ErrorReply, Map
from . import errors
from .args import ArgCursor
from .errors import CommandError

if TYPE_CHECKING:
    from ..cluster.state import ClusterState
    from .client import Client
    from .cluster_node import ClusterSupport

log = logging.getLogger("pyredis_cluster")

TRACE_CHANNEL_BYTES = TRACE_CHANNEL.encode()


class NodeTrace:
    """One node's trace: which targets are on, and the recorder plugged into its bus."""

    def __init__(self, cluster: ClusterSupport) -> None:
        self.cluster = cluster
        self.file_path = ""  # the open file target's path ("" = none)
        self.channel = False
        self.records = 0  # records written since tracing was last switched on
        self._file: IO[str] | None = None
        self._recorder: TraceRecorder | None = None

    @property
    def on(self) -> bool:
        return self._recorder is not None

    # -- switching ---------------------------------------------------------------------------

    def apply_config(self) -> None:
        """Make the targets match ``cluster-trace-file`` / ``cluster-trace-channel``.

        Raises ``ConfigError`` (nothing changed) if the new file cannot be opened.
        """
        config = self.cluster.node.config
        path = str(config.cluster_trace_file)
        if path != self.file_path:
            new_file = None
            if path:
                try:
                    new_file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (kept open)
                except OSError as err:
                    raise ConfigError(errors.TRACE_FILE_FAILED.format(path, err.strerror or err)) from None
            self._close_file()
            self._file, self.file_path = new_file, path
        self.channel = bool(config.cluster_trace_channel)
        self._plug(bool(self._file is not None or self.channel))

    def _plug(self, wanted: bool) -> None:
        """Plug the recorder into the bus and the event listeners, or unplug it."""
        cluster = self.cluster
        if wanted and self._recorder is None and cluster.bus is not None and cluster.state is not None:
            self.records = 0
            self._recorder = recorder = TraceRecorder(self._core, self._emit)
            cluster.bus.tracer = recorder
            cluster.listeners.append(recorder.event)
        elif not wanted and self._recorder is not None:
            recorder, self._recorder = self._recorder, None
            if cluster.bus is not None and cluster.bus.tracer is recorder:
                cluster.bus.tracer = None
            if recorder.event in cluster.listeners:
                cluster.listeners.remove(recorder.event)

    def _core(self) -> ClusterState:
        state = self.cluster.state
        assert state is not None  # plugged only once the core exists
        return state

    def close(self) -> None:
        """The node stops: unplug and close the file (the options keep their values)."""
        self._plug(False)
        self._close_file()
        self.file_path = ""

    def _close_file(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None

    # -- writing -----------------------------------------------------------------------------

    def _emit(self, record: Record) -> None:
        line = to_json_line(record)
        self.records += 1
        if self._file is not None:
            try:
                self._file.write(line + "\n")
            except OSError as err:
                log.warning("Trace file %s cannot be written (%s): the file target is off", self.file_path, err)
                self._close_file()
                self.file_path = ""
                self.cluster.node.config.cluster_trace_file = ""
                if not self.channel:
                    self._plug(False)
        if self.channel:
            self.cluster.node.pubsub.publish(TRACE_CHANNEL_BYTES, line.encode("utf-8"))

    def status(self) -> Map:
        subscribers = len(self.cluster.node.pubsub.channels.get(TRACE_CHANNEL_BYTES, ()))
        return Map([
            (b"tracing", b"yes" if self.on else b"no"),
            (b"file", self.file_path.encode("utf-8", "surrogateescape")),
            (b"channel", b"yes" if self.channel else b"no"),
            (b"channel-name", TRACE_CHANNEL_BYTES),
            (b"subscribers", subscribers),
            (b"records", self.records),
            (b"format-version", TRACE_FORMAT_VERSION),
        ])  # fmt: skip


# ----------------------------------------------------------------------------
# PYREDIS.TRACE
# ----------------------------------------------------------------------------
def trace_command(c: Client, args: list[bytes]) -> Any:
    """PYREDIS.TRACE ON [FILE path] [CHANNEL] | OFF [FILE] [CHANNEL] | STATUS (module docstring)."""
    cluster = c.node.cluster
    if cluster is None:
        return ErrorReply(errors.CLUSTER_DISABLED)
    try:
        return _trace_command(cluster, args)
    except CommandError as err:
        return err.reply


def _trace_command(cluster: ClusterSupport, args: list[bytes]) -> Any:
    cursor = ArgCursor(args, 1)
    action = cursor.keyword() if cursor else ""
    if action == "STATUS" and not cursor:
        return cluster.tracing().status()
    if action not in ("ON", "OFF"):
        raise CommandError(errors.TRACE_SYNTAX)
    file_path: str | None = None  # ON: the path given; OFF: "" when FILE was named
    channel_named = False
    while cursor:
        option = cursor.keyword()
        if option == "FILE" and file_path is None:
            if action == "ON":
                file_path = cursor.take(errors.TRACE_SYNTAX).decode("utf-8", "surrogateescape")
                if not file_path:
                    raise CommandError(errors.TRACE_SYNTAX)
            else:
                file_path = ""
        elif option == "CHANNEL" and not channel_named:
            channel_named = True
        else:
            raise CommandError(errors.TRACE_SYNTAX)
    config = cluster.node.config
    old = (config.cluster_trace_file, config.cluster_trace_channel)
    everything = file_path is None and not channel_named
    if action == "ON":
        if file_path is not None:
            config.cluster_trace_file = file_path
        if channel_named or everything:
            config.cluster_trace_channel = True
    else:
        if file_path is not None or everything:
            config.cluster_trace_file = ""
        if channel_named or everything:
            config.cluster_trace_channel = False
    try:
        cluster.tracing().apply_config()
    except ConfigError as err:
        config.cluster_trace_file, config.cluster_trace_channel = old
        return ErrorReply(f"ERR {err}")
    return OK
