"""Self-checks of reference.py that do not need trained weights (run: python3 test_reference.py).
  * parameter count (3,433,986) and per-stage counts of the spec's layer table;
  * L-GSAM against a deliberately naive re-implementation (explicit loops over windows, heads and
    tokens, K/V projected THEN pooled), which pins down the qkv row split, the window order and the
    pooling of keys exactly as documented at the top of reference.py;
  * the model runs at 32, 64, 256 (and 512 with --big) and returns the documented shapes."""
import math
import sys

import torch
import torch.nn.functional as F

from reference import AngioQA, LGSAM, count_params, stage_params


def naive_lgsam(m, x):
    N, C, H, W = x.shape
    h, d = m.heads, m.head_dim
    hl = h // 2
    x = x + m.cpe(x)
    out = torch.zeros(N, H, W, C)
    y = F.layer_norm(x.permute(0, 2, 3, 1), (C,), m.norm1.weight, m.norm1.bias, 1e-6)  # [N,H,W,C]
    wq, wk, wv = m.qkv.weight[:C], m.qkv.weight[C:2 * C], m.qkv.weight[2 * C:]
    bq, bk, bv = m.qkv.bias[:C], m.qkv.bias[C:2 * C], m.qkv.bias[2 * C:]
    Q, K, V = y @ wq.T + bq, y @ wk.T + bk, y @ wv.T + bv  # all tokens, all heads
    wh, ww = min(m.window, H), min(m.window, W)
    ph, pw = min(m.pool, H), min(m.pool, W)
    # pooling the projected K/V equals projecting the pooled Y (linear map, mean of an affine map)
    Kp = F.avg_pool2d(K.permute(0, 3, 1, 2), (ph, pw)).flatten(2).transpose(1, 2)
    Vp = F.avg_pool2d(V.permute(0, 3, 1, 2), (ph, pw)).flatten(2).transpose(1, 2)
    for n in range(N):
        for i in range(h):
            sl = slice(i * d, (i + 1) * d)
            if i < hl:
                for wy in range(H // wh):
                    for wx in range(W // ww):
                        ys, xs = slice(wy * wh, (wy + 1) * wh), slice(wx * ww, (wx + 1) * ww)
                        q = Q[n, ys, xs, sl].reshape(-1, d)
                        k = K[n, ys, xs, sl].reshape(-1, d)
                        v = V[n, ys, xs, sl].reshape(-1, d)
                        o = torch.softmax(q @ k.T / math.sqrt(d), -1) @ v
                        out[n, ys, xs, sl] = o.reshape(wh, ww, d)
            else:
                q = Q[n, :, :, sl].reshape(-1, d)
                o = torch.softmax(q @ Kp[n, :, sl].T / math.sqrt(d), -1) @ Vp[n, :, sl]
                out[n, :, :, sl] = o.reshape(H, W, d)
    t = x.permute(0, 2, 3, 1) + m.proj(out)
    x = t.permute(0, 3, 1, 2)
    z = F.layer_norm(t, (C,), m.norm2.weight, m.norm2.bias, 1e-6).permute(0, 3, 1, 2)
    f = m.ffn[3](F.gelu(m.ffn[1](m.ffn[0](z))))
    return x + f


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = AngioQA()
    assert count_params(model) == 3433986, count_params(model)
    table = {"stem": 176, "e1": 464, "e2": 13968, "e3": 39696, "e4 (IR)": 240320, "e4 (L-GSAM)": 204672,
             "e5 (IR)": 1112320, "e5 (L-GSAM)": 1605120, "d4": 52248, "d3": 15376, "d2": 4872, "d1": 1544,
             "seg": 481}
    got = stage_params(model)
    for k, v in table.items():
        assert got[k] == v, (k, got[k], v)
    assert count_params(AngioQA(hidden=256)) == 3424125
    print("parameter counts OK: %d" % count_params(model))
    with torch.no_grad():
        for C, h, p, H, W in [(128, 4, 4, 32, 32), (256, 8, 2, 16, 16), (64, 4, 2, 8, 16), (32, 2, 4, 4, 4)]:
            m = LGSAM(C, h, 8, p).eval()
            for prm in m.parameters():
                prm.normal_(0, 0.1)
            x = torch.randn(2, C, H, W)
            err = (m(x) - naive_lgsam(m, x)).abs().max().item()
            print("L-GSAM C=%d h=%d p=%d %dx%d: max |diff| vs naive = %.2e" % (C, h, p, H, W, err))
            assert err < 1e-4
        model.eval()
        sizes = [32, 64, 256] + ([512] if "--big" in sys.argv else [])
        for s in sizes:
            seg, cls = model(torch.randn(1, 1, s, s))
            assert seg.shape == (1, 1, s, s) and cls.shape == (1, 4)
        print("forward shapes OK at", sizes)
        m3 = AngioQA(num_classes=3)
        assert m3(torch.randn(1, 1, 64, 64))[1].shape == (1, 3)
        print("K=3 variant OK")


if __name__ == "__main__":
    main()
