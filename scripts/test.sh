#!/usr/bin/env bash
# The README's test command: install what the tests need, lint, run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
python3 -m ruff check .
python3 -m pytest -q -p no:cacheprovider "$@"
