#!/usr/bin/env bash
# cli_qc.sh LUMEN - `lumen qc` end to end over examples/data, and `lumen run --sandbox`.
# Runs from the source tree root. One line per check. The model runs on 17 frames once; later
# runs reuse those records (the skip logic), so the whole test stays around a minute on PoCL.
set -u
lumen=$1
. "$(dirname "$0")/testlib.sh"
cd "$(dirname "$0")/.." || exit 1

inputs() { # inputs FILE.jsonl: the sorted input paths of its records
  grep -o '"input":"[^"]*"' "$1" | sort
}

r=$tmp/r
check "qc examples/data (corrupt frame -> exit 1)" 1 "$lumen" qc examples/data --out "$r" \
  --series-pattern '^(series%a+)_'
contains "summary counts" "17 frames .*: 16 ok, 1 failed, 0 skipped"
contains "terminal: synthetic-weights notice first" "^NOTICE: SYNTHETIC weights \(angio_qa\)"
contains "terminal: flagged frames with class and score" "^  examples/data/series.*: [a-z_]+ [01]\.[0-9][0-9]: "
contains "terminal: flagged list capped at 10" "^  \.\.\. and [0-9]+ more"
expect "terminal: at most 10 flagged lines" "$(grep -c '^  examples/data/' "$tmp/out")" 10
contains "terminal: series verdicts" "^series: 5 \([0-9]+ keep, [0-9]+ repeat\)"
contains "terminal: a verdict with its reasons" "^  seriesA: (KEEP|REPEAT) \(.*frames not acceptable"
contains "summary per class" "^classes: diagnostic [0-9]+, motion_misregistration [0-9]+"
contains "summary names the failed frame" "failed: examples/data/corrupt_truncated.png"
contains "summary wall time and device" "wall time [0-9.]+ s"
expect "report.jsonl has 17 records" "$(wc -l <"$r/report.jsonl")" 17
expect "16 ok records" "$(grep -c '"status":"ok"' "$r/report.jsonl")" 16
expect "1 error record" "$(grep -c '"status":"error"' "$r/report.jsonl")" 1
expect "the error record is the corrupt file" \
  "$(grep '"status":"error"' "$r/report.jsonl" | grep -c 'corrupt_truncated.png.*PNG')" 1
expect "records carry input and model hashes" \
  "$(grep -cE '"input_sha256":"[0-9a-f]{64}".*"model_sha256":"[0-9a-f]{64}"' "$r/report.jsonl")" 17
expect "records carry class probabilities and vessel stats" \
  "$(grep -c '"probabilities":{"diagnostic":.*"vessels":{"area_fraction":' "$r/report.jsonl")" 16
expect "records carry timings" "$(grep -c '"ms":{"inference":[0-9.]*,"postprocess":[0-9.]*,"preprocess":' "$r/report.jsonl")" 16
expect "report.csv: notice + header + 17 rows" "$(wc -l <"$r/report.csv")" 19
expect "report.csv: first line is the notice" "$(head -1 "$r/report.csv" | grep -c '^# NOTICE: SYNTHETIC')" 1
expect "report.csv: weights_status column" "$(grep -c ',synthetic,' "$r/report.csv")" 17
expect "series.jsonl: 5 series (A-D and the corrupt file)" "$(wc -l <"$r/series.jsonl")" 5
expect "series.jsonl: verdicts with reasons" \
  "$(grep -cE '"reasons":\[".+"\].*"verdict":"(keep|repeat)"' "$r/series.jsonl")" 5
expect "series.csv: notice + header + 5 rows" "$(wc -l <"$r/series.csv")" 7
expect "records carry provenance" \
  "$(grep -c '"provenance":{.*"precision":"fp32".*"weights_status":"synthetic"' "$r/report.jsonl")" 17
expect "records carry their series" "$(grep -c '"series":"seriesB"' "$r/report.jsonl")" 4
expect "report.html exists" "$(test -s "$r/report.html" && echo yes)" yes
expect "32 images (thumbnail + overlay per frame)" "$(ls "$r/images" | grep -c '\.png$')" 32
expect "no temp files left" "$(ls -a "$r" | grep -c tmp)" 0

check "re-run skips done frames" 1 "$lumen" qc examples/data --out "$r"
contains "16 skipped" "16 ok, 1 failed, 16 skipped"
expect "re-run keeps 17 records" "$(wc -l <"$r/report.jsonl")" 17

check "--shard 0/2 (has the corrupt frame, the first input)" 1 "$lumen" qc examples/data --out "$r" --shard 0/2
contains "shard 0/2 takes 9 of 17" "9 frames \(shard 0/2 of 17 inputs\)"
check "--shard 1/2" 0 "$lumen" qc examples/data --out "$r" --shard 1/2
inputs "$r/report-shard0of2.jsonl" >"$tmp/s0"
inputs "$r/report-shard1of2.jsonl" >"$tmp/s1"
inputs "$r/report.jsonl" >"$tmp/all"
expect "shards do not overlap" "$(comm -12 "$tmp/s0" "$tmp/s1" | wc -l)" 0
expect "shards cover all inputs" "$(sort -m "$tmp/s0" "$tmp/s1" | cmp -s - "$tmp/all" && echo yes)" yes
cp -r "$r" "$tmp/merge" && rm "$tmp/merge/report.jsonl" "$tmp/merge/series.jsonl"
check "lumen report merge of the two shards" 1 "$lumen" report merge "$tmp/merge" --shards 2
expect "merged: series verdicts (one folder, one series)" "$(wc -l <"$tmp/merge/series.jsonl")" 1
expect "merged: the notice in the CSV and the HTML" \
  "$(head -1 "$tmp/merge/report.csv" | grep -c '^# NOTICE: SYNTHETIC') $(grep -c 'class="banner"' "$tmp/merge/report.html")" "1 1"
check "SLURM array variables shard like --shard" 0 \
  env SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2 "$lumen" qc examples/data --out "$tmp/slurm" --quiet
expect "SLURM task 1 of 2 = shard 1/2" \
  "$(inputs "$tmp/slurm/report-shard1of2.jsonl" | cmp -s - "$tmp/s1" && echo yes)" yes

cp -r "$r" "$tmp/rules"
cat >"$tmp/rules.lua" <<'LUA'
return {
  { name = "very_few_vessels", check = function(r) return r.vessels.area_fraction < 0.05 end },
  { name = "likely_other", check = function(r) return r.probabilities.other_nondiagnostic > 0.5 end },
}
LUA
check "--rules FILE --sandbox on a pattern" 0 "$lumen" qc 'examples/data/seriesC_*.png' \
  --out "$tmp/rules" --rules "$tmp/rules.lua" --sandbox
contains "the pattern matched 4 frames" "4 frames \(shard 0/1 of 4 inputs\)"
expect "custom flags in the records" "$(grep -c '"flags":\[[^]]*"very_few_vessels"' "$tmp/rules/report.jsonl")" 3
cat >"$tmp/th.lua" <<'LUA'
return { thresholds = { series_max_bad_share = 1.01, series_max_bad_run = 99, min_area = 0.5 } }
LUA
check "--rules with thresholds only, sandboxed" 0 "$lumen" qc 'examples/data/seriesC_*.png' \
  --out "$tmp/rules" --rules "$tmp/th.lua" --sandbox --series-pattern '^(series%a+)_'
contains "the series thresholds changed the verdict" "^  seriesC: KEEP"
expect "the package's rules ran with the new min_area" \
  "$(grep -c '"flags":\[[^]]*"few_vessels"' "$tmp/rules/report.jsonl")" 4
expect "provenance names the rules file and its hash" \
  "$(grep -cE '"rules":"[^"]*th.lua","rules_sha256":"[0-9a-f]{64}"' "$tmp/rules/report.jsonl")" 4
cat >"$tmp/sr.lua" <<'LUA'
return { series = function(s) return "review", { s.frames .. " frames seen" } end }
LUA
check "--rules with a series function" 0 "$lumen" qc 'examples/data/seriesC_*.png' \
  --out "$tmp/rules" --rules "$tmp/sr.lua" --series-pattern '^(series%a+)_'
contains "the custom verdict" "^  seriesC: REVIEW \(4 frames seen\)"
check "a series function with --sandbox is refused" 2 "$lumen" qc 'examples/data/seriesC_*.png' \
  --out "$tmp/rules" --rules "$tmp/sr.lua" --sandbox
echo 'while true do end' >"$tmp/loop.lua"
check "sandboxed rules that loop: usage error" 2 "$lumen" qc examples/data/seriesA_f01_16bit.png \
  --out "$tmp/rules" --rules "$tmp/loop.lua" --sandbox
contains "names the instruction cap" "instruction limit of [0-9]+ exceeded"

check "no inputs" 2 "$lumen" qc
check "no input matches" 2 "$lumen" qc 'examples/data/*.jpg' --out "$tmp/x"
check "bad --shard" 2 "$lumen" qc examples/data --shard 2/2
check "bad --threshold" 2 "$lumen" qc examples/data --threshold 1.5 --out "$tmp/x"
check "unknown option" 2 "$lumen" qc examples/data --bogus
check "--sandbox without --rules" 2 "$lumen" qc examples/data --sandbox
check "missing rules file" 2 "$lumen" qc examples/data --rules "$tmp/none.lua" --out "$tmp/x"
check "unknown model: usage error" 2 "$lumen" qc examples/data --model no_such_model --out "$tmp/x"
check "model name typo" 2 "$lumen" qc examples/data --model angio_q --out "$tmp/x"
contains "did you mean the model" "did you mean 'angio_qa'"
check "option typo" 2 "$lumen" qc examples/data --modle angio_qa --out "$tmp/x"
contains "did you mean the option" "did you mean '--model'"
check "command typo" 2 "$lumen" qx examples/data
contains "did you mean the command" "did you mean 'qc'"
check "missing input folder" 2 "$lumen" qc examples/no_such_folder --out "$tmp/x"
contains "names the missing input" "no such file or folder: examples/no_such_folder"
check "bad --size" 2 "$lumen" qc examples/data --size 500 --out "$tmp/x"
check "a folder as the rules file" 2 "$lumen" qc examples/data --rules examples --out "$tmp/x"
contains "says it is not a file" "rules examples: not a file"
check "bad --series-pattern" 2 "$lumen" qc examples/data --series-pattern '(' --out "$tmp/x"
expect "usage errors wrote nothing" "$(test -e "$tmp/x" && echo written || echo nothing)" nothing
check "lumen run: a missing script" 2 "$lumen" run "$tmp/no_such_script.lua"
contains "names the script" "script .*no_such_script.lua: no such file"
check "help of a mistyped command" 2 "$lumen" help qx
contains "did you mean the command" "did you mean 'qc'"
check "unknown device" 3 "$lumen" qc examples/data --device no-such-device --out "$tmp/x"
check "help qc" 0 "$lumen" help qc
contains "qc usage" "usage: lumen qc INPUTS"

cat >"$tmp/sb.lua" <<'LUA'
local json = require "lumen.json"
local n = ...
return { squares = (function() local t = {} for i = 1, tonumber(n) do t[i] = i * i end return t end)(),
  io = io == nil, os = os == nil }
LUA
check "lumen run --sandbox prints returned data" 0 "$lumen" run --sandbox "$tmp/sb.lua" 4
contains "returned as JSON" '^\{"io":true,"os":true,"squares":\[1,4,9,16\]\}$'
check "lumen run --sandbox: instruction cap" 3 "$lumen" run --sandbox --instructions 100000 "$tmp/loop.lua"
contains "clear message" "sandbox: instruction limit of 100000 exceeded"
echo 'local t = {} for i = 1, 1e9 do t[i] = i end' >"$tmp/mem.lua"
check "lumen run --sandbox: memory cap" 3 "$lumen" run --sandbox --memory 1M "$tmp/mem.lua"
contains "clear message" "sandbox: memory limit of 1048576 bytes exceeded"
echo 'return io.open("/etc/passwd")' >"$tmp/io.lua"
check "lumen run --sandbox: no io" 3 "$lumen" run --sandbox "$tmp/io.lua"
check "--memory without --sandbox" 2 "$lumen" run --memory 1M "$tmp/io.lua"
finish
