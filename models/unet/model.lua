-- unet: the seed U-Net (Ronneberger et al. 2015, bilinear variant, widths 64-128-256-512-512)
-- in lumen.nn. It mirrors models/unet/reference.py module for module, so the parameter names
-- are PyTorch's state_dict keys (models/unet/STATE_DICT.txt).
--
--   local m = assert(lumen.load_model("unet", { size = { 256, 256 },
--                                              weights = "unet.safetensors" }))
--   local out = assert(m:run({ image = x }))      -- out.logits [N, n_classes, H, W]
--
-- Configuration (all optional): in_ch (1), n_classes (2), widths ({64, 128, 256, 512, 512}),
-- up_mode ("bilinear" | "transpose"), align_corners (false), size ({H, W}, multiples of 16;
-- default {256, 256}), batch (1).
local nn = require "lumen.nn"
local F = nn.F

local DEFAULTS = { in_ch = 1, n_classes = 2, widths = { 64, 128, 256, 512, 512 },
                   up_mode = "bilinear", align_corners = false, size = { 256, 256 }, batch = 1 }

-- Sequential(conv3x3, BN, ReLU, conv3x3, BN, ReLU): keys .0.weight, .1.*, .3.weight, .4.*
local function double_conv(cin, cout)
  return nn.Sequential(
    nn.Conv2d(cin, cout, 3, { padding = 1, bias = false }), nn.BatchNorm2d(cout), nn.ReLU(),
    nn.Conv2d(cout, cout, 3, { padding = 1, bias = false }), nn.BatchNorm2d(cout), nn.ReLU())
end

local UNet = nn.class("UNet")

function UNet:__init(config)
  local c = nn.config("unet", DEFAULTS, config, 3)
  if c.up_mode ~= "bilinear" and c.up_mode ~= "transpose" then
    error("unet: up_mode must be 'bilinear' or 'transpose'", 3)
  end
  local w = c.widths
  if #w ~= 5 then error("unet: widths must list 5 channel counts", 3) end
  local size = nn.input_size("unet", c.size, 2, 16, 3)
  c.size = size
  rawset(self, "config", c)

  local enc = nn.ModuleList({ double_conv(c.in_ch, w[1]) })
  for k = 2, 5 do enc:append(double_conv(w[k - 1], w[k])) end
  self.enc = enc
  -- decoder k = 1..4 (PyTorch k-1) joins skip level j = 5 - k (1-based)
  local outs, up, dec, deep = { w[3], w[2], w[1], w[1] }, nn.ModuleList(), nn.ModuleList(), w[5]
  for k = 1, 4 do
    if c.up_mode == "transpose" then
      up:append(nn.ConvTranspose2d(deep, deep, 2, { stride = 2 }))
    end
    dec:append(double_conv(w[5 - k] + deep, outs[k]))
    deep = outs[k]
  end
  self.up = up -- empty in bilinear mode: no keys, as in PyTorch
  self.dec = dec
  self.head = nn.Conv2d(w[1], c.n_classes, 1)

  rawset(self, "inputs", { { name = "image", shape = { c.batch, c.in_ch, size[1], size[2] } } })
  rawset(self, "outputs", { "logits" })
end

function UNet:forward(b, x)
  local c, skips = self.config, {}
  for k = 1, 5 do
    if k > 1 then x = F.max_pool(b, x, 2) end
    x = self.enc[k](b, x)
    skips[k] = x
  end
  for k = 1, 4 do
    local u
    if c.up_mode == "transpose" then
      u = self.up[k](b, x)
    else
      u = F.interpolate(b, x, { scale_factor = 2, mode = "bilinear",
                                align_corners = c.align_corners })
    end
    x = self.dec[k](b, F.concat(b, { skips[5 - k], u }, 1)) -- skip first, as in reference.py
  end
  return self.head(b, x)
end

return function(config) return UNet(config) end
