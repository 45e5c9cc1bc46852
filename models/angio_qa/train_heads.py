"""Stage 2 of angio_qa training: fine-tune the class head (cls.0 conv, cls.1 BN affine, fc) at
512x512 on the features cached by cache_features.py (everything else frozen), select the
checkpoint with the best validation macro-F1 (ties: diagnostic recall), fit a softmax temperature
on validation.

  nice -n 19 /usr/bin/python3 train_heads.py --work /work/train-ckpt --epochs 60

Why only the class head: stage 1 trained mostly at 256x256 (F5 = one 8x8 L-GSAM window, 64 cells
pooled), inference runs at 512 (F5 16x16, four windows, 256 cells), and the class head's
diagnostic-vs-motion boundary is where the shipped weights failed (diagnostic recall 0.64, motion
0.96).  A full 512 training step costs 30-50 s on the shared 2-core machine; a head step on
cached features costs milliseconds.  Seg head training on cached d1 was tried and cost ~0.75 CPU s
per frame and step (full-resolution element-wise ops): dropped.  Loss: CE (the seg terms of the
joint loss are constant when the seg path is frozen).
BatchNorm stays in inference mode (running statistics of stage 1; affine parameters train).
Batches are class-balanced (batch/4 frames of each class), order from torch.Generator(seed+epoch).
Resumable: <work>/heads_ckpt.pt every --ckpt-every steps and at each epoch end (--resume).
Outputs in <work>: heads.log (one line per epoch + validation), best.safetensors (full model),
best.json (validation figures + temperature), and --summary (the committed copy of the log lines).
All data SYNTHETIC (synth.py).
"""

import argparse
import glob
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from reference import CLASS_NAMES  # noqa: E402
from safetensors_io import load_model, save_safetensors, state_dict_for_export  # noqa: E402


def load_set(work, name, model):
    files = sorted(glob.glob(os.path.join(work, "cache", name + "_*.pt")))
    recs = []
    for f in files:
        r = torch.load(f)
        if "m" not in r:  # early shards kept d1 (input of the seg head) instead of m
            with torch.no_grad():
                seg, _ = heads(model, r["d1"], r["f5"])
                r["m"] = F.avg_pool2d(torch.sigmoid(seg), 32, 32)
        recs.append({k: r[k] for k in ("f5", "m", "mask", "label", "seg0", "cls0")})
    return {k: torch.cat([r[k] for r in recs]) for k in recs[0]}, len(files)


def cls_head(model, f5, m):
    return model.fc(model.cls(torch.cat([f5, f5 * m, m], dim=1)).mean(dim=(2, 3)))


def heads(model, d1, f5):
    seg = F.interpolate(model.seg(d1.float()), scale_factor=2.0, mode="bilinear", align_corners=False)
    m = F.avg_pool2d(torch.sigmoid(seg), 32, 32, count_include_pad=False)
    g = model.cls(torch.cat([f5, f5 * m, m], dim=1)).mean(dim=(2, 3))
    return seg, model.fc(g)


def soft_dice(logit, target, eps=1.0):
    p = torch.sigmoid(logit)
    return (2 * (p * target).sum() + eps) / (p.sum() + target.sum() + eps)


def metrics(conf):
    K = conf.shape[0]
    rec = [conf[k, k] / max(conf[k].sum(), 1) for k in range(K)]
    prec = [conf[k, k] / max(conf[:, k].sum(), 1) for k in range(K)]
    f1 = [2 * p * r / max(p + r, 1e-12) for p, r in zip(prec, rec)]
    return {"accuracy": float(np.trace(conf) / conf.sum()), "macro_f1": float(np.mean(f1)),
            "recall": [float(r) for r in rec], "precision": [float(p) for p in prec],
            "confusion": conf.tolist()}


def evaluate(model, data):
    """Validation figures: class metrics, per-frame Dice at sigmoid 0.5 (seg path frozen), logits."""
    with torch.no_grad():
        logits = cls_head(model, data["f5"], data["m"])
    dices = []
    for p, g in zip(data["seg0"], data["mask"]):
        if g.any():
            dices.append(2.0 * float((p & g).sum()) / float(p.sum() + g.sum()))
    K = logits.shape[1]
    conf = np.zeros((K, K), np.int64)
    for t, q in zip(data["label"].tolist(), logits.argmax(1).tolist()):
        conf[t, q] += 1
    res = metrics(conf)
    res["dice_mean"] = float(np.mean(dices))
    res["nll"] = float(F.cross_entropy(logits, data["label"]))
    return res, logits


def fit_temperature(logits, labels):
    """T > 0 minimising the validation NLL of softmax(logits / T) (1-D, golden-section on log T)."""
    def nll(lt):
        return float(F.cross_entropy(logits / math.exp(lt), labels))
    a, b = math.log(0.05), math.log(20.0)
    g = (math.sqrt(5) - 1) / 2
    for _ in range(80):
        c, d = b - g * (b - a), a + g * (b - a)
        if nll(c) < nll(d):
            b = d
        else:
            a = c
    return math.exp((a + b) / 2)


def ece(logits, labels, T=1.0, bins=15):
    p = torch.softmax(logits / T, 1)
    conf, pred = p.max(1)
    ok = (pred == labels).float()
    e = 0.0
    for i in range(bins):
        sel = (conf > i / bins) & (conf <= (i + 1) / bins)
        if sel.any():
            e += float(sel.float().mean()) * abs(float(ok[sel].mean()) - float(conf[sel].mean()))
    return e


def write_results(json_path, best, summary, lines):
    """The selected checkpoint's figures as JSON, and the log lines to the committed summary."""
    with open(json_path, "w") as f:
        json.dump(best, f, indent=1)
    if summary:
        with open(summary, "w") as f:
            f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--init", default="/work/train-ckpt/stage1_shipped.safetensors")
    ap.add_argument("--work", default="/work/train-ckpt")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--ce-weight", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ckpt-every", type=int, default=10, help="steps")
    ap.add_argument("--tag", default="heads")
    ap.add_argument("--train-params", choices=("head", "fc", "bias"), default="head",
                    help="what trains: the whole class head (cls.0, cls.1 affine, fc), the final "
                         "Linear only, or only its bias (a per-class logit offset)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--summary", default=None, help="copy of the log lines (committed)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    tw = time.time()
    model, meta = load_model(a.init)
    model.eval()  # BN running statistics frozen
    train, ntr = load_set(a.work, "train", model)
    val, nva = load_set(a.work, "val", model)
    for p in model.parameters():
        p.requires_grad_(False)
    if a.train_params == "head":
        params = [p for mod in (model.cls, model.fc) for p in mod.parameters()]
    elif a.train_params == "fc":
        params = list(model.fc.parameters())
    else:
        params = [model.fc.bias]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=a.wd)
    K = model.num_classes
    lab = train["label"]
    per_cls = [torch.nonzero(lab == k)[:, 0] for k in range(K)]
    steps_per_epoch = min(len(i) for i in per_cls) * K // a.batch
    total = steps_per_epoch * a.epochs
    ck_path = os.path.join(a.work, a.tag + "_ckpt.pt")
    logf = open(os.path.join(a.work, a.tag + ".log"), "a")
    lines = []

    def say(s):
        print(s, flush=True)
        logf.write(s + "\n")
        logf.flush()
        lines.append(s)

    def key(r):
        return (r["macro_f1"], r["recall"][0])

    step, epoch0, best, cpu0 = 0, 0, None, 0.0
    if a.resume and os.path.exists(ck_path):
        ck = torch.load(ck_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, best, cpu0 = ck["step"], ck["best"], ck["cpu"]
        epoch0 = step // steps_per_epoch
        lines = ck["lines"]
        say("# resume at step %d (epoch %d)" % (step, epoch0))
    else:
        say("# %s init=%s train=%d frames (%d shards) val=%d frames (%d shards) 512x512 batch=%d "
            "train_params=%s lr=%g wd=%g ce_weight=%g epochs=%d steps/epoch=%d seed=%d threads=%d" % (
                time.strftime("%Y-%m-%d %H:%M:%S"), os.path.basename(a.init), len(lab), ntr,
                len(val["label"]), nva, a.batch, a.train_params, a.lr, a.wd, a.ce_weight, a.epochs, steps_per_epoch,
                a.seed, a.threads))
        r, _ = evaluate(model, val)
        say("epoch  0 (init) val acc=%.4f macroF1=%.4f recall=%s prec=%s dice=%.4f nll=%.4f" % (
            r["accuracy"], r["macro_f1"], ["%.3f" % v for v in r["recall"]],
            ["%.3f" % v for v in r["precision"]], r["dice_mean"], r["nll"]))
        best = {"epoch": 0, **r}
        save_safetensors(os.path.join(a.work, a.tag + "_best.safetensors"), state_dict_for_export(model),
                         dict(meta, stage2="init (no head fine-tuning)"))

    def save_ck():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "best": best,
                    "cpu": cpu0 + time.process_time(), "lines": lines}, ck_path + ".tmp")
        os.replace(ck_path + ".tmp", ck_path)

    pooled = None
    if a.train_params != "head":
        with torch.no_grad():
            pooled = model.cls(torch.cat([train["f5"], train["f5"] * train["m"], train["m"]], 1)).mean(dim=(2, 3))
    for epoch in range(epoch0, a.epochs):
        g = torch.Generator().manual_seed(a.seed * 1000 + epoch)
        perms = [idx[torch.randperm(len(idx), generator=g)] for idx in per_cls]
        q = a.batch // K
        batches = [torch.cat([p[s * q:(s + 1) * q] for p in perms]) for s in range(steps_per_epoch)]
        sums = np.zeros(4)
        t0 = time.time()
        for s in range(step - epoch * steps_per_epoch, steps_per_epoch):
            lr = a.lr * min(1.0, (step + 1) / 20) * 0.5 * (1 + math.cos(math.pi * step / total))
            for pg in opt.param_groups:
                pg["lr"] = lr
            idx = batches[s]
            if a.train_params == "head":
                cls = cls_head(model, train["f5"][idx], train["m"][idx])
            else:  # cls.0/cls.1 frozen: the pooled features are fixed
                cls = model.fc(pooled[idx])
            ce = F.cross_entropy(cls, train["label"][idx])
            loss = a.ce_weight * ce
            bce = dice = torch.zeros(())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            sums += [float(loss), float(bce), float(dice), float(ce)]
            if step % a.ckpt_every == 0:
                save_ck()
        n = max(steps_per_epoch, 1)
        r, _ = evaluate(model, val)
        better = key(r) > key(best)
        if better:
            best = {"epoch": epoch + 1, **r}
            save_safetensors(os.path.join(a.work, a.tag + "_best.safetensors"), state_dict_for_export(model),
                             dict(meta, stage2="%s fine-tuned at 512 on cached features, epoch %d" % (a.train_params, epoch + 1)))
        say("epoch %2d step %4d lr=%.2e train loss=%.4f bce=%.4f dice=%.4f ce=%.4f (%.0f s) | val acc=%.4f "
            "macroF1=%.4f recall=%s prec=%s dice=%.4f nll=%.4f%s" % (
                epoch + 1, step, lr, *(sums / n), time.time() - t0, r["accuracy"], r["macro_f1"],
                ["%.3f" % v for v in r["recall"]], ["%.3f" % v for v in r["precision"]], r["dice_mean"],
                r["nll"], "  *best" if better else ""))
        save_ck()
    # temperature for the selected checkpoint: on the calibration set when one is cached (cache_features
    # --n-cal), else on validation (which also chose the epoch, so it looks better separated)
    bm, _ = load_model(os.path.join(a.work, a.tag + "_best.safetensors"))
    tset, tname = val, "val"
    if glob.glob(os.path.join(a.work, "cache", "cal_*.pt")):
        tset, _ = load_set(a.work, "cal", bm)
        tname = "cal"
    r, logits = evaluate(bm, tset)
    T = fit_temperature(logits, tset["label"])
    best.update({"temperature": T, "temperature_set": tname, "temperature_frames": len(tset["label"]),
                 "ece_T1": ece(logits, tset["label"]), "ece_T": ece(logits, tset["label"], T),
                 "cpu_seconds": cpu0 + time.process_time(), "wall_seconds_this_run": time.time() - tw,
                 "class_names": CLASS_NAMES[:K]})
    say("# best epoch %d val acc=%.4f macroF1=%.4f diag recall=%.4f dice=%.4f; temperature %.4f "
        "fitted on %d %s frames (ECE there %.4f -> %.4f); cpu %.0f s, wall %.0f s (this run)" % (
            best["epoch"], best["accuracy"], best["macro_f1"], best["recall"][0], best["dice_mean"], T,
            len(tset["label"]), tname, best["ece_T1"], best["ece_T"], best["cpu_seconds"],
            best["wall_seconds_this_run"]))
    write_results(os.path.join(a.work, a.tag + "_best.json"), best, a.summary, lines)


if __name__ == "__main__":
    main()
