#!/usr/bin/env bash
# Runs every check kubelite has: ruff, then the unit and integration tests.
# Needs scripts/setup.sh to have run (the virtual environment in .venv), and the real kubectl
# builds under /usr/lib/google-cloud-sdk/bin for the integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check src tests bench images
.venv/bin/ruff format --check src tests bench images
exec .venv/bin/pytest -q "$@"
