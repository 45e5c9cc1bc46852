-- bench_smoke.lua OUTDIR: checks the files `lumen bench --out OUTDIR --plot` wrote.
-- bench.json decodes and holds a measured latency; the CSVs have a header and rows of the same
-- width (quoted fields honoured); the SVG is one <svg> element.
local json = require "lumen.json"
local dir = assert(arg[1], "usage: bench_smoke.lua OUTDIR")

local function slurp(name)
  local f = assert(io.open(dir .. "/" .. name, "rb"), "missing " .. name)
  local s = f:read("a")
  f:close()
  return s
end

-- Splits one CSV line into fields (RFC 4180 quoting).
local function csv_fields(line)
  local fields, i = {}, 1
  while i <= #line + 1 do
    if line:sub(i, i) == '"' then
      local j, buf = i + 1, {}
      while true do
        local c = line:sub(j, j)
        assert(c ~= "", "unterminated quote in: " .. line)
        if c == '"' then
          if line:sub(j + 1, j + 1) == '"' then buf[#buf + 1] = '"'; j = j + 2
          else break end
        else buf[#buf + 1] = c; j = j + 1 end
      end
      fields[#fields + 1] = table.concat(buf)
      i = j + 2
    else
      local j = line:find(",", i, true) or #line + 1
      fields[#fields + 1] = line:sub(i, j - 1)
      i = j + 1
    end
  end
  return fields
end

local function check_csv(name, min_rows)
  local rows = {}
  for line in slurp(name):gmatch("[^\n]+") do rows[#rows + 1] = csv_fields(line) end
  assert(#rows >= 1 + min_rows, name .. ": expected at least " .. min_rows .. " data rows")
  for i = 2, #rows do
    assert(#rows[i] == #rows[1], string.format("%s: row %d has %d fields, header %d", name, i,
      #rows[i], #rows[1]))
  end
  print(string.format("%s: %d columns, %d rows OK", name, #rows[1], #rows - 1))
  return rows
end

local doc = assert(json.decode(slurp("bench.json")))
assert(doc.results and #doc.results >= 1, "bench.json: no results")
local r = doc.results[1]
assert(not r.error, "bench.json: the run failed: " .. tostring(r.error))
assert(r.latency and r.latency.median > 0, "bench.json: no latency")
assert(r.plan and r.plan.live_peak > 0, "bench.json: no memory plan")
assert(r.profile and #r.profile.nodes > 0, "bench.json: no profile")
print(string.format("bench.json: %s on %s median %.2f ms OK", r.model, r.device.name,
                    r.latency.median))

local rows = check_csv("bench.csv", 1)
local col = {}
for i, h in ipairs(rows[1]) do col[h] = i end
assert(tonumber(rows[2][col.median_ms]), "bench.csv: median_ms is not a number")
check_csv("profile.csv", 1)

local svg = slurp("bench.svg")
assert(svg:match("^<svg ") and svg:match("</svg>\n$"), "bench.svg: not an svg document")
print("bench.svg: " .. #svg .. " bytes OK")
