-- lumen infer MODEL.onnx --input NAME=FILE.npy ...: runs an ONNX model on .npy inputs and
-- writes every graph output to DIR/<output name>.npy. The input shapes come from the .npy
-- files (or --shape): symbolic dims of the model take them, fixed dims must match.
local lumen = require "lumen"
local cli = require "lumen.cli"

local M = {
  summary = "run an ONNX model on .npy inputs, write .npy outputs",
  usage = [[usage: lumen infer MODEL.onnx --input NAME=FILE.npy [--input ...] [options]

Loads MODEL.onnx (opsets 7-17, as PyTorch exports them), feeds each graph input from a
float32 (or float64) C-order .npy file and writes each graph output to DIR/<output>.npy
(float32, C order). Input shapes are taken from the .npy files: the model's symbolic dims
(dim_param) take them, its fixed dims must match (else an error naming the input, expected
and given shapes).

  --input NAME=FILE   a graph input and its .npy file (repeat for each input)
  --shape NAME=DIMS   plan input NAME at DIMS (e.g. input=1x3x224x224; repeat for each input),
                      for --info on a model with symbolic dims
  --device D          device selector: "P:D", gpu, cpu, or a name substring (default:
                      $LUMEN_DEVICE, else the first GPU, accelerator, CPU)
  --out DIR           where to write the outputs (default: .)
  --precision P       fp32 (default) or fp16: weights and activations stored as half,
                      arithmetic in fp32; inputs and outputs stay float32 .npy files
  --profile           also print the 15 slowest nodes (name, op, shape, ms, share, GFLOP/s)
  --info              print inputs, outputs, op counts, parameters and MACs; run nothing

Exit codes: 0 ok, 2 usage error (missing, unknown or mis-shaped input), 3 load or run failure.]],
}

-- "--input NAME=FILE" and "--shape NAME=DIMS" may repeat, which cli.parse does not keep: take
-- those out first. Returns {input name = file, [i] = name}, {input name = {dims}}, the rest.
local function split_inputs(args)
  local inputs, shapes, rest = {}, {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    local flag, val = a:match("^%-%-(%a+)=(.*)$")
    if a == "--input" or a == "--shape" then
      flag = a:sub(3)
      i = i + 1
      val = args[i]
      if val == nil then return nil, "--" .. flag .. " needs NAME=" .. (flag == "input" and "FILE" or "DIMS") end
    end
    if val and (flag == "input" or flag == "shape") then
      local name, v = val:match("^([^=]+)=(.+)$")
      if not name then return nil, "--" .. flag .. " needs NAME=VALUE, got '" .. val .. "'" end
      if flag == "input" then
        if inputs[name] then return nil, "input '" .. name .. "' given twice" end
        inputs[name] = v
        inputs[#inputs + 1] = name
      else
        local dims = {}
        for d in v:gmatch("[^x,]+") do
          local n = math.tointeger(tonumber(d))
          if not n or n < 0 then return nil, "--shape " .. val .. ": dims are integers like 1x3x224x224" end
          dims[#dims + 1] = n
        end
        shapes[name] = dims
      end
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  return inputs, shapes, rest
end

local function fmt_shape(s) return "[" .. table.concat(s, ",") .. "]" end

-- A file name for an output: ONNX names may hold '/' or ':'.
local function file_name(name) return (name:gsub("[^%w%._%-]", "_")) end

function M.print_info(path, g, info)
  print(string.format("model     %s", path))
  print(string.format("producer  %s   ir_version %d   opset %d   nodes %d", info.producer,
    info.ir_version, info.opset, info.nodes))
  for _, i in ipairs(info.inputs) do
    local dyn = i.dynamic and #i.dynamic > 0 and ("   symbolic dims " .. table.concat(i.dynamic, ",")) or ""
    print(string.format("input     %-24s %s%s", i.name, fmt_shape(i.shape), dyn))
  end
  for _, o in ipairs(info.outputs) do
    print(string.format("output    %-24s %s", o.name, fmt_shape(o.shape)))
  end
  local s = g:stats()
  print(string.format("params    %d   MACs %.3f G   lumen nodes %d", info.parameters,
    s.macs / 1e9, s.nodes))
  local ops = {}
  for _, t in ipairs(info.op_types) do ops[#ops + 1] = t end
  table.sort(ops, function(a, b)
    return a.count > b.count or (a.count == b.count and a.type < b.type)
  end)
  print("op counts (ONNX):")
  for _, t in ipairs(ops) do print(string.format("  %-24s %5d", t.type, t.count)) end
end

local function print_profile(prof)
  local total = 0
  for _, p in ipairs(prof) do total = total + p.ms end
  local rows = table.move(prof, 1, #prof, 1, {})
  table.sort(rows, function(a, b) return a.ms > b.ms end)
  print(string.format("%-40s %-14s %-20s %9s %6s %9s", "node", "op", "shape", "ms", "share",
    "GFLOP/s"))
  for i = 1, math.min(15, #rows) do
    local p = rows[i]
    local gf = p.ms > 0 and p.flops / (p.ms * 1e6) or 0
    print(string.format("%-40s %-14s %-20s %9.3f %5.1f%% %9.2f", p.name:sub(-40), p.op,
      fmt_shape(p.shape), p.ms, total > 0 and 100 * p.ms / total or 0, gf))
  end
  print(string.format("total %.3f ms over %d nodes", total, #prof))
end

function M.run(args)
  local inputs, given, rest = split_inputs(args)
  if not inputs then return cli.usage_error("infer", given) end
  local opts, pos = cli.parse(rest, { device = "string", out = "string", profile = "boolean",
    info = "boolean", precision = "string" })
  if not opts then return cli.usage_error("infer", pos) end
  local precision = opts.precision or "fp32"
  if precision ~= "fp32" and precision ~= "fp16" then
    return cli.usage_error("infer", "--precision must be fp32 or fp16")
  end
  local model = pos[1]
  if not model then return cli.usage_error("infer", "missing MODEL.onnx") end
  if #pos > 1 then return cli.usage_error("infer", "unexpected argument '" .. pos[2] .. "'") end

  -- inputs: shapes from the .npy files
  local arrays, shapes = {}, given
  for _, name in ipairs(inputs) do
    local a, err = lumen.npy_load(inputs[name])
    if not a then return cli.usage_error("infer", "input '" .. name .. "': " .. err) end
    arrays[name], shapes[name] = a, a.shape
  end

  local g, info, code = lumen.onnx_graph(model, { shapes = shapes })
  if not g then
    if code == "LUMEN_EINVAL" then return cli.usage_error("infer", info) end
    return cli.runtime_error("infer", info)
  end
  if opts.info then
    M.print_info(model, g, info)
    return cli.EXIT_OK
  end
  local names = {}
  for _, i in ipairs(info.inputs) do
    names[#names + 1] = i.name
    if not arrays[i.name] then
      return cli.usage_error("infer", string.format("missing --input %s=FILE.npy (shape %s; inputs: %s)",
        i.name, fmt_shape(i.shape), table.concat((function()
          local t = {}
          for _, j in ipairs(info.inputs) do t[#t + 1] = j.name end
          return t
        end)(), ", ")))
    end
  end

  local ctx, err = require("lumen.selfcheck").context(opts.device)
  if not ctx then return cli.runtime_error("infer", err) end
  local m
  m, err = ctx:model(g, { precision = precision })
  if not m then return cli.runtime_error("infer", err) end
  local note = m:plan().precision_note
  if note then io.stderr:write("lumen infer: warning: ", note, "\n") end
  for _, name in ipairs(names) do
    local ok, werr = m:tensor(name):write(arrays[name].data)
    if not ok then return cli.runtime_error("infer", "input '" .. name .. "': " .. werr) end
  end
  local ok, rerr = m:run()
  if not ok then return cli.runtime_error("infer", rerr) end

  local dir = opts.out or "."
  if dir ~= "." then
    local mok, merr = lumen.mkdir(dir)
    if not mok then return cli.runtime_error("infer", merr) end
  end
  for _, o in ipairs(info.outputs) do
    local path = dir .. "/" .. file_name(o.name) .. ".npy"
    local sok, serr = m:tensor(o.name):save_npy(path)
    if not sok then return cli.runtime_error("infer", serr) end
    print(string.format("%s %s -> %s", o.name, fmt_shape(m:tensor(o.name):shape()), path))
  end
  if opts.profile then
    local prof, perr = m:profile()
    if not prof then return cli.runtime_error("infer", perr) end
    print_profile(prof)
  end
  return cli.EXIT_OK
end

return M
