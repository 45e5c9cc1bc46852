"""brats3d -- sliding-window (tiled) inference with Gaussian overlap blending.

The reference for the later Lua port: plain loops, integer arithmetic for the tile grid, float64
for the blending.  The network itself runs on float32 tiles of one fixed shape, so a runtime
builds its graph once for the tile and reuses it for every tile.

Algorithm, for a volume x [N, C, D, H, W] and a tile (tD, tH, tW) with overlap o (default 0.5):
  1. Per axis of size S and tile T: if S <= T the tile shrinks to S (one position, start 0; the
     network then needs S to be a multiple of 8 too).  Otherwise step = max(1, floor(T * (1 - o))),
     n = ceil((S - T) / step) + 1 positions, start_i = floor(i * (S - T) / (n - 1) + 1/2)
     computed exactly in integers as (2*i*(S - T) + (n - 1)) // (2*(n - 1)), i = 0..n-1.
     The first tile starts at 0, the last ends at S, and the rest are spread evenly.
  2. Weight map of the (possibly shrunk) tile, separable:
        w(z, y, x) = g_tD(z) * g_tH(y) * g_tW(x),
        g_T(i) = exp(-(i + 0.5 - T/2)^2 / (2 sigma^2)),  sigma = T / 8   (i = 0..T-1)
     (centre weight 1 on even T up to rounding, ~3.4e-4 at the outermost voxel: never zero).
  3. For every tile position (z outer, then y, then x; the order does not matter mathematically),
     run the network on x[:, :, z0:z0+tD, y0:y0+tH, x0:x0+tW] and add w * logits into acc and w
     into wsum (both float64, volume-sized, wsum without the channel axis).
  4. out = acc / wsum, cast to float32: blended LOGITS [N, 3, D, H, W] (blend before the sigmoid).
A voxel covered by one tile only gets that tile's logits exactly.
"""

import math

import numpy as np
import torch


def tile_starts(size, tile, overlap=0.5):
    """Returns (starts, tile) for one axis."""
    if size <= tile:
        return [0], size
    step = max(1, int(math.floor(tile * (1.0 - overlap))))
    n = -(-(size - tile) // step) + 1
    return [(2 * i * (size - tile) + (n - 1)) // (2 * (n - 1)) for i in range(n)], tile


def gaussian_1d(t):
    sigma = t / 8.0
    return np.array([math.exp(-((i + 0.5 - t / 2.0) ** 2) / (2.0 * sigma * sigma)) for i in range(t)])


def weight_map(tile):
    gz, gy, gx = (gaussian_1d(t) for t in tile)
    return gz[:, None, None] * gy[None, :, None] * gx[None, None, :]


@torch.no_grad()
def tiled_inference(model, x, tile=(16, 32, 32), overlap=0.5):
    """x: float32 tensor [N, C, D, H, W]. Returns (float32 logits tensor [N, n_out, D, H, W], tiles)
    where tiles lists the (z0, y0, x0) starts in run order."""
    N, _, D, H, W = x.shape
    (sz, tD), (sy, tH), (sx, tW) = (tile_starts(s, t, overlap) for s, t in zip((D, H, W), tile))
    w = weight_map((tD, tH, tW))
    acc, wsum, order = None, np.zeros((D, H, W)), []
    for z0 in sz:
        for y0 in sy:
            for x0 in sx:
                y = model(x[:, :, z0:z0 + tD, y0:y0 + tH, x0:x0 + tW]).numpy().astype(np.float64)
                if acc is None:
                    acc = np.zeros((N, y.shape[1], D, H, W))
                acc[:, :, z0:z0 + tD, y0:y0 + tH, x0:x0 + tW] += y * w
                wsum[z0:z0 + tD, y0:y0 + tH, x0:x0 + tW] += w
                order.append((z0, y0, x0))
    return torch.from_numpy((acc / wsum).astype(np.float32)), order
