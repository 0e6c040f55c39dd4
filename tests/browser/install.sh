#!/usr/bin/env bash
# Installs axe-core, which the browser tests (tests/browser/) inject into every page they visit.
# Called by .ci/run; run it by hand once to run those tests locally. Needs npm.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is not installed: the browser tests will be skipped (or fail with REQUIRE_SERVICES=1)" >&2
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
