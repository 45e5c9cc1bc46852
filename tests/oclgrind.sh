#!/usr/bin/env bash
# oclgrind.sh TEST_OPS [MAX_COST] - every op family's cases on Oclgrind, a strict OpenCL 1.2
# simulator standing in for the GPUs we do not have, with fp32 tensors and again with fp16
# storage (test_ops --precision both; the fp16 programs' vload_half / vstore_half included):
# out-of-bounds accesses, data races on
# local and global memory (--data-races), barrier divergence and API misuse (--check-api).
# Cases costing more than MAX_COST (default 1e6 flops + elements, see tests/harness.h) are
# skipped, since Oclgrind interprets every work-item; --coverage still requires every kernel
# of every variant, fp32 and fp16, to be launched. Fails on any case outside tolerance and on any line
# Oclgrind writes to its log. (--uninitialized cannot be used: Oclgrind 21.10 does not handle
# LLVM's 'freeze' instruction.)
#
# Oclgrind is loaded in place of the ICD loader (LD_PRELOAD by the 'oclgrind' wrapper), so it
# is the only platform the process sees; LUMEN_DEVICE=oclgrind checks that it was picked.
set -u
test_ops=$1
max_cost=${2:-1e6}
if ! command -v oclgrind >/dev/null; then
  echo "FAIL: oclgrind is not installed (apt-get install oclgrind; setup.sh installs it)"
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
# The GEMM engine probe (own vs CLBlast at 256^3) would take minutes in the simulator: the own
# engine here; the gemm cases still run both engines explicitly.
LUMEN_DEVICE=oclgrind LUMEN_GEMM=own LUMEN_CACHE_DIR="$tmp/cache" \
  oclgrind --data-races --check-api --log "$tmp/oclgrind.log" \
  "$test_ops" --max-cost "$max_cost" --coverage --precision both
rc=$?
echo "oclgrind: $(($(date +%s) - start)) s, test_ops exit $rc"
if [ -s "$tmp/oclgrind.log" ]; then
  echo "FAIL: Oclgrind reported $(grep -c . "$tmp/oclgrind.log") line(s):"
  head -60 "$tmp/oclgrind.log"
  exit 1
fi
[ "$rc" -eq 0 ] || { echo "FAIL: test_ops under Oclgrind failed"; exit 1; }
echo "PASS: no Oclgrind errors, every case within tolerance, every kernel launched"
