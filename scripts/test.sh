#!/usr/bin/env bash
# Runs every check kubelite has: ruff, mypy (pyproject.toml's [tool.mypy] says what it checks
# and how strictly), then the unit, integration and end-to-end tests (the end-to-end ones run
# real containers and need root). Needs scripts/setup.sh to have run: the virtual environment in
# .venv, with PyPI's kubectl 1.36 and 1.37 builds (.venv/kubectl/<minor>/) and the newest one the
# tests fall back on where the machine has no build of the release a test asks for
# (tests/kubectl_builds.py).
set -euo pipefail
cd "$(dirname "$0")/.."
# --no-cache: ruff caches per file, and a new first-party module (tests/conftest.py) changes
# how unchanged files sort their imports; a cached pass here once hid what CI then failed on.
.venv/bin/ruff check --no-cache src tests bench images
.venv/bin/ruff format --no-cache --check src tests bench images
# Before the tests, which take minutes: a type error fails here in seconds (its cache, in
# .mypy_cache, makes a second run take about one).
.venv/bin/mypy
exec .venv/bin/pytest -q "$@"
