-- lumen.dicom: DICOM files as frame sources for the QC pipeline, the PHI policy, and the
-- Structured Report written per series.
--
--   local dicom = require "lumen.dicom"
--   dicom.is_candidate(path)           -- DICOM by content, or named .dcm/.dicom (an error record)
--   dicom.source                       -- the pipeline's frame source (registered by it)
--   local salt = dicom.salt(out_dir)   -- the folder's PHI salt (created on first use)
--   dicom.identity(d:info(), k, { phi = false, salt = salt })   -- record.dicom of frame k
--
-- Identity in records (record.dicom): study/series/SOP instance UIDs, frame (1-based),
-- modality, series_number, instance_number, acquisition_datetime, sop_class_uid and
-- transfer_syntax. Patient identifiers stay out unless phi is true: by default only
-- patient_hash = SHA-256 of salt .. PatientID, with a random salt kept per output folder, so
-- one patient's series can be grouped within a report folder but not linked across folders.
local lumen = require "lumen"
local sha256 = require "lumen.sha256"

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
    return sha256.hex(bytes):sub(1, 32)
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
    id.patient_hash = sha256.hex((opts.salt or "") .. info.patient_id)
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
    local img, ferr = d:frame(i)
    if not img then return nil, ferr end
    local finfo = { width = img.width, height = img.height, channels = img.channels,
      bit_depth = img.bit_depth }
    local t, terr = img:tensor(ctx, "frame")
    img:free()
    if not t then return nil, terr end
    return t, finfo, { dicom = M.identity(info, i, { phi = phi, salt = salt }) }
  end
  function reader.close() d:close() end
  return reader
end

return M
