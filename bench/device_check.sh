#!/usr/bin/env bash
# device_check.sh pack | run [OUTDIR]
#
# The GPU check, in two halves, because a machine with a GPU's OpenCL driver here has no package
# registry: everything it needs is built and packed on this machine, carried over, and run there.
#
#   pack  (here)  builds lumen and test_ops in build-dev/ (Release), then writes
#                 build-kit/device-kit.tar.gz: the two binaries, every shared library they load
#                 except glibc's own (the OpenCL ICD loader in its own folder: used only when the
#                 target has none), and the two torchvision ONNX files of the check
#                 (bench/peers/export_torchvision.py; exported first when missing). The kit is
#                 what crosses over, with the working tree (tests/, models/, lua/).
#   run   (there) unpacks the kit into a temporary folder and, on $LUMEN_DEVICE (default: gpu,
#                 else the best device), runs with a time limit per step:
#                   1. lumen devices
#                   2. the op suite (test_ops, every family, each op against its C reference)
#                   3. the model parity tests (tests/angio_parity.lua, tests/models_parity.lua)
#                   4. lumen bench for angio_qa 512x512 fp32 (cold start, latency, profile)
#                   5. lumen bench for mobilenet_v2 224 and lraspp 256 (ONNX front door)
#                 and writes OUTDIR/device_check.md (a table, then every step's output) and
#                 OUTDIR/*.json (default OUTDIR: $OUT when set, else bench/out/device_check).
#                 fp16 storage has no switch in lumen bench yet, so the table says so instead of
#                 a figure. PyTorch CUDA eager is measured beside lumen when the target's python3
#                 imports torch with CUDA.
# The whole run is sized for < 8 minutes; a step past its limit is a FAIL row, not a hang.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
kit=build-kit/device-kit.tar.gz
nets="mobilenet_v2_224 lraspp_256"

pack() {
  set -e
  cmake -S . -B build-dev -DCMAKE_BUILD_TYPE=Release -DLUMEN_WERROR=OFF >/dev/null
  cmake --build build-dev -j2 --target lumen_cli test_ops >/dev/null
  local names="" n
  for n in $nets; do names="$names,${n%_*}"; done
  nice -n 19 /usr/bin/python3 bench/peers/export_torchvision.py --models "${names#,}" >&2
  local stage
  stage=$(mktemp -d)
  mkdir -p "$stage/kit/bin" "$stage/kit/lib" "$stage/kit/icd" "$stage/kit/models"
  cp build-dev/lumen build-dev/test_ops "$stage/kit/bin/"
  # every library the binaries load, minus glibc's (those must be the target's own)
  ldd build-dev/lumen build-dev/test_ops | awk '/=>/ {print $3}' | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*|libgcc_s.so.*) ;;
      libOpenCL.so.*) cp -L "$lib" "$stage/kit/icd/" ;;
      *) cp -L "$lib" "$stage/kit/lib/" ;;
    esac
  done
  for n in $nets; do cp "bench/models/$n.onnx" "$stage/kit/models/"; done
  mkdir -p "$(dirname "$kit")"
  tar -C "$stage" -czf "$kit" kit
  rm -rf "$stage"
  echo "device_check: wrote $kit ($(du -h "$kit" | cut -f1)); carry build-kit and run" \
       "'bench/device_check.sh run' on the GPU machine" >&2
}

# step NAME LIMIT_S CMD... : runs CMD with a time limit, output to $out/NAME.log; one table row
step() {
  local name=$1 limit=$2
  shift 2
  local t0 t1 rc
  t0=$(date +%s.%N)
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  local secs
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
  local verdict=PASS
  [ "$rc" -eq 124 ] && verdict="FAIL (over ${limit} s)"
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && verdict="FAIL (exit $rc)"
  rows+=("| $name | $verdict | $secs | $(summary "$name") |")
  echo "device_check: $name: $verdict in $secs s" >&2
}

# The figure a step's row shows, taken from its log.
summary() {
  local log=$out/$1.log
  case $1 in
    devices) grep -m1 -E "^\*|^ *[0-9]+:[0-9]+" "$log" | tr -s ' ' | cut -c1-100 ;;
    ops) tail -n 1 "$log" ;;
    parity_*) grep -E "passed|failed" "$log" | tail -n 1 | cut -c1-100 ;;
    bench_*) grep -m1 "warm latency" "$log" | sed 's/.*median/median/; s/  p90.*//' ;;
    torch_cuda) tail -n 1 "$log" | cut -c1-100 ;;
  esac
}

run() {
  out=${1:-${OUT:-bench/out/device_check}}
  mkdir -p "$out"
  [ -f "$kit" ] || { echo "device_check: $kit missing: run 'bench/device_check.sh pack' here first" >&2; exit 2; }
  local dir
  dir=$(mktemp -d)
  tar -C "$dir" -xzf "$kit"
  local libs=$dir/kit/lib
  if ! ldconfig -p 2>/dev/null | grep -q 'libOpenCL\.so\.1'; then
    libs=$libs:$dir/kit/icd # no ICD loader on this machine: the carried one
    echo "device_check: no libOpenCL.so.1 here: using the carried ICD loader" >&2
  fi
  export LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export LUMEN_LUA_DIR=$root/lua LUMEN_CACHE_DIR=$dir/cache
  if [ -z "${LUMEN_DEVICE:-}" ]; then
    LUMEN_DEVICE=$("$dir/kit/bin/lumen" devices 2>/dev/null | grep -qi gpu && echo gpu || true)
  fi
  export LUMEN_DEVICE
  local lumen=$dir/kit/bin/lumen
  rows=()
  step devices 30 "$lumen" devices
  step ops 150 "$dir/kit/bin/test_ops"
  step parity_angio_qa 90 "$lumen" run tests/angio_parity.lua
  step parity_models 60 "$lumen" run tests/models_parity.lua
  step bench_angio_qa 120 "$lumen" bench --model angio_qa --size 512x512 --runs 20 --warmup 3 \
    --batch 1,4 --out "$out/angio_qa"
  local n
  for n in $nets; do
    step "bench_${n}" 45 "$lumen" bench --model "$dir/kit/models/$n.onnx" --runs 20 --warmup 3 \
      --batch 1 --no-cold --out "$out/$n"
  done
  if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    step torch_cuda 60 python3 bench/peers/torch_bench.py --model angio_qa --size 512 --runs 20 \
      --warmup 3 --device cuda
  fi
  {
    echo "# lumen device check, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: $(uname -n), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- device: ${LUMEN_DEVICE:-best} ($(grep -m1 -E '^\*' "$out/devices.log" 2>/dev/null | tr -s ' '))"
    echo "- fp16 storage: not measured (lumen bench has no fp16 switch yet)"
    echo
    echo "| step | result | seconds | figure |"
    echo "|---|---|---:|---|"
    printf '%s\n' "${rows[@]}"
    for f in "$out"/*.log; do
      echo
      echo "## $(basename "$f" .log)"
      echo
      echo '```'
      tail -n 60 "$f"
      echo '```'
    done
  } >"$out/device_check.md"
  rm -rf "$dir"
  echo "device_check: wrote $out/device_check.md" >&2
  printf '%s\n' "${rows[@]}"
  ! printf '%s\n' "${rows[@]}" | grep -q FAIL
}

case ${1:-} in
  pack) pack ;;
  run) shift; run "$@" ;;
  *) echo "usage: bench/device_check.sh pack | run [OUTDIR]" >&2; exit 2 ;;
esac
