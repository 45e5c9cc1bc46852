-- brats3d tiled inference: a volume larger than the network's tile is covered by overlapping
-- tiles, each run through one model built once for the tile, and the tile logits are blended
-- with separable Gaussian weights. A port of models/brats3d/tiled.py (the reference; MODEL.md
-- documents the tile grid and the weights).
--
--   local models = require "lumen.models"
--   local tiled = dofile(models.models_dir() .. "/brats3d/tiled.lua")
--   local x = assert(lumen.npy_load("volume.npy"))         -- [N, 4, D, H, W]
--   local y = assert(tiled.run(x, { model = "brats3d", tile = { 128, 128, 128 },
--                                   weights = "w.safetensors" }))
--   -- y.shape = {N, 3, D, H, W}, y.data = blended logits, flat C order (sigmoid after)
--   local t = ctx:tensor(y.shape, "logits", y.data)         -- on the device, when wanted
--
-- Data layout: every volume is a flat, 1-based, C-order Lua array of doubles. The input tile is
-- cut on the host (the tile graph's input is written through the host anyway) and the blend is
-- accumulated on the host in doubles, as the reference does in float64.
local lumen = require "lumen"
require "lumen.models" -- lumen.load_model

local M = {}

-- tile_starts(size, tile [, overlap]) -> starts (0-based, ascending), effective tile size.
-- An axis no larger than the tile gets one tile of the axis' size at 0. Otherwise
-- step = max(1, floor(T (1 - o))), n = ceil((S - T) / step) + 1, and start_i =
-- floor(i (S - T) / (n - 1) + 1/2) in exact integer arithmetic. Can't fail for positive sizes.
function M.tile_starts(size, tile, overlap)
  overlap = overlap or 0.5
  if size <= tile then return { 0 }, size end
  local step = math.max(1, math.floor(tile * (1.0 - overlap)))
  local n = (size - tile + step - 1) // step + 1
  local starts = {}
  for i = 0, n - 1 do starts[i + 1] = (2 * i * (size - tile) + (n - 1)) // (2 * (n - 1)) end
  return starts, tile
end

-- gaussian(t) -> {g_t(0), ..., g_t(t-1)}, g_t(i) = exp(-(i + 0.5 - t/2)^2 / (2 sigma^2)),
-- sigma = t / 8: never zero inside the tile, so every covered voxel has a positive weight sum.
function M.gaussian(t)
  local g, sigma = {}, t / 8.0
  for i = 0, t - 1 do g[i + 1] = math.exp(-((i + 0.5 - t / 2.0) ^ 2) / (2.0 * sigma * sigma)) end
  return g
end

-- weight_map({tD, tH, tW}) -> flat C-order array of g(z) g(y) g(x) over the tile.
function M.weight_map(tile)
  local gz, gy, gx = M.gaussian(tile[1]), M.gaussian(tile[2]), M.gaussian(tile[3])
  local w, n = {}, 0
  for z = 1, tile[1] do
    for y = 1, tile[2] do
      local gzy = gz[z] * gy[y]
      for x = 1, tile[3] do
        n = n + 1
        w[n] = gzy * gx[x]
      end
    end
  end
  return w
end

local function is_loaded(v) return type(v) == "table" and v.model ~= nil and v.run ~= nil end

-- Shape and data of the input: a {shape=, data=} table, a lumen.Tensor, or a .npy path.
local function input_array(x)
  if type(x) == "string" then return lumen.npy_load(x) end
  if type(x) == "userdata" and x.read then return { shape = x:shape(), data = x:read() } end
  if type(x) == "table" and x.shape and x.data then return x end
  error("tiled.run: x must be a {shape=, data=} table, a lumen.Tensor or a .npy path", 3)
end

-- Copies the tile [z0, y0, x0] + (tD, tH, tW) of every (n, c) slab of x into 'buf'.
local function cut_tile(buf, x, NC, D, H, W, z0, y0, x0, tD, tH, tW)
  local n = 0
  for nc = 0, NC - 1 do
    for z = z0, z0 + tD - 1 do
      for y = y0, y0 + tH - 1 do
        local base = ((nc * D + z) * H + y) * W + x0
        for i = base + 1, base + tW do
          n = n + 1
          buf[n] = x[i]
        end
      end
    end
  end
end

-- Adds w * tile logits into 'acc' ([NK, D, H, W]) and w into 'wsum' ([D, H, W]).
local function blend_tile(acc, wsum, y, w, NK, D, H, W, z0, y0, x0, tD, tH, tW)
  local V, tV = D * H * W, tD * tH * tW
  local t = 0
  for z = z0, z0 + tD - 1 do
    for yy = y0, y0 + tH - 1 do
      local base = (z * H + yy) * W + x0
      for v = base + 1, base + tW do
        t = t + 1
        local wt = w[t]
        wsum[v] = wsum[v] + wt
        for k = 0, NK - 1 do
          local a = k * V + v
          acc[a] = acc[a] + wt * y[k * tV + t]
        end
      end
    end
  end
end

-- tiled.run(x [, opts]) -> {shape = {N, K, D, H, W}, data = blended logits}, tile starts
-- ({z0, y0, x0} in run order, z outer) | nil, msg.
-- x: the volume [N, C, D, H, W] ({shape=, data=}, a lumen.Tensor or a .npy path).
-- opts: tile ({D, H, W}; default {128, 128, 128}), overlap (0.5), and either model = a model
--   loaded for the effective tile (lumen.load_model's result) or model = a name or .lua path
--   (default "brats3d") loaded here once with size = the effective tile, batch = N and opts'
--   ctx, device, config, weights, random, passes; output = the output name (default: the
--   model's first). The effective tile is min(tile, volume) per axis (tiled.py's shrinking).
-- Raises on misuse (bad shapes, a model built for another tile); returns nil, msg when loading
-- or running the model fails.
function M.run(x, opts)
  opts = opts or {}
  local xa = input_array(x)
  if not xa then return nil, "tiled.run: cannot read the input" end
  local shape = xa.shape
  if #shape ~= 5 then error("tiled.run: x must be [N, C, D, H, W]", 2) end
  local N, C, D, H, W = table.unpack(shape)
  local tile = opts.tile or { 128, 128, 128 }
  local overlap = opts.overlap or 0.5
  local sz, tD = M.tile_starts(D, tile[1], overlap)
  local sy, tH = M.tile_starts(H, tile[2], overlap)
  local sx, tW = M.tile_starts(W, tile[3], overlap)

  local m = opts.model
  if type(m) == "table" and not is_loaded(m) then
    error("tiled.run: opts.model must be a name, a path or a model loaded for a device", 2)
  end
  if not is_loaded(m) then
    local err
    m, err = lumen.load_model(m or "brats3d", {
      ctx = opts.ctx, device = opts.device, size = { tD, tH, tW }, batch = N,
      config = opts.config, weights = opts.weights, random = opts.random, passes = opts.passes })
    if not m then return nil, err end
  end
  local inp = m.inputs[1]
  local want = { N, C, tD, tH, tW }
  for i = 1, 5 do
    if inp.shape[i] ~= want[i] then
      error(string.format("tiled.run: the model's input '%s' is [%s], the tile needs [%s]",
                          inp.name, table.concat(inp.shape, ","), table.concat(want, ",")), 2)
    end
  end
  local outname = opts.output or m.outputs[1].name
  local intensor = m.model:tensor(inp.name)

  local w = M.weight_map({ tD, tH, tW })
  local V = D * H * W
  local acc, wsum, buf, order, NK, K = {}, {}, {}, {}, nil, nil
  for v = 1, V do wsum[v] = 0.0 end
  for _, z0 in ipairs(sz) do
    for _, y0 in ipairs(sy) do
      for _, x0 in ipairs(sx) do
        cut_tile(buf, xa.data, N * C, D, H, W, z0, y0, x0, tD, tH, tW)
        local ok, err = intensor:write(buf)
        if not ok then return nil, "tiled.run: writing a tile: " .. tostring(err) end
        ok, err = m.model:run()
        if not ok then return nil, "tiled.run: " .. tostring(err) end
        local out = m.model:tensor(outname)
        if not out then return nil, "tiled.run: the model has no output '" .. outname .. "'" end
        if not NK then
          local os = out:shape()
          if #os ~= 5 or os[1] ~= N or os[3] ~= tD or os[4] ~= tH or os[5] ~= tW then
            return nil, "tiled.run: output '" .. outname .. "' is not [N, K, tile]"
          end
          K, NK = os[2], N * os[2]
          for i = 1, NK * V do acc[i] = 0.0 end
        end
        blend_tile(acc, wsum, out:read(), w, NK, D, H, W, z0, y0, x0, tD, tH, tW)
        order[#order + 1] = { z0, y0, x0 }
      end
    end
  end
  for k = 0, NK - 1 do
    local base = k * V
    for v = 1, V do acc[base + v] = acc[base + v] / wsum[v] end
  end
  return { shape = { N, K, D, H, W }, data = acc }, order
end

return M
