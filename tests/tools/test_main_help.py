"""``python -m pyredis_cluster --help`` names every tool, and each tool answers its own --help."""

from __future__ import annotations

import pytest

from pyredis_cluster.__main__ import TOOLS, main


def test_help_lists_every_tool(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in TOOLS:
        assert any(line.split()[3:4] == [name] for line in lines[1:]), name


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_each_tool_has_its_own_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    assert f"pyredis_cluster {name}" in capsys.readouterr().out
