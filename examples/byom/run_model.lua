-- examples/byom/run_model.lua: a model from either front door is one runnable object.
--
--   build/lumen run examples/byom/run_model.lua
--
-- lumen.onnx_load(path, opts) and lumen.load_model(name_or_path, opts) return the same kind of
-- object: m.inputs / m.outputs ({name=, shape=} lists), m.ctx, and m:run{input name = data} ->
-- {output name = lumen.Tensor}, where data is a host array (a flat Lua array or an npy_load
-- table) or a device tensor (copied on the device). The returned tensors belong to the model
-- and are overwritten by the next run: :read() them. This script runs tiny_seg.onnx (written by
-- export_tiny_seg.py; its input has dynamic height and width, planned here at 128 x 128) both
-- ways and checks lumen against PyTorch's output (|a-b| <= 1e-4 + 1e-3 |b|). Returns 1 on a
-- mismatch.
local lumen = require "lumen"

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "examples/byom"
local x = assert(lumen.npy_load(here .. "/fixtures/input.npy"))       -- {shape=, data=}
local want = assert(lumen.npy_load(here .. "/fixtures/vessel_logit.npy"))

-- the ONNX door: symbolic dims get their size from `shapes` (or `size = {H, W}`)
local m = assert(lumen.onnx_load(here .. "/tiny_seg.onnx",
  { shapes = { frame = { 1, 1, 128, 128 } } }))
print(string.format("onnx_load:  input %s [%s], output %s [%s]", m.inputs[1].name,
  table.concat(m.inputs[1].shape, ","), m.outputs[1].name, table.concat(m.outputs[1].shape, ",")))
local out = assert(m:run({ frame = x }))                                 -- a host array in
local a = out.vessel_logit:read()

-- the same object from lumen.load_model, on the same device, fed a device tensor
local m2 = assert(lumen.load_model(here .. "/tiny_seg.onnx", { ctx = m.ctx, size = { 128, 128 } }))
local t = assert(m.ctx:tensor({ 1, 1, 128, 128 }, "frame", x.data))
local b = assert(m2:run({ frame = t })).vessel_logit:read()

local failed = 0
for name, got in pairs({ onnx_load = a, load_model = b }) do
  local worst, bad = 0, nil
  for i = 1, #want.data do
    local d = math.abs(got[i] - want.data[i])
    if d > worst then worst = d end
    -- written as not (d <= tol) so that a NaN fails too
    if not bad and not (d <= 1e-4 + 1e-3 * math.abs(want.data[i])) then -- luacheck: ignore 581
      bad = i
    end
  end
  local ok = #got == #want.data and not bad
  if not ok then failed = failed + 1 end
  print(string.format("%-4s %-10s vs PyTorch: %d values, maxabs=%.3g", ok and "OK" or "FAIL", name,
    #got, worst))
end
return failed == 0 and 0 or 1
