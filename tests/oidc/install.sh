#!/usr/bin/env bash
# Installs the OpenID Connect provider used by the single sign-on tests (tests/security/test_oidc.py).
# Called by .ci/run; run it by hand once to run those tests locally. Needs node >= 20 and npm.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is not installed: the single sign-on tests will be skipped (or fail with REQUIRE_SERVICES=1)" >&2
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
