-- models_post.lua: the host-side library code of the seed networks against its Python
-- references, one line per check; exit status 1 when anything fails.
--  - models/cmb3d/decode.lua (decode.py) on the stored PyTorch outputs of the cmb3d fixture:
--    same detections in the same order, every field within 1e-4 relative;
--  - models/brats3d/tiled.lua (tiled.py) loading brats3d for the tile itself and blending the
--    8 tiles of the 24x40x40 fixture: |a - b| <= 1e-4 + 1e-3 |b|, same tile order; its tile
--    grid against tiled.py's on a table of sizes, and a one-tile volume against the network.
--
--   lumen run tests/models_post.lua
local lumen = require "lumen"
local models = require "lumen.models"
local json = require "lumen.json"

local root = assert(models.models_dir(), "cannot find models/ (set LUMEN_MODELS_DIR)")
local decode = dofile(root .. "/cmb3d/decode.lua")
local tiled = dofile(root .. "/brats3d/tiled.lua")

local passed, failed = 0, 0
local function report(ok, fmt, ...)
  print(string.format(fmt, ...) .. (ok and " OK" or " FAIL"))
  if ok then passed = passed + 1 else failed = failed + 1 end
end

local function read_json(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return assert(json.decode(s))
end

-- JSON numbers may decode as floats: shapes and counts are made integers (json.integers).
local integers = json.integers
local shape_str = require("lumen.shape").str

-- brats3d's constructor arguments in a fixture's w4_config.json
local function w4_config(cfg)
  return { in_ch = cfg.in_ch, n_out = cfg.n_out, widths = cfg.widths }
end

-- ---- cmb3d decode + 3D NMS ----
do
  local fx = root .. "/cmb3d/fixtures/"
  local cfg = read_json(fx .. "p16x32_config.json")
  local obj = assert(lumen.npy_load(fx .. "p16x32_objectness.npy"))
  local box = assert(lumen.npy_load(fx .. "p16x32_box.npy"))
  local want = assert(lumen.npy_load(fx .. "p16x32_detections.npy"))
  local t0 = os.clock()
  local got = decode.rows(decode.decode(obj, box, cfg.decode))
  local ms = (os.clock() - t0) * 1000
  local K = want.shape[1]
  local worst, ok = 0, #got == K
  for r = 1, math.min(#got, K) do
    for c = 1, 7 do
      local a, b = got[r][c], want.data[(r - 1) * 7 + c]
      -- the fixture stores float64 results as float32: allow its rounding near zero
      local rel = math.abs(a - b) / math.max(math.abs(b), 1e-3)
      if not (rel <= 1e-4) then ok = false end
      if rel > worst or rel ~= rel then worst = rel end
    end
  end
  report(ok, "cmb3d decode p16x32 %s: %d detections (want %d) maxrel=%.3g %.0f ms",
         shape_str(obj.shape), #got, K, worst, ms)
end

-- A hand-computed grid 1x1x5 (the same rows as decode.py gives): logits {2, 2, 0, 3, -1}, all
-- offsets 0, tz of voxel x=3 = 10 (clamped to 4, so d = 4 e^4). Order: x=3, x=0, x=1 (tie with
-- x=0: lower index first), x=2 (sigmoid(0) = 0.5 passes); x=4 is below the threshold. IoUs:
-- x=0 vs x=3 is 16 / (16 d + 48), kept; x=1 vs x=0 is 48 / 80 = 0.6 and x=2 vs x=0 is 32 / 96,
-- both suppressed at 0.3 and both kept at 0.7.
do
  local E4 = 4 * math.exp(4)
  local box = {}
  for i = 1, 30 do box[i] = 0.0 end
  box[3 * 5 + 4] = 10.0 -- channel tz (index 3), voxel x = 3
  local obj = { shape = { 1, 1, 1, 1, 5 }, data = { 2, 2, 0, 3, -1 } }
  local bx = { shape = { 1, 6, 1, 1, 5 }, data = box }
  local s2, s3 = 1 / (1 + math.exp(-2)), 1 / (1 + math.exp(-3))
  local CASES = {
    { {}, { { s3, 0, 0, 3, E4, 4, 4 }, { s2, 0, 0, 0, 4, 4, 4 } } },
    { { max_det = 1 }, { { s3, 0, 0, 3, E4, 4, 4 } } },
    { { iou_thresh = 0.7 }, { { s3, 0, 0, 3, E4, 4, 4 }, { s2, 0, 0, 0, 4, 4, 4 },
                              { s2, 0, 0, 1, 4, 4, 4 }, { 0.5, 0, 0, 2, 4, 4, 4 } } },
    { { pre_nms_top_k = 1, score_thresh = 0.9 }, { { s3, 0, 0, 3, E4, 4, 4 } } },
  }
  for n, c in ipairs(CASES) do
    local got = decode.rows(decode.decode(obj, bx, c[1]))
    local ok = #got == #c[2]
    for r = 1, math.min(#got, #c[2]) do
      for k = 1, 7 do
        if not (math.abs(got[r][k] - c[2][r][k]) <= 1e-12 * math.max(1, math.abs(c[2][r][k]))) then
          ok = false
        end
      end
    end
    report(ok, "cmb3d decode hand [1,1,1,1,5] case %d: %d detections (want %d)", n, #got, #c[2])
  end
end

-- ---- brats3d tiled inference ----
do
  local fx = root .. "/brats3d/fixtures/"
  local cfg = integers(read_json(fx .. "w4_config.json"))
  local x = assert(lumen.npy_load(fx .. "w4_24x40_input.npy"))
  local want = assert(lumen.npy_load(fx .. "w4_24x40_tiled_logits.npy"))
  local y, order = tiled.run(x, { model = "brats3d", tile = cfg.tile, overlap = cfg.overlap,
                                  device = os.getenv("LUMEN_DEVICE"),
                                  config = w4_config(cfg), weights = fx .. "w4.safetensors" })
  if not y then
    report(false, "brats3d tiled w4 %s: %s", shape_str(x.shape), tostring(order))
  else
    local ok = shape_str(y.shape) == shape_str(want.shape) and #y.data == #want.data
    local worst = ok and 0 or math.huge
    for i = 1, ok and #want.data or 0 do
      local d = math.abs(y.data[i] - want.data[i])
      if not (d <= 1e-4 + 1e-3 * math.abs(want.data[i])) then ok = false end
      if d > worst or d ~= d then worst = d end
    end
    local same_order = #order == #cfg.tiles
    for i = 1, #order do
      if shape_str(order[i]) ~= shape_str(cfg.tiles[i] or {}) then same_order = false end
    end
    report(ok and same_order, "brats3d tiled w4 %s -> %s: %d tiles of %s%s maxabs=%.3g",
           shape_str(x.shape), shape_str(y.shape), #order, shape_str(cfg.tile),
           same_order and "" or " (tile order differs from w4_config.json)", worst)
  end
end

-- ---- tile grid (tiled.py's values) and the one-tile case ----
do
  local CASES = { -- size, tile, overlap, starts from tiled.py, effective tile
    { 24, 16, 0.5, { 0, 8 }, 16 }, { 40, 32, 0.5, { 0, 8 }, 32 }, { 16, 16, 0.5, { 0 }, 16 },
    { 8, 16, 0.5, { 0 }, 8 }, { 155, 128, 0.5, { 0, 27 }, 128 },
    { 240, 128, 0.5, { 0, 56, 112 }, 128 }, { 17, 16, 0.5, { 0, 1 }, 16 },
    { 100, 32, 0.25, { 0, 23, 45, 68 }, 32 }, { 33, 32, 0.99, { 0, 1 }, 32 },
  }
  local bad = {}
  for _, c in ipairs(CASES) do
    local starts, t = tiled.tile_starts(c[1], c[2], c[3])
    if shape_str(starts) ~= shape_str(c[4]) or t ~= c[5] then
      bad[#bad + 1] = string.format("%d/%d: %s tile %d", c[1], c[2], shape_str(starts), t)
    end
  end
  report(#bad == 0, "brats3d tile_starts %d cases%s", #CASES,
         #bad == 0 and "" or ": " .. table.concat(bad, "; "))

  -- a volume of exactly one tile: the weights cancel, so the output is the network's
  local fx = root .. "/brats3d/fixtures/"
  local cfg = integers(read_json(fx .. "w4_config.json"))
  local x = assert(lumen.npy_load(fx .. "w4_16x32_input.npy"))
  local want = assert(lumen.npy_load(fx .. "w4_16x32_logits.npy"))
  local y, order = tiled.run(x, { tile = cfg.tile, device = os.getenv("LUMEN_DEVICE"),
                                  config = w4_config(cfg), weights = fx .. "w4.safetensors" })
  local ok, worst = y ~= nil and #y.data == #want.data and #order == 1, math.huge
  if ok then
    worst = 0
    for i = 1, #want.data do
      local d = math.abs(y.data[i] - want.data[i])
      if not (d <= 1e-4 + 1e-3 * math.abs(want.data[i])) then ok = false end
      if d > worst or d ~= d then worst = d end
    end
  end
  report(ok, "brats3d tiled w4 %s one tile maxabs=%.3g%s", shape_str(x.shape), worst,
         y and "" or ": " .. tostring(order))
end

print(string.format("%d passed, %d failed", passed, failed))
return failed == 0 and 0 or 1
