#!/usr/bin/env bash
# binary_only.sh LUMEN TEST_OPS - the FPGA-style flow on PoCL: 'lumen compile' writes every
# kernel into one file, then the whole op suite runs from that file alone (LUMEN_KERNELS), with
# LUMEN_KERNEL_DIR pointing nowhere to prove no source is read and no cache to prove nothing is
# compiled.
set -eu
lumen=$1
test_ops=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
LUMEN_CACHE_DIR="$tmp/cache" "$lumen" compile -o "$tmp/kernels.bin"
LUMEN_KERNELS="$tmp/kernels.bin" LUMEN_KERNEL_DIR=/nonexistent LUMEN_CACHE_DIR="" "$test_ops"
