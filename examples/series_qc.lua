-- examples/series_qc.lua: a verdict per series, with a site's own series rule.
--
--   build/lumen run examples/series_qc.lua [FOLDER [OUT]]
--   (defaults: examples/data, report-series)
--
-- `lumen qc` already groups frames into series and gives each a verdict (keep / repeat) by the
-- package's rule: the share of frames whose class is not acceptable and the longest run of
-- them. This script groups by the series in the file name (seriesA_f01_16bit.png -> seriesA)
-- and replaces the rule with another: a reader needs one good frame, so a series is kept when
-- its best frame is acceptable with probability >= 0.6. A series rule gets the series summary
-- (counts, see lumen.series), the thresholds and the frames in order; it returns the verdict
-- and the reasons. The verdicts land in OUT/series.jsonl, series.csv and the first section of
-- OUT/report.html. The same `series` function in a rules file works with `lumen qc --rules`.
local pipeline = require "lumen.pipeline"

local folder, out = ...
folder, out = folder or "examples/data", out or "report-series"

local function one_good_frame(summary, _, frames)
  local best
  for _, r in ipairs(frames) do
    if r.status == "ok" and r.acceptable and (not best or r.score > best.score) then best = r end
  end
  if best and best.score >= 0.6 then
    return "keep", { string.format("best frame %s: %s, p = %.2f", best.input:match("([^/]+)$"),
      best.class_name, best.score) }
  end
  return "repeat", { string.format("no acceptable frame with p >= 0.6 among %d read (%d failed)",
    summary.ok, summary.failed) }
end

local res, err = pipeline.run({ inputs = { folder }, out = out, title = "Series of " .. folder,
  series_pattern = "^(series%a+)_", rules = { series = one_good_frame } })
if not res then
  io.stderr:write("series_qc: ", err, "\n")
  return 3
end
for _, v in ipairs(res.series) do
  print(string.format("%-22s %d frames  %-7s %s", v.series, v.frames, v.verdict,
    table.concat(v.reasons, "; ")))
end
print(string.format("%d series; wrote %s and %s", #res.series, res.paths.series_csv,
  res.paths.html))
return res.summary.failed > 0 and 1 or 0
