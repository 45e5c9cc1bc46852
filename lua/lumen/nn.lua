-- lumen.nn: PyTorch-shaped modules that build a lumen graph.
--
--   local nn = require "lumen.nn"
--   local net = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1, { bias = false }), nn.BatchNorm2d(16),
--                             nn.ReLU6())
--   print(net:num_parameters())                    -- counted like PyTorch (parameters only)
--   assert(net:load("net.safetensors"))            -- strict: keys and shapes must match
--   local g = assert(net:graph({ { "image", { 1, 1, 64, 64 } } }))
--   local model = assert(ctx:model(g))
--
-- Why this shape: a model arrives as a PyTorch state_dict, so the parameter names here must be
-- the state_dict keys. A module's children are named exactly as PyTorch names them: by the
-- attribute they are assigned to (`self.conv = nn.Sequential(...)`, in assignment order) and by
-- index inside Sequential and ModuleList (0-based, as in PyTorch). The state_dict order is
-- PyTorch's too: a module's own parameters, then its own buffers, then its children.
--
-- Building: `forward(b, x, ...)` receives a build context b (the graph, the weights or a random
-- seed, the current name scope) and graph value ids, and returns value ids. Calling a module
-- (`m(b, x)`) runs its forward inside its own name scope, so node names are module paths
-- ("e4.2.cpe"). Custom modules are classes made with nn.class and a forward; the functional
-- helpers in nn.F (F.add, F.concat, F.interpolate, ...) emit single ops.
--
-- Errors: misuse (a wrong constructor argument) raises; Module:load and Module:graph return
-- nil, message for what depends on files and input sizes.
local lumen = require "lumen"

local nn = {}
local F = {}
nn.F = F

-- ---------------------------------------------------------------------------------------------
-- small helpers

-- A table of keyword arguments: string keys only, no metatable (a kernel size {3, 3} is a list).
local function is_kwargs(t)
  return type(t) == "table" and getmetatable(t) == nil and #t == 0 and next(t) ~= nil
end

-- Maps PyTorch-style positional arguments, plus an optional trailing table of keyword arguments,
-- onto names. 'required' is how many leading names must be given.
local function parse_args(who, names, defaults, required, ...)
  local n = select("#", ...)
  local pos = { ... }
  local kw = {}
  if n > 0 and is_kwargs(pos[n]) then
    kw = pos[n]
    n = n - 1
  end
  if n > #names then error(string.format("%s: %d arguments, at most %d", who, n, #names), 3) end
  local out, known = {}, {}
  for i, name in ipairs(names) do
    known[name] = true
    if i <= n then out[name] = pos[i] end
  end
  for k, v in pairs(kw) do
    if not known[k] then error(string.format("%s: unknown argument '%s'", who, tostring(k)), 3) end
    if out[k] ~= nil then error(string.format("%s: argument '%s' given twice", who, k), 3) end
    out[k] = v
  end
  for i = 1, required do
    if out[names[i]] == nil then
      error(string.format("%s: missing argument '%s'", who, names[i]), 3)
    end
  end
  for k, v in pairs(defaults) do
    if out[k] == nil then out[k] = v end
  end
  return out
end

-- A number or a list becomes a list of n integers (PyTorch's _pair / _triple).
local function tuple(v, n, what)
  local t = {}
  if type(v) == "number" then
    for i = 1, n do t[i] = v end
  elseif type(v) == "table" and #v == n then
    for i = 1, n do t[i] = v[i] end
  else
    error(string.format("%s must be a number or a list of %d numbers", what, n), 4)
  end
  for i = 1, n do
    if math.type(t[i]) ~= "integer" then
      if type(t[i]) == "number" and t[i] == math.floor(t[i]) then
        t[i] = math.tointeger(t[i])
      else
        error(string.format("%s must be integers", what), 4)
      end
    end
  end
  return t
end

local function numel(shape)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  return n
end

local function shape_str(s)
  return "[" .. table.concat(s, ", ") .. "]"
end
nn.shape_str = shape_str

local function same_shape(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i] ~= b[i] then return false end
  end
  return true
end

-- FNV-1a of a key: each parameter's random stream depends on the seed and its own name only,
-- so adding a module elsewhere does not change the random weights of the others.
local function key_hash(s)
  local h = 2166136261
  for i = 1, #s do
    h = ((h ~ s:byte(i)) * 16777619) & 0xffffffff
  end
  return h
end

-- ---------------------------------------------------------------------------------------------
-- Module and classes

local Module = {}
Module.__name = "Module"
Module.__module = true

local function is_module(v)
  local mt = type(v) == "table" and getmetatable(v)
  return mt and rawget(mt, "__module") == true or false
end
nn.is_module = is_module

-- Assigning a module to a new field registers it as a child under that name, in order, as
-- PyTorch's Module.__setattr__ does. (Re-assigning an existing field does not re-register.)
function Module.__newindex(self, k, v)
  if is_module(v) then self:add_module(k, v) end
  rawset(self, k, v)
end

-- m(b, x, ...) runs m:forward inside m's name scope (its path in the model).
function Module.__call(self, b, ...)
  local saved = b.scope
  b.scope = rawget(self, "_path") or saved
  local r = table.pack(self:forward(b, ...))
  b.scope = saved
  return table.unpack(r, 1, r.n)
end

function Module.__tostring(self)
  return self:repr("")
end

local METAMETHODS = { "__newindex", "__call", "__tostring", "__module" }

-- nn.class(name [, parent]) -> class table. `Class(...)` makes an instance and calls
-- instance:__init(...). Methods are looked up in the class, then in its parents.
function nn.class(name, parent)
  parent = parent or Module
  local cls = {}
  for _, k in ipairs(METAMETHODS) do cls[k] = parent[k] end
  cls.__name = name
  cls.__index = cls
  cls.__parent = parent
  return setmetatable(cls, {
    __index = parent,
    __call = function(c, ...)
      local o = setmetatable({ _modules = {}, _params = {}, _buffers = {} }, c)
      o:__init(...)
      return o
    end,
    __tostring = function() return "nn." .. name end,
  })
end
nn.Module = nn.class("Module")

function Module:__init() end

function Module:forward()
  error(self.__name .. " has no forward", 2)
end

-- Registers a child module under name (a string, as in PyTorch). Returns m.
function Module:add_module(name, m)
  assert(is_module(m), "add_module: not a module")
  name = tostring(name)
  for _, c in ipairs(self._modules) do
    if c[1] == name then error("module '" .. name .. "' already registered", 2) end
  end
  self._modules[#self._modules + 1] = { name, m }
  return m
end

-- Registers a parameter (init = {lo, hi}: the uniform range of random weights). The descriptor
-- {name, shape} is also reachable as self[name], like a PyTorch Parameter attribute.
function Module:param(name, shape, lo, hi)
  local p = { name = name, shape = shape, lo = lo, hi = hi, kind = "param" }
  self._params[#self._params + 1] = p
  rawset(self, name, p)
  return p
end

-- Registers a buffer (BatchNorm running statistics): in the state_dict but not a parameter.
function Module:buffer(name, shape, lo, hi)
  local p = { name = name, shape = shape, lo = lo, hi = hi, kind = "buffer" }
  self._buffers[#self._buffers + 1] = p
  rawset(self, name, p)
  return p
end

-- Walks the tree depth first; sets each module's path ("" for the root, "e4.2.cpe") and returns
-- the list of {path, module}. Paths are what parameters are keyed by.
function Module:named_modules(prefix, out)
  prefix = prefix or ""
  out = out or {}
  rawset(self, "_path", prefix)
  out[#out + 1] = { prefix, self }
  for _, c in ipairs(self._modules) do
    c[2]:named_modules(prefix == "" and c[1] or prefix .. "." .. c[1], out)
  end
  return out
end

-- The state_dict as PyTorch orders it: {key=, shape=, kind="param"|"buffer", lo=, hi=}.
function Module:state_spec()
  local out = {}
  for _, pm in ipairs(self:named_modules()) do
    local path, m = pm[1], pm[2]
    for _, list in ipairs({ m._params, m._buffers }) do
      for _, p in ipairs(list) do
        out[#out + 1] = { key = path == "" and p.name or path .. "." .. p.name, shape = p.shape,
                          kind = p.kind, lo = p.lo, hi = p.hi }
      end
    end
  end
  return out
end

-- Parameter count as PyTorch's sum(p.numel() for p in model.parameters()): buffers excluded.
function Module:num_parameters()
  local n = 0
  for _, s in ipairs(self:state_spec()) do
    if s.kind == "param" then n = n + numel(s.shape) end
  end
  return n
end

-- How many entries of each list of problems a load error shows before "... and N more".
local LIST_MAX = 12

local function list_lines(out, title, items)
  if #items == 0 then return end
  for i = 1, math.min(#items, LIST_MAX) do
    out[#out + 1] = string.format("  %-11s %s", i == 1 and title or "", items[i])
  end
  if #items > LIST_MAX then
    out[#out + 1] = string.format("  %-11s ... and %d more", "", #items - LIST_MAX)
  end
end

-- Strict loading, as PyTorch's load_state_dict(strict=True): the file must hold exactly the
-- model's parameters and buffers (num_batches_tracked, which inference never reads, is ignored)
-- with the same shapes. w is a path or a lumen.Weights. Returns self, or nil and ONE message
-- listing every missing, unexpected and mis-shaped key, so a user fixes them in one go.
function Module:load(w)
  local label = "weights"
  if type(w) == "string" then
    label = w
    local err
    w, err = lumen.load_weights(label)
    if not w then return nil, err end
  end
  local spec = self:state_spec()
  local want = {}
  for _, s in ipairs(spec) do want[s.key] = s end
  local have, missing, unexpected, misshaped = {}, {}, {}, {}
  for _, k in ipairs(w:keys()) do
    if not (k == "num_batches_tracked" or k:sub(-20) == ".num_batches_tracked") then
      have[k] = true
      local s = want[k]
      if not s then
        unexpected[#unexpected + 1] = k
      else
        local got = w:shape(k)
        if not same_shape(got, s.shape) then
          misshaped[#misshaped + 1] = string.format("%s: file %s, model %s", k, shape_str(got),
                                                    shape_str(s.shape))
        end
      end
    end
  end
  for _, s in ipairs(spec) do
    if not have[s.key] then missing[#missing + 1] = s.key end
  end
  if #missing + #unexpected + #misshaped > 0 then
    local lines = { string.format(
      "%s does not match the model (strict loading): %d missing, %d unexpected, %d mis-shaped key(s)",
      label, #missing, #unexpected, #misshaped) }
    list_lines(lines, "missing:", missing)
    list_lines(lines, "unexpected:", unexpected)
    list_lines(lines, "mis-shaped:", misshaped)
    return nil, table.concat(lines, "\n")
  end
  rawset(self, "_weights", w)
  rawset(self, "_weights_label", label)
  return self
end

-- Drops loaded weights: graphs are then built with seeded random weights.
function Module:randomize(seed)
  rawset(self, "_weights", nil)
  rawset(self, "_seed", seed or 0)
  return self
end

-- The short description PyTorch prints inside the parentheses, e.g. "16, 16, kernel_size=3".
function Module:extra_repr() return "" end

function Module:repr(indent)
  local s = self.__name .. "(" .. self:extra_repr()
  if #self._modules == 0 then return s .. ")" end
  local lines = { s }
  for _, c in ipairs(self._modules) do
    lines[#lines + 1] = indent .. "  (" .. c[1] .. "): " .. c[2]:repr(indent .. "  ")
  end
  lines[#lines + 1] = indent .. ")"
  return table.concat(lines, "\n")
end

-- ---------------------------------------------------------------------------------------------
-- The build context

local Builder = {}
Builder.__index = Builder

-- A unique node name in the current scope: "e4.2.cpe", "e4.2.add", "e4.2.add#2".
function Builder:name(hint)
  local base
  if hint == nil or hint == "" then
    base = self.scope ~= "" and self.scope or "node"
  else
    base = self.scope ~= "" and self.scope .. "." .. hint or hint
  end
  local n = (self.used[base] or 0) + 1
  self.used[base] = n
  return n == 1 and base or base .. "#" .. n
end

-- Adds one op; raises with the graph's message (which names the node and shapes) on failure.
function Builder:op(hint, opname, params, inputs)
  local name = self:name(hint)
  local id = self.g:op(name, opname, params or {}, inputs)
  if id < 0 then
    local _, err = self.g:status()
    error(err, 0)
  end
  return id
end

function Builder:shape(x)
  return assert(self.g:shape(x))
end

-- A constant filled with one value (affine-free norms need ones and zeros).
function Builder:fill(hint, shape, value)
  local data = {}
  for i = 1, numel(shape) do data[i] = value end
  return self.g:const(self:name(hint), shape, data)
end

-- The value of parameter or buffer 'pname' of module m, optionally reshaped (same element
-- count): from the loaded weights, else uniform random in the parameter's range with a stream
-- seeded by (seed, key). One constant per (key, shape), however often it is used.
function Builder:param(m, pname, shape)
  local path = rawget(m, "_path")
  if path == nil then error(m.__name .. " is not part of the model being built", 2) end
  local p = rawget(m, pname)
  if type(p) ~= "table" or (p.kind ~= "param" and p.kind ~= "buffer") then
    error(m.__name .. " has no parameter '" .. pname .. "'", 2)
  end
  local key = path == "" and pname or path .. "." .. pname
  local cname = shape and key .. "@" .. table.concat(shape, "x") or key
  local id = self.consts[cname]
  if id then return id end
  if self.weights then
    id = self.g:const_weights(cname, self.weights, key, shape)
  else
    if shape and numel(shape) ~= numel(p.shape) then
      error(string.format("%s: cannot view %s as %s", key, shape_str(p.shape), shape_str(shape)), 2)
    end
    id = self.g:const_random(cname, shape or p.shape, self.seed * 1000003 + key_hash(key), p.lo,
                             p.hi)
  end
  self.consts[cname] = id
  return id
end

-- b:within(m, fn, ...) runs fn(...) inside module m's name scope: for custom modules that use a
-- child's parameters through functional calls (a LayerNorm applied over the channel axis).
function Builder:within(m, fn, ...)
  local saved = self.scope
  self.scope = rawget(m, "_path") or saved
  local r = table.pack(fn(...))
  self.scope = saved
  return table.unpack(r, 1, r.n)
end

local function new_builder(g, weights, seed)
  return setmetatable({ g = g, weights = weights, seed = seed or 0, scope = "", used = {},
                        consts = {} }, Builder)
end
nn.builder = new_builder

-- model:graph([inputs [, opts]]) -> lumen.Graph | nil, msg.
-- inputs: list of {name, shape} (default: self.inputs, which model definitions set); the
-- module's forward gets one value per input and its results become outputs named
-- opts.outputs or self.outputs (else "output", "output2", ...). opts.seed: random weights'
-- seed when nothing was loaded (default: the seed given to :randomize, else 0).
function Module:graph(inputs, opts)
  opts = opts or {}
  inputs = inputs or rawget(self, "inputs")
  if not inputs then error("graph: no inputs given and the model defines none", 2) end
  self:named_modules()
  local g = lumen.graph()
  local b = new_builder(g, rawget(self, "_weights"), opts.seed or rawget(self, "_seed") or 0)
  local names = opts.outputs or rawget(self, "outputs") or {}
  local ok, err = pcall(function()
    local xs = {}
    for i, inp in ipairs(inputs) do
      xs[i] = g:input(inp.name or inp[1], inp.shape or inp[2])
    end
    local outs = table.pack(self(b, table.unpack(xs, 1, #inputs)))
    for i = 1, outs.n do
      g:output(names[i] or (i == 1 and "output" or "output" .. i), outs[i])
    end
    local ok2, err2 = g:status()
    if not ok2 then error(err2, 0) end
  end)
  if not ok then
    g:free()
    return nil, "building the graph: " .. tostring(err)
  end
  return g
end

-- ---------------------------------------------------------------------------------------------
-- Containers

nn.Sequential = nn.class("Sequential")

-- nn.Sequential(m1, m2, ...) or nn.Sequential({m1, m2, ...}); children are named "0", "1", ...
-- and reachable as seq[1], seq[2] (Lua indices).
function nn.Sequential:__init(...)
  local mods = { ... }
  if #mods == 1 and not is_module(mods[1]) and type(mods[1]) == "table" then mods = mods[1] end
  for _, m in ipairs(mods) do self:append(m) end
end

function nn.Sequential:append(m)
  local i = #self + 1
  self:add_module(tostring(i - 1), m)
  rawset(self, i, m)
  return self
end

function nn.Sequential:forward(b, x)
  for i = 1, #self do x = self[i](b, x) end
  return x
end

nn.ModuleList = nn.class("ModuleList", nn.Sequential)
function nn.ModuleList:forward()
  error("ModuleList has no forward: iterate over its modules", 2)
end

-- ---------------------------------------------------------------------------------------------
-- Convolutions

local function conv_class(name, nsp, transposed)
  local cls = nn.class(name)
  local names = transposed
    and { "in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding",
          "groups", "bias", "dilation", "padding_mode" }
    or { "in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
         "bias", "padding_mode" }
  local defaults = { stride = 1, padding = 0, dilation = 1, groups = 1, bias = true,
                     output_padding = 0, padding_mode = "zeros" }
  function cls:__init(...)
    local a = parse_args("nn." .. name, names, defaults, 3, ...)
    if a.padding_mode ~= "zeros" then
      error("nn." .. name .. ": padding_mode '" .. tostring(a.padding_mode) .. "' is not supported", 2)
    end
    if a.in_channels % a.groups ~= 0 or a.out_channels % a.groups ~= 0 then
      error("nn." .. name .. ": groups must divide in_channels and out_channels", 2)
    end
    rawset(self, "in_channels", a.in_channels)
    rawset(self, "out_channels", a.out_channels)
    rawset(self, "kernel_size", tuple(a.kernel_size, nsp, "kernel_size"))
    rawset(self, "stride", tuple(a.stride, nsp, "stride"))
    rawset(self, "padding", tuple(a.padding, nsp, "padding"))
    rawset(self, "dilation", tuple(a.dilation, nsp, "dilation"))
    rawset(self, "output_padding", tuple(a.output_padding, nsp, "output_padding"))
    rawset(self, "groups", a.groups)
    local shape
    if transposed then
      shape = { a.in_channels, a.out_channels // a.groups }
    else
      shape = { a.out_channels, a.in_channels // a.groups }
    end
    for i = 1, nsp do shape[#shape + 1] = self.kernel_size[i] end
    -- PyTorch's default init bounds (kaiming_uniform with a=sqrt(5)): 1/sqrt(fan_in), where
    -- fan_in = weight.size(1) * prod(kernel) for both conv and transposed conv.
    local bound = 1 / math.sqrt(shape[2] * numel(self.kernel_size))
    self:param("weight", shape, -bound, bound)
    if a.bias then self:param("bias", { a.out_channels }, -bound, bound) end
  end
  function cls:forward(b, x)
    local w = b:param(self, "weight")
    local bias = rawget(self, "bias") and b:param(self, "bias") or false
    local p = { nsp = nsp, stride = self.stride, pad = self.padding, dilation = self.dilation,
                groups = self.groups }
    if transposed then p.out_pad = self.output_padding end
    return b:op(nil, transposed and "conv_transpose" or "conv", p, { x, w, bias })
  end
  function cls:extra_repr()
    local s = string.format("%d, %d, kernel_size=%s, stride=%s", self.in_channels,
                            self.out_channels, shape_str(self.kernel_size), shape_str(self.stride))
    if self.padding[1] ~= 0 then s = s .. ", padding=" .. shape_str(self.padding) end
    if self.groups ~= 1 then s = s .. ", groups=" .. self.groups end
    if not rawget(self, "bias") then s = s .. ", bias=False" end
    return s
  end
  return cls
end

nn.Conv1d = conv_class("Conv1d", 1, false)
nn.Conv2d = conv_class("Conv2d", 2, false)
nn.Conv3d = conv_class("Conv3d", 3, false)
nn.ConvTranspose1d = conv_class("ConvTranspose1d", 1, true)
nn.ConvTranspose2d = conv_class("ConvTranspose2d", 2, true)
nn.ConvTranspose3d = conv_class("ConvTranspose3d", 3, true)

-- ---------------------------------------------------------------------------------------------
-- Normalisation

local function batchnorm_class(name)
  local cls = nn.class(name)
  function cls:__init(...)
    local a = parse_args("nn." .. name, { "num_features", "eps", "momentum", "affine",
                                          "track_running_stats" },
                         { eps = 1e-5, momentum = 0.1, affine = true, track_running_stats = true },
                         1, ...)
    if not a.track_running_stats then
      error("nn." .. name .. ": track_running_stats=false (batch statistics at inference) is "
            .. "not supported", 2)
    end
    rawset(self, "num_features", a.num_features)
    rawset(self, "eps", a.eps)
    rawset(self, "affine", a.affine)
    local c = { a.num_features }
    -- Random weights stay away from the identity so that a wrong BatchNorm fold cannot pass
    -- a random-weight parity test; running_var is kept positive.
    if a.affine then
      self:param("weight", c, 0.5, 1.5)
      self:param("bias", c, -0.1, 0.1)
    end
    self:buffer("running_mean", c, -0.1, 0.1)
    self:buffer("running_var", c, 0.5, 1.5)
  end
  function cls:forward(b, x)
    local c = { self.num_features }
    local w = self.affine and b:param(self, "weight") or b:fill("ones", c, 1)
    local bias = self.affine and b:param(self, "bias") or b:fill("zeros", c, 0)
    return b:op(nil, "batchnorm", { eps = self.eps },
                { x, w, bias, b:param(self, "running_mean"), b:param(self, "running_var") })
  end
  function cls:extra_repr()
    return string.format("%d, eps=%g", self.num_features, self.eps)
  end
  return cls
end

nn.BatchNorm1d = batchnorm_class("BatchNorm1d")
nn.BatchNorm2d = batchnorm_class("BatchNorm2d")
nn.BatchNorm3d = batchnorm_class("BatchNorm3d")

local function instancenorm_class(name)
  local cls = nn.class(name)
  function cls:__init(...)
    local a = parse_args("nn." .. name, { "num_features", "eps", "momentum", "affine",
                                          "track_running_stats" },
                         { eps = 1e-5, momentum = 0.1, affine = false,
                           track_running_stats = false }, 1, ...)
    if a.track_running_stats then
      error("nn." .. name .. ": track_running_stats=true is not supported", 2)
    end
    rawset(self, "num_features", a.num_features)
    rawset(self, "eps", a.eps)
    rawset(self, "affine", a.affine)
    if a.affine then
      self:param("weight", { a.num_features }, 0.5, 1.5)
      self:param("bias", { a.num_features }, -0.1, 0.1)
    end
  end
  function cls:forward(b, x)
    local c = { self.num_features }
    local w = self.affine and b:param(self, "weight") or b:fill("ones", c, 1)
    local bias = self.affine and b:param(self, "bias") or b:fill("zeros", c, 0)
    return b:op(nil, "instancenorm", { eps = self.eps }, { x, w, bias })
  end
  return cls
end

nn.InstanceNorm1d = instancenorm_class("InstanceNorm1d")
nn.InstanceNorm2d = instancenorm_class("InstanceNorm2d")
nn.InstanceNorm3d = instancenorm_class("InstanceNorm3d")

-- LayerNorm over the last #normalized_shape axes of its input, as PyTorch's.
nn.LayerNorm = nn.class("LayerNorm")
function nn.LayerNorm:__init(...)
  local a = parse_args("nn.LayerNorm", { "normalized_shape", "eps", "elementwise_affine", "bias" },
                       { eps = 1e-5, elementwise_affine = true, bias = true }, 1, ...)
  local ns = type(a.normalized_shape) == "number" and { a.normalized_shape } or a.normalized_shape
  rawset(self, "normalized_shape", ns)
  rawset(self, "eps", a.eps)
  rawset(self, "elementwise_affine", a.elementwise_affine)
  if a.elementwise_affine then
    self:param("weight", ns, 0.5, 1.5)
    if a.bias then self:param("bias", ns, -0.1, 0.1) end
  end
end
function nn.LayerNorm:forward(b, x)
  local nd = #b:shape(x)
  local w = self.elementwise_affine and b:param(self, "weight") or false
  local bias = rawget(self, "bias") and b:param(self, "bias") or false
  return b:op(nil, "layernorm", { axis = nd - #self.normalized_shape, axis_end = nd,
                                  eps = self.eps }, { x, w, bias })
end
function nn.LayerNorm:extra_repr()
  return string.format("%s, eps=%g", shape_str(self.normalized_shape), self.eps)
end

-- ---------------------------------------------------------------------------------------------
-- Linear: y = x W^T + b on the last axis (x [..., in]); one matmul with trans_b.

nn.Linear = nn.class("Linear")
function nn.Linear:__init(...)
  local a = parse_args("nn.Linear", { "in_features", "out_features", "bias" }, { bias = true }, 2,
                       ...)
  rawset(self, "in_features", a.in_features)
  rawset(self, "out_features", a.out_features)
  local bound = 1 / math.sqrt(a.in_features)
  self:param("weight", { a.out_features, a.in_features }, -bound, bound)
  if a.bias then self:param("bias", { a.out_features }, -bound, bound) end
end
function nn.Linear:forward(b, x)
  local bias = rawget(self, "bias") and b:param(self, "bias") or false
  return b:op(nil, "matmul", { trans_b = 1 }, { x, b:param(self, "weight"), bias })
end
function nn.Linear:extra_repr()
  return string.format("in_features=%d, out_features=%d", self.in_features, self.out_features)
end

-- ---------------------------------------------------------------------------------------------
-- Activations and parameter-free layers

local function act_class(name, act, argnames, defaults, params)
  local cls = nn.class(name)
  function cls:__init(...)
    local a = parse_args("nn." .. name, argnames or {}, defaults or {}, 0, ...)
    rawset(self, "args", a)
  end
  function cls:forward(b, x)
    local p = { act = act }
    if params then params(self.args, p) end
    return b:op(nil, "unary", p, { x })
  end
  return cls
end

nn.ReLU = act_class("ReLU", "relu", { "inplace" })
nn.ReLU6 = act_class("ReLU6", "relu6", { "inplace" })
nn.Sigmoid = act_class("Sigmoid", "sigmoid")
nn.Tanh = act_class("Tanh", "tanh")
nn.Hardswish = act_class("Hardswish", "hardswish", { "inplace" })
-- PyTorch's hardsigmoid is relu6(x + 3) / 6 = clamp(x/6 + 1/2, 0, 1): the op's default a, b.
nn.Hardsigmoid = act_class("Hardsigmoid", "hardsigmoid", { "inplace" })
nn.LeakyReLU = act_class("LeakyReLU", "leaky_relu", { "negative_slope", "inplace" },
                         { negative_slope = 0.01 },
                         function(a, p) p.act_a = a.negative_slope end)
nn.GELU = act_class("GELU", "gelu", { "approximate" }, { approximate = "none" })
local gelu_init = nn.GELU.__init
function nn.GELU:__init(...)
  gelu_init(self, ...)
  if self.args.approximate ~= "none" then
    error("nn.GELU: only approximate='none' (the erf form) is supported", 2)
  end
end

nn.Identity = nn.class("Identity")
function nn.Identity:__init() end
function nn.Identity:forward(_, x) return x end

-- Dropout is the identity at inference.
nn.Dropout = nn.class("Dropout", nn.Identity)
function nn.Dropout:__init(...)
  parse_args("nn.Dropout", { "p", "inplace" }, {}, 0, ...)
end

nn.Flatten = nn.class("Flatten")
function nn.Flatten:__init(...)
  local a = parse_args("nn.Flatten", { "start_dim", "end_dim" }, { start_dim = 1, end_dim = -1 },
                       0, ...)
  rawset(self, "start_dim", a.start_dim)
  rawset(self, "end_dim", a.end_dim)
end
function nn.Flatten:forward(b, x)
  return F.flatten(b, x, self.start_dim, self.end_dim)
end

nn.Softmax = nn.class("Softmax")
function nn.Softmax:__init(...)
  local a = parse_args("nn.Softmax", { "dim" }, {}, 1, ...)
  rawset(self, "dim", a.dim)
end
function nn.Softmax:forward(b, x)
  return F.softmax(b, x, self.dim)
end

-- ---------------------------------------------------------------------------------------------
-- Pooling and resampling

local function pool_class(name, kind, nsp)
  local cls = nn.class(name)
  local names = kind == "max"
    and { "kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode" }
    or { "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override" }
  function cls:__init(...)
    local a = parse_args("nn." .. name, names, { padding = 0, dilation = 1, ceil_mode = false,
                                                 count_include_pad = true }, 1, ...)
    if a.return_indices then error("nn." .. name .. ": return_indices is not supported", 2) end
    if a.divisor_override then error("nn." .. name .. ": divisor_override is not supported", 2) end
    rawset(self, "p", { kind = kind, nsp = nsp, kernel = tuple(a.kernel_size, nsp, "kernel_size"),
                        stride = tuple(a.stride or a.kernel_size, nsp, "stride"),
                        pad = tuple(a.padding, nsp, "padding"),
                        dilation = tuple(a.dilation, nsp, "dilation"),
                        ceil_mode = a.ceil_mode and 1 or 0,
                        count_include_pad = (kind == "avg" and a.count_include_pad) and 1 or 0 })
  end
  function cls:forward(b, x)
    return b:op(nil, "pool", self.p, { x })
  end
  return cls
end

nn.MaxPool1d = pool_class("MaxPool1d", "max", 1)
nn.MaxPool2d = pool_class("MaxPool2d", "max", 2)
nn.MaxPool3d = pool_class("MaxPool3d", "max", 3)
nn.AvgPool1d = pool_class("AvgPool1d", "avg", 1)
nn.AvgPool2d = pool_class("AvgPool2d", "avg", 2)
nn.AvgPool3d = pool_class("AvgPool3d", "avg", 3)

local function adaptive_class(name, nsp)
  local cls = nn.class(name)
  function cls:__init(...)
    local a = parse_args("nn." .. name, { "output_size" }, {}, 1, ...)
    rawset(self, "output_size", tuple(a.output_size, nsp, "output_size"))
  end
  -- Output size 1 is a global average (one reduce); other sizes only when they divide the
  -- input, where adaptive pooling is a plain average pool.
  function cls:forward(b, x)
    local s = b:shape(x)
    local axes, global, k = {}, true, {}
    for i = 1, nsp do
      local ax = #s - nsp + i
      axes[i] = ax - 1
      global = global and self.output_size[i] == 1
      if s[ax] % self.output_size[i] ~= 0 then
        error(string.format("%s: output size %s does not divide input %s", name,
                            shape_str(self.output_size), shape_str(s)), 0)
      end
      k[i] = s[ax] // self.output_size[i]
    end
    if global then return b:op(nil, "reduce", { kind = "mean", axes = axes, keepdims = 1 }, { x }) end
    return b:op(nil, "pool", { kind = "avg", nsp = nsp, kernel = k, stride = k }, { x })
  end
  return cls
end

nn.AdaptiveAvgPool1d = adaptive_class("AdaptiveAvgPool1d", 1)
nn.AdaptiveAvgPool2d = adaptive_class("AdaptiveAvgPool2d", 2)
nn.AdaptiveAvgPool3d = adaptive_class("AdaptiveAvgPool3d", 3)

nn.Upsample = nn.class("Upsample")
function nn.Upsample:__init(...)
  local a = parse_args("nn.Upsample", { "size", "scale_factor", "mode", "align_corners" },
                       { mode = "nearest" }, 0, ...)
  rawset(self, "args", a)
end
function nn.Upsample:forward(b, x)
  return F.interpolate(b, x, self.args)
end

-- ---------------------------------------------------------------------------------------------
-- Functional helpers: each emits one op named after the current scope. All take b first.

local function axis_of(b, x, dim)
  local nd = #b:shape(x)
  if dim < 0 then dim = dim + nd end
  if dim < 0 or dim >= nd then error("axis " .. dim .. " out of range for " .. nd .. "-d value", 3) end
  return dim
end

for _, kind in ipairs({ "add", "sub", "mul", "div", "pow", "max", "min" }) do
  F[kind] = function(b, x, y, act)
    return b:op(kind, "binary", { kind = kind, act = act }, { x, y })
  end
end
F.maximum, F.minimum = F.max, F.min

-- F.relu(b, x), F.sigmoid(b, x) ...: every activation of the runtime (lumen.activations), with
-- its default parameters; those that take some are defined again below.
for _, act in ipairs(lumen.activations) do
  if act ~= "none" then
    F[act] = function(b, x) return b:op(act, "unary", { act = act }, { x }) end
  end
end
function F.leaky_relu(b, x, slope)
  return b:op("leaky_relu", "unary", { act = "leaky_relu", act_a = slope or 0.01 }, { x })
end
-- min(max(x, lo), hi)
function F.clip(b, x, lo, hi)
  return b:op("clip", "unary", { act = "clip", act_a = lo, act_b = hi }, { x })
end
-- x > t ? 1 : 0
function F.threshold(b, x, t)
  return b:op("threshold", "unary", { act = "threshold", act_a = t or 0 }, { x })
end
-- a*x + c
function F.scale(b, x, a, c)
  return b:op("scale", "unary", { act = "scale", act_a = a, act_b = c or 0 }, { x })
end

-- F.concat(b, {x1, x2, ...}, dim=1)
function F.concat(b, xs, dim)
  return b:op("cat", "concat", { axis = axis_of(b, xs[1], dim or 1) }, xs)
end
F.cat = F.concat

-- F.reshape(b, x, shape): at most one -1, inferred as in PyTorch.
function F.reshape(b, x, shape)
  local n, known, infer = numel(b:shape(x)), 1, nil
  local s = {}
  for i, d in ipairs(shape) do
    s[i] = d
    if d == -1 then
      if infer then error("reshape: more than one -1", 2) end
      infer = i
    else
      known = known * d
    end
  end
  if infer then s[infer] = known > 0 and n // known or 0 end
  if numel(s) ~= n then
    error(string.format("reshape: %s cannot become %s", shape_str(b:shape(x)), shape_str(shape)), 2)
  end
  return b:op("reshape", "reshape", { shape = s }, { x })
end
F.view = F.reshape

function F.flatten(b, x, start_dim, end_dim)
  local s = b:shape(x)
  local a, e = axis_of(b, x, start_dim or 0), axis_of(b, x, end_dim or -1)
  local out = {}
  for i = 1, a do out[#out + 1] = s[i] end
  local m = 1
  for i = a + 1, e + 1 do m = m * s[i] end
  out[#out + 1] = m
  for i = e + 2, #s do out[#out + 1] = s[i] end
  return F.reshape(b, x, out)
end

-- F.slice(b, x, dim, start, stop [, step]): x[..., start:stop:step, ...] with Python's
-- half-open range; negative start/stop count from the end.
function F.slice(b, x, dim, start, stop, step)
  local s = b:shape(x)
  dim = axis_of(b, x, dim)
  step = step or 1
  local len = s[dim + 1]
  if start < 0 then start = start + len end
  if stop == nil then stop = len elseif stop < 0 then stop = stop + len end
  stop = math.min(stop, len)
  local p = { start = {}, step = {}, count = {} }
  for i = 1, #s do p.start[i], p.step[i], p.count[i] = 0, 1, s[i] end
  p.start[dim + 1], p.step[dim + 1] = start, step
  p.count[dim + 1] = math.max(0, (stop - start + step - 1) // step)
  return b:op("slice", "slice", p, { x })
end

-- F.permute(b, x, perm): output axis i is input axis perm[i] (0-based, as torch.permute).
function F.permute(b, x, perm)
  return b:op("permute", "transpose", { perm = perm }, { x })
end

-- F.mean(b, x, dims, keepdim=false) and F.sum / F.amax alike.
for name, kind in pairs({ mean = "mean", sum = "sum", amax = "max" }) do
  F[name] = function(b, x, dims, keepdim)
    local axes = {}
    for i, d in ipairs(type(dims) == "number" and { dims } or dims) do axes[i] = axis_of(b, x, d) end
    return b:op(name, "reduce", { kind = kind, axes = axes, keepdims = keepdim and 1 or 0 }, { x })
  end
end

function F.softmax(b, x, dim)
  local a = axis_of(b, x, dim)
  return b:op("softmax", "softmax", { axis = a, axis_end = a + 1 }, { x })
end

-- F.layer_norm(b, x, axis, axis_end, weight, bias, eps): normalises over [axis, axis_end).
function F.layer_norm(b, x, axis, axis_end, weight, bias, eps)
  return b:op("layernorm", "layernorm", { axis = axis, axis_end = axis_end, eps = eps or 1e-5 },
              { x, weight or false, bias or false })
end

function F.matmul(b, x, y, opts)
  opts = opts or {}
  return b:op("matmul", "matmul", { trans_a = opts.trans_a, trans_b = opts.trans_b,
                                    alpha = opts.alpha, act = opts.act }, { x, y, opts.bias or false })
end

-- F.linear(b, x, weight, bias): x W^T + b (weight [out, in]).
function F.linear(b, x, weight, bias)
  return b:op("linear", "matmul", { trans_b = 1 }, { x, weight, bias or false })
end

-- F.conv(b, x, weight, bias, {stride=, pad=, dilation=, groups=, act=}); nsp from the weight.
function F.conv(b, x, weight, bias, p)
  p = p or {}
  local q = { nsp = #b:shape(weight) - 2 }
  for k, v in pairs(p) do q[k] = v end
  return b:op("conv", "conv", q, { x, weight, bias or false })
end

-- F.avg_pool(b, x, kernel, stride=kernel, {padding=, count_include_pad=, ceil_mode=}) on the
-- last 1-3 axes (nsp = #kernel, or 2 for a number). F.max_pool alike.
for name, kind in pairs({ avg_pool = "avg", max_pool = "max" }) do
  F[name] = function(b, x, kernel, stride, opts)
    opts = opts or {}
    local nsp = type(kernel) == "table" and #kernel or opts.nsp or 2
    local p = { kind = kind, nsp = nsp, kernel = tuple(kernel, nsp, "kernel"),
                stride = tuple(stride or kernel, nsp, "stride"),
                pad = tuple(opts.padding or 0, nsp, "padding"),
                ceil_mode = opts.ceil_mode and 1 or 0 }
    if kind == "avg" then
      -- PyTorch's default counts the padding; it only matters when padding > 0
      p.count_include_pad = (opts.count_include_pad == nil or opts.count_include_pad) and 1 or 0
    end
    return b:op(name, "pool", p, { x })
  end
end
F.avg_pool2d, F.max_pool2d = F.avg_pool, F.max_pool

-- F.interpolate(b, x, {size=, scale_factor=, mode="nearest"|"linear"|"bilinear"|"trilinear",
-- align_corners=}) on the spatial axes (all but N and C), with PyTorch's coordinate rules:
-- nearest = floor(dst * in/out); linear with align_corners=false maps dst to
-- (dst + 0.5) / scale - 0.5 using the given scale factor (ONNX's pytorch_half_pixel).
function F.interpolate(b, x, opts)
  local s = b:shape(x)
  local nsp = #s - 2
  local mode = opts.mode or "nearest"
  local size, scale = {}, {}
  for i = 1, nsp do
    local e = s[2 + i]
    if opts.size then
      size[i] = type(opts.size) == "number" and opts.size or opts.size[i]
      scale[i] = 0
    elseif opts.scale_factor then
      local f = type(opts.scale_factor) == "number" and opts.scale_factor or opts.scale_factor[i]
      size[i] = math.floor(e * f)
      scale[i] = f
    else
      error("interpolate: give size or scale_factor", 2)
    end
  end
  local p = { size = size, scale = scale }
  if mode == "nearest" then
    p.mode, p.coord, p.nearest = "nearest", "asymmetric", "floor"
  elseif mode == "linear" or mode == "bilinear" or mode == "trilinear" then
    p.mode = "linear"
    p.coord = opts.align_corners and "align_corners" or "pytorch_half_pixel"
  else
    error("interpolate: mode '" .. tostring(mode) .. "' is not supported", 2)
  end
  return b:op("interpolate", "resize", p, { x })
end

-- F.attention(b, q, k, v, {heads=, head_dim=, window=, scale=, q_c0=, k_c0=, v_c0=}): the
-- runtime's fused local (window > 0) or global (window 0) multi-head attention on NCHW maps.
function F.attention(b, q, k, v, p)
  return b:op("attention", "attention", p, { q, k, v })
end

function F.pad(b, x, pad0, pad1, value)
  return b:op("pad", "pad", { pad0 = pad0, pad1 = pad1, value = value or 0 }, { x })
end

function F.argmax(b, x, dim, keepdim)
  return b:op("argmax", "argmax", { axis = axis_of(b, x, dim), keepdims = keepdim and 1 or 0 }, { x })
end

-- ---------------------------------------------------------------------------------------------
-- Writing safetensors from Lua (F32). arrays: list of {name=, shape=, data=} where data is a flat
-- Lua array of numbers, or nil for zeros. Used to export random weights for a PyTorch parity
-- run and, in tests, to make deliberately wrong weight files. Returns true | nil, msg.
function nn.save_safetensors(path, arrays)
  local header, chunks, offset = {}, {}, 0
  for i, a in ipairs(arrays) do
    local n = numel(a.shape)
    local bytes
    if a.data then
      local parts = {}
      for j = 1, n, 1024 do
        local last = math.min(n, j + 1023)
        parts[#parts + 1] = string.pack("<" .. string.rep("f", last - j + 1),
                                        table.unpack(a.data, j, last))
      end
      bytes = table.concat(parts)
    else
      bytes = string.rep("\0", 4 * n)
    end
    header[i] = string.format('"%s":{"dtype":"F32","shape":[%s],"data_offsets":[%d,%d]}',
                              a.name, table.concat(a.shape, ","), offset, offset + #bytes)
    chunks[i] = bytes
    offset = offset + #bytes
  end
  local h = "{" .. table.concat(header, ",") .. "}"
  h = h .. string.rep(" ", (8 - #h % 8) % 8) -- the format recommends 8-byte alignment
  return lumen.write_file(path, string.pack("<I8", #h) .. h .. table.concat(chunks))
end

return nn
