-- lumen info MODEL [--size HxW] [--batch N]: what a model is before running it: its package
-- (classes, preprocessing, intended use, weights status), its inputs and outputs, parameter
-- count, MACs, node count after the load-time passes and the memory plan.
local lumen = require "lumen"
local models = require "lumen.models"
local cli = require "lumen.cli"

local M = {
  summary = "show a model package and a model's inputs, outputs, parameters, MACs, memory plan",
  usage = [[usage: lumen info MODEL [--head F] [--size HxW] [--batch N] [--device D] [--weights F]
                  [--random SEED]

MODEL is a model package or network: a name under models/, a package folder (with head.lua), a
.lua model definition or head file, or an ONNX file (ONNX op counts are shown too). When MODEL
has a package head (or --head gives one), prints the package first: door, classes and which are
acceptable, input and preprocessing, outputs, temperature, thresholds, rules, intended use and
weights status. Then builds the network for the input size (default: the head's, else the
model's own) and prints its inputs and outputs with shapes, the parameter count (PyTorch's:
buffers such as BatchNorm statistics excluded), multiply-accumulates, the node count after the
load-time passes, and the memory plan: planned bytes of intermediate buffers next to the naive
sum (one buffer per value) and the largest set live at once.

  --head F         a package head file for MODEL
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

-- The package section: what the head says (plain data, nothing loaded).
local function print_package(w)
  local h = w.head
  local function line(k, v) print(string.format("%-9s %s", k, v)) end
  line("package", string.format("%s (%s door: %s; head %s)", w.name, w.door, w.model_file,
    w.head_path))
  if h.description then line("", h.description) end
  local ws = h.weights
  line("weights", ws.status .. (ws.note and (" - " .. ws.note) or "")
    .. (ws.status ~= "validated" and " [NOT VALIDATED: not for clinical use]" or ""))
  if h.intended_use then line("use", h.intended_use) end
  if h.classes then
    local acc, parts = {}, {}
    for _, c in ipairs(h.acceptable) do acc[c] = true end
    for i, c in ipairs(h.classes) do
      parts[i] = string.format("%d %s%s", i - 1, c, acc[c] and " (acceptable)" or "")
    end
    line("classes", table.concat(parts, ", "))
  end
  local inp = h.input
  local steps = {}
  for i, st in ipairs(inp.preprocess) do
    local opts = {}
    for k, v in pairs(st) do
      if k ~= 1 then
        opts[#opts + 1] = k .. "=" .. (type(v) == "table" and table.concat(v, "x") or tostring(v))
      end
    end
    table.sort(opts)
    steps[i] = st[1] .. (#opts > 0 and ("(" .. table.concat(opts, ", ") .. ")") or "")
  end
  line("input", string.format("%s, %s, %d channel%s; preprocessing: %s",
    inp.name or "(first input)", inp.size and table.concat(inp.size, "x") or "the network's size",
    inp.channels,
    inp.channels == 1 and "" or "s", table.concat(steps, " -> ")))
  line("outputs", string.format("class logits %s, segmentation %s%s",
    h.outputs.classes or "(none)", h.outputs.segmentation or "(none)", h.outputs.segmentation and
    string.format(" (%s, %s)", h.segmentation.label, h.segmentation.activation) or ""))
  line("calibr.", string.format("temperature %g (probabilities = softmax(logits / T))",
    h.temperature))
  local ks, parts = {}, {}
  for k in pairs(h.thresholds) do ks[#ks + 1] = k end
  table.sort(ks)
  for _, k in ipairs(ks) do parts[#parts + 1] = k .. " " .. tostring(h.thresholds[k]) end
  line("thresh.", table.concat(parts, ", "))
  local rules = {}
  for i, r in ipairs(h.rules) do
    rules[i] = r.name .. (r.name ~= r.kind and (" (" .. r.kind .. ")") or "")
  end
  line("rules", table.concat(rules, ", "))
end

-- An ONNX file: what `lumen infer --info` prints, then the passes and the memory plan on the
-- device (its own input sizes, or those the package head gives for symbolic dims).
local function onnx_info(path, opts, shapes)
  local g, info, code = lumen.onnx_graph(path, shapes and { shapes = shapes } or nil)
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
                                      weights = "string", random = "number", head = "string" })
  if not opts then return cli.usage_error("info", pos) end
  if #pos ~= 1 then return cli.usage_error("info", "give exactly one MODEL") end
  local name = pos[1]
  local size
  if opts.size then
    size = require("lumen.shape").parse_hw(opts.size)
    if not size then
      return cli.usage_error("info", "--size needs HxW, got '" .. opts.size .. "'")
    end
  end
  local w, werr = require("lumen.package").resolve(name, opts.head)
  if not w and (opts.head or not name:match("%.onnx$")) then
    return cli.usage_error("info", werr)
  end
  if w and w.head then
    print_package(w)
    name = w.model_file
    size = size or w.head.input.size
    if w.door == "lua" and not opts.weights then opts.weights = w.weights end
  elseif w then
    name = w.model_file
  end
  if name:match("%.onnx$") then
    local shapes
    if size and w and w.head and w.head.input.name then
      shapes = { [w.head.input.name] = { 1, w.head.input.channels, size[1], size[2] } }
    end
    return onnx_info(name, opts, shapes)
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
    for _, t in ipairs(m.module.inputs or {}) do
      io_list[#io_list + 1] = { "input", t.name, t.shape }
    end
  end
  for _, r in ipairs(io_list) do
    print(string.format("%-9s %-12s f32%s", r[1], r[2], require("lumen.shape").str(r[3])))
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
