-- brats3d: the 4-modality 3D brain-tumour segmenter (BraTS regions WT, TC, ET) in lumen.nn.
-- It mirrors models/brats3d/reference.py module for module (keys: models/brats3d/STATE_DICT.txt).
--
--   local m = assert(lumen.load_model("brats3d", { size = { 128, 128, 128 },
--                                                 weights = "w.safetensors" }))
--   local out = assert(m:run({ volume = x }))     -- x [N, 4, D, H, W]: T1, T1c, T2, FLAIR
--   -- out.logits [N, 3, D, H, W]: WT, TC, ET (sigmoid per channel)
-- Volumes larger than the tile: build the model for the tile and blend tiles as in
-- models/brats3d/tiled.py (MODEL.md documents the tile grid and the Gaussian weights).
--
-- Configuration (all optional): in_ch (4), n_out (3), widths ({16, 32, 64, 128}), size
-- ({D, H, W}, multiples of 2^(#widths - 1); default {128, 128, 128}), batch (1).
local nn = require "lumen.nn"

local DEFAULTS = { in_ch = 4, n_out = 3, widths = { 16, 32, 64, 128 }, size = { 128, 128, 128 },
                   batch = 1 }

-- 2 x (conv3x3x3 with bias, InstanceNorm3d(affine), LeakyReLU 0.01); the first conv has 'stride'
local function block(cin, cout, stride)
  return nn.Sequential(
    nn.Conv3d(cin, cout, 3, { stride = stride, padding = 1 }),
    nn.InstanceNorm3d(cout, { affine = true }),
    nn.LeakyReLU(0.01),
    nn.Conv3d(cout, cout, 3, { padding = 1 }), nn.InstanceNorm3d(cout, { affine = true }),
    nn.LeakyReLU(0.01))
end

local BraTS3D = nn.class("BraTS3D")

function BraTS3D:__init(config)
  local c = nn.config("brats3d", DEFAULTS, config, 3)
  local w = c.widths
  local L = #w
  local size = nn.input_size("brats3d", c.size, 3, 1 << (L - 1), 3)
  c.size = size
  rawset(self, "config", c)

  local enc = nn.ModuleList({ block(c.in_ch, w[1], 1) })
  for k = 2, L do enc:append(block(w[k - 1], w[k], 2)) end
  self.enc = enc
  -- up path k = 1..L-1 (PyTorch k-1) ends at level j = L - k (1-based)
  local up, dec = nn.ModuleList(), nn.ModuleList()
  for k = 1, L - 1 do
    local j = L - k
    up:append(nn.ConvTranspose3d(w[j + 1], w[j], 2, { stride = 2, bias = false }))
    dec:append(block(2 * w[j], w[j], 1))
  end
  self.up = up
  self.dec = dec
  self.head = nn.Conv3d(w[1], c.n_out, 1)

  rawset(self, "inputs",
         { { name = "volume", shape = { c.batch, c.in_ch, size[1], size[2], size[3] } } })
  rawset(self, "outputs", { "logits" })
end

function BraTS3D:forward(b, x)
  local skips, L = {}, #self.enc
  for k = 1, L do
    x = self.enc[k](b, x)
    skips[k] = x
  end
  for k = 1, L - 1 do
    x = self.dec[k](b, nn.F.concat(b, { self.up[k](b, x), skips[L - k] }, 1)) -- upsampled first
  end
  return self.head(b, x)
end

return function(config) return BraTS3D(config) end
