#!/usr/bin/env bash
# selfcheck.sh LUMEN - the device self-check (runtime/selfcheck.c, lua/lumen/selfcheck.lua):
# 'lumen devices --check' prints a verdict per family and stores it; a stored verdict is read
# instead of running again; a forced failure (LUMEN_DEBUG_SELFCHECK_FAIL) is stored and leads
# to the GEMM fallback or to refusing the model, with a message naming the failing case;
# LUMEN_SELFCHECK=0 opts out; the quirks table's wiring through a test entry
# (LUMEN_DEBUG_QUIRKS). One line per check.
set -u
lumen=$1
src=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/testlib.sh"
export LUMEN_MODELS_DIR="$src/models" CI=true
unset LUMEN_SELFCHECK LUMEN_DEBUG_SELFCHECK_FAIL LUMEN_DEBUG_QUIRKS LUMEN_GEMM
frame="$src/examples/data/seriesA_f01_16bit.png"
c="$tmp/cache"
qc=("$lumen" qc "$frame" --out "$tmp/q")

check "devices --check on a fresh cache" 0 env LUMEN_CACHE_DIR="$c" "$lumen" devices --check --device pocl
for fam in eltwise conv gemm pool layout norm attention; do
  contains "verdict for $fam" " $fam +pass +[1-9]"
done
contains "CLBlast skipped where the own GEMM is in use" " clblast +skip +0 .*not in use"
for fam in eltwise conv gemm pool layout norm attention; do
  contains "fp16-storage verdict for $fam" " fp16:$fam +pass +[1-9]"
done
contains "fp16: CLBlast skipped (fp32 only)" " fp16:clblast +skip +0 .*fp32 only"
contains "total line with the stored file" "self-check passed in [0-9]+ ms; verdict stored in .*/selfcheck-"
expect "one verdict file" "$(ls "$c" | grep -c '^selfcheck-.*\.txt$')" 1

check "devices --check with CLBlast as the engine" 0 env LUMEN_CACHE_DIR="$tmp/clb" LUMEN_GEMM=clblast \
  "$lumen" devices --check --device pocl
contains "CLBlast checked" " clblast +pass +[1-9]"

# the stored (passing) verdict is read: a failure forced now cannot show, nothing runs
check "qc reads the stored verdict (run skipped)" 0 env LUMEN_CACHE_DIR="$c" \
  LUMEN_DEBUG_SELFCHECK_FAIL=conv,gemm,clblast "$lumen" qc "$frame" --out "$tmp/q0"
if grep -q "self-check" "$tmp/out"; then bad "cache hit: the check ran again"
else ok "cache hit: no self-check output"; fi
cat >"$tmp/hit.lua" <<'LUA'
local lumen = require "lumen"
local ctx = assert(lumen.context("pocl"))
local t0 = lumen.clock()
local r = assert(ctx:selfcheck())
print(string.format("from_cache=%s passed=%s took=%.0fms", tostring(r.from_cache), tostring(r.passed), lumen.clock() - t0))
LUA
check "ctx:selfcheck() on a stored verdict" 0 env LUMEN_CACHE_DIR="$c" "$lumen" run "$tmp/hit.lua"
contains "it came from the cache" "from_cache=true passed=true"

# own GEMM forced to fail: stored, CLBlast stands in, the model still runs
check "forced gemm failure: exit 1" 1 env LUMEN_CACHE_DIR="$c" LUMEN_DEBUG_SELFCHECK_FAIL=gemm \
  "$lumen" devices --check --device pocl
contains "gemm FAIL with the case and the error" " gemm +FAIL .*'.*': at [0-9]+: device"
contains "fallback to CLBlast said" "fallback: CLBlast is used for every GEMM"
check "qc after a stored gemm failure runs on CLBlast" 0 env LUMEN_CACHE_DIR="$c" "${qc[@]}"
contains "qc says why" "self-check on .*: gemm FAILED .*fallback: CLBlast"

# both GEMM engines fail: models with GEMM ops are refused, naming the node and the case
check "forced gemm+clblast failure" 1 env LUMEN_CACHE_DIR="$c" \
  LUMEN_DEBUG_SELFCHECK_FAIL=gemm,clblast "$lumen" devices --check --device pocl
contains "gemm refused" " gemm +FAIL .*refused: models using conv, matmul"
check "qc refuses the model (exit 3)" 3 env LUMEN_CACHE_DIR="$c" "${qc[@]}"
contains "refusal names node, family and case" "node '.*' \(conv\) refused: the device self-check failed for 'gemm' on .*\((matmul|conv) '"
check "LUMEN_SELFCHECK=0 opts out (stored verdict ignored)" 0 env LUMEN_CACHE_DIR="$c" \
  LUMEN_SELFCHECK=0 "${qc[@]}"
if grep -q "self-check" "$tmp/out"; then bad "opt-out still checked"
else ok "opt-out: no self-check output"; fi

# another family: refused with no fallback
check "forced conv failure" 1 env LUMEN_CACHE_DIR="$c" LUMEN_DEBUG_SELFCHECK_FAIL=conv \
  "$lumen" devices --check --device pocl
contains "conv refused" " conv +FAIL .*refused: models using conv, conv_transpose"
check "qc refuses the conv model" 3 env LUMEN_CACHE_DIR="$c" "${qc[@]}"
contains "refusal names the conv case" "failed for 'conv' .*\(conv '3x3 s1 p1 odd'"

# fp16 storage failing a family: no refusal, fp16 models run in fp32 and say why
c16="$tmp/c16"
check "forced fp16 conv failure" 1 env LUMEN_CACHE_DIR="$c16" LUMEN_DEBUG_SELFCHECK_FAIL=fp16:conv \
  "$lumen" devices --check --device pocl
contains "fp32 conv still passes" " conv +pass +[1-9]"
contains "fp16:conv FAIL with the fallback" " fp16:conv +FAIL .*fallback: fp16 models using conv, conv_transpose run in fp32"
check "qc --precision fp16 after it: runs (in fp32)" 0 env LUMEN_CACHE_DIR="$c16" "${qc[@]}" \
  --precision fp16 --out "$tmp/q16"
contains "qc warns why" "warning: fp16 storage not used on .*: the fp16 self-check failed for 'conv'.*; running fp32"
expect "the record says fp32" "$(grep -c '"precision":"fp32"' "$tmp/q16/report.jsonl")" 1
check "qc --precision fp16 on a healthy verdict" 0 env LUMEN_CACHE_DIR="$tmp/clb" "${qc[@]}" \
  --precision fp16 --out "$tmp/q16ok"
expect "the record says fp16" "$(grep -c '"precision":"fp16"' "$tmp/q16ok/report.jsonl")" 1
check "the no_fp16 quirk: fp16 falls back too" 0 env LUMEN_CACHE_DIR="$tmp/clb" \
  LUMEN_DEBUG_QUIRKS=no_fp16:pthread "${qc[@]}" --precision fp16 --out "$tmp/q16q"
contains "qc warns about the quirk" "warning: fp16 storage not used on .*: quirk no_fp16 \(test entry"
check "devices --check under no_fp16" 0 env LUMEN_CACHE_DIR="$tmp/quirk16" \
  LUMEN_DEBUG_QUIRKS=no_fp16:pthread "$lumen" devices --check --device pocl
contains "fp16 families skipped, reason given" " fp16:conv +skip +0 .*test entry from LUMEN_DEBUG_QUIRKS"
check "qc --precision fp17: usage error" 2 "${qc[@]}" --precision fp17
contains "says what is allowed" "--precision must be fp32 or fp16"

# first use: qc on a fresh cache runs the check and stores the verdict; opted out, it does not
check "qc on a fresh cache" 0 env LUMEN_CACHE_DIR="$tmp/fresh" "${qc[@]}"
expect "first use stored a verdict" "$(ls "$tmp/fresh" | grep -c '^selfcheck-')" 1
check "qc on a fresh cache, LUMEN_SELFCHECK=0" 0 env LUMEN_CACHE_DIR="$tmp/off" LUMEN_SELFCHECK=0 "${qc[@]}"
expect "opted out: no verdict" "$(ls "$tmp/off" | grep -c '^selfcheck-')" 0

# a damaged verdict file is ignored and replaced
for f in "$tmp/fresh"/selfcheck-*.txt; do printf 'key garbage\n' >"$f"; done
check "damaged verdict: runs again" 0 env LUMEN_CACHE_DIR="$tmp/fresh" "$lumen" run "$tmp/hit.lua"
contains "not from the cache" "from_cache=false passed=true"
cat >"$tmp/stored.lua" <<'LUA'
local lumen = require "lumen"
local ctx = assert(lumen.context("pocl"))
local r, err = ctx:selfcheck("stored")
print(r and "stored" or ("none: " .. err))
LUA
check "mode 'stored' with nothing stored" 0 env LUMEN_CACHE_DIR="$tmp/empty" "$lumen" run "$tmp/stored.lua"
contains "says so" "none: no stored self-check verdict for platform="

# quirks: a test entry turns CLBlast off on the matching device only
cat >"$tmp/quirks.lua" <<'LUA'
local lumen = require "lumen"
local ctx = assert(lumen.context("pocl"))
local q, why = ctx:quirks()
print(string.format("gemm=%s no_clblast=%s why=%s", ctx:gemm(), tostring(q.no_clblast), why))
LUA
check "quirk entry matching PoCL" 0 env LUMEN_DEBUG_QUIRKS=no_clblast:pthread "$lumen" run "$tmp/quirks.lua"
contains "CLBlast off, engine own" "gemm=own no_clblast=true why=test entry from LUMEN_DEBUG_QUIRKS"
check "quirk entry for another vendor" 0 env LUMEN_DEBUG_QUIRKS=no_clblast:nvidia "$lumen" run "$tmp/quirks.lua"
contains "no quirk applied" "gemm=auto no_clblast=nil why=$"
check "malformed quirk entry" 0 env LUMEN_DEBUG_QUIRKS=bogus "$lumen" run "$tmp/quirks.lua"
contains "ignored, said why" "gemm=auto no_clblast=nil why=LUMEN_DEBUG_QUIRKS ignored"
check "devices --check under the quirk" 0 env LUMEN_CACHE_DIR="$tmp/quirk" \
  LUMEN_DEBUG_QUIRKS=no_clblast:pthread "$lumen" devices --check --device pocl
contains "clblast skipped, reason given" " clblast +skip +0 .*test entry from LUMEN_DEBUG_QUIRKS"

check "--device without --check" 2 "$lumen" devices --device pocl
check "help devices documents --check" 0 "$lumen" help devices
contains "usage line" "usage: lumen devices \[--cache\] \[--check \[--device D\]\]"
finish
