-- tests/sandbox.lua: lumen.sandbox_run and lumen.sandbox (run with `lumen run tests/sandbox.lua`).
-- One line per case; the caps, the missing libraries, text-only chunks, plain data in and out.
local lumen = require "lumen"
local sandbox = require "lumen.sandbox"

local run = lumen.sandbox_run
package.path = package.path .. ";" .. arg[0]:gsub("[^/]*$", "") .. "?.lua"
local testlib = require "testlib"
local case, checkerror, checkfail = testlib.case, testlib.checkerror, testlib.checkfail

case("values come back as plain data", function()
  local a, b, c = run("return 1, 'two', {x = {1, 2.5}, [3] = true}", "=t")
  assert(a == 1 and math.type(a) == "integer" and b == "two")
  assert(c.x[1] == 1 and c.x[2] == 2.5 and c[3] == true)
end)

case("no results gives true", function()
  assert(run("local x = 1", "=t") == true)
end)

case("args arrive as '...' and arg", function()
  local n, first, t = run("local a, b = ...; return select('#', ...), a, b.k, arg[0]", "=argcase",
    { args = { "s", { k = 7 } } })
  assert(n == 2 and first == "s" and t == 7)
  local _, _, _, a0 = run("local a, b = ...; return select('#', ...), a, b.k, arg[0]", "=argcase",
    { args = { "s", { k = 7 } } })
  assert(a0 == "argcase", tostring(a0))
end)

case("memory cap", function()
  checkfail("sandbox: memory limit of 1048576 bytes exceeded",
    run("local t = {} for i = 1, 1e8 do t[i] = i end", "=mem", { memory = 1 << 20 }))
  checkfail("sandbox: string.rep result above the memory limit",
    run("return string.rep('x', 100 << 20)", "=rep", { memory = 1 << 20 }))
  checkfail("memory limit of 64 bytes exceeded", run("return 1", "=tiny", { memory = 64 }))
end)

case("memory cap survives a pcall in the script", function()
  checkfail("memory limit",
    run("local t = {} while true do pcall(function() t[#t + 1] = string.rep('y', 1000) .. #t end) end",
      "=mem2", { memory = 1 << 20, instructions = 1e8 }))
end)

case("instruction cap", function()
  checkfail("sandbox: instruction limit of 100000 exceeded",
    run("while true do end", "=loop", { instructions = 100000 }))
end)

case("instruction cap survives nested pcall", function()
  checkfail("instruction limit",
    run("while true do pcall(function() while true do pcall(function() while true do end end) end end) end",
      "=loop2", { instructions = 100000 }))
end)

case("a script under its caps finishes", function()
  assert(run("local s = 0 for i = 1, 1000 do s = s + i end return s", "=sum",
    { instructions = 100000, memory = 1 << 20 }) == 500500)
end)

case("io, os, package, debug, dofile, loadfile, print, string.dump are absent", function()
  local r = run([[return { io = io == nil, os = os == nil, package = package == nil,
    debug = debug == nil, dofile = dofile == nil, loadfile = loadfile == nil,
    dump = string.dump == nil, coroutine = coroutine == nil, print = print == nil }]], "=libs")
  for k, v in pairs(r) do assert(v, k .. " is available") end
end)

case("string, table, math, utf8 are there", function()
  assert(run("return string.format('%d', math.floor(2.5)) .. table.concat({'a','b'}) .. utf8.char(65)",
    "=libs2") == "2abA")
end)

case("binary chunk refused (directly and through load)", function()
  local bin = string.dump(function() return 1 end)
  checkfail("attempt to load a binary chunk", run(bin, "=bin"))
  checkfail("attempt to load a binary chunk", run("return assert(load(...))", "=bin2", { args = { bin } }))
  checkfail("attempt to load a binary chunk", run("return assert(load(..., 'x', 'b'))", "=bin3", { args = { bin } }))
  assert(run("return load('return 41 + 1')()", "=text") == 42)
end)

case("__gc metamethods refused", function()
  checkfail("__gc metamethods are not allowed",
    run("setmetatable({}, {__gc = function() while true do end end})", "=gc"))
  assert(run("return getmetatable(setmetatable({}, {__index = {}})) ~= nil", "=mt"))
end)

case("functions and userdata cannot come back", function()
  checkfail("only nil, booleans, numbers, strings and tables", run("return type", "=fn"))
  checkfail("only nil, booleans, numbers, strings and tables", run("return {f = type}", "=fn2"))
end)

case("non-plain args raise (misuse)", function()
  checkerror("only nil, booleans, numbers, strings and tables", run, "return 1", "=x", { args = { print } })
  local t = {}
  t.self = t
  checkerror("nested too deeply", run, "return 1", "=x", { args = { t } })
  checkerror("must be positive", run, "return 1", "=x", { memory = 0 })
end)

case("errors come back as nil, message", function()
  checkfail("e:1: boom", run("error('boom')", "=e"))
  checkfail("error object is a table", run("error({})", "=e"))
  checkfail("syn:1: unexpected symbol", run("return +", "=syn"))
end)

case("require: pure helpers yes, the binding and others no", function()
  local r = run("return require('lumen.json').encode({1, 2}), #require('lumen.rules').default()",
    "=req", { modules = sandbox.module_texts() })
  assert(r == "[1,2]")
  for _, name in ipairs({ "lumen", "lumen.core", "lumen.report", "lumen.postprocess", "io" }) do
    checkfail("not available in the sandbox", run("return require(...)", "=req2",
      { modules = sandbox.module_texts(), args = { name } }))
  end
end)

-- Capability model: list every function reachable from the sandbox's globals and from the
-- helper modules; it must be exactly the pure set below (nothing that takes a path, nothing
-- of the lumen binding). A new function appearing here has to be added on purpose.
case("capabilities: every reachable function is a pure one", function()
  local names = run([[
    local seen, out = {}, {}
    local function walk(t, prefix)
      if seen[t] then return end
      seen[t] = true
      for k, v in pairs(t) do
        local name = prefix .. tostring(k)
        if type(v) == "function" then out[#out + 1] = name
        elseif type(v) == "table" then walk(v, name .. ".") end
      end
    end
    walk(_G, "")
    walk(require("lumen.json"), "json.")
    walk(require("lumen.rules"), "rules.")
    table.sort(out)
    return table.concat(out, " ")
  ]], "=caps", { modules = sandbox.module_texts() })
  local allowed = {}
  for n in ([[assert collectgarbage error getmetatable ipairs load next pairs pcall rawequal rawget
    rawlen rawset select setmetatable tonumber tostring type xpcall require warn
    json.encode json.decode json.utf8_clean json.integers json.get rules.default rules.normalize rules.evaluate]]):gmatch("%S+") do
    allowed[n] = true
  end
  for lib in ("string table math utf8"):gmatch("%S+") do allowed[lib] = "lib" end
  for n in names:gmatch("%S+") do
    local lib = n:match("^([%w_]+)%.")
    assert(allowed[n] or (lib and allowed[lib] == "lib"), "unexpected function in the sandbox: " .. n)
  end
  for _, bad in ipairs({ "print", "dofile", "loadfile", "string.dump", "context", "onnx_load" }) do
    assert(not names:find("%f[%S]" .. bad:gsub("%.", "%%.") .. "%f[%s%z]"), bad .. " is reachable")
  end
end)

case("C functions that could run unbounded are size-checked", function()
  assert(run("return string.rep('', 1 << 50)", "=rep0") == "")
  assert(run("return ('ab'):rep(3, ',')", "=rep1") == "ab,ab,ab")
  checkfail("string.rep result above the memory limit", run("return ('x'):rep(1 << 40)", "=rep2"))
  checkfail("string.rep result above the memory limit",
    run("return string.rep('', 1 << 50, 'x')", "=rep3"))
  checkfail("table.move of more elements", run("return table.move({}, 1, 1 << 50, 2)", "=move"))
  assert(run("return table.move({1, 2, 3}, 1, 3, 2)[3]", "=move2") == 2)
  checkfail("could backtrack without end", run([[return string.find(string.rep("a", 20000),
    ".-.-b")]], "=pat"))
  -- one repeat is enough to be quadratic when the match is not anchored (found by fuzzing)
  checkfail("could backtrack without end", run([[return string.find(string.rep("a", 74852),
    ".-@.")]], "=pat4"))
  checkfail("could backtrack without end", run([[return string.gsub(string.rep("a", 20000),
    "a+b", "")]], "=pat5"))
  checkfail("could backtrack without end", run([[for _ in string.gmatch(string.rep("(", 20000),
    "%b()") do end]], "=pat6"))
  checkfail("malformed pattern", run([[return string.find("abc", "[a")]], "=pat7"))
  -- the bound follows the subject: an anchored repeat, or one over short runs, is linear
  assert(run([[return (string.find(string.rep("a", 2000) .. "b", "a+b"))]], "=pat1") == 1)
  assert(run([[return (string.find(string.rep("a", 200000) .. "b", "^a+b"))]], "=pat8") == 1)
  assert(run([[local t = string.rep("lorem  ipsum\tdolor sit amet, ", 30000)
    return select(2, t:gsub("%s+", " ")) ]], "=pat9") == 150000)
  assert(run([[return string.find(string.rep("a", 20000), ".-.-b", 1, true)]], "=pat2") == nil)
  checkfail("plain search", run([[return string.find(string.rep("a", 1 << 20),
    string.rep("a", 1 << 13) .. "b", 1, true)]], "=pat10"))
  assert(run([[return (select(2, string.gsub("a-b-c", "%-", "+")))]], "=pat3") == 2)
  checkerror("at least 1000", run, "return 1", "=x", { instructions = 10 })
end)

case("lumen.sandbox.rules evaluates a rule file in the sandbox", function()
  local rules = [[return { { name = "low", check = function(r) return r.score < 0.5 end },
    { name = "bad", check = function(r) return r.missing.field end } }]]
  local flags, errors = sandbox.rules(rules, "r.lua", { score = 0.2 })
  assert(flags[1] == "low" and flags[2] == "rule_error:bad" and #errors == 1, table.concat(flags, ","))
  local f, err = sandbox.rules("while true do end", "loop.lua", {}, { instructions = 10000 })
  checkfail("instruction limit", f, err)
  f, err = sandbox.rules("return io.open('/etc/passwd')", "io.lua", {})
  checkfail("attempt to index a nil value", f, err)
end)

return testlib.finish("sandbox")
