#!/usr/bin/env bash
# Install what the tests need on a fresh Debian machine with Python 3.11+:
# the real redis-server/redis-cli 7.0 (the oracle), tclsh (Redis's own test suite),
# Debian's chromium (the live view's browser tests drive it with Playwright; never
# `playwright install`, which downloads browsers), and the Python packages (this
# project, editable, with its test and fast extras).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null || ! command -v tclsh >/dev/null \
   || ! command -v chromium >/dev/null; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools tcl chromium >/dev/null
fi
# Debian's package starts a system redis-server on 6379; our tests never use fixed ports,
# so it is left alone.
python3 -m pip install -q --disable-pip-version-check -e ".[test,fast]"
