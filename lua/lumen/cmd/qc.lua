-- lumen qc INPUTS...: quality control of angiography frames, with a report folder.
--
-- This command is a thin layer over lumen.pipeline (the batch loop) and lumen.report (the
-- files); examples/folder_qc.lua does the same in a dozen lines, to copy from.
local cli = require "lumen.cli"

local M = {
  summary = "quality control of frames: classes, vessel statistics, flags, reports",
  usage = [[usage: lumen qc INPUTS... [options]

Runs a QC model over frames and writes a report folder. INPUTS are folders (their .png and
.npy files and DICOM files, recognised by content), patterns with * and ? in the file name
("data/seriesA_*.png"), image or DICOM files, or list files (one path per line, relative to
the list file; '#' starts a comment). Each frame of a DICOM file is one record ("x.dcm#3").

  --model M        model name under models/ or a .lua model definition (default angio_qa)
  --device D       P:D index, gpu, cpu, accelerator, or a vendor/name substring
                   (default: LUMEN_DEVICE, else local_rank % devices under MPI/SLURM, else best)
  --out DIR        report folder (default report); a re-run skips frames already done
  --shard i/n      process every n-th input starting at i (0-based); default from
                   SLURM_ARRAY_TASK_ID/COUNT or OMPI_COMM_WORLD_RANK/SIZE; sharded runs
                   write report-shard<i>of<n>.* files
  --threshold T    vessel probability threshold, 0 < T < 1 (default 0.5)
  --rules FILE     a Lua file returning rules {name=, check=function(record)} (default:
                   nondiagnostic, low_confidence, few_vessels, fragmented_vessels)
  --sandbox        evaluate --rules in a sandbox (memory and instruction caps, no io/os)
  --size S         model input size, a multiple of 32 (default 512)
  --phi            put DICOM PatientID and PatientName in reports (default: only a hash of
                   PatientID salted per report folder, DIR/phi-salt)
  --quiet          no summary, only errors

Writes DIR/report.jsonl (one record per frame), report.csv, report.html and images/.
Exit codes: 0 all frames ok, 1 some frames failed (each is an error record), 2 usage error,
3 no device or the model failed to load.]],
}

local function print_summary(res, skipped_note)
  local s = res.summary
  print(string.format("qc: %d frames (shard %d/%d of %d inputs): %d ok, %d failed, %d skipped (done earlier)",
    s.total, res.shard[1], res.shard[2], #res.all_inputs, s.ok, s.failed, s.skipped))
  local parts = {}
  for i = 1, #res.class_names do
    local c = s.classes[i]
    parts[#parts + 1] = string.format("%s %d", res.class_names[i], c and c.count or 0)
  end
  print("classes: " .. table.concat(parts, ", "))
  local flagged = {}
  for _, r in ipairs(res.records) do
    if r.status == "ok" and r.flags and #r.flags > 0 then
      flagged[#flagged + 1] = string.format("  %s: %s", r.input, table.concat(r.flags, ", "))
    end
  end
  print(string.format("flagged: %d", #flagged))
  for _, l in ipairs(flagged) do print(l) end
  for _, r in ipairs(res.records) do
    if r.status ~= "ok" then
      local msg = tostring(r.error)
      if msg:sub(1, #r.input + 2) == r.input .. ": " then msg = msg:sub(#r.input + 3) end
      print(string.format("failed: %s: %s", r.input, msg))
    end
  end
  print(string.format("model %s (sha256 %s) on %s (%s); wall time %.1f s%s", res.model,
    res.model_sha256:sub(1, 12), res.device, res.device_index, res.wall_s, skipped_note or ""))
  if res.paths then
    print(string.format("report: %s, %s, %s", res.paths.jsonl, res.paths.csv, res.paths.html))
  end
end

function M.run(args)
  local opts, pos = cli.parse(args, { model = "string", device = "string", out = "string",
    shard = "string", threshold = "number", rules = "string", sandbox = "boolean",
    size = "number", quiet = "boolean", phi = "boolean" })
  if not opts then return cli.usage_error("qc", pos) end
  if #pos == 0 then return cli.usage_error("qc", "missing INPUTS (folders, patterns, files)") end
  if opts.sandbox and not opts.rules then
    return cli.usage_error("qc", "--sandbox applies to --rules FILE")
  end
  if opts.size and not math.tointeger(opts.size) then
    return cli.usage_error("qc", "--size needs an integer")
  end
  if opts.shard then
    local ok, err = require("lumen.pipeline").parse_shard(opts.shard)
    if not ok then return cli.usage_error("qc", err) end
  end
  local pipeline = require "lumen.pipeline"
  local res, err, kind = pipeline.run({ inputs = pos, model = opts.model, device = opts.device,
    out = opts.out or "report", shard = opts.shard, threshold = opts.threshold,
    rules_file = opts.rules, sandbox = opts.sandbox, size = opts.size, phi = opts.phi })
  if not res then
    if kind == "usage" then return cli.usage_error("qc", err) end
    return cli.runtime_error("qc", err)
  end
  if not opts.quiet then print_summary(res) end
  return res.summary.failed > 0 and cli.EXIT_PARTIAL or cli.EXIT_OK
end

return M
