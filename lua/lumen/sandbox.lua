-- lumen.sandbox: running someone else's Lua by capability (lumen.sandbox_run, lua/sandbox.c).
--
--   local sandbox = require "lumen.sandbox"
--   local v, err = sandbox.run_file("script.lua", { memory = 16 << 20, instructions = 1e7,
--     args = { record } })
--   local flags, errs = sandbox.rules(rules_text, "rules.lua", record)
--
-- Inside the sandbox there is only what the host hands in: the arguments (plain data copied
-- in: a record, model results), pure libraries (base without dofile/loadfile/print, text-only
-- load, no __gc; string, table, math, utf8 with size checks on the C functions that could run
-- unbounded) and `require` of the pure Lua helpers in M.MODULES, whose text is read here, on the
-- host. No function that takes a path, and no part of the lumen binding, exists inside.
-- Results come back as plain copies. Failures return nil, message.
local lumen = require "lumen"

local M = {}

-- Modules a sandboxed script may require: pure Lua, no binding, no file or process access.
M.MODULES = { "lumen.json", "lumen.rules" }

M.DEFAULT_MEMORY = 64 << 20
M.DEFAULT_INSTRUCTIONS = 100000000

local module_texts

-- The text of a regular file, read on the host. Returns text | nil, msg.
local function read_text(path)
  local kind = lumen.file_type(path)
  if kind ~= "file" then
    return nil, path .. ": " .. (kind == nil and "no such file" or kind == "dir" and
      "is a folder, not a file" or "not a regular file")
  end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  if not text then return nil, path .. ": cannot read" end
  return text
end
M.read_text = read_text

-- The Lua texts of M.MODULES, found on package.path (read once).
function M.module_texts()
  if module_texts then return module_texts end
  local texts = {}
  for _, name in ipairs(M.MODULES) do
    local path = package.searchpath(name, package.path)
    texts[name] = path and read_text(path) or nil
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
  local src, err = read_text(path)
  if not src then return nil, err end
  return M.run(src, "@" .. path, opts)
end

-- The wrapper that evaluates a rule file inside the sandbox: the rule functions cannot leave
-- the sandbox, so the evaluation happens there and only flag names come back.
local RULES_WRAPPER = [[
local src, name, record = ...
local chunk, err = load(src, "@" .. name, "t")
if not chunk then error(err, 0) end
local flags, errors = require("lumen.rules").evaluate(chunk(), record)
return { flags = flags, errors = errors }
]]

-- Evaluates a rule file's text against one record in a fresh sandbox.
-- Returns flags, errors (as lumen.rules.evaluate) | nil, msg.
function M.rules(source, name, record, opts)
  opts = opts or {}
  local r, err = M.run(RULES_WRAPPER, "=rules", { memory = opts.memory or (32 << 20),
    instructions = opts.instructions or 10000000, args = { source, name, record } })
  if not r then return nil, err end
  return r.flags, r.errors
end

return M
