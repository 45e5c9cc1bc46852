-- lumen listen: a DICOM node. A PACS (or a modality) sends series with C-STORE; each frame is
-- run through the QC model as it arrives (the network loaded once, kept warm), the reports are
-- rewritten as records come in, and when a series has been quiet for --stable-age seconds its
-- verdict is written as a DICOM Structured Report (and sent back with --forward).
local cli = require "lumen.cli"

local M = {
  summary = "DICOM C-STORE node: QC of series as they arrive, SR per series back to the PACS",
  usage = [[usage: lumen listen --out DIR [options]

Accepts X-ray angiography (XA, enhanced XA), XRF, DX, CR and Secondary Capture storage;
other SOP classes are refused. Received instances are kept in DIR/dicom/ before they are
acknowledged; reports in DIR as for lumen qc (report.jsonl rewritten as frames arrive);
one SR per complete series in DIR/sr/.

  --aet AET        our AE title (default LUMEN)
  --port P         TCP port (default 11112)
  --out DIR        report folder (required)
  --forward AET@HOST:PORT   send each SR there with C-STORE (e.g. the PACS that sent it)
  --stable-age S   a series is complete when no instance came for S seconds (default 10)
  --model M, --head FILE, --device D, --rules FILE, --size S, --threshold T, --phi
                   as for lumen qc
  --timeout S      DICOM network timeouts (default 30)
  --quiet          only errors and the final summary

Stops cleanly on SIGTERM or SIGINT: the current association ends, pending series get their
SR, and the reports are written. Each record carries ms.arrival_to_record, the time from the
instance's arrival to its record; the summary gives median and p95.
Exit codes: 0 stopped cleanly, 2 usage error, 3 no device, the model failed to load, or the
port could not be opened.]],
}

local function percentile(sorted, p)
  if #sorted == 0 then return 0 end
  local k = math.max(1, math.min(#sorted, math.ceil(p * #sorted)))
  return sorted[k]
end

local function parse_forward(s)
  local aet, host, port = s:match("^([^@]+)@([^:]+):(%d+)$")
  if not aet then return nil, "--forward needs AET@HOST:PORT, got '" .. s .. "'" end
  return { aet = aet, host = host, port = tonumber(port) }
end

function M.run(args)
  local opts, pos = cli.parse(args, { aet = "string", port = "number", out = "string",
    forward = "string", ["stable-age"] = "number", model = "string", head = "string",
    device = "string", rules = "string", size = "number", threshold = "number", phi = "boolean",
    timeout = "number", quiet = "boolean" })
  if not opts then return cli.usage_error("listen", pos) end
  if #pos > 0 then return cli.usage_error("listen", "unexpected argument '" .. pos[1] .. "'") end
  if not opts.out then return cli.usage_error("listen", "--out DIR is required") end
  local port = math.tointeger(opts.port or 11112)
  if not port or port < 1 or port > 65535 then
    return cli.usage_error("listen", "--port needs 1..65535")
  end
  local fwd
  if opts.forward then
    local ferr
    fwd, ferr = parse_forward(opts.forward)
    if not fwd then return cli.usage_error("listen", ferr) end
  end
  local stable_ms = (opts["stable-age"] or 10) * 1000
  local aet = opts.aet or "LUMEN"
  local lumen = require "lumen"
  local pipeline = require "lumen.pipeline"
  local dicom = require "lumen.dicom"
  local store_dir = opts.out .. "/dicom"
  local ok, merr = lumen.mkdir(store_dir)
  if not ok then return cli.runtime_error("listen", merr) end

  local latencies = {}
  local arrival
  local s, err, kind = pipeline.open({ out = opts.out, model = opts.model, head = opts.head,
    device = opts.device, rules_file = opts.rules, size = opts.size, threshold = opts.threshold,
    phi = opts.phi, title = "lumen listen " .. aet,
    on_record = function(rec)
      if arrival and not rec.skipped then
        local ms = pipeline.now_ms() - arrival
        rec.ms = rec.ms or {}
        rec.ms.arrival_to_record = math.floor(ms * 100 + 0.5) / 100
        latencies[#latencies + 1] = ms
      end
    end })
  if not s then
    if kind == "usage" then return cli.usage_error("listen", err) end
    return cli.runtime_error("listen", err)
  end
  s.sr_per_series = true -- SRs are written here, as series complete
  local function log(fmt, ...)
    if not opts.quiet then io.stdout:write(string.format(fmt, ...), "\n"); io.stdout:flush() end
  end

  -- series by key: { records = {...}, last = ms, done = bool }
  local series, order = {}, {}
  local srs, forwarded, forward_errors = 0, 0, 0
  local function complete(key)
    local sr = series[key]
    local v = s:series_verdicts(sr.records)[1]
    if not v then return end
    local path, werr = dicom.write_sr(opts.out, v, sr.records, s)
    sr.done = true
    if not path then
      if werr then io.stderr:write("listen: SR for ", key, ": ", werr, "\n") end
      return
    end
    srs = srs + 1
    log("series %s: %s, %d frames -> %s", key, v.verdict:upper(), #sr.records, path)
    if fwd then
      local sent, serr = lumen.dicom_send(path, { aet = aet, peer_aet = fwd.aet, host = fwd.host,
        port = fwd.port, timeout = opts.timeout or 30 })
      if sent then
        forwarded = forwarded + 1
        log("  sent to %s@%s:%d", fwd.aet, fwd.host, fwd.port)
      else
        forward_errors = forward_errors + 1
        io.stderr:write("listen: forwarding ", path, ": ", serr, "\n")
      end
    end
  end
  local function check_stable(force)
    local now = pipeline.now_ms()
    for _, key in ipairs(order) do
      local sr = series[key]
      if not sr.done and (force or now - sr.last >= stable_ms) then complete(key) end
    end
  end

  local received = 0
  log("listen: %s on port %d, reports in %s (model %s)", aet, port, opts.out, s.pkg.name)
  local okl, lerr = lumen.dicom_listen({ aet = aet, port = port, store_dir = store_dir,
    timeout = opts.timeout or 30, poll = 1 },
    function(path, calling, arrival_ms)
      received = received + 1
      arrival = arrival_ms
      -- the frames of an instance go to every device of the session (--device all)
      local recs = #s.workers > 1 and s:process_all({ path }) or s:process(path)
      arrival = nil
      for _, r in ipairs(recs) do
        local key = require("lumen.series").key(r)
        r.series = key
        if not series[key] then
          series[key] = { records = {}, last = 0 }
          order[#order + 1] = key
        end
        local sr = series[key]
        table.insert(sr.records, r)
        sr.last, sr.done = pipeline.now_ms(), false
      end
      if s.report then s.report:flush() end
      log("received %s from %s: %d frame%s", path:match("([^/]*)$"), calling, #recs,
        #recs == 1 and "" or "s")
      return false
    end,
    function()
      check_stable(false)
      return false
    end)
  -- stopped (SIGTERM/SIGINT) or failed: nothing received is lost
  check_stable(true)
  local res, ferr = s:finish()
  if not res then return cli.runtime_error("listen", ferr) end
  table.sort(latencies)
  print(string.format("listen: %d instances, %d frames (%d ok, %d failed), %d series, %d SR "
    .. "written, %d forwarded%s", received, res.summary.total, res.summary.ok, res.summary.failed,
    #order, srs, forwarded,
    forward_errors > 0 and (", " .. forward_errors .. " forward errors") or ""))
  if #latencies > 0 then
    print(string.format("arrival to record: median %.1f ms, p95 %.1f ms over %d frames",
      percentile(latencies, 0.5), percentile(latencies, 0.95), #latencies))
  end
  if not okl then return cli.runtime_error("listen", lerr) end
  return cli.EXIT_OK
end

return M
