#!/usr/bin/env bash
# compare.sh [--write-results] [--quick] [--rounds R] [--runs N] [--warmup W] [--models LIST]
#
# lumen against ONNX Runtime CPU (npm onnxruntime-node), PyTorch eager CPU (Debian python3-torch)
# and OpenCV DNN (Debian python3-opencv; CPU and OpenCL targets) on the same machine, input,
# thread count (2) and ONNX file, alternating lumen and each peer over >= 3 rounds with the same
# warm-up and repetition counts; prints each peer's median latency and the ratio lumen/peer, then
# the full `lumen bench` table. --write-results rewrites bench/RESULTS.md (and runs bench_ops).
# Models (--models, comma-separated; default all): angio_qa, unet, and the torchvision set
# resnet18, mobilenet_v2, efficientnet_b0, convnext_tiny, lraspp (lumen on the same ONNX file as
# ONNX Runtime, bench/peers/export_torchvision.py).
#
# Installs what the peers need first (apt-get / npm; skipped under CI=true, where missing peers
# are reported as failed rows instead). Builds lumen in build-bench/ when it is not there.
# Measure on a quiet machine: the load average is recorded next to every table.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ "${CI:-}" != "true" ]; then
  need=()
  /usr/bin/python3 -c 'import torch' 2>/dev/null || need+=(python3-torch)
  /usr/bin/python3 -c 'import cv2' 2>/dev/null || need+=(python3-opencv)
  /usr/bin/python3 -c 'import onnx' 2>/dev/null || need+=(python3-onnx)
  dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need+=(libopenblas0-pthread)
  command -v node >/dev/null || need+=(nodejs npm)
  if [ ${#need[@]} -gt 0 ]; then
    echo "compare.sh: installing ${need[*]}" >&2
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >&2
  fi
  if [ ! -d bench/peers/node_modules/onnxruntime-node ]; then
    echo "compare.sh: npm install onnxruntime-node into bench/peers/node_modules" >&2
    (cd bench/peers && npm install --ignore-scripts --no-audit --no-fund onnxruntime-node >&2)
  fi
fi

if [ ! -x build-bench/lumen ] || [ ! -x build-bench/bench/bench_ops ]; then
  cmake -S . -B build-bench >&2 && cmake --build build-bench -j2 --target lumen_cli bench_ops >&2
fi

sizes="--size-angio 512 --size-unet 256"
case " $* " in *" --quick "*) sizes="--size-angio 64 --size-unet 64" ;; esac
nice -n 19 /usr/bin/python3 bench/peers/export_models.py $sizes >&2
# the torchvision set (seeded random weights, nothing downloaded; only missing files are written)
nice -n 19 /usr/bin/python3 bench/peers/export_torchvision.py >&2

exec /usr/bin/python3 bench/peers/compare.py --lumen build-bench/lumen \
  --bench-ops build-bench/bench/bench_ops "$@"
