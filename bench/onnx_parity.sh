#!/bin/sh
# onnx_parity.sh - the parity report of the ONNX model suite: for every model in
# tests/onnx_models (and the real-size ones that export.py --full wrote there), lumen's and
# ONNX Runtime's worst absolute error against PyTorch on the same input, and the share of the
# tolerance (1e-4 + 1e-3 |torch|) each uses. Prints a Markdown table.
#
#   bench/onnx_parity.sh [BUILD_DIR] [DIR]     (defaults: build, tests/onnx_models)
#
# ONNX Runtime: bench/peers/node_modules (cd bench/peers && npm install --ignore-scripts).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
dir=${2:-$root/tests/onnx_models}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

names=""
for f in "$dir"/*.onnx; do
    n=$(basename "$f" .onnx)
    [ -f "$dir/$n.in.npy" ] && [ -f "$dir/$n.out.npy" ] && names="$names $n"
done

# lumen: one "name maxabs share" line per model, through the same Lua measure as the ctest
cat >"$tmp/lumen.lua" <<'EOF'
local lumen = require "lumen"
require "lumen.models"
local dir = arg[1]
local ctx = assert(lumen.context())
for i = 2, #arg do
  local name = arg[i]
  local x = assert(lumen.npy_load(dir .. "/" .. name .. ".in.npy"))
  local want = assert(lumen.npy_load(dir .. "/" .. name .. ".out.npy")).data
  local m, err = lumen.onnx_load(dir .. "/" .. name .. ".onnx", { ctx = ctx, shapes = { input = x.shape } })
  local out = m and m:run({ input = x })
  if not out then
    print(name, "failed", tostring(err))
  else
    local got, worst, share = out.output:read(), 0, 0
    for k = 1, #want do
      local d = math.abs(got[k] - want[k])
      if d ~= d then worst, share = math.huge, math.huge break end
      worst = math.max(worst, d)
      share = math.max(share, d / (1e-4 + 1e-3 * math.abs(want[k])))
    end
    print(name, string.format("%.3g", worst), string.format("%.4f", share))
  end
  collectgarbage()
end
EOF
# shellcheck disable=SC2086
"$build/lumen" run "$tmp/lumen.lua" "$dir" $names >"$tmp/lumen.txt"
# shellcheck disable=SC2086
node "$root/bench/peers/ort_parity.js" "$dir" $names |
    sed 's/.*"model":"\([^"]*\)","maxabs":\([^,]*\),"share":\([^,]*\),.*/\1 \2 \3/' >"$tmp/ort.txt"

echo "| model | lumen max abs | lumen share | ORT max abs | ORT share | lumen / ORT |"
echo "|---|---|---|---|---|---|"
awk 'NR == FNR { m[$1] = $2; s[$1] = $3; next }
     { printf "| %s | %s | %s | %.3g | %.4f | %s |\n", $1, m[$1], s[$1], $2, $3,
       ($3 > 0 && s[$1] != "failed") ? sprintf("%.2f", s[$1] / $3) : "-" }' \
    "$tmp/lumen.txt" "$tmp/ort.txt"
