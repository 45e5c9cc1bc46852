#!/usr/bin/env bash
# qc_byom.sh LUMEN - bringing one's own model (examples/byom/): a small ONNX segmentation net
# with dynamic height and width, exported from PyTorch by export_tiny_seg.py, and its head file.
#   - run_model.lua: lumen.onnx_load and lumen.load_model give one runnable object whose output
#     matches PyTorch's (|a-b| <= 1e-4 + 1e-3 |b|);
#   - lumen info shows the package; lumen qc runs it over examples/data through the head found
#     beside the ONNX file (planned at the head's 256 x 256), with segmentation statistics,
#     flags, series verdicts and the weights notice;
#   - the same file without a head (a guessed head, weights "unknown") and with --head.
set -u
lumen=$1
. "$(dirname "$0")/testlib.sh"
cd "$(dirname "$0")/.." || exit 1

check "run_model.lua: both doors vs PyTorch" 0 "$lumen" run examples/byom/run_model.lua
contains "onnx_load matches PyTorch" "^OK +onnx_load +vs PyTorch: 16384 values"
contains "load_model matches PyTorch" "^OK +load_model +vs PyTorch: 16384 values"

check "lumen info shows the package" 0 "$lumen" info examples/byom/tiny_seg.onnx
contains "info: weights status" "^weights +research - hand-set weights.*NOT VALIDATED"
contains "info: input and preprocessing" "^input +frame, 256x256, 1 channel; preprocessing: gray -> resize -> minmax"
contains "info: planned at the head's size" "^input +frame +\[1,1,256,256\]"

r=$tmp/r
check "lumen qc --model examples/byom/tiny_seg.onnx (corrupt frame -> exit 1)" 1 \
  "$lumen" qc examples/data --model examples/byom/tiny_seg.onnx --out "$r" \
  --series-pattern '^(series%a+)_'
contains "terminal: research-weights notice" "^NOTICE: RESEARCH weights \(tiny_seg\)"
contains "terminal: 16 ok" "17 frames .*: 16 ok, 1 failed"
contains "terminal: series verdicts" "^series: 5 \("
contains "terminal: ONNX door" "model tiny_seg \(onnx door"
expect "records: segmentation statistics under the head's label" \
  "$(grep -c '"vessels":{"area_fraction":[0-9.e-]*,"components":[0-9]*,"largest_share"' "$r/report.jsonl")" 16
expect "records: no class (no class output)" "$(grep -c '"class_name"' "$r/report.jsonl")" 0
expect "records: 256x256 planned from the head (thumbnail and overlay per frame)" \
  "$(ls "$r/images" | grep -c '_overlay\.png$')" 16
expect "csv: vessels columns" "$(sed -n 2p "$r/report.csv" | grep -c 'vessels_area_fraction')" 1
expect "series.jsonl: 5 series" "$(wc -l <"$r/series.jsonl")" 5
expect "series verdicts from flagged frames" \
  "$(grep -c '"reasons":\["[0-9] of [0-9] frames flagged' "$r/series.jsonl")" 4
expect "html: banner" "$(grep -c '<div class="banner" id="notice">NOTICE: RESEARCH' "$r/report.html")" 1

cp examples/byom/tiny_seg.onnx "$tmp/bare.onnx"
check "an ONNX file without a head: a guessed head" 0 \
  "$lumen" qc 'examples/data/seriesC_*.png' --model "$tmp/bare.onnx" --size 128 --out "$tmp/bare"
contains "guessed: weights status unknown" "^NOTICE: UNKNOWN weights \(bare\)"
expect "guessed: segmentation statistics under 'mask'" \
  "$(grep -c '"mask":{"area_fraction"' "$tmp/bare/report.jsonl")" 4
check "the same file with --head" 0 "$lumen" qc 'examples/data/seriesC_*.png' \
  --model "$tmp/bare.onnx" --head examples/byom/tiny_seg.head.lua --out "$tmp/head" --quiet
expect "--head: the head's label and name" \
  "$(grep -c '"model":"tiny_seg".*"vessels":{' "$tmp/head/report.jsonl")" 4
printf 'return { input = { name = "image" }, outputs = { segmentation = "vessel_logit" } }\n' \
  >"$tmp/wrong.head.lua"
check "a head naming an input the network lacks" 2 "$lumen" qc 'examples/data/seriesC_*.png' \
  --model "$tmp/bare.onnx" --head "$tmp/wrong.head.lua" --out "$tmp/wrong"
contains "names the network's inputs" "the head names input 'image'; the network's inputs are frame"
finish
