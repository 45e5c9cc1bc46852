"""Export angio_qa to ONNX and write the parity fixtures used by the C/Lua runtime tests.

  nice -n 19 /usr/bin/python3 export.py                 # ONNX at 512 + all fixtures
  nice -n 19 /usr/bin/python3 export.py --onnx-size 64 --onnx-out /tmp/angio_qa_64.onnx --no-fixtures

ONNX: torch.onnx.export, opset 17, input `image` [1,1,S,S] float32, outputs `seg_logit` [1,1,S,S]
and `cls_logit` [1,K]; fixed shape (the L-GSAM window/pool geometry is resolved at export time).
BatchNorm is exported in inference form; LayerNorm becomes LayerNormalization (opset 17); GELU
becomes its exact Erf form (ONNX Gelu only exists from opset 20).

Fixtures (models/angio_qa/fixtures/, all .npy float32 C order, see fixtures/README.md):
  angio_512_{a,b}     shipped weights, 512x512, inputs = example PNGs after the spec preprocessing
  angio_64_{a,b}      shipped weights, 64x64, inputs = example PNGs area-averaged 8x8 then
                      preprocessed; angio_64_a also stores per-stage activations (stage_*.npy)
  tiny_random_64      a reduced-width configuration (tiny_random_config.json) with seeded random
                      weights AND random BatchNorm statistics (tiny_random.safetensors), so BN
                      folding and the configurable widths are both exercised with small files
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import synth  # noqa: E402
from reference import AngioQA  # noqa: E402
from safetensors_io import load_model, save_safetensors, state_dict_for_export  # noqa: E402

EXAMPLES = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "data"))
FIX = os.path.join(HERE, "fixtures")

TINY_CONFIG = dict(num_classes=4, hidden=24, stem=8, enc=(8, 12, 16, 32, 32), depths=(1, 2, 2, 2, 2),
                   expand=(1, 4, 4, 4, 4), dec=(16, 16, 8, 8), heads=(2, 4), window=8, pools=(4, 2),
                   n_attn=(1, 2), ffn_ratio=4)


def load_png_preprocessed(path, size):
    """PNG (8- or 16-bit grayscale) -> spec preprocessing: area-average resize to size x size
    (integer factor: exact block mean), min-max to [0,1], (x-0.5)/0.5.  float32 [1,1,S,S]."""
    a = np.asarray(Image.open(path)).astype(np.float64)
    H, W = a.shape
    if H != size or W != size:
        assert H % size == 0 and W % size == 0, "fixtures use integer downscale factors only"
        fy, fx = H // size, W // size
        a = a.reshape(size, fy, size, fx).mean(axis=(1, 3))
    x = synth.preprocess(a.astype(np.float32))
    return np.ascontiguousarray(x[None, None], dtype=np.float32)


def stage_outputs(model, x):
    """Activations after every top-level stage (for localising a mismatch in the C runtime)."""
    out = {}
    hooks = [getattr(model, n).register_forward_hook(
        lambda m, i, o, n=n: out.__setitem__(n, o.detach().clone()))
        for n in ("stem", "e1", "e2", "e3", "e4", "e5", "d4", "d3", "d2", "d1", "seg")]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return out


def save_npy(name, arr):
    np.save(os.path.join(FIX, name), np.ascontiguousarray(np.asarray(arr, dtype=np.float32)))


def fixture(model, name, x, stages=False):
    with torch.no_grad():
        seg, cls = model(torch.from_numpy(x))
    save_npy(name + "_input.npy", x)
    save_npy(name + "_seg_logit.npy", seg.numpy())
    save_npy(name + "_cls_logit.npy", cls.numpy())
    if stages:
        for k, v in stage_outputs(model, torch.from_numpy(x)).items():
            save_npy("%s_stage_%s.npy" % (name, k), v.numpy())
    print("%-16s input %s  cls_logit %s" % (name, x.shape, np.array2string(cls.numpy()[0], precision=4)))


def export_onnx(model, size, path):
    model.eval()
    dummy = torch.zeros(1, 1, size, size)
    torch.onnx.export(model, dummy, path, opset_version=17, input_names=["image"],
                      output_names=["seg_logit", "cls_logit"], do_constant_folding=True)
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = sorted({n.op_type for n in m.graph.node})
    print("ONNX %s: %d nodes, ops %s" % (path, len(m.graph.node), ", ".join(ops)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=os.path.join(HERE, "angio_qa.safetensors"))
    ap.add_argument("--onnx-size", type=int, default=512)
    ap.add_argument("--onnx-out", default=os.path.join(HERE, "angio_qa.onnx"))
    ap.add_argument("--no-onnx", action="store_true")
    ap.add_argument("--no-fixtures", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(2)
    model, meta = load_model(a.weights)
    if not a.no_onnx:
        export_onnx(model, a.onnx_size, a.onnx_out)
    if a.no_fixtures:
        return
    os.makedirs(FIX, exist_ok=True)
    ex = lambda f: os.path.join(EXAMPLES, f)  # noqa: E731
    fixture(model, "angio_512_a", load_png_preprocessed(ex("seriesA_f01_16bit.png"), 512))
    fixture(model, "angio_512_b", load_png_preprocessed(ex("seriesB_f02_8bit.png"), 512))
    fixture(model, "angio_64_a", load_png_preprocessed(ex("seriesA_f03_16bit.png"), 64), stages=True)
    fixture(model, "angio_64_b", load_png_preprocessed(ex("seriesC_f02_8bit.png"), 64))

    # tiny random model: seeded weights, and BN running stats / affine randomised so that a
    # runtime that forgets BN folding (or folds it wrongly) cannot pass by accident
    torch.manual_seed(0)
    tiny = AngioQA(**TINY_CONFIG)
    with torch.no_grad():
        for mod in tiny.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.normal_(0, 0.2)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0, 0.2)
            if isinstance(mod, torch.nn.LayerNorm):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0, 0.2)
    tiny.eval()
    save_safetensors(os.path.join(FIX, "tiny_random.safetensors"), state_dict_for_export(tiny),
                     {"model": "angio_qa tiny_random", "config": json.dumps(TINY_CONFIG)})
    with open(os.path.join(FIX, "tiny_random_config.json"), "w") as f:
        json.dump(TINY_CONFIG, f, indent=1)
    g = np.random.default_rng(0)
    x = np.ascontiguousarray(g.uniform(-1, 1, (1, 1, 64, 64)), dtype=np.float32)
    fixture(tiny, "tiny_random_64", x, stages=True)
    print("weights meta:", meta)


if __name__ == "__main__":
    main()
