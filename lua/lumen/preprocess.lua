-- lumen.preprocess: frame preprocessing as a small graph that runs on the device.
--
--   local pre = require "lumen.preprocess"
--   local p = pre.new(ctx, {1, 1, 1024, 1024}, {
--     { "gray" },                              -- RGB(A) -> one channel (mean of R, G, B)
--     { "window", center = 2048, width = 4096 },  -- 16-bit window/level -> [0, 1]
--     { "resize", size = { 512, 512 } },       -- area average when shrinking, bilinear otherwise
--     { "minmax" },                            -- per image to [0, 1]
--     { "scale", a = 2, b = -1 },              -- (x - 0.5) / 0.5
--   })
--   local out = p:run(frame_tensor)            -- a Tensor owned by p; valid until the next run
--
-- Other steps: { "zscore" }, { "crop", top=, left=, height=, width= }, { "pad", top=, bottom=,
-- left=, right=, value= }, { "flip", axis = "h" | "v" }. Stacking consecutive frames into
-- channels: pre.new(ctx, shape, steps, { frames = k }) takes k inputs and concatenates them
-- after the steps. Each distinct input shape needs its own pipeline (graphs are static).
local lumen = require "lumen"

local M = {}

local function copy(t) return table.move(t, 1, #t, 1, {}) end

-- One builder per step: b = { g = graph, n = counter }, x = value id, s = its shape.
local steps = {}

local function op(b, kind, params, inputs)
  b.n = b.n + 1
  return b.g:op(string.format("pre%d.%s", b.n, kind), kind, params, inputs)
end

local function const(b, value)
  b.n = b.n + 1
  return b.g:const(string.format("pre%d.const", b.n), { 1 }, { value })
end

function steps.gray(b, x, s, _)
  if s[2] == 1 then return x, s end
  if s[2] ~= 3 and s[2] ~= 4 then error("gray: expected 1, 3 or 4 channels, got " .. s[2], 0) end
  local rgb = s[2] == 4 and op(b, "slice", { start = { 0, 0, 0, 0 }, step = { 1, 1, 1, 1 },
    count = { s[1], 3, s[3], s[4] } }, { x }) or x
  local y = op(b, "reduce", { kind = "mean", axes = { 1 }, keepdims = true }, { rgb })
  return y, { s[1], 1, s[3], s[4] }
end

function steps.window(b, x, s, st)
  local c, w = assert(st.center, "window: center"), assert(st.width, "window: width")
  if w <= 0 then error("window: width must be > 0", 0) end
  local lo, hi = c - w / 2, c + w / 2
  x = op(b, "unary", { act = "clip", act_a = lo, act_b = hi }, { x })
  return op(b, "unary", { act = "scale", act_a = 1 / w, act_b = -lo / w }, { x }), s
end

function steps.minmax(b, x, s, st)
  local all = { 1, 2, 3 }
  local mx = op(b, "reduce", { kind = "max", axes = all, keepdims = true }, { x })
  local neg = op(b, "unary", { act = "neg" }, { x })
  local mn = op(b, "unary", { act = "neg" }, { op(b, "reduce", { kind = "max", axes = all,
    keepdims = true }, { neg }) })
  -- a flat image has max == min: divide by a tiny range instead of zero (result 0, not NaN)
  local range = op(b, "binary", { kind = "max" }, { op(b, "binary", { kind = "sub" }, { mx, mn }),
    const(b, st.eps or 1e-12) })
  local d = op(b, "binary", { kind = "sub" }, { x, mn })
  return op(b, "binary", { kind = "div" }, { d, range }), s
end

function steps.zscore(b, x, s, st)
  local all = { 1, 2, 3 }
  local mean = op(b, "reduce", { kind = "mean", axes = all, keepdims = true }, { x })
  local d = op(b, "binary", { kind = "sub" }, { x, mean })
  local var = op(b, "reduce", { kind = "mean", axes = all, keepdims = true },
    { op(b, "binary", { kind = "mul" }, { d, d }) })
  local sd = op(b, "unary", { act = "sqrt" }, { op(b, "binary", { kind = "add" },
    { var, const(b, st.eps or 1e-8) }) })
  return op(b, "binary", { kind = "div" }, { d, sd }), s
end

function steps.scale(b, x, s, st)
  return op(b, "unary", { act = "scale", act_a = st.a or 1, act_b = st.b or 0 }, { x }), s
end

-- Area average when shrinking: an exact box filter for integer factors; for other factors a
-- box filter by the integer part first, then bilinear (close to OpenCV's INTER_AREA).
function steps.resize(b, x, s, st)
  local oh, ow = st.size[1], st.size[2]
  if oh == s[3] and ow == s[4] then return x, s end
  if st.mode ~= "bilinear" and oh <= s[3] and ow <= s[4] then
    local fh, fw = s[3] // oh, s[4] // ow
    if fh > 1 or fw > 1 then
      x = op(b, "pool", { kind = "avg", kernel = { fh, fw }, stride = { fh, fw } }, { x })
      s = { s[1], s[2], s[3] // fh, s[4] // fw }
    end
    if s[3] == oh and s[4] == ow then return x, s end
  end
  x = op(b, "resize", { mode = "linear", coord = "half_pixel", size = { oh, ow } }, { x })
  return x, { s[1], s[2], oh, ow }
end

function steps.crop(b, x, s, st)
  local h, w = st.height or s[3], st.width or s[4]
  local t, l = st.top or 0, st.left or 0
  if t < 0 or l < 0 or t + h > s[3] or l + w > s[4] then
    error(string.format("crop %dx%d at (%d,%d) is outside the %dx%d frame", h, w, t, l, s[3],
                        s[4]), 0)
  end
  x = op(b, "slice", { start = { 0, 0, t, l }, step = { 1, 1, 1, 1 }, count = { s[1], s[2], h, w } },
    { x })
  return x, { s[1], s[2], h, w }
end

function steps.pad(b, x, s, st)
  local t, bo, l, r = st.top or 0, st.bottom or 0, st.left or 0, st.right or 0
  x = op(b, "pad", { pad0 = { 0, 0, t, l }, pad1 = { 0, 0, bo, r }, value = st.value or 0 }, { x })
  return x, { s[1], s[2], s[3] + t + bo, s[4] + l + r }
end

function steps.flip(b, x, s, st)
  local start, step = { 0, 0, 0, 0 }, { 1, 1, 1, 1 }
  local ax = st.axis == "v" and 3 or 4
  start[ax], step[ax] = s[ax] - 1, -1
  return op(b, "slice", { start = start, step = step, count = copy(s) }, { x }), s
end

-- The step builders by name (read-only for callers: lumen.package checks head steps with it).
M.steps = steps

local Pipeline = {}
Pipeline.__index = Pipeline

-- Builds the pipeline for input frames of shape {1, C, H, W}. Raises on a bad step (misuse).
function M.new(ctx, shape, step_list, opts)
  opts = opts or {}
  local frames = opts.frames or 1
  local g = lumen.graph()
  local b = { g = g, n = 0 }
  local outs, out_shape = {}, nil
  for f = 1, frames do
    local x = g:input(frames == 1 and "frame" or ("frame" .. f), shape)
    local s = copy(shape)
    for _, st in ipairs(step_list) do
      local fn = steps[st[1]]
      if not fn then error("unknown preprocessing step '" .. tostring(st[1]) .. "'", 2) end
      x, s = fn(b, x, s, st)
    end
    outs[#outs + 1], out_shape = x, s
  end
  local y = frames == 1 and outs[1] or b.g:op("pre.stack", "concat", { axis = 1 }, outs)
  if frames > 1 then out_shape[2] = out_shape[2] * frames end
  -- an output must be a node's own buffer, not an input: copy when no step did anything
  if y == 0 then y = op(b, "unary", { act = "none" }, { y }) end
  g:output("out", y)
  local ok, err = g:status()
  if not ok then error("preprocessing: " .. err, 2) end
  local model, merr = ctx:model(g)
  if not model then return nil, merr end
  return setmetatable({ model = model, frames = frames, in_shape = copy(shape),
    out_shape = out_shape }, Pipeline)
end

-- Runs on frame tensor(s) of the pipeline's input shape; returns the output tensor.
function Pipeline:run(...)
  local args = { ... }
  for i = 1, self.frames do
    local name = self.frames == 1 and "frame" or ("frame" .. i)
    local src = args[i]
    if not src then error("preprocess: missing frame " .. i, 2) end
    local dst = self.model:tensor(name)
    local ok, err = dst:copy(src) -- on the device, no round trip through Lua
    if not ok then return nil, err end
  end
  local ok, err = self.model:run()
  if not ok then return nil, err end
  return self.model:tensor("out")
end

return M
