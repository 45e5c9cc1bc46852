-- lumen.rules: QC rules over a frame's record, in pure Lua (no binding, no files), so the same
-- code runs on the host and inside the sandbox (lua/sandbox.c hands it over as text).
--
--   local rules = require "lumen.rules"
--   local flags, errors = rules.evaluate(rules.default(), record)
--
-- A rule is { name = "low_vessels", check = function(record) -> truthy, message = "..." }.
-- A rule set is a list of rules, or a table mapping names to check functions. evaluate() returns
-- the names of the rules whose check is truthy; a check that raises becomes the flag
-- "rule_error:<name>" and its message is returned too, so one bad rule never stops a batch.
local M = {}

-- The rules `lumen qc` applies without --rules. opts: min_vessels (area fraction, default 0.02),
-- min_score (default 0.5), min_largest_share (default 0.2).
function M.default(opts)
  opts = opts or {}
  local min_vessels = opts.min_vessels or 0.02
  local min_score = opts.min_score or 0.5
  local min_share = opts.min_largest_share or 0.2
  return {
    { name = "nondiagnostic", message = "predicted class is not 'diagnostic'",
      check = function(r) return r.class ~= 0 end },
    { name = "low_confidence", message = "top class probability below " .. min_score,
      check = function(r) return r.score < min_score end },
    { name = "few_vessels", message = "vessel area fraction below " .. min_vessels,
      check = function(r) return r.vessels.area_fraction < min_vessels end },
    { name = "fragmented_vessels", message = "largest vessel tree below " .. min_share
      .. " of the vessel area",
      check = function(r) return r.vessels.pixels > 0 and r.vessels.largest_share < min_share end },
  }
end

-- A rule set as a list of {name=, check=}: accepts a list of rules or a map name -> function.
-- Raises on anything else (a rule file with a typo should fail loudly, once, at load).
function M.normalize(rules)
  if type(rules) ~= "table" then
    error("rules: expected a table of rules, got " .. type(rules), 2)
  end
  local list = {}
  if #rules > 0 then
    for i, r in ipairs(rules) do
      if type(r) ~= "table" or type(r.check) ~= "function" then
        error(string.format("rules: rule #%d needs a 'check' function", i), 2)
      end
      list[#list + 1] = { name = r.name or ("rule_" .. i), check = r.check, message = r.message }
    end
  else
    local names = {}
    for k in pairs(rules) do names[#names + 1] = k end
    table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(names) do
      if type(rules[k]) ~= "function" then
        error("rules: '" .. tostring(k) .. "' is not a function", 2)
      end
      list[#list + 1] = { name = tostring(k), check = rules[k] }
    end
  end
  return list
end

-- Applies a rule set to a record (plain data). Returns flags (names, in rule order) and a list
-- of error messages of rules that raised (empty when none did).
function M.evaluate(rules, record)
  local flags, errors = {}, {}
  for _, r in ipairs(M.normalize(rules)) do
    local ok, hit = pcall(r.check, record)
    if not ok then
      flags[#flags + 1] = "rule_error:" .. r.name
      errors[#errors + 1] = r.name .. ": " .. tostring(hit)
    elseif hit then
      flags[#flags + 1] = r.name
    end
  end
  return flags, errors
end

return M
