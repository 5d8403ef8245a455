#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, builds test/consumer against it twice (with
# find_package, and with pkg-config alone) and, when clang++ is installed, once more with clang
# against the g++-built library; then runs each against the installed `hfhub serve`.
#   run.sh <build dir>
set -euo pipefail
build=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill $srv 2>/dev/null || true; wait $srv 2>/dev/null || true; rm -rf "$work"' EXIT
srv=

cmake --install "$build" --prefix "$work/prefix" >/dev/null
# Only what a consumer may see: the public headers, not src/.
[[ -f "$work/prefix/include/hfhub/client.hpp" && ! -e "$work/prefix/include/util" ]]

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$here" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="${CXX:-g++-12}" "${launcher[@]}" >/dev/null
cmake --build "$work/cmake-build" >/dev/null

export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
${CXX:-g++-12} -O1 "$here/main.cpp" -o "$work/pc-consumer" $(pkg-config --cflags --libs hfhub)
builds=(cmake-build/consumer pc-consumer)
if command -v clang++ >/dev/null; then
  # shellcheck disable=SC2046
  clang++ -O1 "$here/main.cpp" -o "$work/clang-consumer" $(pkg-config --cflags --libs hfhub)
  builds+=(clang-consumer)
fi

"$work/prefix/bin/hfhub" serve --root "$work/hub" --port 0 >"$work/out" 2>"$work/err" &
srv=$!
for _ in $(seq 200); do grep -qs '^listening on ' "$work/out" && break; sleep 0.05; done
export HF_ENDPOINT=$(sed -n 's/^listening on //p' "$work/out")
[[ -n "$HF_ENDPOINT" ]] || { cat "$work/err" >&2; exit 1; }

expect=$'blocking: hello from a consumer\nco_await: hello from a consumer\nfile_exists: 1, sha: 40 hex'
for build in "${builds[@]}"; do
  got=$(HF_HUB_CACHE="$work/cache-${build%%/*}" "$work/$build")
  [[ "$got" == "$expect" ]] || { printf '%s printed:\n%s\n' "$build" "$got" >&2; exit 1; }
  echo "$build: ok"
done
