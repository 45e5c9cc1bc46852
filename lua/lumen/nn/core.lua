-- lumen.nn.core: Module and classes, the build context (Builder), containers: what every kind
-- of module (lumen.nn.conv, .norm, .layers, .pool) and nn.F build on. See lumen.nn.
local lumen = require "lumen"
local shapes = require "lumen.shape"

local nn = {}
local F = {}
nn.F = F

local numel, same_shape = shapes.numel, shapes.same
-- PyTorch's way of printing a shape: "[1, 3, 8, 8]"
local function shape_str(s) return shapes.str(s, ", ") end
nn.shape_str = shape_str

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

-- A model's configuration: a copy of 'defaults' overlaid with 'config' (nil: the defaults alone).
-- A key that 'defaults' lacks raises "<who>: unknown config key 'k'"; 'level' counts as error()
-- does, from the function that calls nn.config.
function nn.config(who, defaults, config, level)
  local c = {}
  for k, v in pairs(defaults) do c[k] = v end
  for k, v in pairs(config or {}) do
    if defaults[k] == nil then
      error(string.format("%s: unknown config key '%s'", who, tostring(k)), (level or 1) + 1)
    end
    c[k] = v
  end
  return c
end

-- A model's input size: a number (the same extent on every axis) or a list of 'rank' extents,
-- each a positive multiple of 'mult'. Returns the list, or raises "<who>: size must be {H, W}
-- (multiples of 'mult'), got ..." at 'level' (as nn.config).
function nn.input_size(who, size, rank, mult, level)
  local t = {}
  if type(size) == "number" then
    for i = 1, rank do t[i] = size end
  elseif type(size) == "table" then
    for i, v in ipairs(size) do t[i] = v end
  end
  local ok = #t == rank
  for i = 1, #t do
    ok = ok and math.type(t[i]) == "integer" and t[i] >= mult and t[i] % mult == 0
  end
  if not ok then
    local names = rank == 3 and "{D, H, W}" or rank == 2 and "{H, W}" or rank .. " extents"
    local got = type(size) == "table" and shapes.str(size) or tostring(size)
    error(string.format("%s: size must be %s, multiples of %d, got %s", who, names, mult, got),
          (level or 1) + 1)
  end
  return t
end

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

-- Appends the descriptor {name, shape, lo, hi, kind} to 'list' and makes it self[name].
local function register(self, list, kind, name, shape, lo, hi)
  local p = { name = name, shape = shape, lo = lo, hi = hi, kind = kind }
  list[#list + 1] = p
  rawset(self, name, p)
  return p
end

-- Registers a parameter (init = {lo, hi}: the uniform range of random weights). The descriptor
-- {name, shape} is also reachable as self[name], like a PyTorch Parameter attribute.
function Module:param(name, shape, lo, hi)
  return register(self, self._params, "param", name, shape, lo, hi)
end

-- Registers a buffer (BatchNorm running statistics): in the state_dict but not a parameter.
function Module:buffer(name, shape, lo, hi)
  return register(self, self._buffers, "buffer", name, shape, lo, hi)
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
    local lines = { string.format("%s does not match the model (strict loading): %d missing, "
      .. "%d unexpected, %d mis-shaped key(s)", label, #missing, #unexpected, #misshaped) }
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

return nn
