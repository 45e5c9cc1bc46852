-- lumen.report: QC reports as data first (design.md decision 10).
--
--   local report = require "lumen.report"
--   local r = report.open("report")           -- loads report/report.jsonl from an earlier run
--   local old = r:lookup(input_sha, model_sha, threshold)   -- a finished record, or nil
--   r:add(record); r:flush()                  -- JSONL checkpoint
--   r:finish(info)                            -- report.{jsonl,csv,html}, series.{jsonl,csv}
--
-- Files in the output folder (a sharded run adds "-shard<i>of<n>" before the extension):
--   report.jsonl  one JSON record per frame, in input order (fields: see README "Reports")
--   report.csv    one row per frame: class, probabilities, segmentation statistics, flags,
--                 timings, weights status; a "# NOTICE" first line when the weights are not
--                 validated
--   series.jsonl  one verdict per series (lumen.series), series.csv the same as rows
--   report.html   a static page (lumen.report_html): weights notice, provenance, series
--                 verdicts with thumbnail strips and probability plots, score histogram,
--                 summary per class, sortable frame table; no network resources
--   images/       <stem>_<hash8>_thumb.png and _overlay.png per frame
-- Every file is written to a temporary name in the same folder, fsync'd and renamed over the
-- old one, so a crash leaves either the old or the new file, never half of one; the temp files
-- a killed run leaves behind are removed by the next M.open.
-- Text is UTF-8 (invalid bytes in file names become U+FFFD; records keep the raw name in
-- input_hex); CSV cells that a spreadsheet would run as a formula (= + - @ tab CR first) are
-- prefixed with ' (OWASP's advice); records from earlier runs are checked field by field and a
-- bad one is skipped with a warning, never trusted.
local lumen = require "lumen"
local json = require "lumen.json"

local M = {}
M.json = json

-- Writes text to path atomically: lumen.write_file (runtime/sys.c: temp file in the same
-- folder, fsync, rename only onto a regular file or a new name, fsync of the folder).
-- Returns true | nil, msg.
function M.write_atomic(path, text)
  return lumen.write_file(path, text)
end

-- ---- CSV ----

local function csv_field(v)
  if v == nil or v == json.null then return "" end
  if type(v) == "table" then v = table.concat(v, ";") end
  local text = type(v) == "string"
  v = json.utf8_clean(tostring(v))
  -- a text cell starting with = + - @ (or tab, CR) would be a formula in a spreadsheet
  if text and v:find("^[=+%-@\t\r]") then v = "'" .. v end
  if v:find('[,"\r\n]') or (text and v:sub(1, 1) == "'") then
    v = '"' .. v:gsub('"', '""') .. '"'
  end
  return v
end
M.csv_field = csv_field

-- CSV text with a header row, one row per record. records: a list of tables; columns: a
-- non-empty list of {header, function(record) -> value} (a value that is a list is joined with
-- ";"; nil is an empty field; a function that raises gives an empty field). opts.comment: lines
-- written first, each prefixed with "# " (readers that do not skip comments see them as rows).
-- Wrong arguments raise (a mistake should not silently write an empty CSV).
function M.csv(records, columns, opts)
  if type(records) ~= "table" then
    error("report.csv: records must be a list of records, got " .. type(records), 2)
  end
  if type(columns) ~= "table" or #columns == 0 then
    error("report.csv: columns must be a non-empty list of {header, function(record)}", 2)
  end
  for i, c in ipairs(columns) do
    if type(c) ~= "table" or type(c[1]) ~= "string" or type(c[2]) ~= "function" then
      error(string.format("report.csv: column %d must be {header, function(record)}", i), 2)
    end
  end
  for i, r in ipairs(records) do
    if type(r) ~= "table" then
      error(string.format("report.csv: record %d is a %s, not a table", i, type(r)), 2)
    end
  end
  local lines = {}
  for _, c in ipairs(opts and opts.comment or {}) do lines[#lines + 1] = "# " .. c end
  local head = {}
  for i, c in ipairs(columns) do head[i] = csv_field(c[1]) end
  lines[#lines + 1] = table.concat(head, ",")
  for _, r in ipairs(records) do
    local row = {}
    for i, c in ipairs(columns) do
      local ok, v = pcall(c[2], r)
      row[i] = csv_field(ok and v or nil)
    end
    lines[#lines + 1] = table.concat(row, ",")
  end
  return table.concat(lines, "\n") .. "\n"
end

local get = json.get
M.get = get

-- The standard roll-up columns for records with the given class names. opts.seg_label: the
-- record field of segmentation statistics (the package's label, e.g. "vessels"; nil: none).
function M.csv_columns(class_names, opts)
  opts = opts or {}
  local cols = {
    { "input", function(r) return r.input end },
    { "frame", function(r) return get(r, "frame") end },
    { "series", function(r) return get(r, "series") end },
    { "status", function(r) return r.status end },
    { "class", function(r) return get(r, "class") end },
    { "class_name", function(r) return get(r, "class_name") end },
    { "acceptable", function(r) return get(r, "acceptable") end },
    { "score", function(r) return get(r, "score") end },
    { "margin", function(r) return get(r, "margin") end },
  }
  for _, name in ipairs(class_names or {}) do
    cols[#cols + 1] = { "p_" .. name, function(r) return get(r, "probabilities", name) end }
  end
  local lbl = opts.seg_label
  if lbl then
    for _, f in ipairs({ "area_fraction", "components", "largest_share" }) do
      cols[#cols + 1] = { lbl .. "_" .. f, function(r) return get(r, lbl, f) end }
    end
  end
  for _, c in ipairs({
    { "flags", function(r) return get(r, "flags") end },
    { "preprocess_ms", function(r) return get(r, "ms", "preprocess") end },
    { "inference_ms", function(r) return get(r, "ms", "inference") end },
    { "postprocess_ms", function(r) return get(r, "ms", "postprocess") end },
    { "input_sha256", function(r) return get(r, "input_sha256") end },
    { "model", function(r) return get(r, "model") end },
    { "model_sha256", function(r) return get(r, "model_sha256") end },
    { "weights_status", function(r) return get(r, "weights_status") end },
    { "error", function(r) return get(r, "error") end },
  }) do cols[#cols + 1] = c end
  return cols
end

-- ---- summary ----

-- Counts over records: ok / failed / skipped, per class {count, flagged, mean score, mean
-- segmentation area fraction}, flagged frames, frames with no class (segmentation-only
-- models). class_names gives the order of the per-class rows; seg_label the record field of
-- segmentation statistics (nil: none; mean_area is then 0).
function M.summarize(records, class_names, seg_label)
  local s = { total = #records, ok = 0, failed = 0, skipped = 0, flagged = 0, classes = {},
    flag_counts = {}, unclassified = 0, not_acceptable = 0 }
  local function new_class(i, name)
    return { class = i, name = name, count = 0, flagged = 0, score_sum = 0, area_sum = 0 }
  end
  for i, name in ipairs(class_names or {}) do s.classes[i] = new_class(i - 1, name) end
  for _, r in ipairs(records) do
    if r.status == "ok" then
      s.ok = s.ok + 1
      if r.skipped then s.skipped = s.skipped + 1 end
      local flags = get(r, "flags") or {}
      local c
      if math.type(r.class) == "integer" and r.class >= 0 then
        c = s.classes[r.class + 1]
        if not c then
          c = new_class(r.class, r.class_name)
          s.classes[r.class + 1] = c
        end
        c.count = c.count + 1
        c.score_sum = c.score_sum + (tonumber(r.score) or 0)
        c.area_sum = c.area_sum
          + (seg_label and tonumber(get(r, seg_label, "area_fraction")) or 0)
        if #flags > 0 then c.flagged = c.flagged + 1 end
      else
        s.unclassified = s.unclassified + 1
      end
      if r.acceptable == false then s.not_acceptable = s.not_acceptable + 1 end
      if #flags > 0 then s.flagged = s.flagged + 1 end
      for _, f in ipairs(flags) do s.flag_counts[f] = (s.flag_counts[f] or 0) + 1 end
    else
      s.failed = s.failed + 1
    end
  end
  for _, c in pairs(s.classes) do
    c.mean_score = c.count > 0 and c.score_sum / c.count or nil
    c.mean_area = c.count > 0 and c.area_sum / c.count or nil
  end
  return s
end

-- What the report files say about a batch, rebuilt from its records alone (for reports
-- joined from shards, `lumen report merge`): the series verdicts (records grouped by their
-- `series` field, with the thresholds of the first record's provenance), the weights notice,
-- the provenance and the segmentation label. Returns a table of info fields for finish().
function M.batch_info(records)
  local first = records[1] or {}
  local prov = type(first.provenance) == "table" and first.provenance or {}
  local series = require "lumen.series"
  local verdicts = series.verdicts(records, { thresholds = prov.thresholds or {},
    key = function(r) return r.series or series.key(r) end })
  local notice
  if first.weights_status or prov.weights_status then
    notice = require("lumen.package").notice(first.weights_status or prov.weights_status,
      first.model, prov.weights_note)
  end
  return { series = verdicts, notice = notice, provenance = prov, seg_label = prov.seg_label }
end

-- ---- HTML ----

-- The report page (lumen.report_html): M.html(records, info).
function M.html(records, info)
  return require("lumen.report_html").html(records, info)
end

function M.html_escape(s)
  return require("lumen.report_html").escape(s)
end

-- ---- the report object ----

local Report = {}
Report.__index = Report

-- Opens (creating) an output folder. opts: suffix (e.g. "-shard0of2"), class_names.
-- Loads the finished records of earlier runs from report<suffix>.jsonl, report.jsonl and
-- report-shard*.jsonl; a line that is not a well-typed record is skipped with a warning on
-- stderr (opts.warn = false: silently) and its frame is redone. Stale temp files are removed.
-- Returns a Report | nil, msg.
function M.open(dir, opts)
  opts = opts or {}
  local ok, err = lumen.mkdir(dir .. "/images")
  if not ok then return nil, err end
  local suffix = opts.suffix or ""
  local self = setmetatable({ dir = dir, suffix = suffix, records = {}, by_input = {},
    previous = {}, class_names = opts.class_names or {} }, Report)
  self.paths = {
    jsonl = dir .. "/report" .. suffix .. ".jsonl",
    csv = dir .. "/report" .. suffix .. ".csv",
    html = dir .. "/report" .. suffix .. ".html",
    series_jsonl = dir .. "/series" .. suffix .. ".jsonl",
    series_csv = dir .. "/series" .. suffix .. ".csv",
  }
  -- finished records of earlier runs: this file's, and those of other shardings of the batch
  -- (report.jsonl, report-shard*.jsonl), so changing the shard count loses no work
  local files = { self.paths.jsonl }
  for _, name in ipairs(lumen.list_dir(dir) or {}) do
    if name:match("^report%-shard%d+of%d+%.jsonl$") or name == "report.jsonl" then
      if dir .. "/" .. name ~= self.paths.jsonl then files[#files + 1] = dir .. "/" .. name end
    end
  end
  -- temp files of a run that was killed mid-write (their writer is gone)
  lumen.tmp_clean(dir, "report")
  lumen.tmp_clean(dir, "series")
  lumen.tmp_clean(dir .. "/images", "")
  self.bad_records = 0
  for _, path in ipairs(files) do
    local f = lumen.file_type(path) == "file" and io.open(path, "rb")
    if f then
      local n = 0
      for line in f:lines() do
        n = n + 1
        local r = json.decode(line)
        local why = M.check_record(r)
        if why then
          self.bad_records = self.bad_records + 1
          if opts.warn ~= false then
            io.stderr:write(string.format("warning: %s line %d: %s; the frame is run again\n",
              path, n, why))
          end
        elseif r.status == "ok" then
          -- by content and by path: the record of this very path is preferred
          local key = M.reuse_key(r.input_sha256, r.model_sha256, r.threshold, r)
          self.previous[key] = self.previous[key] or r
          self.previous[key .. "|" .. r.input] = self.previous[key .. "|" .. r.input] or r
        end
      end
      f:close()
    end
  end
  return self
end

-- Field types a finished record must have to be reused (name -> Lua type, "hex64", an array of
-- "strings", a table of "numbers"; "?" marks a field that may be absent). Fields not listed
-- are not read by the report code.
local RECORD_FIELDS = {
  input = "string", status = "string", input_sha256 = "hex64", model_sha256 = "hex64",
  threshold = "number", class = "integer?", class_name = "string?", score = "number?",
  probabilities = "numbers?", flags = "strings?", ms = "numbers?", thumbnail = "string?",
  overlay = "string?", width = "integer?", height = "integer?", channels = "integer?",
  bit_depth = "integer?", error = "string?", created = "string?", rule_errors = "strings?",
  frame = "integer?", head_sha256 = "hex64?", margin = "number?", acceptable = "boolean?",
}

local function check_field(v, kind)
  local optional = kind:sub(-1) == "?"
  if optional then kind = kind:sub(1, -2) end
  if v == nil or v == json.null then return optional end
  if kind == "hex64" then return type(v) == "string" and #v == 64 and not v:find("[^%x]") end
  if kind == "integer" then return math.type(v) == "integer" end
  if kind == "strings" or kind == "numbers" then
    if type(v) ~= "table" then return false end
    local want = kind == "strings" and "string" or "number"
    for _, x in pairs(v) do
      if type(x) ~= want and x ~= json.null then return false end
    end
    return true
  end
  return type(v) == kind
end

-- Why a record read from an earlier report cannot be reused, or nil when it can: a table whose
-- fields have their types (RECORD_FIELDS; a segmentation statistics table holds numbers).
-- Error records are never reused, but a well-formed one is no reason to warn.
function M.check_record(r)
  if type(r) ~= "table" then return "not a JSON object" end
  if r.status == "error" and type(r.input) == "string" then return nil end
  if r.status ~= "ok" then return "status is not ok or error" end
  for k, kind in pairs(RECORD_FIELDS) do
    if not check_field(r[k], kind) then
      return string.format("field '%s' is not a %s", k, kind:gsub("%?$", ""))
    end
  end
  for k, v in pairs(r) do
    if type(v) == "table" and v.area_fraction ~= nil and not check_field(v, "numbers") then
      return string.format("field '%s' is not a table of numbers", k)
    end
  end
  return nil
end

-- A deep copy of plain data: records are never shared between frames.
local function copy(v)
  if type(v) ~= "table" or v == json.null then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return setmetatable(t, getmetatable(v))
end
M.copy = copy

-- The key under which a finished record is reused: input bytes, frame number (multi-frame
-- inputs), model weights, package head, segmentation threshold and storage precision
-- (extra.precision, else a record's provenance.precision; "fp32" when neither says).
function M.reuse_key(input_sha, model_sha, threshold, extra)
  extra = extra or {}
  local prov = type(extra.provenance) == "table" and extra.provenance or {}
  return table.concat({ input_sha, tostring(extra.frame or ""), model_sha,
    tostring(extra.head_sha256 or ""), tostring(threshold),
    tostring(extra.precision or prov.precision or "fp32") }, "/")
end

-- The identity of a record within one report: its input path and frame number.
function M.record_key(rec)
  return tostring(rec.input) .. (rec.frame and ("#" .. tostring(rec.frame)) or "")
end

-- A finished record of an earlier run for the same input bytes, model and threshold (whose
-- images still exist), or nil. extra: {head_sha256=, frame=, precision=} (nil fields match
-- records without them; a nil precision is "fp32").
-- extra.input: the path the record is for (its own record is preferred; another path with the
-- same bytes gives its record under this path). The result is a copy the caller owns.
function Report:lookup(input_sha, model_sha, threshold, extra)
  local key = M.reuse_key(input_sha, model_sha, threshold, extra)
  local r = extra and extra.input and self.previous[key .. "|" .. extra.input] or self.previous[key]
  if not r then return nil end
  for _, k in ipairs({ "thumbnail", "overlay" }) do
    if type(r[k]) == "string" and lumen.file_type(self.dir .. "/" .. r[k]) ~= "file" then
      return nil
    end
  end
  r = copy(r)
  if extra and extra.input then r.input = extra.input end
  return r
end

-- Adds (or replaces, for the same input path and frame) a record.
function Report:add(rec)
  local key = M.record_key(rec)
  local i = self.by_input[key]
  if i then
    self.records[i] = rec
  else
    self.records[#self.records + 1] = rec
    self.by_input[key] = #self.records
  end
end

-- Writes the JSONL file with the records so far (a checkpoint). Returns true | nil, msg.
function Report:flush()
  local lines = {}
  for i, r in ipairs(self.records) do
    local saved = r.skipped
    r.skipped = nil -- a run-time mark, not data
    lines[i] = json.encode(r)
    r.skipped = saved
  end
  return M.write_atomic(self.paths.jsonl, table.concat(lines, "\n") .. (#lines > 0 and "\n" or ""))
end

-- Series verdicts as JSON Lines text (lumen.series.verdict tables).
function M.series_jsonl(verdicts)
  local lines = {}
  for i, v in ipairs(verdicts or {}) do lines[i] = json.encode(v) end
  return table.concat(lines, "\n") .. (#lines > 0 and "\n" or "")
end

-- Writes report.jsonl, report.csv, series.jsonl, series.csv and report.html (with the suffix
-- of a sharded run). info as for M.html (info.series: the verdicts; info.notice: the weights
-- status words, also a comment line at the top of both CSV files).
-- Returns the paths table | nil, msg.
function Report:finish(info)
  info = info or {}
  info.class_names = info.class_names or self.class_names
  local ok, err = self:flush()
  if not ok then return nil, err end
  local comment = info.notice and { info.notice } or nil
  ok, err = M.write_atomic(self.paths.csv, M.csv(self.records,
    M.csv_columns(info.class_names, { seg_label = info.seg_label }), { comment = comment }))
  if not ok then return nil, err end
  local sv = info.series or {}
  ok, err = M.write_atomic(self.paths.series_jsonl, M.series_jsonl(sv))
  if not ok then return nil, err end
  ok, err = M.write_atomic(self.paths.series_csv, M.csv(sv, require("lumen.series").csv_columns(),
    { comment = comment }))
  if not ok then return nil, err end
  ok, err = M.write_atomic(self.paths.html, M.html(self.records, info))
  if not ok then return nil, err end
  return self.paths
end

M.Report = Report
return M
