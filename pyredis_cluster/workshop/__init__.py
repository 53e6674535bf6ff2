"""Workshop scenarios: Redis Cluster told, run, traced and checked, one piece at a time.

``python -m pyredis_cluster workshop list`` lists them; ``... workshop run <name>`` plays
one on a fresh cluster of real nodes in this process. The guide for teachers is
docs/workshop.md. Modules, in reading order:

* ``scenarios.py``: the scenarios themselves (start here: each reads as a lesson);
* ``stage.py``: what a scenario plays with (cluster, labels, narration, checks, waits);
* ``timeline.py``: the trace of events (and bus messages) as a short story;
* ``actions.py``: operator sequences (moving slots, MEET, FORGET) over the client port;
* ``traffic.py``: a client application that must not lose a write;
* ``portmap.py``: Docker-style port publishing, for the NAT trap;
* ``connection.py``: a tiny RESP client that shows replies as a client sees them;
* ``runner.py``: playing a scenario, and the command line.
"""

from __future__ import annotations

from .runner import main, run_scenario
from .scenarios import SCENARIOS, Scenario
from .stage import Check, ScenarioResult, Stage

__all__ = ["SCENARIOS", "Check", "Scenario", "ScenarioResult", "Stage", "main", "run_scenario"]
