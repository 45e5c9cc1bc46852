-- lumen run SCRIPT.lua [args...]: runs a workflow script with the lumen library available.
-- The script sees its arguments in the global 'arg' (arg[0] = script path) and in '...'.
local cli = require "lumen.cli"

local M = {
  summary = "run a Lua workflow script",
  usage = [[usage: lumen run SCRIPT.lua [args...]

Runs SCRIPT.lua in this Lua state: `local lumen = require "lumen"` gives the runtime. The
script's return value, when an integer, becomes the exit code.]],
}

function M.run(args)
  local path = args[1]
  if not path then return cli.usage_error("run", "missing SCRIPT.lua") end
  local chunk, err = loadfile(path)
  if not chunk then return cli.runtime_error("run", err) end
  local sargs = table.move(args, 2, #args, 1, {})
  arg = table.move(args, 2, #args, 1, { [0] = path })
  local rc = chunk(table.unpack(sargs))
  return math.type(rc) == "integer" and rc or cli.EXIT_OK
end

return M
