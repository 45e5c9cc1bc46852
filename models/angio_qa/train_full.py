"""Stage 3 of angio_qa training: fine-tune the WHOLE network at the deployment size (512x512),
keep the checkpoint with the best validation macro-F1 (ties: diagnostic recall, then validation
NLL), then fit a softmax temperature on a separate calibration set.

  OMP_NUM_THREADS=2 nice -n 5 /usr/bin/python3 train_full.py --minutes 100 --outdir /work/train-ckpt/stage3

Why: stage 1 (train.py) trained mostly at 256x256, where F5 is a single 8x8 L-GSAM window; stage 2
(train_heads.py) could only re-fit the final Linear layer on frozen 512 features, which moved the
diagnostic/motion boundary but left motion recall at 0.80 and the segmentation where stage 1 left
it (test Dice 0.834).  Here every weight trains at 512 on frames drawn on the fly, so the L-GSAM
window/pool geometry, the BatchNorm statistics and both heads see what inference sees.

Data, all SYNTHETIC (synth.py), classes balanced by construction:
  train        numpy default_rng([--seed, 3, 512]) (on resume [--seed, 3, 512, step]): a stream
               neither stage 1 nor stage 2 drew; every batch holds batch/4 frames of each class.
  validation   default_rng(--val-seed, 31337), --val-n frames, frame i has class i % 4 (the first
               100 are stage 2's validation frames): model selection only.
  calibration  default_rng(--cal-seed, 4242), --cal-n frames: the temperature only (stage 2 fitted
               it on the set that also chose the epoch and the test ECE got worse).
The test seed of evaluate.py is none of these.

Loss (spec): BCEWithLogits(seg) + (1 - softDice(seg)) + ce_weight * CE(cls).  Adam, linear warm-up
over --warm steps, cosine decay over the wall-clock budget (floor 2 %).  Resumable: <outdir>/ckpt.pt
every --ckpt-every steps (--resume).  Outputs in <outdir>: train.log, best.safetensors, best.json
(validation figures, calibration temperature and ECE, cost); --summary copies the log's lines.
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
import synth  # noqa: E402
from reference import CLASS_NAMES  # noqa: E402
from safetensors_io import load_model, save_safetensors, state_dict_for_export  # noqa: E402
from train import joint_loss, make_batch  # noqa: E402
from train_heads import ece, fit_temperature, metrics, write_results  # noqa: E402


def fixed_set(seed, n, size):
    """n frames, frame i of class i % 4, as (x [n,1,s,s] float32, mask [n,s,s] bool, labels)."""
    rng = np.random.default_rng(seed)
    xs, ms = [], []
    for i in range(n):
        img, m = synth.make_frame(rng, size, i % 4)
        xs.append(synth.preprocess(img))
        ms.append(m.astype(np.bool_))
    return (torch.from_numpy(np.stack(xs)[:, None]), torch.from_numpy(np.stack(ms)),
            torch.tensor([i % 4 for i in range(n)]))


def run_set(model, data, batch=4):
    """Class logits and per-frame Dice (sigmoid > 0.5, frames with vessels) in inference mode."""
    x, mask, _ = data
    was = model.training
    model.eval()
    logits, dices = [], []
    with torch.no_grad():
        for b in range(0, len(x), batch):
            seg, cls = model(x[b:b + batch])
            logits.append(cls)
            for p, g in zip(seg[:, 0] > 0, mask[b:b + batch]):
                if g.any():
                    dices.append(2.0 * float((p & g).sum()) / float(p.sum() + g.sum()))
    model.train(was)
    return torch.cat(logits), float(np.mean(dices))


def figures(logits, labels, dice):
    K = logits.shape[1]
    conf = np.zeros((K, K), np.int64)
    for t, q in zip(labels.tolist(), logits.argmax(1).tolist()):
        conf[t, q] += 1
    r = metrics(conf)
    r["dice_mean"] = dice
    r["nll"] = float(F.cross_entropy(logits, labels))
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--init", default=os.path.join(HERE, "angio_qa.safetensors"))
    ap.add_argument("--outdir", default="/work/train-ckpt/stage3")
    ap.add_argument("--minutes", type=float, default=100.0, help="wall-clock budget for training steps")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--warm", type=int, default=30)
    ap.add_argument("--ce-weight", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--val-seed", type=int, default=31337)
    ap.add_argument("--val-n", type=int, default=200)
    ap.add_argument("--val-every", type=int, default=80, help="steps")
    ap.add_argument("--cal-seed", type=int, default=4242)
    ap.add_argument("--cal-n", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ckpt-every", type=int, default=20, help="steps")
    ap.add_argument("--log-every", type=int, default=10, help="steps")
    ap.add_argument("--no-init-val", action="store_true",
                    help="do not validate the starting weights (their figures are known from an "
                         "earlier run; only fine-tuned checkpoints compete)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--summary", default=None, help="copy of the log lines (committed)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.outdir, exist_ok=True)
    ck_path = os.path.join(a.outdir, "ckpt.pt")
    best_path = os.path.join(a.outdir, "best.safetensors")
    logf = open(os.path.join(a.outdir, "train.log"), "a")
    lines = []

    def say(s):
        print(s, flush=True)
        logf.write(s + "\n")
        logf.flush()
        lines.append(s)

    model, meta = load_model(a.init)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    step, used, best, cpu0 = 0, 0.0, None, 0.0
    if a.resume and os.path.exists(ck_path):
        ck = torch.load(ck_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, used, best, cpu0, lines = ck["step"], ck["seconds"], ck["best"], ck["cpu"], ck["lines"]
        say("# resume at step %d (%.0f s trained) %s" % (step, used, time.strftime("%Y-%m-%d %H:%M:%S")))
    rng = np.random.default_rng([a.seed, 3, a.size] + ([step] if step else []))
    tv = time.time()
    val = fixed_set(a.val_seed, a.val_n, a.size)
    say("# validation set: %d frames, seed %d, drawn in %.0f s" % (a.val_n, a.val_seed, time.time() - tv))

    def key(r):
        return (round(r["macro_f1"], 6), r["recall"][0], -r["nll"])

    def validate():
        nonlocal best
        t = time.time()
        logits, dice = run_set(model, val)
        r = figures(logits, val[2], dice)
        better = best is None or key(r) > key(best)  # 'best' is None until the first validation
        if better:
            best = {"step": step, **r}
            save_safetensors(best_path, state_dict_for_export(model),
                             dict(meta, stage3="whole network fine-tuned at %d, step %d" % (a.size, step)))
        say("val step %5d acc=%.4f macroF1=%.4f recall=%s prec=%s dice=%.4f nll=%.4f (%.0f s)%s" % (
            step, r["accuracy"], r["macro_f1"], ["%.3f" % v for v in r["recall"]],
            ["%.3f" % v for v in r["precision"]], r["dice_mean"], r["nll"], time.time() - t,
            "  *best" if better else ""))

    if best is None:
        say("# %s init=%s size=%d batch=%d lr=%g warm=%d ce_weight=%g seed=%d budget=%.0f min threads=%d" % (
            time.strftime("%Y-%m-%d %H:%M:%S"), os.path.basename(a.init), a.size, a.batch, a.lr, a.warm,
            a.ce_weight, a.seed, a.minutes, a.threads))
        if not a.no_init_val:
            validate()  # the starting point is a candidate too

    def save_ck():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "best": best,
                    "seconds": used + time.time() - t0, "cpu": cpu0 + time.process_time(), "lines": lines},
                   ck_path + ".tmp")
        os.replace(ck_path + ".tmp", ck_path)

    model.train()
    budget = a.minutes * 60.0
    t0 = time.time()
    sums, k, ok, n = np.zeros(4), 0, 0, 0
    while used + time.time() - t0 < budget:
        frac = min((used + time.time() - t0) / budget, 1.0)
        lr = a.lr * min(1.0, (step + 1) / a.warm) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        x, m, y = make_batch(rng, a.size, a.batch)
        seg, cls = model(x)
        loss, bce, dice, ce = joint_loss(seg, cls, m, y, a.ce_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        sums += [loss.item(), bce, dice, ce]
        k += 1
        ok += int((cls.argmax(1) == y).sum())
        n += len(y)
        if step % a.log_every == 0:
            say("step %5d t=%6.0fs lr=%.2e loss=%.4f bce=%.4f dice=%.4f ce=%.4f acc=%.3f" % (
                step, used + time.time() - t0, lr, *(sums / k), ok / n))
            sums, k, ok, n = np.zeros(4), 0, 0, 0
        if step % a.val_every == 0:
            validate()
        if step % a.ckpt_every == 0:
            save_ck()
    if step % a.val_every:
        validate()
    save_ck()

    # temperature on the calibration set, for the selected checkpoint
    bm, _ = load_model(best_path)
    cal = fixed_set(a.cal_seed, a.cal_n, a.size)
    logits, dice = run_set(bm, cal)
    T = fit_temperature(logits, cal[2])
    rc = figures(logits, cal[2], dice)
    best.update({"temperature": T, "cal_seed": a.cal_seed, "cal_n": a.cal_n, "cal_accuracy": rc["accuracy"],
                 "cal_ece_T1": ece(logits, cal[2]), "cal_ece_T": ece(logits, cal[2], T),
                 "val_seed": a.val_seed, "val_n": a.val_n, "train_steps": step,
                 "train_seconds": used + time.time() - t0, "cpu_seconds": cpu0 + time.process_time(),
                 "class_names": CLASS_NAMES[:4]})
    say("# best step %d val acc=%.4f macroF1=%.4f diag recall=%.4f dice=%.4f; temperature %.4f on %d "
        "calibration frames (ECE %.4f -> %.4f); %d steps, %.0f s of training, cpu %.0f s" % (
            best["step"], best["accuracy"], best["macro_f1"], best["recall"][0], best["dice_mean"], T, a.cal_n,
            best["cal_ece_T1"], best["cal_ece_T"], step, best["train_seconds"], best["cpu_seconds"]))
    write_results(os.path.join(a.outdir, "best.json"), best, a.summary, lines)


if __name__ == "__main__":
    main()
