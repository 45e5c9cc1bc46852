"""Synthetic subtracted-angiography (DSA) frames with exact vessel masks and quality classes.

No public angiography data or weights exist for angio_qa, so the project trains on frames drawn here.
Everything is deterministic given a numpy Generator (`np.random.default_rng(seed)`).

Physics-lite model of a subtracted frame (raw detector units, 12-bit range 0..4095):
  * background: flat level (the subtraction removed the anatomy) with a low-frequency residue,
    multiplied by a radial vignetting falloff;
  * vessels: contrast-filled tubes.  A tube of radius r seen at distance t from its axis has a
    path length 2*sqrt(r^2 - t^2); intensity = background * exp(-mu * path) (Beer-Lambert), so
    vessels are dark with soft, realistic edges and thin vessels have low contrast;
  * noise: quantum-like Gaussian noise whose sigma grows with sqrt(intensity).
Vessel trees: a few roots enter from the frame border and random-walk inward; each branch tapers,
spawns thinner children (radius ratio 0.55-0.8) and stops when it is thinner than a cut-off or
leaves the frame.  Widths and step lengths are in PIXELS, independent of the frame size, while the
layout (roots, shutters, vignetting, skull outline) scales with the frame.  A 256x256 frame therefore
looks like a 256x256 window of a 512x512 frame, so a network trained at 256 sees the same vessel
calibres as at 512.

Quality classes (K=4, spec order):
  0 diagnostic                  clean frame, normal contrast and noise
  1 motion / misregistration    residual bone edges (skull outline minus a shifted copy) and/or
                                doubled vessel contours (a shifted, weaker copy of the tree)
  2 insufficient contrast       faint vessels (contrast x0.15-0.4) and a truncated distal tree
  3 other non-diagnostic        any non-empty mix of: heavy noise, over-exposure (saturated
                                background, burnt-out thin vessels), truncated field (collimator
                                shutters / small circular aperture)
The mask is the exact binary mask of the vessels VISIBLE in the frame (rasterised tubes; pixels
hidden by a shutter or saturated by over-exposure are 0).  Ghost vessels of class 1 are not vessels.

Drawing is vectorised: every tube segment is a capsule; all capsules of a tree are evaluated at
once on fixed-size pixel boxes around them (a [n_segments, B, B] distance field) and merged with a
scatter-max, so a 512x512 frame takes a few tens of milliseconds.

CLI:  python3 synth.py --out /tmp/synth --n 8 --size 512 --seed 1      (sample PNGs + mask PNGs)
      python3 synth.py --examples ../../examples/data                  (the repository's samples)
"""

import argparse
import os
import struct
import sys
import time
import zlib

import numpy as np

CLASS_NAMES = ["diagnostic", "motion_misregistration", "insufficient_contrast", "other_nondiagnostic"]
FULL_SCALE = 4095.0  # 12-bit detector


# --------------------------------------------------------------------------------------------
# vessel tree geometry
# --------------------------------------------------------------------------------------------
def grow_tree(rng, size, n_roots, r_root, r_stop, max_depth, max_segs):
    """Random-walk branching trees.  Returns arrays (x0,y0,x1,y1,r0,r1) of capsule segments."""
    segs = []
    stack = []
    for _ in range(n_roots):
        side = rng.choice(4, p=[0.55, 0.15, 0.15, 0.15])  # mostly from the bottom (neck -> head)
        u = rng.uniform(0.2, 0.8) * size
        if side == 0:
            x, y, a = u, size + 2.0, -np.pi / 2
        elif side == 1:
            x, y, a = u, -2.0, np.pi / 2
        elif side == 2:
            x, y, a = -2.0, u, 0.0
        else:
            x, y, a = size + 2.0, u, np.pi
        a += rng.normal(0, 0.3)
        stack.append((x, y, a, rng.uniform(*r_root), 0))
    margin = 12.0
    while stack and len(segs) < max_segs:
        x, y, a, r, depth = stack.pop()
        curl = rng.normal(0, 0.025)  # persistent curvature of this branch
        n_steps = 0
        while r >= r_stop and len(segs) < max_segs:
            step = rng.uniform(5.0, 9.0)
            a += curl + rng.normal(0, 0.16)
            nx, ny = x + step * np.cos(a), y + step * np.sin(a)
            nr = r * rng.uniform(0.975, 0.995)  # taper along the branch
            segs.append((x, y, nx, ny, r, nr))
            x, y, r = nx, ny, nr
            n_steps += 1
            if x < -margin or y < -margin or x > size + margin or y > size + margin:
                break
            if n_steps > 2 and depth < max_depth and rng.random() < 0.13:
                side = rng.choice([-1.0, 1.0])
                cr = r * rng.uniform(0.55, 0.8)
                stack.append((x, y, a + side * rng.uniform(0.4, 1.1), cr, depth + 1))
                r *= 0.93  # the parent loses calibre at a bifurcation
                a -= side * rng.uniform(0.05, 0.3)  # and bends away from the child
    if not segs:
        return np.zeros((6, 0), np.float32)
    return np.asarray(segs, np.float32).T


def rasterise(segs, size):
    """Path length through the tubes (max over overlapping segments) and the binary mask.

    Each capsule is evaluated on a fixed BxB box anchored at floor(min corner); the point-to-
    segment distance t and the radius interpolated at the projection give the chord length.
    Sub-pixel vessels are widened to an effective radius of 1 px with the same integrated path
    length, so they neither vanish between pixel centres nor get too dark."""
    H = W = size
    thick = np.zeros(H * W, np.float32)
    mask = np.zeros(H * W, np.bool_)
    if segs.shape[1] == 0:
        return thick.reshape(H, W), mask.reshape(H, W)
    x0, y0, x1, y1, r0, r1 = segs
    rmax = np.maximum(np.maximum(r0, r1), 1.0)
    bx = np.floor(np.minimum(x0, x1) - rmax - 1).astype(np.int32)
    by = np.floor(np.minimum(y0, y1) - rmax - 1).astype(np.int32)
    ext = np.maximum(np.abs(x1 - x0), np.abs(y1 - y0)) + 2 * rmax + 3
    B = int(np.ceil(ext.max()))
    o = np.arange(B, dtype=np.int32)
    px = bx[:, None, None] + o[None, None, :]  # [n,1,B]
    py = by[:, None, None] + o[None, :, None]  # [n,B,1]
    dx, dy = (x1 - x0)[:, None, None], (y1 - y0)[:, None, None]
    L2 = np.maximum(dx * dx + dy * dy, 1e-6)
    rx, ry = (px + 0.5) - x0[:, None, None], (py + 0.5) - y0[:, None, None]  # pixel centres
    t = np.clip((rx * dx + ry * dy) / L2, 0.0, 1.0)
    ex, ey = rx - t * dx, ry - t * dy
    d2 = ex * ex + ey * ey
    r = r0[:, None, None] + t * (r1 - r0)[:, None, None]
    re = np.maximum(r, 1.0)
    chord = 2.0 * np.sqrt(np.maximum(re * re - d2, 0.0)) * (r / re)
    inside = (d2 <= np.maximum(r, 0.6) ** 2) | (chord > 0)
    valid = inside & (px >= 0) & (px < W) & (py >= 0) & (py < H)
    idx = (np.broadcast_to(py, valid.shape) * W + np.broadcast_to(px, valid.shape))[valid]
    vals = chord[valid]
    np.maximum.at(thick, idx, vals)
    mask[idx[(d2 <= np.maximum(r, 0.6) ** 2)[valid]]] = True
    return thick.reshape(H, W), mask.reshape(H, W)


# --------------------------------------------------------------------------------------------
# frame-level helpers
# --------------------------------------------------------------------------------------------
def smooth_field(rng, size, cells=5, amp=1.0):
    """Low-frequency random field: a cells x cells grid upsampled bilinearly (separable matrices)."""
    g = rng.normal(0, amp, (cells, cells)).astype(np.float32)
    pos = np.linspace(0, cells - 1, size, dtype=np.float32)
    i0 = np.minimum(pos.astype(np.int32), cells - 2)
    f = pos - i0
    U = np.zeros((size, cells), np.float32)
    U[np.arange(size), i0] = 1 - f
    U[np.arange(size), i0 + 1] = f
    return U @ g @ U.T


def radial(size, cx=0.5, cy=0.5):
    c = (np.arange(size, dtype=np.float32) + 0.5) / size
    return np.sqrt((c[None, :] - cx) ** 2 + (c[:, None] - cy) ** 2)


def skull_band(rng, size):
    """A smooth elliptical bone band (skull outline) used for misregistration residue."""
    c = (np.arange(size, dtype=np.float32) + 0.5) / size
    cx, cy = rng.uniform(0.35, 0.65, 2)
    ax, ay = rng.uniform(0.35, 0.6, 2)
    th = rng.uniform(0, np.pi)
    X, Y = c[None, :] - cx, c[:, None] - cy
    u = (X * np.cos(th) + Y * np.sin(th)) / ax
    v = (-X * np.sin(th) + Y * np.cos(th)) / ay
    rho = np.sqrt(u * u + v * v)
    width = rng.uniform(0.05, 0.1)
    band = np.exp(-((rho - 1.0) / width) ** 2)
    # interior texture: a few bony ridges (petrous ridge, orbit) as extra bands
    for _ in range(rng.integers(1, 4)):
        k = rng.uniform(-1, 1, 2)
        off = rng.uniform(-0.3, 0.3)
        band += 0.6 * np.exp(-(((X * k[0] + Y * k[1]) - off) / 0.02) ** 2) * (rho < 1.0)
    return band.astype(np.float32)


def shift(img, dx, dy):
    """Integer shift with edge replication (np.roll would wrap vessels around the border)."""
    H, W = img.shape
    ys = np.clip(np.arange(H) - dy, 0, H - 1)
    xs = np.clip(np.arange(W) - dx, 0, W - 1)
    return img[ys][:, xs]


# --------------------------------------------------------------------------------------------
# the generator
# --------------------------------------------------------------------------------------------
def make_frame(rng, size=512, cls=0):
    """One synthetic DSA frame.  Returns (image float32 [H,W] raw intensity 0..4095, mask uint8 [H,W])."""
    cls = int(cls)
    area = (size / 512.0) ** 2
    n_roots = max(1, int(round(rng.uniform(1.5, 3.5) * max(area, 0.34))))
    max_segs = int(900 * max(area, 0.25))
    if cls == 2:  # proximal filling only: thick stop radius, few generations
        segs = grow_tree(rng, size, n_roots, (3.5, 6.5), rng.uniform(1.8, 3.0), rng.integers(1, 3), max_segs // 3)
    else:
        segs = grow_tree(rng, size, n_roots, (3.5, 6.5), rng.uniform(0.6, 0.9), 6, max_segs)
    thick, mask = rasterise(segs, size)

    bg = rng.uniform(1800, 2600)
    mu = rng.uniform(0.06, 0.1)  # attenuation per pixel of path: a 10 px wide artery ~ 50 % darker
    if cls == 2:
        mu *= rng.uniform(0.15, 0.4)
    field = bg * (1.0 + smooth_field(rng, size, 5, 0.03))
    vig = rng.uniform(0.05, 0.25)
    field *= 1.0 - vig * (radial(size, *rng.uniform(0.4, 0.6, 2)) / 0.7071) ** 2

    path = thick
    if cls == 1:
        kind = rng.choice(3)  # 0 ghost vessels, 1 bone residue, 2 both
        if kind in (0, 2):
            ang = rng.uniform(0, 2 * np.pi)
            dist = rng.uniform(3.0, 8.0)
            ghost = shift(thick, int(round(dist * np.cos(ang))), int(round(dist * np.sin(ang))))
            path = np.maximum(thick, ghost * rng.uniform(0.45, 0.9))
    img = field * np.exp(-mu * path)
    if cls == 1 and kind in (1, 2):
        band = skull_band(rng, size)
        ang = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(3.0, 9.0) * size / 512.0 + 1.0
        resid = band - shift(band, int(round(dist * np.cos(ang))), int(round(dist * np.sin(ang))))
        img = img * (1.0 + rng.uniform(0.12, 0.3) * resid)

    # quantum-like noise: sigma ~ k * sqrt(I); k gives ~1-2 % of the background level
    k = rng.uniform(0.5, 1.0)
    heavy = False
    over = False
    trunc = False
    if cls == 3:
        pick = rng.integers(1, 8)  # non-empty subset of {noise, over-exposure, truncation}
        heavy, over, trunc = bool(pick & 1), bool(pick & 2), bool(pick & 4)
    if heavy:
        k *= rng.uniform(4.0, 8.0)
    img = img + k * np.sqrt(np.maximum(img, 1.0)) * rng.standard_normal((size, size)).astype(np.float32)

    visible = mask.copy()
    if over:
        # burn-out: scale so that the brightest 30-90 % of the frame clips at full scale
        gain = FULL_SCALE / max(float(np.quantile(img[::4, ::4], rng.uniform(0.1, 0.7))), 1.0)
        img = img * gain
        visible &= img < FULL_SCALE
    if trunc:
        keep = np.ones((size, size), np.bool_)
        if rng.random() < 0.4:  # small circular aperture (image-intensifier style)
            rr = radial(size, *rng.uniform(0.4, 0.6, 2))
            keep &= rr < rng.uniform(0.25, 0.4)
        else:  # straight collimator shutters on one or two sides
            for side in rng.choice(4, size=rng.integers(1, 3), replace=False):
                cut = int(rng.uniform(0.25, 0.45) * size)
                if side == 0:
                    keep[:cut] = False
                elif side == 1:
                    keep[-cut:] = False
                elif side == 2:
                    keep[:, :cut] = False
                else:
                    keep[:, -cut:] = False
        dark = rng.uniform(20, 150)
        img = np.where(keep, img, dark + 3.0 * rng.standard_normal((size, size)).astype(np.float32))
        visible &= keep
    img = np.clip(img, 0.0, FULL_SCALE).astype(np.float32)
    return img, visible.astype(np.uint8)


def preprocess(img):
    """Spec preprocessing after resizing: min-max to [0,1] per image, then (x-0.5)/0.5."""
    lo, hi = float(img.min()), float(img.max())
    x = (img - lo) / max(hi - lo, 1e-6)
    return ((x - 0.5) / 0.5).astype(np.float32)


# --------------------------------------------------------------------------------------------
# PNG writing (own minimal encoder: grayscale 8 or 16 bit, no filtering, one IDAT)
# --------------------------------------------------------------------------------------------
def png_bytes(arr):
    arr = np.asarray(arr)
    if arr.dtype == np.uint8:
        depth, rows = 8, arr
    elif arr.dtype == np.uint16:
        depth, rows = 16, arr.astype(">u2")  # PNG samples are big-endian
    else:
        raise ValueError("uint8 or uint16 only")
    H, W = arr.shape
    raw = b"".join(b"\x00" + rows[i].tobytes() for i in range(H))  # filter type 0 per scanline

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", W, H, depth, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def to_u8(img):
    return np.clip(np.round(img / FULL_SCALE * 255.0), 0, 255).astype(np.uint8)


def to_u16(img):
    return np.clip(np.round(img), 0, 65535).astype(np.uint16)  # 12-bit values in a 16-bit container


def write_examples(outdir, seed=20240601, size=512):
    """16 frames in 4 series (A..D), 4 per class, half 16-bit and half 8-bit, labels.csv, and a
    PNG truncated in the middle of its IDAT chunk."""
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(seed)
    # series A/B: mostly good and motion; C/D: contrast and other problems -- a realistic mix
    plan = [("A", 0), ("A", 0), ("A", 1), ("A", 3),
            ("B", 0), ("B", 1), ("B", 1), ("B", 2),
            ("C", 2), ("C", 2), ("C", 0), ("C", 3),
            ("D", 3), ("D", 3), ("D", 1), ("D", 2)]
    rows = ["file,class,class_name"]
    frame_no = {}
    for i, (series, cls) in enumerate(plan):
        frame_no[series] = frame_no.get(series, 0) + 1
        img, _ = make_frame(rng, size, cls)
        bits = 16 if i % 2 == 0 else 8
        name = "series%s_f%02d_%dbit.png" % (series, frame_no[series], bits)
        data = png_bytes(to_u16(img) if bits == 16 else to_u8(img))
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        rows.append("%s,%d,%s" % (name, cls, CLASS_NAMES[cls]))
        if i == 0:
            first = data
    with open(os.path.join(outdir, "labels.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    # corrupt file: cut the first frame in the middle of its IDAT payload
    idat = first.index(b"IDAT")
    (length,) = struct.unpack(">I", first[idat - 4:idat])
    with open(os.path.join(outdir, "corrupt_truncated.png"), "wb") as f:
        f.write(first[: idat + 4 + length // 2])
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="/tmp/angio_synth")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--examples", default=None, help="write the repository example set into this folder")
    ap.add_argument("--bench", action="store_true", help="time frame generation")
    a = ap.parse_args()
    if a.examples:
        for r in write_examples(a.examples, size=a.size):
            print(r)
        return
    rng = np.random.default_rng(a.seed)
    if a.bench:
        t0 = time.perf_counter()
        n = 40
        for i in range(n):
            make_frame(rng, a.size, i % 4)
        print("%.1f ms per %dx%d frame" % ((time.perf_counter() - t0) / n * 1e3, a.size, a.size))
        return
    os.makedirs(a.out, exist_ok=True)
    for i in range(a.n):
        cls = i % 4
        img, m = make_frame(rng, a.size, cls)
        base = os.path.join(a.out, "synth_%03d_c%d" % (i, cls))
        with open(base + ".png", "wb") as f:
            f.write(png_bytes(to_u8(img)))
        with open(base + "_mask.png", "wb") as f:
            f.write(png_bytes(m * 255))
        print(base, CLASS_NAMES[cls], "vessel fraction %.3f" % m.mean())


if __name__ == "__main__":
    sys.exit(main())
