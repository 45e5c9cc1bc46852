-- examples/series_qc.lua: a verdict per series from its frames.
--
--   build/lumen run examples/series_qc.lua [FOLDER [OUT]]    (defaults: examples/data, report-series)
--
-- Frames are grouped by the series in their file name (seriesA_f01_16bit.png -> seriesA). A
-- series is usable when its best frame is diagnostic with good confidence (a reader needs one
-- good frame); its worst frame says what went wrong elsewhere. Writes OUT/series.jsonl and
-- OUT/series.html next to the per-frame report.
local pipeline = require "lumen.pipeline"
local report = require "lumen.report"
local json = require "lumen.json"

local folder, out = ...
folder, out = folder or "examples/data", out or "report-series"

local res, err = pipeline.run({ inputs = { folder }, out = out, title = "Frames of " .. folder })
if not res then
  io.stderr:write("series_qc: ", err, "\n")
  return 3
end

-- group by series name; a frame whose name does not follow the pattern is its own series
local series, order = {}, {}
for _, r in ipairs(res.records) do
  local name = r.input:match("([^/]+)$")
  local sid = name:match("^(.-)_f%d+") or name
  if not series[sid] then
    series[sid] = { id = sid, frames = {} }
    order[#order + 1] = sid
  end
  table.insert(series[sid].frames, r)
end

-- a frame's quality: p(diagnostic), minus a little per flag; failed frames are worst
local function quality(r)
  if r.status ~= "ok" then return -1 end
  return r.probabilities.diagnostic - 0.05 * #r.flags
end

local rows = {}
for _, sid in ipairs(order) do
  local s = series[sid]
  local best, worst
  for _, r in ipairs(s.frames) do
    if not best or quality(r) > quality(best) then best = r end
    if not worst or quality(r) < quality(worst) then worst = r end
  end
  local usable = best.status == "ok" and best.class == 0 and best.score >= 0.6
  local row = {
    series = sid, frames = #s.frames,
    verdict = usable and "usable" or "repeat acquisition",
    best = { input = best.input, class_name = best.class_name, p_diagnostic = best.probabilities
      and best.probabilities.diagnostic, flags = best.flags },
    worst = { input = worst.input, class_name = worst.class_name or "error", error = worst.error,
      p_diagnostic = worst.probabilities and worst.probabilities.diagnostic, flags = worst.flags },
  }
  rows[#rows + 1] = row
  print(string.format("%-10s %d frames  %-18s best %s (%s, p=%.2f)  worst %s (%s)", sid, #s.frames,
    row.verdict, best.input:match("([^/]+)$"), best.class_name or "error",
    row.best.p_diagnostic or 0, worst.input:match("([^/]+)$"), row.worst.class_name))
end

local lines = {}
for i, row in ipairs(rows) do lines[i] = json.encode(row) end
assert(report.write_atomic(out .. "/series.jsonl", table.concat(lines, "\n") .. "\n"))

local esc = report.html_escape
local h = { "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Series QC</title>",
  "<style>body{font:14px system-ui,sans-serif;margin:1.5em}td,th{border:1px solid #ccc;padding:3px 7px}",
  "table{border-collapse:collapse}.bad{background:#fde8e8}img{width:96px;display:block}</style></head><body>",
  "<h1>Series QC</h1><p>Per-frame details: <a href=\"report.html\">report.html</a></p>",
  "<table><tr><th>series</th><th>frames</th><th>verdict</th><th>best frame</th><th>worst frame</th></tr>" }
local by_input = {}
for _, r in ipairs(res.records) do by_input[r.input] = r end
local function cell(f)
  local r = by_input[f.input]
  local img = r.thumbnail and ("<img src=\"" .. esc(r.thumbnail) .. "\" alt=\"\">") or ""
  return "<td>" .. img .. esc(f.input:match("([^/]+)$")) .. "<br>" .. esc(f.class_name or "")
    .. (f.p_diagnostic and string.format(" (p<sub>diag</sub> %.2f)", f.p_diagnostic) or "")
    .. (f.error and ("<br>" .. esc(f.error)) or "") .. "</td>"
end
for _, row in ipairs(rows) do
  h[#h + 1] = string.format("<tr class=\"series%s\"><td>%s</td><td>%d</td><td>%s</td>%s%s</tr>",
    row.verdict == "usable" and "" or " bad", esc(row.series), row.frames, esc(row.verdict),
    cell(row.best), cell(row.worst))
end
h[#h + 1] = "</table></body></html>\n"
assert(report.write_atomic(out .. "/series.html", table.concat(h, "\n")))
print(string.format("%d series; wrote %s/series.jsonl and %s/series.html", #rows, out, out))
return res.summary.failed > 0 and 1 or 0
