#!/usr/bin/env bash
# Configures and builds into ./build (RelWithDebInfo, -j2, ccache when installed).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE="${HFHUB_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build build -j"${HFHUB_JOBS:-2}" "$@"
