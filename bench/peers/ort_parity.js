// ort_parity.js - ONNX Runtime CPU (npm onnxruntime-node) on the ONNX model suite's fixtures:
// for each NAME, runs NAME.onnx on NAME.in.npy and compares with PyTorch's NAME.out.npy, with
// the same measure as tests/onnx_models.lua: the worst |a - b| and the largest share of the
// tolerance 1e-4 + 1e-3 |b|. Prints one JSON line per model: {model, maxabs, share, ms}.
//
//   node ort_parity.js DIR NAME [NAME...]
//
// Install once with `npm install --ignore-scripts` here (the install script fetches GPU
// libraries from the network; the CPU library is inside the package).
"use strict";
const fs = require("fs");
const path = require("path");
const ort = require(path.join(__dirname, "node_modules", "onnxruntime-node"));

// A little-endian float32 C-order .npy file (format 1.0 or 2.0) as {shape, data}.
function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.toString("latin1", 1, 6) !== "NUMPY") throw new Error(file + ": not an .npy file");
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.toString("latin1", start, start + hlen);
  if (!/'descr': '<f4'/.test(header) || /'fortran_order': True/.test(header))
    throw new Error(file + ": only little-endian float32 C-order arrays");
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(",").map((s) => s.trim())
    .filter((s) => s.length).map(Number);
  const off = start + hlen;
  const n = shape.reduce((a, d) => a * d, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = b.readFloatLE(off + 4 * i);
  return { shape, data };
}

function errors(a, b) {
  let worst = 0, share = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return [Infinity, Infinity];
    worst = Math.max(worst, d);
    share = Math.max(share, d / (1e-4 + 1e-3 * Math.abs(b[i])));
  }
  return [worst, share];
}

async function main() {
  const [dir, ...names] = process.argv.slice(2);
  if (!dir || names.length === 0) throw new Error("usage: node ort_parity.js DIR NAME [NAME...]");
  for (const name of names) {
    const x = readNpy(path.join(dir, name + ".in.npy"));
    const want = readNpy(path.join(dir, name + ".out.npy"));
    const s = await ort.InferenceSession.create(path.join(dir, name + ".onnx"),
      { executionProviders: ["cpu"], intraOpNumThreads: 2, interOpNumThreads: 1 });
    const t0 = performance.now();
    const out = await s.run({ [s.inputNames[0]]: new ort.Tensor("float32", x.data, x.shape) });
    const ms = performance.now() - t0;
    const [maxabs, share] = errors(out[s.outputNames[0]].data, want.data);
    console.log(JSON.stringify({ model: name, maxabs, share, ms }));
  }
}

main().catch((e) => {
  console.error("ort_parity: " + e.message);
  process.exit(1);
});
