-- cmb3d: the 3D cerebral-microbleed candidate detector in lumen.nn. It mirrors
-- models/cmb3d/reference.py module for module (keys: models/cmb3d/STATE_DICT.txt).
--
--   local m = assert(lumen.load_model("cmb3d", { size = { 16, 32, 32 },
--                                               weights = "w.safetensors" }))
--   local out = assert(m:run({ patch = x }))     -- x [N, 2, D, H, W] (SWI, phase)
--   -- out.objectness [N, 1, D, H, W] logits, out.box [N, 6, D, H, W] (decode: decode.py, MODEL.md)
--
-- Configuration (all optional): in_ch (2), widths ({8, 16, 32}), fuse (16), head_ch (16),
-- up_mode ("trilinear" | "transpose"), size ({D, H, W}, multiples of 4; default {32, 64, 64}),
-- batch (1).
local nn = require "lumen.nn"
local F = nn.F

local DEFAULTS = { in_ch = 2, widths = { 8, 16, 32 }, fuse = 16, head_ch = 16, up_mode = "trilinear",
                   size = { 32, 64, 64 }, batch = 1 }

-- conv (no bias) + BN3d + ReLU, appended to a Sequential
local function cbr(seq, cin, cout, k)
  k = k or 3
  seq:append(nn.Conv3d(cin, cout, k, { padding = k // 2, bias = false }))
  seq:append(nn.BatchNorm3d(cout))
  seq:append(nn.ReLU())
  return seq
end

local function double_conv(cin, cout)
  return cbr(cbr(nn.Sequential(), cin, cout), cout, cout)
end

local function head(f, h, nout)
  return cbr(nn.Sequential(), f, h):append(nn.Conv3d(h, nout, 1))
end

local CMB3D = nn.class("CMB3D")

function CMB3D:__init(config)
  local c = nn.config("cmb3d", DEFAULTS, config, 3)
  if c.up_mode ~= "trilinear" and c.up_mode ~= "transpose" then
    error("cmb3d: up_mode must be 'trilinear' or 'transpose'", 3)
  end
  local size = nn.input_size("cmb3d", c.size, 3, 4, 3)
  c.size = size
  rawset(self, "config", c)
  local w = c.widths

  self.enc = nn.ModuleList({ double_conv(c.in_ch, w[1]), double_conv(w[1], w[2]),
                             double_conv(w[2], w[3]) })
  local up = nn.ModuleList()
  if c.up_mode == "transpose" then
    up:append(nn.ConvTranspose3d(w[3], w[3], 2, { stride = 2 }))
    up:append(nn.ConvTranspose3d(w[2], w[2], 2, { stride = 2 }))
  end
  self.up = up -- empty for trilinear: no keys, as in PyTorch
  self.dec = nn.ModuleList({ double_conv(w[2] + w[3], w[2]), double_conv(w[1] + w[2], w[1]) })
  self.fuse = cbr(nn.Sequential(), w[1] + w[2] + w[3], c.fuse, 1)
  self.obj = head(c.fuse, c.head_ch, 1)
  self.box = head(c.fuse, c.head_ch, 6)

  rawset(self, "inputs",
         { { name = "patch", shape = { c.batch, c.in_ch, size[1], size[2], size[3] } } })
  rawset(self, "outputs", { "objectness", "box" })
end

local function trilinear(b, x, f)
  return F.interpolate(b, x, { scale_factor = f, mode = "trilinear", align_corners = false })
end

function CMB3D:upsample(b, k, x)
  if self.config.up_mode == "transpose" then return self.up[k](b, x) end
  return trilinear(b, x, 2)
end

function CMB3D:forward(b, x)
  local e0 = self.enc[1](b, x)
  local e1 = self.enc[2](b, F.max_pool(b, e0, { 2, 2, 2 }))
  local e2 = self.enc[3](b, F.max_pool(b, e1, { 2, 2, 2 }))
  local d1 = self.dec[1](b, F.concat(b, { e1, self:upsample(b, 1, e2) }, 1)) -- skip first
  local d0 = self.dec[2](b, F.concat(b, { e0, self:upsample(b, 2, d1) }, 1))
  local g = self.fuse(b, F.concat(b, { d0, trilinear(b, d1, 2), trilinear(b, e2, 4) }, 1))
  return self.obj(b, g), self.box(b, g)
end

return function(config) return CMB3D(config) end
