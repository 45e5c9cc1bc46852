-- lumen info MODEL [--size HxW] [--batch N]: what a model is before running it: its inputs and
-- outputs, parameter count, MACs, node count after the load-time passes and the memory plan.
local lumen = require "lumen"
local shapes = require "lumen.shape"
local models = require "lumen.models"
local cli = require "lumen.cli"

local M = {
  summary = "show a model's inputs, outputs, parameters, MACs and memory plan",
  usage = [[usage: lumen info MODEL [--size HxW] [--batch N] [--device D] [--weights F] [--random SEED]

MODEL is a model name under models/ (models/<name>/model.lua), a path to a .lua model
definition, or an ONNX file (its own fixed input sizes; ONNX op counts are shown too). Builds the
model for the input size (default: the model's own) and prints its inputs and outputs with shapes, the parameter
count (PyTorch's: buffers such as BatchNorm statistics excluded), multiply-accumulates, the
node count after the load-time passes, and the memory plan: planned bytes of intermediate
buffers next to the naive sum (one buffer per value) and the largest set live at once.

  --size HxW       input size (e.g. 512x512, or 512)
  --batch N        batch size (default 1)
  --device D       P:D index, gpu, cpu, accelerator, or a vendor/name substring
  --weights F      a safetensors file (default: models/<name>/<name>.safetensors if present)
  --random SEED    seeded random weights instead of the weight file]],
}


-- 3433986 -> "3,433,986"
local function thousands(n)
  local s = string.format("%d", n)
  return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

local function print_plan(p)
  print(string.format("memory    planned %s in %d buffers, naive sum %s, largest live set %s",
                      lumen.format_bytes(p.planned_bytes), p.buffers,
                      lumen.format_bytes(p.naive_bytes), lumen.format_bytes(p.live_peak)))
  print(string.format("          weights %s, inputs and outputs %s",
                      lumen.format_bytes(p.weight_bytes), lumen.format_bytes(p.io_bytes)))
end

-- An ONNX file: what `lumen infer --info` prints, then the passes and the memory plan on the
-- device (its own input sizes; the file's fixed dims).
local function onnx_info(path, opts)
  local g, info, code = lumen.onnx_graph(path)
  if not g then
    if code == "LUMEN_EINVAL" then return cli.usage_error("info", info) end
    return cli.runtime_error("info", info)
  end
  require("lumen.cmd.infer").print_info(path, g, info)
  local built = g:stats().nodes
  local ctx, err = lumen.context(opts.device)
  if not ctx then return cli.runtime_error("info", err) end
  local m, merr = ctx:model(g)
  if not m then return cli.runtime_error("info", merr) end
  print(string.format("nodes     %d after passes (%d as built)", m:stats().nodes, built))
  print_plan(m:plan())
  return cli.EXIT_OK
end

function M.run(args)
  local opts, pos = cli.parse(args, { size = "string", batch = "number", device = "string",
                                      weights = "string", random = "number" })
  if not opts then return cli.usage_error("info", pos) end
  if #pos ~= 1 then return cli.usage_error("info", "give exactly one MODEL") end
  local name = pos[1]
  if name:match("%.onnx$") then return onnx_info(name, opts) end
  local size
  if opts.size then
    size = shapes.parse_hw(opts.size)
    if not size then return cli.usage_error("info", "--size needs HxW, got '" .. opts.size .. "'") end
  end
  local lopts = { size = size, batch = opts.batch and math.tointeger(opts.batch),
                  device = opts.device, weights = opts.weights,
                  random = opts.random and math.tointeger(opts.random) }
  local m, err = models.load_model(name, lopts)
  local device_err
  if not m then
    -- Without a device, what the graph alone tells is still worth printing.
    lopts.graph_only = true
    local g = models.load_model(name, lopts)
    if not g then return cli.runtime_error("info", err) end
    m, device_err = g, err
  end

  print(string.format("model     %s (%s)", m.name, m.file))
  print(string.format("weights   %s", m.weights or string.format("random (seed %d)", m.seed)))
  if m.ctx then print(string.format("device    %s", m.ctx:device().name)) end
  local io_list = {}
  if m.inputs then
    for _, t in ipairs(m.inputs) do io_list[#io_list + 1] = { "input", t.name, t.shape } end
    for _, t in ipairs(m.outputs) do io_list[#io_list + 1] = { "output", t.name, t.shape } end
  else
    for _, t in ipairs(m.module.inputs or {}) do io_list[#io_list + 1] = { "input", t.name, t.shape } end
  end
  for _, r in ipairs(io_list) do
    print(string.format("%-9s %-12s f32%s", r[1], r[2], shapes.str(r[3])))
  end
  local sz = m.config and m.config.size
  print(string.format("params    %s", thousands(m.params)))
  print(string.format("MACs      %.3f G%s", m.macs / 1e9,
                      type(sz) == "table" and " at " .. table.concat(sz, "x") or ""))
  if device_err then
    print(string.format("nodes     %d as built (passes and memory plan need a device)",
                        m.graph_stats.nodes))
    return cli.runtime_error("info", device_err)
  end
  print(string.format("nodes     %d after passes (%d as built)", m.stats.nodes,
                      m.graph_stats.nodes))
  print_plan(m.plan)
  return cli.EXIT_OK
end

return M
