#!/usr/bin/env bash
# Runs an example against a fresh `hfhub serve` holding local/demo:
#   run_with_server.sh <hfhub> <example> [args...]
# The example reaches the server through HF_ENDPOINT, as any Hub client would.
set -euo pipefail
hfhub=$1; shift
work=$(mktemp -d)
trap 'kill $srv 2>/dev/null || true; wait $srv 2>/dev/null || true; rm -rf "$work"' EXIT
"$hfhub" serve --root "$work/hub" --port 0 >"$work/out" 2>/dev/null &
srv=$!
for _ in $(seq 100); do grep -q '^listening on ' "$work/out" && break; sleep 0.05; done
export HF_ENDPOINT=$(sed -n 's/^listening on //p' "$work/out")
curl -fsS -X POST "$HF_ENDPOINT/api/repos/create" -d '{"name":"demo","organization":"local"}' >/dev/null
"$@"
