-- lumen qc INPUTS...: quality control of frames with a model package, with a report folder.
--
-- This command is a thin layer over lumen.pipeline (the batch loop, series verdicts) and
-- lumen.report (the files); examples/folder_qc.lua does the same in a dozen lines, to copy from.
local cli = require "lumen.cli"

local M = {
  summary = "quality control of frames: classes, segmentation, flags, series verdicts, reports",
  usage = [[usage: lumen qc INPUTS... [options]

Runs a QC model package over frames and writes a report folder. INPUTS are folders (their .png
and .npy files, and DICOM files recognised by content), patterns with * and ? in the file name
("data/seriesA_*.png"), image or DICOM files, or list files (one path per line, relative to the
list file; '#' starts a comment). Each frame of a DICOM file is one record (frame = 1..n). A missing
INPUT is a usage error (nothing is loaded or written).

  --model M        a model package (default angio_qa): a name under models/, a package folder
                   (with head.lua), an ONNX file (with FILE.head.lua or head.lua beside it, else
                   a head guessed from its outputs), or a .lua model definition or head file
  --head FILE      the package head to use with --model (input, preprocessing, outputs,
                   classes, rules, thresholds, weights status: examples/README.md)
  --device D       P:D index, gpu, cpu, accelerator, or a vendor/name substring
                   (default: LUMEN_DEVICE, else local_rank % devices under MPI/SLURM, else best);
                   'all' or a list (0:0,0:1) spreads the frames over several devices, each
                   with its own copy of the model: a free device takes the next frame
  --out DIR        report folder (default report); a re-run skips frames already done
  --shard i/n      process every n-th input starting at i (0-based); default from
                   SLURM_ARRAY_TASK_ID/COUNT or OMPI_COMM_WORLD_RANK/SIZE; sharded runs
                   write report-shard<i>of<n>.* files
  --threshold T    segmentation probability threshold, 0 < T < 1 (default: the package's)
  --rules FILE     a Lua file returning frame rules {name=, check=function(record)}, or a table
                   {rules=, thresholds=, series=function(summary, thresholds, frames)}
                   (default: the package's rules and thresholds)
  --sandbox        evaluate --rules in a sandbox (memory and instruction caps, no io/os)
  --series-pattern P  group frames into series by a Lua pattern on the file name (its first
                   capture), e.g. '^(series%a+)_'; default: DICOM series UID, else the folder
  --size S         plan the network at S x S, a multiple of 32 (default: the package's size)
  --precision P    fp32 (default) or fp16: weights and activations stored as half, arithmetic,
                   softmax, norms and reductions in fp32 (falls back to fp32, with a warning,
                   on a device with the no_fp16 quirk or a failed fp16 self-check)
  --phi            put DICOM PatientID and PatientName in reports (default: only a hash of
                   PatientID salted per report folder, DIR/phi-salt)
  --quiet          no summary, only errors

Writes DIR/report.jsonl (one record per frame), report.csv, series.jsonl and series.csv (one
verdict per series: keep or repeat, with reasons), report.html and images/; for DICOM series
also DIR/sr/<SeriesInstanceUID>.dcm, a DICOM Structured Report of the verdict and frames.
Exit codes: 0 all frames ok, 1 some frames failed (each is an error record), 2 usage error,
3 no device or the model failed to load.]],
}

M.MAX_FLAGGED = 10

local function fmt_score(x)
  return type(x) == "number" and string.format("%.2f", x) or "-"
end

-- The terminal summary: counts, classes, the first MAX_FLAGGED flagged frames (class, score,
-- flags), failed frames, series verdicts, the weights notice, provenance and report paths.
function M.print_summary(res)
  local s = res.summary
  if res.notice then print(res.notice) end
  print(string.format("qc: %d frames (shard %d/%d of %d inputs): %d ok, %d failed, "
    .. "%d skipped (done earlier)", s.total, res.shard[1], res.shard[2], #res.all_inputs, s.ok,
    s.failed, s.skipped))
  if #res.class_names > 0 then
    local parts = {}
    for i = 1, #res.class_names do
      local c = s.classes[i]
      parts[#parts + 1] = string.format("%s %d", res.class_names[i], c and c.count or 0)
    end
    print("classes: " .. table.concat(parts, ", "))
  end
  local flagged = {}
  for _, r in ipairs(res.records) do
    if r.status == "ok" and r.flags and #r.flags > 0 then flagged[#flagged + 1] = r end
  end
  print(string.format("flagged: %d", #flagged))
  for i = 1, math.min(#flagged, M.MAX_FLAGGED) do
    local r = flagged[i]
    print(string.format("  %s%s: %s%s", r.input, r.frame and ("#" .. r.frame) or "",
      r.class_name and (r.class_name .. " " .. fmt_score(r.score) .. ": ") or "",
      table.concat(r.flags, ", ")))
  end
  if #flagged > M.MAX_FLAGGED then
    print(string.format("  ... and %d more (see the report)", #flagged - M.MAX_FLAGGED))
  end
  for _, r in ipairs(res.records) do
    if r.status ~= "ok" then
      local msg = tostring(r.error)
      if msg:sub(1, #r.input + 2) == r.input .. ": " then msg = msg:sub(#r.input + 3) end
      print(string.format("failed: %s: %s", r.input, msg))
    end
  end
  local counts = {}
  for _, v in ipairs(res.series or {}) do counts[v.verdict] = (counts[v.verdict] or 0) + 1 end
  print(string.format("series: %d (%d keep, %d repeat)", #(res.series or {}), counts.keep or 0,
    counts["repeat"] or 0))
  for i, v in ipairs(res.series or {}) do
    if i > M.MAX_FLAGGED then
      print(string.format("  ... and %d more series", #res.series - M.MAX_FLAGGED))
      break
    end
    print(string.format("  %s: %s (%s)", v.series, v.verdict:upper(),
      table.concat(v.reasons, "; ")))
  end
  local on = string.format("%s (%s)", res.device, res.device_index)
  if res.devices and #res.devices > 1 then
    local parts = {}
    for _, d in ipairs(res.devices) do
      parts[#parts + 1] = string.format("%s (%s): %d frames", d.name, d.index, d.frames)
    end
    on = #res.devices .. " devices [" .. table.concat(parts, "; ") .. "]"
  end
  local prec = res.provenance and res.provenance.precision or "fp32"
  print(string.format("model %s (%s door, sha256 %s, weights %s%s) on %s; wall time %.1f s",
    res.model, res.package.door, res.model_sha256:sub(1, 12), res.package.weights_status,
    prec ~= "fp32" and ", " .. prec .. " storage" or "", on, res.wall_s))
  if res.paths then
    print(string.format("report: %s, %s, %s, %s", res.paths.jsonl, res.paths.csv,
      res.paths.series_csv, res.paths.html))
  end
  if res.srs and #res.srs > 0 then
    print(string.format("sr: %d DICOM Structured Report%s in %s/", #res.srs,
      #res.srs > 1 and "s" or "", res.srs[1]:match("^(.*)/[^/]*$")))
  end
end

local function shell_quote(a)
  if a:match("^[%w%./_:=,%-]+$") then return a end
  return "'" .. a:gsub("'", "'\\''") .. "'"
end

function M.run(args)
  local opts, pos = cli.parse(args, { model = "string", head = "string", device = "string",
    out = "string", shard = "string", threshold = "number", rules = "string", sandbox = "boolean",
    ["series-pattern"] = "string", size = "number", quiet = "boolean", phi = "boolean",
    precision = "string" })
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
  local words = { "lumen", "qc" }
  for _, a in ipairs(args) do words[#words + 1] = shell_quote(a) end
  local pipeline = require "lumen.pipeline"
  local res, err, kind = pipeline.run({ inputs = pos, model = opts.model, head = opts.head,
    device = opts.device, out = opts.out or "report", shard = opts.shard,
    threshold = opts.threshold, rules_file = opts.rules, sandbox = opts.sandbox,
    size = opts.size, series_pattern = opts["series-pattern"], phi = opts.phi,
    precision = opts.precision, command = table.concat(words, " ") })
  if not res then
    if kind == "usage" then return cli.usage_error("qc", err) end
    return cli.runtime_error("qc", err)
  end
  if not opts.quiet then M.print_summary(res) end
  if opts.quiet and res.notice then io.stderr:write(res.notice, "\n") end
  return res.summary.failed > 0 and cli.EXIT_PARTIAL or cli.EXIT_OK
end

return M
