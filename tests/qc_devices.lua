-- qc_devices.lua: `lumen qc --device all` (run by ctest with POCL_DEVICES="pthread pthread", so
-- PoCL shows two devices). The same frames QC'd on one device and spread over two give the
-- same records in the same order; both devices take frames; each record names its device; a
-- bad device list is a usage error before anything is loaded.
local pipeline = require "lumen.pipeline"

local inputs = { "examples/data" }
local function run(device)
  local res, err, kind = pipeline.run({ inputs = inputs, device = device, size = 128,
    progress = false })
  assert(res, tostring(err) .. " (" .. tostring(kind) .. ")")
  return res
end

local one = run("0:0")
local two = run("all")
assert(#two.devices == 2, "two devices in the result, got " .. #two.devices)
assert(#one.records == #two.records and #one.records >= 17,
  string.format("%d records on one device, %d on two", #one.records, #two.records))

local worst, per, errors = 0, {}, 0
for i, a in ipairs(one.records) do
  local b = two.records[i]
  assert(a.input == b.input and a.frame == b.frame, "record " .. i .. " out of order: " ..
    tostring(a.input) .. " vs " .. tostring(b.input))
  assert(a.status == b.status, a.input .. ": status " .. a.status .. " vs " .. b.status)
  if a.status == "ok" then
    assert(a.class == b.class, a.input .. ": class " .. a.class .. " vs " .. b.class)
    for k, p in pairs(a.probabilities) do worst = math.max(worst, math.abs(p - b.probabilities[k])) end
  else
    errors = errors + 1
  end
  assert(b.device_index == "0:0" or b.device_index == "0:1", "record names its device: " ..
    tostring(b.device_index))
  per[b.device_index] = (per[b.device_index] or 0) + 1
end
assert(worst <= 1e-5, "probabilities differ by " .. worst)
assert(errors >= 1, "the corrupt sample frame is an error record on both")
print(string.format("OK   %d records in input order, classes equal, max probability difference %g",
  #one.records, worst))
assert((per["0:0"] or 0) > 0 and (per["0:1"] or 0) > 0, "both devices take frames")
assert(two.devices[1].frames + two.devices[2].frames == #two.records)
print(string.format("OK   frames per device: 0:0 %d, 0:1 %d (records name the device)", per["0:0"],
  per["0:1"]))

local res, err, kind = pipeline.run({ inputs = inputs, device = "0:0,0:0", size = 128 })
assert(res == nil and kind == "usage" and err:find("twice"), tostring(err))
print("OK   a device named twice is a usage error")
print("3 passed, 0 failed")
