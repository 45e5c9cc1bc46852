#!/usr/bin/env bash
# devices.sh [ROUNDS] [SIZE] - one process, several devices: QC throughput (frames/s, model
# loading excluded) of the same frames on
#   one      one PoCL pthread device with 2 worker threads (POCL_MAX_PTHREAD_COUNT=2)
#   two      two PoCL pthread devices with 1 worker thread each: the same 2 cores in total
#   mixed    a pthread device with 2 threads and a 'basic' (single-threaded) device: a fast and
#            a slow device, to see the faster one take more frames
# alternating the set-ups over ROUNDS rounds (default 2), at SIZE (default 512), over
# examples/data's 16 good frames copied 4 times (64 frames). Prints a table with the load
# average; run it on a quiet machine for figures worth quoting.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rounds=${1:-2}
size=${2:-512}
lumen=${LUMEN:-build/lumen}
[ -x "$lumen" ] || { echo "devices.sh: build lumen first (cmake -S . -B build && cmake --build build)" >&2; exit 2; }
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
for k in 1 2 3 4; do
  for f in examples/data/series*.png; do cp "$f" "$data/c${k}_$(basename "$f")"; done
done
run() { # run NAME ENV... -- DEVICE
  local name=$1
  shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  local line
  line=$(env "${envs[@]}" "$lumen" run bench/devices.lua "$1" "$size" "$data" | tail -n 1)
  printf '%-6s %s load=%s\n' "$name" "$line" "$(cut -d' ' -f1 /proc/loadavg)"
}
echo "# lumen qc throughput over devices, $(nproc) cores, size $size, $(ls "$data" | wc -l) frames"
for r in $(seq 1 "$rounds"); do
  run one POCL_DEVICES=pthread POCL_MAX_PTHREAD_COUNT=2 -- 0:0
  run two "POCL_DEVICES=pthread pthread" POCL_MAX_PTHREAD_COUNT=1 -- all
  run mixed "POCL_DEVICES=pthread basic" POCL_MAX_PTHREAD_COUNT=2 -- all
done
