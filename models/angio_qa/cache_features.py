"""Stage 2 of angio_qa training, step 1: cache the frozen network's features at 512x512.

  nice -n 19 /usr/bin/python3 cache_features.py --work /work/train-ckpt --n-val 200 --n-train 600

The class head is then fine-tuned on these features by train_heads.py.  Why: a full training
step at 512x512 took 30-50 s on the shared, loaded 2-core machine, while the class head needs only
F5 (output of e5) and m = AvgPool32(sigmoid(seg_logit)), both fixed when everything but the class
head is frozen.  One frozen forward per frame buys every later epoch.  Per frame a shard stores
f5 [256,16,16], m [1,16,16], the vessel mask [512,512], the label, seg0 (seg_logit > 0) and cls0
(the frozen network's class logits).

Sets (all 512x512, classes balanced: frame i has class i % 4, SYNTHETIC frames from synth.py):
  val    numpy default_rng(--val-seed, default 31337)   -- model selection and temperature fitting
  train  numpy default_rng([1234, 2, 512])              -- a stream stage 1 (train.py) never drew
  cal    numpy default_rng(--cal-seed, default 4242)    -- with --n-cal: the temperature only
The test seed (evaluate.py) is neither.  Shards of --shard frames are written to
<work>/cache/{val,train}_NNNN.pt and skipped when present, so the job is resumable.
"""

import argparse
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import synth  # noqa: E402
from safetensors_io import load_model  # noqa: E402


def run_set(model, name, rng_seed, n, shard, outdir, log):
    rng = np.random.default_rng(rng_seed)
    feats = {}
    model.e5.register_forward_hook(lambda m, i, o: feats.__setitem__("f5", o))
    for s0 in range(0, n, shard):
        path = os.path.join(outdir, "%s_%04d.pt" % (name, s0 // shard))
        frames = []
        for i in range(s0, min(s0 + shard, n)):  # always draw: keeps the stream identical on resume
            img, m = synth.make_frame(rng, 512, i % 4)
            frames.append((synth.preprocess(img), m, i % 4))
        if os.path.exists(path):
            continue
        t0 = time.time()
        f5s, segs, clss, ms = [], [], [], []
        for b in range(0, len(frames), 4):
            x = torch.from_numpy(np.stack([f[0] for f in frames[b:b + 4]])[:, None])
            with torch.no_grad():
                seg, cls = model(x)
            f5s.append(feats["f5"].clone())
            segs.append(seg[:, 0] > 0)
            ms.append(torch.nn.functional.avg_pool2d(torch.sigmoid(seg), 32, 32))
            clss.append(cls)
        rec = {"f5": torch.cat(f5s), "m": torch.cat(ms),
               "mask": torch.from_numpy(np.stack([f[1] for f in frames]).astype(np.bool_)),
               "label": torch.tensor([f[2] for f in frames]),
               "seg0": torch.cat(segs), "cls0": torch.cat(clss)}
        torch.save(rec, path + ".tmp")
        os.replace(path + ".tmp", path)
        log.write("%s %s %d frames %.1f s/frame %s\n" % (time.strftime("%H:%M:%S"), path, len(frames),
                                                       (time.time() - t0) / len(frames),
                                                       time.process_time()))
        log.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=os.path.join(HERE, "angio_qa.safetensors"))
    ap.add_argument("--work", default="/work/train-ckpt")
    ap.add_argument("--n-val", type=int, default=100)
    ap.add_argument("--n-cal", type=int, default=0,
                    help="calibration frames (default_rng(--cal-seed)): the temperature only")
    ap.add_argument("--cal-seed", type=int, default=4242)
    ap.add_argument("--n-train", type=int, default=400)
    ap.add_argument("--val-seed", type=int, default=31337)
    ap.add_argument("--shard", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1,
                    help="1: on a loaded machine a second OpenMP thread mostly spins")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = os.path.join(a.work, "cache")
    os.makedirs(out, exist_ok=True)
    model, _ = load_model(a.weights)
    log = open(os.path.join(a.work, "cache.log"), "a")
    log.write("# start %s weights=%s\n" % (time.strftime("%H:%M:%S"), a.weights))
    run_set(model, "val", a.val_seed, a.n_val, a.shard, out, log)
    run_set(model, "train", [1234, 2, 512], a.n_train, a.shard, out, log)
    if a.n_cal:
        run_set(model, "cal", a.cal_seed, a.n_cal, a.shard, out, log)
    log.write("# done %s cpu=%.0f s\n" % (time.strftime("%H:%M:%S"), time.process_time()))


if __name__ == "__main__":
    main()
