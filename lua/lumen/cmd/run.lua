-- lumen run [--sandbox [--memory B] [--instructions N]] SCRIPT.lua [args...]: runs a workflow
-- script with the lumen library available. The script sees its arguments in the global 'arg'
-- (arg[0] = script path) and in '...'. With --sandbox it runs in a fresh, capped Lua state
-- (lumen.sandbox: no io/os, text chunks only, memory and instruction limits).
local cli = require "lumen.cli"

local M = {
  summary = "run a Lua workflow script (optionally sandboxed)",
  usage = [==[usage: lumen run [--sandbox [--memory BYTES] [--instructions N]] SCRIPT.lua [args...]

Runs SCRIPT.lua in this Lua state: `local lumen = require "lumen"` gives the runtime. The
script's return value, when an integer, becomes the exit code.

  --sandbox          run the script in a sandbox that holds only what it is handed: its
                     arguments (as strings), the pure base, string, table, math and utf8
                     libraries (no io, os, package, debug, print; load takes text only), and
                     require of lumen.json and lumen.rules. No lumen binding, no function that
                     takes a path. A returned integer is the exit code; other returned values
                     are printed as JSON.
  --memory BYTES     the sandbox's Lua heap cap (default 64 MiB; suffixes k, M, G)
  --instructions N   the sandbox's VM instruction cap (default 100000000, at least 1000)
Options for lumen itself come before SCRIPT.lua; everything after it goes to the script.]==],
}

local function parse_size(s)
  local n, suffix = tostring(s):match("^(%d+)([kKmMgG]?)$")
  if not n then return nil end
  local mult = ({ [""] = 1, k = 1 << 10, K = 1 << 10, m = 1 << 20, M = 1 << 20, g = 1 << 30,
    G = 1 << 30 })[suffix]
  return math.tointeger(tonumber(n) * mult)
end

local function run_sandboxed(path, sargs, opts)
  local sandbox = require "lumen.sandbox"
  local results = table.pack(sandbox.run_file(path, { memory = opts.memory,
    instructions = opts.instructions, args = sargs }))
  if results[1] == nil then
    io.stderr:write("lumen run: ", tostring(results[2]), "\n")
    return cli.EXIT_RUNTIME
  end
  if results.n == 1 and math.type(results[1]) == "integer" then return results[1] end
  if results.n == 1 and results[1] == true then return cli.EXIT_OK end
  local json = require "lumen.json"
  for i = 1, results.n do print(json.encode(results[i])) end
  return cli.EXIT_OK
end

function M.run(args)
  local opts, i = {}, 1
  while args[i] and args[i]:match("^%-%-") do
    local a = args[i]
    if a == "--sandbox" then
      opts.sandbox = true
    elseif a == "--memory" or a == "--instructions" then
      local v = parse_size(args[i + 1] or "")
      if not v or v <= 0 then return cli.usage_error("run", a .. " needs a positive integer") end
      if a == "--instructions" and v < 1000 then
        return cli.usage_error("run", "--instructions needs at least 1000 (the cap is counted "
          .. "in steps of 1000 instructions)")
      end
      opts[a:sub(3)] = v
      i = i + 1
    else
      return cli.usage_error("run", "unknown option " .. a
        .. cli.did_you_mean(a:gsub("^%-+", ""), { "sandbox", "memory", "instructions" }, "--"))
    end
    i = i + 1
  end
  if (opts.memory or opts.instructions) and not opts.sandbox then
    return cli.usage_error("run", "--memory and --instructions apply to --sandbox")
  end
  local path = args[i]
  if not path then return cli.usage_error("run", "missing SCRIPT.lua") end
  local kind = require("lumen").file_type(path)
  if kind ~= "file" then -- a usage error, before anything runs
    return cli.usage_error("run", "script " .. path .. ": " .. (kind and ("not a file (a " .. kind
      .. ")") or "no such file"))
  end
  local sargs = table.move(args, i + 1, #args, 1, {})
  if opts.sandbox then return run_sandboxed(path, sargs, opts) end
  local chunk, err = loadfile(path)
  if not chunk then return cli.runtime_error("run", err) end
  arg = table.move(args, i + 1, #args, 1, { [0] = path }) -- luacheck: ignore 121
  local rc = chunk(table.unpack(sargs))
  return math.type(rc) == "integer" and rc or cli.EXIT_OK
end

return M
