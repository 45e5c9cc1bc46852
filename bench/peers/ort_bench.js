// ort_bench.js - ONNX Runtime CPU (npm onnxruntime-node) latency on an ONNX file, for
// bench/compare.sh. Prints one JSON line on stdout: {peer, runs_ms, median_ms, min_ms, max_ms,
// load_ms, first_ms, threads}.
//
//   node ort_bench.js MODEL.onnx --shape 1,1,512,512 [--runs 20] [--warmup 3] [--threads 2]
//
// The input is the same deterministic sequence `lumen bench` writes (an LCG, seed 12345):
// x = (x * 1103515245 + 12345) mod 2^31, value x / 2^30 - 1, rounded to float32.
"use strict";
const path = require("path");
const ort = require(path.join(__dirname, "node_modules", "onnxruntime-node"));

function parseArgs(argv) {
  const o = { runs: 20, warmup: 3, threads: 2, shape: null, model: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--runs") o.runs = parseInt(argv[++i], 10);
    else if (a === "--warmup") o.warmup = parseInt(argv[++i], 10);
    else if (a === "--threads") o.threads = parseInt(argv[++i], 10);
    else if (a === "--shape") o.shape = argv[++i].split(",").map(Number);
    else o.model = a;
  }
  if (!o.model || !o.shape) throw new Error("usage: node ort_bench.js MODEL.onnx --shape 1,1,H,W");
  return o;
}

function inputData(n, seed) {
  const out = new Float32Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    // (x * 1103515245 + 12345) mod 2^31: the low 32 bits of the product suffice
    x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
    out[i] = x / 1073741824.0 - 1.0;
  }
  return out;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(o.model, {
    executionProviders: ["cpu"],
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  const t1 = performance.now();
  const n = o.shape.reduce((a, b) => a * b, 1);
  const feeds = {};
  feeds[session.inputNames[0]] = new ort.Tensor("float32", inputData(n, 12345), o.shape);
  await session.run(feeds);
  const t2 = performance.now();
  for (let i = 0; i < o.warmup; i++) await session.run(feeds);
  const runs = [];
  for (let i = 0; i < o.runs; i++) {
    const s = performance.now();
    await session.run(feeds);
    runs.push(performance.now() - s);
  }
  console.log(JSON.stringify({
    peer: "onnxruntime-cpu", version: require(path.join(__dirname, "node_modules",
      "onnxruntime-node", "package.json")).version, threads: o.threads, runs_ms: runs,
    median_ms: median(runs), min_ms: Math.min(...runs), max_ms: Math.max(...runs),
    load_ms: t1 - t0, first_ms: t2 - t1,
  }));
}

main().catch((e) => {
  console.log(JSON.stringify({ peer: "onnxruntime-cpu", error: String(e && e.message || e) }));
  process.exit(1);
});
