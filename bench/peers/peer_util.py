"""Shared by the Python peers (torch_bench.py, cv_bench.py): the input every benchmark uses and
the timing loop, so that each peer is measured exactly like `lumen bench` measures lumen.

The input is a deterministic LCG sequence (seed 12345): x = (x * 1103515245 + 12345) mod 2^31,
value x / 2^30 - 1, rounded to float32 -- the same numbers lumen bench and ort_bench.js write.
"""

import json
import time

import numpy as np


def input_data(shape, seed=12345):
    n = int(np.prod(shape))
    out = np.empty(n, dtype=np.float64)
    x = seed
    for i in range(n):
        x = (x * 1103515245 + 12345) % 2147483648
        out[i] = x
    return (out / 1073741824.0 - 1.0).astype(np.float32).reshape(shape)


def time_runs(fn, warmup, runs, max_s=None):
    """Calls fn() warmup times, then times runs calls (wall clock, ms). With max_s, stops early
    once warm-ups and runs together took longer than max_s seconds, after at least 1 run (the
    caller reports how many were done)."""
    start = time.perf_counter()
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
        if max_s and time.perf_counter() - start > max_s:
            break
    return times


def report(peer, times=None, error=None, **extra):
    """Prints the one JSON line compare.py reads."""
    r = dict(peer=peer, **extra)
    if error is not None:
        r["error"] = error
    if times:
        s = sorted(times)
        n = len(s)
        r.update(runs_ms=times, min_ms=s[0], max_ms=s[-1],
                 median_ms=s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2]))
    print(json.dumps(r), flush=True)
