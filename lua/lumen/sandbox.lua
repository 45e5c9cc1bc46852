-- lumen.sandbox: running someone else's Lua with caps (lumen.sandbox_run, lua/sandbox.c).
--
--   local sandbox = require "lumen.sandbox"
--   local v, err = sandbox.run_file("rules.lua", { memory = 16 << 20, instructions = 1e7,
--     args = { record } })
--   local flags, errs = sandbox.rules(rules_text, "rules.lua", record)
--
-- Inside the sandbox: base (no dofile/loadfile, text-only load, no __gc), string, table, math,
-- utf8, and `require` of the modules listed in M.MODULES (their Lua text is read here, on the
-- host, and handed over). Data crosses as plain copies. Failures return nil, message.
local lumen = require "lumen"

local M = {}

-- Modules a sandboxed script may require: pure computation, no file or process access.
M.MODULES = { "lumen", "lumen.json", "lumen.postprocess", "lumen.preprocess" }

M.DEFAULT_MEMORY = 64 << 20
M.DEFAULT_INSTRUCTIONS = 100000000

local module_texts

-- The Lua texts of M.MODULES, found on package.path (read once).
function M.module_texts()
  if module_texts then return module_texts end
  local texts = {}
  for _, name in ipairs(M.MODULES) do
    local path = package.searchpath(name, package.path)
    if path then
      local f = io.open(path, "rb")
      if f then
        texts[name] = f:read("a")
        f:close()
      end
    end
  end
  module_texts = texts
  return texts
end

-- Runs Lua text in a sandbox. opts: memory, instructions, args (as for lumen.sandbox_run).
function M.run(source, chunkname, opts)
  opts = opts or {}
  return lumen.sandbox_run(source, chunkname, {
    memory = math.tointeger(opts.memory) or M.DEFAULT_MEMORY,
    instructions = math.tointeger(opts.instructions) or M.DEFAULT_INSTRUCTIONS,
    args = opts.args, modules = M.module_texts(),
  })
end

-- Reads a script (on the host) and runs its text in a sandbox.
function M.run_file(path, opts)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local src = f:read("a")
  f:close()
  return M.run(src, "@" .. path, opts)
end

-- The wrapper that evaluates a rule file inside the sandbox: the rule functions cannot leave
-- the sandbox, so the evaluation happens there and only flag names come back.
local RULES_WRAPPER = [[
local src, name, record = ...
local chunk, err = load(src, "@" .. name, "t")
if not chunk then error(err, 0) end
local flags, errors = require("lumen.postprocess").evaluate(chunk(), record)
return { flags = flags, errors = errors }
]]

-- Evaluates a rule file's text against one record in a fresh sandbox.
-- Returns flags, errors (as postprocess.evaluate) | nil, msg.
function M.rules(source, name, record, opts)
  opts = opts or {}
  local r, err = M.run(RULES_WRAPPER, "=rules", { memory = opts.memory or (32 << 20),
    instructions = opts.instructions or 10000000, args = { source, name, record } })
  if not r then return nil, err end
  return r.flags, r.errors
end

return M
