#!/usr/bin/env bash
# Downloads: `hfhub download` against curl, aria2c and the JS client's snapshotDownload, on the
# same files of one local `hfhub serve`, in one run. Workloads:
#   (a) a snapshot of A_FILES LFS files of A_MIB each   (default 4 x 128 MiB)
#   (b) one LFS file of B_MIB                            (default 2048 MiB)
#   (c) a snapshot of C_FILES regular files of C_KIB     (default 1000 x 4 KiB)
# each written to tmpfs (/dev/shm), and to disk ($TMPDIR, else /var/tmp) with DESTS="shm disk".
# Medians of REPS runs, the tools alternating in order. Every tool runs under time(1): besides
# MB/s it prints each client's CPU seconds per GB (utime + stime) and peak RSS, and the CPU bound
# a verifying client can't beat: SHA-256 in memory plus what curl pays to receive and write the
# same bytes. Figures and target ratios are printed; nothing is asserted.
#
# Usage: bench/download_vs.sh
# Knobs (environment): A_FILES A_MIB B_MIB C_FILES C_KIB, REPS (5), DESTS ("shm"),
#   WORKLOADS ("a b c"), TOOLS ("hfhub hfhub-noverify curl aria2c js"), HFHUB (./build/hfhub).
set -euo pipefail
cd "$(dirname "$0")/.."
A_FILES=${A_FILES:-4}; A_MIB=${A_MIB:-128}; B_MIB=${B_MIB:-2048}; C_FILES=${C_FILES:-1000}; C_KIB=${C_KIB:-4}
REPS=${REPS:-5}; DESTS=${DESTS:-shm}; WORKLOADS=${WORKLOADS:-a b c}
TOOLS=${TOOLS:-hfhub hfhub-noverify curl aria2c js}
hfhub=${HFHUB:-./build/hfhub}
[[ -x $hfhub ]] || { echo "build first: $hfhub is missing" >&2; exit 1; }
hfhub=$(realpath "$hfhub")
for t in curl aria2c node openssl bc /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t: scripts/setup.sh --bench" >&2; exit 1; }
done

shm=$(mktemp -d -p /dev/shm hfbench.XXXXXX)
disk=$(mktemp -d -p "${TMPDIR:-/var/tmp}" hfbench.XXXXXX)
srv=
cleanup() {
  if [[ -n $srv ]]; then kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; fi
  rm -rf "$shm" "$disk"
}
trap cleanup EXIT

# The server's store is on tmpfs, so reading it costs the same whichever client asks.
"$hfhub" serve --root "$shm/hub" --port 0 --multipart-threshold $((1 << 40)) >"$shm/serve.out" 2>/dev/null &
srv=$!
for _ in $(seq 200); do grep -q '^listening on ' "$shm/serve.out" && break; sleep 0.05; done
hub=$(sed -n 's/^listening on //p' "$shm/serve.out")
[[ -n $hub ]] || { echo "hfhub serve did not start" >&2; exit 1; }

# Pseudo-random bytes, fast (AES-CTR over zeros), so seeding isn't bound by /dev/urandom.
gen() { { openssl enc -aes-128-ctr -pbkdf2 -nosalt -pass "pass:$1" </dev/zero 2>/dev/null || true; } | head -c "$2"; }

create_repo() { curl -fsS -X POST "$hub/api/repos/create" -d "{\"name\":\"$1\",\"organization\":\"local\"}" >/dev/null; }

# Uploads one LFS object (basic transfer) and prints its commit line.
lfs_line() {  # repo path file
  local sha size href
  sha=$(sha256sum "$3" | cut -d' ' -f1); size=$(stat -c %s "$3")
  href=$(curl -fsS -X POST "$hub/local/$1.git/info/lfs/objects/batch" \
    -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[{\"oid\":\"$sha\",\"size\":$size}]}" |
    sed -n 's/.*"upload":{"href":"\([^"]*\)".*/\1/p')
  [[ -z $href ]] || curl -fsS -X PUT -T "$3" "$href" >/dev/null
  printf '{"key":"lfsFile","value":{"path":"%s","algo":"sha256","oid":"%s","size":%s}}\n' "$2" "$sha" "$size"
  echo "$hub/local/$1/resolve/main/$2 $2 $shm/hub/lfs/${sha:0:2}/$sha" >>"$shm/$1.files"
}

commit() {  # repo < ndjson lines (without the header)
  { echo '{"key":"header","value":{"summary":"bench"}}'; cat; } |
    curl -fsS -X POST "$hub/api/models/local/$1/commit/main" --data-binary @- >/dev/null
}

echo "seeding $hub (store on tmpfs) ..."
declare -A bytes files
if [[ " $WORKLOADS " == *" a "* ]]; then
  create_repo snap
  for i in $(seq 0 $((A_FILES - 1))); do
    gen "a$i" $((A_MIB << 20)) >"$shm/seed"
    lfs_line snap "model-$i.safetensors" "$shm/seed"
  done | commit snap
  bytes[a]=$((A_FILES * (A_MIB << 20))); files[a]=$A_FILES
fi
if [[ " $WORKLOADS " == *" b "* ]]; then
  create_repo big
  gen b $((B_MIB << 20)) >"$shm/seed"
  lfs_line big big.bin "$shm/seed" | commit big
  bytes[b]=$((B_MIB << 20)); files[b]=1
fi
rm -f "$shm/seed"
if [[ " $WORKLOADS " == *" c "* ]]; then
  create_repo small
  for i in $(seq -w 0 $((C_FILES - 1))); do
    printf '{"key":"file","value":{"path":"f/%s.txt","content":"%s","encoding":"base64"}}\n' \
      "$i" "$(gen "c$i" $((C_KIB << 10)) | base64 -w0)"
    echo "$hub/local/small/resolve/main/f/$i.txt f/$i.txt -" >>"$shm/small.files"
  done | commit small
  bytes[c]=$((C_FILES * (C_KIB << 10))); files[c]=$C_FILES
fi
declare -A repo=([a]=snap [b]=big [c]=small)
declare -A pattern=([a]='/model-[0-9]*\.safetensors$' [b]='/big\.bin$' [c]='/f/[0-9]*\.txt$')

# curl: one process, the URLs one after another on kept-alive connections. aria2c: -x8 -j8
# (and -s8, so a big file really is split 8 ways; its default is 5).
for w in $WORKLOADS; do
  r=${repo[$w]}
  while read -r url path _; do printf 'url = "%s"\noutput = "%s"\n' "$url" "$path"; done <"$shm/$r.files" >"$shm/$r.curl"
  while read -r url path _; do printf '%s\n  out=%s\n' "$url" "$path"; done <"$shm/$r.files" >"$shm/$r.aria2"
done

# Runs one tool once into $out; prints the wall seconds. Every tool runs under time(1), which
# leaves "wall user sys maxrss_kib" in $shm/time.
run_tool() {  # tool workload out
  local tool=$1 w=$2 out=$3 r=${repo[$2]} t0 t1
  local env=(env -u HF_TOKEN -u HF_HUB_OFFLINE HF_HOME="$shm/home" HF_ENDPOINT="$hub")
  local timed=(/usr/bin/time -f '%e %U %S %M' -o "$shm/time")
  local one=(); [[ $w == b ]] && one=(big.bin)
  mkdir -p "$out"
  t0=$(date +%s.%N)
  case $tool in
    hfhub) "${env[@]}" "${timed[@]}" "$hfhub" download "local/$r" "${one[@]}" --cache-dir "$out" --quiet >/dev/null ;;
    hfhub-noverify) "${env[@]}" "${timed[@]}" \
             "$hfhub" download "local/$r" "${one[@]}" --cache-dir "$out" --quiet --no-verify >/dev/null ;;
    curl) (cd "$out" && "${timed[@]}" curl -fsSL --create-dirs -K "$shm/$r.curl") ;;
    aria2c) "${timed[@]}" aria2c -x8 -s8 -j8 -i "$shm/$r.aria2" -d "$out" -q --allow-overwrite=true \
              --auto-file-renaming=false --summary-interval=0 >/dev/null ;;
    js) "${env[@]}" "${timed[@]}" node bench/download_js.mjs "$hub" "local/$r" "$out" >/dev/null ;;
  esac
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR) print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
rate() {  # workload seconds -> MB/s, or files/s for (c)
  if [[ $1 == c ]]; then echo "${files[c]} / $2" | bc -l; else echo "${bytes[$1]} / $2 / 1000000" | bc -l; fi
}

# SHA-256 of one core in memory, on 1 MiB blocks: hashing alone, measured in the same run.
sha_speed() {  # -> MB/s (in memory)
  openssl speed -evp sha256 -bytes 1048576 -seconds 1 2>/dev/null |
    awk '$1 == "sha256" {v = $2; sub(/k$/, "", v); printf "%.1f\n", v / 1000}'
}

res=$shm/results; mkdir -p "$res"
read -ra tools <<<"$TOOLS"
echo "workloads: (a) ${A_FILES}x${A_MIB} MiB  (b) ${B_MIB} MiB  (c) ${C_FILES}x${C_KIB} KiB;" \
  "$REPS reps; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); disk dest $disk"
for w in $WORKLOADS; do
  for d in $DESTS; do
    base=$shm; [[ $d == disk ]] && base=$disk
    for rep in $(seq "$REPS"); do
      # Rotate the order, so background load and cache state don't favour one tool.
      n=${#tools[@]}
      for k in $(seq 0 $((n - 1))); do
        tool=${tools[$(((k + rep) % n))]}
        out="$base/out"
        rm -rf "$out"; sync
        s=$(run_tool "$tool" "$w" "$out")
        got=$(find "$out" -path '*/blobs' -prune -o \( -type f -o -type l \) -print | grep -c "${pattern[$w]}" || true)
        [[ $got -ge ${files[$w]} ]] || echo "  warning: $tool $w $d left $got files, wanted ${files[$w]}" >&2
        rate "$w" "$s" >>"$res/$w.$d.$tool"
        read -r e u sy m <"$shm/time"
        echo "($u + $sy) / $s" | bc -l >>"$res/$w.$d.$tool.cores"
        echo "($u + $sy) / (${bytes[$w]} / 1000000000)" | bc -l >>"$res/$w.$d.$tool.cpu"
        echo "$m" >>"$res/$w.$d.$tool.rss"
        rm -rf "$out"
      done
      [[ $w == c ]] || sha_speed >>"$res/$w.sha_mem"
    done
  done
done

med() { [[ -s $1 ]] && median <"$1" || echo 0; }
ratio() { echo "if ($2 > 0) $1 / $2 else 0" | bc -l; }
echo
for w in $WORKLOADS; do
  case $w in
    a) echo "== (a) snapshot of $A_FILES x $A_MIB MiB LFS files, medians of $REPS" ;;
    b) echo "== (b) one $B_MIB MiB LFS file, medians of $REPS" ;;
    c) echo "== (c) $C_FILES files of $C_KIB KiB, medians of $REPS" ;;
  esac
  for d in $DESTS; do
    printf '  -- into %s\n' "$([[ $d == shm ]] && echo "tmpfs (/dev/shm)" || echo "disk ($disk)")"
    if [[ $w == c ]]; then printf '  %-15s %9s %10s %9s   %s\n' tool files/s "CPU s" "RSS MiB" "runs (files/s)"
    else printf '  %-15s %9s %10s %9s   %s\n' tool MB/s "CPU s/GB" "RSS MiB" "runs (MB/s)"; fi
    for t in "${tools[@]}"; do
      cpu=$(med "$res/$w.$d.$t.cpu"); [[ $w == c ]] && cpu=$(echo "$cpu * ${bytes[c]} / 1000000000" | bc -l)
      printf '  %-15s %9.1f %10.3f %9.1f   %s\n' "$t" "$(med "$res/$w.$d.$t")" "$cpu" \
        "$(echo "$(med "$res/$w.$d.$t.rss") / 1024" | bc -l)" "$(awk '{printf "%.1f ", $1}' "$res/$w.$d.$t")"
    done
    h=$(med "$res/$w.$d.hfhub"); js=$(med "$res/$w.$d.js")
    if [[ $w == c ]]; then
      printf '  hfhub / JS files/s: %.2fx (target >= 15x)\n' "$(ratio "$h" "$js")"
    else
      # The CPU a verifying client can't go below: hashing every byte once (openssl speed, in
      # memory) plus receiving and writing it (curl, which does nothing else).
      sm=$(med "$res/$w.sha_mem"); sha_cpu=$(echo "1000 / $sm" | bc -l)
      curl_cpu=$(med "$res/$w.$d.curl.cpu"); bound=$(echo "$sha_cpu + $curl_cpu" | bc -l)
      hcpu=$(med "$res/$w.$d.hfhub.cpu")
      printf '  bound: SHA-256 %.3f s/GB (openssl speed, %.0f MB/s) + curl receiving and writing %.3f s/GB = %.3f s/GB\n' \
        "$sha_cpu" "$sm" "$curl_cpu" "$bound"
      printf '  hfhub verifying CPU per GB / bound: %.3f / %.3f = %.2fx (target <= 1.15x)\n' "$hcpu" "$bound" "$(ratio "$hcpu" "$bound")"
      printf '  hfhub verifying, cores kept busy: %.2f; verify off: %.2f\n' \
        "$(med "$res/$w.$d.hfhub.cores")" "$(med "$res/$w.$d.hfhub-noverify.cores")"
      [[ $w == a ]] && printf '  hfhub / JS snapshot wall time: %.2fx faster (target >= 1.5x)\n' "$(ratio "$h" "$js")"
    fi
    rss=$(cat "$res/$w.$d.hfhub.rss" "$res/$w.$d.hfhub-noverify.rss" 2>/dev/null | sort -n | tail -1)
    printf '  hfhub peak RSS, the most of any run: %.1f MiB (target <= 64 MiB)\n' "$(echo "${rss:-0} / 1024" | bc -l)"
  done
done
