"""Train angio_qa on synthetic DSA frames (CPU, wall-clock budget) and write angio_qa.safetensors.

  nice -n 19 /usr/bin/python3 train.py --minutes 70 --size 256 --batch 8

Data: frames are generated on the fly by synth.make_frame with a seeded numpy Generator, so a run
is reproducible up to thread scheduling (no data set on disk).  Every batch holds the same number
of frames of each class (class-balanced sampling: the synthetic classes are otherwise unbounded,
and balancing keeps the classifier from learning a prior).  The network is fully convolutional
plus global pooling, so training at 256x256 and running at 512x512 is legitimate; synth.py keeps
vessel calibres in pixels, so a 256 frame looks like a window of a 512 frame.

Loss (spec): BCEWithLogits(seg) + (1 - softDice(seg)) + CE(cls).  softDice is computed over the
whole batch (sum of products / sum of masses) so empty-mask frames (class 3 shutters) don't blow up.
Optimiser Adam, lr with a short linear warm-up then cosine decay over the WALL-CLOCK budget (the
step count is unknown in advance on a shared machine).

Outputs (in --outdir, default this folder):
  angio_qa.safetensors   final fp32 weights, keys = state_dict keys without num_batches_tracked
  train_ckpt.pt          periodic checkpoint (model + optimiser + step) for --resume (git-ignored)
  train.log              one line per log interval (git-ignored)
"""

import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from reference import AngioQA, count_params  # noqa: E402
from safetensors_io import save_safetensors, state_dict_for_export  # noqa: E402
import synth  # noqa: E402


def make_batch(rng, size, batch, n_classes=4):
    """Class-balanced batch: classes are a shuffled repetition of 0..K-1."""
    classes = np.resize(np.arange(n_classes), batch)
    rng.shuffle(classes)
    xs, ms = [], []
    for c in classes:
        img, m = synth.make_frame(rng, size, int(c))
        xs.append(synth.preprocess(img))
        ms.append(m)
    x = torch.from_numpy(np.stack(xs)[:, None])
    m = torch.from_numpy(np.stack(ms)[:, None].astype(np.float32))
    return x, m, torch.from_numpy(classes.astype(np.int64))


def soft_dice(logit, target, eps=1.0):
    p = torch.sigmoid(logit)
    inter = (p * target).sum()
    return (2 * inter + eps) / (p.sum() + target.sum() + eps)


def joint_loss(seg, cls, mask, label, ce_weight=1.0):
    bce = F.binary_cross_entropy_with_logits(seg, mask)
    dice = soft_dice(seg, mask)
    ce = F.cross_entropy(cls, label)
    return bce + (1 - dice) + ce_weight * ce, bce.item(), dice.item(), ce.item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=70.0, help="wall-clock budget for training")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--final-size", type=int, default=512,
                    help="size for the last --final-minutes (same pixels per batch: batch*(size/final)^2)")
    ap.add_argument("--final-minutes", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--outdir", default=HERE)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--bench", type=int, default=0, help="only time this many steps and exit")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    model = AngioQA()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    step, used = 0, 0.0  # `used` = training seconds spent in earlier runs (resume)
    ckpt_path = os.path.join(a.outdir, "train_ckpt.pt")
    if a.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, used = ck["step"], ck["seconds"]
        rng = np.random.default_rng([a.seed, step])  # fresh stream: don't replay seen frames
    budget = a.minutes * 60.0
    log = open(os.path.join(a.outdir, "train.log" if not a.bench else "bench.log"), "a")

    def say(s):
        print(s)
        log.write(s + "\n")
        log.flush()

    step0 = step
    say("# start %s params=%d size=%d batch=%d lr=%g seed=%d budget=%.1f min threads=%d step=%d" % (
        time.strftime("%Y-%m-%d %H:%M:%S"), count_params(model), a.size, a.batch, a.lr, a.seed,
        a.minutes, a.threads, step))
    model.train()
    t0 = time.time()
    last_ckpt = t0
    acc = {"loss": 0.0, "bce": 0.0, "dice": 0.0, "ce": 0.0, "ok": 0, "n": 0, "gen": 0.0, "k": 0}
    warm = 100

    def save(final=False):
        meta = {"model": "angio_qa", "format": "fp32 state_dict without num_batches_tracked",
                "train_steps": step, "train_seconds": "%.0f" % (used + time.time() - t0),
                "train_size": a.size, "batch": a.batch, "seed": a.seed,
                "data": "synthetic DSA (models/angio_qa/synth.py)", "final": final}
        save_safetensors(os.path.join(a.outdir, "angio_qa.safetensors"), state_dict_for_export(model), meta)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                    "seconds": used + time.time() - t0}, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)

    while True:
        elapsed = used + time.time() - t0
        if elapsed >= budget or (a.bench and step >= a.bench):
            break
        # warm-up then cosine over the wall-clock budget, floor at 2 % of the peak
        frac = min(elapsed / budget, 1.0)
        lr = a.lr * min(1.0, (step + 1) / warm) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        tg = time.time()
        # last phase at the deployment size: window/pool geometry of the L-GSAMs and BN statistics
        # then match what inference at 512 sees (at 256, F5 is a single 8x8 window)
        if elapsed >= budget - a.final_minutes * 60:
            size = a.final_size
            bsz = max(4 if a.batch >= 4 else a.batch, a.batch * a.size * a.size // (size * size))
        else:
            size, bsz = a.size, a.batch
        x, m, y = make_batch(rng, size, bsz)
        acc["gen"] += time.time() - tg
        seg, cls = model(x)
        loss, bce, dice, ce = joint_loss(seg, cls, m, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        acc["loss"] += loss.item(); acc["bce"] += bce; acc["dice"] += dice; acc["ce"] += ce
        acc["ok"] += int((cls.argmax(1) == y).sum()); acc["n"] += len(y); acc["k"] += 1
        if step % a.log_every == 0:
            k = acc["k"]
            now = used + time.time() - t0
            say("step %6d  t=%7.1fs  %.3f step/s  size=%d  lr=%.2e  loss=%.4f  bce=%.4f  dice=%.4f  ce=%.4f  acc=%.3f  gen=%.0f%%" % (
                step, now, (step - step0) / max(time.time() - t0, 1e-9),
                size, lr, acc["loss"] / k, acc["bce"] / k, acc["dice"] / k, acc["ce"] / k, acc["ok"] / acc["n"],
                100 * acc["gen"] / max(time.time() - t0, 1e-9)))
            acc = {kk: 0 if isinstance(v, int) else 0.0 for kk, v in acc.items()} | {"gen": acc["gen"]}
        if not a.bench and time.time() - last_ckpt > a.ckpt_minutes * 60:
            save()
            last_ckpt = time.time()
    if not a.bench:
        save(final=True)
    say("# done step=%d seconds=%.0f (%s)" % (step, used + time.time() - t0, time.strftime("%H:%M:%S")))


if __name__ == "__main__":
    main()
