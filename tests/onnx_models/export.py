"""Exports the ONNX model suite (tests/onnx_models) from Debian's python3-torchvision.

    /usr/bin/python3 tests/onnx_models/export.py [--out DIR] [--only NAME,...] [--full]

Each model is a standard torchvision architecture class at a small configuration (so that the
committed files stay small and the ctest runs in seconds), with weights drawn from a fixed seed
and batch-norm statistics randomised (no downloads). For every model NAME the script writes:

  NAME.onnx        exported by torch.onnx at the opset in MODELS (PyTorch 1.13)
  NAME.in.npy      the input, float32, seeded
  NAME.out.npy     PyTorch's output on it (eval mode), float32: the fixture
  NAME.in2.npy     (dynamic models only) a second input of another size, and
  NAME.out2.npy    its output

`--full` adds the real-size torchvision models (resnet18, mobilenet_v3_small, swin_t, vit_b_16,
fcn_resnet50), which are too large to commit (the parity report runs them when present).
Always run with /usr/bin/python3 (a pyenv shim has no torch).
"""

import argparse
import os
import sys
import zlib

import torch
import torch.nn as nn
import torchvision
from torchvision.models import segmentation, swin_transformer, vision_transformer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models"))
from fixture_util import save_npy  # noqa: E402


def randomise(m, seed):
    """Seeded weights, and BN running statistics that are not the identity."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(mod.weight, 0, (2.0 / mod.weight[0].numel()) ** 0.5)
                if mod.bias is not None:
                    mod.bias.uniform_(-0.1, 0.1)
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.normal_(0, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.1, 0.1)
            if isinstance(mod, nn.LayerNorm):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.1, 0.1)
    return m.eval()


def swin(depths, heads):
    """torchvision's SwinTransformer (v1) class as swin_t / swin_s build it, narrower."""
    return swin_transformer.SwinTransformer(patch_size=[4, 4], embed_dim=8, depths=depths,
                                            num_heads=heads, window_size=[4, 4],
                                            stochastic_depth_prob=0.0, num_classes=10)


class SegOut(nn.Module):
    """torchvision's segmentation models return a dict; export its 'out'."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x)["out"]


# name: (builder, input shape, opset, dynamic second shape or None)
MODELS = {
    "mobilenet_v3_tiny": (lambda: torchvision.models.mobilenet_v3_small(width_mult=0.25,
                                                                        num_classes=10),
                          (1, 3, 32, 32), 13, (2, 3, 48, 40)),
    "vit_tiny": (lambda: vision_transformer.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64,
        num_classes=10), (1, 3, 32, 32), 14, None),
    "vit_tiny_op17": (lambda: vision_transformer.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64,
        num_classes=10), (1, 3, 32, 32), 17, None),
    "swin_t_tiny": (lambda: swin([2, 2, 6, 2], [1, 2, 4, 8]), (1, 3, 64, 64), 14, None),
    "swin_s_tiny": (lambda: swin([2, 2, 18, 2], [1, 2, 4, 8]), (1, 3, 64, 64), 14, None),
    "lraspp_tiny": (lambda: SegOut(segmentation.lraspp._lraspp_mobilenetv3(
        torchvision.models.mobilenet_v3_large(width_mult=0.25, dilated=True), num_classes=3)),
        (1, 3, 64, 64), 13, (1, 3, 48, 80)),
}

FULL = {
    "resnet18": (lambda: torchvision.models.resnet18(), (1, 3, 224, 224), 13, None),
    "mobilenet_v3_small": (lambda: torchvision.models.mobilenet_v3_small(), (1, 3, 224, 224), 13,
                           None),
    "swin_t": (lambda: torchvision.models.swin_t(), (1, 3, 224, 224), 14, None),
    "vit_b_16": (lambda: torchvision.models.vit_b_16(), (1, 3, 224, 224), 14, None),
    "fcn_resnet50": (lambda: SegOut(segmentation.fcn_resnet50(weights=None, weights_backbone=None,
                                                              num_classes=3, aux_loss=False)),
                     (1, 3, 128, 128), 13, None),
}


def export(name, spec, out, seed):
    build, shape, opset, shape2 = spec
    m = randomise(build(), seed)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(*shape, generator=g)
    path = os.path.join(out, name + ".onnx")
    dyn = {"input": {0: "batch", 2: "height", 3: "width"}} if shape2 else None
    torch.onnx.export(m, x, path, opset_version=opset, input_names=["input"],
                      output_names=["output"], dynamic_axes=dyn, do_constant_folding=True)
    with torch.no_grad():
        save_npy(os.path.join(out, name + ".in.npy"), x.numpy())
        save_npy(os.path.join(out, name + ".out.npy"), m(x).numpy())
        if shape2:
            x2 = torch.randn(*shape2, generator=g)
            save_npy(os.path.join(out, name + ".in2.npy"), x2.numpy())
            save_npy(os.path.join(out, name + ".out2.npy"), m(x2).numpy())
    print("%-20s opset %d input %s  %.0f kB" % (name, opset, list(shape),
                                                  os.path.getsize(path) / 1024.0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--only", default="")
    ap.add_argument("--full", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    todo = dict(MODELS)
    if a.full:
        todo.update(FULL)
    only = [s for s in a.only.split(",") if s]
    for name, spec in todo.items():
        if not only or name in only:
            export(name, spec, a.out, zlib.crc32(name.encode()) % 100000)


if __name__ == "__main__":
    main()
