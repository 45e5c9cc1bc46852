-- lumen.nn.functional: nn.F, the functional helpers (each emits one op), and
-- nn.save_safetensors.
local nn = require "lumen.nn.core"
local args = require "lumen.nn.args"
local shapes = require "lumen.shape"
local lumen = require "lumen"

local tuple, numel, F, shape_str = args.tuple, shapes.numel, nn.F, nn.shape_str

-- Functional helpers: each emits one op named after the current scope. All take b first.

local function axis_of(b, x, dim)
  local nd = #b:shape(x)
  if dim < 0 then dim = dim + nd end
  if dim < 0 or dim >= nd then
    error("axis " .. dim .. " out of range for " .. nd .. "-d value", 3)
  end
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
    for i, d in ipairs(type(dims) == "number" and { dims } or dims) do
      axes[i] = axis_of(b, x, d)
    end
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
  local p = { trans_a = opts.trans_a, trans_b = opts.trans_b, alpha = opts.alpha, act = opts.act }
  return b:op("matmul", "matmul", p, { x, y, opts.bias or false })
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
  local p = { axis = axis_of(b, x, dim), keepdims = keepdim and 1 or 0 }
  return b:op("argmax", "argmax", p, { x })
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
