#!/usr/bin/env bash
# Quickstart: start the embedded local Hub, publish a model (a regular file and an LFS
# weight file in one atomic commit), then read it back and check every byte.
# Uses only curl; the C++ client API lands on top of the same endpoints.
set -euo pipefail
HFHUB=${HFHUB:-build/hfhub}
work=$(mktemp -d)
trap 'kill $srv 2>/dev/null || true; wait $srv 2>/dev/null || true; rm -rf "$work"' EXIT

"$HFHUB" serve --root "$work/hub" --port 0 >"$work/out" 2>"$work/err" &
srv=$!
for _ in $(seq 100); do grep -q '^listening on ' "$work/out" && break; sleep 0.05; done
hub=$(sed -n 's/^listening on //p' "$work/out")
echo "local Hub at $hub (open single-user mode: you are 'local')"

json() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }

url=$(curl -fsS -X POST "$hub/api/repos/create" -H 'Content-Type: application/json' \
       -d '{"name":"quickstart","organization":"local"}' | json url)
echo "created $url"

# An LFS object goes to the storage origin first: ask the batch API where, then PUT it.
head -c $((12 << 20)) /dev/urandom >"$work/model.safetensors"
sha=$(sha256sum "$work/model.safetensors" | cut -d' ' -f1)
size=$(stat -c %s "$work/model.safetensors")
href=$(curl -fsS -X POST "$hub/local/quickstart.git/info/lfs/objects/batch" \
         -H 'Content-Type: application/vnd.git-lfs+json' \
         -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[{\"oid\":\"$sha\",\"size\":$size}]}" |
       sed -n 's/.*"upload":{"href":"\([^"]*\)".*/\1/p')
curl -fsS -X PUT --data-binary @"$work/model.safetensors" "$href" >/dev/null

# One atomic commit: a regular file inline, the LFS file by its sha256.
config='{"hidden_size": 128}'
commit=$(printf '%s\n%s\n%s\n' \
  '{"key":"header","value":{"summary":"Add model"}}' \
  "{\"key\":\"file\",\"value\":{\"path\":\"config.json\",\"content\":\"$(printf '%s' "$config" | base64 -w0)\",\"encoding\":\"base64\"}}" \
  "{\"key\":\"lfsFile\",\"value\":{\"path\":\"model.safetensors\",\"algo\":\"sha256\",\"oid\":\"$sha\",\"size\":$size}}" |
  curl -fsS -X POST "$hub/api/models/local/quickstart/commit/main" -H 'Content-Type: application/x-ndjson' --data-binary @- |
  json commitOid)
echo "committed $commit"

echo "files at main:"
curl -fsS "$hub/api/models/local/quickstart/tree/main?recursive=true" | tr '{' '\n' | json path | sed 's/^/  /'

got=$(curl -fsS "$hub/local/quickstart/resolve/main/config.json")
[[ "$got" == "$config" ]] || { echo "config.json differs" >&2; exit 1; }
# LFS bytes come from the storage origin through a signed redirect, without the token.
curl -fsSL -o "$work/download" "$hub/local/quickstart/resolve/$commit/model.safetensors"
[[ $(sha256sum "$work/download" | cut -d' ' -f1) == "$sha" ]] || { echo "model.safetensors differs" >&2; exit 1; }
echo "downloaded config.json and model.safetensors ($size bytes): sha256 verified"
