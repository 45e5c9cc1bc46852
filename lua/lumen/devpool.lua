-- lumen.devpool: one process, many devices. Spreads a list of jobs over several workers (one
-- per device: its own context, model and preprocessing) from this one Lua thread, using the
-- split model run (model:start / model:poll): while one device computes, the host prepares
-- the next frame for another, and a device that finishes early takes the next job, so faster
-- devices take more jobs.
--
--   local devpool = require "lumen.devpool"
--   local sels = devpool.selectors("all")          -- { "0:0", "0:1" } | nil (one device) | nil, msg
--   devpool.run(workers, jobs, start, finish)  -- jobs: an array, or a function returning the
--                                               -- next job (nil when there is none left)
--
-- start(worker, job) -> handle | nil, msg: does the host work and enqueues the device work of
--   one job (e.g. read, preprocess, model:start()) and returns something with :poll() (true
--   when done, false while running, nil, msg on failure), normally the model itself.
-- finish(worker, job, handle, err): completes a job (read outputs, postprocess, record); err is
--   the message of a failed start or poll (then handle may be nil). Called once per job, in
--   completion order, on the worker that ran it.
-- Errors raised by start or finish are not caught here: the caller's functions catch their own.
local lumen = require "lumen"

local M = {}

-- Parses a device list: "all" (every device lumen sees), or a comma-separated list of
-- selectors ("0:0,0:1"). Returns an array of selectors; nil for a single selector (or none);
-- nil, msg when "all" finds no device or the list has an empty or repeated entry.
function M.selectors(spec)
  if spec == nil then return nil end
  spec = tostring(spec)
  if spec == "all" then
    local devs, err = lumen.devices()
    if not devs or #devs == 0 then return nil, "--device all: no OpenCL device (" .. tostring(err) .. ")" end
    local out = {}
    for _, d in ipairs(devs) do out[#out + 1] = d.index end
    return out
  end
  if not spec:find(",", 1, true) then return nil end
  local out, seen = {}, {}
  for part in (spec .. ","):gmatch("([^,]*),") do
    part = part:match("^%s*(.-)%s*$")
    if part == "" then return nil, "--device list has an empty entry: '" .. spec .. "'" end
    if seen[part] then return nil, "--device list names '" .. part .. "' twice" end
    seen[part] = true
    out[#out + 1] = part
  end
  return out
end

-- How long to pause between sweeps over busy workers, in milliseconds: short next to a frame's
-- device time (tens of ms and more), long enough not to spin a core the devices need.
M.POLL_MS = 0.5

-- Runs every job; returns when all have finished. Each worker table gets .jobs_done (count).
-- A jobs function is called only when a worker is free, so it may prepare jobs lazily.
function M.run(workers, jobs, start, finish)
  assert(#workers > 0, "devpool.run: no workers")
  local busy = {} -- worker -> { job = , handle = }
  local n_busy = 0
  local next_job, exhausted
  if type(jobs) == "function" then
    next_job = function()
      local j = not exhausted and jobs() or nil
      exhausted = j == nil
      return j
    end
  else
    local k = 0
    next_job = function()
      k = k + 1
      exhausted = k >= #jobs
      return jobs[k]
    end
    exhausted = #jobs == 0
  end
  for _, w in ipairs(workers) do w.jobs_done = w.jobs_done or 0 end

  local function complete(w, err)
    local b = busy[w]
    busy[w], n_busy = nil, n_busy - 1
    w.jobs_done = w.jobs_done + 1
    finish(w, b.job, b.handle, err)
  end

  while not exhausted or n_busy > 0 do
    -- hand the next jobs to idle workers, in worker order
    for _, w in ipairs(workers) do
      if exhausted then break end
      if not busy[w] then
        local job = next_job()
        if job ~= nil then
          local handle, err = start(w, job)
          busy[w], n_busy = { job = job, handle = handle }, n_busy + 1
          if not handle then complete(w, err or "the job did not start") end
        end
      end
    end
    -- wait for at least one busy worker to finish
    local finished = false
    while n_busy > 0 and not finished do
      for _, w in ipairs(workers) do
        local b = busy[w]
        if b then
          local done, err = b.handle:poll()
          if done ~= false then
            complete(w, done == nil and (err or "the device failed") or nil)
            finished = true
          end
        end
      end
      if not finished then lumen.sleep(M.POLL_MS) end
    end
  end
end

return M
