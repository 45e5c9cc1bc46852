-- tests/testlib.lua: the helpers the plain-Lua tests share (one line per case, error checks).
-- A test finds it beside itself:
--   package.path = package.path .. ";" .. arg[0]:gsub("[^/]*$", "") .. "?.lua"
--   local testlib = require "testlib"
local M = { failed = 0 }

-- Runs fn as one case: prints "OK   name" or "FAIL name: err" and counts the failures.
-- Collects garbage after each case, so that a case's userdata finalizers run before the next.
function M.case(name, fn)
  local ok, err = pcall(fn)
  collectgarbage()
  if ok then
    print("OK   " .. name)
  else
    M.failed = M.failed + 1
    print("FAIL " .. name .. ": " .. tostring(err))
  end
end

-- Expects fn(...) to raise an error whose message contains 'pattern' (plain text).
function M.checkerror(pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error containing '" .. pattern .. "'")
  assert(tostring(err):find(pattern, 1, true),
         "error '" .. tostring(err) .. "' lacks '" .. pattern .. "'")
end

-- Expects nil, msg with msg containing 'pattern' (plain text).
function M.checkfail(pattern, v, msg)
  assert(v == nil, "expected nil, got " .. tostring(v))
  assert(tostring(msg):find(pattern, 1, true),
         "message '" .. tostring(msg) .. "' lacks '" .. pattern .. "'")
end

-- Prints the summary line for 'what' cases; returns the exit status (0 when all passed).
function M.finish(what)
  print(M.failed == 0 and ("all " .. what .. " cases passed")
        or (M.failed .. " " .. what .. " cases failed"))
  return M.failed == 0 and 0 or 1
end

return M
