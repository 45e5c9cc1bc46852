-- lumen.shape: small helpers on shapes (Lua lists of extents), shared by the library, the
-- subcommands and the tests.
local M = {}

-- The element count of a shape (1 for {}).
function M.numel(s)
  local n = 1
  for _, d in ipairs(s) do n = n * d end
  return n
end

-- "[1,3,8,8]"; sep ", " gives PyTorch's "[1, 3, 8, 8]". Integral floats print as integers (JSON
-- numbers may decode as floats); nil prints as "[]".
function M.str(s, sep)
  local t = {}
  for i, d in ipairs(s or {}) do t[i] = tostring(math.tointeger(d) or d) end
  return "[" .. table.concat(t, sep or ",") .. "]"
end

function M.same(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i] ~= b[i] then return false end
  end
  return true
end

-- "512x256" -> {512, 256}; "512" -> {512, 512}; anything else -> nil, message.
function M.parse_hw(s)
  local h, w = tostring(s):match("^(%d+)[xX](%d+)$")
  if not h then
    h = tostring(s):match("^(%d+)$")
    w = h
  end
  if not h then return nil, "a size is HxW or a number, got '" .. tostring(s) .. "'" end
  return { tonumber(h), tonumber(w) }
end

return M
