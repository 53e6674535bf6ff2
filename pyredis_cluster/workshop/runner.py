"""Playing a scenario, and the ``workshop`` command line.

::

    python -m pyredis_cluster workshop list
    python -m pyredis_cluster workshop run kill-primary [--time-scale 3] [--view] [--pause] [--no-color]
    python -m pyredis_cluster workshop run all

Theory of operation
-------------------
:func:`run_scenario` builds a fresh :class:`~.stage.Stage`, plays the scenario on it and
always closes it (every node, proxy and client it started), whatever happened. The
result lists the checks; a scenario that stopped early (a failed ``require``, a wait
that ran out of time, an unexpected exception) has its reason in the result too. The
command line prints a verdict per scenario and exits with 0 only if every scenario
passed.

``--view`` serves the browser live view (pyredis_cluster/web/) of the scenario's cluster
as soon as it has started, and keeps cluster and view up after the scenario until Enter
is pressed; use a large ``--time-scale`` so that there is time to point at the screen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
import traceback
from typing import Any, TextIO

from .scenarios import SCENARIOS, Scenario
from .stage import ScenarioFailed, ScenarioResult, Stage


async def run_scenario(scenario: Scenario | str, *, time_scale: float = 1.0, out: TextIO | None = None,
                       color: bool | None = None, cluster_options: dict[str, Any] | None = None,
                       deadline_seconds: float | None = None, stage: Stage | None = None) -> ScenarioResult:  # fmt: skip
    """Play ``scenario`` on a fresh cluster; never raises for a failed outcome.

    ``cluster_options`` (config options for every node) and ``deadline_seconds`` (of every
    wait) let a test play a scenario against a deliberately broken cluster.
    """
    if isinstance(scenario, str):
        scenario = SCENARIOS[scenario]
    stage = stage or Stage(out=out, time_scale=time_scale, color=color, cluster_options=cluster_options,
                           deadline_seconds=deadline_seconds)  # fmt: skip
    result = ScenarioResult(scenario.name)
    started = time.monotonic()
    stage.title(f"{scenario.title}  [{scenario.name}]")
    try:
        await scenario.play(stage)
    except ScenarioFailed:
        pass  # the failed check is already recorded
    except Exception as err:  # noqa: BLE001 - the result reports it
        result.error = f"{type(err).__name__}: {err}"
        await stage.show_trace()
        print(traceback.format_exc(), file=stage.out)
    finally:
        try:
            for hook in stage.before_close:
                await hook(stage)
        finally:
            await stage.close()
    result.checks = stage.checks
    result.seconds = time.monotonic() - started
    verdict = stage.palette.good("PASSED") if result.passed else stage.palette.bad("FAILED")
    print(f"\n{scenario.name}: {verdict} ({sum(c.passed for c in result.checks)}/{len(result.checks)} checks, "
          f"{result.seconds:.1f}s)", file=stage.out)  # fmt: skip
    for reason in result.reasons:
        print(f"  - {reason}", file=stage.out)
    print(file=stage.out, flush=True)
    return result


def list_scenarios(out: TextIO) -> None:
    width = max(len(name) for name in SCENARIOS)
    for scenario in SCENARIOS.values():
        print(f"{scenario.name.ljust(width)}  {scenario.summary}", file=out)


def _view_hook(stage: Stage, http_port: int) -> bool:
    """Serve the live view once the cluster is up, until the teacher presses Enter after the
    scenario; False if the web package (the ``view`` extra) is missing."""
    try:
        from ..web import serve_view
    except ImportError:
        return False

    async def open_view(stage: Stage) -> None:
        assert stage.cluster is not None
        stack = contextlib.AsyncExitStack()
        url = await stack.enter_async_context(serve_view(stage.cluster.startup_nodes, http_port))
        stage.add_closer(stack.aclose)
        stage.say(f"Live view: {url} (open it in a browser)")

    async def linger(stage: Stage) -> None:
        await asyncio.to_thread(input, "Press Enter to stop the cluster and the live view. ")

    stage.on_cluster_started.append(open_view)
    stage.before_close.append(linger)
    # The view's fault buttons send PYREDIS.FAULT, which nodes refuse unless they allow it.
    stage.cluster_options.setdefault("enable_test_commands", True)
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyredis_cluster workshop",
                                     description="Workshop scenarios: each tells, runs, shows and checks "
                                                 "one piece of Redis Cluster on a fresh local cluster.")  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the scenarios, one line each")
    run = commands.add_parser("run", help="play scenarios by name ('all' for every one)")
    run.add_argument("names", nargs="+", metavar="name")
    run.add_argument("--time-scale", type=float, default=1.0,
                     help="slow the protocol down (>1) or speed it up (<1); default 1")  # fmt: skip
    run.add_argument("--view", action="store_true",
                     help="serve the browser live view of the scenario's cluster (kept until Enter at the end)")
    run.add_argument("--http-port", type=int, default=8080, help="the live view's port (default 8080; 0: any)")
    run.add_argument("--pause", action="store_true", help="wait for Enter before each act (the cluster keeps running)")
    run.add_argument("--no-color", action="store_true")
    args = parser.parse_args(argv)
    out = sys.stdout
    if args.command == "list":
        list_scenarios(out)
        return 0
    names = list(SCENARIOS) if args.names == ["all"] else args.names
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; try: python -m pyredis_cluster workshop list", file=sys.stderr)
        return 2
    if not 0.05 <= args.time_scale <= 100:
        print("--time-scale must be between 0.05 and 100", file=sys.stderr)
        return 2

    async def play_all() -> list[ScenarioResult]:
        results = []
        for name in names:
            stage = Stage(out=out, time_scale=args.time_scale, color=False if args.no_color else None,
                          pause_between_steps=args.pause)  # fmt: skip
            if args.view and not _view_hook(stage, args.http_port):
                print("the live view is not available in this installation", file=sys.stderr)
            results.append(await run_scenario(name, stage=stage))
        return results

    with contextlib.suppress(KeyboardInterrupt):
        results = asyncio.run(play_all())
        failed = [result.name for result in results if not result.passed]
        if len(results) > 1:
            print(f"{len(results) - len(failed)}/{len(results)} scenarios passed" +
                  (f"; failed: {', '.join(failed)}" if failed else ""), file=out)  # fmt: skip
        return 1 if failed else 0
    return 130
