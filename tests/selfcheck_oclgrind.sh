#!/usr/bin/env bash
# selfcheck_oclgrind.sh LUMEN - 'lumen devices --check' on Oclgrind, the strict OpenCL 1.2
# simulator (see tests/oclgrind.sh): every family, CLBlast included, must pass, and Oclgrind
# must log nothing (out-of-bounds accesses, data races, API misuse). About 8 s.
set -u
lumen=$1
if ! command -v oclgrind >/dev/null; then
  echo "FAIL: oclgrind is not installed (apt-get install oclgrind; setup.sh installs it)"
  exit 1
fi
. "$(dirname "$0")/testlib.sh"
unset LUMEN_SELFCHECK LUMEN_DEBUG_SELFCHECK_FAIL LUMEN_DEBUG_QUIRKS
# LUMEN_GEMM=clblast: no engine measurement (minutes in the simulator, see oclgrind.sh), and
# with CLBlast as the engine both GEMM engines are checked.
check "devices --check on Oclgrind" 0 env LUMEN_DEVICE=oclgrind LUMEN_CACHE_DIR="$tmp/cache" \
  LUMEN_GEMM=clblast \
  oclgrind --data-races --check-api --log "$tmp/oclgrind.log" "$lumen" devices --check
sed -n '/^index device/,$p' "$tmp/out"
for fam in eltwise conv gemm clblast pool layout norm attention; do
  contains "verdict for $fam" "Oclgrind Simulator +$fam +pass +[1-9]"
done
contains "passed" "Oclgrind Simulator +self-check passed"
touch "$tmp/oclgrind.log"
expect "Oclgrind log lines" "$(grep -c . "$tmp/oclgrind.log")" 0
finish
