"""Minimal safetensors reader/writer (no dependency on the `safetensors` package, which Debian
does not ship).  Format: 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON
{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {str: str}},
then the raw little-endian tensor bytes; offsets are relative to the end of the header.
We write fp32 only, tensors in state_dict order, header padded with spaces to a multiple of 8 so
that every tensor starts 8-byte aligned (what the reference implementation does too)."""

import json
import struct
from collections import OrderedDict

import numpy as np
import torch


def state_dict_for_export(model):
    """state_dict without num_batches_tracked (a training counter, not a weight)."""
    return OrderedDict((k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked"))


def save_safetensors(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        a = np.ascontiguousarray(t.detach().cpu().to(torch.float32).numpy()).astype("<f4", copy=False)
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:  # write then rename: a crash never leaves a half-written file
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    import os
    os.replace(tmp, path)


def load_safetensors(path):
    """Returns (OrderedDict name -> torch.float32 tensor, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError("safetensors header length out of range")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = OrderedDict()
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        if info["dtype"] != "F32":
            raise ValueError("%s: only F32 supported, got %s" % (name, info["dtype"]))
        b, e = info["data_offsets"]
        shape = info["shape"]
        if e - b != 4 * int(np.prod(shape, dtype=np.int64)) or base + e > len(data):
            raise ValueError("%s: bad data_offsets" % name)
        a = np.frombuffer(data, dtype="<f4", count=(e - b) // 4, offset=base + b).reshape(shape)
        out[name] = torch.from_numpy(a.copy())
    return out, meta


def load_model(path, **kwargs):
    """Build AngioQA (kwargs = constructor args) and load weights from a safetensors file."""
    from reference import AngioQA
    tensors, meta = load_safetensors(path)
    model = AngioQA(**kwargs)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise KeyError("weights do not match the model: missing %s unexpected %s" % (missing, unexpected))
    return model.eval(), meta
