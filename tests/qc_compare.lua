-- qc_compare.lua A.jsonl B.jsonl [TOL] - two QC reports of the same frames agree: same status,
-- same class, every class probability within TOL (default 1e-3). One line per frame; returns
-- 1 when a frame differs or the two reports do not hold the same frames.
local json = require "lumen.json"
local a_path, b_path, tol = ...
tol = tonumber(tol) or 1e-3

local function read(path)
  local f = assert(io.open(path, "rb"))
  local out, order = {}, {}
  for line in f:lines() do
    local r = assert(json.decode(line))
    local key = r.input .. (r.frame and ("#" .. r.frame) or "")
    out[key] = r
    order[#order + 1] = key
  end
  f:close()
  return out, order
end

local a, order = read(a_path)
local b = read(b_path)
local passed, failed = 0, 0
for _, k in ipairs(order) do
  local ra, rb = a[k], b[k]
  local ok, worst, why = true, 0, ""
  if not rb then
    ok, why = false, "missing in " .. b_path
  elseif ra.status ~= rb.status then
    ok, why = false, "status " .. tostring(ra.status) .. " vs " .. tostring(rb.status)
  elseif ra.status == "ok" then
    if ra.class ~= rb.class then ok, why = false, "class " .. ra.class .. " vs " .. rb.class end
    for name, p in pairs(ra.probabilities) do
      local q = rb.probabilities[name]
      local d = q and math.abs(p - q) or math.huge
      if d > worst then worst = d end
    end
    if worst > tol then ok, why = false, string.format("probabilities differ by %.3g", worst) end
  end
  print(string.format("%-4s %s status=%s class=%s maxabs(p)=%.2g%s", ok and "OK" or "FAIL", k,
    tostring(ra.status), tostring(ra.class_name or "-"), worst, why ~= "" and (": " .. why) or ""))
  if ok then passed = passed + 1 else failed = failed + 1 end
end
for k in pairs(b) do
  if not a[k] then
    print("FAIL " .. k .. ": missing in " .. a_path)
    failed = failed + 1
  end
end
print(string.format("%d passed, %d failed", passed, failed))
return failed == 0 and 0 or 1
