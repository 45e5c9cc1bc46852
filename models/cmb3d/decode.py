"""cmb3d -- host-side decoding of the dense outputs into candidate boxes, and greedy 3D NMS.

This is the reference for the later Lua port; it is written as plain loops over NumPy arrays on
purpose (no vectorised tricks) so the port can follow it line by line.  All arithmetic after
reading the float32 network outputs is in float64 (Lua numbers are doubles).

Encoding (per batch item; objectness [1, D, H, W], box [6, D, H, W], same grid as the input,
stride 1; voxel (z, y, x) has its centre at index coordinates (z, y, x)):
  score       = sigmoid(objectness[0, z, y, x])
  centre      = (z + box[0], y + box[1], x + box[2])                       (voxels)
  size        = anchor * exp(clamp(box[3 + i], -4, 4)) for i = 0, 1, 2   (voxels, (d, h, w))
  box extent  = [centre - size / 2, centre + size / 2] per axis

Decoding (decode()):
  1. candidates = voxels with score >= score_thresh;
  2. order them by objectness logit descending, ties by linear voxel index z*H*W + y*W + x
     ascending (a stable sort of -logit over the C-order flattened grid);
  3. keep the first pre_nms_top_k;
  4. greedy NMS: walk the ordered list, keep a box unless its IoU with an already kept box is
     > iou_thresh; stop after max_det kept boxes.
     IoU(a, b) = inter / (vol(a) + vol(b) - inter), inter = prod over axes of
     max(0, min(a.hi, b.hi) - max(a.lo, b.lo)), vol = prod of sizes.
Result: float64 array [K, 7] rows (score, cz, cy, cx, sd, sh, sw) in kept order, voxel units;
multiply centres and sizes by the voxel spacing (mm) per axis for physical units.
"""

import math

import numpy as np

DEFAULTS = dict(score_thresh=0.5, pre_nms_top_k=1000, iou_thresh=0.3, max_det=100, anchor=4.0)


def iou3d(a, b):
    """a, b: (cz, cy, cx, sd, sh, sw)."""
    inter = 1.0
    for i in range(3):
        lo = max(a[i] - a[3 + i] / 2.0, b[i] - b[3 + i] / 2.0)
        hi = min(a[i] + a[3 + i] / 2.0, b[i] + b[3 + i] / 2.0)
        if hi <= lo:
            return 0.0
        inter *= hi - lo
    va = a[3] * a[4] * a[5]
    vb = b[3] * b[4] * b[5]
    return inter / (va + vb - inter)


def decode(obj, box, score_thresh=0.5, pre_nms_top_k=1000, iou_thresh=0.3, max_det=100, anchor=4.0):
    """obj [1, D, H, W] and box [6, D, H, W] (one batch item, float32).  Returns [K, 7] float64."""
    obj = np.asarray(obj, dtype=np.float32)
    box = np.asarray(box, dtype=np.float32)
    _, D, H, W = obj.shape
    assert box.shape == (6, D, H, W)
    logits = obj.reshape(-1).astype(np.float64)
    cand = []
    for i in range(logits.size):
        s = 1.0 / (1.0 + math.exp(-logits[i]))
        if s >= score_thresh:
            cand.append(i)
    cand.sort(key=lambda i: (-logits[i], i))
    cand = cand[:pre_nms_top_k]
    kept = []
    for i in cand:
        z, rem = divmod(i, H * W)
        y, x = divmod(rem, W)
        r = [float(box[c, z, y, x]) for c in range(6)]
        b = (z + r[0], y + r[1], x + r[2],
             anchor * math.exp(min(max(r[3], -4.0), 4.0)),
             anchor * math.exp(min(max(r[4], -4.0), 4.0)),
             anchor * math.exp(min(max(r[5], -4.0), 4.0)))
        if all(iou3d(b, k[1:]) <= iou_thresh for k in kept):
            kept.append((1.0 / (1.0 + math.exp(-logits[i])),) + b)
            if len(kept) >= max_det:
                break
    return np.array(kept, dtype=np.float64).reshape(-1, 7)
