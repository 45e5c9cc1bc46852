#!/usr/bin/env bash
# binary_only.sh LUMEN TEST_OPS - the FPGA-style flow on PoCL: 'lumen compile' writes every
# kernel into one file, then the whole op suite runs from that file alone (LUMEN_KERNELS), on a
# device that reports no compiler (LUMEN_DEBUG_LIMITS=compiler=0), with LUMEN_KERNEL_DIR
# pointing nowhere to prove no source is read and no cache to prove nothing is compiled;
# --coverage proves every kernel of every variant (tuned and specialised ones included, and
# every fp16-storage twin: --precision both) ran from the file. Without the file such a device is refused with a message saying what to do,
# and a file lacking variants is refused with the list of what it lacks.
set -u
source "$(dirname "$0")/testlib.sh"
lumen=$1
test_ops=$2
check "lumen compile writes the kernels file" 0 env LUMEN_CACHE_DIR="$tmp/cache" \
  "$lumen" compile -o "$tmp/kernels.bin"
check "no compiler, no kernels file: refused" 1 env LUMEN_DEBUG_LIMITS=compiler=0 \
  LUMEN_CACHE_DIR="" "$test_ops" eltwise
contains "the refusal says how to run it" "no OpenCL C compiler: run it in binary-only mode"
check "no compiler: every op from the kernels file alone" 0 env LUMEN_DEBUG_LIMITS=compiler=0 \
  LUMEN_KERNELS="$tmp/kernels.bin" LUMEN_KERNEL_DIR=/nonexistent LUMEN_CACHE_DIR="" \
  "$test_ops" --coverage --precision both
contains "every kernel of every variant launched" "coverage: every kernel of the [0-9]+ variants launched OK \(fp32 and fp16 storage\)"
# a file from an older build: the same file without its last two programs
python3 - "$tmp/kernels.bin" "$tmp/short.bin" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
at = 8
def blob():
    global at
    n, = struct.unpack_from("<Q", d, at)
    at += 8 + n
for _ in range(3):
    blob()
count, = struct.unpack_from("<Q", d, at)
head, at = at, at + 8
ends = []
for _ in range(count):
    blob(); blob(); at += 8; blob()
    ends.append(at)
out = d[:head] + struct.pack("<Q", count - 2) + d[head + 8:ends[count - 3]]
open(sys.argv[2], "wb").write(out)
PY
check "a kernels file lacking variants: refused" 1 env LUMEN_DEBUG_LIMITS=compiler=0 \
  LUMEN_KERNELS="$tmp/short.bin" LUMEN_CACHE_DIR="" "$test_ops" eltwise
contains "the refusal lists what is missing" "lacks 2 of the [0-9]+ kernel variants \(0 fp32, 2 fp16 storage\): [a-z]+\.cl \[-DLUMEN_FP16.*\] \(fp16\), [a-z]+\.cl \[-DLUMEN_FP16.*\] \(fp16\); rebuild it"
finish
