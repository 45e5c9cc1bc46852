-- lumen.models: loading a model definition (models/<name>/model.lua, or any .lua file) with its
-- weights, or an ONNX file, building its graph for one input size and compiling it for a device.
-- Both front doors return the same runnable object.
--
--   local lumen = require "lumen"
--   local m = assert(lumen.load_model("angio_qa", { size = { 64, 64 }, device = "cpu" }))
--   local out = assert(m:run({ image = lumen.npy_load("x_input.npy") }))
--   print(m.params, m.stats.macs, out.cls_logit:read()[1])
--   local o = assert(lumen.onnx_load("models/angio_qa/angio_qa.onnx", { ctx = m.ctx }))
--   local out2 = assert(o:run({ image = x }))            -- same outputs, same names
--
-- A model definition file returns a constructor: `function(config) -> nn module`. The module
-- sets self.config (the resolved configuration, defaults filled in), self.inputs (a list of
-- {name=, shape=} for config.size and config.batch) and self.outputs (output names). Weights
-- are models/<name>/<name>.safetensors when that file exists, unless opts.random or
-- opts.weights says otherwise. models/ is found from $LUMEN_MODELS_DIR, else next to the lua/
-- folder on package.path.
local lumen = require "lumen"
local nn = require "lumen.nn"

local M = {}

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- The models/ folder: $LUMEN_MODELS_DIR, else <dir>/../models for the package.path entry
-- that holds lumen/nn.lua (the source tree's lua/ folder). nil when neither is found.
function M.models_dir()
  local env = os.getenv("LUMEN_MODELS_DIR")
  if env and env ~= "" then return env end
  for template in package.path:gmatch("[^;]+") do
    local dir = template:match("^(.*)/%?%.lua$")
    if dir and exists(dir .. "/lumen/nn.lua") then
      local parent = dir:match("^(.*)/[^/]+$") or "."
      return parent .. "/models"
    end
  end
  return nil
end

-- Resolves a model name or path to {file=, dir=, name=, onnx=}; nil, msg when it cannot be used.
function M.resolve(name_or_path)
  if name_or_path:match("%.onnx$") then
    if not exists(name_or_path) then return nil, "no such model file: " .. name_or_path end
    local dir = name_or_path:match("^(.*)/[^/]*$") or "."
    return { file = name_or_path, dir = dir, name = name_or_path:match("([^/]+)%.onnx$"),
             onnx = true }
  end
  if name_or_path:match("%.lua$") then
    if not exists(name_or_path) then return nil, "no such model file: " .. name_or_path end
    local dir = name_or_path:match("^(.*)/[^/]*$") or "."
    local name = name_or_path:match("([^/]+)%.lua$")
    if name == "model" then name = dir:match("([^/]+)$") or name end
    return { file = name_or_path, dir = dir, name = name }
  end
  if not name_or_path:match("^[%w_%-]+$") then
    return nil, "'" .. name_or_path .. "' is neither a model name nor a .lua file"
  end
  local root = M.models_dir()
  if not root then return nil, "cannot find the models/ folder (set LUMEN_MODELS_DIR)" end
  local dir = root .. "/" .. name_or_path
  local file = dir .. "/model.lua"
  if not exists(file) then
    return nil, string.format("no model '%s' (%s does not exist)", name_or_path, file)
  end
  return { file = file, dir = dir, name = name_or_path }
end

-- Runs a definition file and returns its constructor | nil, msg.
function M.definition(file)
  local chunk, err = loadfile(file)
  if not chunk then return nil, err end
  local ok, ctor = pcall(chunk)
  if not ok then return nil, file .. ": " .. tostring(ctor) end
  if type(ctor) ~= "function" then
    return nil, file .. ": a model definition must return a constructor function(config)"
  end
  return ctor
end

local Loaded = {}
Loaded.__index = Loaded

local function is_ctx(v)
  return type(v) == "userdata" and tostring(v):match("^lumen%.Context") ~= nil
end

local function context_of(opts)
  local ctx = opts.ctx or (is_ctx(opts.device) and opts.device) or nil
  if ctx then return ctx end
  return lumen.context(opts.device)
end

-- "name=1x3x224x224;..." for the input list {name=, shape=}: a cache key.
local function shape_key(list)
  local parts = {}
  for _, i in ipairs(list) do parts[#parts + 1] = i.name .. "=" .. table.concat(i.shape, "x") end
  return table.concat(parts, ";")
end

-- ctx:model's options from a loader's opts: opts.passes plus opts.precision ("fp32" or "fp16").
local function model_options(opts)
  if not opts.precision then return opts.passes end
  local o = {}
  for k, v in pairs(opts.passes or {}) do o[k] = v end
  o.precision = opts.precision
  return o
end

-- The ONNX front door: lumen.onnx_load(path [, opts]) -> loaded model, info | nil, msg, status.
-- Returns the same runnable object as lumen.load_model (m:run{...}, m.inputs, m.outputs, ...).
-- opts: ctx | device, shapes = {input name = {dims}} (for symbolic dims, or to plan the model at
-- another size), size = {H, W} (the first 4-D input planned at this height and width),
-- symbolic_size = {H, W} (the same, but only for an input whose dims are symbolic), passes,
-- precision ("fp32" or "fp16": see lumen.load_model), graph_only, max_depth, max_elements
-- (lumen.onnx_graph's limits). info is lumen.onnx_graph's.
function M.onnx_load(path, opts)
  opts = opts or {}
  local gopts = { shapes = opts.shapes, max_depth = opts.max_depth,
                  max_elements = opts.max_elements }
  local g, info, code = lumen.onnx_graph(path, gopts)
  local at = opts.size or opts.symbolic_size
  if not g and not opts.shapes and at then
    -- symbolic dims: plan the named input at the requested size
    local name = tostring(info):match("input '([^']+)': dim %d+ is symbolic")
    if name then
      gopts.shapes = { [name] = { 1, opts.channels or 1, at[1], at[2] } }
      g, info, code = lumen.onnx_graph(path, gopts)
    end
  elseif g and not opts.shapes and opts.size then
    local first = info.inputs[1]
    local fs = first and first.shape
    if fs and #fs == 4 and (fs[3] ~= opts.size[1] or fs[4] ~= opts.size[2]) then
      g:free()
      gopts.shapes = { [first.name] = { fs[1], fs[2], opts.size[1], opts.size[2] } }
      g, info, code = lumen.onnx_graph(path, gopts)
    end
  end
  if not g then return nil, info, code end
  local built = g:stats()
  local self = setmetatable({ name = path:match("([^/]+)%.onnx$") or path, file = path,
                              weights = path, onnx = info, params = info.parameters,
                              graph_stats = built, macs = built.macs }, Loaded)
  if opts.graph_only then
    g:free()
    self.inputs, self.outputs = info.inputs, info.outputs
    return self, info
  end
  local ctx, err = context_of(opts)
  if not ctx then
    g:free()
    return nil, err
  end
  local model, merr = ctx:model(g, model_options(opts)) -- consumes g
  if not model then return nil, self.name .. ": " .. merr end
  self.ctx, self.model = ctx, model
  self.inputs, self.outputs = model:inputs(), model:outputs()
  self.stats = model:stats()
  self.plan = model:plan()
  -- symbolic input dims: later inputs of other shapes re-plan the model (cached per shape)
  for _, i in ipairs(info.inputs) do
    if #i.dynamic > 0 then
      self.replan = { gopts = gopts, passes = model_options(opts), cache = {} }
      self.replan.cache[shape_key(info.inputs)] = { model = model, info = info }
      break
    end
  end
  return self, info
end

-- lumen.load_model(name_or_path [, opts]) -> loaded model | nil, msg.
-- opts: ctx (a lumen.Context) or device (a selector or a Context; default: the best device),
--   size = {H, W} (or a number, or {D, H, W}), batch = N, config = {...} (more constructor
--   arguments), weights = path, random = seed (or true: seed 0) to use seeded random weights,
--   passes = {no_fold_bn = true, ...} (ctx:model options), precision = "fp16" (weights and
--   activations stored as half, arithmetic in fp32; "fp32" by default; plan.precision says what
--   runs and plan.precision_note why fp16 fell back to fp32), graph_only = true to stop before
--   the device (no model, no plan: for counting parameters and MACs without OpenCL).
-- The result has: name, file, config, module (the nn module), model (the lumen.Model), ctx,
--   inputs / outputs ({name=, shape=} lists), params (PyTorch's count), graph_stats (as built),
--   stats (after the load-time passes), macs, plan (memory plan), weights (path or nil), seed.
function M.load_model(name_or_path, opts)
  opts = opts or {}
  local where, err = M.resolve(name_or_path)
  if not where then return nil, err end
  if where.onnx then return M.onnx_load(where.file, opts) end
  local ctor
  ctor, err = M.definition(where.file)
  if not ctor then return nil, err end
  local config = {}
  for k, v in pairs(opts.config or {}) do config[k] = v end
  if opts.size then config.size = opts.size end
  if opts.batch then config.batch = opts.batch end
  local ok, module = pcall(ctor, config)
  if not ok then return nil, where.file .. ": " .. tostring(module) end
  if not nn.is_module(module) then
    return nil, where.file .. ": the constructor returned no module"
  end

  local wpath, seed = opts.weights, nil
  if opts.random then
    wpath = nil
    seed = opts.random == true and 0 or opts.random
  elseif not wpath then
    local candidate = where.dir .. "/" .. where.name .. ".safetensors"
    if exists(candidate) then wpath = candidate else seed = 0 end
  end
  if wpath then
    local lok, lerr = module:load(wpath)
    if not lok then return nil, lerr end
  else
    module:randomize(seed)
  end

  local g, gerr = module:graph()
  if not g then return nil, where.name .. ": " .. gerr end
  local self = setmetatable({ name = where.name, file = where.file, config = module.config,
                              module = module, weights = wpath, seed = seed,
                              params = module:num_parameters(), graph_stats = g:stats() }, Loaded)
  self.macs = self.graph_stats.macs
  if opts.graph_only then
    g:free()
    return self
  end

  local ctx
  ctx, err = context_of(opts)
  if not ctx then
    g:free()
    return nil, err
  end
  local model, merr = ctx:model(g, model_options(opts)) -- consumes g
  if not model then return nil, where.name .. ": " .. merr end
  self.ctx, self.model = ctx, model
  self.inputs, self.outputs = model:inputs(), model:outputs()
  self.stats = model:stats()
  self.plan = model:plan()
  return self
end

-- Host data for one input: a flat Lua array, a {shape=, data=} table (lumen.npy_load's), a
-- lumen.Tensor (copied through the host), or a path to a .npy file.
local function host_data(v)
  if type(v) == "string" then
    local a, err = lumen.npy_load(v)
    if not a then return nil, err end
    return a.data
  end
  if type(v) == "userdata" then return v:read() end
  if type(v) == "table" and v.data then return v.data end
  return v
end

-- m:start(inputs) -> true | nil, msg: the first half of m:run (below): writes the inputs and enqueues
-- the network without waiting (m.model:poll() / m.model:wait(), then m:output_tensors()), so
-- that one thread can keep several devices busy (lumen.devpool).
function Loaded:start(inputs)
  if not self.model then error("start: the model was loaded with graph_only", 2) end
  for i, inp in ipairs(self.inputs) do
    local v = inputs[inp.name]
    if v == nil and #self.inputs == 1 then
      -- the data alone: a flat array, an npy_load table, a Tensor or a path; or {data}
      if type(inputs) ~= "table" or inputs.data or type(inputs[1]) == "number" then
        v = inputs
      else
        v = inputs[1]
      end
    end
    if v == nil then return nil, "run: missing input '" .. inp.name .. "'" end
    local t = self.model:tensor(inp.name)
    local ok, werr
    if type(v) == "userdata" then
      ok, werr = pcall(t.copy, t, v) -- a device tensor: copied on the device
    else
      local data, err = host_data(v)
      if not data then return nil, err end
      ok, werr = pcall(t.write, t, data)
    end
    if not ok or werr == nil then
      return nil, string.format("run: input %d '%s': %s", i, inp.name,
        tostring(ok and "write failed" or werr))
    end
  end
  return self.model:start()
end

-- m:output_tensors() -> {output name = lumen.Tensor}: the model's output tensors (valid once
-- the run has finished; reading one waits for it).
function Loaded:output_tensors()
  local out = {}
  for _, o in ipairs(self.outputs) do out[o.name] = self.model:tensor(o.name) end
  return out
end

-- The shape of one input value when it carries one (an npy_load table, a Tensor, a path).
local function shape_of(v)
  if type(v) == "userdata" then return v:shape() end
  if type(v) == "table" and v.shape then return v.shape end
  if type(v) == "string" then
    local a = lumen.npy_load(v)
    return a and a.shape
  end
  return nil
end

-- For a model with symbolic dims: switches self.model to the plan for the inputs' shapes,
-- importing and planning the ONNX file again the first time a shape is seen. Inputs without a
-- shape (flat arrays) keep the current one. Fixed dims that differ fail with the importer's
-- message naming the input, expected and given shapes.
function Loaded:plan_for(inputs)
  local want, differs = {}, false
  for _, inp in ipairs(self.inputs) do
    local v = inputs[inp.name]
    if v == nil and #self.inputs == 1 then
      local alone = type(inputs) ~= "table" or inputs.data or type(inputs[1]) == "number"
      v = alone and inputs or inputs[1]
    end
    local s = shape_of(v) or inp.shape
    want[#want + 1] = { name = inp.name, shape = s }
    if table.concat(s, "x") ~= table.concat(inp.shape, "x") then differs = true end
  end
  if not differs then return true end
  local key = shape_key(want)
  local hit = self.replan.cache[key]
  if not hit then
    local shapes = {}
    for _, w in ipairs(want) do shapes[w.name] = w.shape end
    local gopts = {}
    for k, v in pairs(self.replan.gopts) do gopts[k] = v end
    gopts.shapes = shapes
    local g, info = lumen.onnx_graph(self.file, gopts)
    if not g then return nil, "run: " .. tostring(info) end
    local model, merr = self.ctx:model(g, self.replan.passes)
    if not model then return nil, "run: " .. merr end
    hit = { model = model, info = info }
    self.replan.cache[key] = hit
  end
  self.model, self.onnx = hit.model, hit.info
  self.inputs, self.outputs = hit.model:inputs(), hit.model:outputs()
  return true
end

-- m:run(inputs) -> {output name = lumen.Tensor} | nil, msg. inputs maps input names to data
-- (see host_data); a single-input model also takes the data alone as inputs[1] or directly.
-- The returned tensors belong to the model and are overwritten by the next run: :read() them.
function Loaded:run(inputs)
  if not self.model then error("run: the model was loaded with graph_only", 2) end
  if self.replan then
    local ok, err = self:plan_for(inputs)
    if not ok then return nil, err end
  end
  local ok, err = self:start(inputs)
  if ok then ok, err = self.model:wait() end
  if not ok then return nil, err end
  return self:output_tensors()
end

lumen.load_model = M.load_model
lumen.onnx_load = M.onnx_load
M.Loaded = Loaded
return M
