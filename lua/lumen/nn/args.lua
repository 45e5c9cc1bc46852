-- lumen.nn.args: how nn's constructors read their arguments, PyTorch-style (positional names
-- plus an optional trailing table of keywords; kernel sizes as a number or a list).
local M = {}

-- A table of keyword arguments: string keys only, no metatable (a kernel size {3, 3} is a list).
function M.is_kwargs(t)
  return type(t) == "table" and getmetatable(t) == nil and #t == 0 and next(t) ~= nil
end

-- Maps PyTorch-style positional arguments, plus an optional trailing table of keyword arguments,
-- onto names. 'required' is how many leading names must be given.
function M.parse_args(who, names, defaults, required, ...)
  local n = select("#", ...)
  local pos = { ... }
  local kw = {}
  if n > 0 and M.is_kwargs(pos[n]) then
    kw = pos[n]
    n = n - 1
  end
  if n > #names then error(string.format("%s: %d arguments, at most %d", who, n, #names), 3) end
  local out, known = {}, {}
  for i, name in ipairs(names) do
    known[name] = true
    if i <= n then out[name] = pos[i] end
  end
  for k, v in pairs(kw) do
    if not known[k] then error(string.format("%s: unknown argument '%s'", who, tostring(k)), 3) end
    if out[k] ~= nil then error(string.format("%s: argument '%s' given twice", who, k), 3) end
    out[k] = v
  end
  for i = 1, required do
    if out[names[i]] == nil then
      error(string.format("%s: missing argument '%s'", who, names[i]), 3)
    end
  end
  for k, v in pairs(defaults) do
    if out[k] == nil then out[k] = v end
  end
  return out
end

-- A number or a list becomes a list of n integers (PyTorch's _pair / _triple).
function M.tuple(v, n, what)
  local t = {}
  if type(v) == "number" then
    for i = 1, n do t[i] = v end
  elseif type(v) == "table" and #v == n then
    for i = 1, n do t[i] = v[i] end
  else
    error(string.format("%s must be a number or a list of %d numbers", what, n), 4)
  end
  for i = 1, n do
    if math.type(t[i]) ~= "integer" then
      if type(t[i]) == "number" and t[i] == math.floor(t[i]) then
        t[i] = math.tointeger(t[i])
      else
        error(string.format("%s must be integers", what), 4)
      end
    end
  end
  return t
end

return M
