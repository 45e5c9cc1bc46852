-- lumen.inputs: what a QC run works on, before any frame is read: command-line inputs expanded
-- into frame paths, the shard of this process (Slurm / Open MPI) and its device, and the
-- progress line. lumen.pipeline re-exports these as pipeline.expand_inputs, ... .
--
--   local inputs = require "lumen.inputs"
--   local paths, warnings, missing = inputs.expand_inputs({ "data/", "list.txt" }, sources)
--   local i, n = inputs.shard_of(opts.shard); paths = inputs.shard_list(paths, i, n)
local lumen = require "lumen"

local M = {}

M.IMAGE_EXTENSIONS = { png = true, npy = true }

function M.now_ms()
  return lumen.clock and lumen.clock() or os.clock() * 1000
end
local now_ms = M.now_ms

local function dirname(p) return p:match("^(.*)/[^/]*$") or "." end
local function basename(p) return p:match("([^/]*)$") end
function M.extension(p) return (p:match("%.([%w]+)$") or ""):lower() end
local extension = M.extension

-- ---- inputs ----

-- Does name match a shell-style pattern with * (any run) and ? (one character)? No [] classes.
function M.glob_match(pattern, name)
  local lp = pattern:gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0"):gsub("%*", ".*"):gsub("%?", ".")
  return name:match("^" .. lp .. "$") ~= nil
end

local function is_image(name) return M.IMAGE_EXTENSIONS[extension(name)] == true end

local function join(dir, name)
  if dir == "." then return name end
  return dir:sub(-1) == "/" and dir .. name or dir .. "/" .. name
end

-- Expands command-line inputs into a list of frame paths (sorted within a folder or glob, in
-- argument order otherwise, duplicates removed). An argument is a folder (its image files), a
-- pattern with * or ? in its last component, an image file (.png, .npy), or a list file (any
-- other file: one path per line, '#' comments, paths relative to the list file's folder).
-- A command-line path that does not exist is returned in `missing` (lumen qc refuses to start:
-- a usage error); a missing path inside a list file is kept (it becomes an error record).
-- sources: {probe = f(path) -> boolean (a folder's file that a frame source reads whatever its
-- name), claims = f(path) -> boolean (a file it reads, so not a list file)}; both optional.
-- Returns paths, warnings, missing.
function M.expand_inputs(args, sources)
  local probe = sources and sources.probe or function() return false end
  local claims = sources and sources.claims or function() return false end
  local out, seen, warnings, missing = {}, {}, {}, {}
  local function add(p)
    if not seen[p] then
      seen[p] = true
      out[#out + 1] = p
    end
  end
  for _, a in ipairs(args) do
    local kind = lumen.file_type(a)
    if kind == "dir" then
      local names, err = lumen.list_dir(a)
      if not names then
        warnings[#warnings + 1] = err
      else
        for _, n in ipairs(names) do
          local p = join(a, n)
          if n:sub(1, 1) ~= "." and lumen.file_type(p) == "file"
            and (is_image(n) or probe(p)) then add(p) end
        end
      end
    elseif not kind and basename(a):find("[*?]") then
      local dir, pat = dirname(a), basename(a)
      if dir:find("[*?]") then
        warnings[#warnings + 1] = "'" .. a .. "': patterns only in the last part of a path"
      else
        local names, err = lumen.list_dir(dir)
        local n0 = #out
        for _, n in ipairs(names or {}) do
          if n:sub(1, 1) ~= "." and M.glob_match(pat, n)
            and lumen.file_type(join(dir, n)) == "file" then
            add(join(dir, n))
          end
        end
        if #out == n0 then
          warnings[#warnings + 1] = "'" .. a .. "' matches no file"
            .. (err and (" (" .. err .. ")") or "")
        end
      end
    elseif kind == "file" and not is_image(a) and not claims(a) then
      local f, err = io.open(a, "rb")
      if not f then
        warnings[#warnings + 1] = err
      else
        local base = dirname(a)
        for line in f:lines() do
          line = line:gsub("^%s+", ""):gsub("%s+$", "")
          if line ~= "" and line:sub(1, 1) ~= "#" then
            add(line:sub(1, 1) == "/" and line or join(base, line))
          end
        end
        f:close()
      end
    elseif not kind then
      missing[#missing + 1] = a
    else
      add(a) -- an image file (or anything a frame source reads)
    end
  end
  return out, warnings, missing
end

-- ---- sharding and device choice ----

-- Parses "i/n" (0 <= i < n). Returns i, n | nil, msg.
function M.parse_shard(s)
  local i, n = tostring(s):match("^(%d+)/(%d+)$")
  i, n = tonumber(i), tonumber(n)
  if not i or n < 1 or i >= n then
    return nil, "--shard needs i/n with 0 <= i < n, got '" .. tostring(s) .. "'"
  end
  return i, n
end

-- The shard of this process: opts.shard ("i/n"), else SLURM_ARRAY_TASK_ID (0-based, with
-- SLURM_ARRAY_TASK_MIN subtracted when set) / SLURM_ARRAY_TASK_COUNT, else Open MPI's
-- OMPI_COMM_WORLD_RANK / OMPI_COMM_WORLD_SIZE, else 0/1. getenv may be replaced (tests).
-- Returns i, n, source | nil, msg.
function M.shard_of(shard, getenv)
  getenv = getenv or os.getenv
  if shard then
    local i, n = M.parse_shard(shard)
    if not i then return nil, n end
    return i, n, "--shard"
  end
  local id = tonumber(getenv("SLURM_ARRAY_TASK_ID") or "")
  local count = tonumber(getenv("SLURM_ARRAY_TASK_COUNT") or "")
  if id and count then
    local i = id - (tonumber(getenv("SLURM_ARRAY_TASK_MIN") or "") or 0)
    if i < 0 or i >= count then return nil, "SLURM_ARRAY_TASK_ID out of range" end
    return i, count, "SLURM"
  end
  local rank = tonumber(getenv("OMPI_COMM_WORLD_RANK") or "")
  local size = tonumber(getenv("OMPI_COMM_WORLD_SIZE") or "")
  if rank and size and rank < size then return rank, size, "Open MPI" end
  return 0, 1, nil
end

-- Every n-th input starting at i (0-based): shards are disjoint and cover all inputs.
function M.shard_list(list, i, n)
  local out = {}
  for k = i + 1, #list, n do out[#out + 1] = list[k] end
  return out
end

-- The device selector for this process: opts.device when given; else, when a node-local rank
-- is known (OMPI_COMM_WORLD_LOCAL_RANK or SLURM_LOCALID) and there are several GPUs (or, with
-- no GPU, several devices), device number local_rank % count; else nil (the default device).
function M.pick_device(device, getenv)
  getenv = getenv or os.getenv
  if device then return device end
  local lr = tonumber(getenv("OMPI_COMM_WORLD_LOCAL_RANK") or getenv("SLURM_LOCALID") or "")
  if not lr then return nil end
  local devs = lumen.devices()
  if not devs then return nil end
  local gpus = {}
  for _, d in ipairs(devs) do if d.type == "gpu" then gpus[#gpus + 1] = d end end
  local pool = #gpus > 0 and gpus or devs
  if #pool < 2 then return nil end
  return pool[lr % #pool + 1].index
end

-- ---- progress ----

local function stderr_is_tty()
  if os.getenv("CI") == "true" then return false end
  if lumen.isatty then return lumen.isatty(2) end
  return os.execute("test -t 2") == true
end

-- A progress line writer: p(done, total) redraws "\r[done/total] rate ETA" on stderr at most
-- ~5 times a second, only when stderr is a terminal and CI is not "true"; p:done() ends it.
function M.progress(enabled)
  if enabled == nil then enabled = stderr_is_tty() end
  local t0, last = now_ms(), -1e9
  local self = {}
  function self.update(done, total, extra)
    if not enabled then return end
    local t = now_ms()
    if t - last < 200 and done < total then return end
    last = t
    local el = (t - t0) / 1000
    local rate = el > 0 and done / el or 0
    local eta = rate > 0 and (total - done) / rate or 0
    io.stderr:write(string.format("\r[%d/%d] %.2f frames/s, ETA %dm%02ds %s\027[K", done, total,
      rate, math.floor(eta / 60), math.floor(eta % 60), extra or ""))
    io.stderr:flush()
  end
  function self.finish()
    if enabled then io.stderr:write("\r\027[K") end
  end
  return self
end

return M
