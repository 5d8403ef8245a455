#!/usr/bin/env bash
# Runs an example against a fresh `hfhub serve` holding the repo local/demo:
#   run_with_server.sh <hfhub> <example> [args...]
# With SEED_MIB=n, local/demo holds a config.json and an n MiB model.safetensors.
# The example reaches the server through HF_ENDPOINT, as any Hub client would, with a cache of
# its own (HF_HOME) unless the caller set one.
set -euo pipefail
hfhub=$1; shift
work=$(mktemp -d)
trap 'kill $srv 2>/dev/null || true; wait $srv 2>/dev/null || true; rm -rf "$work"' EXIT
"$hfhub" serve --root "$work/hub" --port 0 >"$work/out" 2>/dev/null &
srv=$!
# -s: the server's shell may not have created the file yet, and a message here would be part of
# the output the test matches.
for _ in $(seq 100); do grep -qs '^listening on ' "$work/out" && break; sleep 0.05; done
export HF_ENDPOINT=$(sed -n 's/^listening on //p' "$work/out")
export HF_HOME=${HF_HOME:-$work/hf_home}
curl -fsS -X POST "$HF_ENDPOINT/api/repos/create" -d '{"name":"demo","organization":"local"}' >/dev/null
if [[ -n "${SEED_MIB:-}" ]]; then
  mkdir -p "$work/seed"
  printf '{"hidden_size": 64}' >"$work/seed/config.json"
  head -c $((SEED_MIB << 20)) /dev/urandom >"$work/seed/model.safetensors"
  "$hfhub" upload local/demo "$work/seed" --quiet >/dev/null
fi
"$@"
