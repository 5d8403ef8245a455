#!/usr/bin/env bash
# Quickstart: start the embedded local Hub, publish a model folder (a config and an LFS weight
# file in one atomic commit), read it back into a fresh cache and check every byte; then the
# same round trip from C++ through the framework mixin, when it is built.
set -euo pipefail
HFHUB=${HFHUB:-build/hfhub}
MIXIN=${MIXIN:-$(dirname "$HFHUB")/mixin_quickstart}
work=$(mktemp -d)
trap 'kill $srv 2>/dev/null || true; wait $srv 2>/dev/null || true; rm -rf "$work"' EXIT

"$HFHUB" serve --root "$work/hub" --port 0 >"$work/out" 2>"$work/err" &
srv=$!
for _ in $(seq 100); do grep -qs '^listening on ' "$work/out" && break; sleep 0.05; done
export HF_ENDPOINT=$(sed -n 's/^listening on //p' "$work/out")
export HF_HUB_CACHE="$work/cache"
echo "local Hub at $HF_ENDPOINT (open single-user mode: you are 'local')"

mkdir -p "$work/model"
printf '{\n  "hidden_size": 128\n}' >"$work/model/config.json"
head -c $((12 << 20)) /dev/urandom >"$work/model/model.safetensors"

# One command: create the repo, hash, preupload, LFS upload, one atomic commit.
url=$("$HFHUB" upload local/quickstart "$work/model" --commit-message "Add model" --quiet | tail -n1)
echo "committed: $url"

# Into the cache Python and JS share; the last line is the snapshot folder.
snap=$("$HFHUB" download local/quickstart --quiet | tail -n1)
echo "downloaded to $snap:"
for f in config.json model.safetensors; do
  [[ $(sha256sum <"$work/model/$f") == $(sha256sum <"$snap/$f") ]] || { echo "$f differs" >&2; exit 1; }
  echo "  $f: $(stat -Lc %s "$snap/$f") bytes, sha256 verified"
done

# Uploading the same folder again changes nothing: no new commit.
again=$("$HFHUB" upload local/quickstart "$work/model" --quiet | tail -n1)
[[ "$again" == "$url" ]] || { echo "a second upload made a new commit" >&2; exit 1; }
echo "re-upload: nothing changed, no commit"

if [[ -x "$MIXIN" ]]; then
  echo "model_hub_mixin: push, then from_pretrained by repo id:"
  # It saves the model in its working folder first: keep that in the scratch space.
  mixin=$(realpath "$MIXIN")
  (cd "$work" && HF_TOKEN=local "$mixin" local/mixin-quickstart) | sed 's/^/  /'
fi
