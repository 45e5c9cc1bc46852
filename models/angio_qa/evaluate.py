"""Evaluate angio_qa weights on a held-out SYNTHETIC set (not clinical data).

  nice -n 19 /usr/bin/python3 evaluate.py --n 1000 --size 512 --seed 20261130 --temperature T \
      --png-dir /tmp/angio_test_png --png-n 300

The held-out frames come from synth.make_frame with a seed the training never uses (training
draws from default_rng(1234) / default_rng([1234, step]); this uses default_rng(777)), classes
balanced (frame i has class i % K).  Metrics:
  * vessel Dice: threshold sigmoid(seg_logit) at 0.5; per-frame Dice averaged over frames whose
    mask is non-empty (dice_mean), plus the pooled Dice over all pixels (dice_pooled) and the
    mean per class;
  * class accuracy from argmax(cls_logit) and the KxK confusion matrix (rows = true class,
    columns = predicted class), recall and precision per class;
  * expected calibration error (15 equal-width confidence bins, top-class probability) of
    softmax(cls_logit) and of softmax(cls_logit / T) with the temperature T fitted on the
    validation set (train_heads.py), which is what the model package ships.
Frames are rounded to integers (detector counts) before preprocessing, so that the first --png-n
frames, written as 16-bit PNG to --png-dir, are exactly what `lumen qc` reads; their per-frame
predictions go to the JSON ("frames") for the lumen-vs-PyTorch comparison (lumen_check.py).
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
from train_heads import ece, heads  # noqa: E402


def backbone_sha256(model):
    """Hash of every tensor outside the heads (seg., cls., fc.): equal hashes = equal features."""
    import hashlib
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        if not k.split(".")[0] in ("seg", "cls", "fc") and not k.endswith("num_batches_tracked"):
            h.update(k.encode())
            h.update(v.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=os.path.join(HERE, "angio_qa.safetensors"))
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--png-dir", default=None)
    ap.add_argument("--png-n", type=int, default=0)
    ap.add_argument("--features", default=None,
                    help="folder of cached d1/F5 features (stage 2 freezes backbone and decoder): "
                         "frames whose shard exists there and whose backbone hash matches run the "
                         "heads only; other frames run the whole network and write their shard")
    ap.add_argument("--skip-uncached", action="store_true",
                    help="with --features: frames without a cached shard are drawn but not evaluated")
    ap.add_argument("--forward-from", type=int, default=0,
                    help="frames before this index are drawn (the stream is sequential) but not "
                         "evaluated: a second worker caching the later part of the set")
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
    all_logits, all_labels, frames = [], [], []
    if a.png_dir:
        os.makedirs(a.png_dir, exist_ok=True)

    def ece_at(T):
        return ece(torch.cat(all_logits), torch.tensor(all_labels), T)

    def result(done):
        """Figures over the first `done` frames; also written to --out."""
        res = {
            "data": "SYNTHETIC held-out set (models/angio_qa/synth.py), NOT comparable with the paper's "
                    "0.8182 accuracy on clinical data",
            "weights": os.path.basename(a.weights), "weights_meta": meta,
            "n_frames": done - n_skipped, "n_requested": a.n, "n_drawn_not_evaluated": n_skipped,
            "size": a.size, "seed": a.seed,
            "dice_mean": float(np.mean(dices)), "dice_frames": len(dices),
            "dice_pooled": 2.0 * inter_all / max(mass_all, 1),
            "dice_mean_per_class": {CLASS_NAMES[k]: float(np.mean(v)) if v else None for k, v in enumerate(dice_cls)},
            "accuracy": float(np.trace(conf) / conf.sum()),
            "per_class_recall": {CLASS_NAMES[k]: float(conf[k, k] / max(conf[k].sum(), 1)) for k in range(K)},
            "per_class_precision": {CLASS_NAMES[k]: float(conf[k, k] / max(conf[:, k].sum(), 1)) for k in range(K)},
            "temperature": a.temperature, "ece_bins": 15,
            "ece_uncalibrated": ece_at(1.0), "ece_calibrated": ece_at(a.temperature),
            "confusion_matrix": conf.tolist(), "confusion_rows": "true class", "confusion_cols": "predicted class",
            "class_names": CLASS_NAMES[:K],
            "seconds_per_frame_model_cpu": t_model / max(done, 1),
            "backbone_sha256": bb_hash, "frames_heads_only_on_cached_features": n_cached,
            "frames_png_dir": a.png_dir, "frames": frames,
        }
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)
        return res

    bb_hash = backbone_sha256(model)
    feats, cache = {}, {"d1": [], "f5": []}
    if a.features:
        os.makedirs(a.features, exist_ok=True)
        model.d1.register_forward_hook(lambda mod, inp, o: feats.__setitem__("d1", o))
        model.e5.register_forward_hook(lambda mod, inp, o: feats.__setitem__("f5", o))
    shard = 20
    assert not a.features or shard % a.batch == 0
    n_cached = n_skipped = 0

    while i < a.n:
        nb = min(a.batch, a.n - i)
        xs, ms, ys = [], [], []
        for j in range(nb):
            c = (i + j) % K
            img, m = synth.make_frame(rng, a.size, c)
            img = np.round(img)  # integer detector counts: what a 16-bit PNG holds
            if a.png_dir and i + j < a.png_n:
                with open(os.path.join(a.png_dir, "test_%04d_c%d.png" % (i + j, c)), "wb") as f:
                    f.write(synth.png_bytes(synth.to_u16(img)))
            xs.append(synth.preprocess(img))
            ms.append(m.astype(bool))
            ys.append(c)
        spath = a.features and os.path.join(a.features, "test%d_%04d.pt" % (a.seed, i // shard))
        if i < a.forward_from or (a.skip_uncached and not os.path.exists(spath)):
            n_skipped += nb
            i += nb
            continue
        tm = time.time()
        rec = None
        if spath and os.path.exists(spath):
            rec = torch.load(spath)
            if rec["backbone_sha256"] != bb_hash:
                raise SystemExit("%s: cached with another backbone" % spath)
        with torch.no_grad():
            if rec is not None:
                o = i % shard
                seg, cls = heads(model, rec["d1"][o:o + nb], rec["f5"][o:o + nb])
                n_cached += nb
            else:
                seg, cls = model(torch.from_numpy(np.stack(xs)[:, None]))
                if spath:
                    cache["d1"].append(feats["d1"].half())
                    cache["f5"].append(feats["f5"].clone())
                    if (i + nb) % shard == 0 or i + nb == a.n:
                        torch.save({"d1": torch.cat(cache["d1"]), "f5": torch.cat(cache["f5"]),
                                    "backbone_sha256": bb_hash}, spath + ".tmp")
                        os.replace(spath + ".tmp", spath)
                        cache = {"d1": [], "f5": []}
        t_model += time.time() - tm
        pred_mask = (seg[:, 0] > 0).numpy()  # sigmoid > 0.5  <=>  logit > 0
        pred_cls = cls.argmax(1).numpy()
        all_logits.append(cls)
        all_labels.extend(ys)
        prob = torch.softmax(cls / a.temperature, 1)
        for j in range(nb):
            if i + j < a.png_n:
                frames.append({"file": "test_%04d_c%d.png" % (i + j, ys[j]), "class": ys[j],
                               "pred": int(pred_cls[j]), "p": [round(float(v), 6) for v in prob[j]],
                               "vessel_fraction": float(pred_mask[j].mean())})
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
            if n_skipped == i:
                continue
            print("%5d/%d  dice_mean=%.4f  acc=%.4f  %.2f s/frame (model %.2f)" % (
                i, a.n, np.mean(dices), np.trace(conf) / conf.sum(), (time.time() - t0) / (i - n_skipped),
                t_model / (i - n_skipped)), flush=True)
            result(i)  # writes the JSON: partial results survive an interrupted run
    res = result(a.n)
    print(json.dumps({k: res[k] for k in ("dice_mean", "dice_pooled", "accuracy", "confusion_matrix")}, indent=1))


if __name__ == "__main__":
    main()
