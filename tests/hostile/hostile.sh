#!/usr/bin/env bash
# hostile.sh LUMEN - the hostile-input suite: one case (or a few) per class of defect that the
# hostile campaign of issue 14 found, run end to end through the lumen command. Each check fails
# on the code before the fix. Runs from the source tree root; frames are tiny (--size 64) so
# the whole suite takes about a minute on PoCL.
set -u
lumen=$1
. "$(dirname "$0")/../testlib.sh"
cd "$(dirname "$0")/../.." || exit 1
files=tests/hostile/files
png=examples/data/seriesA_f01_16bit.png

# peak resident memory (KiB) of a command, its output in $tmp/out
# (under ASan, whose shadow memory and quarantine inflate it, the bounds are not checked)
below_kb() { # below_kb KB LIMIT_KB -> yes | no | yes (not measured under ASan)
  if [ "${LUMEN_SANITIZED:-0}" = 1 ]; then echo yes; elif [ "$1" -lt "$2" ]; then echo yes; else echo no; fi
}
peak_kb() {
  /usr/bin/time -f "%M" -o "$tmp/rss" "$@" >"$tmp/out" 2>&1
  tail -n 1 "$tmp/rss"
}
# seconds (integer, rounded up) a command takes, bounded by timeout 60
seconds() {
  local t0 t1
  t0=$(date +%s%N)
  timeout 60 "$@" >"$tmp/out" 2>&1
  t1=$(date +%s%N)
  echo $(((t1 - t0 + 999999999) / 1000000000))
}
valid_utf8() { iconv -f UTF-8 -t UTF-8 "$1" >/dev/null 2>&1 && echo yes || echo no; }

# ---- 2: identical bytes under two names, run twice: each name once in every report ----
d=$tmp/dup
mkdir -p "$d/in"
cp "$png" "$d/in/a.png"
cp "$png" "$d/in/b.png"
check "2 duplicate bytes: first run" 0 "$lumen" qc "$d/in" --out "$d/r" --size 64 --quiet
check "2 duplicate bytes: second run" 0 "$lumen" qc "$d/in" --out "$d/r" --size 64
contains "2 second run reuses both" "2 ok, 0 failed, 2 skipped"
expect "2 report.csv names a.png once" "$(grep -c '/a\.png,' "$d/r/report.csv")" 1
expect "2 report.csv names b.png once" "$(grep -c '/b\.png,' "$d/r/report.csv")" 1
expect "2 report.jsonl names both" "$(grep -c '"input":"[^"]*/[ab]\.png"' "$d/r/report.jsonl")" 2

# ---- 3: non-finite frames are error records, never a class ----
d=$tmp/nan
mkdir -p "$d"
cat >"$d/make.lua" <<'LUA'
local lumen = require "lumen"
local dir = arg[1]
local function fill(v) local t = {} for i = 1, 64 * 64 do t[i] = v end return t end
assert(lumen.npy_save(dir .. "/nan.npy", { 64, 64 }, fill(0 / 0)))
assert(lumen.npy_save(dir .. "/inf.npy", { 64, 64 }, fill(math.huge)))
local one = fill(0.5)
one[100] = 0 / 0
assert(lumen.npy_save(dir .. "/one_nan.npy", { 64, 64 }, one))
LUA
check "3 make NaN/Inf frames" 0 "$lumen" run "$d/make.lua" "$d"
check "3 non-finite frames fail (exit 1)" 1 "$lumen" qc "$d" --out "$d/r" --size 64
expect "3 three error records" "$(grep -c '"status":"error"' "$d/r/report.jsonl")" 3
expect "3 no class in any record" "$(grep -c '"class"' "$d/r/report.jsonl")" 0
contains "3 the message says why" "NaN or infinite"

# ---- 4: writers replace only regular files or new names ----
d=$tmp/paths
mkdir -p "$d"
echo keep >"$d/target.txt"
ln -s "$d/target.txt" "$d/link.png"
mkfifo "$d/fifo.png"
cat >"$d/write.lua" <<'LUA'
local lumen = require "lumen"
local ok, err = lumen.write_file(arg[1], "new bytes")
print(ok, err)
local ctx = assert(lumen.context())
ok, err = lumen.png_write(arg[1], ctx:tensor({ 1, 1, 2, 2 }, "x", { 0, 1, 2, 3 }))
print(ok, err)
ok, err = lumen.npy_save(arg[1], { 2 }, { 1, 2 })
print(ok, err)
LUA
check "4 writers refuse a symlink" 0 "$lumen" run "$d/write.lua" "$d/link.png"
contains "4 symlink: message" "refusing to replace a symbolic link"
expect "4 the symlink's target is untouched" "$(cat "$d/target.txt")" keep
check "4 writers refuse a FIFO (without blocking)" 0 timeout 20 "$lumen" run "$d/write.lua" "$d/fifo.png"
contains "4 FIFO: message" "refusing to replace a FIFO"
check "4 writers refuse a device" 0 "$lumen" run "$d/write.lua" /dev/null
contains "4 device: message" "refusing to replace a character device"
expect "4 /dev/null is still a device" "$(test -c /dev/null && echo yes)" yes
check "4 compile -o onto a symlink refused" 3 "$lumen" compile -o "$d/link.png"
contains "4 compile: message" "refusing to replace a symbolic link"
expect "4 no temp file left" "$(ls -a "$d" | grep -c tmp)" 0

# ---- 6: memory in proportion to the decoded frame ----
kb=$(peak_kb "$lumen" run tests/hostile/png_read.lua "$files/ztxt_bomb.png")
contains "6 zTXt bomb (40 x 4 MB text chunks) reads" "64x64 ch 1"
expect "6 zTXt bomb peak < 64 MB ($kb KiB)" "$(below_kb "$kb" 65536)" yes
kb=$(peak_kb "$lumen" run tests/hostile/png_read.lua "$files/gray_alpha_8192.png")
contains "6 gray+alpha 8192x8192 arrives as gray" "8192x8192 ch 1"
expect "6 gray+alpha 8192^2 peak < 400 MB ($kb KiB; frame 256 MiB)" \
  "$(below_kb "$kb" 409600)" yes
d=$tmp/ga
mkdir -p "$d"
cp "$files/gray_alpha_8192.png" "$d/"
kb=$(peak_kb "$lumen" qc "$d" --out "$d/r" --size 64)
expect "6 qc of the 8192^2 gray+alpha frame peak < 1.5 GB ($kb KiB)" \
  "$(below_kb "$kb" 1572864)" yes
expect "6 ... and it is a record" "$(grep -c '"status":"ok"' "$d/r/report.jsonl")" 1

# ---- 7: one input never stalls a batch ----
d=$tmp/stall
mkdir -p "$d/in"
mkfifo "$d/in/fifo.png"
ln -s /dev/zero "$d/in/zero.png"
truncate -s 100M "$d/in/big.png"
cp "$png" "$d/in/good.png"
s=$(seconds "$lumen" qc "$d/in/fifo.png" "$d/in/zero.png" "$d/in/big.png" "$d/in/good.png" \
  --out "$d/r" --size 64)
expect "7 FIFO, /dev/zero, 100 MB non-PNG + 1 frame in < 30 s (${s} s)" \
  "$([ "$s" -lt 30 ] && echo yes)" yes
contains "7 summary" "4 frames .*: 1 ok, 3 failed"
contains "7 FIFO refused" "fifo.png: not a regular file"
contains "7 /dev/zero refused" "zero.png: not a regular file"
contains "7 100 MB non-PNG refused by its signature" "big.png: not a PNG file"

# ---- 8: a report.jsonl with wrong field types: skipped with a warning, new results kept ----
d=$tmp/types
mkdir -p "$d/in"
cp "$png" "$d/in/a.png"
cp examples/data/seriesB_f02_8bit.png "$d/in/b.png"
check "8 first run" 0 "$lumen" qc "$d/in" --out "$d/r" --size 64 --quiet
sed -i -e 's/"flags":\[[^]]*\]/"flags":"oops"/' -e 's/"score":[0-9.e-]*/"score":"high"/' \
  "$d/r/report.jsonl"
echo '{"status":"ok","input":42}' >>"$d/r/report.jsonl"
check "8 second run over the damaged report" 0 "$lumen" qc "$d/in" --out "$d/r" --size 64
contains "8 warns about bad records" "warning: .*report.jsonl line [0-9]+: field"
contains "8 re-runs the frames" "2 ok, 0 failed, 0 skipped"
expect "8 the new report has both frames" "$(grep -c '"status":"ok"' "$d/r/report.jsonl")" 2
expect "8 no traceback" "$(grep -c traceback "$tmp/out")" 0

# ---- 9 and 10: file names: invalid UTF-8, spreadsheet formulas ----
d=$tmp/names
mkdir -p "$d/in"
cp "$png" "$d/in/$(printf 'bad\377name.png')"
cp "$png" "$d/in/=1+2.png"
cp "$png" "$d/in/@SUM(A1).png"
cp "$png" "$d/in/+cmd.png"
check "9/10 odd names" 0 "$lumen" qc "$d/in" --out "$d/r" --size 64 --quiet
expect "9 report.jsonl is valid UTF-8" "$(valid_utf8 "$d/r/report.jsonl")" yes
expect "9 report.csv is valid UTF-8" "$(valid_utf8 "$d/r/report.csv")" yes
expect "9 report.html is valid UTF-8" "$(valid_utf8 "$d/r/report.html")" yes
expect "9 raw bytes kept as input_hex" "$(grep -c '"input_hex":"[0-9a-f]*626164ff6e616d652e706e67"' \
  "$d/r/report.jsonl")" 1
expect "10 no CSV cell starts with = + - @" "$(cut -d, -f1 "$d/r/report.csv" | grep -c '^[=+@-]')" 0
in_dir() { (cd "$1" && shift && "$@"); }
check "10 relative names" 0 in_dir "$d/in" "$lumen" qc =1+2.png @SUM\(A1\).png +cmd.png \
  --out "$d/r2" --size 64 --quiet
expect "10 neutralised cells start with '" "$(grep -c "^\"'[=+@]" "$d/r2/report.csv")" 3

# ---- 11: temp files of a killed run are cleaned by the next one ----
d=$tmp/stale
mkdir -p "$d/in" "$d/r/images"
cp "$png" "$d/in/a.png"
touch "$d/r/report.csv.tmp-999999999-AbCdEf" "$d/r/images/x_thumb.png.tmp-999999999-AbCdEf"
check "11 run after a killed one" 0 "$lumen" qc "$d/in" --out "$d/r" --size 64 --quiet
expect "11 stale temp files removed" "$(find "$d/r" -name '*.tmp-*' | wc -l)" 0

# ---- 1: the sandbox holds no path-taking function: each escape is absent by construction ----
d=$tmp/escape
mkdir -p "$d"
cat >"$d/escape.lua" <<'LUA'
local tries = {
  context = function() return require("lumen").context({ cache_dir = "/tmp/lumen-escape" }) end,
  core = function() return require("lumen.core").onnx_load("/etc/shadow") end,
  kernels = function() return require("lumen").context({ kernels = "/etc/shadow" }) end,
  io = function() return io.open("/etc/passwd") end,
  loadfile = function() return loadfile("/etc/passwd") end,
  dofile = function() return dofile("/etc/passwd") end,
  print = function() return print("out") end,
  os = function() return os.execute("true") end,
}
local got = {}
for name, f in pairs(tries) do
  local ok = pcall(f)
  if ok then got[#got + 1] = name end
end
table.sort(got)
return "escaped: " .. table.concat(got, ",")
LUA
check "1 run --sandbox: every escape fails" 0 "$lumen" run --sandbox "$d/escape.lua"
contains "1 none got through" '^"escaped: "$'
expect "1 no folder was created" "$(test -e /tmp/lumen-escape && echo yes || echo no)" no
cat >"$d/rules.lua" <<'LUA'
local lumen = require "lumen"
lumen.context({ cache_dir = "/tmp/lumen-escape" }):build_all()
return { { name = "x", check = function() return false end } }
LUA
check "1 qc --rules FILE --sandbox: a rule file reaching for lumen is refused" 2 \
  "$lumen" qc "$png" --out "$d/r" --size 64 --rules "$d/rules.lua" --sandbox
contains "1 ... with a message" "module 'lumen' is not available in the sandbox"
expect "1 ... and no folder was created" "$(test -e /tmp/lumen-escape && echo yes || echo no)" no
mkfifo "$d/fifo"
echo 'return require("lumen.json").decode(...)' >"$d/fifo.lua"
check "1 a FIFO as a sandboxed script: refused at once" 2 timeout 20 "$lumen" run --sandbox "$d/fifo"

# ---- 5: C functions that loop without the count hook are size-checked ----
for expr in 'string.rep("", 1 << 50)' 'string.rep("x", 1 << 50)' 'table.move({}, 1, 1 << 50, 2)' \
  'string.find(string.rep("a", 30000), ".-.-.-b")'; do
  echo "return $expr" >"$d/hang.lua"
  s=$(seconds "$lumen" run --sandbox "$d/hang.lua")
  expect "5 $expr ends within 5 s (${s} s)" "$([ "$s" -le 5 ] && echo yes)" yes
done

# ---- 12: clear messages and usage exit codes, no tracebacks or internal locations ----
check "12 --rules DIR" 2 "$lumen" qc "$png" --out "$d/r" --rules "$d"
contains "12 --rules DIR: message" "not a file \(a dir\)"
expect "12 --rules DIR: no traceback" "$(grep -c 'traceback\|\.lua:[0-9]' "$tmp/out")" 0
check "12 run --sandbox DIR" 2 "$lumen" run --sandbox "$d"
contains "12 run --sandbox DIR: message" "not a file \(a dir\)"
expect "12 run --sandbox DIR: no traceback" "$(grep -c 'traceback\|\.lua:[0-9]' "$tmp/out")" 0
check "12 infer --out -rf" 2 "$lumen" infer models/angio_qa/angio_qa.onnx --out -rf
contains "12 infer --out -rf: message" "--out needs a value, got '-rf'"
check "12 LUMEN_KERNELS=DIR" 3 env LUMEN_KERNELS="$d" "$lumen" qc "$png" --out "$d/r" --size 64
contains "12 LUMEN_KERNELS=DIR: message" "cannot read kernels file .*not a regular file \(a folder\).*lumen compile"
check "12 --instructions below 1000" 2 "$lumen" run --sandbox --instructions 10 "$d/escape.lua"
contains "12 --instructions: message" "at least 1000"
check "12 LUMEN_GEMM=bogus" 3 env LUMEN_GEMM=bogus "$lumen" qc "$png" --out "$d/r" --size 64
contains "12 LUMEN_GEMM: message" "LUMEN_GEMM must be own, clblast or auto, not 'bogus'"
d=$tmp/loc
mkdir -p "$d/in"
cat >"$d/rules.lua" <<'LUA'
return { { name = "typo", check = function(r) return r.vessels.nonexistent.field end } }
LUA
cp "$png" "$d/in/a.png"
check "12 a failing rule is a flag with a clean message" 0 "$lumen" qc "$d/in" --out "$d/r" \
  --size 64 --rules "$d/rules.lua" --quiet
expect "12 record errors carry no internal pipeline.lua location" \
  "$(grep -c 'pipeline\.lua:[0-9]' "$d/r/report.jsonl")" 0

finish
