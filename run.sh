#!/usr/bin/env bash
# Start Amphion Studio (installs itself into .venv on the first run). Extra arguments go to `amphion-studio serve`.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap
exec .venv/bin/amphion-studio serve "$@"
