-- angio_qa's package head: what `lumen qc` needs to know about the network, in plain Lua data
-- (no functions; it is read in an empty environment). Format: examples/README.md, "Model
-- packages". The network itself: model.lua + angio_qa.safetensors (the Lua door, the default)
-- or angio_qa.onnx (the ONNX door: `lumen qc --model models/angio_qa/angio_qa.onnx`).
return {
  name = "angio_qa",
  description = "vessel segmentation + quality class of single subtracted angiography (DSA) frames",
  model = { lua = "model.lua", weights = "angio_qa.safetensors", onnx = "angio_qa.onnx" },

  input = {
    name = "image", size = { 512, 512 }, channels = 1,
    -- on the device, per frame: gray for RGB, resize (area average when shrinking), min-max to
    -- [0, 1], then (x - 0.5) / 0.5, so 8- and 16-bit frames are treated alike
    preprocess = { { "gray" }, { "resize" }, { "minmax" }, { "scale", a = 2, b = -1 } },
  },
  outputs = {
    classes = "cls_logit",                 -- [1, 4] class logits
    segmentation = "seg_logit",            -- [1, 1, H, W] vessel logits (sigmoid -> probability)
  },
  segmentation = { label = "vessels", activation = "sigmoid" },

  classes = { "diagnostic", "motion_misregistration", "insufficient_contrast",
    "other_nondiagnostic" },
  acceptable = { "diagnostic" },
  -- calibration: probabilities are softmax(logits / temperature); set by the training run
  temperature = 0.9774,

  thresholds = {
    segmentation = 0.5,      -- vessel probability threshold (lumen qc --threshold)
    min_score = 0.6,         -- low_confidence: top class probability below this ...
    min_margin = 0.1,        -- ... or the top two classes closer than this
    min_area = 0.02,         -- few_vessels: vessel area fraction below this
    min_largest_share = 0.2, -- fragmented_vessels: largest vessel tree below this share
    series_max_bad_share = 0.5, -- series "repeat": at least this share of frames not acceptable
    series_max_bad_run = 3,     -- ... or this many not-acceptable frames in a row
  },
  rules = {
    { name = "nondiagnostic", kind = "not_acceptable" },
    { name = "low_confidence", kind = "low_confidence" },
    { name = "few_vessels", kind = "min_area" },
    { name = "fragmented_vessels", kind = "min_largest_share" },
  },

  intended_use = "Research and runtime development: flags DSA frames for a human QC reader. "
    .. "Not a medical device; not for diagnosis or clinical decisions.",
  weights = {
    status = "synthetic",
    note = "trained on synthetic DSA frames only (models/angio_qa/MODEL.md); results say "
      .. "nothing about clinical performance",
  },
}
