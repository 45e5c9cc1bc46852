"""Helpers shared by the seed networks' fixture generators (models/{unet,liver25d,cmb3d,brats3d})
and, for safetensors, by models/angio_qa (safetensors_io.py).

Nothing here depends on the `safetensors` package (Debian does not ship it).  safetensors layout:
an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON
{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}},
then the raw little-endian data; offsets count from the end of the header.  The header is padded
with spaces to a multiple of 8 so that every tensor starts 8-byte aligned.

Run every script with /usr/bin/python3 (Debian's python3-torch), not a pyenv shim.
"""

import json
import os
import struct
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn


def export_state(model):
    """The state_dict as float32 tensors, without num_batches_tracked (a training counter)."""
    return OrderedDict((k, v.detach().to(torch.float32).contiguous())
                       for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked"))


def save_safetensors(path, tensors, metadata=None):
    """Writes name -> tensor (F32) in the given order, atomically (temp file + rename)."""
    header, blobs, off = OrderedDict(), [], 0
    for name, t in tensors.items():
        a = np.ascontiguousarray(t.detach().cpu().to(torch.float32).numpy(), dtype="<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path):
    """Returns an OrderedDict name -> float32 torch tensor (F32 files only)."""
    return read_safetensors(path)[0]


def read_safetensors(path):
    """Returns (OrderedDict name -> float32 torch tensor, metadata dict); F32 files only."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError("%s: header length out of range" % path)
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    out = OrderedDict()
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        if info["dtype"] != "F32":
            raise ValueError("%s: only F32 is supported, got %s" % (name, info["dtype"]))
        b, e = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64))
        if e - b != 4 * count or 8 + n + e > len(data):
            raise ValueError("%s: bad data_offsets" % name)
        a = np.frombuffer(data, dtype="<f4", count=count, offset=8 + n + b).reshape(info["shape"])
        out[name] = torch.from_numpy(a.copy())
    return out, meta


def save_npy(path, array):
    """float32, C order, NumPy format 1.0."""
    a = np.ascontiguousarray(np.asarray(array, dtype=np.float32))
    with open(path, "wb") as f:
        np.lib.format.write_array(f, a, version=(1, 0), allow_pickle=False)


_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_AFFINE = (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d, nn.LayerNorm)


@torch.no_grad()
def randomize(model, calib_inputs, gen):
    """Random weights that still give O(1) activations, with non-trivial normalisation state.

    Conv weights keep PyTorch's default initialisation (seeded by the caller).  Norm affine
    parameters are random: weight ~ U(0.5, 1.5), bias ~ U(-0.3, 0.3).  BatchNorm running
    statistics are first measured on 'calib_inputs' (train mode, cumulative average), then
    perturbed (mean += 0.2*std*N(0,1), var *= U(0.5, 2)) so that a runtime that ignores them,
    or folds them wrongly into the conv, cannot pass."""
    for m in model.modules():
        if isinstance(m, _NORMS + _AFFINE) and getattr(m, "weight", None) is not None:
            m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
            m.bias.copy_((torch.rand(m.bias.shape, generator=gen) - 0.5) * 0.6)
    bns = [m for m in model.modules() if isinstance(m, _NORMS)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the calibration batches
    model.train()
    for x in calib_inputs:
        model(x)
    model.eval()
    for m in bns:
        std = m.running_var.sqrt()
        m.running_mean.add_(0.2 * std * torch.randn(m.running_mean.shape, generator=gen))
        m.running_var.mul_(torch.rand(m.running_var.shape, generator=gen) * 1.5 + 0.5)
        m.momentum = 0.1
        m.num_batches_tracked.zero_()
    return model


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def write_state_dict_list(path, model, title, extra=()):
    """STATE_DICT.txt: a commented header, then one 'name, [shape]' line per state_dict key
    (num_batches_tracked included, as PyTorch lists it, but never stored in the weight files)."""
    lines = ["# %s" % title,
             "# One line per key: name, shape. num_batches_tracked buffers are listed by PyTorch but",
             "# are NOT stored in the safetensors files.",
             "# total parameters: %d" % count_params(model)]
    lines += ["# " + e for e in extra]
    for k, v in model.state_dict().items():
        lines.append("%s, %s" % (k, list(v.shape)))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def folder_size(path):
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))


def generate(out, name, model_cls, cases, save_outputs, calib_batch=4, config_json=None):
    """The fixtures of one seed network, one case at a time (unet, liver25d, cmb3d).

    Each case is (prefix, seed, constructor arguments, input shape).  The model is built with
    torch.manual_seed(seed) and randomized on two calibration batches of 'calib_batch' inputs from
    a generator seeded with seed + 1000, which then draws the input.  Writes <prefix>.safetensors,
    <prefix>_config.json (config_json(cfg) when given, else cfg) and <prefix>_input.npy under
    'out', then calls save_outputs(prefix, model, y) with the model's output(s) y to store them."""
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    for prefix, seed, cfg, shape in cases:
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed + 1000)
        model = model_cls(**cfg)
        randomize(model, [torch.randn((calib_batch,) + tuple(shape[1:]), generator=gen)
                          for _ in range(2)], gen)
        x = torch.randn(shape, generator=gen)
        with torch.no_grad():
            y = model(x)
        save_safetensors(os.path.join(out, prefix + ".safetensors"), export_state(model),
                         {"model": name, "config": json.dumps(cfg), "note": "random weights, parity only"})
        with open(os.path.join(out, prefix + "_config.json"), "w") as f:
            json.dump(config_json(cfg) if config_json else cfg, f, indent=1)
            f.write("\n")
        save_npy(os.path.join(out, prefix + "_input.npy"), x.numpy())
        save_outputs(prefix, model, y)
    print("fixtures: %.2f MB" % (folder_size(out) / 1e6))
