"""Evaluate angio_qa weights on a held-out SYNTHETIC set (not clinical data).

  nice -n 19 /usr/bin/python3 evaluate.py --n 1000 --size 512 --seed 777

The held-out frames come from synth.make_frame with a seed the training never uses (training
draws from default_rng(1234) / default_rng([1234, step]); this uses default_rng(777)), classes
balanced (frame i has class i % K).  Metrics:
  * vessel Dice: threshold sigmoid(seg_logit) at 0.5; per-frame Dice averaged over frames whose
    mask is non-empty (dice_mean), plus the pooled Dice over all pixels (dice_pooled) and the
    mean per class;
  * class accuracy from argmax(cls_logit) and the KxK confusion matrix (rows = true class,
    columns = predicted class).
Writes the figures as JSON (default eval_synthetic.json next to this file).  All figures are
synthetic: they are NOT comparable with the paper's 0.8182 accuracy on clinical angiograms.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import synth  # noqa: E402
from reference import CLASS_NAMES  # noqa: E402
from safetensors_io import load_model  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=os.path.join(HERE, "angio_qa.safetensors"))
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(HERE, "eval_synthetic.json"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, meta = load_model(a.weights)
    K = model.num_classes
    rng = np.random.default_rng(a.seed)
    conf = np.zeros((K, K), np.int64)
    dices, dice_cls = [], [[] for _ in range(K)]
    inter_all = mass_all = 0
    t0 = time.time()
    t_model = 0.0
    i = 0
    def result(done):
        """Figures over the first `done` frames; also written to --out."""
        res = {
            "data": "SYNTHETIC held-out set (models/angio_qa/synth.py), NOT comparable with the paper's "
                    "0.8182 accuracy on clinical data",
            "weights": os.path.basename(a.weights), "weights_meta": meta,
            "n_frames": done, "n_requested": a.n, "size": a.size, "seed": a.seed,
            "dice_mean": float(np.mean(dices)), "dice_frames": len(dices),
            "dice_pooled": 2.0 * inter_all / max(mass_all, 1),
            "dice_mean_per_class": {CLASS_NAMES[k]: float(np.mean(v)) if v else None for k, v in enumerate(dice_cls)},
            "accuracy": float(np.trace(conf) / conf.sum()),
            "per_class_recall": {CLASS_NAMES[k]: float(conf[k, k] / max(conf[k].sum(), 1)) for k in range(K)},
            "confusion_matrix": conf.tolist(), "confusion_rows": "true class", "confusion_cols": "predicted class",
            "class_names": CLASS_NAMES[:K],
            "seconds_per_frame_model_cpu": t_model / max(done, 1),
        }
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)
        return res

    while i < a.n:
        nb = min(a.batch, a.n - i)
        xs, ms, ys = [], [], []
        for j in range(nb):
            c = (i + j) % K
            img, m = synth.make_frame(rng, a.size, c)
            xs.append(synth.preprocess(img))
            ms.append(m.astype(bool))
            ys.append(c)
        tm = time.time()
        with torch.no_grad():
            seg, cls = model(torch.from_numpy(np.stack(xs)[:, None]))
        t_model += time.time() - tm
        pred_mask = (seg[:, 0] > 0).numpy()  # sigmoid > 0.5  <=>  logit > 0
        pred_cls = cls.argmax(1).numpy()
        for j in range(nb):
            conf[ys[j], pred_cls[j]] += 1
            p, g = pred_mask[j], ms[j]
            inter = int((p & g).sum())
            mass = int(p.sum() + g.sum())
            inter_all += inter
            mass_all += mass
            if g.any():
                d = 2.0 * inter / mass
                dices.append(d)
                dice_cls[ys[j]].append(d)
        i += nb
        if i % 100 == 0 or i == a.n:
            print("%5d/%d  dice_mean=%.4f  acc=%.4f  %.2f s/frame (model %.2f)" % (
                i, a.n, np.mean(dices), np.trace(conf) / conf.sum(), (time.time() - t0) / i, t_model / i), flush=True)
            result(i)  # writes the JSON: partial results survive an interrupted run
    res = result(a.n)
    print(json.dumps({k: res[k] for k in ("dice_mean", "dice_pooled", "accuracy", "confusion_matrix")}, indent=1))


if __name__ == "__main__":
    main()
