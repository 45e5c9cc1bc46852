-- lumen.series: frames grouped into series, and a verdict per series (design.md decision 14:
-- a series is the unit of decision, "repeat this acquisition?").
--
--   local series = require "lumen.series"
--   local groups = series.group(records, { pattern = "^(series%a+)_" })
--   local v = series.verdict(groups[1].records, thresholds, groups[1].key)
--   -- v.verdict "keep" | "repeat", v.reasons {...}, v.bad_share, v.longest_bad_run, ...
--   local all = series.verdicts(records, { pattern = nil, thresholds = th, rule = nil })
--
-- The series of a record (series.key), first match wins:
--   1. record.series_key, when the frame source set one;
--   2. record.dicom.series_instance_uid (DICOM frames);
--   3. with a Lua pattern (lumen qc --series-pattern): its first capture (or whole match) in the
--      file name, e.g. "^(series%a+)_" puts seriesA_f01_16bit.png in series "seriesA"; a name
--      that does not match is a series of its own;
--   4. the input's folder (all frames of one folder are one series).
-- Frames keep their input order in a series, except that DICOM frames (record.dicom with
-- frame or instance_number) are sorted by instance and frame number.
--
-- The default verdict rule (thresholds from the package head, overridable by --rules):
--   a frame is "bad" when it was read and its class is not acceptable (record.acceptable ==
--   false), or, for a package without acceptable classes (record.acceptable == nil), when a
--   rule flagged it; "repeat" when bad frames / read frames >= series_max_bad_share, or the
--   longest run of consecutive bad frames >= series_max_bad_run, or no frame could be read;
--   else "keep".
--   Frames that failed (error records) are counted and named in the reasons but are not bad.
-- A custom rule (a rules file's `series` function) gets the summary table (M.summarize), the
-- thresholds and the series' records in order, and returns verdict, reasons.
local M = {}

local function dirname(p) return p:match("^(.*)/[^/]*$") or "." end
local function basename(p) return p:match("([^/]*)$") end

-- The series key of one record (see the header). opts.pattern: a Lua pattern or nil;
-- opts.key: a function(record) -> key that replaces the rule (e.g. the `series` field that
-- records of an earlier run carry).
function M.key(rec, opts)
  if opts and opts.key then return opts.key(rec) end
  if type(rec.series_key) == "string" and rec.series_key ~= "" then return rec.series_key end
  local d = rec.dicom
  local uid = type(d) == "table" and d.series_instance_uid
  if type(uid) == "string" and uid ~= "" then
    return uid
  end
  local input = tostring(rec.input or "")
  local pattern = opts and opts.pattern
  if pattern then
    local name = basename(input)
    local ok, a = pcall(string.match, name, pattern)
    if ok and a then return a end
    return name
  end
  return dirname(input)
end

-- Checks a --series-pattern: a valid Lua pattern. Returns true | nil, msg.
function M.check_pattern(p)
  local ok, err = pcall(string.match, "", p)
  if not ok then return nil, "--series-pattern: " .. tostring(err):gsub("^.-:%d+: ", "") end
  return true
end

-- Is a read frame "bad" for its series: its class is not acceptable, or, for a package
-- without acceptable classes (record.acceptable == nil), a rule flagged it.
function M.is_bad(r)
  if r.status ~= "ok" then return false end
  if r.acceptable ~= nil then return r.acceptable == false end
  return type(r.flags) == "table" and #r.flags > 0
end

local function frame_order(a, b)
  local da, db = a.rec.dicom, b.rec.dicom
  if type(da) == "table" and type(db) == "table" then
    local ia, ib = tonumber(da.instance_number) or 0, tonumber(db.instance_number) or 0
    if ia ~= ib then return ia < ib end
    local fa = tonumber(da.frame or da.frame_number) or 0
    local fb = tonumber(db.frame or db.frame_number) or 0
    if fa ~= fb then return fa < fb end
  end
  return a.i < b.i
end

-- Groups records into series, in the order each series first appears. Returns a list of
-- {key=, records={...}}.
function M.group(records, opts)
  local by, order = {}, {}
  for i, r in ipairs(records) do
    local k = M.key(r, opts)
    if not by[k] then
      by[k] = {}
      order[#order + 1] = k
    end
    table.insert(by[k], { i = i, rec = r })
  end
  local out = {}
  for _, k in ipairs(order) do
    local list = by[k]
    table.sort(list, frame_order)
    local recs = {}
    for j, e in ipairs(list) do recs[j] = e.rec end
    out[#out + 1] = { key = k, records = recs }
  end
  return out
end

local function round(x)
  if type(x) ~= "number" then return x end
  return tonumber(string.format("%.4g", x))
end

-- The facts of one series: counts, bad frames, longest run, class counts, mean top score.
function M.summarize(records, key)
  local s = { series = key, frames = #records, ok = 0, failed = 0, bad = 0, longest_bad_run = 0,
    flagged = 0, classes = {}, inputs = {}, bad_inputs = {}, failed_inputs = {} }
  local run, score_sum, classed = 0, 0, false
  for i, r in ipairs(records) do
    s.inputs[i] = r.input
    if r.status == "ok" then
      classed = classed or r.acceptable ~= nil
      s.ok = s.ok + 1
      score_sum = score_sum + (tonumber(r.score) or 0)
      if r.class_name then s.classes[r.class_name] = (s.classes[r.class_name] or 0) + 1 end
      if type(r.flags) == "table" and #r.flags > 0 then s.flagged = s.flagged + 1 end
      if M.is_bad(r) then
        s.bad = s.bad + 1
        s.bad_inputs[#s.bad_inputs + 1] = r.input
        run = run + 1
        if run > s.longest_bad_run then s.longest_bad_run = run end
      else
        run = 0
      end
    else
      s.failed = s.failed + 1
      s.failed_inputs[#s.failed_inputs + 1] = r.input
    end
  end
  s.bad_share = s.ok > 0 and round(s.bad / s.ok) or nil
  s.bad_words = classed and "not acceptable" or "flagged"
  s.mean_score = s.ok > 0 and round(score_sum / s.ok) or nil
  local d = records[1] and records[1].dicom
  if type(d) == "table" then
    s.dicom = { study_instance_uid = d.study_instance_uid,
      series_instance_uid = d.series_instance_uid, modality = d.modality }
  end
  return s
end

-- The default rule (see the header). Returns verdict, reasons.
function M.default_rule(s, th)
  local max_share = th.series_max_bad_share or 0.5
  local max_run = th.series_max_bad_run or 3
  local reasons = {}
  if s.ok == 0 then
    reasons[1] = string.format("no frame could be read (%d failed)", s.failed)
    return "repeat", reasons
  end
  local repeat_it = false
  if s.bad / s.ok >= max_share then
    repeat_it = true
    reasons[#reasons + 1] = string.format("%d of %d frames %s (%.0f%% >= %.0f%%)",
      s.bad, s.ok, s.bad_words, 100 * s.bad / s.ok, 100 * max_share)
  end
  if s.longest_bad_run >= max_run then
    repeat_it = true
    reasons[#reasons + 1] = string.format("%d %s frames in a row (>= %d)",
      s.longest_bad_run, s.bad_words == "flagged" and "flagged" or "not-acceptable", max_run)
  end
  if not repeat_it then
    reasons[#reasons + 1] = string.format("%d of %d frames %s (< %.0f%%), longest run %d (< %d)",
      s.bad, s.ok, s.bad_words, 100 * max_share, s.longest_bad_run, max_run)
  end
  if s.failed > 0 then
    reasons[#reasons + 1] = string.format("%d frame%s could not be read", s.failed,
      s.failed == 1 and "" or "s")
  end
  return repeat_it and "repeat" or "keep", reasons
end

-- The verdict of one series: its summary plus verdict and reasons. thresholds: the package's
-- (series_max_bad_share, series_max_bad_run); rule: nil (the default) or
-- function(summary, thresholds, records) -> verdict, reasons (records in series order). A
-- rule that raises gives the verdict "rule_error" with its message as the reason.
function M.verdict(records, thresholds, key, rule)
  local s = M.summarize(records, key)
  local ok, v, reasons = pcall(rule or M.default_rule, s, thresholds or {}, records)
  if not ok then
    v, reasons = "rule_error", { tostring(v) }
  elseif type(v) ~= "string" then
    v, reasons = "rule_error", { "the series rule returned no verdict string" }
  end
  s.verdict = v
  s.reasons = type(reasons) == "table" and reasons or { tostring(reasons or "") }
  return s
end

-- Verdicts of all series in records, in order. opts: pattern, thresholds, rule.
function M.verdicts(records, opts)
  opts = opts or {}
  local out = {}
  for _, g in ipairs(M.group(records, opts)) do
    out[#out + 1] = M.verdict(g.records, opts.thresholds, g.key, opts.rule)
  end
  return out
end

-- Sets record.series (the key, recomputed: a re-run with another pattern regroups) on every
-- record, so reports carry it. Returns records.
function M.tag(records, opts)
  for _, r in ipairs(records) do r.series = M.key(r, opts) end
  return records
end

-- CSV columns for series verdicts (lumen.report.csv format).
function M.csv_columns()
  return {
    { "series", function(s) return s.series end },
    { "verdict", function(s) return s.verdict end },
    { "frames", function(s) return s.frames end },
    { "ok", function(s) return s.ok end },
    { "failed", function(s) return s.failed end },
    { "bad", function(s) return s.bad end },
    { "bad_share", function(s) return s.bad_share end },
    { "longest_bad_run", function(s) return s.longest_bad_run end },
    { "flagged", function(s) return s.flagged end },
    { "mean_score", function(s) return s.mean_score end },
    { "reasons", function(s) return s.reasons end },
  }
end

return M
