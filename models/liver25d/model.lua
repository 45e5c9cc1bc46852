-- liver25d: the 2.5D context-aware liver / liver-tumour segmenter in lumen.nn. It mirrors
-- models/liver25d/reference.py module for module (keys: models/liver25d/STATE_DICT.txt).
--
--   local m = assert(lumen.load_model("liver25d", { size = { 256, 256 },
--                                                  weights = "w.safetensors" }))
--   local out = assert(m:run({ slices = x }))      -- x [N, 1, k, H, W]; out.logits [N, 3, H, W]
--
-- Configuration (all optional): slices (k = 5, >= 5), n_classes (3), enc ({8, 16, 32, 64}),
-- aspp (32), dec ({32, 16, 16}), rates ({6, 12, 18}), size ({H, W}, multiples of 8; default
-- {256, 256}), batch (1).
local nn = require "lumen.nn"
local F = nn.F

local DEFAULTS = { slices = 5, n_classes = 3, enc = { 8, 16, 32, 64 }, aspp = 32, dec = { 32, 16, 16 },
                   rates = { 6, 12, 18 }, size = { 256, 256 }, batch = 1 }

-- conv (no bias) + BN + ReLU, appended to a Sequential
local function cbr3d(seq, cin, cout, kernel, padding)
  seq:append(nn.Conv3d(cin, cout, kernel, { padding = padding, bias = false }))
  seq:append(nn.BatchNorm3d(cout))
  seq:append(nn.ReLU())
  return seq
end

local function cbr2d(seq, cin, cout, kernel, padding, dilation, groups)
  seq:append(nn.Conv2d(cin, cout, kernel, { padding = padding or 0, dilation = dilation or 1,
                                            groups = groups or 1, bias = false }))
  seq:append(nn.BatchNorm2d(cout))
  seq:append(nn.ReLU())
  return seq
end

local function double_conv(cin, cout)
  return cbr2d(cbr2d(nn.Sequential(), cin, cout, 3, 1), cout, cout, 3, 1)
end

-- DW3x3 + PW1x1, twice (indices 0..11 as in reference.py)
local function ds_conv(cin, cout)
  local s = nn.Sequential()
  cbr2d(s, cin, cin, 3, 1, 1, cin)
  cbr2d(s, cin, cout, 1)
  cbr2d(s, cout, cout, 3, 1, 1, cout)
  return cbr2d(s, cout, cout, 1)
end

local ASPP = nn.class("ASPP")

function ASPP:__init(cin, a, rates)
  local branches = nn.ModuleList({ cbr2d(nn.Sequential(), cin, a, 1) })
  for _, r in ipairs(rates) do branches:append(cbr2d(nn.Sequential(), cin, a, 3, r, r)) end
  self.branches = branches
  self.pool = cbr2d(nn.Sequential(), cin, a, 1)
  self.project = cbr2d(nn.Sequential(), a * (#rates + 2), a, 1)
end

function ASPP:forward(b, x)
  local ys = {}
  for i = 1, #self.branches do ys[i] = self.branches[i](b, x) end
  local s = b:shape(x)
  -- image pooling: GAP -> 1x1 conv -> bilinear back to the map (from 1x1: a broadcast)
  local g = self.pool(b, F.mean(b, x, { 2, 3 }, true))
  ys[#ys + 1] = F.interpolate(b, g, { size = { s[3], s[4] }, mode = "bilinear",
                                      align_corners = false })
  return self.project(b, F.concat(b, ys, 1))
end

local Liver25D = nn.class("Liver25D")

function Liver25D:__init(config)
  local c = nn.config("liver25d", DEFAULTS, config, 3)
  if c.slices < 5 then error("liver25d: slices must be >= 5", 3) end
  local size = nn.input_size("liver25d", c.size, 2, 8, 3)
  c.size = size
  rawset(self, "config", c)
  local e, k = c.enc, c.slices

  self.enc3d = nn.ModuleList({
    cbr3d(cbr3d(nn.Sequential(), 1, e[1], 3, { 1, 1, 1 }), e[1], e[1], 3, { 0, 1, 1 }),
    cbr3d(cbr3d(nn.Sequential(), e[1], e[2], 3, { 1, 1, 1 }), e[2], e[2], 3, { 0, 1, 1 }) })
  self.collapse = nn.ModuleList({ cbr3d(nn.Sequential(), e[1], e[1], { k - 2, 1, 1 }, 0),
                                  cbr3d(nn.Sequential(), e[2], e[2], { k - 4, 1, 1 }, 0) })
  self.enc2d = nn.ModuleList({ double_conv(e[2], e[3]), double_conv(e[3], e[4]) })
  self.aspp = ASPP(e[4], c.aspp, c.rates)
  local skips, dec, deep = { e[3], e[2], e[1] }, nn.ModuleList(), c.aspp
  for i = 1, 3 do
    dec:append(ds_conv(deep + skips[i], c.dec[i]))
    deep = c.dec[i]
  end
  self.dec = dec
  self.head = nn.Conv2d(c.dec[3], c.n_classes, 1)

  rawset(self, "inputs", { { name = "slices", shape = { c.batch, 1, k, size[1], size[2] } } })
  rawset(self, "outputs", { "logits" })
end

-- [N, C, 1, H, W] -> [N, C, H, W]
local function squeeze_depth(b, t)
  local s = b:shape(t)
  assert(s[3] == 1, "liver25d: depth did not collapse to 1")
  return F.reshape(b, t, { s[1], s[2], s[4], s[5] })
end

function Liver25D:forward(b, x)
  local e0 = self.enc3d[1](b, x)
  local s0 = squeeze_depth(b, self.collapse[1](b, e0))
  local e1 = self.enc3d[2](b, F.max_pool(b, e0, { 1, 2, 2 }))
  local s1 = squeeze_depth(b, self.collapse[2](b, e1))
  local s2 = self.enc2d[1](b, F.max_pool(b, s1, 2))
  local f = self.enc2d[2](b, F.max_pool(b, s2, 2))
  local y = self.aspp(b, f)
  for i, skip in ipairs({ s2, s1, s0 }) do
    local u = F.interpolate(b, y, { scale_factor = 2, mode = "bilinear", align_corners = false })
    y = self.dec[i](b, F.concat(b, { u, skip }, 1)) -- upsampled map first, as in reference.py
  end
  return self.head(b, y)
end

return function(config) return Liver25D(config) end
