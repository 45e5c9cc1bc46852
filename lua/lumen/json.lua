-- lumen.json: a small JSON encoder and decoder for report records.
--
--   local json = require "lumen.json"
--   json.encode({ a = 1, b = { 1, 2 } })   --> '{"a":1,"b":[1,2]}' (object keys sorted)
--   json.decode('{"a": [1, 2.5, null]}')   --> { a = { 1, 2.5 } } | nil, msg
--
-- Mapping: a table with keys 1..n (n >= 1) and no others is an array; any other table is an
-- object (keys must be strings or numbers; numbers become strings); an empty table is an empty
-- array unless it carries json.object as its metatable. JSON null decodes to json.null (a
-- sentinel), so arrays keep their length. Floats are written with 17 significant digits when
-- shorter forms do not round-trip; NaN and infinities (not JSON) become null.
local M = {}

M.null = setmetatable({}, { __tostring = function() return "null" end })
M.object = { __name = "json.object" }

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r",
  ["\t"] = "\\t",
}

-- s with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD, so strict
-- readers accept the text (keep the raw bytes elsewhere when they matter, e.g. a file name).
function M.utf8_clean(s)
  if utf8.len(s) then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local len, bad = utf8.len(s, i)
    if len then
      out[#out + 1] = s:sub(i)
      break
    end
    out[#out + 1] = s:sub(i, bad - 1)
    out[#out + 1] = "\u{FFFD}"
    i = bad + 1
  end
  return table.concat(out)
end

local function encode_string(s)
  -- control characters and DEL are escaped; invalid UTF-8 bytes become U+FFFD (a JSON text
  -- must be UTF-8); other bytes pass through
  s = M.utf8_clean(s)
  return '"' .. s:gsub('[%c"\\\127]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function encode_number(x)
  if math.type(x) == "integer" then return tostring(x) end
  if x ~= x or x == math.huge or x == -math.huge then return "null" end
  if x == math.floor(x) and math.abs(x) < 1e15 then return string.format("%.1f", x) end
  for _, fmt in ipairs({ "%.6g", "%.9g", "%.17g" }) do
    local s = string.format(fmt, x)
    if tonumber(s) == x then return s end
  end
  return string.format("%.17g", x)
end

local function is_array(t)
  if getmetatable(t) == M.object then return false end
  local n = #t
  local count = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
    count = count + 1
  end
  return count == n
end

local encode_value

local function encode_table(t, out, depth, indent)
  if depth > 64 then error("json.encode: nesting deeper than 64 (a cycle?)", 0) end
  if is_array(t) then
    out[#out + 1] = "["
    for i = 1, #t do
      if i > 1 then out[#out + 1] = "," end
      encode_value(t[i], out, depth + 1, indent)
    end
    out[#out + 1] = "]"
    return
  end
  local keys = {}
  for k in pairs(t) do
    local tk = type(k)
    if tk ~= "string" and tk ~= "number" then
      error("json.encode: object key of type " .. tk, 0)
    end
    keys[#keys + 1] = k
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  out[#out + 1] = "{"
  for i, k in ipairs(keys) do
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = encode_string(tostring(k))
    out[#out + 1] = indent and ": " or ":"
    encode_value(t[k], out, depth + 1, indent)
  end
  out[#out + 1] = "}"
end

function encode_value(v, out, depth, indent)
  local tv = type(v)
  if v == nil or v == M.null then
    out[#out + 1] = "null"
  elseif tv == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif tv == "number" then
    out[#out + 1] = encode_number(v)
  elseif tv == "string" then
    out[#out + 1] = encode_string(v)
  elseif tv == "table" then
    encode_table(v, out, depth, indent)
  else
    error("json.encode: cannot encode a " .. tv, 0)
  end
end

-- Encodes v as one line of JSON. Raises on values JSON cannot hold (functions, cycles).
function M.encode(v)
  local out = {}
  encode_value(v, out, 0, false)
  return table.concat(out)
end

-- ---- decoder: a recursive-descent parser over the string, positions are 1-based ----

local function decode_error(s, i, what)
  local line = select(2, s:sub(1, i):gsub("\n", "")) + 1
  return string.format("json: %s at line %d, byte %d", what, line, i)
end

local function skip(s, i)
  return s:find("[^ \t\r\n]", i) or #s + 1
end

local parse_value

local function parse_string(s, i)
  -- s:sub(i, i) == '"'
  local out, j = {}, i + 1
  while true do
    local k = s:find('["\\%c]', j)
    if not k then error(decode_error(s, i, "unterminated string"), 0) end
    out[#out + 1] = s:sub(j, k - 1)
    local c = s:sub(k, k)
    if c == '"' then return table.concat(out), k + 1 end
    if c ~= "\\" then error(decode_error(s, k, "control character in string"), 0) end
    local e = s:sub(k + 1, k + 1)
    local simple = ({ ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
      r = "\r", t = "\t" })[e]
    if simple then
      out[#out + 1] = simple
      j = k + 2
    elseif e == "u" then
      local hex = s:match("^%x%x%x%x", k + 2)
      if not hex then error(decode_error(s, k, "bad \\u escape"), 0) end
      local cp = tonumber(hex, 16)
      j = k + 6
      if cp >= 0xD800 and cp <= 0xDBFF then -- a surrogate pair
        local lo = s:match("^\\u(%x%x%x%x)", j)
        lo = lo and tonumber(lo, 16)
        if lo and lo >= 0xDC00 and lo <= 0xDFFF then
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
          j = j + 6
        end
      end
      out[#out + 1] = utf8.char(cp)
    else
      error(decode_error(s, k, "bad escape"), 0)
    end
  end
end

local function parse_number(s, i)
  local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
  if not num or num == "" or num == "-" then error(decode_error(s, i, "bad number"), 0) end
  local v = tonumber(num) -- "12" stays an integer, "12.0" a float
  if v == nil then error(decode_error(s, i, "bad number"), 0) end
  return v, i + #num
end

-- After an array element or object member: true and the index past the closing bracket
-- 'close', or false and the index of the next item (past the ',' and white space).
local function item_end(s, i, close)
  i = skip(s, i)
  local c = s:sub(i, i)
  if c == close then return true, i + 1 end
  if c ~= "," then error(decode_error(s, i, "expected ',' or '" .. close .. "'"), 0) end
  return false, skip(s, i + 1)
end

local function parse_array(s, i, depth)
  local arr, n = {}, 0
  i = skip(s, i + 1)
  if s:sub(i, i) == "]" then return arr, i + 1 end
  while true do
    local v
    v, i = parse_value(s, i, depth + 1)
    n = n + 1
    arr[n] = v
    local closed
    closed, i = item_end(s, i, "]")
    if closed then return arr, i end
  end
end

local function parse_object(s, i, depth)
  local obj = {}
  i = skip(s, i + 1)
  if s:sub(i, i) == "}" then return setmetatable(obj, M.object), i + 1 end
  while true do
    if s:sub(i, i) ~= '"' then error(decode_error(s, i, "expected a string key"), 0) end
    local k
    k, i = parse_string(s, i)
    i = skip(s, i)
    if s:sub(i, i) ~= ":" then error(decode_error(s, i, "expected ':'"), 0) end
    local v
    v, i = parse_value(s, skip(s, i + 1), depth + 1)
    obj[k] = v
    local closed
    closed, i = item_end(s, i, "}")
    if closed then return obj, i end
  end
end

function parse_value(s, i, depth)
  if depth > 200 then error(decode_error(s, i, "nesting too deep"), 0) end
  i = skip(s, i)
  local c = s:sub(i, i)
  if c == "{" then return parse_object(s, i, depth) end
  if c == "[" then return parse_array(s, i, depth) end
  if c == '"' then return parse_string(s, i) end
  if c == "-" or c:match("%d") then return parse_number(s, i) end
  if s:sub(i, i + 3) == "true" then return true, i + 4 end
  if s:sub(i, i + 4) == "false" then return false, i + 5 end
  if s:sub(i, i + 3) == "null" then return M.null, i + 4 end
  if c == "" then error(decode_error(s, i, "unexpected end of input"), 0) end
  error(decode_error(s, i, "unexpected character '" .. c .. "'"), 0)
end

-- Decodes one JSON text. Returns the value, or nil and a message naming line and byte.
function M.decode(s)
  if type(s) ~= "string" then error("json.decode: expected a string", 2) end
  local ok, v, i = pcall(parse_value, s, 1, 0)
  if not ok then return nil, v end
  i = skip(s, i)
  if i <= #s then return nil, decode_error(s, i, "trailing characters") end
  return v
end

-- JSON numbers may decode as floats: v with every integral number made an integer (tables
-- copied), for shapes and counts read from JSON.
function M.integers(v)
  if type(v) == "number" and v == math.floor(v) then return math.tointeger(v) end
  if type(v) == "table" then
    local t = {}
    for k, x in pairs(v) do t[k] = M.integers(x) end
    return t
  end
  return v
end

-- t[k1][k2]...: nil as soon as a level is not a table, and nil for json.null (records read
-- back from report.jsonl hold json.null where a value was missing).
function M.get(t, ...)
  for _, k in ipairs({ ... }) do
    if type(t) ~= "table" then return nil end
    t = t[k]
  end
  if t == M.null then return nil end
  return t
end

return M
