#!/usr/bin/env bash
# Runs every check kubelite has: ruff, then the unit, integration and end-to-end tests (the
# end-to-end ones run real containers and need root). Needs scripts/setup.sh to have run: the
# virtual environment in .venv, with the kubectl the tests fall back on where the machine has no
# Google build of the release a test asks for (tests/kubectl_builds.py).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check src tests bench images
.venv/bin/ruff format --check src tests bench images
exec .venv/bin/pytest -q "$@"
