-- lumen report merge DIR: joins the shard reports of one batch (report-shard<i>of<n>.jsonl,
-- written by `lumen qc --shard i/n` or by the tasks of a Slurm array / an MPI job) into one
-- report.jsonl, report.csv and report.html in the same folder, in input order, each input once.
--
-- Input order is rebuilt from the sharding rule (shard i took inputs i, i+n, i+2n, ... of the
-- full list, and writes its records in that order), so the merged file is what one unsharded
-- run would have written. A missing shard is refused unless --partial is given: a merged
-- report that silently lacks a quarter of the frames is worse than none.
local lumen = require "lumen"
local cli = require "lumen.cli"
local json = require "lumen.json"
local report = require "lumen.report"

local M = {
  summary = "merge the shard reports of a batch into one report (lumen report merge DIR)",
  usage = [[usage: lumen report merge DIR [--shards N] [--partial]

Joins DIR/report-shard<i>of<n>.jsonl (i = 0..n-1), as written by sharded `lumen qc` runs
(--shard i/n, Slurm arrays, Open MPI), into DIR/report.jsonl, report.csv and report.html, in
input order with every input once. The shards' images/ are already in DIR and are reused.

  --shards N   which sharding to merge when DIR holds shard files of several (e.g. of 2 and 4)
  --partial    merge even when some shards are missing (they are named on stderr)

Exit codes: 0 merged, every record ok; 1 merged with error records, or a shard missing (then
nothing is written); 2 usage error (no such folder, no shard files).]],
}

local function warn(msg) io.stderr:write("lumen report: ", msg, "\n") end

-- The shard files in dir: { [n] = { [i] = path } }.
local function find_shards(dir)
  local by_n = {}
  for _, name in ipairs(lumen.list_dir(dir) or {}) do
    local i, n = name:match("^report%-shard(%d+)of(%d+)%.jsonl$")
    i, n = tonumber(i), tonumber(n)
    if i and n and i < n then
      by_n[n] = by_n[n] or {}
      by_n[n][i] = dir .. "/" .. name
    end
  end
  return by_n
end

-- The records of one shard file, in file order; unreadable lines are counted, not fatal.
local function read_records(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local recs, bad = {}, 0
  for line in f:lines() do
    local r = line ~= "" and json.decode(line)
    if type(r) == "table" and type(r.input) == "string" then
      recs[#recs + 1] = r
    elseif line ~= "" then
      bad = bad + 1
    end
  end
  f:close()
  return recs, bad
end

-- Class names in index order, from the records' (class, class_name) pairs; classes no record
-- was assigned to follow in the order of their probability keys.
local function class_names_of(records)
  local names, seen = {}, {}
  for _, r in ipairs(records) do
    if type(r.class) == "number" and type(r.class_name) == "string" and not names[r.class + 1] then
      names[r.class + 1], seen[r.class_name] = r.class_name, true
    end
  end
  local rest = {}
  for _, r in ipairs(records) do
    for k in pairs(type(r.probabilities) == "table" and r.probabilities or {}) do
      if not seen[k] then
        seen[k] = true
        rest[#rest + 1] = k
      end
    end
  end
  table.sort(rest)
  local out = {}
  local maxi = 0
  for i in pairs(names) do maxi = math.max(maxi, i) end
  for i = 1, maxi do
    out[#out + 1] = names[i] or table.remove(rest, 1) or ("class" .. (i - 1))
  end
  for _, k in ipairs(rest) do out[#out + 1] = k end
  return out
end

local function merge(dir, opts)
  if lumen.file_type(dir) ~= "dir" then
    return cli.usage_error("report", "'" .. dir .. "' is not a folder")
  end
  local by_n = find_shards(dir)
  local counts = {}
  for n in pairs(by_n) do counts[#counts + 1] = n end
  table.sort(counts)
  if #counts == 0 then
    return cli.usage_error("report", "no report-shard<i>of<n>.jsonl files in '" .. dir .. "'")
  end
  local n = opts.shards
  if not n and #counts > 1 then
    return cli.usage_error("report", "'" .. dir .. "' holds shards of several shardings (of " ..
      table.concat(counts, ", of ") .. "): choose one with --shards N")
  end
  n = n or counts[1]
  if not by_n[n] then
    return cli.usage_error("report", "no shard files of " .. n .. " in '" .. dir .. "'")
  end
  local missing = {}
  for i = 0, n - 1 do
    if not by_n[n][i] then
      missing[#missing + 1] = string.format("shard %d of %d (report-shard%dof%d.jsonl)", i, n, i, n)
    end
  end
  if #missing > 0 then
    for _, m in ipairs(missing) do warn("missing " .. m) end
    if not opts.partial then
      warn("nothing written; run the missing shards, or merge what there is with --partial")
      return cli.EXIT_PARTIAL
    end
  end

  -- global position of the k-th record of shard i: i + (k-1)*n
  local slots, positions = {}, {}
  for i = 0, n - 1 do
    local path = by_n[n][i]
    if path then
      local recs, bad = read_records(path)
      if not recs then return cli.runtime_error("report", bad) end
      if bad > 0 then warn(string.format("%s: %d unreadable lines skipped", path, bad)) end
      for k, r in ipairs(recs) do
        local pos = i + (k - 1) * n
        slots[pos] = r
        positions[#positions + 1] = pos
      end
    end
  end
  table.sort(positions)
  local records, seen, dups = {}, {}, 0
  for _, pos in ipairs(positions) do
    local r = slots[pos]
    local key = report.record_key(r) -- input path and frame number
    if seen[key] then
      dups = dups + 1
      warn("input in two shards, the first kept: " .. key)
    else
      seen[key] = true
      records[#records + 1] = r
    end
  end

  local class_names = class_names_of(records)
  local rep, err = report.open(dir, { class_names = class_names })
  if not rep then return cli.runtime_error("report", err) end
  for _, r in ipairs(records) do rep:add(r) end
  local first = records[1] or {}
  local summary = report.summarize(records, class_names)
  local info = report.batch_info(records) -- series verdicts, weights notice, provenance
  info.title = "lumen QC report (" .. n .. " shards merged)"
  info.model, info.model_sha256, info.device = first.model, first.model_sha256, first.device
  info.created, info.class_names = os.date("%Y-%m-%d %H:%M"), class_names
  local paths, ferr = rep:finish(info)
  if not paths then return cli.runtime_error("report", ferr) end
  print(string.format("merged %d shards of %d: %d records (%d ok, %d failed)%s", n - #missing, n,
    #records, summary.ok, summary.failed, dups > 0 and (", " .. dups .. " duplicates dropped") or ""))
  print(string.format("report: %s, %s, %s", paths.jsonl, paths.csv, paths.html))
  return summary.failed > 0 and cli.EXIT_PARTIAL or cli.EXIT_OK
end

function M.run(args)
  if args[1] ~= "merge" then
    return cli.usage_error("report", args[1] and ("unknown action '" .. args[1] .. "' (known: merge)")
      or "an action is needed: lumen report merge DIR")
  end
  local rest = table.move(args, 2, #args, 1, {})
  local opts, pos = cli.parse(rest, { shards = "number", partial = "boolean" })
  if not opts then return cli.usage_error("report", pos) end
  if #pos ~= 1 then return cli.usage_error("report", "merge takes one folder") end
  if opts.shards and (opts.shards < 1 or opts.shards % 1 ~= 0) then
    return cli.usage_error("report", "--shards needs a whole number >= 1")
  end
  return merge(pos[1], opts)
end

return M
