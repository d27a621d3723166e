#!/usr/bin/env bash
# Runs every check kubelite has: ruff, mypy (pyproject.toml's [tool.mypy] says what it checks
# and how strictly), then the unit, integration and end-to-end tests (the end-to-end ones run
# real containers and need root), the integration tests once on each store. Needs scripts/setup.sh to have run: the virtual environment in
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
# With arguments, they go to pytest as they are (`scripts/test.sh tests/unit/storage`,
# `scripts/test.sh --store etcd tests/integration`).
if [ "$#" -gt 0 ]; then
    exec .venv/bin/pytest -q "$@"
fi
# The whole run, in three passes of worker processes (pytest-xdist). `--dist loadfile` keeps a
# file in one worker, so a module's cluster (a fixture of module scope) is started once. The
# tests mostly wait on servers, etcd and containers rather than on the CPU: four workers keep
# two cores busy without starving a test's server. Every cluster has its own data directory,
# ports, bridge, pod and service ranges, so side by side they never meet.
# 1. unit tests, and the integration suite on SQLite (the server's default store);
.venv/bin/pytest -q -n 4 --dist loadfile tests/unit tests/integration
# 2. the integration suite again, every cluster on a Debian etcd of its own (issue #17: both
#    stores pass the same suite), but for the modules that pick their stores themselves
#    (marker own_store), which pass 1 ran as they would run here;
.venv/bin/pytest -q -n 4 --dist loadfile --store etcd -m "not own_store" tests/integration
# 3. the end-to-end tests: real containers, network namespaces and multi-host clusters; two
#    workers, since each module runs a whole node or several.
exec .venv/bin/pytest -q -n 2 --dist loadfile tests/e2e
