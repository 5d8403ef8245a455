#!/usr/bin/env bash
# The main job: setup, build, then the quickstart against the embedded local Hub.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh --target hfhub mixin_quickstart
exec examples/quickstart.sh
