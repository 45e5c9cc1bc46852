-- The head of the bring-your-own-model example (tiny_seg.onnx, written by export_tiny_seg.py):
-- everything `lumen qc` needs to know about a network it has never seen, in plain Lua data.
-- `lumen qc FRAMES --model examples/byom/tiny_seg.onnx` finds this file beside the ONNX file.
return {
  name = "tiny_seg",
  description = "hand-set difference-of-Gaussians vessel segmentation (an example)",
  model = "tiny_seg.onnx",
  input = {
    name = "frame",
    size = { 256, 256 }, -- the ONNX input has dynamic height and width: planned at this size
    channels = 1,
    preprocess = { { "gray" }, { "resize" }, { "minmax" } }, -- values in [0, 1]
  },
  outputs = { segmentation = "vessel_logit" }, -- no class output
  segmentation = { label = "vessels", activation = "sigmoid" },
  thresholds = { segmentation = 0.5, min_area = 0.03, min_largest_share = 0.2,
    series_max_bad_share = 0.5, series_max_bad_run = 2 },
  -- without classes, a frame counts against its series when a rule flags it
  rules = {
    { name = "few_vessels", kind = "min_area" },
    { name = "fragmented_vessels", kind = "min_largest_share" },
  },
  intended_use = "An example of bringing one's own model to lumen qc; not a QC model.",
  weights = { status = "research", note = "hand-set weights, not trained or validated" },
}
