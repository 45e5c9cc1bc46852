-- onnx_models.lua - torchvision networks exported to ONNX (tests/onnx_models/export.py: small
-- configurations of the standard classes, seeded weights) against PyTorch's outputs on the same
-- input: |lumen - torch| <= 1e-4 + 1e-3 |torch| per element. One line per model and input size
-- with the worst absolute error and the share of the tolerance it uses (1 = at the limit).
-- Models with symbolic input dims also run at a second size (re-planned, cached per shape);
-- models with fixed dims must refuse another shape, naming input, expected and given shapes.
--
--   lumen run tests/onnx_models.lua [DIR]     (DIR: where the .onnx/.npy files are)
local lumen = require "lumen"
require "lumen.models"

local dir = arg and arg[1] or "tests/onnx_models"
local ctx = assert(lumen.context())
local passed, failed = 0, 0

local function check(ok, fmt, ...)
  print(string.format("%-4s " .. fmt, ok and "OK" or "FAIL", ...))
  if ok then passed = passed + 1 else failed = failed + 1 end
end

-- worst |a - b| and the largest |a - b| / (atol + rtol |b|) over all elements
local function errors(a, b)
  local worst, share = 0, 0
  for i = 1, #b do
    local d = math.abs(a[i] - b[i])
    if d ~= d then return math.huge, math.huge end
    if d > worst then worst = d end
    local s = d / (1e-4 + 1e-3 * math.abs(b[i]))
    if s > share then share = s end
  end
  return worst, share
end

local shape_str = require("lumen.shape").str

-- name, whether the export has symbolic dims (then NAME.in2/out2.npy exist)
local models = {
  { "mobilenet_v3_tiny", true },
  { "vit_tiny", false },
  { "vit_tiny_op17", false },
  { "swin_t_tiny", false },
  { "swin_s_tiny", false },
  { "lraspp_tiny", true },
}

for _, spec in ipairs(models) do
  local name, dynamic = spec[1], spec[2]
  local path = dir .. "/" .. name .. ".onnx"
  local x = assert(lumen.npy_load(dir .. "/" .. name .. ".in.npy"))
  local want = assert(lumen.npy_load(dir .. "/" .. name .. ".out.npy"))
  local t0 = os.clock()
  local m, err = lumen.onnx_load(path, { ctx = ctx, shapes = { input = x.shape } })
  if not m then
    check(false, "%-18s load: %s", name, tostring(err))
  else
    local out, rerr = m:run({ input = x })
    if not out then
      check(false, "%-18s run: %s", name, rerr)
    else
      local got = out.output:read()
      local worst, share = errors(got, want.data)
      check(#got == #want.data and share <= 1,
        "%-18s %-14s maxabs=%.3g share=%.3f (%d lumen nodes, %.1f s)", name, shape_str(x.shape),
        worst, share, m.stats.nodes, os.clock() - t0)
    end
    if dynamic then
      local x2 = assert(lumen.npy_load(dir .. "/" .. name .. ".in2.npy"))
      local want2 = assert(lumen.npy_load(dir .. "/" .. name .. ".out2.npy"))
      local out2, err2 = m:run({ input = x2 })
      if not out2 then
        check(false, "%-18s %s: %s", name, shape_str(x2.shape), err2)
      else
        local worst, share = errors(out2.output:read(), want2.data)
        check(share <= 1, "%-18s %-14s maxabs=%.3g share=%.3f (re-planned for the second shape)",
          name, shape_str(x2.shape), worst, share)
        -- back to the first shape: the cached plan, same numbers
        local again = assert(m:run({ input = x }))
        local _, s1 = errors(again.output:read(), want.data)
        check(s1 <= 1, "%-18s %-14s back to the first shape from the cache", name,
          shape_str(x.shape))
      end
    else
      local other = { x.shape[1] + 1, x.shape[2], x.shape[3], x.shape[4] }
      local bad, msg = lumen.onnx_load(path, { ctx = ctx, shapes = { input = other } })
      local text = tostring(msg)
      check(bad == nil and text:find("input 'input'", 1, true)
        and text:find(shape_str(x.shape), 1, true) and text:find(shape_str(other), 1, true),
        "%-18s fixed dims refuse %s: %s", name, shape_str(other), text)
    end
  end
  collectgarbage()
end
-- the CLI: `lumen infer --info --shape` plans a model with symbolic dims at the given shape and
-- refuses another shape for fixed dims (exit 2, a usage error)
local infer = require "lumen.cmd.infer"
local code = infer.run({ dir .. "/mobilenet_v3_tiny.onnx", "--info", "--shape", "input=1x3x40x56" })
check(code == 0, "%-18s lumen infer --info --shape input=1x3x40x56 exits %s", "mobilenet_v3_tiny",
  tostring(code))
code = infer.run({ dir .. "/vit_tiny.onnx", "--info", "--shape", "input=1x3x40x40" })
check(code == 2, "%-18s lumen infer --info --shape input=1x3x40x40 (fixed dims) exits %s",
  "vit_tiny", tostring(code))
print(string.format("%d passed, %d failed", passed, failed))
return failed == 0 and 0 or 1
