-- models_parity.lua: the four seed networks (unet, liver25d, cmb3d, brats3d) loaded through
-- lumen.load_model with their fixture weights, run on the device, and compared with the PyTorch
-- outputs stored in models/<name>/fixtures (|a - b| <= 1e-4 + 1e-3 |b|, design.md's per-model
-- oracle). One line per model output; exit status 1 when anything fails.
--
--   lumen run tests/models_parity.lua [model ...]     (default: all)
--
-- brats3d's larger volume also runs the library's tiled inference, models/brats3d/tiled.lua (a
-- port of tiled.py: tile 16x32x32, overlap 0.5, Gaussian blending), on the model loaded here;
-- tests/models_post.lua checks the rest of the host-side model code.
-- When an output fails, model:check() runs the graph node by node against the plain-C reference
-- and the report names the first node that diverges.
local lumen = require "lumen"
local models = require "lumen.models"
local json = require "lumen.json"

local ATOL, RTOL = 1e-4, 1e-3
local root = assert(models.models_dir(), "cannot find models/ (set LUMEN_MODELS_DIR)")

-- name, fixture prefix, constructor keys taken from <prefix>_config.json, input size,
-- input name -> file, output name -> file (files relative to models/<name>/fixtures)
local CASES = {
  { model = "unet", prefix = "bilinear_64", keys = { "in_ch", "n_classes", "widths", "up_mode", "align_corners" },
    size = { 64, 64 }, inputs = { image = "bilinear_64_input.npy" },
    outputs = { { "logits", "bilinear_64_logits.npy" } } },
  { model = "unet", prefix = "transpose_32", keys = { "in_ch", "n_classes", "widths", "up_mode", "align_corners" },
    size = { 32, 32 }, inputs = { image = "transpose_32_input.npy" },
    outputs = { { "logits", "transpose_32_logits.npy" } } },
  { model = "liver25d", prefix = "k5_64", keys = { "slices", "n_classes", "enc", "aspp", "dec", "rates" },
    size = { 64, 64 }, inputs = { slices = "k5_64_input.npy" },
    outputs = { { "logits", "k5_64_logits.npy" } } },
  { model = "cmb3d", prefix = "p16x32", keys = { "in_ch", "widths", "fuse", "head_ch", "up_mode" },
    size = { 16, 32, 32 }, inputs = { patch = "p16x32_input.npy" },
    outputs = { { "objectness", "p16x32_objectness.npy" }, { "box", "p16x32_box.npy" } } },
  { model = "brats3d", prefix = "w4", keys = { "in_ch", "n_out", "widths" },
    size = { 16, 32, 32 }, inputs = { volume = "w4_16x32_input.npy" },
    outputs = { { "logits", "w4_16x32_logits.npy" } },
    tiled = { input = "w4_24x40_input.npy", output = "w4_24x40_tiled_logits.npy" } },
}

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- JSON numbers may decode as floats: shapes and counts are made integers (json.integers).
local integers = json.integers
local shape_str = require("lumen.shape").str

-- Returns max |a-b|, and whether every element is within ATOL + RTOL |b| (NaN fails).
local function compare(a, b)
  if #a ~= #b then return math.huge, false end
  local worst, ok = 0, true
  for i = 1, #b do
    local d = math.abs(a[i] - b[i])
    if not (d <= ATOL + RTOL * math.abs(b[i])) then ok = false end
    if d > worst or d ~= d then worst = d end
  end
  return worst, ok
end

-- tiled inference: the library's port of models/brats3d/tiled.py
local tiled = dofile(root .. "/brats3d/tiled.lua")

-- ---- state_dict keys at the defaults against models/<name>/STATE_DICT.txt ----

-- Returns ok, message: the module's state_dict (order, names, shapes; num_batches_tracked left
-- out on both sides) and parameter count must equal the PyTorch listing.
local function check_keys(name, config, want_params)
  local where = assert(models.resolve(name))
  local net = assert(models.definition(where.file))(config)
  local want, total = {}, nil
  for line in io.lines(where.dir .. "/STATE_DICT.txt") do
    total = total or tonumber(line:match("^# total parameters: (%d+)"))
    local key, shape = line:match("^([^#][^,]*), (%[.*%])$")
    if key and not key:match("num_batches_tracked$") then want[#want + 1] = key .. " " .. shape:gsub(" ", "") end
  end
  local got = {}
  for _, s in ipairs(net:state_spec()) do
    -- a transposed up path (want_params given) adds up.* keys to the default listing
    if not (want_params and s.key:match("^up%.")) then got[#got + 1] = s.key .. " " .. shape_str(s.shape) end
  end
  for i = 1, math.max(#got, #want) do
    if got[i] ~= want[i] then
      return false, string.format("key %d: model '%s', STATE_DICT.txt '%s'", i, tostring(got[i]), tostring(want[i]))
    end
  end
  local n = net:num_parameters()
  want_params = want_params or total
  if n ~= want_params then return false, string.format("%d parameters, PyTorch %d", n, want_params) end
  return true, string.format("%d keys, %d parameters", #got, n)
end

-- ---- main ----

local only = {}
for _, a in ipairs({ ... }) do only[a] = true end
local ctx = assert(lumen.context(os.getenv("LUMEN_DEVICE")))
print(string.format("models_parity on %s (atol %g, rtol %g)", ctx:device().name, ATOL, RTOL))
local passed, failed = 0, 0

local function report(label, err, ok, extra)
  print(string.format("%-34s maxabs=%.3g %s%s", label, err, ok and "OK" or "FAIL", extra or ""))
  if ok then passed = passed + 1 else failed = failed + 1 end
end

-- model, config, parameter count when it is not STATE_DICT.txt's total (the transposed up
-- paths add keys that STATE_DICT.txt only describes in its header)
local KEYS = {
  { "unet", {} }, { "unet", { up_mode = "transpose" }, 14783874 },
  { "liver25d", {} }, { "cmb3d", {} }, { "cmb3d", { up_mode = "transpose" }, 114103 }, { "brats3d", {} },
}
for _, k in ipairs(KEYS) do
  if next(only) == nil or only[k[1]] then
    local ok, msg = check_keys(k[1], k[2], k[3])
    print(string.format("%-34s %s %s", k[1] .. " state_dict" .. (k[2].up_mode and " " .. k[2].up_mode or ""),
                        msg, ok and "OK" or "FAIL"))
    if ok then passed = passed + 1 else failed = failed + 1 end
  end
end

for _, case in ipairs(CASES) do
  if next(only) == nil or only[case.model] then
    local fx = root .. "/" .. case.model .. "/fixtures/"
    local cfg = integers(assert(json.decode(read_file(fx .. case.prefix .. "_config.json"))))
    local config = {}
    for _, k in ipairs(case.keys) do config[k] = cfg[k] end
    local label = case.model .. " " .. case.prefix
    local m, err = lumen.load_model(case.model, { ctx = ctx, size = case.size, config = config,
                                                  weights = fx .. case.prefix .. ".safetensors" })
    if not m then
      print(label .. ": " .. tostring(err))
      failed = failed + 1
    else
      local inputs = {}
      for name, file in pairs(case.inputs) do inputs[name] = assert(lumen.npy_load(fx .. file)) end
      local outs, rerr = m:run(inputs)
      local any_bad = not outs
      if not outs then
        print(label .. ": run failed: " .. tostring(rerr))
        failed = failed + 1
      else
        for _, o in ipairs(case.outputs) do
          local want = assert(lumen.npy_load(fx .. o[2]))
          local t = outs[o[1]]
          local e, ok = math.huge, false
          if not t then
            print(label .. ": no output '" .. o[1] .. "'")
          elseif shape_str(t:shape()) ~= shape_str(want.shape) then
            print(string.format("%s %s: shape %s, want %s", label, o[1], shape_str(t:shape()),
                                shape_str(want.shape)))
          else
            e, ok = compare(t:read(), want.data)
          end
          report(label .. " " .. o[1] .. " " .. shape_str(want.shape), e, ok)
          any_bad = any_bad or not ok
        end
      end
      if case.tiled then
        local x = assert(lumen.npy_load(fx .. case.tiled.input))
        local want = assert(lumen.npy_load(fx .. case.tiled.output))
        local got, terr = tiled.run(x, { model = m, tile = cfg.tile, overlap = cfg.overlap,
                                         output = case.outputs[1][1] })
        local e, ok = math.huge, false
        if got then
          e, ok = compare(got.data, want.data)
        else
          print(label .. " tiled: " .. tostring(terr))
        end
        report(label .. " tiled " .. shape_str(want.shape), e, ok,
               string.format(" (tile %s, overlap %g)", shape_str(cfg.tile), cfg.overlap))
        any_bad = any_bad or not ok
      end
      if any_bad and m.model then
        local _, rep = m.model:check(ATOL, RTOL)
        print("  check: " .. tostring(rep):gsub("\n", "\n  "))
      end
    end
  end
end

print(string.format("%d passed, %d failed", passed, failed))
return failed == 0 and 0 or 1
