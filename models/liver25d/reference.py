"""liver25d -- PyTorch reference of the 2.5D context-aware liver / liver-tumour segmenter.

k consecutive axial CT slices go in as a small volume; 3D convolutions in the first two encoder
levels learn inter-slice context and collapse the slice axis to 1, after which everything is 2D:
a 2D encoder, an ASPP block (DeepLabv3) at stride 8 and a light decoder of depthwise-separable
convolutions with skip connections.  The output is the segmentation of the CENTRE slice.

The Lua definition (model.lua) mirrors this module tree key for key (STATE_DICT.txt; regenerate:
`/usr/bin/python3 reference.py`).

Exact forward computation (float32; BN = BatchNorm eps 1e-5 in inference mode, followed by ReLU
everywhere; convs followed by BN have no bias; H and W multiples of 8, k >= 5):

  x [N, 1, k, H, W]
  enc3d.0  Sequential(0 Conv3d 1->c0 k3 pad(1,1,1), 1 BN3d, 2 ReLU,
                      3 Conv3d c0->c0 k3 pad(0,1,1), 4 BN3d, 5 ReLU)           -> [N,c0,k-2,H,W]
  collapse.0  Sequential(0 Conv3d c0->c0 kernel (k-2,1,1), 1 BN3d, 2 ReLU)      -> [N,c0,1,H,W]
           reshape to [N, c0, H, W]                                              = skip s0
  MaxPool3d kernel (1,2,2) on the enc3d.0 output (not on the collapsed one)
  enc3d.1  same as enc3d.0 with c0->c1                                           -> [N,c1,k-4,H/2,W/2]
  collapse.1  Sequential(Conv3d c1->c1 kernel (k-4,1,1), BN3d, ReLU), reshape    = skip s1 [N,c1,H/2,W/2]
  enc2d.0  MaxPool2d(2), then DoubleConv(c1, c2)                                 = skip s2 [N,c2,H/4,W/4]
  enc2d.1  MaxPool2d(2), then DoubleConv(c2, c3)                                 -> f [N,c3,H/8,W/8]
     DoubleConv = Sequential(0 conv3x3, 1 BN, 2 ReLU, 3 conv3x3, 4 BN, 5 ReLU); the pool is not a module
  aspp (all branches a channels, each Sequential(0 conv, 1 BN, 2 ReLU)):
     aspp.branches.0  1x1
     aspp.branches.1..3  3x3 dilation r, padding r, r = 6, 12, 18 (padding may exceed the map)
     aspp.pool  Sequential(0 Conv2d c3->a 1x1, 1 BN, 2 ReLU) applied to GAP(f) = mean over H,W
                [N,c3,1,1], then bilinear upsampling to (H/8, W/8) (align_corners=False: a broadcast)
     aspp.project  Sequential(0 Conv2d 5a->a 1x1, 1 BN, 2 ReLU) on
                concat(branches.0, .1, .2, .3, pool) along channels                  -> [N,a,H/8,W/8]
  decoder, k = 0, 1, 2 with skips (s2, s1, s0) and widths (d0, d1, d2):
     u = bilinear x2 (align_corners=False) of the deeper map
     dec.k = DSConv(ch(u) + ch(skip) -> dk) on concat(u, skip)   (upsampled map first)
     DSConv(cin, cout) = Sequential(0 Conv2d cin->cin 3x3 groups=cin, 1 BN, 2 ReLU,
                                    3 Conv2d cin->cout 1x1, 4 BN, 5 ReLU,
                                    6 Conv2d cout->cout 3x3 groups=cout, 7 BN, 8 ReLU,
                                    9 Conv2d cout->cout 1x1, 10 BN, 11 ReLU)
  head  Conv2d(d2, n_classes, 1, bias)                            -> logits [N, 3, H, W]
        (classes: 0 background, 1 liver, 2 tumour; softmax over axis 1 gives probabilities)
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


def cbr3d(cin, cout, kernel, padding):
    return [nn.Conv3d(cin, cout, kernel, padding=padding, bias=False), nn.BatchNorm3d(cout),
            nn.ReLU(inplace=True)]


def cbr2d(cin, cout, kernel, padding=0, dilation=1, groups=1):
    return [nn.Conv2d(cin, cout, kernel, padding=padding, dilation=dilation, groups=groups, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def double_conv(cin, cout):
    return nn.Sequential(*cbr2d(cin, cout, 3, 1), *cbr2d(cout, cout, 3, 1))


def ds_conv(cin, cout):
    return nn.Sequential(*cbr2d(cin, cin, 3, 1, groups=cin), *cbr2d(cin, cout, 1),
                         *cbr2d(cout, cout, 3, 1, groups=cout), *cbr2d(cout, cout, 1))


class ASPP(nn.Module):
    def __init__(self, cin, a, rates=(6, 12, 18)):
        super().__init__()
        self.branches = nn.ModuleList([nn.Sequential(*cbr2d(cin, a, 1))] +
                                      [nn.Sequential(*cbr2d(cin, a, 3, r, r)) for r in rates])
        self.pool = nn.Sequential(*cbr2d(cin, a, 1))
        self.project = nn.Sequential(*cbr2d(a * (len(rates) + 2), a, 1))

    def forward(self, x):
        ys = [b(x) for b in self.branches]
        g = self.pool(x.mean(dim=(2, 3), keepdim=True))
        ys.append(F.interpolate(g, size=x.shape[2:], mode="bilinear", align_corners=False))
        return self.project(torch.cat(ys, dim=1))


class Liver25D(nn.Module):
    def __init__(self, slices=5, n_classes=3, enc=(8, 16, 32, 64), aspp=32, dec=(32, 16, 16),
                 rates=(6, 12, 18)):
        super().__init__()
        if slices < 5:
            raise ValueError("slices must be >= 5 (two depth-collapsing 3x3x3 convs)")
        c0, c1, c2, c3 = enc
        self.slices = slices
        self.enc3d = nn.ModuleList([
            nn.Sequential(*cbr3d(1, c0, 3, (1, 1, 1)), *cbr3d(c0, c0, 3, (0, 1, 1))),
            nn.Sequential(*cbr3d(c0, c1, 3, (1, 1, 1)), *cbr3d(c1, c1, 3, (0, 1, 1)))])
        self.collapse = nn.ModuleList([nn.Sequential(*cbr3d(c0, c0, (slices - 2, 1, 1), 0)),
                                       nn.Sequential(*cbr3d(c1, c1, (slices - 4, 1, 1), 0))])
        self.enc2d = nn.ModuleList([double_conv(c1, c2), double_conv(c2, c3)])
        self.aspp = ASPP(c3, aspp, rates)
        skips = [c2, c1, c0]
        ds, deep = [], aspp
        for k in range(3):
            ds.append(ds_conv(deep + skips[k], dec[k]))
            deep = dec[k]
        self.dec = nn.ModuleList(ds)
        self.head = nn.Conv2d(dec[2], n_classes, 1)

    @staticmethod
    def squeeze_depth(t):
        n, c, d, h, w = t.shape
        assert d == 1
        return t.reshape(n, c, h, w)

    def forward(self, x):
        assert x.dim() == 5 and x.shape[1] == 1 and x.shape[2] == self.slices
        e0 = self.enc3d[0](x)
        s0 = self.squeeze_depth(self.collapse[0](e0))
        e1 = self.enc3d[1](F.max_pool3d(e0, (1, 2, 2)))
        s1 = self.squeeze_depth(self.collapse[1](e1))
        s2 = self.enc2d[0](F.max_pool2d(s1, 2))
        f = self.enc2d[1](F.max_pool2d(s2, 2))
        y = self.aspp(f)
        for k, skip in enumerate((s2, s1, s0)):
            u = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
            y = self.dec[k](torch.cat([u, skip], dim=1))
        return self.head(y)


if __name__ == "__main__":
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from fixture_util import count_params, write_state_dict_list
    here = os.path.dirname(os.path.abspath(__file__))
    m = Liver25D()
    write_state_dict_list(os.path.join(here, "STATE_DICT.txt"), m,
                          "liver25d state_dict, defaults (slices=5, n_classes=3, enc 8-16-32-64, aspp 32, "
                          "dec 32-16-16). Generated by `python3 reference.py`.")
    print("%d parameters" % count_params(m))
