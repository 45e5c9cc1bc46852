-- lumen.dicom: DICOM files as frame sources for the QC pipeline, the PHI policy, and the
-- Structured Report written per series.
--
--   local dicom = require "lumen.dicom"
--   dicom.is_candidate(path)           -- DICOM by content, or named .dcm/.dicom (an error record)
--   dicom.source                       -- the pipeline's frame source (registered by it)
--   local salt = dicom.salt(out_dir)   -- the folder's PHI salt (created on first use)
--   dicom.identity(d:info(), k, { phi = false, salt = salt })   -- record.dicom of frame k
--   dicom.write_sr(out_dir, verdict, records, session)  -- DIR/sr/<series uid>.dcm
--   dicom.write_srs(session, verdicts, records)          -- one SR per DICOM series
--
-- Identity in records (record.dicom): study/series/SOP instance UIDs, frame (1-based),
-- modality, series_number, instance_number, acquisition_datetime, sop_class_uid and
-- transfer_syntax. Patient identifiers stay out unless phi is true: by default only
-- patient_hash = SHA-256 of salt .. PatientID, with a random salt kept per output folder, so
-- one patient's series can be grouped within a report folder but not linked across folders.
local lumen = require "lumen"

local M = {}

M.EXTENSIONS = { dcm = true, dicom = true, dic = true }

local function extension(p) return (p:match("%.([%w]+)$") or ""):lower() end

-- Is path a DICOM file by content, or named like one? A non-DICOM file with a DICOM name is a
-- candidate too: it becomes an error record rather than silently vanishing.
function M.is_candidate(path)
  if M.EXTENSIONS[extension(path)] then return true end
  return lumen.dicom_probe(path) == true
end

-- The output folder's PHI salt: 32 random hex digits in DIR/phi-salt, made on first use. With
-- no folder, a fresh salt per run. Returns salt | nil, msg.
function M.salt(dir)
  local function fresh()
    local f = io.open("/dev/urandom", "rb")
    local bytes = f and f:read(16)
    if f then f:close() end
    if not bytes or #bytes ~= 16 then
      bytes = tostring(os.time()) .. tostring(os.clock()) .. tostring({})
    end
    return lumen.sha256(bytes):sub(1, 32)
  end
  if not dir then return fresh() end
  local path = dir .. "/phi-salt"
  local f = io.open(path, "rb")
  if f then
    local s = f:read("l")
    f:close()
    if s and s:match("^%x+$") and #s >= 32 then return s end
  end
  local ok, err = lumen.mkdir(dir)
  if not ok then return nil, err end
  local s = fresh()
  local ok2, werr = require("lumen.report").write_atomic(path, s .. "\n")
  if not ok2 then return nil, werr end
  return s
end

-- record.dicom for frame k of an opened file (info: d:info()).
function M.identity(info, k, opts)
  opts = opts or {}
  local function opt(v) return v ~= "" and v or nil end
  local id = {
    study_instance_uid = opt(info.study_instance_uid),
    series_instance_uid = opt(info.series_instance_uid),
    sop_instance_uid = opt(info.sop_instance_uid),
    sop_class_uid = opt(info.sop_class_uid),
    frame = k,
    frames = info.frames,
    modality = opt(info.modality),
    series_number = tonumber(info.series_number) or opt(info.series_number),
    instance_number = tonumber(info.instance_number) or opt(info.instance_number),
    acquisition_datetime = opt(info.acquisition_datetime),
    transfer_syntax = opt(info.transfer_syntax),
    photometric = opt(info.photometric),
  }
  if opts.phi then
    id.patient_id, id.patient_name = opt(info.patient_id), opt(info.patient_name)
  elseif info.patient_id ~= "" then
    id.patient_hash = lumen.sha256((opts.salt or "") .. info.patient_id)
  end
  return id
end

-- The pipeline's frame source for DICOM (lumen.pipeline's M.sources; see its header):
--   match(path)  DICOM by content, or named like DICOM (so a fake becomes an error record)
--   probe(path)  the same: folders list DICOM files whatever their names, and .dcm files
--                whatever their content (a fake one becomes an error record)
--   open(ctx, path, session) -> reader {count=, multi=true, frame=, close=} | nil, msg
-- reader:frame(i) gives the tensor of modality values, its info and the record fields
-- {dicom = identity}. session.phi opts in to patient identifiers; session.out holds the salt.
M.source = { name = "dicom", match = M.is_candidate, probe = M.is_candidate }

function M.source.open(ctx, path, session)
  local d, err = lumen.dicom_open(path)
  if not d then return nil, err end
  local info = d:info()
  if not info.has_pixels then
    d:close()
    return nil, path .. ": no Pixel Data (SOP class " ..
      (info.sop_class_uid ~= "" and info.sop_class_uid or "unknown") .. ")"
  end
  local phi = session and session.phi
  local salt
  if not phi then
    salt = session and session.phi_salt
    if not salt then
      local serr
      salt, serr = M.salt(session and session.out)
      if not salt then
        d:close()
        return nil, "PHI salt: " .. tostring(serr)
      end
      if session then session.phi_salt = salt end
    end
  end
  local reader = { count = info.frames, multi = true }
  function reader.frame(_, i)
    -- a frame that does not decode keeps its identity, so its series' SR lists it as failed
    local fields = { dicom = M.identity(info, i, { phi = phi, salt = salt }) }
    local img, ferr = d:frame(i)
    if not img then return nil, ferr, fields end
    local finfo = { width = img.width, height = img.height, channels = img.channels,
      bit_depth = img.bit_depth }
    local t, terr = img:tensor(ctx, "frame")
    img:free()
    if not t then return nil, terr, fields end
    return t, finfo, fields
  end
  function reader.close() d:close() end
  return reader
end

-- ---- Structured Reports ----

local function safe_name(uid) return (uid:gsub("[^%w%.%-]", "_")) end

-- The records of one series that can be referenced (they carry their DICOM identity), in
-- instance and frame order.
local function sr_frames(records, class_names)
  local frames = {}
  for _, r in ipairs(records) do
    local d = r.dicom
    if type(d) == "table" and d.sop_instance_uid and d.sop_class_uid and d.series_instance_uid
      and d.study_instance_uid then
      local f = { sop_class_uid = d.sop_class_uid, sop_instance_uid = d.sop_instance_uid,
        series_instance_uid = d.series_instance_uid, study_instance_uid = d.study_instance_uid,
        frame = d.frame or r.frame or 1, instance = tonumber(d.instance_number) or 0,
        class_name = r.class_name, score = r.score, probabilities = r.probabilities,
        flags = r.flags, source = r.input }
      if r.status ~= "ok" then f.error = tostring(r.error or "failed") end
      if r.status == "ok" and not r.class_name then f.class_name = "(no class)" end
      frames[#frames + 1] = f
    end
  end
  table.sort(frames, function(a, b)
    if a.instance ~= b.instance then return a.instance < b.instance end
    return a.frame < b.frame
  end)
  return frames, class_names
end

-- Writes the SR of one series verdict (lumen.series) with its records into DIR/sr/.
-- session: a pipeline session (for the model's name, hashes and classes) or a table with
-- pkg, model_sha256. Returns path, sop_instance_uid | nil, msg (nil, nil for a series
-- without DICOM frames).
function M.write_sr(out_dir, verdict, records, session)
  local frames = sr_frames(records)
  if #frames == 0 then return nil, nil end
  local ok, err = lumen.mkdir(out_dir .. "/sr")
  if not ok then return nil, err end
  local pkg = session.pkg or {}
  local head = pkg.head or {}
  local path = out_dir .. "/sr/" .. safe_name(frames[1].series_instance_uid) .. ".dcm"
  local reasons = verdict.reasons
  if type(reasons) == "table" then reasons = table.concat(reasons, "; ") end
  local uid, werr = lumen.dicom_sr_write(path, {
    source = frames[1].source, verdict = verdict.verdict, reasons = reasons,
    model = pkg.name, model_sha256 = session.model_sha256,
    model_version = head.version and tostring(head.version)
      or (pkg.head_sha256 and ("head sha256 " .. pkg.head_sha256:sub(1, 16))),
    lumen_version = lumen.version, class_names = pkg.classes, frames = frames })
  if not uid then return nil, werr end
  return path, uid
end

-- One SR per DICOM series of a finished run (verdicts from lumen.series, records tagged with
-- record.series). Sets verdict.sr (the path relative to session.out) or verdict.sr_error.
-- Returns the list of written paths.
function M.write_srs(session, verdicts, records)
  local written = {}
  -- lumen listen writes each series' SR when it completes (session.sr_per_series)
  if not session.out or session.sr_per_series then return written end
  local by = {}
  for _, r in ipairs(records) do
    if r.series then
      by[r.series] = by[r.series] or {}
      table.insert(by[r.series], r)
    end
  end
  for _, v in ipairs(verdicts) do
    if v.dicom and by[v.series] then
      local path, err = M.write_sr(session.out, v, by[v.series], session)
      if path then
        v.sr = path:sub(#session.out + 2)
        written[#written + 1] = path
      elseif err then
        v.sr_error = err
        io.stderr:write("warning: ", err, "\n")
      end
    end
  end
  return written
end

return M
