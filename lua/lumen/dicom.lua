-- lumen.dicom: DICOM files as frame sources for the QC pipeline, the PHI policy, and the
-- Structured Report written per series.
--
--   local dicom = require "lumen.dicom"
--   dicom.is_candidate(path)           -- DICOM by content, or named .dcm/.dicom (an error record)
--   local items = dicom.frames(path, { phi = false, salt = s })
--   -- one item per frame: { path =, frame = k, input = "path#k", input_sha256 =, dicom = {...} }
--   -- or one item { path =, input = path, error = msg } when the file does not open
--   local reader = dicom.reader()      -- reader:frame(ctx, item) -> tensor, info | nil, msg
--   local salt = dicom.salt(out_dir)   -- the folder's PHI salt (created on first use)
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

-- The frames of one DICOM file as pipeline items (see the header).
function M.frames(path, opts)
  local d, err = lumen.dicom_open(path, opts and opts.limits)
  if not d then return { { path = path, input = path, error = err } } end
  local info = d:info()
  d:close()
  if not info.has_pixels then
    return { { path = path, input = path, error = path .. ": no Pixel Data (SOP class " ..
      (info.sop_class_uid ~= "" and info.sop_class_uid or "unknown") .. ")" } }
  end
  -- one hash of the file's bytes; a frame's input hash adds its number
  local fh, herr = sha256.file(path)
  local items = {}
  for k = 1, info.frames do
    items[k] = { path = path, frame = k, input = path .. "#" .. k,
      input_sha256 = fh and sha256.hex(fh .. ":frame:" .. k), error = not fh and herr or nil,
      dicom = M.identity(info, k, opts) }
  end
  return items
end

-- A frame reader that keeps the last file open, so a multi-frame file is parsed once.
function M.reader()
  local self = { path = nil, d = nil }
  -- Returns a device tensor [1, C, H, W] of modality values and {width=, height=, channels=,
  -- bit_depth=} | nil, msg.
  function self.frame(_, ctx, item)
    if self.path ~= item.path then
      if self.d then self.d:close() end
      self.path, self.d = nil, nil
      local d, err = lumen.dicom_open(item.path)
      if not d then return nil, err end
      self.path, self.d = item.path, d
    end
    local img, err = self.d:frame(item.frame)
    if not img then return nil, err end
    local info = { width = img.width, height = img.height, channels = img.channels,
      bit_depth = img.bit_depth }
    local t, terr = img:tensor(ctx, "frame")
    img:free()
    if not t then return nil, terr end
    return t, info
  end
  function self.close()
    if self.d then self.d:close() end
    self.path, self.d = nil, nil
  end
  return self
end

return M
