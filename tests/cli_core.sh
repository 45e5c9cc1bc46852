#!/usr/bin/env bash
# cli_core.sh LUMEN - the lumen command's device and compile subcommands, exit codes and the
# no-OpenCL-platform message. One line per check.
set -u
lumen=$1
. "$(dirname "$0")/testlib.sh"

check "lumen devices" 0 "$lumen" devices
contains "devices lists PoCL with its memory columns" "Portable Computing Language.*GiB"
check "lumen devices --json" 0 "$lumen" devices --json
contains "json has compute_units" '"compute_units": [0-9]+'
check "lumen devices --cache (cold)" 0 env LUMEN_CACHE_DIR="$tmp/c" "$lumen" devices --cache
contains "cold cache compiles" "0 hits, [1-9][0-9]* misses"
check "lumen devices --cache (warm)" 0 env LUMEN_CACHE_DIR="$tmp/c" "$lumen" devices --cache
contains "warm cache hits" "[1-9][0-9]* hits, 0 misses"
check "no OpenCL platform" 3 env OCL_ICD_VENDORS="$tmp/none" OCL_ICD_FILENAMES= "$lumen" devices
contains "names the package to install" "pocl-opencl-icd"
check "unknown device selector" 3 "$lumen" compile --device no-such-dev -o "$tmp/k.bin"
contains "says which selector" "no-such-dev"
check "compile without -o" 2 "$lumen" compile
check "unknown option" 2 "$lumen" devices --bogus
check "unknown command" 2 "$lumen" frobnicate
check "help" 0 "$lumen" help
contains "help lists devices" "devices"
check "help compile" 0 "$lumen" help compile
contains "compile usage" "usage: lumen compile"
check "compile" 0 "$lumen" compile --device pocl -o "$tmp/k.bin"
contains "compile reports programs" "wrote .* programs"
src=$(cd "$(dirname "$0")/.." && pwd)
check "lumen info angio_qa" 0 env LUMEN_MODELS_DIR="$src/models" "$lumen" info angio_qa
contains "info: PyTorch's parameter count" "params +3,433,986"
contains "info: memory plan" "memory +planned .* naive sum .* largest live set"
check "lumen info on an ONNX file" 0 "$lumen" info "$src/models/unet/fixtures/bilinear_64.onnx"
contains "info (ONNX): op counts and plan" "Conv +19"
check "lumen info on a missing ONNX file" 3 "$lumen" info "$tmp/none.onnx"
finish
