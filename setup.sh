#!/usr/bin/env bash
# setup.sh - installs what lumen needs (Debian 12 packages), builds it, and runs the main job or
# the tests.
#
#   ./setup.sh main    QC of the sample angiograms (PNG and a DICOM series) on the default device
#                      -> report/
#   ./setup.sh test    every test: release build + sanitizer (ASan+UBSan) build, under ctest;
#                      then 25 s of fuzzing each of the ONNX, PNG, npy, safetensors and DICOM
#                      readers and the Lua sandbox (clang + libFuzzer, build-fuzz/)
#   ./setup.sh build   install and build only
#
# Packages are installed with apt-get when running as root; otherwise the exact command is
# printed and the script stops. Builds go to build/ (release), build-asan/ (sanitizers),
# build-tsan/ (ThreadSanitizer, the threads test only) and build-fuzz/ (the fuzz targets).
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(build-essential cmake pkg-config git
  ocl-icd-opencl-dev opencl-c-headers pocl-opencl-icd clinfo
  libclblast-dev liblua5.4-dev lua5.4 libpng-dev libcjson-dev libopenblas-dev
  chromium
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata
  libssl-dev zlib1g-dev
  clang libclang-rt-14-dev clang-format time oclgrind lua-check
  slurm-wlm munge python3
  libdcmtk-dev dcmtk dicom3tools orthanc python3-pydicom python3-numpy)

jobs=$(nproc 2>/dev/null || echo 2)

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "setup: missing packages; run as root:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
}

build() { # build DIR [cmake args...]
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

# Each test run gets a fresh program cache, so results never depend on this machine's state.
run_tests() { # run_tests DIR [ctest args...]
  local dir=$1
  shift
  rm -rf "$dir/test-cache"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 1500 "$@")
}

# Fuzzing (libFuzzer + ASan + UBSan, clang, build-fuzz/): every loader of untrusted input and
# the Lua sandbox entry, FUZZ_SECONDS each (default 25), each on a seed corpus of the project's
# own valid and hostile files copied into a temporary folder. A crash, leak, timeout or
# out-of-memory fails the script; the input is kept as build-fuzz/<target>-crash-* (or leak-*,
# ...). The executions per target are printed (and kept in build-fuzz/<target>.log).
fuzz_one() { # fuzz_one TARGET CORPUS [libFuzzer options...]
  local t=$1 corpus=$2 rc=0
  shift 2
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "build-fuzz/fuzz_$t" -max_total_time="${FUZZ_SECONDS:-25}" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/$t-" "$@" "$corpus" \
    >"build-fuzz/$t.log" 2>&1 || rc=$?
  local runs
  runs=$(grep -E "^stat::number_of_executed_units" "build-fuzz/$t.log" | awk '{print $2}')
  echo "setup: fuzz_$t: ${runs:-?} executions in ${FUZZ_SECONDS:-25} s, exit $rc"
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "build-fuzz/$t.log"
    echo "setup: fuzz_$t failed (exit $rc); log in build-fuzz/$t.log, input in build-fuzz/" >&2
    exit 1
  fi
}

fuzz_all() {
  echo "setup: fuzzing the loaders and the sandbox (${FUZZ_SECONDS:-25} s each)"
  # C for lumen, C++ for the DICOM shim
  cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DLUMEN_FUZZ=ON -DLUMEN_WERROR=OFF >/dev/null
  cmake --build build-fuzz -j "$jobs" --target fuzz_onnx fuzz_png fuzz_npy fuzz_safetensors \
    fuzz_sandbox fuzz_dicom
  local seeds
  seeds=$(mktemp -d)
  mkdir -p "$seeds/onnx" "$seeds/png"
  find /usr/share/libonnx-testdata/data/{node,pytorch-converted,pytorch-operator} \
    -name model.onnx -size -3k 2>/dev/null | sort | awk 'NR % 24 == 1' |
    while read -r f; do cp "$f" "$seeds/onnx/$(basename "$(dirname "$f")").onnx"; done || true
  build/test_onnx_hostile --write "$seeds/onnx" >/dev/null || true
  cp tests/onnx_regress/*.onnx "$seeds/onnx"/ 2>/dev/null || true
  cp examples/data/*.png tests/hostile/files/*.png "$seeds/png"/
  build/lumen run tests/fuzz/seeds.lua "$seeds" >/dev/null
  fuzz_one onnx "$seeds/onnx"
  fuzz_one png "$seeds/png" -max_len=65536
  fuzz_one npy "$seeds/npy"
  fuzz_one safetensors "$seeds/safetensors"
  fuzz_one sandbox "$seeds/sandbox" -max_len=4096
  # DICOM (tests/fuzz_dicom.c): tiny series written by examples/make_dicom.py in every transfer
  # syntax, and inputs that once failed (tests/dicom_seeds/)
  mkdir -p "$seeds/dicom"
  cp tests/dicom_seeds/* "$seeds/dicom"/
  # (deflate-oom-element-length.dcm once made DCMTK allocate 2.9 GB; allocations stay capped at
  # the 2 GB RSS limit)
  fuzz_one dicom "$seeds/dicom"
  rm -rf "$seeds"
}

# House style: every C file, and the DICOM shim's C++, is clang-formatted (.clang-format), except
# the op test tables (tests/cases_*.c), which keep one case per line.
check_format() {
  local bad=0 f
  for f in $(git ls-files '*.c' '*.h' '*.cc' 2>/dev/null | grep -v '^tests/cases_'); do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || { echo "setup: not clang-formatted: $f" >&2; bad=1; }
  done
  [ "$bad" -eq 0 ] || { echo "setup: run clang-format -i on the files above" >&2; exit 1; }
  echo "setup: format check passed"
}

# House style for Lua: luacheck clean (.luacheckrc: Lua 5.4, 100 columns).
check_lua() {
  if ! luacheck --quiet lua tests examples models bench; then
    echo "setup: fix the luacheck warnings above" >&2
    exit 1
  fi
  echo "setup: luacheck passed"
}

mode=${1:-build}
case "$mode" in
  build)
    install_missing
    build build
    ;;
  test)
    install_missing
    check_format
    check_lua
    build build
    run_tests build
    echo "setup: sanitizer build (ASan + UBSan)"
    build build-asan -DLUMEN_SANITIZE=ON
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
      LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0 \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      run_tests build-asan
    echo "setup: ThreadSanitizer build (the threads test: two contexts on two threads)"
    cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLUMEN_TSAN=ON >/dev/null
    cmake --build build-tsan -j "$jobs" --target test_threads
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 run_tests build-tsan -R threads
    fuzz_all
    ;;
  main)
    install_missing
    build build
    # exit 1 means "some frames failed": the sample set holds one corrupt PNG on purpose, and
    # its error record is part of the report
    rc=0
    # examples/data/dicom holds a 4-frame XA series (JPEG lossless), one record per frame; its
    # series is its DICOM Series Instance UID (the pattern groups the PNGs)
    ./build/lumen qc examples/data examples/data/dicom --out report --series-pattern '^(series%a+)_' || rc=$?
    if [ "$rc" -eq 1 ]; then
      echo "setup: done; 1 = some frames failed (examples/data has one corrupt PNG on purpose)"
    elif [ "$rc" -ne 0 ]; then
      exit "$rc"
    fi
    ;;
  *)
    echo "usage: ./setup.sh [build|test|main]" >&2
    exit 2
    ;;
esac
