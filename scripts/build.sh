#!/usr/bin/env bash
# Configures and builds into ./build (RelWithDebInfo, -j2, ccache when installed; HFHUB_WERROR=ON
# makes a warning fail the build, as CI does).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE="${HFHUB_BUILD_TYPE:-RelWithDebInfo}" -DHFHUB_WERROR="${HFHUB_WERROR:-OFF}" >/dev/null
cmake --build build -j"${HFHUB_JOBS:-2}" "$@"
