-- angio_parity.lua: the angio_qa Lua model definition + runtime against PyTorch's outputs.
--
--   lumen run tests/angio_parity.lua [FIXTURE_DIR [WEIGHTS]]
--
-- For each fixture of models/angio_qa/fixtures (fixtures/README.md: 64x64 and 512x512 inputs
-- with the shipped weights, and the tiny random-weight model) it runs the model and compares
-- seg_logit and cls_logit with |a-b| <= 1e-4 + 1e-3*|b| (design.md's per-model oracle), and the
-- class argmax. It also checks the parameter count, strict weight loading (a mis-keyed file and
-- a file of the wrong kind give one clean error) and the layer-by-layer checker at 64x64.
-- FIXTURE_DIR / WEIGHTS replace the shipped-weight fixtures and weights (e.g. fixtures made from
-- a training checkpoint); the tiny random-weight fixture always comes from the repository.
-- Prints one line per check and "N passed, N failed"; returns 1 when anything failed.
local lumen = require "lumen"
local nn = require "lumen.nn"
local json = require "lumen.json"

local script = arg and arg[0] or "tests/angio_parity.lua"
local root = script:match("^(.*)/tests/[^/]+$") or "."
local fixdir = root .. "/models/angio_qa/fixtures"
local shipped_fix = arg[1] or fixdir
local shipped_weights = arg[2] or root .. "/models/angio_qa/angio_qa.safetensors"

local pass, fail = 0, 0
local function result(ok, line)
  print((ok and "OK   " or "FAIL ") .. line)
  if ok then pass = pass + 1 else fail = fail + 1 end
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- Wall-clock seconds: `date` has nanoseconds where os.clock only has this process's CPU time
-- (which counts every OpenCL worker thread).
local function now()
  local p = io.popen("date +%s.%N")
  local t = p and tonumber(p:read("l"))
  if p then p:close() end
  return t or os.clock()
end

-- The tiny model's constructor arguments, as export.py wrote them.
local function tiny_config()
  local f = io.open(fixdir .. "/tiny_random_config.json", "rb")
  if not f then return nil end
  local cfg = assert(json.decode(f:read("a")))
  f:close()
  return cfg
end

local fixtures = {
  { prefix = "angio_64_a", size = 64, dir = shipped_fix, weights = shipped_weights },
  { prefix = "angio_64_b", size = 64, dir = shipped_fix, weights = shipped_weights },
  { prefix = "angio_512_a", size = 512, dir = shipped_fix, weights = shipped_weights },
  { prefix = "angio_512_b", size = 512, dir = shipped_fix, weights = shipped_weights },
  { prefix = "tiny_random_64", size = 64, dir = fixdir,
    weights = fixdir .. "/tiny_random.safetensors", config = tiny_config() },
}

local ctx = assert(lumen.context())
print("device: " .. ctx:device().name)
local w = lumen.load_weights(shipped_weights)
if w and w:meta("final") and w:meta("final") ~= "True" then
  print(string.format("NOTE %s is a training checkpoint (final=%s, train_steps=%s): the "
    .. "angio_* fixtures match only the weights export.py was run with", shipped_weights,
    w:meta("final"), tostring(w:meta("train_steps"))))
end

-- One compiled model per (weights, size, config), shared by the fixtures that use it.
local models = {}
local function get_model(fx)
  local key = fx.weights .. "@" .. fx.size .. (fx.config and "tiny" or "")
  if not models[key] then
    local m, err = lumen.load_model("angio_qa", { ctx = ctx, size = { fx.size, fx.size },
                                                  weights = fx.weights, config = fx.config })
    models[key] = m or err
  end
  return models[key]
end

local function compare(got, ref)
  local maxabs, bad = 0, 0
  for i = 1, #ref do
    local e = math.abs(got[i] - ref[i])
    if e ~= e then e = math.huge end -- NaN
    if e > maxabs then maxabs = e end
    if not (e <= 1e-4 + 1e-3 * math.abs(ref[i])) then bad = bad + 1 end
  end
  return maxabs, bad
end

local function argmax_rows(x, k)
  local out = {}
  for r = 0, #x // k - 1 do
    local best = 1
    for c = 2, k do
      if x[r * k + c] > x[r * k + best] then best = c end
    end
    out[#out + 1] = best - 1
  end
  return table.concat(out, ",")
end

local m64 -- the shipped-weight 64x64 model, for the checker below
for _, fx in ipairs(fixtures) do
  local input = fx.dir .. "/" .. fx.prefix .. "_input.npy"
  if not exists(input) then
    print("SKIP " .. fx.prefix .. ": no " .. input)
  else
    local m = get_model(fx)
    if type(m) == "string" then
      result(false, fx.prefix .. ": loading the model: " .. m)
    else
      if fx.prefix == "angio_64_a" then m64 = m end
      local out, err = m:run({ image = input })
      if not out then
        result(false, fx.prefix .. ": run: " .. err)
      else
        for _, name in ipairs({ "seg_logit", "cls_logit" }) do
          local ref = assert(lumen.npy_load(fx.dir .. "/" .. fx.prefix .. "_" .. name .. ".npy"))
          local got = out[name]:read()
          local shape = nn.shape_str(out[name]:shape()):gsub(" ", "")
          local maxabs, bad = compare(got, ref.data)
          local line = string.format("%-15s %-9s %-14s maxabs=%.2e", fx.prefix, name, shape, maxabs)
          local ok = bad == 0 and #got == #ref.data
          if name == "cls_logit" then
            local k = ref.shape[#ref.shape]
            local a, b = argmax_rows(got, k), argmax_rows(ref.data, k)
            line = line .. string.format(" class %s (torch %s)", a, b)
            ok = ok and a == b
          end
          if bad > 0 then
            line = line .. string.format(" (%d of %d beyond tolerance)", bad, #got)
          end
          result(ok, line)
        end
      end
    end
  end
end

-- Parameter count, MACs, nodes and memory plan of the default model (the 512 one when built).
local m512 = models[shipped_weights .. "@512"]
local shown = type(m512) == "table" and m512 or m64
if shown then
  result(shown.params == 3433986 and math.abs(shown.params - 3434200) <= 0.001 * 3434200,
         string.format("parameters %d (PyTorch 3,433,986; spec 3.4342 M +- 0.1%%)", shown.params))
  local p = shown.plan
  print(string.format("     %dx%d: %.3f GMACs, %d nodes after passes (%d built), memory plan %s "
    .. "in %d buffers (naive %s, largest live set %s), weights %s",
    shown.config.size[1], shown.config.size[2], shown.stats.macs / 1e9, shown.stats.nodes,
    shown.graph_stats.nodes, lumen.format_bytes(p.planned_bytes), p.buffers,
    lumen.format_bytes(p.naive_bytes), lumen.format_bytes(p.live_peak),
    lumen.format_bytes(p.weight_bytes)))
end

-- Run time at 512x512: median wall time of 3 runs after a warm-up, and device time per node.
if type(m512) == "table" then
  local data = lumen.npy_load(shipped_fix .. "/angio_512_a_input.npy")
  assert(m512:run({ image = data }))
  local times = {}
  for i = 1, 3 do
    local t0 = now()
    assert(m512.model:run())
    times[i] = now() - t0
  end
  table.sort(times)
  local prof = m512.model:profile()
  local dev = 0
  for _, r in ipairs(prof or {}) do dev = dev + r.ms end
  print(string.format("     512x512 run: %.1f ms wall (median of 3), %.1f ms summed device time",
                      times[2] * 1e3, dev))
end

-- Strict loading: a weight file with one key renamed, one dropped and one of the wrong shape
-- must fail with ONE message naming all of them (no graph is built from it).
if w then
  local arrays = {}
  for _, k in ipairs(w:keys()) do
    local name, shape = k, w:shape(k)
    if k == "e4.2.qkv.weight" then name = "e4.2.qkv_w.weight" end
    if k == "cls.0.weight" then shape = { 275, 512, 1, 1 } end
    if k ~= "fc.bias" then arrays[#arrays + 1] = { name = name, shape = shape } end -- zeros
  end
  local bad = os.tmpname()
  assert(nn.save_safetensors(bad, arrays))
  local m, err = lumen.load_model("angio_qa", { ctx = ctx, size = { 64, 64 }, weights = bad })
  os.remove(bad)
  local ok = m == nil and err:find("2 missing, 1 unexpected, 1 mis-shaped", 1, true)
    and err:find("e4.2.qkv.weight", 1, true) and err:find("fc.bias", 1, true)
    and err:find("e4.2.qkv_w.weight", 1, true)
    and err:find("cls.0.weight: file [275, 512, 1, 1], model [275, 513, 1, 1]", 1, true)
  result(ok, "strict loading of a mis-keyed file fails with one error listing the keys")
  print("     | " .. tostring(err):gsub("\n", "\n     | "))
  local npy = fixdir .. "/angio_64_a_input.npy"
  m, err = lumen.load_model("angio_qa", { ctx = ctx, size = { 64, 64 }, weights = npy })
  result(m == nil and type(err) == "string" and err ~= "",
         "an .npy file given as weights fails cleanly: " .. tostring(err))
end

-- Layer-by-layer: every node of the 64x64 model against the plain-C reference ops.
if m64 then
  local ok, report = m64.model:check()
  result(ok, "layer-by-layer check at 64x64: " .. report)
end

print(string.format("%d passed, %d failed", pass, fail))
return fail > 0 and 1 or 0
