#!/usr/bin/env bash
# Run the whole test suite (installs the studio and its test tools into .venv on the first run).
# Extra arguments go to pytest, e.g. ./test.sh tests/unit -x
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap test
exec .venv/bin/python -m pytest "$@"
