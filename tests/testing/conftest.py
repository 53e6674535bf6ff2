"""The test modules here opt in to the plugin with a module-level ``pytest_plugins``, which
pytest reads only after importing the module, too late for ``@pytest.mark.redis_cluster``
to be known then: the marker is registered here (a conftest loads first), without
importing the plugin (pytest must import it itself to rewrite its asserts). A project
would list the plugin in its root conftest.py instead and need none of this."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "redis_cluster(**options): see pyredis_cluster.testing.pytest_plugin")
