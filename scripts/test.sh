#!/usr/bin/env bash
# The test command: setup, build, then every test under ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd build
ctest --output-on-failure -j"${HFHUB_TEST_JOBS:-2}" "$@"
