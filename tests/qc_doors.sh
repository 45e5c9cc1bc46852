#!/usr/bin/env bash
# qc_doors.sh LUMEN - the two front doors through `lumen qc`: the angio_qa package by name (Lua
# definition + safetensors) and models/angio_qa/angio_qa.onnx (its head found beside it) give
# the same status, class and class probabilities (|a-b| <= 1e-3) for every frame of
# examples/data, and both reports say which door and that the weights are synthetic. Then the
# example workflows series_qc.lua and folder_qc.lua over the same records.
set -u
lumen=$1
. "$(dirname "$0")/testlib.sh"
cd "$(dirname "$0")/.." || exit 1

check "qc --model angio_qa (Lua door)" 1 "$lumen" qc examples/data --out "$tmp/lua" --quiet
check "qc --model models/angio_qa/angio_qa.onnx (ONNX door)" 1 \
  "$lumen" qc examples/data --model models/angio_qa/angio_qa.onnx --out "$tmp/onnx"
contains "the ONNX run says its door" "model angio_qa \(onnx door"
contains "the ONNX run prints the weights notice" "^NOTICE: SYNTHETIC weights"
expect "Lua door records say lua" "$(grep -c '"door":"lua"' "$tmp/lua/report.jsonl")" 17
expect "ONNX door records say onnx" "$(grep -c '"door":"onnx"' "$tmp/onnx/report.jsonl")" 17
"$lumen" run tests/qc_compare.lua "$tmp/lua/report.jsonl" "$tmp/onnx/report.jsonl" 1e-3 \
  >"$tmp/cmp.out" 2>&1
rc=$?
cat "$tmp/cmp.out"
expect "17 frames agree (status, class, probabilities within 1e-3)" "$rc" 0
# the example workflows over the same folder reuse these records (no frame runs again)
check "examples/series_qc.lua (a site's series rule)" 1 "$lumen" run examples/series_qc.lua \
  examples/data "$tmp/lua"
contains "series_qc: 5 series, with verdicts and reasons" "^5 series; wrote"
contains "series_qc: seriesB kept on its best frame" "^seriesB +4 frames +keep +best frame seriesB_f01"
check "examples/folder_qc.lua" 1 "$lumen" run examples/folder_qc.lua examples/data "$tmp/lua"
contains "folder_qc: summary" "^17 frames: 16 ok, 1 failed"
finish
