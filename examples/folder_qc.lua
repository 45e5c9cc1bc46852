-- examples/folder_qc.lua: QC of a folder of frames with the HTML report.
--
--   build/lumen run examples/folder_qc.lua [FOLDER [OUT]]     (defaults: examples/data, report)
--
-- The same as `lumen qc FOLDER --out OUT`, written out: lumen.pipeline runs every frame
-- (preprocessing, the model, vessel statistics, thumbnails, the default rules) and writes
-- OUT/report.jsonl, report.csv, report.html and images/. A corrupt frame becomes an error
-- record; frames done by an earlier run into the same OUT are not run again.
local pipeline = require "lumen.pipeline"

local folder, out = ...
folder, out = folder or "examples/data", out or "report"

local res, err = pipeline.run({
  inputs = { folder },
  model = "angio_qa",
  out = out,
  title = "QC of " .. folder,
  on_record = function(r) -- called once per frame, in input order
    if r.status == "ok" then
      print(string.format("%-40s %-24s %.2f  vessels %.3f %s", r.input, r.class_name, r.score,
        r.vessels.area_fraction,
        #r.flags > 0 and ("[" .. table.concat(r.flags, ", ") .. "]") or ""))
    else
      print(string.format("%-40s ERROR %s", r.input, r.error))
    end
  end,
})
if not res then
  io.stderr:write("folder_qc: ", err, "\n")
  return 3
end
local s = res.summary
print(string.format("%d frames: %d ok, %d failed, %d flagged; %.1f s on %s", s.total, s.ok,
  s.failed, s.flagged, res.wall_s, res.device))
print("open " .. res.paths.html)
return s.failed > 0 and 1 or 0
