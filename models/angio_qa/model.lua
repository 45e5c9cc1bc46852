-- angio_qa: segmentation + quality classification of angiography frames, in lumen.nn.
--
-- This mirrors models/angio_qa/reference.py (the PyTorch reference) module for module, so that
-- the parameter names are its state_dict keys (STATE_DICT.txt) and angio_qa.safetensors loads
-- strictly. The forward order follows the reference's docstring; where the runtime has a fused
-- op for a piece of PyTorch code the mapping is explained next to it (L-GSAM especially).
--
--   local m = lumen.load_model("angio_qa", { size = { 512, 512 } })
--   -- or: local net = dofile("models/angio_qa/model.lua")({ size = 64, num_classes = 3 })
--
-- Config (the reference's constructor arguments, same names and defaults, plus the input):
--   size = {H, W} or S (multiple of 32, default 512), batch = N (default 1), in_ch = 1,
--   num_classes = 4, hidden = 275, stem = 16, enc = {16, 24, 32, 128, 256},
--   depths = {1, 2, 3, 2, 2}, expand = {1, 6, 6, 6, 6}, dec = {96, 64, 32, 16}, heads = {4, 8},
--   window = 8, pools = {4, 2}, n_attn = {1, 2}, ffn_ratio = 4.
-- Inputs: image [N, in_ch, H, W] (preprocessed). Outputs: seg_logit [N,1,H,W], cls_logit [N,K].
local nn = require "lumen.nn"
local F = nn.F

local DEFAULTS = {
  size = 512, batch = 1, in_ch = 1, num_classes = 4, hidden = 275, stem = 16,
  enc = { 16, 24, 32, 128, 256 }, depths = { 1, 2, 3, 2, 2 }, expand = { 1, 6, 6, 6, 6 },
  dec = { 96, 64, 32, 16 }, heads = { 4, 8 }, window = 8, pools = { 4, 2 }, n_attn = { 1, 2 },
  ffn_ratio = 4,
}

local function append(dst, src)
  for _, v in ipairs(src) do dst[#dst + 1] = v end
  return dst
end

-- Conv (no bias: BN follows) + BN (+ ReLU6), as a list to flatten into one Sequential, exactly
-- like the reference's conv_bn (which is why keys read "conv.3", "dsc.4").
local function conv_bn(cin, cout, k, stride, groups, act)
  local layers = { nn.Conv2d(cin, cout, k, stride or 1, k // 2, { groups = groups or 1,
                                                                  bias = false }),
                   nn.BatchNorm2d(cout, 1e-5) }
  if act ~= false then layers[#layers + 1] = nn.ReLU6() end
  return layers
end

-- DSC(cin, cout): DW3x3 + BN + ReLU6 -> PW1x1 + BN + ReLU6 (indices 0..5).
local function dsc_layers(cin, cout)
  return append(conv_bn(cin, cin, 3, 1, cin), conv_bn(cin, cout, 1))
end

-- ---- IR: MobileNetV2 inverted residual, one flat Sequential 'conv' ----
local IR = nn.class("IR")
function IR:__init(cin, cout, stride, t)
  local hid = cin * t
  local layers = {}
  if t ~= 1 then append(layers, conv_bn(cin, hid, 1)) end
  append(layers, conv_bn(hid, hid, 3, stride, hid))
  append(layers, conv_bn(hid, cout, 1, 1, 1, false)) -- linear bottleneck
  self.conv = nn.Sequential(layers)
  self.residual = stride == 1 and cin == cout
end
function IR:forward(b, x)
  local y = self.conv(b, x)
  -- the load-time pass fuses this add into the last conv's epilogue (residual input)
  if self.residual then return F.add(b, x, y) end
  return y
end

-- ---- L-GSAM: local (window) + global (pooled) self-attention, then a conv FFN ----
local LGSAM = nn.class("LGSAM")
function LGSAM:__init(dim, heads, window, pool, ffn_ratio)
  assert(dim % heads == 0 and heads >= 2, "LGSAM: heads must divide dim and be >= 2")
  self.dim, self.heads, self.window, self.pool = dim, heads, window, pool
  self.head_dim = dim // heads
  self.local_heads = heads // 2
  self.cpe = nn.Conv2d(dim, dim, 3, 1, 1, { groups = dim, bias = true })
  self.norm1 = nn.LayerNorm(dim, 1e-6)
  self.qkv = nn.Linear(dim, 3 * dim)
  self.proj = nn.Linear(dim, dim)
  self.norm2 = nn.LayerNorm(dim, 1e-6)
  local hid = dim * ffn_ratio
  self.ffn = nn.Sequential(
    nn.Conv2d(dim, hid, 1),
    nn.Conv2d(hid, hid, 3, 1, 1, { groups = hid }),
    nn.GELU(),
    nn.Conv2d(hid, dim, 1))
end

-- The reference permutes to tokens [N,H,W,C] and applies nn.LayerNorm(C) there; on NCHW that is
-- a layernorm over axis 1 alone, for every pixel: no transposes needed.
local function channel_norm(b, ln, x)
  return b:within(ln, F.layer_norm, b, x, 1, 2, b:param(ln, "weight"), b:param(ln, "bias"), ln.eps)
end

-- Rows [r0, r1) of a constant along axis 0 (qkv weight or bias), as graph ops on the constant:
-- the constant-folding pass evaluates them once at load, so no copy runs per frame.
local function rows(b, c, r0, r1)
  return F.slice(b, c, 0, r0, r1)
end

function LGSAM:forward(b, x)
  local s = b:shape(x)
  local C, H, W = s[2], s[3], s[4]
  local d, hl = self.head_dim, self.local_heads
  local hg = self.heads - hl
  local cl = hl * d   -- local channels [0, cl) of Q, K, V
  local cg = C - cl   -- global channels [cl, C)

  -- 1. X = X + cpe(X)   (the add is fused into the depthwise conv as its residual)
  x = F.add(b, x, self.cpe(b, x))
  -- 2. Y = LN1(X) per pixel
  local y = channel_norm(b, self.norm1, x)

  -- Linear(C, 3C) on every token is a 1x1 conv with the weight viewed as [3C, C, 1, 1]. The
  -- local branch needs Q (all C rows), K[:cl] and V[:cl] at every pixel: one conv with those
  -- rows. The global branch needs K[cl:] and V[cl:] of the pooled tokens only: a second conv
  -- on the pooled map (pooling the LN'd tokens first, as the reference does).
  local qa_w, qa_b, kv_w, kv_b = b:within(self.qkv, function()
    local w = b:param(self.qkv, "weight", { 3 * C, C, 1, 1 })
    local bias = b:param(self.qkv, "bias")
    return F.concat(b, { rows(b, w, 0, C + cl), rows(b, w, 2 * C, 2 * C + cl) }, 0),
           F.concat(b, { rows(b, bias, 0, C + cl), rows(b, bias, 2 * C, 2 * C + cl) }, 0),
           F.concat(b, { rows(b, w, C + cl, 2 * C), rows(b, w, 2 * C + cl, 3 * C) }, 0),
           F.concat(b, { rows(b, bias, C + cl, 2 * C), rows(b, bias, 2 * C + cl, 3 * C) }, 0)
  end)
  -- qkv_l channels: Q [0, C), K_local [C, C+cl), V_local [C+cl, C+2cl)
  local qkv_l = b:within(self.qkv, F.conv, b, y, qa_w, qa_b)

  -- 3. local heads: attention inside wh x ww windows (one fused op reads Q, K, V by offset)
  local wh, ww = math.min(self.window, H), math.min(self.window, W)
  if H % wh ~= 0 or W % ww ~= 0 then -- the reference asserts the same
    error(string.format("LGSAM: a %dx%d map does not tile into %dx%d windows", H, W, wh, ww), 0)
  end
  if wh ~= ww then
    error(string.format("LGSAM: window %dx%d on a %dx%d map: the attention op takes square "
                        .. "windows only", wh, ww, H, W), 0)
  end
  local o_l = F.attention(b, qkv_l, qkv_l, qkv_l, { heads = hl, head_dim = d, window = wh,
                                                   q_c0 = 0, k_c0 = C, v_c0 = C + cl })

  -- 4. global heads: every token attends to the (H/ph)*(W/pw) average-pooled tokens
  local ph, pw = math.min(self.pool, H), math.min(self.pool, W)
  if H % ph ~= 0 or W % pw ~= 0 then -- the reference asserts the same
    error(string.format("LGSAM: a %dx%d map does not tile into %dx%d pooling cells", H, W, ph,
                        pw), 0)
  end
  local yp = F.avg_pool(b, y, { ph, pw }, { ph, pw }, { count_include_pad = false })
  -- kv_g channels: K_global [0, cg), V_global [cg, 2cg)
  local kv_g = b:within(self.qkv, F.conv, b, yp, kv_w, kv_b)
  local o_g = F.attention(b, qkv_l, kv_g, kv_g, { heads = hg, head_dim = d, window = 0,
                                                 q_c0 = cl, k_c0 = 0, v_c0 = cg })

  -- 5. X = X + proj(concat(O_local, O_global))   (proj is a 1x1 conv; the add fuses into it)
  local o = F.concat(b, { o_l, o_g }, 1)
  local p = b:within(self.proj, F.conv, b, o, b:param(self.proj, "weight", { C, C, 1, 1 }),
                     b:param(self.proj, "bias"))
  x = F.add(b, x, p)
  -- 6. X = X + FFN(LN2(X))
  return F.add(b, x, self.ffn(b, channel_norm(b, self.norm2, x)))
end

-- ---- FAM: decoder stage ----
local FAM = nn.class("FAM")
function FAM:__init(c_high, c_low, cout)
  local r = math.max(cout // 4, 8)
  self.fuse = nn.Sequential(conv_bn(c_high + c_low, cout, 1))
  self.dsc = nn.Sequential(dsc_layers(cout, cout))
  self.att = nn.Sequential(nn.Linear(cout, r), nn.ReLU(), nn.Linear(r, cout), nn.Sigmoid())
end
function FAM:forward(b, high, low)
  local up = F.interpolate(b, high, { scale_factor = 2, mode = "bilinear", align_corners = false })
  local f = self.fuse(b, F.concat(b, { up, low }, 1))
  f = self.dsc(b, f)
  local s = b:shape(f)
  -- squeeze-excitation gate on [N, C]: GAP, Linear, ReLU, Linear, Sigmoid; then back to
  -- [N, C, 1, 1] so that it broadcasts over H, W
  local a = self.att(b, F.mean(b, f, { 2, 3 }, false))
  a = F.reshape(b, a, { s[1], s[2], 1, 1 })
  return F.add(b, F.mul(b, f, a), f)
end

-- ---- the network ----
local AngioQA = nn.class("AngioQA")
function AngioQA:__init(cfg)
  local enc, dec = cfg.enc, cfg.dec
  self.stem = nn.Sequential(conv_bn(cfg.in_ch, cfg.stem, 3, 2))
  local cin = cfg.stem
  local names = { "e1", "e2", "e3", "e4", "e5" }
  for i = 1, 5 do
    local cout, n, t = enc[i], cfg.depths[i], cfg.expand[i]
    local blocks = {}
    for j = 1, n do
      local stride = (j == 1 and i > 1) and 2 or 1 -- e1 keeps the stem's resolution
      blocks[#blocks + 1] = IR(cin, cout, stride, t)
      cin = cout
    end
    if i == 4 then
      for _ = 1, cfg.n_attn[1] do
        blocks[#blocks + 1] = LGSAM(cout, cfg.heads[1], cfg.window, cfg.pools[1], cfg.ffn_ratio)
      end
    elseif i == 5 then
      for _ = 1, cfg.n_attn[2] do
        blocks[#blocks + 1] = LGSAM(cout, cfg.heads[2], cfg.window, cfg.pools[2], cfg.ffn_ratio)
      end
    end
    self[names[i]] = nn.Sequential(blocks)
  end
  self.d4 = FAM(enc[5], enc[4], dec[1])
  self.d3 = FAM(dec[1], enc[3], dec[2])
  self.d2 = FAM(dec[2], enc[2], dec[3])
  self.d1 = FAM(dec[3], enc[1], dec[4])
  self.seg = nn.Sequential(append(dsc_layers(dec[4], dec[4]), { nn.Conv2d(dec[4], 1, 1) }))
  self.cls = nn.Sequential(conv_bn(2 * enc[5] + 1, cfg.hidden, 1))
  self.fc = nn.Linear(cfg.hidden, cfg.num_classes)
end

function AngioQA:forward(b, x)
  x = self.stem(b, x)
  local f1 = self.e1(b, x)
  local f2 = self.e2(b, f1)
  local f3 = self.e3(b, f2)
  local f4 = self.e4(b, f3)
  local f5 = self.e5(b, f4)
  local d = self.d4(b, f5, f4)
  d = self.d3(b, d, f3)
  d = self.d2(b, d, f2)
  d = self.d1(b, d, f1)
  local seg = F.interpolate(b, self.seg(b, d), { scale_factor = 2, mode = "bilinear",
                                                  align_corners = false })
  -- cls head: the mask, pooled onto the F5 grid, gates F5
  local m = F.avg_pool(b, F.sigmoid(b, seg), 32, 32, { count_include_pad = false })
  local g = F.concat(b, { f5, F.mul(b, f5, m), m }, 1)
  g = F.mean(b, self.cls(b, g), { 2, 3 }, false) -- GAP -> [N, hidden]
  return seg, self.fc(b, g)
end

-- The constructor: config (see the header) -> the module, with inputs/outputs for one size.
return function(config)
  local cfg = nn.config("angio_qa", DEFAULTS, config, 2)
  local size = nn.input_size("angio_qa", cfg.size, 2, 32, 2)
  cfg.size = size
  local net = AngioQA(cfg)
  net.config = cfg
  net.inputs = { { name = "image", shape = { cfg.batch, cfg.in_ch, size[1], size[2] } } }
  net.outputs = { "seg_logit", "cls_logit" }
  return net
end
