#!/usr/bin/env bash
# The README's test command: installs what the suite needs, starts PostgreSQL + PostGIS, Redis and
# Chromium's prerequisites (scripts/services.sh), then runs every test. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install -q -r requirements-dev.txt
eval "$(bash scripts/services.sh)"
# Test-only JavaScript (axe-core for the accessibility test), pinned in tests/browser/package.json;
# the app never serves it. Without npm the accessibility test skips loudly (fails under CI=true).
if command -v npm >/dev/null; then
  npm install --prefix tests/browser --no-audit --no-fund --no-package-lock --loglevel=error >&2 \
    || echo "test.sh: npm install failed: the accessibility test will SKIP (fail under CI=true)" >&2
else
  echo "test.sh: no npm: the accessibility test cannot get axe-core and will SKIP (fail under CI=true)" >&2
fi
set +e
python3 -m pytest "$@"
status=$?
set -e
# pytest's 5 means "no test ran": never a pass.
exit "$status"
