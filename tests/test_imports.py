"""Every module imports on its own, first, in a fresh interpreter (no import-order cycles),
and the pure layers load neither asyncio nor the server (design.md §2 import direction)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

import pyredis_cluster

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(pyredis_cluster.__path__, "pyredis_cluster.")
    if not info.name.endswith("__main__")
)


def _import_alone(module: str) -> tuple[str, str]:
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
    return module, proc.stderr.strip().splitlines()[-1] if proc.returncode else ""


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [f"{module}: {error}" for module, error in pool.map(_import_alone, MODULES) if error]
    assert not failures, "\n".join(failures)


PURE = ["pyredis_cluster.protocol.parser", "pyredis_cluster.protocol.encoder", "pyredis_cluster.cluster.state",
        "pyredis_cluster.cluster.codec", "pyredis_cluster.cluster.election", "pyredis_cluster.testing.simulation"]  # fmt: skip


@pytest.mark.parametrize("module", PURE)
def test_pure_layers_load_no_asyncio_and_no_server(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "bad = [m for m in ('asyncio', 'pyredis_cluster.server') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == ""
