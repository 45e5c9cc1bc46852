-- lumen devices [--cache] [--check [--device D]] [--json]: one row per OpenCL device.
-- With --cache, opens each device, builds every kernel program through the on-disk cache and
-- prints the cache's hits and misses (a second run shows the warm state). With --check, runs
-- the device self-check (runtime/selfcheck.c) on each device, or on --device D, and prints a
-- verdict per op family.
local lumen = require "lumen"
local cli = require "lumen.cli"

local M = {
  summary = "list OpenCL devices (--cache: kernel cache state; --check: device self-check)",
  usage = [=[usage: lumen devices [--cache] [--check [--device D]] [--json]

Lists every OpenCL platform and device: index (the P:D selector), platform, name, type, vendor,
driver version, OpenCL C version, compute units, clock, global / local / max-alloc memory,
fp16 and fp64 support. The default device (LUMEN_DEVICE, else first GPU, accelerator, CPU) is
marked with '*'.

  --cache   also build all kernels on each device through the program cache and show
            hits / misses / rejected entries and the time taken
  --check   run the device self-check on every device (or on --device D): a few small cases
            per op family against the C references; prints device, family, verdict (pass,
            FAIL, skip), cases, milliseconds, and for a failure the op, case, error and what
            lumen does about it (the other GEMM engine, or refusing models that use the
            family). Every family runs with fp32 tensors, then again with fp16 storage
            ('fp16:conv', ...; a failure there makes fp16 models using it run in fp32).
            The verdict is stored in the cache directory, where 'lumen qc', 'infer'
            and 'bench' read it on first use of the device (LUMEN_SELFCHECK=0: they skip it).
            Exit code 1 when a family failed.
  --device  with --check: the device to check (as 'lumen qc --device')
  --json    print the device list as JSON]=],
}

local function json_value(v)
  if type(v) == "string" then
    local escaped = v:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end)
    return '"' .. escaped .. '"'
  end
  return tostring(v)
end

-- --check: the self-check on each device (or the one selected); the table; an exit code.
local function check(devs, selector)
  local list = devs
  if selector then
    local d, err = lumen.select_device(selector)
    if not d then return cli.runtime_error("devices", err) end
    list = { d }
  end
  local fmt = "%-5s %-34s %-14s %-7s %5s %8s  %s"
  print("")
  print(string.format(fmt, "index", "device", "family", "verdict", "cases", "ms", "detail"))
  local status = cli.EXIT_OK
  for _, d in ipairs(list) do
    local ctx, cerr = lumen.context(d.index)
    local r
    if ctx then r, cerr = ctx:selfcheck("run") end
    if not r then
      print(string.format("%-5s %-34s cannot run the self-check: %s", d.index, d.name:sub(1, 34),
        cerr))
      status = cli.EXIT_RUNTIME
    else
      for _, f in ipairs(r.families) do
        local detail = ""
        if f.verdict == "fail" then
          detail = string.format("%s '%s': %s; %s", f.op, f.label, f.error, f.action)
          if status == cli.EXIT_OK then status = cli.EXIT_PARTIAL end
        elseif f.verdict == "skip" then
          detail = f.error
        end
        local verdict = f.verdict == "fail" and "FAIL" or f.verdict
        print(string.format(fmt, d.index, d.name:sub(1, 34), f.name, verdict, f.cases,
          string.format("%.0f", f.ms), detail))
      end
      print(string.format("%-5s %-34s self-check %s in %.0f ms%s", d.index, d.name:sub(1, 34),
        r.passed and "passed" or "FAILED", r.ms,
        r.path ~= "" and ("; verdict stored in " .. r.path) or "; not stored (cache off)"))
    end
    if ctx then ctx:close() end
  end
  return status
end

function M.run(args)
  local opts, pos = cli.parse(args, { cache = "boolean", json = "boolean", check = "boolean",
    device = "string" })
  if not opts then return cli.usage_error("devices", pos) end
  if #pos > 0 then return cli.usage_error("devices", "unexpected argument '" .. pos[1] .. "'") end
  if opts.device and not opts.check then
    return cli.usage_error("devices", "--device goes with --check")
  end
  local devs, err = lumen.devices()
  if not devs then return cli.runtime_error("devices", err) end
  local default = lumen.select_device()
  if opts.json then
    local rows = {}
    for _, d in ipairs(devs) do
      local keys = {}
      for k in pairs(d) do keys[#keys + 1] = k end
      table.sort(keys)
      local fields = {}
      for _, k in ipairs(keys) do
        fields[#fields + 1] = json_value(k) .. ": " .. json_value(d[k])
      end
      rows[#rows + 1] = "  {" .. table.concat(fields, ", ") .. "}"
    end
    print("[\n" .. table.concat(rows, ",\n") .. "\n]")
    return cli.EXIT_OK
  end
  local fmt = "%-1s %-5s %-28s %-34s %-5s %-14s %-13s %-10s %4s %6s %10s %9s %10s %-4s %-4s"
  print(string.format(fmt, "", "index", "platform", "device", "type", "vendor", "driver",
    "OpenCL C", "CUs", "MHz", "global", "local", "max alloc", "fp16", "fp64"))
  for _, d in ipairs(devs) do
    local mark = (default and default.index == d.index) and "*" or ""
    print(string.format(fmt, mark, d.index, d.platform:sub(1, 28), d.name:sub(1, 34), d.type,
      d.vendor:sub(1, 14), d.driver:sub(1, 13), d.opencl_c:gsub("^OpenCL C ", ""):sub(1, 10),
      d.compute_units, d.clock_mhz, lumen.format_bytes(d.global_mem),
      lumen.format_bytes(d.local_mem), lumen.format_bytes(d.max_alloc), d.fp16 and "yes" or "no",
      d.fp64 and "yes" or "no"))
  end
  local status = cli.EXIT_OK
  if opts.check then status = check(devs, opts.device) end
  if not opts.cache then return status end
  print("")
  for _, d in ipairs(devs) do
    local ctx, cerr = lumen.context(d.index)
    if not ctx then
      print(string.format("%s  cache: cannot open device: %s", d.index, cerr))
      status = cli.EXIT_RUNTIME
    else
      local ok, berr = ctx:build_all()
      local s = ctx:cache_stats()
      print(string.format("%s  cache %s: %d hits, %d misses (compiled), %d rejected, %d from kernels file; %.0f ms%s",
        d.index, s.dir ~= "" and s.dir or "(off)", s.disk_hits, s.disk_misses, s.disk_rejected,
        s.binary_file, s.build_ms, ok and "" or ("; build failed: " .. berr)))
      if not ok then status = cli.EXIT_RUNTIME end
      ctx:close()
    end
  end
  return status
end

return M
