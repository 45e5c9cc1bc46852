-- lumen.cli: the `lumen` command's dispatcher. Each subcommand is a module lua/lumen/cmd/<name>.lua
-- returning { summary = "...", usage = "...", run = function(args) -> exit code }.
--
-- Exit codes: 0 ok, 1 some inputs failed, 2 usage error, 3 no device / runtime failure.
local cli = {}

cli.commands = { "devices", "compile", "run", "qc", "listen", "report", "infer", "bench", "info",
                 "help" }

cli.EXIT_OK, cli.EXIT_PARTIAL, cli.EXIT_USAGE, cli.EXIT_RUNTIME = 0, 1, 2, 3

-- Prints a message to stderr and returns the usage exit code.
function cli.usage_error(cmd, msg)
  io.stderr:write(string.format("lumen %s: %s\n(see 'lumen help %s')\n", cmd, msg, cmd))
  return cli.EXIT_USAGE
end

function cli.runtime_error(cmd, msg)
  io.stderr:write(string.format("lumen %s: %s\n", cmd, msg))
  return cli.EXIT_RUNTIME
end

-- " (did you mean 'x'?)" for the candidate closest to word when it is a likely typo (see
-- lumen.suggest), else "". candidates: a list of strings; prefix: put before the candidate.
function cli.did_you_mean(word, candidates, prefix)
  local best = require("lumen").suggest(word, candidates)
  if best then return string.format(" (did you mean '%s%s'?)", prefix or "", best) end
  return ""
end

-- Parses "--flag value", "--flag=value" and bare "--switch" options. spec maps option names to
-- "string", "number" or "boolean". Returns opts, positionals | nil, message.
function cli.parse(args, spec)
  local opts, pos = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    local name, val = a:match("^%-%-([%w%-]+)=(.*)$")
    if not name then name = a:match("^%-%-([%w%-]+)$") end
    if name then
      local kind = spec[name]
      if not kind then
        local names = {}
        for k in pairs(spec) do names[#names + 1] = k end
        table.sort(names)
        return nil, "unknown option --" .. name .. cli.did_you_mean(name, names, "--")
      end
      if kind == "boolean" then
        if val then return nil, "--" .. name .. " takes no value" end
        opts[name] = true
      else
        if not val then
          i = i + 1
          val = args[i]
          if val == nil then return nil, "--" .. name .. " needs a value" end
          if kind == "string" and val:sub(1, 1) == "-" then
            return nil, string.format("--%s needs a value, got '%s' (write --%s=%s if that is "
              .. "really the name)", name, val, name, val)
          end
        end
        if kind == "number" then
          local v = tonumber(val)
          if not v then return nil, "--" .. name .. " needs a number, got '" .. val .. "'" end
          val = v
        end
        opts[name] = val
      end
    elseif a == "-o" and spec.output then
      i = i + 1
      if args[i] == nil then return nil, "-o needs a value" end
      opts.output = args[i]
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return opts, pos
end

local function load_command(name)
  if not name:match("^[%w_]+$") then return nil end
  local ok, mod = pcall(require, "lumen.cmd." .. name)
  if ok then return mod end
  if not tostring(mod):find("module 'lumen.cmd." .. name .. "' not found", 1, true) then
    error(mod, 0) -- a real error inside the command module
  end
  return nil
end
cli.load_command = load_command

function cli.main(args)
  local name = args[1]
  if name == nil or name == "-h" or name == "--help" then name = "help" end
  if name == "--version" or name == "version" then
    print("lumen " .. require("lumen").version)
    return cli.EXIT_OK
  end
  local cmd = load_command(name)
  if not cmd then
    io.stderr:write("lumen: unknown command '" .. name .. "'"
      .. cli.did_you_mean(name, cli.commands) .. " (see 'lumen help')\n")
    return cli.EXIT_USAGE
  end
  local rest = table.move(args, 2, #args, 1, {})
  for _, a in ipairs(rest) do
    if a == "-h" or a == "--help" then
      print(cmd.usage)
      return cli.EXIT_OK
    end
  end
  return cmd.run(rest) or cli.EXIT_OK
end

return cli
