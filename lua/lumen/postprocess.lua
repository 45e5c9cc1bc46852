-- lumen.postprocess: from model outputs to the numbers a QC report holds.
--
--   local post = require "lumen.postprocess"
--   local cls = post.classify(out.cls_logit:read())
--     -- {class=, class_name=, score=, probabilities=}
--   local v = post.vessel_stats(out.seg_logit, 0.5)
--     -- {area_fraction=, components=, largest_share=}
--   post.write_images("report/images/f01", frame, out.seg_logit, 0.5)  -- thumbnail + overlay PNGs
--   local flags = post.evaluate(post.default_rules(), record)
--
-- Small host arrays (class logits) are handled in Lua; whole images never pass through Lua
-- tables: vessel statistics and overlays are computed by the binding (lumen.mask_stats,
-- lumen.overlay_png). The segmentation output is a logit map: sigmoid(x) > t exactly when
-- x > logit(t), so thresholds are applied on logits and no per-pixel sigmoid is needed.
--
-- Rules: a rule is { name = "low_vessels", check = function(record) -> truthy, message = "..." }.
-- A rule set is a list of rules, or a table mapping names to check functions. evaluate() returns
-- the names of the rules whose check is truthy; a check that raises becomes the flag
-- "rule_error:<name>" and its message is returned too, so one bad rule never stops a batch.
local lumen = require "lumen"
local rules = require "lumen.rules"

local M = {}

-- angio_qa's classes, in the order of cls_logit (models/angio_qa/reference.py).
M.CLASS_NAMES = { "diagnostic", "motion_misregistration", "insufficient_contrast",
  "other_nondiagnostic" }

function M.sigmoid(x)
  if x >= 0 then return 1 / (1 + math.exp(-x)) end
  local e = math.exp(x)
  return e / (1 + e)
end

-- The logit of a probability p in (0, 1): the threshold to apply to a logit map.
function M.logit(p)
  if p <= 0 then return -math.huge end
  if p >= 1 then return math.huge end
  return math.log(p / (1 - p))
end

-- Softmax of an array of numbers (stable: the maximum is subtracted first).
function M.softmax(x)
  local mx = -math.huge
  for i = 1, #x do if x[i] > mx then mx = x[i] end end
  local out, sum = {}, 0
  for i = 1, #x do
    out[i] = math.exp(x[i] - mx)
    sum = sum + out[i]
  end
  for i = 1, #x do out[i] = out[i] / sum end
  return out
end

-- Class probabilities and the predicted class from one frame's logits.
-- Returns { probabilities = {name = p, ...}, probs = {p1, ..., pK}, class = 0-based index,
-- class_name = name, score = p of the predicted class }.
function M.classify(logits, names)
  names = names or M.CLASS_NAMES
  local p = M.softmax(logits)
  local best = 1
  for i = 2, #p do if p[i] > p[best] then best = i end end
  local by_name = {}
  for i = 1, #p do by_name[names[i] or ("class_" .. (i - 1))] = p[i] end
  return { probabilities = by_name, probs = p, class = best - 1,
    class_name = names[best] or ("class_" .. (best - 1)), score = p[best] }
end

-- Vessel statistics of a segmentation map [1,1,H,W] at probability threshold t.
-- opts.logits = false when the map already holds probabilities (default: logits).
-- Returns { area_fraction =, pixels =, components =, largest_share =, nonfinite = } (see
-- lumen.mask_stats; nonfinite counts NaN and infinite values in the map).
function M.vessel_stats(seg, threshold, opts)
  local logits = not (opts and opts.logits == false)
  local s = lumen.mask_stats(seg, logits and M.logit(threshold) or threshold)
  return { area_fraction = s.area_fraction, pixels = s.pixels, components = s.components,
    largest_share = s.largest_share, nonfinite = s.nonfinite }
end

-- Writes <prefix>_thumb.png (the frame alone, every 'step'-th pixel, default 4) and
-- <prefix>_overlay.png (full size, vessels tinted red). frame and seg are [1,1,H,W] of the same
-- size (the preprocessed model input and the seg output). Returns the two paths | nil, msg.
function M.write_images(prefix, frame, seg, threshold, opts)
  opts = opts or {}
  local thr = opts.logits == false and threshold or M.logit(threshold)
  local thumb, overlay = prefix .. "_thumb.png", prefix .. "_overlay.png"
  local ok, err = lumen.overlay_png(thumb, frame, seg,
                                    { threshold = math.huge, step = opts.step or 4 })
  if not ok then return nil, err end
  ok, err = lumen.overlay_png(overlay, frame, seg, { threshold = thr, step = opts.overlay_step or 1,
    alpha = opts.alpha })
  if not ok then return nil, err end
  return thumb, overlay
end

-- ---- rules ----

-- Rules (pure Lua, shared with the sandbox): see lua/lumen/rules.lua.
M.default_rules = rules.default
M.normalize_rules = rules.normalize
M.evaluate = rules.evaluate

return M
