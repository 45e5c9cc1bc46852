-- lumen.pipeline: runs a QC workflow over many frames with a model package.
--
--   local pipeline = require "lumen.pipeline"
--   local res, err, kind = pipeline.run({
--     inputs = { "examples/data" },   -- folders, globs ("data/*_f0?.png") or list files
--     model = "angio_qa",             -- a package: NAME | DIR | FILE.onnx | FILE.lua
--     head = nil,                     -- an explicit head file for the model
--     device = nil, size = nil,       -- size: N plans the network at N x N (default: the head's)
--     precision = "fp32",             -- "fp16": weights and activations stored as half
--     threshold = nil,                -- segmentation probability threshold (default: the head's)
--     out = "report",                 -- nil: no files written
--     rules = nil,                    -- a rule set or {rules=, thresholds=, series=} table, or
--     rules_file = nil, sandbox = nil,--   a rules file (+ sandbox = true); default: the head's
--     series_pattern = nil,           -- Lua pattern on file names; default: series = folder
--     shard = "0/2",                  -- else SLURM / Open MPI environment, else "0/1"
--     on_record = function(rec) end,  -- called for every record, new or reused
--     command = "lumen qc ...",       -- recorded in the provenance
--     phi = false,                    -- DICOM: true puts PatientID/Name in records (lumen.dicom)
--   })
--   -- res.records (input order), res.series (verdicts), res.summary, res.notice (weights
--   -- status words, nil when validated), res.provenance, res.device, res.model, res.wall_s,
--   -- res.paths
--
-- Frames arriving one by one (a DICOM listener) use a session instead of run():
--   local s = assert(pipeline.open(opts)); s:process(path) or s:process_frame(...); s:finish()
--   s:series_verdicts(records) gives the verdicts of any set of records (one series: see
--   lumen.series.verdict).
--
-- Per frame: a frame source reads it (PNG 8/16-bit gray, gray+alpha, RGB(A); .npy; or one
-- frame of a multi-frame input from an added source) -> the head's device preprocessing (one
-- cached pipeline per input shape) -> the network -> class probabilities (softmax(logits /
-- temperature)), segmentation statistics, thumbnail + overlay -> rules. A frame that fails
-- anywhere becomes a record with status "error" and the batch goes on. Frames whose input
-- hash, frame number, model hash, head hash, threshold and precision match a finished record
-- in the output folder are not run again: their record is kept (flags re-evaluated with the
-- current rules). Then frames are grouped into series and each series gets a verdict
-- (lumen.series).
--
-- Failures of the whole run return nil, msg, kind with kind "usage" (bad options, a missing
-- input path, an unknown model, a bad rules file: nothing loaded or written) or "runtime" (no
-- device, the network fails to load, the report cannot be written): CLI exit codes 2 and 3.
local lumen = require "lumen"
local pre = require "lumen.preprocess"
local post = require "lumen.postprocess"
local report = require "lumen.report"
local json = require "lumen.json"

local M = {}

local inputs = require "lumen.inputs"
-- inputs, shards, devices and progress live in lumen.inputs; the same names here
M.IMAGE_EXTENSIONS, M.extension, M.glob_match = inputs.IMAGE_EXTENSIONS, inputs.extension,
  inputs.glob_match
M.parse_shard, M.shard_of, M.shard_list = inputs.parse_shard, inputs.shard_of, inputs.shard_list
M.pick_device, M.progress, M.now_ms = inputs.pick_device, inputs.progress, inputs.now_ms
local now_ms, extension = inputs.now_ms, inputs.extension

local function round(x, digits)
  if type(x) ~= "number" or x ~= x then return x end
  return tonumber(string.format("%." .. (digits or 6) .. "g", x))
end

local function basename(p) return p:match("([^/]*)$") end

-- Expands command-line inputs into frame paths (lumen.inputs.expand_inputs with the frame
-- sources below). Returns paths, warnings, missing.
function M.expand_inputs(args)
  return inputs.expand_inputs(args, { probe = M.probe_sources, claims = M.source_claims })
end

-- ---- frame sources ----

-- A frame source turns one input path into frames. M.sources is tried in order; the first
-- whose match(path) is true opens the path:
--   { name = "dicom", match = function(path) -> boolean,
--     open = function(ctx, path, session) -> reader | nil, msg,
--     probe = function(path) -> boolean }   (optional: recognises files by content)
--   reader.count   number of frames in the input
--   reader.multi   true when frames are numbered (records get `frame` = 1..count)
--   reader:frame(i) -> tensor [1, C, H, W] (raw sample values), info {width=, height=,
--                      channels=, bit_depth=}, fields (extra record fields: dicom = {...},
--                      series_key = "..." ...) | nil, msg [, fields for the error record]
--   reader:close()  (optional)
-- Another source (DICOM, lumen.dicom) is added with M.add_source(src): it is tried before the
-- image source. Folders list the files its probe recognises, whatever their names.

-- The file signatures of the frame formats: checked before a frame is hashed or decoded.
local SIGNATURES = { png = "\137PNG\r\n\26\n", npy = "\147NUMPY" }

-- Checks that path is a regular file (a FIFO, device or folder would block or never end) that
-- starts with its format's signature (when it has a known one). Returns true | nil, msg.
function M.check_input(path)
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

-- Is every value of the array finite (no NaN, no infinity)?
local function all_finite(data)
  local huge = math.huge
  for i = 1, #data do
    local v = data[i]
    if v ~= v or v == huge or v == -huge then return false end
  end
  return true
end
M.all_finite = all_finite

-- Reads a PNG or .npy file into a device tensor [1, C, H, W] with raw sample values. Gray+alpha
-- PNGs arrive as gray (lumen.png_read drops the alpha plane); non-finite samples are refused.
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
M.read_frame = read_frame

-- The built-in source: one frame per PNG or .npy file (and the last resort for any path, so
-- that an unreadable file becomes an error record naming the reason).
M.image_source = {
  name = "image",
  match = function() return true end,
  open = function(ctx, path)
    return { count = 1, multi = false, frame = function(_, _) return read_frame(ctx, path) end }
  end,
}
M.sources = { M.image_source }

-- Does a source claim path for a folder listing (src.probe, optional; DICOM: by content)?
function M.probe_sources(path)
  for _, src in ipairs(M.sources) do
    if src.probe and src.probe(path) then return true end
  end
  return false
end

-- Does a source other than the image source take path (so it is not a list file)?
function M.source_claims(path)
  for _, src in ipairs(M.sources) do
    if src ~= M.image_source and src.match(path) then return true end
  end
  return false
end

-- Adds a frame source in front of the others (see above).
function M.add_source(src)
  assert(type(src) == "table" and type(src.match) == "function" and type(src.open) == "function",
    "add_source: needs {name=, match=function, open=function}")
  table.insert(M.sources, 1, src)
end

M.add_source(require("lumen.dicom").source)

local function source_for(path)
  for _, src in ipairs(M.sources) do
    if src.match(path) then return src end
  end
  return M.image_source
end

-- ---- one frame ----

-- Preprocessing pipelines kept for distinct input shapes (beyond this, the least recently used
-- one is freed): each holds device buffers of its frame size.
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
  while #st.pipelines >= M.MAX_PIPELINES do
    local old = table.remove(st.pipelines)
    if old.p.model.free then old.p.model:free() end
  end
  local ok, p, perr = pcall(pre.new, st.ctx, shape, st.pkg.preprocess)
  if not ok or not p then error("preprocessing: " .. M.clean_error(ok and perr or p), 0) end
  table.insert(st.pipelines, 1, { key = key, p = p })
  return p
end

-- Runs one frame tensor through the package's preprocessing, the network and the
-- post-processing; fills rec. Raises on failure (the caller turns the error into an error
-- record). In two halves, so that several devices can work at once (Session:process_all):
-- frame_start preprocesses and enqueues the network without waiting and returns the state
-- frame_finish needs once the device is done; run_frame is the two in a row.
local function frame_start(st, frame, info, rec)
  local t0 = now_ms()
  local pkg = st.pkg
  rec.width, rec.height, rec.channels, rec.bit_depth = info.width, info.height, info.channels,
    info.bit_depth
  local p = pipeline_for(st, frame:shape())
  local x, xerr = p:run(frame)
  if not x then error("preprocessing: " .. tostring(xerr), 0) end
  local t1 = now_ms()
  local ok, rerr = pkg.loaded:start({ [pkg.input_name] = x })
  if not ok then error("inference: " .. tostring(rerr), 0) end
  return { x = x, t0 = t0, t1 = t1 }
end

local function frame_finish(st, fs, rec)
  local pkg, x, t0, t1 = st.pkg, fs.x, fs.t0, fs.t1
  local out = pkg.loaded:output_tensors()
  local seg = pkg.seg_output and out[pkg.seg_output]
  if pkg.class_output then
    local logits, lerr = out[pkg.class_output]:read() -- waits for the device
    if not logits then error("inference: " .. tostring(lerr), 0) end
    if not all_finite(logits) then
      error("inference: the model output holds NaN or infinite values (no class is given)", 0)
    end
    local cls = pkg:classify(logits)
    rec.class, rec.class_name, rec.score = cls.class, cls.class_name, round(cls.score)
    rec.margin, rec.acceptable = round(cls.margin), cls.acceptable
    rec.probabilities = {}
    for k, v in pairs(cls.probabilities) do rec.probabilities[k] = round(v) end
  elseif seg then
    local _, serr = seg:read() -- waits for the device (timing)
    if serr then error("inference: " .. tostring(serr), 0) end
  end
  local t2 = now_ms()
  local logits = pkg.seg_activation == "sigmoid"
  if seg then
    local v = post.vessel_stats(seg, st.threshold, { logits = logits })
    if v.nonfinite > 0 then
      error("inference: the segmentation output holds " .. v.nonfinite
        .. " NaN or infinite values", 0)
    end
    rec[pkg.seg_label] = { area_fraction = round(v.area_fraction), pixels = v.pixels,
      components = v.components, largest_share = round(v.largest_share) }
  end
  if st.out then
    local stem = basename(rec.input):gsub("%.[^.]*$", ""):gsub("[^%w_%-]", "_")
    local rel = "images/" .. stem .. (rec.frame and ("_" .. rec.frame) or "") .. "_"
      .. rec.input_sha256:sub(1, 8)
    local prefix = st.out .. "/" .. rel
    if seg and pkg.seg_same_size and x:shape()[2] == 1 then
      local thumb, oerr = post.write_images(prefix, x, seg, st.threshold,
        { logits = logits, alpha = 0.45 })
      if not thumb then error("writing images: " .. tostring(oerr), 0) end
      rec.thumbnail, rec.overlay = rel .. "_thumb.png", rel .. "_overlay.png"
    elseif x:shape()[2] == 1 then -- no map to overlay: the frame alone
      local ok, oerr = lumen.overlay_png(prefix .. "_thumb.png", x, x, { threshold = math.huge,
        step = math.max(1, x:shape()[3] // 128) })
      if not ok then error("writing images: " .. tostring(oerr), 0) end
      rec.thumbnail = rel .. "_thumb.png"
    end
  end
  local t3 = now_ms()
  rec.ms = { preprocess = round(t1 - t0, 4), inference = round(t2 - t1, 4),
    postprocess = round(t3 - t2, 4) }
end

local function run_frame(st, frame, info, rec)
  frame_finish(st, frame_start(st, frame, info, rec), rec)
end

-- Applies the run's rules to a record (in the sandbox when asked); sets rec.flags and, when a
-- rule failed, rec.rule_errors.
local function apply_rules(st, rec)
  local flags, errors = post.evaluate(st.rules, rec)
  if st.rules_source then
    local sflags, serrors = require("lumen.sandbox").rules(st.rules_source, st.rules_name, rec)
    if not sflags then sflags, serrors = { "rule_error:sandbox" }, { serrors } end
    table.move(sflags, 1, #sflags, #flags + 1, flags)
    table.move(serrors, 1, #serrors, #errors + 1, errors)
  end
  rec.flags = flags
  rec.rule_errors = #errors > 0 and errors or nil
end

-- ---- rules ----

-- A rules file returns either a rule set (a list of {name=, check=} or a map name -> check:
-- it replaces the package's frame rules), or a table with any of
--   rules = <rule set>          (replaces the package's frame rules)
--   thresholds = {name = value} (merged over the package's: min_score, min_area, ...,
--                               series_max_bad_share, series_max_bad_run)
--   series = function(summary, thresholds, records) -> verdict, reasons (not with --sandbox)
local SPEC_PROBE = [[
local src, name = ...
local chunk, err = load(src, "@" .. name, "t")
if not chunk then error(err, 0) end
local t = chunk()
if type(t) ~= "table" then error("rules file must return a table, got " .. type(t), 0) end
local spec = type(t.thresholds) == "table" or type(t.rules) == "table" or t.series ~= nil
local th = spec and t.thresholds or nil
return { spec = spec, thresholds = th, rules = (not spec) or t.rules ~= nil,
  series = spec and t.series ~= nil }
]]

local function is_spec(t)
  return type(t) == "table" and (type(t.thresholds) == "table" or type(t.rules) == "table"
    or t.series ~= nil)
end

local function merge_thresholds(st, th, where)
  if th == nil then return true end
  if type(th) ~= "table" then return nil, where .. ": 'thresholds' must be a table" end
  for k, v in pairs(th) do
    if type(v) ~= "number" then
      return nil, string.format("%s: threshold '%s' must be a number", where, tostring(k))
    end
    st.thresholds[k] = v
  end
  return true
end

-- Loads a rules file or table (see above), before the network is loaded (a broken file is a
-- usage error). Sets st.rules (host rules replacing the package's; nil: the package's, built
-- once the network is loaded), st.rules_source (sandboxed rule text), st.series_rule,
-- st.thresholds, st.rules_sha256. Returns true | nil, msg.
local function load_rules(st, opts)
  st.rules_sha256 = "package"
  if opts.rules then
    if is_spec(opts.rules) then
      local ok, err = merge_thresholds(st, opts.rules.thresholds, "rules")
      if not ok then return nil, err end
      st.series_rule = opts.rules.series
      st.rules = opts.rules.rules and post.normalize_rules(opts.rules.rules) or nil
    else
      st.rules = post.normalize_rules(opts.rules)
    end
    return true
  end
  if not opts.rules_file then return true end
  local path = opts.rules_file
  local kind = lumen.file_type(path)
  if kind ~= "file" then
    return nil, "rules " .. path .. ": "
      .. (kind and "not a file (a " .. kind .. ")" or "no such file")
  end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local src = f:read("a")
  f:close()
  st.rules_sha256 = lumen.sha256(src)
  if opts.sandbox then
    local probe, perr = require("lumen.sandbox").run(SPEC_PROBE, "=rules", { args = { src, path },
      memory = 32 << 20, instructions = 10000000 })
    if not probe then return nil, "rules " .. path .. ": " .. tostring(perr) end
    if probe.series then
      return nil, "rules " .. path .. ": a 'series' function cannot run with --sandbox "
        .. "(give series thresholds instead)"
    end
    local ok, terr = merge_thresholds(st, probe.thresholds, "rules " .. path)
    if not ok then return nil, terr end
    if probe.rules then
      st.rules = {}
      st.rules_source, st.rules_name = src, path
      -- check once that the file's rules run, so a broken file fails the run early
      local flags, ferr = require("lumen.sandbox").rules(src, path, st.sample_record)
      if not flags then return nil, "rules " .. path .. ": " .. ferr end
    end
    return true
  end
  local chunk, lerr = load(src, "@" .. path, "t")
  if not chunk then return nil, lerr end
  local ok, rules = pcall(chunk)
  if not ok then return nil, "rules " .. path .. ": " .. tostring(rules) end
  local list
  if is_spec(rules) then
    local mok, merr = merge_thresholds(st, rules.thresholds, "rules " .. path)
    if not mok then return nil, merr end
    if rules.series ~= nil and type(rules.series) ~= "function" then
      return nil, "rules " .. path .. ": 'series' must be a function(summary, thresholds, records)"
    end
    st.series_rule = rules.series
    if rules.rules ~= nil then list = rules.rules end
  else
    list = rules
  end
  if list ~= nil then
    local nok, norm = pcall(post.normalize_rules, list)
    if not nok then return nil, path .. ": " .. tostring(norm) end
    st.rules = norm
  end
  return true
end

-- ---- hashes ----

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

-- SHA-256 of the model: of its weights file (the ONNX file for the ONNX door), else of its
-- definition file plus the seed.
local function model_hash(m, cache_dir)
  if m.weights then return cached_file_hash(m.weights, cache_dir) end
  local h, err = lumen.sha256_file(m.file)
  if not h then return nil, err end
  return lumen.sha256(h .. ":random:" .. tostring(m.seed))
end

-- ---- the session ----

local Session = {}
Session.__index = Session

local function copy_table(t)
  local c = {}
  for k, v in pairs(t) do c[k] = type(v) == "table" and copy_table(v) or v end
  return c
end

-- A record for one frame of an input, with the run's provenance (a copy per record).
-- An error message for a record: text, without the "file.lua:123: " a Lua error carries (an
-- internal location says nothing to the reader of a report), and valid UTF-8.
function M.clean_error(e)
  return json.utf8_clean((tostring(e):gsub("^[^:\n]*%.lua:%d+: ", "")))
end

-- The record's name of an input path: valid UTF-8 (bytes that are not become U+FFFD), and the
-- path's bytes in hex when they had to be replaced (so they stay recoverable).
function M.input_name(path)
  local name = json.utf8_clean(path)
  if name == path then return name, nil end
  return name, (path:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

function Session:new_record(path, frame)
  local input, input_hex = M.input_name(path)
  return { input = input, input_hex = input_hex, frame = frame, model = self.pkg.name,
    model_sha256 = self.model_sha256, head_sha256 = self.pkg.head_sha256,
    weights_status = self.pkg.weights_status,
    device = self.device, device_index = self.device_index, threshold = self.threshold,
    lumen = lumen.version,
    shard = string.format("%d/%d", self.shard[1], self.shard[2]),
    provenance = copy_table(self.provenance) }
end

-- Runs one frame tensor (from any source) and returns its record; the record is added to the
-- report (when there is one) and passed to opts.on_record. fields: extra record fields (e.g.
-- dicom = {...}, series_key = "..."); input_sha256: of the input's bytes.
function Session:process_frame(path, frame_no, tensor, info, input_sha256, fields)
  local rec = self:new_record(path, frame_no)
  for k, v in pairs(fields or {}) do rec[k] = v end
  rec.input_sha256 = input_sha256
  self:complete_record(rec, pcall(run_frame, self, tensor, info, rec))
  self.frames = self.frames + 1
  self:add(rec)
  return rec
end

-- Sets a processed record's status from run_frame's outcome (pcall's ok, err) and applies the
-- rules to an ok one.
function Session:complete_record(rec, ok, err)
  if ok then
    rec.status = "ok"
    apply_rules(self, rec)
  else
    rec.status, rec.error = "error", M.clean_error(err)
    rec.class, rec.class_name, rec.score, rec.probabilities = nil, nil, nil, nil
    rec.margin, rec.acceptable = nil, nil
    if self.pkg.seg_label then rec[self.pkg.seg_label] = nil end
  end
  rec.created = os.date("!%Y-%m-%dT%H:%M:%SZ")
end

-- Makes a finished record of an earlier run part of this one: its path, its flags under this
-- run's rules, and this run's provenance except where the numbers were computed (device,
-- driver, precision, lumen version stay the earlier run's).
function Session:revive(old, path)
  old.input, old.input_hex = M.input_name(path)
  old.skipped = true
  local prov = copy_table(self.provenance)
  local was = type(old.provenance) == "table" and old.provenance or {}
  for _, k in ipairs({ "device", "device_index", "platform", "driver", "precision", "lumen" }) do
    if was[k] ~= nil then prov[k] = was[k] end
  end
  old.provenance = prov
  apply_rules(self, old)
end

-- Adds a finished record (new or reused) to the run.
function Session:add(rec)
  self.records[#self.records + 1] = rec
  if self.report then
    self.report:add(rec)
    if now_ms() - self.last_flush > 30000 then
      self.report:flush()
      self.last_flush = now_ms()
    end
  end
  if self.on_record then self.on_record(rec) end
end

-- fields: what the source knows of a frame it could not decode (its DICOM identity), so
-- that the error record still belongs to its series (and its SR).
local function new_error_record(self, path, frame, msg, ih, fields)
  local rec = self:new_record(path, frame)
  for k, v in pairs(type(fields) == "table" and fields or {}) do rec[k] = v end
  rec.input_sha256 = ih
  rec.status, rec.error = "error", M.clean_error(msg)
  rec.created = os.date("!%Y-%m-%dT%H:%M:%SZ")
  return rec
end

local function error_record(self, path, frame, msg, ih, fields)
  local rec = new_error_record(self, path, frame, msg, ih, fields)
  self:add(rec)
  return rec
end

-- Processes one input path: all its frames (from the first frame source that matches).
-- Frames whose record from an earlier run still holds (same input bytes, model, head,
-- threshold) are reused. Returns the list of its records.
function Session:process(path)
  local n0 = #self.records
  -- type and signature first: a FIFO, a device or a 100 MB non-PNG costs a stat and 8 bytes
  local ih, ierr = M.check_input(path)
  if ih then ih, ierr = lumen.sha256_file(path) end
  if not ih then
    error_record(self, path, nil, ierr)
    return { table.unpack(self.records, n0 + 1) }
  end
  local function reuse(frame)
    local old = self.report and self.report:lookup(ih, self.model_sha256, self.threshold,
      { head_sha256 = self.pkg.head_sha256, frame = frame, input = (M.input_name(path)),
        precision = self.provenance.precision })
    if not old then return false end
    -- a copy (records are never shared between frames), under this path
    self:revive(old, path)
    self:add(old)
    return true
  end
  if reuse(nil) then return { table.unpack(self.records, n0 + 1) } end
  local src = source_for(path)
  local reader, rerr = src.open(self.ctx, path, self)
  if not reader then
    error_record(self, path, nil, rerr, ih)
    return { table.unpack(self.records, n0 + 1) }
  end
  for i = 1, reader.count do
    local fno = reader.multi and i or nil
    if not (fno and reuse(fno)) then
      local ok, t, info, fields = pcall(reader.frame, reader, i)
      if not ok or not t then
        error_record(self, path, fno, ok and info or t, ih, ok and fields)
      else
        self:process_frame(path, fno, t, info, ih, fields)
        if type(t) == "userdata" and t.free then t:free() end
      end
    end
  end
  if reader.close then reader:close() end
  return { table.unpack(self.records, n0 + 1) }
end

-- Processes inputs over several devices (self.workers: each a view of the session with its
-- own context, package and preprocessing, see M.open): every frame is a job handed to
-- whichever device is free (lumen.devpool), and records are added in input order, as a run on
-- one device adds them. Reuse of earlier records and error records work as in :process.
-- progress(done_inputs) is called as inputs finish. Returns the list of the records added.
function Session:process_all(paths, progress)
  local devpool = require "lumen.devpool"
  local n0 = #self.records
  local held, next_out, n_slots = {}, 1, 0
  local function slot() n_slots = n_slots + 1; return n_slots end
  local function put(k, rec) -- records leave the reorder buffer in input order
    held[k] = rec
    while held[next_out] do
      self:add(held[next_out])
      held[next_out], next_out = nil, next_out + 1
    end
  end
  local inputs_done = 0
  local function input_done(ps)
    for _, w in ipairs(self.workers) do
      local r = w.readers[ps.path]
      if r and r.close then r:close() end
      w.readers[ps.path] = nil
    end
    inputs_done = inputs_done + 1
    if progress then progress(inputs_done, ps.path) end
  end
  local function reuse(ps, frame)
    local old = self.report and self.report:lookup(ps.ih, self.model_sha256, self.threshold,
      { head_sha256 = self.pkg.head_sha256, frame = frame, input = (M.input_name(ps.path)) })
    if not old then return false end
    self:revive(old, ps.path)
    put(slot(), old)
    return true
  end

  -- jobs, generated as the devices take them: one per frame still to run
  local pi, cur, fi = 0, nil, 0
  local first = self.workers[1]
  local function next_job()
    while true do
      if cur then
        while fi < cur.count do
          fi = fi + 1
          local fno = cur.multi and fi or nil
          if not (fno and reuse(cur, fno)) then
            cur.remaining = cur.remaining + 1
            return { ps = cur, i = fi, fno = fno, seq = slot() }
          end
        end
        local ps = cur
        cur = nil
        ps.generated = true
        if ps.remaining == 0 then input_done(ps) end
      end
      pi = pi + 1
      local path = paths[pi]
      if not path then return nil end
      local ps = { path = path, remaining = 0 }
      -- type and signature first: a FIFO, a device or a 100 MB non-PNG costs a stat and 8 bytes
      local ih, ierr = M.check_input(path)
      if ih then ih, ierr = lumen.sha256_file(path) end
      ps.ih = ih
      if not ih then
        put(slot(), new_error_record(self, path, nil, ierr))
        input_done(ps)
      elseif reuse(ps, nil) then
        input_done(ps)
      else
        ps.src = source_for(path)
        local reader, rerr = ps.src.open(first.ctx, path) -- learns the frame count
        if not reader then
          put(slot(), new_error_record(self, path, nil, rerr, ih))
          input_done(ps)
        else
          first.readers[path] = reader
          ps.count, ps.multi = reader.count, reader.multi
          cur, fi = ps, 0
        end
      end
    end
  end

  local function start(w, job)
    local ps = job.ps
    local reader = w.readers[ps.path]
    if not reader then
      local rerr
      reader, rerr = ps.src.open(w.ctx, ps.path)
      if not reader then return nil, rerr end
      w.readers[ps.path] = reader
    end
    local ok, t, info, fields = pcall(reader.frame, reader, job.i)
    if not ok or not t then
      job.fields = ok and fields
      return nil, ok and info or t
    end
    local rec = w:new_record(ps.path, job.fno)
    for k, v in pairs(fields or {}) do rec[k] = v end
    rec.input_sha256 = ps.ih
    job.rec = rec
    local sok, fs = pcall(frame_start, w, t, info, rec)
    if type(t) == "userdata" and t.free then t:free() end
    if not sok then return nil, fs end
    job.fs = fs
    return w.pkg.loaded.model
  end

  local function finish(w, job, _, err)
    local ps, rec = job.ps, job.rec
    if not rec then
      rec = new_error_record(w, ps.path, job.fno, err, ps.ih, job.fields)
    elseif err then
      w:complete_record(rec, false, err)
    else
      w:complete_record(rec, pcall(frame_finish, w, job.fs, rec))
    end
    w.frames = w.frames + 1
    put(job.seq, rec)
    ps.remaining = ps.remaining - 1
    if ps.generated and ps.remaining == 0 then input_done(ps) end
  end

  devpool.run(self.workers, next_job, start, finish)
  return { table.unpack(self.records, n0 + 1) }
end

-- The series verdicts of the records so far (or of the given records).
function Session:series_verdicts(records)
  local series = require "lumen.series"
  records = records or self.records
  series.tag(records, { pattern = self.series_pattern })
  return series.verdicts(records, { pattern = self.series_pattern, thresholds = self.thresholds,
    rule = self.series_rule })
end

-- Ends the run: series verdicts, summary, report files. Returns the result table (see the
-- header) | nil, msg, "runtime".
function Session:finish()
  local recs = self.records
  local verdicts = self:series_verdicts(recs)
  local srs = require("lumen.dicom").write_srs(self, verdicts, recs) -- DICOM series: DIR/sr/
  local summary = report.summarize(recs, self.pkg.classes)
  local res = { records = recs, series = verdicts, summary = summary, device = self.device,
    device_index = self.ctx:device().index, model = self.pkg.name,
    model_sha256 = self.model_sha256, shard = self.shard, inputs = self.inputs,
    all_inputs = self.all_inputs, wall_s = (now_ms() - self.t_start) / 1000,
    class_names = self.pkg.classes, ctx = self.ctx, loaded = self.pkg.loaded, package = self.pkg,
    notice = self.pkg:notice(), provenance = self.provenance, devices = {}, srs = srs }
  for i, w in ipairs(self.workers or { self }) do
    res.devices[i] = { name = w.device, index = w.device_index, frames = w.frames }
  end
  if self.report then
    local paths, ferr = self.report:finish({ title = self.title, model = self.pkg.name,
      model_sha256 = self.model_sha256, device = self.device,
      created = os.date("%Y-%m-%d %H:%M"), wall_s = res.wall_s, class_names = self.pkg.classes,
      series = verdicts, notice = res.notice, package = self.pkg:describe(),
      provenance = self.provenance, seg_label = self.pkg.seg_output and self.pkg.seg_label,
      rules = self.rule_messages })
    if not paths then return nil, ferr, "runtime" end
    res.paths = paths
  end
  return res
end

-- Opens a QC session: checks the options, resolves the package and the rules (usage errors:
-- nothing is loaded or written), then selects the device, loads the network and opens the
-- report folder. opts as for M.run (inputs aside). Returns a Session | nil, msg, kind.
function M.open(opts)
  local pk = require "lumen.package"
  local st = setmetatable({ t_start = now_ms(), pipelines = {}, out = opts.out, records = {},
    last_flush = now_ms(), on_record = opts.on_record, title = opts.title or "lumen QC report",
    series_pattern = opts.series_pattern, shard = opts.shard_pair or { 0, 1 }, phi = opts.phi,
    inputs = opts.inputs_list or {}, all_inputs = opts.all_inputs or {} }, Session)
  if opts.size ~= nil then
    local sz = math.tointeger(opts.size)
    if not sz or sz < 32 or sz % 32 ~= 0 then
      return nil, "--size must be a multiple of 32, at least 32", "usage"
    end
    st.size = sz
  end
  st.precision = opts.precision or "fp32"
  if st.precision ~= "fp32" and st.precision ~= "fp16" then
    return nil, "--precision must be fp32 or fp16", "usage"
  end
  if opts.threshold ~= nil and (type(opts.threshold) ~= "number" or opts.threshold <= 0
      or opts.threshold >= 1) then
    return nil, "--threshold must be between 0 and 1", "usage"
  end
  if st.series_pattern then
    local ok, perr = require("lumen.series").check_pattern(st.series_pattern)
    if not ok then return nil, perr, "usage" end
  end
  local where, werr, wkind = pk.resolve(opts.model or pk.DEFAULT, opts.head)
  if not where then return nil, werr, wkind end
  local head = where.head
  st.thresholds = {}
  for k, v in pairs(head and head.thresholds or pk.DEFAULT_THRESHOLDS) do st.thresholds[k] = v end
  if opts.threshold then st.thresholds.segmentation = opts.threshold end
  local probs = {}
  for _, c in ipairs(head and head.classes or {}) do probs[c] = 1 / #head.classes end
  st.sample_record = { class = 0,
    class_name = head and head.classes and head.classes[1] or "class_0",
    score = 1, margin = 1, acceptable = true, probabilities = probs,
    [head and head.segmentation.label or "mask"] = { area_fraction = 0, pixels = 0, components = 0,
      largest_share = 0 } }
  local ok, rerr = load_rules(st, opts)
  if not ok then return nil, rerr, "usage" end
  st.threshold = st.thresholds.segmentation

  local sels, serr = require("lumen.devpool").selectors(opts.device)
  if serr then return nil, serr, "usage" end
  local selfcheck = require "lumen.selfcheck"
  local ctx, cerr = selfcheck.context(sels and sels[1] or M.pick_device(opts.device, opts.getenv),
    nil, opts.getenv)
  if not ctx then return nil, cerr, "runtime" end
  st.ctx, st.readers = ctx, {}
  local load_opts = { ctx = ctx, size = st.size, head = opts.head, thresholds = st.thresholds,
    precision = st.precision }
  local pkg, perr, pkind = pk.load(opts.model or pk.DEFAULT, load_opts)
  if not pkg then return nil, perr, pkind end
  -- what runs: fp16 storage falls back to fp32 on a device with the no_fp16 quirk or a failed
  -- fp16 self-check, and says so once
  local plan = pkg.loaded.plan or {}
  if plan.precision_note then io.stderr:write("warning: ", plan.precision_note, "\n") end
  st.pkg = pkg
  st.thresholds = pkg.thresholds
  if not st.rules then st.rules = pk.rules(pkg, st.thresholds) end
  st.rule_messages = {}
  for _, r in ipairs(st.rules) do st.rule_messages[r.name] = r.message end
  local mhash, herr = model_hash(pkg.loaded, ctx:cache_stats().dir)
  if not mhash then return nil, "model hash: " .. tostring(herr), "runtime" end
  st.model_sha256 = mhash
  local dev = ctx:device()
  st.device = dev.name
  local th = {}
  for k, v in pairs(st.thresholds) do th[k] = v end
  st.provenance = { lumen = lumen.version, model = pkg.name, door = pkg.door,
    model_file = pkg.model_file, model_sha256 = mhash, head_sha256 = pkg.head_sha256,
    weights_status = pkg.weights_status, weights_note = pkg.weights_note,
    temperature = pkg.temperature, seg_label = pkg.seg_output and pkg.seg_label or nil,
    device = dev.name, device_index = dev.index, platform = dev.platform, driver = dev.driver,
    precision = plan.precision or "fp32",
    rules = opts.rules_file or (opts.rules and "(table)") or "package",
    rules_sha256 = st.rules_sha256, sandbox = opts.sandbox and true or nil, thresholds = th,
    series_pattern = st.series_pattern, command = opts.command }
  -- one worker per device: the session itself, then a view of it per further device with
  -- its own context, network and preprocessing (see Session:process_all)
  st.workers, st.frames, st.device_index = { st }, 0, ctx:device().index
  for i = 2, #(sels or {}) do
    local c, e = selfcheck.context(sels[i], nil, opts.getenv)
    if not c then return nil, "device " .. sels[i] .. ": " .. tostring(e), "runtime" end
    load_opts.ctx = c
    local p, pe, pkd = pk.load(opts.model or pk.DEFAULT, load_opts)
    if not p then return nil, "device " .. sels[i] .. ": " .. tostring(pe), pkd end
    local d = c:device()
    local prov = copy_table(st.provenance)
    prov.device, prov.device_index, prov.platform, prov.driver = d.name, d.index, d.platform,
      d.driver
    st.workers[i] = setmetatable({ ctx = c, pkg = p, pipelines = {}, readers = {},
      device = d.name, device_index = d.index, provenance = prov, frames = 0 }, { __index = st })
  end
  if st.out then
    local si, sn = st.shard[1], st.shard[2]
    local rp, oerr = report.open(st.out, { class_names = pkg.classes,
      suffix = sn > 1 and string.format("-shard%dof%d", si, sn) or "" })
    if not rp then return nil, oerr, "runtime" end
    st.report = rp
  end
  return st
end

-- See the header. Returns a result table | nil, msg, kind.
function M.run(opts)
  local all, warnings, missing = M.expand_inputs(opts.inputs or {})
  for _, w in ipairs(warnings) do io.stderr:write("warning: ", w, "\n") end
  if #missing > 0 then
    return nil, "no such file or folder: " .. table.concat(missing, ", "), "usage"
  end
  if #all == 0 then return nil, "no input frames", "usage" end
  local si, sn = M.shard_of(opts.shard, opts.getenv)
  if not si then return nil, sn, "usage" end
  local mine = M.shard_list(all, si, sn)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.shard_pair, o.inputs_list, o.all_inputs = { si, sn }, mine, all
  local st, err, kind = M.open(o)
  if not st then return nil, err, kind end
  local progress = M.progress(opts.progress)
  if #st.workers > 1 then
    st:process_all(mine, function(k, path) progress.update(k, #mine, basename(path)) end)
  else
    for k, path in ipairs(mine) do
      st:process(path)
      progress.update(k, #mine, basename(path))
    end
  end
  progress.finish()
  return st:finish()
end

M.Session = Session
return M
