#!/usr/bin/env bash
# The README's test command: installs what the suite needs, starts PostgreSQL + PostGIS, Redis and
# Chromium's prerequisites (scripts/services.sh), then runs every test. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install -q -r requirements-dev.txt
eval "$(bash scripts/services.sh)"
set +e
python3 -m pytest "$@"
status=$?
set -e
# pytest's 5 means "no test ran": never a pass.
exit "$status"
