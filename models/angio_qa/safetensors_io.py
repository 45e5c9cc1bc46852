"""angio_qa's weights in safetensors: the reader and writer are models/fixture_util.py's (no
dependency on the `safetensors` package, which Debian does not ship; the format is described
there): load_safetensors returns (tensors, metadata), save_safetensors writes fp32 in the given
order.  Here: the state dict to export, and AngioQA built from a weights file."""

import os
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fixture_util import read_safetensors as load_safetensors  # noqa: E402,F401
from fixture_util import save_safetensors  # noqa: E402,F401


def state_dict_for_export(model):
    """state_dict without num_batches_tracked (a training counter, not a weight)."""
    return OrderedDict((k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked"))


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
