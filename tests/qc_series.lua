-- qc_series.lua - the parts of QC that need no device: series grouping and verdicts
-- (lumen.series), package heads (lumen.package: checks, resolution, temperature, rule kinds),
-- report.csv argument checks, the HTML pieces (plots, banner). One line per case.
local series = require "lumen.series"
local package = require "lumen.package"
local report = require "lumen.report"
local html = require "lumen.report_html"

local passed, failed = 0, 0
local function case(name, ok, detail)
  print(string.format("%-4s %s%s", ok and "OK" or "FAIL", name, detail and ("  " .. detail) or ""))
  if ok then passed = passed + 1 else failed = failed + 1 end
end
local function raises(f, pattern)
  local ok, err = pcall(f)
  return not ok and tostring(err):find(pattern) ~= nil, tostring(err)
end

-- frames: status ok and acceptable (g), not acceptable (b), failed (x)
local function frames(spec, dir)
  local out = {}
  for i = 1, #spec do
    local c = spec:sub(i, i)
    local r = { input = string.format("%s/f%02d.png", dir or "s", i) }
    if c == "x" then r.status = "error" else
      r.status, r.acceptable, r.score = "ok", c == "g", 0.9
      r.class_name = c == "g" and "good" or "bad"
    end
    out[i] = r
  end
  return out
end

local th = { series_max_bad_share = 0.5, series_max_bad_run = 3 }

-- ---- grouping ----
local recs = {
  { input = "a/seriesA_f01.png" }, { input = "b/seriesB_f01.png" }, { input = "a/seriesA_f02.png" },
  { input = "x.dcm", dicom = { series_instance_uid = "1.2.3", frame_number = 2 } },
  { input = "x.dcm", dicom = { series_instance_uid = "1.2.3", frame_number = 1 } },
  { input = "c/odd.png", series_key = "given" },
}
local g = series.group(recs)
case("group: by folder, DICOM UID, source key; first-appearance order", #g == 4 and g[1].key == "a"
  and g[2].key == "b" and g[3].key == "1.2.3" and g[4].key == "given", #g .. " groups")
case("group: DICOM frames sorted by frame number", g[3].records[1].dicom.frame_number == 1)
g = series.group(recs, { pattern = "^(series%a+)_" })
case("group: --series-pattern capture", g[1].key == "seriesA" and #g[1].records == 2
  and g[2].key == "seriesB")
case("key: a name the pattern misses is its own series",
  series.key({ input = "d/other.png" }, { pattern = "^(series%a+)_" }) == "other.png")
case("check_pattern: a malformed pattern is refused", series.check_pattern("(") == nil)

-- ---- verdicts (hand-computed) ----
local v = series.verdict(frames("gggg"), th, "s")
case("verdict: 4 acceptable frames -> keep", v.verdict == "keep" and v.bad == 0
  and v.longest_bad_run == 0, table.concat(v.reasons, "; "))
v = series.verdict(frames("gbgbg"), th, "s")
case("verdict: 2 of 5 bad, run 1 -> keep", v.verdict == "keep" and v.bad == 2
  and v.bad_share == 0.4)
v = series.verdict(frames("gbbgg"), { series_max_bad_share = 0.4, series_max_bad_run = 3 }, "s")
case("verdict: 2 of 5 bad at share threshold 0.4 -> repeat", v.verdict == "repeat"
  and v.reasons[1]:find("2 of 5 frames not acceptable", 1, true) ~= nil, v.reasons[1])
v = series.verdict(frames("ggggggbbbggggggg"), th, "s")
case("verdict: 3 bad in a row of 16 -> repeat (run)", v.verdict == "repeat"
  and v.longest_bad_run == 3 and v.reasons[1]:find("in a row", 1, true) ~= nil, v.reasons[1])
v = series.verdict(frames("gxgg"), th, "s")
case("verdict: a failed frame is named, not bad", v.verdict == "keep" and v.failed == 1
  and v.ok == 3 and v.reasons[#v.reasons]:find("could not be read", 1, true) ~= nil)
v = series.verdict(frames("xx"), th, "s")
case("verdict: no readable frame -> repeat", v.verdict == "repeat" and v.ok == 0)
v = series.verdict(frames("gggb"), th, "s", function(s) return "custom", { s.bad .. " bad" } end)
case("verdict: a custom rule", v.verdict == "custom" and v.reasons[1] == "1 bad")
v = series.verdict(frames("gg"), th, "s", function() error("boom") end)
case("verdict: a rule that raises -> rule_error", v.verdict == "rule_error"
  and v.reasons[1]:find("boom", 1, true) ~= nil)
local all = series.verdicts(series.tag(frames("gbbb", "p")), { thresholds = th })
case("verdicts + tag: one series per folder", #all == 1 and all[1].series == "p"
  and all[1].verdict == "repeat")

-- ---- package heads ----
local h, err = package.check_head({ classes = { "a", "b" }, acceptable = { "c" } }, "t")
case("head: acceptable class must be a class",
  h == nil and err:find("'c' is not in", 1, true) ~= nil, err)
h, err = package.check_head({ temprature = 2 }, "t")
case("head: unknown field with a hint",
  h == nil and err:find("did you mean 'temperature'", 1, true) ~= nil, err)
h = package.check_head({ temperature = 0 }, "t")
case("head: temperature must be positive", h == nil)
h, err = package.check_head({ rules = { { kind = "nope" } } }, "t")
case("head: unknown rule kind lists the kinds",
  h == nil and err:find("low_confidence", 1, true) ~= nil, err)
h, err = package.check_head({ input = { preprocess = { { "grey" } } } }, "t")
case("head: unknown preprocessing step with a hint",
  h == nil and err:find("unknown step 'grey' (did you mean 'gray'?)", 1, true) ~= nil, err)
local tmp = os.tmpname()
local f = assert(io.open(tmp, "w"))
f:write("while true do end")
f:close()
local _, lerr, lkind = package.read_head(tmp)
case("read_head: a head that loops is stopped by the sandbox (usage error)", lkind == "usage"
  and tostring(lerr):find("instruction limit", 1, true) ~= nil, lerr)
f = assert(io.open(tmp, "w"))
f:write("return { name = 'x', input = { preprocess = { { 'gray' }, { function() end } } } }")
f:close()
_, lerr, lkind = package.read_head(tmp)
case("read_head: functions cannot leave a head", lkind == "usage", lerr)
os.remove(tmp)
h = package.check_head({ outputs = { classes = "y" } }, "t")
case("head: defaults (temperature 1, weights unknown, thresholds)", h and h.temperature == 1
  and h.weights.status == "unknown" and h.thresholds.min_score == 0.6)

local w = package.resolve("angio_qa")
case("resolve angio_qa: Lua door, head read, nothing loaded", w and w.door == "lua"
  and w.head.weights.status == "synthetic" and w.model_file:find("model.lua", 1, true) ~= nil)
w = package.resolve(package.resolve("angio_qa").dir .. "/angio_qa.onnx")
case("resolve angio_qa.onnx: ONNX door with the head beside it", w and w.door == "onnx"
  and w.head and w.name == "angio_qa")
local _, rerr, kind = package.resolve("angio_q")
case("resolve: unknown name -> usage with a hint", kind == "usage"
  and rerr:find("did you mean 'angio_qa'", 1, true) ~= nil, rerr)
_, rerr, kind = package.resolve("no/such/model.onnx")
case("resolve: missing file -> usage", kind == "usage", rerr)

-- temperature and margin, on a package object without a network
local p = setmetatable({ temperature = 2, classes = { "ok", "bad" }, acceptable = { ok = true },
  acceptable_list = { "ok" } }, package.Package)
local c = p:classify({ 2, 0 })
local want = math.exp(1) / (math.exp(1) + 1) -- softmax({2, 0} / 2)
case("classify: softmax(logits / T) with T = 2", math.abs(c.score - want) < 1e-12
  and c.class_name == "ok" and c.acceptable == true, string.format("%.6f vs %.6f", c.score, want))
case("classify: top-2 margin", math.abs(c.margin - (2 * want - 1)) < 1e-12)
p.temperature = 1
c = p:classify({ 0, 3 })
case("classify: a class not acceptable", c.acceptable == false and c.class == 1)

-- rule kinds: low_confidence can fire for two classes (the top probability is >= 0.5 then)
local rp = { rule_specs = { { name = "low_confidence", kind = "low_confidence" },
  { name = "few", kind = "min_area" } }, class_output = "y", seg_output = "m", seg_label = "mask",
  acceptable_list = {} }
local rules = package.rules(rp, { min_score = 0.6, min_margin = 0.1, min_area = 0.02 })
local flags = require("lumen.postprocess").evaluate(rules, { score = 0.55, margin = 0.1,
  mask = { area_fraction = 0.01 } })
case("rules: low_confidence fires at p=0.55 of 2 classes; min_area on the label",
  table.concat(flags, ",") == "low_confidence,few", table.concat(flags, ","))
rp.seg_output = nil
case("rules: segmentation rules dropped without a segmentation output", #package.rules(rp, {}) == 1)

-- ---- report.csv arguments ----
local ok1 = raises(function() report.csv(nil, report.csv_columns({})) end, "records must be a list")
local ok2 = raises(function() report.csv({}, {}) end, "non%-empty list")
local ok3 = raises(function() report.csv({ {} }, { { "a" } }) end, "column 1 must be")
case("report.csv: wrong arguments raise clear errors", ok1 and ok2 and ok3)
local text = report.csv({ { input = "a", flags = { "x", "y" } } },
  { { "input", function(r) return r.input end }, { "flags", function(r) return r.flags end } },
  { comment = { "NOTICE: n" } })
case("report.csv: comment line, list joined with ;", text == "# NOTICE: n\ninput,flags\na,x;y\n",
  (text:gsub("\n", "\\n")))

-- ---- HTML pieces ----
local svg = html.probability_plot(frames("gbxg"), {}, 200, 60)
case("probability plot: an SVG without network references", svg:find("^<svg") ~= nil
  and not svg:find("http", 1, true))
local recs2 = frames("gbgb")
for i, r in ipairs(recs2) do r.probabilities = { good = i / 10, bad = 1 - i / 10 } end
svg = html.probability_plot(recs2, { "good", "bad" })
case("probability plot: one polyline per class", select(2, svg:gsub("<polyline", "")) == 2)
svg = html.score_histogram(recs2)
case("histogram: 10 bins", select(2, svg:gsub('class="bin"', "")) == 10)
local page = html.html(recs2, { notice = "NOTICE: SYNTHETIC <weights>",
  class_names = { "good", "bad" },
  series = series.verdicts(series.tag(recs2), { thresholds = th }) })
case("page: notice banner first (escaped), then the series section before the frames",
  page:find('<div class="banner" id="notice">NOTICE: SYNTHETIC &lt;weights&gt;', 1, true) ~= nil
  and page:find("<h2>Series</h2>", 1, true) < page:find("<h2>Frames</h2>", 1, true))

print(string.format("%d passed, %d failed", passed, failed))
return failed == 0 and 0 or 1
