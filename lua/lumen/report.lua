-- lumen.report: QC reports as data first (design.md decision 10).
--
--   local report = require "lumen.report"
--   local r = report.open("report")           -- loads report/report.jsonl from an earlier run
--   local old = r:lookup(input_sha, model_sha, threshold)   -- a finished record, or nil
--   r:add(record); r:flush()                  -- JSONL checkpoint
--   r:finish(info)                            -- report.jsonl, report.csv, report.html
--
-- Files in the output folder (a sharded run adds "-shard<i>of<n>" before the extension):
--   report.jsonl  one JSON record per frame, in input order (fields: see README "Reports")
--   report.csv    one row per frame: class, probabilities, vessel statistics, flags, timings
--   report.html   a static page: summary per class, sortable frame table with thumbnails that
--                 link to overlays; no network resources
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
  if v:find('[,"\r\n]') or (text and v:sub(1, 1) == "'") then v = '"' .. v:gsub('"', '""') .. '"' end
  return v
end
M.csv_field = csv_field

-- CSV text with a header row. columns: list of {name, function(record) -> value}.
function M.csv(records, columns)
  local lines = {}
  local head = {}
  for i, c in ipairs(columns) do head[i] = csv_field(c[1]) end
  lines[1] = table.concat(head, ",")
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

local function get(r, ...)
  for _, k in ipairs({ ... }) do
    if type(r) ~= "table" then return nil end
    r = r[k]
  end
  if r == json.null then return nil end
  return r
end
M.get = get

-- The standard roll-up columns for records with the given class names.
function M.csv_columns(class_names)
  local cols = {
    { "input", function(r) return r.input end },
    { "status", function(r) return r.status end },
    { "class", function(r) return get(r, "class") end },
    { "class_name", function(r) return get(r, "class_name") end },
    { "score", function(r) return get(r, "score") end },
  }
  for _, name in ipairs(class_names) do
    cols[#cols + 1] = { "p_" .. name, function(r) return get(r, "probabilities", name) end }
  end
  for _, c in ipairs({
    { "vessel_area_fraction", function(r) return get(r, "vessels", "area_fraction") end },
    { "vessel_components", function(r) return get(r, "vessels", "components") end },
    { "vessel_largest_share", function(r) return get(r, "vessels", "largest_share") end },
    { "flags", function(r) return get(r, "flags") end },
    { "preprocess_ms", function(r) return get(r, "ms", "preprocess") end },
    { "inference_ms", function(r) return get(r, "ms", "inference") end },
    { "postprocess_ms", function(r) return get(r, "ms", "postprocess") end },
    { "input_sha256", function(r) return get(r, "input_sha256") end },
    { "error", function(r) return get(r, "error") end },
  }) do cols[#cols + 1] = c end
  return cols
end

-- ---- summary ----

-- Counts over records: ok / failed / skipped, per class {count, flagged, mean score, mean
-- vessel fraction}, flagged frames. class_names gives the order of the per-class rows.
function M.summarize(records, class_names)
  local s = { total = #records, ok = 0, failed = 0, skipped = 0, flagged = 0, classes = {},
    flag_counts = {} }
  for i, name in ipairs(class_names or {}) do
    s.classes[i] = { class = i - 1, name = name, count = 0, flagged = 0, score_sum = 0, vessel_sum = 0 }
  end
  for _, r in ipairs(records) do
    if r.status == "ok" then
      s.ok = s.ok + 1
      if r.skipped then s.skipped = s.skipped + 1 end
      local c = s.classes[(r.class or 0) + 1]
      if not c then
        c = { class = r.class, name = r.class_name, count = 0, flagged = 0, score_sum = 0, vessel_sum = 0 }
        s.classes[(r.class or 0) + 1] = c
      end
      c.count = c.count + 1
      c.score_sum = c.score_sum + (r.score or 0)
      c.vessel_sum = c.vessel_sum + (get(r, "vessels", "area_fraction") or 0)
      local flags = get(r, "flags") or {}
      if #flags > 0 then
        s.flagged = s.flagged + 1
        c.flagged = c.flagged + 1
      end
      for _, f in ipairs(flags) do s.flag_counts[f] = (s.flag_counts[f] or 0) + 1 end
    else
      s.failed = s.failed + 1
    end
  end
  for _, c in pairs(s.classes) do
    c.mean_score = c.count > 0 and c.score_sum / c.count or nil
    c.mean_vessels = c.count > 0 and c.vessel_sum / c.count or nil
  end
  return s
end

-- ---- HTML ----

local function esc(s)
  return (json.utf8_clean(tostring(s)):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
    ['"'] = "&quot;", ["'"] = "&#39;" }))
end
M.html_escape = esc

local function fmt(x, f)
  if type(x) ~= "number" then return "" end
  return string.format(f or "%.3f", x)
end

local CSS = [[
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .3em}
.meta{color:#555;margin-bottom:1em}
table{border-collapse:collapse;margin-bottom:1.5em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:middle}
th{background:#f0f0f0}
table.frames th{cursor:pointer;user-select:none}
table.frames th:hover{background:#e0e6f0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.flagged td{background:#fff6e0}
tr.error td{background:#fde8e8}
img.thumb{width:96px;height:96px;image-rendering:pixelated;display:block}
.flag{display:inline-block;background:#f5d08a;border-radius:3px;padding:0 4px;margin:1px;font-size:12px}
.err{color:#a00}
]]

-- Sorts the frame table by a column's data-v values (numbers numerically); a second click
-- reverses. Rows keep their thumbnails (they are moved, not rebuilt).
local JS = [[
document.querySelectorAll("table.frames th[data-k]").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var tb = th.closest("table").tBodies[0], rows = Array.prototype.slice.call(tb.rows);
    var idx = th.cellIndex, dir = th.dataset.dir === "asc" ? -1 : 1;
    th.dataset.dir = dir === 1 ? "asc" : "desc";
    rows.sort(function (a, b) {
      var x = a.cells[idx].dataset.v, y = b.cells[idx].dataset.v;
      var nx = parseFloat(x), ny = parseFloat(y);
      if (!isNaN(nx) && !isNaN(ny)) return (nx - ny) * dir;
      return String(x).localeCompare(String(y)) * dir;
    });
    rows.forEach(function (r) { tb.appendChild(r); });
  });
});
]]

-- The report page. info: {title=, model=, model_sha256=, device=, class_names=, created=,
-- wall_s=}. Image paths in records are relative to the page's folder.
function M.html(records, info)
  local names = info.class_names or {}
  local s = M.summarize(records, names)
  local o = {}
  local function w(...) for _, v in ipairs({ ... }) do o[#o + 1] = v end end
  w("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>",
    esc(info.title or "lumen QC report"), "</title>\n<style>", CSS, "</style></head><body>\n")
  w("<h1>", esc(info.title or "lumen QC report"), "</h1>\n<div class=\"meta\">model <b>",
    esc(info.model or "?"), "</b> (sha256 ", esc((info.model_sha256 or "?"):sub(1, 12)),
    "…) on <b>", esc(info.device or "?"), "</b>", info.created and (", " .. esc(info.created)) or "",
    " — ", s.total, " frames: ", s.ok, " ok (", s.skipped, " from an earlier run), ", s.failed,
    " failed, ", s.flagged, " flagged",
    info.wall_s and string.format(", %.1f s", info.wall_s) or "", "</div>\n")

  w("<h2>Summary per class</h2>\n<table class=\"summary\"><thead><tr><th>class</th><th>frames</th>",
    "<th>flagged</th><th>mean score</th><th>mean vessel fraction</th></tr></thead><tbody>\n")
  for i = 1, math.max(#names, #s.classes) do
    local c = s.classes[i]
    if c then
      w("<tr><td>", esc(c.name or ("class_" .. (i - 1))), "</td><td class=\"num\">", c.count,
        "</td><td class=\"num\">", c.flagged, "</td><td class=\"num\">", fmt(c.mean_score),
        "</td><td class=\"num\">", fmt(c.mean_vessels, "%.4f"), "</td></tr>\n")
    end
  end
  w("<tr><td>failed</td><td class=\"num\">", s.failed, "</td><td></td><td></td><td></td></tr>\n")
  w("</tbody></table>\n")

  w("<h2>Frames</h2>\n<p>Click a column header to sort; click a thumbnail for the vessel overlay.</p>\n",
    "<table class=\"frames\"><thead><tr><th>image</th><th data-k=\"input\">input</th>",
    "<th data-k=\"class\">class</th><th data-k=\"score\">score</th>")
  for _, n in ipairs(names) do w("<th data-k=\"p\">p(", esc(n:gsub("_", " ")), ")</th>") end
  w("<th data-k=\"vf\">vessel fraction</th><th data-k=\"vc\">components</th>",
    "<th data-k=\"flags\">flags</th><th data-k=\"ms\" title=\"preprocess / inference / postprocess\">ms</th></tr></thead><tbody>\n")
  for _, r in ipairs(records) do
    local flags = get(r, "flags") or {}
    local cls = r.status == "ok" and "frame" .. (#flags > 0 and " flagged" or "") or "frame error"
    w("<tr class=\"", cls, "\">")
    if r.thumbnail and r.overlay then
      w("<td><a href=\"", esc(r.overlay), "\"><img class=\"thumb\" src=\"", esc(r.thumbnail),
        "\" alt=\"", esc(r.input), "\"></a></td>")
    else
      w("<td></td>")
    end
    w("<td data-v=\"", esc(r.input), "\" title=\"", esc(r.input), "\">",
      esc(r.input:match("([^/]*)$")), "</td>")
    if r.status == "ok" then
      w("<td data-v=\"", esc(r.class), "\">", esc(r.class_name or r.class), "</td>")
      w("<td class=\"num\" data-v=\"", fmt(r.score, "%.6f"), "\">", fmt(r.score), "</td>")
      for _, n in ipairs(names) do
        local p = get(r, "probabilities", n)
        w("<td class=\"num\" data-v=\"", fmt(p, "%.6f"), "\">", fmt(p), "</td>")
      end
      local v = get(r, "vessels") or {}
      w("<td class=\"num\" data-v=\"", fmt(v.area_fraction, "%.6f"), "\">", fmt(v.area_fraction, "%.4f"),
        "</td><td class=\"num\" data-v=\"", esc(v.components or ""), "\">", esc(v.components or ""), "</td>")
      w("<td data-v=\"", #flags, "\">")
      for _, f in ipairs(flags) do w("<span class=\"flag\">", esc(f), "</span>") end
      local ms = get(r, "ms") or {}
      local total = (ms.preprocess or 0) + (ms.inference or 0) + (ms.postprocess or 0)
      w("</td><td class=\"num\" data-v=\"", fmt(total, "%.1f"), "\">", r.skipped and "(earlier run) " or "",
        fmt(ms.preprocess, "%.0f"), " / ", fmt(ms.inference, "%.0f"), " / ", fmt(ms.postprocess, "%.0f"),
        "</td>")
    else
      w("<td data-v=\"~\" colspan=\"", 6 + #names, "\" class=\"err\">error: ", esc(r.error or "?"), "</td>")
    end
    w("</tr>\n")
  end
  w("</tbody></table>\n<script>", JS, "</script>\n</body></html>\n")
  return table.concat(o)
end

-- ---- the report object ----

local Report = {}
Report.__index = Report

-- Opens (creating) an output folder. opts: suffix (e.g. "-shard0of2"), class_names.
-- Loads the finished records of earlier runs from report<suffix>.jsonl, report.jsonl and
-- report-shard*.jsonl; unreadable lines are ignored (those frames are redone).
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
          local key = r.input_sha256 .. "/" .. r.model_sha256 .. "/" .. tostring(r.threshold)
          self.previous[key] = self.previous[key] or r
          self.previous[key .. "/" .. r.input] = self.previous[key .. "/" .. r.input] or r
        end
      end
      f:close()
    end
  end
  return self
end

-- Field types a finished record must have to be reused: name -> Lua type (or "hex64", an
-- array of "strings", a table of "numbers").
local RECORD_FIELDS = {
  input = "string", status = "string", input_sha256 = "hex64", model_sha256 = "hex64",
  threshold = "number", class = "integer", class_name = "string", score = "number",
  probabilities = "numbers", vessels = "numbers", flags = "strings?", ms = "numbers?",
  thumbnail = "string?", overlay = "string?", width = "integer?", height = "integer?",
  channels = "integer?", bit_depth = "integer?", error = "string?", created = "string?",
  rule_errors = "strings?",
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
    for k, x in pairs(v) do
      if type(k) == "table" or (type(x) ~= want and x ~= json.null) then return false end
    end
    return true
  end
  return type(v) == kind
end

-- Why a record read from an earlier report cannot be reused, or nil when it can: a table with
-- status "ok" and every field of RECORD_FIELDS of its type (error records are never reused).
function M.check_record(r)
  if type(r) ~= "table" then return "not a JSON object" end
  if r.status ~= "ok" then return r.status == "error" and nil or "status is not ok or error" end
  for k, kind in pairs(RECORD_FIELDS) do
    if not check_field(r[k], kind) then return string.format("field '%s' is not a %s", k, kind) end
  end
  return nil
end

-- A deep copy of plain data (records are never shared between frames).
local function copy(v)
  if type(v) ~= "table" or v == json.null then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return setmetatable(t, getmetatable(v))
end
M.copy = copy

-- A finished record of an earlier run for the same input bytes, model and threshold (whose
-- images still exist), or nil.
-- The record for this path is preferred; another path with the same bytes gives its record
-- under the new path. The result is a copy the caller owns.
function Report:lookup(input_sha, model_sha, threshold, input)
  local key = input_sha .. "/" .. model_sha .. "/" .. tostring(threshold)
  local r = input and self.previous[key .. "/" .. input] or self.previous[key]
  if not r then return nil end
  for _, k in ipairs({ "thumbnail", "overlay" }) do
    if type(r[k]) == "string" and lumen.file_type(self.dir .. "/" .. r[k]) ~= "file" then
      return nil
    end
  end
  r = copy(r)
  if input then r.input = input end
  return r
end

-- Adds (or replaces, for the same input path) a record.
function Report:add(rec)
  local i = self.by_input[rec.input]
  if i then
    self.records[i] = rec
  else
    self.records[#self.records + 1] = rec
    self.by_input[rec.input] = #self.records
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

-- Writes report.jsonl, report.csv and report.html. info as for M.html.
-- Returns the paths table | nil, msg.
function Report:finish(info)
  info = info or {}
  info.class_names = info.class_names or self.class_names
  local ok, err = self:flush()
  if not ok then return nil, err end
  ok, err = M.write_atomic(self.paths.csv, M.csv(self.records, M.csv_columns(info.class_names)))
  if not ok then return nil, err end
  ok, err = M.write_atomic(self.paths.html, M.html(self.records, info))
  if not ok then return nil, err end
  return self.paths
end

M.Report = Report
return M
