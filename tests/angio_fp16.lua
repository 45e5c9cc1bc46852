-- angio_fp16.lua: angio_qa with fp16 storage against fp32, on the sample frames.
--
--   lumen run tests/angio_fp16.lua [DATA_DIR]
--
-- Opens two QC sessions on the default device, one per precision (lumen.pipeline, no report
-- folder), and runs every sample frame of examples/data (16 PNGs; the truncated one is an
-- error record in both) through each. Checks, per frame: the same class, class probabilities
-- within 0.01, the vessel area fraction within 0.01, and the Dice coefficient of the two
-- segmentation masks (seg logit > logit(threshold)) >= 0.99; and that the fp16 session really
-- ran fp16 (its provenance) with a smaller memory plan. Prints one line per frame and the
-- worst figures, "N passed, N failed"; returns 1 when anything failed.
local pipeline = require "lumen.pipeline"
local post = require "lumen.postprocess"

local script = arg and arg[0] or "tests/angio_fp16.lua"
local root = script:match("^(.*)/tests/[^/]+$") or "."
local data = arg[1] or root .. "/examples/data"

local pass, fail = 0, 0
local function result(ok, line)
  print((ok and "OK   " or "FAIL ") .. line)
  if ok then pass = pass + 1 else fail = fail + 1 end
end

local function open(precision)
  local s, err = pipeline.open({ model = "angio_qa", precision = precision })
  assert(s, "pipeline.open(" .. precision .. "): " .. tostring(err))
  return s
end

-- The frame's record and its segmentation mask (seg logit above the threshold's logit).
local function run(s, path)
  local recs = s:process(path)
  local r = recs[1]
  if not r or r.status ~= "ok" then return r end
  local seg = assert(s.pkg.loaded:output_tensors()[s.pkg.seg_output]:read())
  local cut, mask, n = post.logit(s.threshold), {}, 0
  for i = 1, #seg do
    local on = seg[i] > cut
    mask[i] = on
    if on then n = n + 1 end
  end
  return r, mask, n
end

local s32, s16 = open("fp32"), open("fp16")
result(s16.provenance.precision == "fp16" and s32.provenance.precision == "fp32",
  string.format("precisions that run: %s and %s", s32.provenance.precision,
    s16.provenance.precision))
local p32, p16 = s32.pkg.loaded.plan, s16.pkg.loaded.plan
result(p16.planned_bytes * 2 == p32.planned_bytes and p16.weight_bytes * 2 == p32.weight_bytes,
  string.format("memory plan fp16 %d bytes (weights %d) = half of fp32's %d (weights %d)",
    p16.planned_bytes, p16.weight_bytes, p32.planned_bytes, p32.weight_bytes))

local files = {}
local p = io.popen("ls " .. data .. "/*.png")
for line in p:lines() do files[#files + 1] = line end
p:close()
local worst = { dice = 1, area = 0, prob = 0 }
local frames = 0
for _, path in ipairs(files) do
  local a, ma, na = run(s32, path)
  local b, mb, nb = run(s16, path)
  local name = path:match("[^/]+$")
  if a.status ~= "ok" or b.status ~= "ok" then
    result(a.status == b.status, string.format("%-24s %s in both (%s)", name, a.status,
      tostring(a.error)))
  else
    frames = frames + 1
    local both = 0
    for i = 1, #ma do
      if ma[i] and mb[i] then both = both + 1 end
    end
    local dice = (na + nb) > 0 and 2 * both / (na + nb) or 1
    local va, vb = a[s32.pkg.seg_label], b[s16.pkg.seg_label]
    local darea = math.abs(va.area_fraction - vb.area_fraction)
    local dprob = 0
    for k, v in pairs(a.probabilities) do
      dprob = math.max(dprob, math.abs(v - b.probabilities[k]))
    end
    worst.dice, worst.area = math.min(worst.dice, dice), math.max(worst.area, darea)
    worst.prob = math.max(worst.prob, dprob)
    result(a.class == b.class and dice >= 0.99 and darea <= 0.01 and dprob <= 0.01,
      string.format("%-24s class %s / %s, Dice %.5f, area %.5f / %.5f, max |dp| %.2g", name,
        a.class_name, b.class_name, dice, va.area_fraction, vb.area_fraction, dprob))
  end
end
result(frames == 16, string.format("%d frames compared (16 expected)", frames))
print(string.format("worst: Dice %.5f, |area fraction diff| %.2g, |probability diff| %.2g",
  worst.dice, worst.area, worst.prob))
print(string.format("%d passed, %d failed", pass, fail))
return fail == 0 and 0 or 1
