-- lumen.pipeline: runs a QC workflow over many frames.
--
--   local pipeline = require "lumen.pipeline"
--   local res, err = pipeline.run({
--     inputs = { "examples/data" },   -- folders, globs ("data/*_f0?.png") or list files
--     model = "angio_qa", device = nil, size = 512, threshold = 0.5,
--     out = "report",                 -- nil: no files written
--     rules = post.default_rules(),   -- or rules_file = "my_rules.lua" (+ sandbox = true)
--     shard = "0/2",                  -- else SLURM / Open MPI environment, else "0/1"
--     on_record = function(rec) end,  -- called for every record, new or reused
--   })
--   -- res.records (input order), res.summary, res.device, res.model, res.wall_s, res.paths
--
-- Per frame: read (PNG 8/16-bit gray, gray+alpha, RGB(A); or .npy) -> device preprocessing
-- (gray, resize to size x size, min-max to [0,1], (x-0.5)/0.5; one cached pipeline per input
-- shape) -> model -> class probabilities, vessel statistics, thumbnail + overlay -> rules. A
-- frame that fails anywhere becomes a record with status "error" and the batch goes on. Frames
-- whose input hash, model hash and threshold match a finished record in the output folder are
-- not run again: their record is kept (its flags are re-evaluated with the current rules).
--
-- Failures of the whole run (no inputs, no device, model does not load) return nil, msg, kind
-- with kind "usage" or "runtime" (the CLI maps them to exit codes 2 and 3).
local lumen = require "lumen"
local pre = require "lumen.preprocess"
local post = require "lumen.postprocess"
local report = require "lumen.report"
local json = require "lumen.json"

local M = {}

M.IMAGE_EXTENSIONS = { png = true, npy = true }

local function now_ms()
  return lumen.clock()
end
M.now_ms = now_ms

local function round(x, digits)
  if type(x) ~= "number" or x ~= x then return x end
  return tonumber(string.format("%." .. (digits or 6) .. "g", x))
end

local function dirname(p) return p:match("^(.*)/[^/]*$") or "." end
local function basename(p) return p:match("([^/]*)$") end
local function extension(p) return (p:match("%.([%w]+)$") or ""):lower() end

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
-- A path that does not exist is kept: it becomes an error record. Returns paths, warnings.
function M.expand_inputs(args)
  local out, seen, warnings = {}, {}, {}
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
          if is_image(n) and lumen.file_type(join(a, n)) == "file" then add(join(a, n)) end
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
          if n:sub(1, 1) ~= "." and M.glob_match(pat, n) and lumen.file_type(join(dir, n)) == "file" then
            add(join(dir, n))
          end
        end
        if #out == n0 then warnings[#warnings + 1] = "'" .. a .. "' matches no file" .. (err and (" (" .. err .. ")") or "") end
      end
    elseif kind == "file" and not is_image(a) then
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
    else
      add(a) -- an image file, or a missing path (reported per frame)
    end
  end
  return out, warnings
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
  local id, count = tonumber(getenv("SLURM_ARRAY_TASK_ID") or ""), tonumber(getenv("SLURM_ARRAY_TASK_COUNT") or "")
  if id and count then
    local i = id - (tonumber(getenv("SLURM_ARRAY_TASK_MIN") or "") or 0)
    if i < 0 or i >= count then return nil, "SLURM_ARRAY_TASK_ID out of range" end
    return i, count, "SLURM"
  end
  local rank, size = tonumber(getenv("OMPI_COMM_WORLD_RANK") or ""), tonumber(getenv("OMPI_COMM_WORLD_SIZE") or "")
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

-- ---- one frame ----

-- The file signatures of the frame formats: checked before a frame is hashed or decoded.
local SIGNATURES = { png = "\137PNG\r\n\26\n", npy = "\147NUMPY" }

-- Checks that path is a regular file (a FIFO, device or folder would block or never end) that
-- starts with its format's signature. Returns true | nil, msg.
local function check_input(path)
  local kind = lumen.file_type(path)
  if not kind then return nil, path .. ": no such file" end
  if kind ~= "file" then
    return nil, path .. ": not a regular file (" .. (kind == "dir" and "a folder" or
      "a device, FIFO or socket") .. ")"
  end
  local sig = SIGNATURES[extension(path)]
  if not sig then return true end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local head = f:read(#sig) or ""
  f:close()
  if head ~= sig then
    return nil, path .. ": not a " .. extension(path):upper() .. " file (bad signature)"
  end
  return true
end
M.check_input = check_input

-- Is every value of the array finite (no NaN, no infinity)?
local function all_finite(data)
  local huge = math.huge
  for i = 1, #data do
    local v = data[i]
    if v ~= v or v == huge or v == -huge then return false end
  end
  return true
end

-- Reads a frame file into a device tensor [1, C, H, W] with raw sample values. Gray+alpha PNGs
-- arrive as gray (lumen.png_read drops the alpha plane). Non-finite samples are refused.
-- Returns tensor, info {width=, height=, channels=, bit_depth=} | nil, msg.
local function read_frame(ctx, path)
  local ext = extension(path)
  if ext == "npy" then
    local a, err = lumen.npy_load(path)
    if not a then return nil, err end
    local s = a.shape
    local shape
    if #s == 2 then shape = { 1, 1, s[1], s[2] }
    elseif #s == 3 then shape = { 1, s[1], s[2], s[3] }
    elseif #s == 4 and s[1] == 1 then shape = { s[1], s[2], s[3], s[4] }
    else return nil, path .. ": expected an [H,W], [C,H,W] or [1,C,H,W] array, got "
        .. #s .. " dimensions" end
    if shape[2] ~= 1 and shape[2] ~= 3 and shape[2] ~= 4 then
      return nil, path .. ": expected 1, 3 or 4 channels, got " .. shape[2]
    end
    if not all_finite(a.data) then
      return nil, path .. ": the frame holds NaN or infinite values"
    end
    local t, terr = ctx:tensor(shape, "frame", a.data)
    if not t then return nil, terr end
    return t, { width = shape[4], height = shape[3], channels = shape[2], bit_depth = 32 }
  end
  local img, err = lumen.png_read(path)
  if not img then return nil, err end
  local info = { width = img.width, height = img.height, channels = img.channels,
    bit_depth = img.bit_depth }
  local t, terr = img:tensor(ctx, "frame")
  img:free()
  if not t then return nil, terr end
  return t, info
end

-- Pipelines kept for distinct input shapes (the least recently used one is freed beyond this):
-- each holds device buffers of its frame size.
M.MAX_PIPELINES = 2

-- The preprocessing pipeline for frames of this shape (cached, at most M.MAX_PIPELINES).
local function pipeline_for(st, shape)
  local key = table.concat(shape, "x")
  for i, e in ipairs(st.pipelines) do
    if e.key == key then
      table.remove(st.pipelines, i)
      table.insert(st.pipelines, 1, e)
      return e.p
    end
  end
  local steps = {}
  if shape[2] > 1 then steps[#steps + 1] = { "gray" } end
  steps[#steps + 1] = { "resize", size = { st.size, st.size } }
  steps[#steps + 1] = { "minmax" }
  steps[#steps + 1] = { "scale", a = 2, b = -1 } -- (x - 0.5) / 0.5
  while #st.pipelines >= M.MAX_PIPELINES do
    local old = table.remove(st.pipelines)
    if old.p.model.free then old.p.model:free() end
  end
  local p, perr = pre.new(st.ctx, shape, steps)
  if not p then error("preprocessing: " .. tostring(perr), 0) end
  table.insert(st.pipelines, 1, { key = key, p = p })
  return p
end

-- Runs one frame through preprocessing, the model and post-processing; fills rec. Raises on
-- failure (the caller turns the error into an error record).
local function run_frame(st, path, rec)
  local t0 = now_ms()
  local frame <close>, info = read_frame(st.ctx, path)
  if not frame then error(info, 0) end
  rec.width, rec.height, rec.channels, rec.bit_depth = info.width, info.height, info.channels,
    info.bit_depth
  local p = pipeline_for(st, frame:shape())
  local x, xerr = p:run(frame)
  if not x then error("preprocessing: " .. tostring(xerr), 0) end
  local t1 = now_ms()
  local out, rerr = st.model:run({ image = x })
  if not out then error("inference: " .. tostring(rerr), 0) end
  local logits, lerr = out.cls_logit:read() -- waits for the device
  if not logits then error("inference: " .. tostring(lerr), 0) end
  local t2 = now_ms()
  if not all_finite(logits) then
    error("inference: the model output holds NaN or infinite values (no class is given)", 0)
  end
  local cls = post.classify(logits, st.class_names)
  rec.class, rec.class_name, rec.score = cls.class, cls.class_name, round(cls.score)
  rec.probabilities = {}
  for k, v in pairs(cls.probabilities) do rec.probabilities[k] = round(v) end
  local v = post.vessel_stats(out.seg_logit, st.threshold)
  if v.nonfinite > 0 then
    error("inference: the segmentation output holds " .. v.nonfinite .. " NaN or infinite values", 0)
  end
  rec.vessels = { area_fraction = round(v.area_fraction), pixels = v.pixels,
    components = v.components, largest_share = round(v.largest_share) }
  if st.out then
    local stem = basename(path):gsub("%.[^.]*$", ""):gsub("[^%w_%-]", "_")
    local rel = "images/" .. stem .. "_" .. rec.input_sha256:sub(1, 8)
    local thumb, oerr = post.write_images(st.out .. "/" .. rel, x, out.seg_logit, st.threshold)
    if not thumb then error("writing images: " .. tostring(oerr), 0) end
    rec.thumbnail, rec.overlay = rel .. "_thumb.png", rel .. "_overlay.png"
  end
  local t3 = now_ms()
  rec.ms = { preprocess = round(t1 - t0, 4), inference = round(t2 - t1, 4),
    postprocess = round(t3 - t2, 4) }
end

-- An error message for a record: text, without the "file.lua:123: " a Lua error carries (an
-- internal location says nothing to the reader of a report) and valid UTF-8.
function M.clean_error(e)
  return json.utf8_clean((tostring(e):gsub("^[^:\n]*%.lua:%d+: ", "")))
end

-- Applies the run's rules to a record (in the sandbox when asked); sets rec.flags and, when a
-- rule failed, rec.rule_errors.
local function apply_rules(st, rec)
  local flags, errors
  if st.rules_source then
    flags, errors = require("lumen.sandbox").rules(st.rules_source, st.rules_name, rec)
    if not flags then flags, errors = { "rule_error:sandbox" }, { errors } end
  else
    flags, errors = post.evaluate(st.rules, rec)
  end
  rec.flags = flags
  rec.rule_errors = #errors > 0 and errors or nil
end

-- The text of a regular file (a folder or FIFO is refused with a message). Returns text | nil, msg.
function M.read_text(path)
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

-- Loads a rules file: its text for the sandbox, or its rule table (run here).
-- Returns true | nil, msg; sets st.rules or st.rules_source.
local function load_rules(st, opts)
  if opts.rules then
    st.rules = post.normalize_rules(opts.rules)
    return true
  end
  if not opts.rules_file then
    st.rules = post.default_rules()
    return true
  end
  local src, err = M.read_text(opts.rules_file)
  if not src then return nil, err end
  if opts.sandbox then
    st.rules_source, st.rules_name = src, opts.rules_file
    -- check once that the file loads and yields rules, so a broken file fails the run early
    local flags, ferr = require("lumen.sandbox").rules(src, opts.rules_file, {
      class = 0, class_name = "diagnostic", score = 1, probabilities = {},
      vessels = { area_fraction = 0, pixels = 0, components = 0, largest_share = 0 } })
    if not flags then return nil, "rules " .. opts.rules_file .. ": " .. ferr end
    return true
  end
  local chunk, lerr = load(src, "@" .. opts.rules_file, "t")
  if not chunk then return nil, lerr end
  local ok, rules = pcall(chunk)
  if not ok then return nil, "rules " .. opts.rules_file .. ": " .. tostring(rules) end
  local nok, list = pcall(post.normalize_rules, rules)
  if not nok then return nil, opts.rules_file .. ": " .. tostring(list) end
  st.rules = list
  return true
end

-- ---- the run ----

-- SHA-256 of a file, remembered in <cache_dir>/file-sha256.txt by path, size and modification
-- time (as git's index does), so large weight files are hashed once.
local function cached_file_hash(path, cache_dir)
  local kind, size, mtime = lumen.file_type(path)
  if kind ~= "file" or not cache_dir or cache_dir == "" then return lumen.sha256_file(path) end
  local key = string.format("%d %d %s", size, mtime, path)
  local cache = cache_dir .. "/file-sha256.txt"
  local lines, f = {}, io.open(cache, "rb")
  if f then
    for line in f:lines() do
      local h, k = line:match("^(%x+) (.*)$")
      if h and #h == 64 then
        if k == key then
          f:close()
          return h
        end
        if #lines < 200 then lines[#lines + 1] = line end
      end
    end
    f:close()
  end
  local h, err = lumen.sha256_file(path)
  if not h then return nil, err end
  table.insert(lines, 1, h .. " " .. key)
  if lumen.mkdir(cache_dir) then report.write_atomic(cache, table.concat(lines, "\n") .. "\n") end
  return h
end

-- SHA-256 of the model: of its weights file, else of its definition file plus the seed.
local function model_hash(m, cache_dir)
  if m.weights then return cached_file_hash(m.weights, cache_dir) end
  local h, err = lumen.sha256_file(m.file)
  if not h then return nil, err end
  return lumen.sha256(h .. ":random:" .. tostring(m.seed))
end

-- See the header. Returns a result table | nil, msg, kind.
function M.run(opts)
  local t_start = now_ms()
  local st = { size = math.tointeger(opts.size or 512), threshold = opts.threshold or 0.5,
    pipelines = {}, class_names = opts.class_names or post.CLASS_NAMES, out = opts.out }
  if not st.size or st.size < 32 or st.size % 32 ~= 0 then
    return nil, "--size must be a multiple of 32", "usage"
  end
  if st.threshold <= 0 or st.threshold >= 1 then
    return nil, "--threshold must be between 0 and 1", "usage"
  end
  local all, warnings = M.expand_inputs(opts.inputs or {})
  for _, w in ipairs(warnings) do io.stderr:write("warning: ", w, "\n") end
  if #all == 0 then return nil, "no input frames", "usage" end
  local si, sn = M.shard_of(opts.shard, opts.getenv)
  if not si then return nil, sn, "usage" end
  local inputs = M.shard_list(all, si, sn)

  local ok, rerr = load_rules(st, opts)
  if not ok then return nil, rerr, "usage" end

  local ctx, cerr = lumen.context(M.pick_device(opts.device, opts.getenv))
  if not ctx then return nil, cerr, "runtime" end
  st.ctx = ctx
  local m, merr = lumen.load_model(opts.model or "angio_qa", { ctx = ctx, size = { st.size, st.size } })
  if not m then return nil, "model: " .. tostring(merr), "runtime" end
  st.model = m
  local mhash, herr = model_hash(m, ctx:cache_stats().dir)
  if not mhash then return nil, "model hash: " .. tostring(herr), "runtime" end
  local device = ctx:device().name

  local rep
  if st.out then
    local rp, oerr = report.open(st.out, { suffix = sn > 1 and string.format("-shard%dof%d", si, sn) or "",
      class_names = st.class_names })
    if not rp then return nil, oerr, "runtime" end
    rep = rp
  end

  local records = {}
  local progress = M.progress(opts.progress)
  local last_flush = now_ms()
  for k, path in ipairs(inputs) do
    local input = json.utf8_clean(path)
    -- a file name that is not UTF-8 is reported with U+FFFD; its bytes stay recoverable
    local input_hex = input ~= path and
      (path:gsub(".", function(c) return string.format("%02x", c:byte()) end)) or nil
    local rec = { input = input, input_hex = input_hex, model = m.name, model_sha256 = mhash,
      device = device, threshold = st.threshold, lumen = lumen.version,
      shard = string.format("%d/%d", si, sn) }
    local ih, ierr = check_input(path)
    if ih then ih, ierr = lumen.sha256_file(path) end
    local old = ih and rep and rep:lookup(ih, mhash, st.threshold, rec.input)
    if old then
      rec = old -- a copy: records are never shared between frames
      rec.skipped, rec.input_hex = true, input_hex
      apply_rules(st, rec)
    elseif not ih then
      rec.status, rec.error = "error", M.clean_error(ierr)
    else
      rec.input_sha256 = ih
      local fok, ferr = pcall(run_frame, st, path, rec)
      if fok then
        rec.status = "ok"
        apply_rules(st, rec)
      else
        rec.status, rec.error = "error", M.clean_error(ferr)
        rec.class, rec.class_name, rec.score, rec.probabilities, rec.vessels = nil, nil, nil, nil, nil
      end
      rec.created = os.date("!%Y-%m-%dT%H:%M:%SZ")
    end
    records[#records + 1] = rec
    if rep then
      rep:add(rec)
      if now_ms() - last_flush > 30000 then
        rep:flush()
        last_flush = now_ms()
      end
    end
    if opts.on_record then opts.on_record(rec) end
    progress.update(k, #inputs, basename(path))
  end
  progress.finish()

  local summary = report.summarize(records, st.class_names)
  local res = { records = records, summary = summary, device = device, device_index = ctx:device().index,
    model = m.name, model_sha256 = mhash, shard = { si, sn }, inputs = inputs, all_inputs = all,
    wall_s = (now_ms() - t_start) / 1000, class_names = st.class_names, ctx = ctx, loaded = m }
  if rep then
    local paths, ferr = rep:finish({ title = opts.title or "lumen QC report", model = m.name,
      model_sha256 = mhash, device = device, created = os.date("%Y-%m-%d %H:%M"),
      wall_s = res.wall_s, class_names = st.class_names })
    if not paths then return nil, ferr, "runtime" end
    res.paths = paths
  end
  return res
end

return M
