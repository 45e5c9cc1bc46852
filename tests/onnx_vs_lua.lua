-- onnx_vs_lua.lua - the two front doors give the same numbers (design.md): a network exported
-- to ONNX from its PyTorch reference and loaded with lumen.onnx_graph, against the same network
-- defined in Lua (models/<name>/model.lua) with the same weights, on the same input.
-- |onnx - lua| <= 1e-4 + 1e-3 |lua| per element; one line per model output; exit 1 on failure.
--
--   angio_qa: models/angio_qa/angio_qa.onnx (export.py, 512x512) with the shipped weights
--   unet:     models/unet/fixtures/bilinear_64.onnx (export_onnx.py) with its fixture weights
local lumen = require "lumen"
require "lumen.models"

local root = require("lumen.models").models_dir()
local ctx = assert(lumen.context())
local passed, failed = 0, 0

local function read_json(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return require("lumen.json").decode(text)
end

local cases = {
  { model = "angio_qa", onnx = root .. "/angio_qa/angio_qa.onnx", size = { 512, 512 },
    input = root .. "/angio_qa/fixtures/angio_512_a_input.npy", outputs = { "seg_logit", "cls_logit" } },
  { model = "unet", onnx = root .. "/unet/fixtures/bilinear_64.onnx", size = { 64, 64 },
    weights = root .. "/unet/fixtures/bilinear_64.safetensors",
    config = read_json(root .. "/unet/fixtures/bilinear_64_config.json"),
    input = root .. "/unet/fixtures/bilinear_64_input.npy", outputs = { "logits" } },
}

for _, c in ipairs(cases) do
  local x = assert(lumen.npy_load(c.input))
  local lua_model = assert(lumen.load_model(c.model, { ctx = ctx, size = c.size, config = c.config,
    weights = c.weights }))
  local lua_out = assert(lua_model:run({ [lua_model.inputs[1].name] = x }))
  local g, info = lumen.onnx_graph(c.onnx, { shapes = { image = x.shape } })
  if not g then
    print(string.format("FAIL %-9s onnx load: %s", c.model, tostring(info)))
    failed = failed + 1
  else
    local m = assert(ctx:model(g))
    assert(m:tensor("image"):write(x.data))
    assert(m:run())
    for _, name in ipairs(c.outputs) do
      local a, b = assert(m:tensor(name)):read(), lua_out[name]:read()
      local worst, bad = 0, nil
      for i = 1, #b do
        local d = math.abs(a[i] - b[i])
        if d > worst then worst = d end
        if not bad and not (d <= 1e-4 + 1e-3 * math.abs(b[i])) then bad = i end
      end
      local ok = #a == #b and not bad
      print(string.format("%-4s %-9s %-10s onnx (%d nodes, opset %d) vs lua: maxabs=%.3g%s", ok and "OK" or "FAIL",
        c.model, name, info.nodes, info.opset, worst,
        bad and string.format(" (first bad element %d: %.7g vs %.7g)", bad, a[bad], b[bad]) or ""))
      if ok then passed = passed + 1 else failed = failed + 1 end
    end
  end
end
print(string.format("%d passed, %d failed", passed, failed))
return failed == 0 and 0 or 1
