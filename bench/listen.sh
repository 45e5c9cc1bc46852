#!/bin/sh
# listen.sh - QC latency through `lumen listen` next to `lumen qc` on the same DICOM files.
# N single-frame synthetic XA instances (examples/make_dicom.py, classes cycling 0..3) are sent
# to a fresh `lumen listen` on a loopback port with DCMTK's storescu (one association); its
# records carry ms.arrival_to_record (instance received -> record written). Then `lumen qc`
# runs on the same files. Prints median and p95 per frame for both, frames/s, and the load.
#
#   bench/listen.sh [N] [SIZE]      (defaults 8 and 512; needs build/lumen, dcmtk, pydicom)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
lumen=$root/build/lumen
py=/usr/bin/python3
n=${1:-8}
size=${2:-512}
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

classes=$(seq 0 $((n - 1)) | awk '{ printf "%s%d", (NR > 1 ? "," : ""), $1 % 4 }')
"$py" "$root/examples/make_dicom.py" --out "$tmp/in" --size "$size" --classes "$classes" \
    --per-frame >/dev/null
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"$lumen" listen --aet LUMEN --port "$port" --out "$tmp/listen" --stable-age 3 --size "$size" \
    >"$tmp/listen.log" 2>&1 &
pid=$!
tries=0
until echoscu -aec LUMEN 127.0.0.1 "$port" >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -gt 240 ] || ! kill -0 "$pid" 2>/dev/null; then
        cat "$tmp/listen.log" >&2
        echo "listen.sh: lumen listen did not come up on port $port" >&2
        exit 1
    fi
    sleep 0.5
done
load=$(cut -d' ' -f1-3 /proc/loadavg)
storescu -aec LUMEN 127.0.0.1 "$port" "$tmp"/in/*.dcm
tries=0
while [ "$(cat "$tmp/listen/report.jsonl" 2>/dev/null | wc -l)" -lt "$n" ]; do
    tries=$((tries + 1))
    [ "$tries" -gt 1200 ] && { echo "listen.sh: records missing" >&2; exit 1; }
    sleep 0.5
done
kill -TERM "$pid"
wait "$pid" || true
pid=
"$lumen" qc "$tmp/in" --out "$tmp/qc" --size "$size" >"$tmp/qc.log" 2>&1 || true

"$py" - "$tmp/listen/report.jsonl" "$tmp/qc/report.jsonl" "$n" "$size" "$load" <<'EOF'
import json, math, sys

def stats(xs):
    xs = sorted(xs)
    med = xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2
    return med, xs[max(0, math.ceil(0.95 * len(xs)) - 1)]

def records(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]

listen, qc = records(sys.argv[1]), records(sys.argv[2])
arrival = [r["ms"]["arrival_to_record"] for r in listen if "arrival_to_record" in r.get("ms", {})]
compute = [sum(r["ms"].get(k, 0) for k in ("preprocess", "inference", "postprocess"))
           for r in qc if r.get("status") == "ok"]
print("%s frames of %sx%s, load average before the run: %s" % (sys.argv[3], sys.argv[4],
                                                                sys.argv[4], sys.argv[5]))
for name, xs in (("lumen listen, arrival to record", arrival),
                 ("lumen qc, compute per frame", compute)):
    if not xs:
        print("%-34s no records" % name)
        continue
    med, p95 = stats(xs)
    print("%-34s median %7.1f ms  p95 %7.1f ms  (%.2f frames/s at the median, %d frames)"
          % (name, med, p95, 1000.0 / med, len(xs)))
EOF
