#!/usr/bin/env bash
# Xet against LFS for hfhub on the same bytes, over loopback against `hfhub serve --xet`:
#   1. upload and download of a random file (fresh bytes each rep) (MB/s, client CPU s per GiB from /usr/bin/time);
#      the Xet download also once more with the etag's SHA-256 checked (HFHUB_XET_VERIFY_SHA256);
#   2. a safetensors-like checkpoint of 64 tensors where 10% of the tensors change between two
#      uploads: bytes the second upload sent (the access log's request body bytes of its xorbs).
# Prints a table; asserts nothing.
#
# Usage: bench/xet.sh        Knobs: MB (1024), REPS (3), HFHUB (./build/hfhub)
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${MB:-1024}; REPS=${REPS:-3}
hfhub=$(realpath "${HFHUB:-./build/hfhub}")
[[ -x $hfhub ]] || { echo "build first: $hfhub is missing" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "needs python3" >&2; exit 1; }
base=/dev/shm
(( $(df -Pm /dev/shm | awk 'NR==2 {print $4}') > 5 * MB )) || base=${TMPDIR:-/tmp}
dir=$(mktemp -d -p "$base" hfxet.XXXXXX)
srv=
cleanup() {
  if [[ -n $srv ]]; then kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

"$hfhub" serve --xet --root "$dir/hub" --port 0 --access-log "$dir/access.log" >"$dir/serve.out" 2>/dev/null &
srv=$!
for _ in $(seq 200); do grep -q '^listening on ' "$dir/serve.out" && break; sleep 0.05; done
hub=$(sed -n 's/^listening on //p' "$dir/serve.out")
[[ -n $hub ]] || { echo "hfhub serve did not start" >&2; exit 1; }
export HF_ENDPOINT=$hub HF_HOME=$dir/home HF_TOKEN=
unset HF_HUB_DISABLE_XET

# Sums of the access log's request body bytes of xorb POSTs, from line $1 on.
xorb_bytes() { tail -n +"$1" "$dir/access.log" | grep '"method":"POST"' | grep '/v1/xorbs/' |
               sed 's/.*"received":\([0-9]*\).*/\1/' | awk '{s+=$1} END {print s+0}'; }
log_lines() { [[ -f $dir/access.log ]] && wc -l <"$dir/access.log" || echo 0; }

# Runs a command under /usr/bin/time; appends "seconds cpu_seconds" to $1.
timed() { local out=$1; shift
  /usr/bin/time -f '%e %U %S' -o "$dir/time" "$@" >/dev/null 2>"$dir/err" || { cat "$dir/err" >&2; exit 1; }
  awk '{printf "%s %.3f\n", $1, $2 + $3}' "$dir/time" >>"$out"; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

for mode in xet lfs; do
  : >"$dir/up.$mode"; : >"$dir/down.$mode"
done
: >"$dir/down.xetsha"
for r in $(seq "$REPS"); do
  for mode in xet lfs; do
    [[ $mode == lfs ]] && export HF_HUB_DISABLE_XET=1 || unset HF_HUB_DISABLE_XET
    # Fresh bytes in a fresh repo each time: the CAS and the LFS store are shared by every repo
    # of the server, so the same bytes again would be deduplicated or "already stored".
    head -c $((MB << 20)) /dev/urandom >"$dir/data.bin"
    timed "$dir/up.$mode" "$hfhub" upload "local/$mode-$r" "$dir/data.bin" data.bin
    rm -rf "$dir/home/hub"
    timed "$dir/down.$mode" "$hfhub" download "local/$mode-$r" data.bin
    cmp -s "$dir/data.bin" "$(find "$dir/home/hub" -path '*snapshots*' -name data.bin | head -1)" ||
      { echo "$mode: the download differs" >&2; exit 1; }
    rm -rf "$dir/home/hub"
    if [[ $mode == xet ]]; then
      HFHUB_XET_VERIFY_SHA256=1 timed "$dir/down.xetsha" "$hfhub" download "local/$mode-$r" data.bin
      rm -rf "$dir/home/hub"
    fi
  done
done
unset HF_HUB_DISABLE_XET

row() {  # name file
  local s c
  s=$(cut -d' ' -f1 "$2" | median); c=$(cut -d' ' -f2 "$2" | median)
  printf '| %-24s | %10.0f | %12.2f |\n' "$1" "$(echo "$MB * 1.048576 / $s" | bc -l)" "$(echo "$c * 1024 / $MB" | bc -l)"
}
echo
echo "$MB MiB of random bytes, median of $REPS, client figures"
echo "| transfer                 |       MB/s | CPU s / GiB |"
echo "|--------------------------|-----------:|------------:|"
row "upload, Xet" "$dir/up.xet"; row "upload, LFS" "$dir/up.lfs"
row "download, Xet" "$dir/down.xet"; row "download, Xet + SHA-256" "$dir/down.xetsha"
row "download, LFS" "$dir/down.lfs"
echo "raw (seconds cpu_seconds per rep):"
for f in up.xet up.lfs down.xet down.xetsha down.lfs; do echo "  $f: $(tr '\n' ';' <"$dir/$f")"; done

# The checkpoint: 64 tensors, v2 changes 6 of them (9.4%).
python3 - "$dir" "$MB" <<'EOF'
import json, os, struct, sys
d, mb = sys.argv[1], int(sys.argv[2])
n = 64; size = (mb << 20) // n // 4 * 4
def write(name, changed):
    header = {f"layer.{i}.weight": {"dtype": "F32", "shape": [size // 4], "data_offsets": [i * size, (i + 1) * size]}
              for i in range(n)}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(d, name), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for i in range(n):
            f.write(os.urandom(size) if i in changed else tensors[i])
tensors = [os.urandom(size) for _ in range(n)]
write("v1.safetensors", set())
write("v2.safetensors", {3, 11, 20, 33, 47, 58})
EOF
cp "$dir/v1.safetensors" "$dir/model.safetensors"
from=$(( $(log_lines) + 1 ))
"$hfhub" upload local/ckpt "$dir/model.safetensors" >/dev/null
v1=$(xorb_bytes "$from")
cp "$dir/v2.safetensors" "$dir/model.safetensors"
from=$(( $(log_lines) + 1 ))
/usr/bin/time -f '%e %U %S' -o "$dir/time" "$hfhub" upload local/ckpt "$dir/model.safetensors" >/dev/null
v2=$(xorb_bytes "$from")
total=$(stat -c %s "$dir/model.safetensors")
echo
echo "checkpoint of $total bytes, 6 of 64 tensors changed"
printf '| upload      | xorb bytes sent | share of the file |\n|-------------|----------------:|------------------:|\n'
printf '| first       | %15d | %16.1f%% |\n' "$v1" "$(echo "100 * $v1 / $total" | bc -l)"
printf '| second      | %15d | %16.1f%% |\n' "$v2" "$(echo "100 * $v2 / $total" | bc -l)"
printf 'second upload: %s s wall, %s s user, %s s sys\n' $(cat "$dir/time")
