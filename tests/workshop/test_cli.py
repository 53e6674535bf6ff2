"""``python -m pyredis_cluster workshop list|run``: the entry point, the listing, exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pyredis_cluster.workshop import SCENARIOS, Scenario, main
from pyredis_cluster.workshop.stage import Stage

TIMEOUT_SECONDS = 120


def workshop(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyredis_cluster", "workshop", *args], input=stdin,
                          capture_output=True, text=True, timeout=TIMEOUT_SECONDS)  # fmt: skip


def test_list_names_every_scenario_with_its_summary() -> None:
    listed = workshop("list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == len(SCENARIOS)
    for line, scenario in zip(lines, SCENARIOS.values()):
        assert line.split()[0] == scenario.name and line.endswith(scenario.summary)


def test_run_plays_a_scenario_and_exits_0_when_its_checks_pass() -> None:
    run = workshop("run", "epoch-collision", "--time-scale", "0.3", "--no-color")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "epoch-collision: PASSED" in run.stdout
    assert "\x1b[" not in run.stdout  # --no-color


def test_unknown_scenario_and_bad_time_scale_exit_2() -> None:
    unknown = workshop("run", "no-such-scenario")
    assert unknown.returncode == 2 and "workshop list" in unknown.stderr
    assert workshop("run", "reshard", "--time-scale", "0").returncode == 2


def test_a_failed_check_makes_the_exit_code_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    async def wrong_outcome(stage: Stage) -> None:
        stage.check(True, "something that held")
        stage.check(False, "the outcome the scenario promised", "it did not happen")

    monkeypatch.setitem(SCENARIOS, "broken", Scenario("broken", "A broken scenario", "always fails", wrong_outcome))
    assert main(["run", "broken", "--no-color"]) == 1
    out = capsys.readouterr().out
    assert "broken: FAILED (1/2 checks" in out
    assert "the outcome the scenario promised: it did not happen" in out


def test_pause_waits_for_enter_before_each_act(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    prompts: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt="": prompts.append(prompt) or "")
    assert main(["run", "epoch-collision", "--time-scale", "0.3", "--pause", "--no-color"]) == 0
    acts = [line[3:] for line in capsys.readouterr().out.splitlines() if line.startswith("== ")]
    assert acts and prompts == [f"[Enter] next: {act} " for act in acts]
