-- lumen.report_html: the static HTML page of a QC report (one file, no network resources, no
-- external scripts; images are relative links into images/).
--
--   local html = require("lumen.report_html").html(records, info)
--
-- The page, top to bottom: the weights notice (a banner when the package's weights are not
-- validated), title and counts, provenance (lumen version, model, door, weights and head
-- hashes, weights status, device and driver, precision, rules and their hash, thresholds,
-- command line), the series section (one row per series: verdict, reasons, a strip of
-- thumbnails coloured by frame outcome, an SVG plot of each class probability along the
-- series), the distribution of top-class scores (SVG histogram) with the summary per class,
-- then the frame table (sortable; thumbnails link to overlays; flags with their reason text).
-- Laid out for a 1366-px-wide screen.
--
-- info: title, model, model_sha256, device, created, wall_s, class_names, series (lumen.series
-- verdicts), notice (weights status words), package (Package:describe()), provenance (table),
-- seg_label (record field of segmentation statistics; nil: none), rules (flag name -> reason).
local json = require "lumen.json"

local M = {}

local function esc(s)
  return (json.utf8_clean(tostring(s)):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;",
    [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }))
end
M.escape = esc

local function fmt(x, f)
  if type(x) ~= "number" then return "" end
  return string.format(f or "%.3f", x)
end

local get = json.get

-- Class colours (colour-blind-safe palette, Okabe-Ito), by class index.
M.PALETTE = { "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
  "#000000" }
local function color(i) return M.PALETTE[(i - 1) % #M.PALETTE + 1] end

local CSS = [[
*{box-sizing:border-box}
body{font:13px/1.4 system-ui,sans-serif;margin:0 auto;padding:12px 16px;color:#222;max-width:1366px}
h1{font-size:1.35em;margin:.2em 0 .2em}
h2{font-size:1.12em;margin:1.1em 0 .4em;border-bottom:1px solid #ddd;padding-bottom:2px}
.banner{background:#fff3cd;border:2px solid #d39e00;color:#5c4400;padding:8px 12px;
  font-weight:600;border-radius:4px;margin-bottom:8px}
.meta{color:#444;margin-bottom:.4em}
details.prov{margin:.3em 0 .6em}
details.prov summary{cursor:pointer;color:#345}
table{border-collapse:collapse;margin-bottom:1em}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:middle}
th{background:#f0f0f0;font-weight:600}
table.prov td:first-child{color:#555;white-space:nowrap}
table.prov td{font-size:12px;word-break:break-all}
table.series,table.frames{width:100%}
table.frames th{cursor:pointer;user-select:none}
table.frames th:hover{background:#e0e6f0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.flagged td{background:#fff8e6}
tr.error td{background:#fde8e8}
.verdict{display:inline-block;font-weight:700;padding:1px 8px;border-radius:10px;color:#fff}
.v-keep{background:#1b7f3b}.v-repeat{background:#b3261e}.v-other{background:#666}
ul.reasons{margin:0;padding-left:1.1em}
.strip{display:flex;flex-wrap:wrap;gap:2px;max-width:420px}
.strip a{display:block;border:3px solid #999;line-height:0}
.strip a.ok{border-color:#1b7f3b}.strip a.bad{border-color:#b3261e}
.strip a.err{border-color:#777;background:#ddd;width:54px;height:54px;line-height:48px;
  text-align:center;color:#a00;font-weight:700}
.strip img{width:48px;height:48px;display:block}
img.thumb{width:64px;height:64px;display:block}
.flag{display:inline-block;background:#f5d08a;border-radius:3px;padding:0 4px;margin:1px 0;
  font-size:12px;font-weight:600}
.why{display:block;color:#555;font-size:11px;margin-bottom:2px}
td.flags{max-width:230px}
.err{color:#a00}
.row{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}
.legend span{display:inline-block;margin-right:12px;white-space:nowrap}
.sw{display:inline-block;width:12px;height:12px;vertical-align:-1px;margin-right:4px;
  border:1px solid #0003}
.small{font-size:12px;color:#555}
td.name{min-width:140px;max-width:200px;overflow-wrap:anywhere}
td.ser{min-width:70px;max-width:110px;overflow-wrap:anywhere}
td.cls{min-width:110px;max-width:170px}
.na{display:block;color:#a00;font-size:11px}
table.frames th{font-size:12px}
]]

-- Sorts the frame table by a column's data-v values (numbers numerically); a second click
-- reverses. Rows keep their thumbnails (they are moved, not rebuilt).
local JS = [[
document.querySelectorAll("table.frames th[data-k]").forEach(function (th) {
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

-- An SVG line plot of each class probability along a series (x: frame in series order, y:
-- probability 0..1). Failed frames leave a gap.
function M.probability_plot(records, class_names, w, h)
  w, h = w or 260, h or 70
  local n = #records
  local pad_l, pad_r, pad_t, pad_b = 22, 4, 4, 12
  local pw, ph = w - pad_l - pad_r, h - pad_t - pad_b
  local function x(i) return pad_l + (n > 1 and (i - 1) / (n - 1) * pw or pw / 2) end
  local function y(p) return pad_t + (1 - p) * ph end
  local o = { string.format('<svg class="plot" width="%d" height="%d" viewBox="0 0 %d %d" '
    .. 'role="img" aria-label="class probability per frame">', w, h, w, h) }
  o[#o + 1] = string.format('<rect x="%d" y="%d" width="%d" height="%d" fill="#fafafa" '
    .. 'stroke="#ccc"/>', pad_l, pad_t, pw, ph)
  for _, p in ipairs({ 0, 0.5, 1 }) do
    o[#o + 1] = string.format('<text x="%d" y="%.1f" font-size="9" text-anchor="end" '
      .. 'fill="#666">%g</text>', pad_l - 3, y(p) + 3, p)
  end
  o[#o + 1] = string.format('<text x="%d" y="%d" font-size="9" fill="#666">frame 1</text>',
    pad_l, h - 1)
  o[#o + 1] = string.format('<text x="%d" y="%d" font-size="9" fill="#666" '
    .. 'text-anchor="end">%d</text>', w - pad_r, h - 1, n)
  for ci, name in ipairs(class_names or {}) do
    local seg, segs = {}, {}
    for i, r in ipairs(records) do
      local p = r.status == "ok" and get(r, "probabilities", name)
      if type(p) == "number" then
        seg[#seg + 1] = string.format("%.1f,%.1f", x(i), y(p))
      elseif #seg > 0 then
        segs[#segs + 1], seg = seg, {}
      end
    end
    if #seg > 0 then segs[#segs + 1] = seg end
    for _, s in ipairs(segs) do
      if #s == 1 then
        local cx, cy = s[1]:match("([^,]+),(.+)")
        o[#o + 1] = string.format('<circle cx="%s" cy="%s" r="2.5" fill="%s"/>', cx, cy, color(ci))
      else
        o[#o + 1] = string.format('<polyline fill="none" stroke="%s" stroke-width="1.6" '
          .. 'points="%s"/>', color(ci), table.concat(s, " "))
      end
    end
  end
  o[#o + 1] = "</svg>"
  return table.concat(o)
end

-- An SVG histogram of the top-class score of the ok records (10 bins over [0, 1]).
function M.score_histogram(records, w, h)
  w, h = w or 380, h or 140
  local bins = {}
  for i = 1, 10 do bins[i] = 0 end
  local n = 0
  for _, r in ipairs(records) do
    if r.status == "ok" and type(r.score) == "number" then
      local b = math.min(10, math.max(1, math.floor(r.score * 10) + 1))
      bins[b] = bins[b] + 1
      n = n + 1
    end
  end
  local mx = 1
  for i = 1, 10 do if bins[i] > mx then mx = bins[i] end end
  local pad_l, pad_b, pad_t = 26, 26, 14
  local bw = (w - pad_l - 16) / 10
  local ph = h - pad_b - pad_t
  local o = { string.format('<svg class="hist" width="%d" height="%d" viewBox="0 0 %d %d" '
    .. 'role="img" aria-label="histogram of top-class scores">', w, h, w, h) }
  o[#o + 1] = string.format('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>', pad_l,
    h - pad_b, w - 16, h - pad_b)
  for i = 1, 10 do
    local bh = bins[i] / mx * ph
    local x0 = pad_l + (i - 1) * bw
    o[#o + 1] = string.format('<rect class="bin" x="%.1f" y="%.1f" width="%.1f" height="%.1f" '
      .. 'fill="#0072B2"><title>%.1f-%.1f: %d</title></rect>', x0 + 1, h - pad_b - bh, bw - 2, bh,
      (i - 1) / 10, i / 10, bins[i])
    if bins[i] > 0 then
      o[#o + 1] = string.format('<text x="%.1f" y="%.1f" font-size="10" text-anchor="middle">%d'
        .. '</text>', x0 + bw / 2, h - pad_b - bh - 2, bins[i])
    end
  end
  for i = 0, 10, 2 do
    o[#o + 1] = string.format('<text x="%.1f" y="%d" font-size="10" text-anchor="middle" '
      .. 'fill="#444">%.1f</text>', pad_l + i * bw, h - pad_b + 12, i / 10)
  end
  o[#o + 1] = string.format('<text x="%d" y="%d" font-size="10" fill="#444">top-class score '
    .. '(%d frames)</text>', pad_l, h - 2, n)
  o[#o + 1] = "</svg>"
  return table.concat(o)
end

local function verdict_badge(v)
  local cls = (v == "keep" or v == "repeat") and ("v-" .. v) or "v-other"
  return string.format('<span class="verdict %s">%s</span>', cls, esc(v))
end

local function basename(p) return tostring(p):match("([^/]*)$") end

-- The provenance rows (label, value) in a fixed order.
local function provenance_rows(info)
  local p = info.provenance or {}
  local pk = info.package or {}
  local rows = {}
  local function add(k, v) if v ~= nil and v ~= "" then rows[#rows + 1] = { k, tostring(v) } end end
  add("lumen", p.lumen)
  add("model", (p.model or info.model or "?") .. (p.door and (" (" .. p.door .. " door: "
    .. tostring(p.model_file) .. ")") or ""))
  add("weights sha256", p.model_sha256 or info.model_sha256)
  add("weights status", p.weights_status and (p.weights_status .. (pk.weights_note and
    (" — " .. pk.weights_note) or "")))
  add("package head", pk.head and (pk.head .. " (sha256 " .. tostring(p.head_sha256) .. ")")
    or p.head_sha256)
  add("intended use", pk.intended_use)
  add("classes", pk.classes and #pk.classes > 0 and (table.concat(pk.classes, ", ")
    .. "; acceptable: " .. (#(pk.acceptable or {}) > 0 and table.concat(pk.acceptable, ", ")
    or "none"))
    or nil)
  add("temperature", p.temperature)
  add("device", p.device and (p.device .. " (" .. tostring(p.device_index) .. "), "
    .. tostring(p.platform) .. ", driver " .. tostring(p.driver)) or info.device)
  add("precision", p.precision)
  add("rules", p.rules and (p.rules .. (p.rules_sha256 and p.rules_sha256 ~= "package" and
    (" (sha256 " .. p.rules_sha256 .. ")") or "") .. (p.sandbox and ", sandboxed" or "")))
  if type(p.thresholds) == "table" then
    local ks, parts = {}, {}
    for k in pairs(p.thresholds) do ks[#ks + 1] = k end
    table.sort(ks)
    for _, k in ipairs(ks) do parts[#parts + 1] = k .. " " .. tostring(p.thresholds[k]) end
    add("thresholds", table.concat(parts, ", "))
  end
  add("series rule", p.series_pattern and ("file-name pattern " .. p.series_pattern)
    or "DICOM series UID, else the input's folder")
  add("command", p.command)
  add("created", info.created)
  return rows
end

-- The report page. See the header for info.
function M.html(records, info)
  info = info or {}
  local report = require "lumen.report"
  local names = info.class_names or {}
  local lbl = info.seg_label
  local s = report.summarize(records, names, lbl)
  local rule_text = info.rules or {}
  local prov_rules = get(info, "provenance", "rules")
  local custom_rules = prov_rules ~= nil and prov_rules ~= "package" and prov_rules or nil
  local o = {}
  local function w(...) for _, v in ipairs({ ... }) do o[#o + 1] = v end end
  local title = info.title or "lumen QC report"
  w("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n",
    "<meta name=\"viewport\" content=\"width=device-width\">\n<title>", esc(title),
    "</title>\n<style>", CSS, "</style></head><body>\n")
  if info.notice then w("<div class=\"banner\" id=\"notice\">", esc(info.notice), "</div>\n") end
  w("<h1>", esc(title), "</h1>\n<div class=\"meta\">model <b>", esc(info.model or "?"),
    "</b> (sha256 ", esc((info.model_sha256 or "?"):sub(1, 12)), "…) on <b>",
    esc(info.device or "?"), "</b>", info.created and (", " .. esc(info.created)) or "", " — ",
    s.total, " frames: ", s.ok, " ok (", s.skipped, " from an earlier run), ", s.failed,
    " failed, ", s.flagged, " flagged; ", #(info.series or {}), " series",
    info.wall_s and string.format(", %.1f s", info.wall_s) or "", "</div>\n")
  w("<details class=\"prov\" open><summary>Provenance</summary><table class=\"prov\">")
  for _, row in ipairs(provenance_rows(info)) do
    w("<tr><td>", esc(row[1]), "</td><td>", esc(row[2]), "</td></tr>")
  end
  w("</table></details>\n")

  -- index of each record's row, for links from the series strips
  local row_id = {}
  for i, r in ipairs(records) do row_id[r] = "f" .. i end

  -- series
  local verdicts = info.series or {}
  local series = require "lumen.series"
  -- without acceptable classes, a frame counts against its series when a rule flagged it
  local classed = false
  for _, r in ipairs(records) do classed = classed or r.acceptable ~= nil end
  local bad_word = classed and "not acceptable" or "flagged"
  w("<h2>Series</h2>\n<div class=\"legend small\">")
  if #names > 0 then
    w("probability plots: ")
    for i, n in ipairs(names) do
      w("<span><i class=\"sw\" style=\"background:", color(i), "\"></i>", esc(n), "</span>")
    end
    w(" — ")
  end
  w("strip borders: <span><i class=\"sw\" style=\"background:#1b7f3b\"></i>",
    classed and "acceptable" or "not flagged", "</span>",
    "<span><i class=\"sw\" style=\"background:#b3261e\"></i>", bad_word, "</span>",
    "<span><i class=\"sw\" style=\"background:#777\"></i>failed</span></div>\n")
  local by_series = {}
  for _, r in ipairs(records) do
    local k = r.series or "?"
    by_series[k] = by_series[k] or {}
    table.insert(by_series[k], r)
  end
  w("<table class=\"series\"><thead><tr><th>series</th><th>verdict</th><th>frames</th>",
    "<th>", bad_word, "</th><th>reasons</th><th>frames in order</th>",
    #names > 0 and "<th>class probability per frame</th>" or "", "</tr></thead><tbody>\n")
  for _, v in ipairs(verdicts) do
    local recs = {}
    -- the series' records in series order (as the verdict saw them)
    local pos = {}
    for i, inp in ipairs(v.inputs or {}) do pos[inp] = pos[inp] or i end
    for _, r in ipairs(by_series[v.series] or {}) do recs[#recs + 1] = r end
    table.sort(recs, function(a, b)
      local pa, pb = pos[a.input] or 0, pos[b.input] or 0
      if pa ~= pb then return pa < pb end
      return (tonumber(a.frame) or 0) < (tonumber(b.frame) or 0)
    end)
    w("<tr class=\"series\"><td class=\"name\" title=\"", esc(v.series), "\">", esc(v.series),
      "</td><td>", verdict_badge(v.verdict), "</td><td class=\"num\">", v.frames,
      v.failed > 0 and (" (" .. v.failed .. " failed)") or "", "</td><td class=\"num\">", v.bad,
      v.ok > 0 and string.format(" (%.0f%%)", 100 * v.bad / v.ok) or "",
      "<br><span class=\"small\">longest run ", v.longest_bad_run,
      "</span></td><td><ul class=\"reasons\">")
    for _, reason in ipairs(v.reasons or {}) do w("<li>", esc(reason), "</li>") end
    w("</ul></td><td><div class=\"strip\">")
    for _, r in ipairs(recs) do
      local label = basename(r.input) .. (r.frame and (" #" .. r.frame) or "")
      if r.status ~= "ok" then
        w("<a class=\"err\" href=\"#", row_id[r], "\" title=\"", esc(label), ": ",
          esc(r.error or "error"), "\">✕</a>")
      else
        local cls = series.is_bad(r) and "bad" or "ok"
        w("<a class=\"", cls, "\" href=\"#", row_id[r], "\" title=\"", esc(label), ": ",
          esc(r.class_name or ""), " ", fmt(r.score, "%.2f"), "\">")
        if r.thumbnail then
          w("<img src=\"", esc(r.thumbnail), "\" alt=\"", esc(label), "\">")
        else
          w(esc(label))
        end
        w("</a>")
      end
    end
    w("</div></td>")
    if #names > 0 then w("<td>", M.probability_plot(recs, names), "</td>") end
    w("</tr>\n")
  end
  w("</tbody></table>\n")

  -- scores and classes (for a segmentation-only package: the frame counts and mean fraction)
  if #names > 0 then
    w("<h2>Scores and classes</h2>\n<div class=\"row\"><div>", M.score_histogram(records),
      "</div>")
  else
    w("<h2>Frames at a glance</h2>\n<div class=\"row\">")
  end
  w("<table class=\"summary\"><thead><tr><th>class</th><th>frames</th>",
    "<th>flagged</th><th>mean score</th>",
    lbl and ("<th>mean " .. esc(lbl) .. " fraction</th>") or "",
    "</tr></thead><tbody>\n")
  for i = 1, math.max(#names, #s.classes) do
    local c = s.classes[i]
    if c then
      w("<tr><td><i class=\"sw\" style=\"background:", color(i), "\"></i>",
        esc(c.name or ("class_" .. (i - 1))), "</td><td class=\"num\">", c.count,
        "</td><td class=\"num\">", c.flagged, "</td><td class=\"num\">", fmt(c.mean_score),
        "</td>", lbl and ("<td class=\"num\">" .. fmt(c.mean_area, "%.4f") .. "</td>") or "",
        "</tr>\n")
    end
  end
  if s.unclassified > 0 then
    local sum = 0
    for _, r in ipairs(records) do
      if r.status == "ok" then sum = sum + (tonumber(get(r, lbl or "", "area_fraction")) or 0) end
    end
    local nflag = 0
    for _, r in ipairs(records) do
      if r.status == "ok" and #(get(r, "flags") or {}) > 0 then nflag = nflag + 1 end
    end
    w("<tr><td>read (no class output)</td><td class=\"num\">", s.unclassified,
      "</td><td class=\"num\">", nflag, "</td><td></td>",
      lbl and ("<td class=\"num\">" .. fmt(sum / s.unclassified, "%.4f") .. "</td>") or "",
      "</tr>\n")
  end
  w("<tr><td>failed</td><td class=\"num\">", s.failed, "</td><td></td><td></td>",
    lbl and "<td></td>" or "", "</tr>\n</tbody></table></div>\n")

  -- frames
  w("<h2>Frames</h2>\n<p class=\"small\">Click a column header to sort; click a thumbnail for ",
    "the overlay.")
  if lbl then
    w(" Overlay legend: <span class=\"legend\"><span><i class=\"sw\" style=\"background:",
      "rgba(255,0,0,.45)\"></i>", esc(lbl), " (probability above the threshold), red tint at ",
      "45 % over the preprocessed frame, which stays visible underneath</span></span>")
  end
  local has_class = #names > 0 -- no class and score columns for a segmentation-only package
  w("</p>\n<table class=\"frames\"><thead><tr><th>image</th><th data-k=\"input\">input</th>",
    "<th data-k=\"series\">series</th>", has_class and ("<th data-k=\"class\">class</th>"
    .. "<th data-k=\"score\">score</th>") or "")
  for _, n in ipairs(names) do w("<th data-k=\"p\">p(", esc((n:gsub("_", " "))), ")</th>") end
  local ncols = (has_class and 4 or 2) + #names
  if lbl then
    w("<th data-k=\"vf\">", esc(lbl), " fraction</th><th data-k=\"vc\">components</th>")
    ncols = ncols + 2
  end
  w("<th data-k=\"flags\">flags</th><th data-k=\"ms\" title=\"preprocess / inference / ",
    "postprocess\">ms</th></tr></thead><tbody>\n")
  for _, r in ipairs(records) do
    local flags = get(r, "flags") or {}
    local cls = r.status == "ok" and "frame" .. (#flags > 0 and " flagged" or "") or "frame error"
    local label = basename(r.input) .. (r.frame and (" #" .. r.frame) or "")
    w("<tr class=\"", cls, "\" id=\"", row_id[r], "\">")
    if r.thumbnail and r.overlay then
      w("<td><a href=\"", esc(r.overlay), "\"><img class=\"thumb\" src=\"", esc(r.thumbnail),
        "\" alt=\"", esc(r.input), "\"></a></td>")
    elseif r.thumbnail then
      w("<td><img class=\"thumb\" src=\"", esc(r.thumbnail), "\" alt=\"", esc(r.input), "\"></td>")
    else
      w("<td></td>")
    end
    w("<td class=\"name\" data-v=\"", esc(r.input), "\" title=\"", esc(r.input), "\">",
      esc(label), "</td><td class=\"ser\" data-v=\"", esc(r.series or ""), "\">",
      esc(r.series or ""), "</td>")
    if r.status == "ok" then
      if has_class then
        w("<td class=\"cls\" data-v=\"", esc(r.class or ""), "\">",
          esc((tostring(r.class_name or r.class or "-"):gsub("_", " "))),
          r.acceptable == false and "<span class=\"na\">not acceptable</span>" or "", "</td>")
        w("<td class=\"num\" data-v=\"", fmt(r.score, "%.6f"), "\">", fmt(r.score), "</td>")
      end
      for _, n in ipairs(names) do
        local p = get(r, "probabilities", n)
        w("<td class=\"num\" data-v=\"", fmt(p, "%.6f"), "\">", fmt(p), "</td>")
      end
      if lbl then
        local v = get(r, lbl) or {}
        w("<td class=\"num\" data-v=\"", fmt(v.area_fraction, "%.6f"), "\">",
          fmt(v.area_fraction, "%.4f"), "</td><td class=\"num\" data-v=\"", esc(v.components or ""),
          "\">", esc(v.components or ""), "</td>")
      end
      w("<td class=\"flags\" data-v=\"", #flags, "\">")
      for _, f in ipairs(flags) do
        local why = rule_text[f] or (f:match("^rule_error:") and "the rule raised an error")
          or (custom_rules and ("a rule of " .. custom_rules))
        w("<span class=\"flag\"", why and (" title=\"" .. esc(why) .. "\"") or "", ">", esc(f),
          "</span>", why and ("<span class=\"why\">" .. esc(why) .. "</span>") or " ")
      end
      for _, e in ipairs(get(r, "rule_errors") or {}) do
        w("<span class=\"why err\">", esc(e), "</span>")
      end
      local ms = get(r, "ms") or {}
      local total = (ms.preprocess or 0) + (ms.inference or 0) + (ms.postprocess or 0)
      w("</td><td class=\"num\" data-v=\"", fmt(total, "%.1f"), "\">",
        r.skipped and "(earlier run) " or "", fmt(ms.preprocess, "%.0f"), " / ",
        fmt(ms.inference, "%.0f"), " / ", fmt(ms.postprocess, "%.0f"), "</td>")
    else
      w("<td data-v=\"~\" colspan=\"", ncols, "\" class=\"err\">error: ", esc(r.error or "?"),
        "</td>")
    end
    w("</tr>\n")
  end
  w("</tbody></table>\n<script>", JS, "</script>\n</body></html>\n")
  return table.concat(o)
end

return M
