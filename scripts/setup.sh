#!/usr/bin/env bash
# npm run setup, in a clone: the Debian packages the harness needs
# (scripts/system-packages.sh), the npm dependencies, dist/ (npm run build),
# and the VM image in $XCLUSTER_HOME (default ~/.cache/xcluster).
# Idempotent: a second run checks, finds everything in place and changes
# nothing (dist/ is compiled again).
set -euo pipefail
cd "$(dirname "$0")/.."

# The harness's packages, and those of the repo's own tests: chromium for the
# browser test of the HTML report (test/report-browser.test.ts drives
# /usr/bin/chromium headless through playwright-core).
bash scripts/system-packages.sh chromium

# npm ci only when node_modules does not match package-lock.json.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci ..."
  npm ci --no-audit --no-fund
else
  echo "setup: npm dependencies up to date"
fi

echo "setup: npm run build (src/ to dist/)"
npm run --silent build

exec node bin/xc.js setup --image-only
