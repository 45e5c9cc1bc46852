"""angio_qa -- PyTorch reference of the flagship model (spec v1, models/angio_qa/SPEC.md).

This file is the single source of truth for the network on the Python side: training, evaluation,
ONNX export and parity fixtures all import `AngioQA` from here.  The C runtime and the Lua model
definition mirror it op for op, and the Lua side mirrors the state_dict key names, so the module tree
is deliberately plain (nn.Sequential / nn.ModuleList of Conv2d, BatchNorm2d, LayerNorm, Linear and
parameter-free activations).  The key list is in STATE_DICT.txt (regenerate: `python3 reference.py`).

Exact forward computation (tensors are NCHW float32; "BN" = BatchNorm2d eps 1e-5 in inference mode;
ReLU6 after every BN unless marked linear; every conv has padding k//2; convs followed by BN have no
bias; Up2 = bilinear x2, align_corners=False; GELU = exact erf form).

  x [N,1,S,S], S a multiple of 32 (default 512)
  stem   : conv3x3 s2 1->16, BN, ReLU6                                     keys stem.{0,1}
  e1..e5 : nn.Sequential of blocks                                          keys eK.<i>.*
    IR(cin,cout,s,t)  keys eK.<i>.conv.<j>  (conv is a flat nn.Sequential)
       t>1 : conv.0 PW1x1 cin->t*cin, conv.1 BN, conv.2 ReLU6,
             conv.3 DW3x3 stride s, conv.4 BN, conv.5 ReLU6,
             conv.6 PW1x1 -> cout, conv.7 BN (linear)
       t=1 : conv.0 DW3x3 stride s, conv.1 BN, conv.2 ReLU6, conv.3 PW1x1 -> cout, conv.4 BN (linear)
       out = x + conv(x) when s=1 and cin=cout, else conv(x)
    e1 = [IR(16,16,1,t=1)]                                  -> F1 16 x S/2
    e2 = [IR(16,24,2), IR(24,24,1)]                         -> F2 24 x S/4
    e3 = [IR(24,32,2), IR(32,32,1), IR(32,32,1)]            -> F3 32 x S/8
    e4 = [IR(32,128,2), IR(128,128,1), LGSAM(128,h=4,p=4)]  -> F4 128 x S/16 (e4.2 is the L-GSAM)
    e5 = [IR(128,256,2), IR(256,256,1), LGSAM(256,h=8,p=2), LGSAM(256,h=8,p=2)]
                                                            -> F5 256 x S/32 (e5.2, e5.3)
  L-GSAM(C, h heads, window w=8, pool p), d = C/h, hl = h//2 local heads, Cl = hl*d channels,
  keys: cpe (DW3x3, bias), norm1 (LayerNorm C), qkv (Linear C->3C), proj (Linear C->C),
        norm2 (LayerNorm C), ffn.0 (1x1 C->4C, bias), ffn.1 (DW3x3 4C, bias), ffn.2 GELU,
        ffn.3 (1x1 4C->C, bias)
     1. X = X + cpe(X)
     2. Y = LN(X) over the channel vector of every pixel (eps 1e-6), tokens in row-major (y,x) order.
        Wq,Wk,Wv = qkv.weight rows [0,C), [C,2C), [2C,3C) (biases likewise); head i uses the rows
        [i*d,(i+1)*d) of each.  Q = Y Wq^T + bq for every token.
     3. local heads 0..hl-1 (channels [0,Cl) of Q/K/V): K = Y Wk[:Cl]^T + bk[:Cl], V likewise.
        The H x W map is split into non-overlapping windows of wh x ww with wh = min(w,H),
        ww = min(w,W) (H % wh == 0, W % ww == 0).  Window order is row-major over (window row,
        window col); tokens inside a window are row-major.  Per window and head:
        O = softmax(Q K^T / sqrt(d)) V, softmax over the keys of the same window.
     4. global heads hl..h-1 (channels [Cl,C)): Yp = AvgPool(kernel=stride=(ph,pw))(Y) with
        ph = min(p,H), pw = min(p,W) (the LN'd tokens are pooled FIRST, then projected; the two
        orders are equal).  K = Yp Wk[Cl:]^T + bk[Cl:], V likewise.  Every token attends to all
        (H/ph)*(W/pw) pooled tokens (row-major): O = softmax(Q[Cl:] K^T / sqrt(d)) V.
     5. X = X + proj(concat(O_local, O_global))            (concat along channels, local first)
     6. X = X + ffn.3(GELU(ffn.1(ffn.0(LN2(X)))))          (norm2 = LN eps 1e-6 per pixel)
  Decoder, FAM(high, low -> cout), keys dK.fuse.{0,1}, dK.dsc.{0,1,3,4}, dK.att.{0,2}:
     f = ReLU6(BN(PW1x1(concat(Up2(high), low))))          (high channels first)     fuse.0-2
     f = DSC(f) = ReLU6(BN(PW(ReLU6(BN(DW3x3(f))))))                                 dsc.0-5
     a = sigmoid(att.2(ReLU(att.0(GAP(f)))))   att.0: Linear cout->r (bias), r = max(cout//4, 8),
                                               att.2: Linear r->cout (bias)
     out = f * a + f                                         (a broadcast over H,W)
    d4 = FAM(F5, F4 -> 96), d3 = FAM(d4, F3 -> 64), d2 = FAM(d3, F2 -> 32), d1 = FAM(d2, F1 -> 16)
  seg head, keys seg.{0,1,3,4,6}: DSC(16->16) (seg.0-5), seg.6 Conv1x1 16->1 with bias,
     then Up2 -> seg_logit [N,1,S,S]
  cls head, keys cls.{0,1}, fc:
     m = AvgPool(32, stride 32)(sigmoid(seg_logit))          [N,1,S/32,S/32]
     G = concat(F5, F5 * m, m)                               [N,513,S/32,S/32] (in this order)
     cls.0 PW1x1 513->hidden (no bias), cls.1 BN, cls.2 ReLU6, GAP -> [N,hidden]
     fc Linear hidden->K -> cls_logit [N,K]
  outputs: (seg_logit, cls_logit)

Parameter count with the defaults (hidden=275, K=4): 3,433,986 (spec: within 0.01 % of 3.4342 M).
"""

import math
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

CLASS_NAMES = ["diagnostic", "motion_misregistration", "insufficient_contrast", "other_nondiagnostic"]


def conv_bn(cin, cout, k=1, stride=1, groups=1, act=True):
    """Conv (no bias: BN follows) + BN (+ ReLU6).  Returned as a list so callers can flatten
    several of these into one nn.Sequential, which keeps the state_dict keys short and regular."""
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout, eps=1e-5)]
    if act:
        layers.append(nn.ReLU6(inplace=False))
    return layers


def dsc_layers(cin, cout):
    """DSC(cin,cout): DW3x3 + BN + ReLU6 -> PW1x1 + BN + ReLU6 (6 layers, indices 0..5)."""
    return conv_bn(cin, cin, 3, 1, groups=cin) + conv_bn(cin, cout, 1)


class IR(nn.Module):
    """MobileNetV2 inverted residual.  One flat Sequential `conv` so that the keys are
    `<stage>.<i>.conv.<j>.*` with no nesting beyond that."""

    def __init__(self, cin, cout, stride, t=6):
        super().__init__()
        hid = cin * t
        layers = []
        if t != 1:
            layers += conv_bn(cin, hid, 1)
        layers += conv_bn(hid, hid, 3, stride, groups=hid)
        layers += conv_bn(hid, cout, 1, act=False)  # linear bottleneck
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.conv(x)
        return x + y if self.residual else y


class LGSAM(nn.Module):
    """Local-global self-attention module: half the heads attend inside w x w windows, the other
    half attend to an average-pooled (p x p) summary of the whole map.  See the module docstring
    for the exact order of operations."""

    def __init__(self, dim, heads, window=8, pool=2, ffn_ratio=4):
        super().__init__()
        assert dim % heads == 0 and heads >= 2
        self.dim, self.heads, self.window, self.pool = dim, heads, window, pool
        self.head_dim = dim // heads
        self.local_heads = heads // 2
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.cpe = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim, bias=True)  # conditional position encoding
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim, bias=True)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hid = dim * ffn_ratio
        self.ffn = nn.Sequential(
            nn.Conv2d(dim, hid, 1, bias=True),
            nn.Conv2d(hid, hid, 3, 1, 1, groups=hid, bias=True),
            nn.GELU(),  # exact erf form (approximate='none' is the default)
            nn.Conv2d(hid, dim, 1, bias=True),
        )

    def _attend(self, q, k, v):
        # q [B,h,Tq,d], k/v [B,h,Tk,d]
        a = torch.matmul(q, k.transpose(-2, -1)) * self.scale
        a = torch.softmax(a, dim=-1)
        return torch.matmul(a, v)

    def forward(self, x):
        N, C, H, W = x.shape
        d, hl = self.head_dim, self.local_heads
        hg = self.heads - hl
        cl = hl * d  # local channels [0,cl), global channels [cl,C)
        x = x + self.cpe(x)
        t = x.permute(0, 2, 3, 1)  # [N,H,W,C], token order row-major
        y = self.norm1(t)
        w, b = self.qkv.weight, self.qkv.bias
        wq, wk, wv = w[:C], w[C:2 * C], w[2 * C:]
        bq, bk, bv = b[:C], b[C:2 * C], b[2 * C:]
        q = F.linear(y, wq, bq)  # [N,H,W,C]

        # ---- local heads: window attention ----
        wh, ww = min(self.window, H), min(self.window, W)
        assert H % wh == 0 and W % ww == 0, "feature map must tile into windows"
        nh, nw = H // wh, W // ww
        kl = F.linear(y, wk[:cl], bk[:cl])
        vl = F.linear(y, wv[:cl], bv[:cl])

        def part(z):  # [N,H,W,cl] -> [N*nh*nw, hl, wh*ww, d]; windows row-major, tokens row-major
            z = z.reshape(N, nh, wh, nw, ww, hl, d).permute(0, 1, 3, 5, 2, 4, 6)
            return z.reshape(N * nh * nw, hl, wh * ww, d)

        ol = self._attend(part(q[..., :cl]), part(kl), part(vl))  # [N*nh*nw, hl, wh*ww, d]
        ol = ol.reshape(N, nh, nw, hl, wh, ww, d).permute(0, 1, 4, 2, 5, 3, 6).reshape(N, H, W, cl)

        # ---- global heads: attention to pooled tokens (pool LN'd tokens first, then project) ----
        ph, pw = min(self.pool, H), min(self.pool, W)
        assert H % ph == 0 and W % pw == 0, "feature map must tile into pooling cells"
        tp = (H // ph) * (W // pw)
        # count_include_pad=False changes nothing (no padding) but keeps torch.onnx from emitting
        # a zero Pad in front of AveragePool; explicit sizes keep Shape ops out of the ONNX graph
        yp = F.avg_pool2d(y.permute(0, 3, 1, 2), (ph, pw), (ph, pw), count_include_pad=False)
        yp = yp.reshape(N, C, tp).transpose(1, 2)  # [N,Tp,C], pooled tokens row-major
        kg = F.linear(yp, wk[cl:], bk[cl:]).reshape(N, tp, hg, d).transpose(1, 2)  # [N,hg,Tp,d]
        vg = F.linear(yp, wv[cl:], bv[cl:]).reshape(N, tp, hg, d).transpose(1, 2)
        qg = q[..., cl:].reshape(N, H * W, hg, d).transpose(1, 2)  # [N,hg,HW,d]
        og = self._attend(qg, kg, vg).transpose(1, 2).reshape(N, H, W, C - cl)

        t = t + self.proj(torch.cat([ol, og], dim=-1))
        x = t.permute(0, 3, 1, 2)
        z = self.norm2(t).permute(0, 3, 1, 2)
        return x + self.ffn(z)


class FAM(nn.Module):
    """Feature aggregation module of the decoder: upsample the deeper map, fuse with the skip,
    refine with a DSC and re-weight channels with a squeeze-excitation style gate (plus identity)."""

    def __init__(self, c_high, c_low, cout):
        super().__init__()
        r = max(cout // 4, 8)
        self.fuse = nn.Sequential(*conv_bn(c_high + c_low, cout, 1))
        self.dsc = nn.Sequential(*dsc_layers(cout, cout))
        self.att = nn.Sequential(nn.Linear(cout, r), nn.ReLU(), nn.Linear(r, cout), nn.Sigmoid())

    def forward(self, high, low):
        up = F.interpolate(high, scale_factor=2.0, mode="bilinear", align_corners=False)
        f = self.fuse(torch.cat([up, low], dim=1))
        f = self.dsc(f)
        a = self.att(f.mean(dim=(2, 3)))[:, :, None, None]
        return f * a + f


class AngioQA(nn.Module):
    """Segmentation + quality-classification network.  Every width is a constructor argument so
    that variants (e.g. num_classes=3 for good/acceptable/poor) need no code change."""

    def __init__(self, in_ch=1, num_classes=4, hidden=275, stem=16, enc=(16, 24, 32, 128, 256),
                 depths=(1, 2, 3, 2, 2), expand=(1, 6, 6, 6, 6), dec=(96, 64, 32, 16),
                 heads=(4, 8), window=8, pools=(4, 2), n_attn=(1, 2), ffn_ratio=4):
        super().__init__()
        self.num_classes = num_classes
        self.stem = nn.Sequential(*conv_bn(in_ch, stem, 3, 2))
        cin = stem
        stages = []
        for i, (cout, n, t) in enumerate(zip(enc, depths, expand)):
            blocks = []
            for j in range(n):
                stride = 2 if (j == 0 and i > 0) else 1  # e1 keeps the stem resolution
                blocks.append(IR(cin, cout, stride, t))
                cin = cout
            if i == 3:
                blocks += [LGSAM(cout, heads[0], window, pools[0], ffn_ratio) for _ in range(n_attn[0])]
            if i == 4:
                blocks += [LGSAM(cout, heads[1], window, pools[1], ffn_ratio) for _ in range(n_attn[1])]
            stages.append(nn.Sequential(*blocks))
        self.e1, self.e2, self.e3, self.e4, self.e5 = stages
        c1, c2, c3, c4, c5 = enc
        self.d4 = FAM(c5, c4, dec[0])
        self.d3 = FAM(dec[0], c3, dec[1])
        self.d2 = FAM(dec[1], c2, dec[2])
        self.d1 = FAM(dec[2], c1, dec[3])
        self.seg = nn.Sequential(*dsc_layers(dec[3], dec[3]), nn.Conv2d(dec[3], 1, 1, bias=True))
        self.cls = nn.Sequential(*conv_bn(2 * c5 + 1, hidden, 1))
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x):
        S_h, S_w = x.shape[-2:]
        assert S_h % 32 == 0 and S_w % 32 == 0, "input size must be a multiple of 32"
        x = self.stem(x)
        f1 = self.e1(x)
        f2 = self.e2(f1)
        f3 = self.e3(f2)
        f4 = self.e4(f3)
        f5 = self.e5(f4)
        d = self.d4(f5, f4)
        d = self.d3(d, f3)
        d = self.d2(d, f2)
        d = self.d1(d, f1)
        seg = F.interpolate(self.seg(d), scale_factor=2.0, mode="bilinear", align_corners=False)
        m = F.avg_pool2d(torch.sigmoid(seg), 32, 32, count_include_pad=False)  # [N,1,S/32,S/32] = F5 grid
        g = torch.cat([f5, f5 * m, m], dim=1)
        g = self.cls(g).mean(dim=(2, 3))
        return seg, self.fc(g)


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def stage_params(model):
    """Per-stage parameter counts in the order of the spec's layer table."""
    out = OrderedDict()
    out["stem"] = count_params(model.stem)
    out["e1"] = count_params(model.e1)
    out["e2"] = count_params(model.e2)
    out["e3"] = count_params(model.e3)
    n4 = len([m for m in model.e4 if isinstance(m, IR)])
    out["e4 (IR)"] = sum(count_params(m) for m in model.e4[:n4])
    out["e4 (L-GSAM)"] = sum(count_params(m) for m in model.e4[n4:])
    n5 = len([m for m in model.e5 if isinstance(m, IR)])
    out["e5 (IR)"] = sum(count_params(m) for m in model.e5[:n5])
    out["e5 (L-GSAM)"] = sum(count_params(m) for m in model.e5[n5:])
    for k in ("d4", "d3", "d2", "d1", "seg"):
        out[k] = count_params(getattr(model, k))
    out["cls head"] = count_params(model.cls) + count_params(model.fc)
    return out


def write_state_dict_listing(path):
    torch.manual_seed(0)
    model = AngioQA()
    lines = []
    lines.append("# angio_qa state_dict (defaults: K=4, hidden=275). Generated by `python3 reference.py`.")
    lines.append("# One line per key: name, shape. num_batches_tracked buffers are listed by PyTorch but")
    lines.append("# are NOT stored in angio_qa.safetensors.")
    lines.append("# total parameters: %d" % count_params(model))
    lines.append("# per stage (spec table; cls head uses hidden=275 here, the table's 132,868 is hidden=256):")
    for k, v in stage_params(model).items():
        lines.append("#   %-12s %d" % (k, v))
    for k, v in model.state_dict().items():
        lines.append("%s, [%s]" % (k, ", ".join(str(s) for s in v.shape)))
    lines.append("")
    lines.append("# module tree")
    lines += ["# " + l for l in str(model).splitlines()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return model


if __name__ == "__main__":
    import os
    torch.set_num_threads(2)
    here = os.path.dirname(os.path.abspath(__file__))
    model = write_state_dict_listing(os.path.join(here, "STATE_DICT.txt"))
    total = count_params(model)
    for k, v in stage_params(model).items():
        print("%-12s %9d" % (k, v))
    print("total parameters: %d (hidden=275)" % total)
    print("with hidden=256:  %d" % count_params(AngioQA(hidden=256)))
    assert total == 3433986, total
    model.eval()
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    with torch.no_grad():
        s, c = model(torch.randn(1, 1, size, size))
    print("forward %dx%d: seg %s cls %s" % (size, size, tuple(s.shape), tuple(c.shape)))
