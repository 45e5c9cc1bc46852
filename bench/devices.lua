-- devices.lua: frames per second of `lumen qc` over one process's devices, model loading
-- excluded (bench/devices.sh runs it under each PoCL device set-up; see there).
--   lumen run bench/devices.lua DEVICE SIZE INPUTS...
-- Prints one line: "devices=<n> frames=<f> seconds=<s> fps=<r> per_device=<a,b,...>".
local lumen = require "lumen"
local pipeline = require "lumen.pipeline"

local device, size = arg[1], tonumber(arg[2])
local inputs = table.move(arg, 3, #arg, 1, {})
assert(device and size and #inputs > 0, "usage: lumen run bench/devices.lua DEVICE SIZE INPUTS...")
local list = pipeline.expand_inputs(inputs)
local st = assert(pipeline.open({ inputs = inputs, device = device, size = size,
  inputs_list = list, all_inputs = list }))
-- one warm-up frame per device (program builds, first-run allocations), not timed
for _, w in ipairs(st.workers) do
  local t = assert(pipeline.read_frame(w.ctx, list[1]))
  local p = assert(require("lumen.preprocess").new(w.ctx, t:shape(), w.pkg.preprocess))
  assert(w.pkg.loaded:run({ [w.pkg.input_name] = assert(p:run(t)) }))
  t:free()
end
st.records = {}
local t0 = lumen.clock()
if #st.workers > 1 then
  st:process_all(list)
else
  for _, path in ipairs(list) do st:process(path) end
end
local s = (lumen.clock() - t0) / 1000
local per = {}
for i, w in ipairs(st.workers) do per[i] = tostring(w.frames) end
print(string.format("devices=%d frames=%d seconds=%.2f fps=%.3f per_device=%s", #st.workers,
  #st.records, s, #st.records / s, table.concat(per, ",")))
