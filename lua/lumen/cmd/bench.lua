-- lumen bench: latency, cold start, throughput, memory and per-node profile of a model on every
-- selected device, next to the device's own measured limits (GEMM GFLOP/s, copy bandwidth).
--
-- Every figure is measured here, in this run; nothing is quoted from elsewhere. Warm latency is
-- wall clock around model:run() (enqueue + wait), on lumen.clock() (monotonic), after W warm-up
-- runs. Cold start runs in fresh child processes (`lumen bench --phase cold`) so that nothing
-- built by this process can help: once with an empty program cache (and PoCL's own kernel cache
-- off: POCL_KERNEL_CACHE=0), once more with the cache that run left (warm).
-- The report-writing half (table, JSON, CSV, SVG) is lumen.bench_report.
local lumen = require "lumen"
local shapes = require "lumen.shape"
local cli = require "lumen.cli"
local json = require "lumen.json"
local report = require "lumen.bench_report"

local M = {
  summary = "benchmark models on devices: latency, cold start, throughput, memory, profile",
  usage = [[usage: lumen bench [options]

For each model and device: a header (device, driver, compute units, clock, memory, fp16, lumen
version, precision, cache state); cold start in fresh processes (program build time with an
empty and with a warm cache, model load, first inference); warm latency (min, median, p90, max
over --runs after --warmup); throughput at each --batch; the memory plan's peak (planned vs
naive vs largest live set); the top 15 nodes of the per-node profile; the device's measured
GEMM GFLOP/s (best of CLBlast and the own kernel, 1024^3) and copy bandwidth, and the model's
achieved share of each. Progress goes to stderr, the table to stdout.

  --model LIST     models, comma-separated: names under models/ (angio_qa, unet, ...), .lua
                   definitions or .onnx files (default angio_qa)
  --device SEL     a device selector (see 'lumen devices'), a comma-separated list, or 'all'
                   (default: LUMEN_DEVICE or the best device)
  --runs N         timed runs (default 20; --quick 3)
  --warmup W       warm-up runs before timing (default 3; --quick 1)
  --size HxW       input size (default: the model's; --quick 64x64); one number means square
  --batch LIST     batch sizes for throughput, comma-separated (default 1,4,8; --quick 1,2)
  --random SEED    seeded random weights instead of the shipped ones
  --weights FILE   a safetensors file for Lua-defined models (default: the shipped weights)
  --precision LIST fp32 (default), fp16 (weights and activations stored as half, arithmetic
                   in fp32) or fp32,fp16: each model and device once per precision, the memory
                   plan and latency side by side
  --quick          tiny sizes and few runs (a smoke run for CI)
  --no-cold        skip the cold-start child processes
  --latency-only   header and warm latency only (what bench/compare.sh alternates with peers)
  --out DIR        write DIR/bench.json, DIR/bench.csv and DIR/profile.csv
  --plot           also write DIR/bench.svg (latency per device and peer, per-node profile)
  --peers FILE     peer results to show next to lumen in the table and chart (JSON written by
                   bench/compare.sh: [{model=, peer=, median_ms=, ...}])

Exit codes: 0 all measured, 1 some model/device pair failed, 2 usage, 3 no device.]],
}

local SPEC = {
  model = "string", device = "string", runs = "number", warmup = "number", size = "string",
  batch = "string", random = "number", weights = "string", quick = "boolean", ["no-cold"] = "boolean",
  ["latency-only"] = "boolean", out = "string", plot = "boolean", peers = "string",
  precision = "string",
  phase = "string", -- internal: "cold" for the child processes
}

local function progress(fmt, ...)
  io.stderr:write("bench: " .. string.format(fmt, ...) .. "\n")
  io.stderr:flush()
end

local function split(s)
  local t = {}
  for item in s:gmatch("[^,]+") do t[#t + 1] = item end
  return t
end

-- ---- statistics ----

local function sorted(xs)
  local s = table.move(xs, 1, #xs, 1, {})
  table.sort(s)
  return s
end

-- min, median, p90 (nearest rank), max of a list of numbers.
local function summary(xs)
  local s = sorted(xs)
  local n = #s
  local med = n % 2 == 1 and s[(n + 1) // 2] or 0.5 * (s[n // 2] + s[n // 2 + 1])
  return { min = s[1], median = med, p90 = s[math.max(1, math.ceil(0.9 * n))], max = s[n], n = n,
           runs = xs }
end

-- ---- models ----

-- Deterministic input in [-1, 1) (an LCG, so every run and every peer script can make the same
-- numbers without sharing a file; see bench/peers/).
local function input_data(n, seed)
  local data, x = {}, seed or 12345
  for i = 1, n do
    x = (x * 1103515245 + 12345) % 2147483648
    data[i] = x / 1073741824.0 - 1.0
  end
  return data
end

local function parse_size(s)
  if not s then return nil end
  local hw = shapes.parse_hw(s)
  if not hw then return nil, "--size needs HxW or a number, got '" .. s .. "'" end
  return hw
end

-- Loads a model for ctx: an .onnx file through lumen.onnx_graph, anything else through
-- lumen.load_model (lumen.models). Returns {model=, inputs=, outputs=, stats=, name=} | nil, msg.
local function load(ctx, spec, size, batch, seed, weights, precision)
  local mopts = precision and { precision = precision } or nil
  if spec:match("%.onnx$") then
    if not lumen.onnx_graph then
      return nil, "this build has no ONNX front door (lumen.onnx_graph)"
    end
    local g, info = lumen.onnx_graph(spec)
    if not g then return nil, info end
    -- a size or batch other than the file's: load again with the first input's shape replaced
    local first = info.inputs and info.inputs[1]
    if first and #first.shape == 4 then
      local want = { batch or first.shape[1], first.shape[2], size and size[1] or first.shape[3],
                     size and size[2] or first.shape[4] }
      if want[1] ~= first.shape[1] or want[3] ~= first.shape[3] or want[4] ~= first.shape[4] then
        g:free()
        g, info = lumen.onnx_graph(spec, { shapes = { [first.name] = want } })
        if not g then return nil, info end
      end
    end
    local m, merr = ctx:model(g, mopts)
    if not m then return nil, merr end
    return { model = m, inputs = m:inputs(), outputs = m:outputs(), stats = m:stats(),
             name = spec:match("([^/]+)%.onnx$") }
  end
  local ok, models = pcall(require, "lumen.models")
  if not ok then return nil, "lumen.models is not available: " .. tostring(models) end
  local lm, err = models.load_model(spec, { ctx = ctx, size = size, batch = batch, random = seed,
                                            weights = weights, precision = precision })
  if not lm then return nil, err end
  return { model = lm.model, inputs = lm.inputs, outputs = lm.outputs, stats = lm.stats,
           name = lm.name, params = lm.params, weights = lm.weights }
end

local function write_inputs(lm, seed)
  for i, inp in ipairs(lm.inputs) do
    local t = assert(lm.model:tensor(inp.name))
    local ok, err = t:write(input_data(shapes.numel(inp.shape), (seed or 12345) + i - 1))
    if not ok then return nil, err end
  end
  return true
end

-- Times 'runs' calls of m:run() after 'warmup' calls. Returns a summary | nil, msg.
local function time_runs(m, warmup, runs)
  for _ = 1, warmup do
    local ok, err = m:run()
    if not ok then return nil, err end
  end
  local times = {}
  for i = 1, runs do
    local t0 = lumen.clock()
    local ok, err = m:run()
    if not ok then return nil, err end
    times[i] = lumen.clock() - t0
  end
  return summary(times)
end

-- ---- device limits: small graphs measured like models ----

local function time_graph(ctx, g, warmup, runs)
  local m, err = ctx:model(g)
  if not m then return nil, err end
  for _, inp in ipairs(m:inputs()) do
    local t = m:tensor(inp.name)
    t:fill(0.5)
  end
  local s, terr = time_runs(m, warmup, runs)
  m:free()
  return s, terr
end

-- GEMM GFLOP/s at n^3 with each engine (own, clblast): {own=, clblast=, best=, best_engine=}.
local function measure_gemm(dev, n, runs)
  local ctx, err = lumen.context(dev)
  if not ctx then return nil, err end
  local r = {}
  for _, engine in ipairs({ "own", "clblast" }) do
    ctx:set_gemm(engine)
    local g = lumen.graph()
    local a = g:input("a", { n, n })
    local b = g:input("b", { n, n })
    g:output("c", g:op("gemm", "matmul", {}, { a, b }))
    local s, terr = time_graph(ctx, g, 1, runs)
    if s then
      r[engine] = 2 * n * n * n / s.median / 1e6
      if not r.best or r[engine] > r.best then r.best, r.best_engine = r[engine], engine end
    else
      r[engine .. "_error"] = terr
    end
  end
  ctx:close()
  r.n = n
  return r
end

-- Copy bandwidth (GB/s, read + write) of a unary op (relu) over n floats.
local function measure_copy(dev, n, runs)
  local ctx, err = lumen.context(dev)
  if not ctx then return nil, err end
  local g = lumen.graph()
  local x = g:input("x", { n })
  g:output("y", g:op("copy", "unary", { act = "relu" }, { x }))
  local s, terr = time_graph(ctx, g, 1, runs)
  ctx:close()
  if not s then return nil, terr end
  return { n = n, bytes = 8 * n, gbs = 8 * n / s.median / 1e6, ms = s.median }
end

-- ---- cold start ----

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- The child: load, first inference, one JSON line on stdout. Times from process start are
-- approximated from this module's first instruction (Lua start-up before it is ~1 ms).
local function cold_child(opts)
  local t_start = lumen.clock()
  local ctx, err = lumen.context(opts.device)
  if not ctx then
    io.write("BENCH-COLD " .. json.encode({ error = err }) .. "\n")
    return cli.EXIT_RUNTIME
  end
  local t_ctx = lumen.clock()
  local lm, lerr = load(ctx, opts.model, opts.size, 1, opts.random, opts.weights, opts.precision)
  local t_load = lumen.clock()
  local r = { ctx_ms = t_ctx - t_start, load_ms = t_load - t_ctx }
  if lm then
    local ok, rerr = write_inputs(lm)
    if ok then ok, rerr = lm.model:run() end
    local t_first = lumen.clock()
    if ok then
      r.first_ms = t_first - t_load
      r.start_to_result_ms = t_first - t_start
    else
      r.error = rerr
    end
  else
    r.error = lerr
  end
  local cs = ctx:cache_stats()
  r.build_ms, r.compiled, r.disk_hits, r.rejected = cs.build_ms, cs.disk_misses, cs.disk_hits,
    cs.disk_rejected
  r.gemm = ctx:gemm()
  io.write("BENCH-COLD " .. json.encode(r) .. "\n")
  return r.error and cli.EXIT_RUNTIME or cli.EXIT_OK
end

local function run_child(self_exe, env, opts)
  local args = { "--phase", "cold", "--model", opts.model, "--device", opts.device }
  if opts.size then args[#args + 1] = "--size=" .. opts.size[1] .. "x" .. opts.size[2] end
  if opts.random then args[#args + 1] = "--random=" .. math.tointeger(opts.random) end
  if opts.weights then args[#args + 1] = "--weights=" .. opts.weights end
  if opts.precision then args[#args + 1] = "--precision=" .. opts.precision end
  local cmd = env .. " " .. shell_quote(self_exe) .. " bench"
  for _, a in ipairs(args) do cmd = cmd .. " " .. shell_quote(a) end
  local t0 = lumen.clock()
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  p:close()
  local wall = lumen.clock() - t0
  local line = out:match("BENCH%-COLD ([^\n]*)")
  if not line then return { error = "child printed no result: " .. out:sub(1, 300) } end
  local r = json.decode(line) or { error = "unparsable child output" }
  r.process_ms = wall
  return r
end

-- Cold start in fresh processes, three states of the caches:
--   cold: empty LUMEN_CACHE_DIR and POCL_KERNEL_CACHE=0 (every program compiled from source);
--   half: lumen's cache as the cold run left it, PoCL's own cache empty (POCL_CACHE_DIR points
--         to a new folder). PoCL stores LLVM bitcode as the program binary and generates the
--         work-group code at the first launch of each kernel, caching that in its own folder;
--   warm: both caches as the runs before left them (the median of 'reps' processes).
local function measure_cold(opts, reps)
  local self_exe = arg and arg[0] or "lumen"
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p " .. shell_quote(dir .. "/lumen") .. " " .. shell_quote(dir .. "/pocl"))
  local lumen_env = "LUMEN_CACHE_DIR=" .. shell_quote(dir .. "/lumen")
  local pocl_env = "POCL_CACHE_DIR=" .. shell_quote(dir .. "/pocl")
  local cold = run_child(self_exe, "POCL_KERNEL_CACHE=0 " .. lumen_env, opts)
  local half = run_child(self_exe, pocl_env .. " " .. lumen_env, opts)
  local warm = {}
  for i = 1, reps do warm[i] = run_child(self_exe, pocl_env .. " " .. lumen_env, opts) end
  os.execute("rm -rf " .. shell_quote(dir))
  -- the warm figure is the run with the median start-to-result time
  table.sort(warm, function(a, b)
    return (a.start_to_result_ms or 1e99) < (b.start_to_result_ms or 1e99)
  end)
  return { cold = cold, half = half, warm = warm[(#warm + 1) // 2], warm_runs = #warm,
           note = "fresh processes; cold: empty LUMEN_CACHE_DIR and POCL_KERNEL_CACHE=0; half: "
             .. "lumen's cache warm, PoCL's own kernel cache (POCL_CACHE_DIR) empty; warm: both "
             .. "caches warm" }
end

-- ---- one model on one device ----

local function profile(m, reps)
  local runs = {}
  for r = 1, reps do
    local p, err = m:profile()
    if not p then return nil, err end
    runs[r] = p
  end
  -- per node: the median of its times over the repetitions
  local nodes, total = {}, 0
  for i, n in ipairs(runs[1]) do
    local ts = {}
    for r = 1, reps do ts[r] = runs[r][i].ms end
    local ms = summary(ts).median
    nodes[i] = { name = n.name, op = n.op, shape = n.shape, ms = ms, flops = n.flops,
                 bytes = n.bytes }
    total = total + ms
  end
  for _, n in ipairs(nodes) do
    n.share = total > 0 and n.ms / total or 0
    n.gflops = n.ms > 0 and n.flops / n.ms / 1e6 or 0
    n.gbs = n.ms > 0 and n.bytes / n.ms / 1e6 or 0
  end
  return { nodes = nodes, total_ms = total }
end

local function bench_one(spec, dev, o, precision)
  local r = { model = spec, device = dev, precision = precision, lumen_version = lumen.version }
  progress("%s on %s [%s]: loading (%s)", spec, dev.index, dev.name, precision)
  if not o.no_cold then
    progress("%s on %s: cold start (fresh processes, empty caches; then warm)", spec, dev.index)
    r.cold = measure_cold({ model = spec, device = dev.index, size = o.size, random = o.random,
                            weights = o.weights, precision = precision },
      o.quick and 1 or 3)
  end
  local ctx, err = require("lumen.selfcheck").context(dev.index)
  if not ctx then
    r.error = err
    return r
  end
  local t0 = lumen.clock()
  local lm, lerr = load(ctx, spec, o.size, 1, o.random, o.weights, precision)
  if not lm then
    r.error = lerr
    ctx:close()
    return r
  end
  r.load_ms = lumen.clock() - t0
  r.plan = lm.model:plan() -- the memory plan is reported even with --latency-only
  r.precision = r.plan.precision -- what runs (fp16 may fall back to fp32: precision_note)
  if r.plan.precision_note then progress("%s", r.plan.precision_note) end
  r.name, r.inputs, r.outputs, r.stats, r.params = lm.name, lm.inputs, lm.outputs, lm.stats,
    lm.params
  assert(write_inputs(lm))
  t0 = lumen.clock()
  local ok, rerr = lm.model:run()
  r.first_ms = lumen.clock() - t0
  if not ok then
    r.error = rerr
    ctx:close()
    return r
  end
  local cs = ctx:cache_stats()
  r.cache = { dir = cs.dir, compiled = cs.disk_misses, disk_hits = cs.disk_hits,
              rejected = cs.disk_rejected, build_ms = cs.build_ms,
              state = cs.disk_misses > 0 and "cold (compiled " .. cs.disk_misses .. " programs)"
                or cs.disk_hits > 0 and "warm (" .. cs.disk_hits .. " programs from disk)" or "warm" }
  r.gemm_engine = ctx:gemm()
  progress("%s on %s: warm latency, %d warm-ups + %d runs", spec, dev.index, o.warmup, o.runs)
  r.latency, err = time_runs(lm.model, o.warmup, o.runs)
  if not r.latency then
    r.error = err
    ctx:close()
    return r
  end
  if o.latency_only then
    ctx:close()
    return r
  end
  progress("%s on %s: per-node profile", spec, dev.index)
  r.profile, err = profile(lm.model, o.quick and 1 or 3)
  if not r.profile then r.profile_error = err end
  lm.model:free()
  lm = nil -- luacheck: ignore 311 (drops the last reference before collectgarbage)
  collectgarbage()

  r.throughput = {}
  for _, b in ipairs(o.batch) do
    progress("%s on %s: throughput at batch %d", spec, dev.index, b)
    local row = { batch = b }
    local bm, berr = b == 1 and { median = r.latency.median } or nil, nil
    if b ~= 1 then
      local lb
      lb, berr = load(ctx, spec, o.size, b, o.random, o.weights, precision)
      if lb then
        write_inputs(lb)
        bm, berr = time_runs(lb.model, 1, math.max(3, math.min(o.runs, 10)))
        lb.model:free()
      end
    end
    if bm then
      row.ms, row.fps = bm.median, 1000 * b / bm.median
    else
      row.error = berr
    end
    r.throughput[#r.throughput + 1] = row
    collectgarbage()
  end
  ctx:close()

  progress("%s on %s: device limits (GEMM %d^3, copy)", spec, dev.index, o.gemm_n)
  r.limits = { gemm = measure_gemm(dev.index, o.gemm_n, o.quick and 3 or 5),
               copy = measure_copy(dev.index, o.copy_n, o.quick and 3 or 5) }
  local flops = r.stats and r.stats.flops or 0
  r.achieved = { gflops = flops / r.latency.median / 1e6 }
  if r.profile then
    local bytes = 0
    for _, n in ipairs(r.profile.nodes) do bytes = bytes + n.bytes end
    r.achieved.gbs = bytes / r.latency.median / 1e6
  end
  if r.limits.gemm and r.limits.gemm.best then
    r.achieved.gemm_share = r.achieved.gflops / r.limits.gemm.best
  end
  if r.limits.copy and r.achieved.gbs then
    r.achieved.copy_share = r.achieved.gbs / r.limits.copy.gbs
  end
  return r
end

-- ---- the command ----

local function options(args)
  local opts, pos = cli.parse(args, SPEC)
  if not opts then return nil, pos end
  if #pos > 0 then return nil, "unexpected argument '" .. pos[1] .. "'" end
  local o = {
    quick = opts.quick, no_cold = opts["no-cold"], latency_only = opts["latency-only"],
    out = opts.out, plot = opts.plot, peers = opts.peers, random = opts.random,
    weights = opts.weights,
    phase = opts.phase, models = split(opts.model or "angio_qa"),
    precisions = split(opts.precision or "fp32"),
  }
  for _, p in ipairs(o.precisions) do
    if p ~= "fp32" and p ~= "fp16" then
      return nil, "--precision needs fp32, fp16 or a list of them, got '" .. p .. "'"
    end
  end
  o.runs = math.tointeger(opts.runs or (o.quick and 3 or 20))
  o.warmup = math.tointeger(opts.warmup or (o.quick and 1 or 3))
  if not o.runs or o.runs < 1 then return nil, "--runs needs a positive integer" end
  if not o.warmup or o.warmup < 0 then return nil, "--warmup needs an integer >= 0" end
  local err
  o.size, err = parse_size(opts.size or (o.quick and "64" or nil))
  if err then return nil, err end
  o.batch = {}
  for _, b in ipairs(split(opts.batch or (o.quick and "1,2" or "1,4,8"))) do
    local n = math.tointeger(tonumber(b))
    if not n or n < 1 then return nil, "--batch needs positive integers, got '" .. b .. "'" end
    o.batch[#o.batch + 1] = n
  end
  o.gemm_n = o.quick and 256 or 1024
  o.copy_n = o.quick and (1 << 20) or (1 << 25)
  o.device = opts.device
  if opts.plot and not opts.out then return nil, "--plot needs --out DIR" end
  return o
end

local function select_devices(sel)
  if sel == "all" then return lumen.devices() end
  local devs = {}
  for _, s in ipairs(sel and split(sel) or { false }) do
    local d, err = lumen.select_device(s or nil)
    if not d then return nil, err end
    devs[#devs + 1] = d
  end
  return devs
end

function M.run(args)
  local o, err = options(args)
  if not o then return cli.usage_error("bench", err) end
  if o.phase == "cold" then
    return cold_child({ device = o.device, model = o.models[1], size = o.size, random = o.random,
                        weights = o.weights, precision = o.precisions[1] })
  elseif o.phase then
    return cli.usage_error("bench", "unknown --phase '" .. o.phase .. "'")
  end
  local devs
  devs, err = select_devices(o.device)
  if not devs then return cli.runtime_error("bench", err) end
  local peers
  if o.peers then
    local f = io.open(o.peers)
    if f then
      peers = json.decode(f:read("a"))
      f:close()
    end
    if not peers then progress("cannot read peer results from %s (ignored)", o.peers) end
  end
  local results, status = {}, cli.EXIT_OK
  for _, spec in ipairs(o.models) do
    for _, dev in ipairs(devs) do
      for _, precision in ipairs(o.precisions) do
        local r = bench_one(spec, dev, o, precision)
        if r.error then
          progress("%s on %s (%s): FAILED: %s", spec, dev.index, precision, r.error)
          status = cli.EXIT_PARTIAL
        end
        results[#results + 1] = r
        collectgarbage()
      end
    end
  end
  local doc = { lumen_version = lumen.version, date = os.date("!%Y-%m-%dT%H:%M:%SZ"),
                options = { runs = o.runs, warmup = o.warmup, batch = o.batch, quick = o.quick or false,
                            size = o.size, random = o.random },
                results = results, peers = peers }
  io.write(report.text(doc))
  if o.out then
    local files, werr = report.write_files(doc, o.out, o.plot)
    if not files then return cli.runtime_error("bench", werr) end
    for _, f in ipairs(files) do progress("wrote %s", f) end
  end
  return status
end

return M
