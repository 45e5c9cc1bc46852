#!/usr/bin/env bash
# bench_smoke.sh LUMEN OUTDIR - CI smoke run of `lumen bench` at tiny sizes: angio_qa at 64x64 with
# seeded random weights, no cold-start children, 2 timed runs. Checks that the command succeeds
# and that bench.json, bench.csv, profile.csv and bench.svg exist and parse (bench_smoke.lua).
set -eu
lumen=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out"
"$lumen" bench --quick --no-cold --runs 2 --random 1 --model angio_qa --out "$out" --plot
"$lumen" run "$here/bench_smoke.lua" "$out"
