-- cmb3d decoding: the dense heads (objectness logits and box regression) turned into candidate
-- boxes, then greedy 3D non-maximum suppression. A line-by-line port of models/cmb3d/decode.py
-- (the reference); MODEL.md documents the encoding. Pure Lua: no device is needed.
--
--   local models = require "lumen.models"
--   local decode = dofile(models.models_dir() .. "/cmb3d/decode.lua")
--   local out = assert(m:run({ patch = x }))            -- m: lumen.load_model("cmb3d", ...)
--   for _, d in ipairs(decode.decode(out.objectness, out.box)) do
--     print(d.score, d.z, d.y, d.x, d.d, d.h, d.w)      -- voxel units; times spacing for mm
--   end
--
-- Inputs are lumen.Tensors or {shape = {N, C, D, H, W}, data = flat C-order array} tables (what
-- lumen.npy_load returns): objectness [N, 1, D, H, W], box [N, 6, D, H, W]. Arithmetic after
-- reading the float32 outputs is in doubles, as in the reference, so a decode of the same
-- stored outputs gives the same detections.
local M = {}

M.DEFAULTS = { score_thresh = 0.5, pre_nms_top_k = 1000, iou_thresh = 0.3, max_det = 100,
               anchor = 4.0 }

-- Returns shape, data of a Tensor or a {shape=, data=} table; raises on anything else.
local function unpack_array(v, what)
  if type(v) == "userdata" and v.read then return v:shape(), v:read() end
  if type(v) == "table" and v.shape and v.data then return v.shape, v.data end
  error("decode: '" .. what .. "' must be a lumen.Tensor or a {shape=, data=} table", 3)
end

-- 3D IoU of two boxes {cz, cy, cx, sd, sh, sw} (array part, 1-based), in the reference's
-- operation order so that borderline overlaps round the same way. This function can't fail.
function M.iou3d(a, b)
  local inter = 1.0
  for i = 1, 3 do
    local lo = math.max(a[i] - a[3 + i] / 2.0, b[i] - b[3 + i] / 2.0)
    local hi = math.min(a[i] + a[3 + i] / 2.0, b[i] + b[3 + i] / 2.0)
    if hi <= lo then return 0.0 end
    inter = inter * (hi - lo)
  end
  local va = a[4] * a[5] * a[6]
  local vb = b[4] * b[5] * b[6]
  return inter / (va + vb - inter)
end

local function sigmoid(v) return 1.0 / (1.0 + math.exp(-v)) end

local function clamp(v, lo, hi) return math.min(math.max(v, lo), hi) end

-- decode(objectness, box [, opts]) -> list of detections {score=, z=, y=, x=, d=, h=, w=} in
-- kept order (highest logit first): centre (z, y, x) and size (d, h, w) in voxels.
-- opts: score_thresh, pre_nms_top_k, iou_thresh, max_det, anchor (defaults: M.DEFAULTS) and
-- item (the 1-based batch item, default 1). Raises on inconsistent shapes or bad options.
function M.decode(objectness, box, opts)
  opts = opts or {}
  local p = {}
  for k, v in pairs(M.DEFAULTS) do p[k] = opts[k] == nil and v or opts[k] end
  local oshape, obj = unpack_array(objectness, "objectness")
  local bshape, reg = unpack_array(box, "box")
  if #oshape ~= 5 or oshape[2] ~= 1 then error("decode: objectness must be [N, 1, D, H, W]", 2) end
  local N, D, H, W = oshape[1], oshape[3], oshape[4], oshape[5]
  if #bshape ~= 5 or bshape[1] ~= N or bshape[2] ~= 6 or bshape[3] ~= D or bshape[4] ~= H
      or bshape[5] ~= W then
    error("decode: box must be [N, 6, D, H, W] on the objectness grid", 2)
  end
  local item = math.tointeger(opts.item or 1)
  if not item or item < 1 or item > N then error("decode: item must be in 1.." .. N, 2) end
  local V = D * H * W
  local obase, bbase = (item - 1) * V, (item - 1) * 6 * V

  -- 1. threshold first: only the few candidates are sorted, not the whole grid. 'cand' holds
  -- 0-based linear voxel indices, 'logit' their logits.
  local cand, logit, thresh = {}, {}, p.score_thresh
  for i = 0, V - 1 do
    local l = obj[obase + i + 1]
    if sigmoid(l) >= thresh then
      cand[#cand + 1] = i
      logit[i] = l
    end
  end
  -- 2. logit descending, ties by linear index ascending: a total order, so the unstable
  -- table.sort gives the reference's stable-sort result.
  table.sort(cand, function(a, b)
    local la, lb = logit[a], logit[b]
    if la ~= lb then return la > lb end
    return a < b
  end)

  -- 3. and 4. the first pre_nms_top_k candidates, greedy NMS up to max_det kept boxes.
  local kept, boxes, HW, anchor = {}, {}, H * W, p.anchor
  for n = 1, math.min(#cand, p.pre_nms_top_k) do
    local i = cand[n]
    local z, rem = i // HW, i % HW
    local y, x = rem // W, rem % W
    local r = {}
    for c = 0, 5 do r[c + 1] = reg[bbase + c * V + i + 1] end
    local b = { z + r[1], y + r[2], x + r[3], anchor * math.exp(clamp(r[4], -4.0, 4.0)),
                anchor * math.exp(clamp(r[5], -4.0, 4.0)),
                anchor * math.exp(clamp(r[6], -4.0, 4.0)) }
    local keep = true
    for k = 1, #boxes do
      -- 'not <=' rather than '>' so that a NaN IoU suppresses, as Python's all(... <= t) does
      if not (M.iou3d(b, boxes[k]) <= p.iou_thresh) then
        keep = false
        break
      end
    end
    if keep then
      boxes[#boxes + 1] = b
      kept[#kept + 1] = { score = sigmoid(logit[i]), z = b[1], y = b[2], x = b[3],
                          d = b[4], h = b[5], w = b[6] }
      if #kept >= p.max_det then break end
    end
  end
  return kept
end

-- Detections as rows {score, z, y, x, d, h, w}: decode.py's [K, 7] array. Can't fail.
function M.rows(dets)
  local rows = {}
  for k, d in ipairs(dets) do rows[k] = { d.score, d.z, d.y, d.x, d.d, d.h, d.w } end
  return rows
end

return M
