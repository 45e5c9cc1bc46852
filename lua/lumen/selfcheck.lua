-- lumen.selfcheck: the device self-check on first use (runtime/selfcheck.c), for the commands
-- that run models (qc, listen, infer, bench).
--
-- The first time a (platform, device, driver) is met, a context opened through M.context runs
-- a few small cases per op family against the C references and stores the verdict in the
-- cache directory; later processes read it. A failed GEMM engine is replaced by the other one;
-- any other failed family makes model loading refuse models that use it, naming the failing
-- case. Failures are reported on stderr every time (also when read from the cache); a pass is
-- silent. LUMEN_SELFCHECK=0 turns the automatic check off; with the program cache off
-- (LUMEN_CACHE_DIR="") there is nowhere to keep a verdict and it is skipped too ('lumen
-- devices --check' runs it on demand either way).
local lumen = require "lumen"

local M = {}

-- false when LUMEN_SELFCHECK is 0, off, no or false.
function M.enabled(getenv)
  local v = (getenv or os.getenv)("LUMEN_SELFCHECK")
  return not (v and (v == "0" or v:lower() == "off" or v:lower() == "no" or v:lower() == "false"))
end

-- One line per failed family of result r on device dev: what failed and what is done about it.
function M.messages(dev, r)
  local out = {}
  for _, f in ipairs(r.families) do
    if f.verdict == "fail" then
      out[#out + 1] = string.format("self-check on %s (%s): %s FAILED in %s '%s': %s; %s",
        dev.name, dev.index, f.name, f.op, f.label, f.error, f.action)
    end
  end
  return out
end

-- Runs the check on an open context (the stored verdict when there is one) unless it is off.
-- Returns the result, or nil and why it did not run. Never fails the caller: a check that
-- cannot run is reported on stderr and the context is used unchecked.
function M.run(ctx, getenv)
  if not M.enabled(getenv) then return nil, "LUMEN_SELFCHECK=0" end
  if ctx:cache_stats().dir == "" then return nil, "program cache off" end
  local r, err = ctx:selfcheck("cached")
  if not r then
    io.stderr:write("lumen: device self-check did not run: " .. tostring(err) .. "\n")
    return nil, err
  end
  for _, line in ipairs(M.messages(ctx:device(), r)) do
    io.stderr:write("lumen: " .. line .. "\n")
  end
  return r
end

-- lumen.context(selector, opts), then M.run on it. Returns ctx | nil, msg (as lumen.context).
function M.context(selector, opts, getenv)
  local ctx, err = lumen.context(selector, opts)
  if not ctx then return nil, err end
  M.run(ctx, getenv)
  return ctx
end

return M
