-- devpool.lua: one process, several devices (run by ctest with POCL_DEVICES="pthread pthread",
-- so PoCL shows two devices). Every job runs exactly once, both devices take jobs, outputs match
-- a single-device run, a failing job is reported and the others go on, and device lists parse.
local lumen = require "lumen"
local devpool = require "lumen.devpool"

package.path = package.path .. ";" .. arg[0]:gsub("[^/]*$", "") .. "?.lua"
local checkerror = require("testlib").checkerror

local devs = assert(lumen.devices())
assert(#devs >= 2, "this test needs two devices: run it with POCL_DEVICES='pthread pthread'")

-- 1. device lists
local all = assert(devpool.selectors("all"))
assert(#all == #devs and all[1] == devs[1].index, "all: every device")
assert(devpool.selectors("0:0") == nil, "a single selector is not a pool")
local two = assert(devpool.selectors("0:0, 0:1"))
assert(#two == 2 and two[1] == "0:0" and two[2] == "0:1")
local none, err = devpool.selectors("0:0,,0:1")
assert(none == nil and err:find("empty entry"), err)
none, err = devpool.selectors("0:0,0:0")
assert(none == nil and err:find("twice"), err)
print("OK   device lists: all, a list, errors")

-- 2. one worker per device, the same small network (seeded random weights) on each
local SIZE = 64
local function open(sel)
  local ctx = assert(lumen.context(sel))
  local m = assert(lumen.load_model("unet", { ctx = ctx, size = { SIZE, SIZE }, random = 7 }))
  return { sel = sel, ctx = ctx, loaded = m, name = ctx:device().name }
end
local workers = { open("0:0"), open("0:1") }
local n_in = 1
for _, d in ipairs(workers[1].loaded.inputs[1].shape) do n_in = n_in * d end
local function input_of(k)
  local x = {}
  for i = 1, n_in do x[i] = math.sin(i * 0.37 + k) end
  return x
end

-- reference outputs, one job at a time on device 0:0
local N = 10
local want = {}
for k = 1, N do
  local out = assert(workers[1].loaded:run(input_of(k)))
  local _, t = next(out)
  want[k] = t:read()
end

local function start(w, job)
  if job.fail then return nil, "bad frame " .. job.k end
  local m = w.loaded.model
  assert(m:tensor(w.loaded.inputs[1].name):write(input_of(job.k)))
  assert(m:start())
  return m
end
local done, ran_on, errors = {}, {}, {}
local function finish(w, job, handle, e)
  if e then
    errors[#errors + 1] = e
    return
  end
  assert(handle == w.loaded.model)
  local out = w.loaded.model:tensor(w.loaded.outputs[1].name):read()
  done[job.k] = (done[job.k] or 0) + 1
  ran_on[job.k] = w.sel
  local worst = 0
  for i = 1, #out do worst = math.max(worst, math.abs(out[i] - want[job.k][i])) end
  job.err = worst
end

local jobs = {}
for k = 1, N do jobs[k] = { k = k } end
jobs[N + 1] = { k = N + 1, fail = true }
devpool.run(workers, jobs, start, finish)
for k = 1, N do
  assert(done[k] == 1, "job " .. k .. " ran " .. tostring(done[k]) .. " times")
  assert(jobs[k].err <= 1e-5, "job " .. k .. " differs from the single-device run by " .. jobs[k].err)
end
assert(#errors == 1 and errors[1] == "bad frame " .. (N + 1), tostring(errors[1]))
local per = { ["0:0"] = 0, ["0:1"] = 0 }
for k = 1, N do per[ran_on[k]] = per[ran_on[k]] + 1 end
assert(per["0:0"] > 0 and per["0:1"] > 0, "both devices take jobs")
print(string.format("OK   %d jobs over 2 devices (0:0 ran %d, 0:1 ran %d), each once, outputs equal " ..
  "to one device's; the failing job reported", N, per["0:0"], per["0:1"]))

checkerror("no workers", devpool.run, {}, jobs, start, finish)
print("OK   misuse raises")
print("3 passed, 0 failed")
