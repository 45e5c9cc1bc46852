"""lumen against the runtimes people would otherwise pick, same machine, same input, same thread
count, same ONNX file where the peer takes ONNX, alternating rounds. Driven by bench/compare.sh
(which installs the peers first); see the usage there.

For each model: R rounds of [lumen, onnxruntime-cpu, pytorch-eager-cpu, opencv-dnn-cpu,
opencv-dnn-opencl], each a fresh process doing W warm-ups and N timed runs; a peer's figure is
the median of its per-round medians (PoCL numbers are noisy: medians, never means). Then one full
`lumen bench` (cold start, throughput, memory plan, profile, device limits) with the peers'
results beside it, and with --write-results, bench/RESULTS.md.
"""

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
PY = "/usr/bin/python3"  # Debian's python3-torch and python3-opencv, never a pyenv shim
THREADS = 2

MODELS = {
    # size: input HxW (quick: with --quick); runs/warmup: defaults per model (the U-Net is ~60 GFLOP
    # a frame: seconds per run on a 2-core CPU); batch: the full bench's throughput batches;
    # lumen_extra: arguments for lumen bench (the U-Net's seeded random weights, as the peers use)
    "angio_qa": dict(size=512, quick=64, runs=10, warmup=2, lumen_extra=[], full_extra=[], batch="1,4,8"),
    "unet": dict(size=256, quick=64, runs=5, warmup=1, batch="1,4", full_extra=["--no-cold"],
                 lumen_extra=["--weights", os.path.join(ROOT, "bench", "models", "unet_random.safetensors")]),
}
# The torchvision set (bench/peers/export_torchvision.py, seeded random weights): lumen runs the
# same ONNX file as ONNX Runtime (its ONNX front door), 3 input channels, ORT as the only peer.
TORCHVISION = {"resnet18": 224, "mobilenet_v2": 224, "efficientnet_b0": 224, "convnext_tiny": 224,
               "lraspp": 256}
for _name, _size in TORCHVISION.items():
    MODELS[_name] = dict(size=_size, quick=_size, runs=5, warmup=1, batch="1", full_extra=["--no-cold"],
                         lumen_extra=[], channels=3, onnx_only=True)


def onnx_path(model, size):
    return os.path.join(ROOT, "bench", "models", "%s_%d.onnx" % (model, size))


def log(msg):
    sys.stderr.write("compare: %s\n" % msg)
    sys.stderr.flush()


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run_json(cmd, env=None, timeout=1800):
    """Runs cmd; returns the last JSON object line of its stdout (or an error record)."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": "timed out after %d s" % timeout}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("{"):
            try:
                r = json.loads(line)
                r["process_s"] = time.perf_counter() - t0
                return r
            except ValueError:
                break
    return {"error": "no result (exit %d): %s" % (p.returncode, (p.stderr or p.stdout)[-400:])}


def lumen_env():
    env = dict(os.environ)
    env.setdefault("POCL_MAX_PTHREAD_COUNT", str(THREADS))  # PoCL's worker threads
    return env


def runners(a, model, size, onnx):
    """(name, function(runs, warmup) -> result) in round order."""
    cfg = MODELS[model]
    shape = "1,%d,%d,%d" % (cfg.get("channels", 1), size, size)
    spec = onnx if cfg.get("onnx_only") else model

    def lumen(runs, warmup):
        out = tempfile.mkdtemp(prefix="lumen-cmp-")
        cmd = [a.lumen, "bench", "--model", spec, "--size", "%dx%d" % (size, size), "--latency-only",
               "--no-cold", "--runs", str(runs), "--warmup", str(warmup), "--out", out] + cfg["lumen_extra"]
        p = subprocess.run(cmd, capture_output=True, text=True, env=lumen_env(), cwd=ROOT)
        try:
            with open(os.path.join(out, "bench.json")) as f:
                r = json.load(f)["results"][0]
        except (OSError, ValueError, KeyError, IndexError):
            return {"peer": "lumen", "error": "lumen bench failed: " + p.stderr[-400:]}
        finally:
            subprocess.run(["rm", "-rf", out])
        if r.get("error"):
            return {"peer": "lumen", "error": r["error"]}
        lat = r["latency"]
        return {"peer": "lumen", "runs_ms": lat["runs"], "median_ms": lat["median"], "min_ms": lat["min"],
                "max_ms": lat["max"], "device": r["device"]["name"], "gemm": r.get("gemm_engine")}

    def ort(runs, warmup):
        return run_json(["node", os.path.join(HERE, "ort_bench.js"), onnx, "--shape", shape, "--runs", str(runs),
                         "--warmup", str(warmup), "--threads", str(THREADS)])

    def torch(runs, warmup):
        return run_json([PY, os.path.join(HERE, "torch_bench.py"), "--model", model, "--size", str(size),
                         "--runs", str(runs), "--warmup", str(warmup), "--threads", str(THREADS)])

    def cv(target):
        def f(runs, warmup):
            # OpenCV's OpenCL target on PoCL's CPU device builds its kernels for minutes and then
            # takes tens of seconds per U-Net frame: bounded so that one peer cannot eat the run
            r = run_json([PY, os.path.join(HERE, "cv_bench.py"), onnx, "--shape", shape, "--target", target,
                          "--runs", str(runs), "--warmup", str(warmup), "--threads", str(THREADS)],
                         timeout=a.peer_timeout_s)
            if r.get("error", "").startswith("timed out"):
                r["error"] = "stopped after %d s without a result (first inference + warm-up not done)" % a.peer_timeout_s
            return r
        return f

    if cfg.get("onnx_only"):
        return [("lumen", lumen), ("onnxruntime-cpu", ort)]
    return [("lumen", lumen), ("onnxruntime-cpu", ort), ("pytorch-eager-cpu", torch),
            ("opencv-dnn-cpu", cv("cpu")), ("opencv-dnn-opencl", cv("opencl"))]


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def counts(a, model):
    if a.quick:
        return a.runs or 3, a.warmup if a.warmup is not None else 1
    return a.runs or MODELS[model]["runs"], a.warmup if a.warmup is not None else MODELS[model]["warmup"]


def compare_model(a, model):
    size = MODELS[model]["quick"] if a.quick else MODELS[model]["size"]
    n_runs, n_warmup = counts(a, model)
    onnx = onnx_path(model, size)
    rounds = {name: [] for name, _ in runners(a, model, size, onnx)}
    errors, capped, skip = {}, {}, set()
    load = [loadavg()]
    for rnd in range(a.rounds):
        for name, fn in runners(a, model, size, onnx):
            if name in errors or name in skip:
                continue  # a peer that cannot import the model fails the same way every round
            runs, warmup = capped.get(name, (n_runs, n_warmup))
            log("%s %dx%d round %d/%d: %s (%d warm-ups + %d runs), load %s" %
                (model, size, size, rnd + 1, a.rounds, name, warmup, runs, loadavg()))
            r = fn(runs, warmup)
            if r.get("error"):
                log("  %s: %s" % (name, r["error"][:300]))
                errors[name] = r
                continue
            log("  median %.2f ms" % r["median_ms"])
            rounds[name].append(r)
            # A peer slower than a.slow_s per run is not repeated (said in the table):
            # OpenCV's OpenCL target on a CPU device can take tens of seconds per frame.
            if name != "lumen" and r["median_ms"] > a.slow_s * 1000 and name not in capped:
                capped[name] = (min(n_runs, 3), min(n_warmup, 1))
                skip.add(name)
    load.append(loadavg())
    rows = []
    for name in rounds:
        rs = rounds[name]
        row = {"model": model, "peer": name, "size": size, "onnx": os.path.relpath(onnx, ROOT)}
        if rs:
            meds = [r["median_ms"] for r in rs]
            row.update(median_ms=median(meds), min_ms=min(meds), max_ms=max(meds), rounds=len(rs),
                       round_medians=meds, runs=min(len(r["runs_ms"]) for r in rs), warmup=n_warmup)
            for k in ("version", "threads", "device", "opencl_in_use", "opencl_device", "gemm"):
                if k in rs[-1]:
                    row[k] = rs[-1][k]
            row["first_ms"] = rs[-1].get("first_ms")
        if name in errors:
            row["error"] = errors[name]["error"]
        if name in capped:
            row["note"] = ("slower than %g s per run: measured in the first round only (cv_bench.py stops "
                           "timing after 60 s)" % a.slow_s)
        rows.append(row)
    lum = next((r for r in rows if r["peer"] == "lumen" and "median_ms" in r), None)
    for r in rows:
        if lum and "median_ms" in r and r["peer"] != "lumen":
            r["ratio"] = lum["median_ms"] / r["median_ms"]
    return {"model": model, "size": size, "rows": rows, "load": load, "runs": n_runs, "warmup": n_warmup}


def table(cmp):
    out = ["| runtime | median ms | min..max of round medians | rounds x runs | lumen/peer | notes |",
           "|---|---:|---:|---:|---:|---|"]
    for r in cmp["rows"]:
        if "median_ms" in r:
            notes = []
            if r.get("version"):
                notes.append("v" + str(r["version"]))
            if r.get("device"):
                notes.append(r["device"])
            if r.get("gemm"):
                notes.append("GEMM " + r["gemm"])
            if r["peer"].endswith("opencl"):
                notes.append("OpenCL device: %s" % (r.get("opencl_device") or "none (CPU fallback)"))
            if r.get("note"):
                notes.append(r["note"])
            out.append("| %s | %.1f | %.1f..%.1f | %d x %d | %s | %s |" % (
                r["peer"], r["median_ms"], r["min_ms"], r["max_ms"], r["rounds"], r["runs"],
                "%.2f" % r["ratio"] if "ratio" in r else "-", "; ".join(notes)))
        else:
            out.append("| %s | - | - | - | - | **failed**: %s |" % (r["peer"], " ".join(r.get("error", "?").replace("|", "/").split())[:400]))
    return "\n".join(out)


def full_bench(a, model, peers_file, out_dir):
    cfg = MODELS[model]
    size = cfg["quick"] if a.quick else cfg["size"]
    runs, warmup = counts(a, model)
    spec = onnx_path(model, size) if cfg.get("onnx_only") else model
    cmd = [a.lumen, "bench", "--model", spec, "--size", "%dx%d" % (size, size), "--runs", str(runs),
           "--warmup", str(warmup), "--batch", "1,2" if a.quick else cfg["batch"], "--out", out_dir,
           "--plot", "--peers", peers_file] + cfg["lumen_extra"] + cfg["full_extra"] + (["--quick"] if a.quick else [])
    log("full lumen bench: " + " ".join(shlex.quote(c) for c in cmd))
    before = loadavg()
    p = subprocess.run(cmd, capture_output=True, text=True, env=lumen_env(), cwd=ROOT)
    sys.stderr.write(p.stderr)
    return cmd, p.stdout, before, loadavg()


def machine():
    info = {}
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        k, _, v = line.partition(":")
        info[k.strip()] = v.strip()
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return "%s, %s CPUs (%s thread(s) per core), %.1f GiB memory, %s" % (
        info.get("Model name", "?"), info.get("CPU(s)", "?"), info.get("Thread(s) per core", "?"),
        mem_kb / 1048576, os.uname().release)


def ratio_of(cmp, peer="onnxruntime-cpu"):
    rows = {r["peer"]: r for r in cmp["rows"]}
    lum, p = rows.get("lumen", {}), rows.get(peer, {})
    if "median_ms" in lum and "median_ms" in p:
        return lum["median_ms"] / p["median_ms"]
    return None


def conv_share(bench_doc):
    """Convolution layers' GFLOP/s (profile) over the device's measured GEMM rate, or None."""
    r = (bench_doc or {}).get("results", [{}])[0]
    peak = ((r.get("limits") or {}).get("gemm") or {}).get("best")
    nodes = [n for n in (r.get("profile") or {}).get("nodes", []) if n.get("op") == "conv"]
    ms = sum(n["ms"] for n in nodes)
    if not peak or ms <= 0:
        return None
    return sum(n["flops"] for n in nodes) / ms / 1e6 / peak


def targets(cmps, docs):
    """The issue's targets, checked against what was just measured."""
    lines = []

    def verdict(ok):
        return "met" if ok else "not met"
    x = ratio_of(cmps["angio_qa"]) if "angio_qa" in cmps else None
    if x is not None:
        lines.append("- angio_qa 512: lumen/ORT <= 1.0: %.2fx -> **%s**" % (x, verdict(x <= 1.0)))
    x = ratio_of(cmps["unet"]) if "unet" in cmps else None
    if x is not None:
        lines.append("- U-Net 256: lumen/ORT <= 1.5: %.2fx -> **%s**" % (x, verdict(x <= 1.5)))
    tv = [(m, ratio_of(cmps[m])) for m in TORCHVISION if m in cmps]
    tv = [(m, x) for m, x in tv if x is not None]
    if tv:
        import math
        gm = math.exp(sum(math.log(x) for _, x in tv) / len(tv))
        worst = max(tv, key=lambda t: t[1])
        lines.append("- torchvision set (%s): geometric mean of lumen/ORT <= 1.2 and none above 2: %.2fx, "
                     "worst %s %.2fx -> **%s**" % (", ".join(m for m, _ in tv), gm, worst[0], worst[1],
                                                   verdict(gm <= 1.2 and worst[1] <= 2)))
    share = conv_share(docs.get("angio_qa"))
    if share is not None:
        lines.append("- angio_qa convolution layers >= 50%% of the device's measured GEMM rate: %.0f%% -> **%s**"
                     % (100 * share, verdict(share >= 0.5)))
    r = (docs.get("angio_qa") or {}).get("results", [{}])[0]
    c = r.get("cold") or {}
    cold, warm = (c.get("cold") or {}).get("start_to_result_ms"), (c.get("warm") or {}).get("start_to_result_ms")
    if cold:
        lines.append("- cold start, empty lumen and PoCL caches, to the first angio_qa result <= 5 s: %.1f s -> **%s**"
                     % (cold / 1e3, verdict(cold <= 5000)))
    if warm:
        lines.append("- warm start < 0.5 s: %.0f ms -> **%s**" % (warm, verdict(warm < 500)))
    return "\n".join(lines)


def tv_table(cmps):
    """One row per torchvision net: lumen and ORT medians, the ratio, the load."""
    out = ["| model | lumen ms | ORT ms | lumen/ORT | load before -> after |", "|---|---:|---:|---:|---|"]
    for m in TORCHVISION:
        if m not in cmps:
            continue
        rows = {r["peer"]: r for r in cmps[m]["rows"]}
        lum, ort = rows.get("lumen", {}), rows.get("onnxruntime-cpu", {})
        x = ratio_of(cmps[m])
        out.append("| %s %d | %s | %s | %s | %s -> %s |" % (
            m, cmps[m]["size"], "%.1f" % lum["median_ms"] if "median_ms" in lum else "failed",
            "%.1f" % ort["median_ms"] if "median_ms" in ort else "failed",
            "%.2f" % x if x is not None else "-", cmps[m]["load"][0], cmps[m]["load"][1]))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lumen", default=os.path.join(ROOT, "build-bench", "lumen"))
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, help="timed runs per round (default: per model)")
    ap.add_argument("--warmup", type=int, help="warm-ups per round (default: per model)")
    ap.add_argument("--slow-s", type=float, default=20.0)
    ap.add_argument("--peer-timeout-s", type=int, default=240)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out"))
    ap.add_argument("--write-results", action="store_true")
    ap.add_argument("--bench-ops")
    ap.add_argument("--command", default="bench/compare.sh")
    a = ap.parse_args()
    if a.rounds < 3 and not a.quick:
        ap.error("--rounds must be at least 3")
    os.makedirs(a.out, exist_ok=True)
    sections = []
    cmps, docs = {}, {}
    for model in a.models.split(","):
        cmp = compare_model(a, model)
        print("\n%s %dx%d, batch 1, %d threads; load average %s -> %s\n%s" % (
            model, cmp["size"], cmp["size"], THREADS, cmp["load"][0], cmp["load"][1], table(cmp)))
        sys.stdout.flush()
        peers_file = os.path.join(a.out, "peers-%s.json" % model)
        with open(peers_file, "w") as f:
            json.dump(cmp["rows"], f, indent=1)
        out_dir = os.path.join(a.out, model)
        cmd, text, l0, l1 = full_bench(a, model, peers_file, out_dir)
        print(text)
        doc = None
        try:
            with open(os.path.join(out_dir, "bench.json")) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            pass
        cmps[model], docs[model] = cmp, doc
        sections.append((model, cmp, cmd, text, l0, l1))
    if not a.write_results:
        return 0
    ops = ""
    if a.bench_ops and os.path.exists(a.bench_ops):
        log("op micro-benchmarks: %s" % a.bench_ops)
        l0 = loadavg()
        ops = subprocess.run([a.bench_ops, "7"], capture_output=True, text=True, cwd=ROOT).stdout
        ops = "Load average %s -> %s. `%s 7`:\n\n```\n%s```\n" % (l0, loadavg(), os.path.relpath(a.bench_ops, ROOT), ops)
    write_results(a, sections, cmps, docs, ops)
    return 0


def write_results(a, sections, cmps, docs, ops):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md = ["# lumen benchmark results", "",
          "Regenerate everything on this page with one command: `%s --write-results` (it installs the peers, "
          "exports the ONNX files, alternates lumen and each peer over %d rounds, runs the full `lumen bench`, "
          "and rewrites this file)." % (a.command, a.rounds), "",
          "- date: %s" % now,
          "- machine: %s" % machine(),
          "- every runtime: %d threads, the same input (a seeded LCG sequence, see bench/peers/peer_util.py), "
          "the same warm-ups and timed runs per round for every runtime of a model (given with each table), "
          "fresh process per round; figures are the median of the rounds' medians (PoCL numbers are noisy: "
          "quote medians)" % (THREADS),
          "- the machine is shared (other builds and a training job): the load average before and after each "
          "table is given next to it; a 2-core machine at load > 2 slows every runtime, not equally", ""]
    if cmps:
        md += ["## Targets (issue 12, measured now)", "", targets(cmps, docs), ""]
    if any(m in cmps for m in TORCHVISION):
        md += ["## torchvision set (ONNX, seeded random weights; bench/peers/export_torchvision.py)", "",
               tv_table(cmps), ""]
    for model, cmp, cmd, text, l0, l1 in sections:
        md += ["## %s %dx%d, batch 1, fp32" % (model, cmp["size"], cmp["size"]), "",
               ("Peers ran on `%s`; lumen on %s. " % (
                   cmp["rows"][0]["onnx"], "the same file (its ONNX front door)" if MODELS[model].get("onnx_only")
                   else "its Lua definition (models/%s/model.lua) with the same weights" % model)) +
               "%d warm-ups + %d timed runs per round. Load average during the rounds: %s -> %s." % (
                   cmp["warmup"], cmp["runs"], cmp["load"][0], cmp["load"][1]),
               "", table(cmp), "",
               "Full `lumen bench` (load average %s -> %s):" % (l0, l1), "",
               "```", " ".join(shlex.quote(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c) for c in cmd), "```",
               "", "```", text.rstrip(), "```", ""]
    if ops:
        md += ["## Op micro-benchmarks (bench/bench_ops.c)", "", ops]
    md += ["## Commands", "", "```", "%s --write-results       # everything above" % a.command,
           "build-bench/lumen bench --model angio_qa --size 512x512 --out bench/out/angio_qa --plot",
           "build-bench/bench/bench_ops 7", "```", ""]
    path = os.path.join(ROOT, "bench", "RESULTS.md")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(md))
    os.replace(path + ".tmp", path)
    log("wrote %s" % path)


if __name__ == "__main__":
    sys.exit(main())
