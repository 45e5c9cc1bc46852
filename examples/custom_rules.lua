-- examples/custom_rules.lua: a site's own rule set and its own CSV.
--
--   build/lumen run examples/custom_rules.lua [MIN_VESSELS [MAX_OTHER [OUT]]]
--
-- Flags a frame when its vessel area fraction is below MIN_VESSELS (default 0.03: too little
-- contrast filled the vessels) or when the probability of class 3 ('other_nondiagnostic') is
-- above MAX_OTHER (default 0.4), and writes OUT/flagged.csv with the columns this site wants.
-- A rule is {name=, check=function(record) -> true to flag}; the record is plain data (see
-- README "Reports" for its fields). The same rules in a file returned as a table work with
-- `lumen qc --rules FILE` (and `--sandbox` to run them with caps).
local pipeline = require "lumen.pipeline"
local report = require "lumen.report"

local min_vessels, max_other, out = ...
min_vessels = tonumber(min_vessels) or 0.03
max_other = tonumber(max_other) or 0.4
out = out or "report-custom"

local rules = {
  { name = "low_vessel_fraction",
    check = function(r) return r.vessels.area_fraction < min_vessels end },
  { name = "likely_other_nondiagnostic",
    check = function(r) return r.probabilities.other_nondiagnostic > max_other end },
  -- rules may combine anything in the record; a rule that raises is reported, not fatal
  { name = "confident_but_fragmented",
    check = function(r) return r.score > 0.9 and r.vessels.components > 100 end },
}

local res, err = pipeline.run({ inputs = { "examples/data" }, out = out, rules = rules,
  title = "Custom rules" })
if not res then
  io.stderr:write("custom_rules: ", err, "\n")
  return 3
end

-- our own CSV: only the flagged frames, with the numbers the rules looked at
local flagged = {}
for _, r in ipairs(res.records) do
  if r.status == "ok" and #r.flags > 0 then flagged[#flagged + 1] = r end
end
local csv = report.csv(flagged, {
  { "frame", function(r) return r.input:match("([^/]+)$") end },
  { "predicted", function(r) return r.class_name end },
  { "p_other", function(r) return string.format("%.3f", r.probabilities.other_nondiagnostic) end },
  { "vessel_fraction", function(r) return string.format("%.4f", r.vessels.area_fraction) end },
  { "why", function(r) return table.concat(r.flags, " + ") end },
})
assert(report.write_atomic(out .. "/flagged.csv", csv))
io.write(csv)
print(string.format("%d of %d frames flagged (vessels < %g or p(other) > %g); wrote %s/flagged.csv",
  #flagged, res.summary.ok, min_vessels, max_other, out))
return res.summary.failed > 0 and 1 or 0
