#!/usr/bin/env bash
# dicom_syntaxes.sh LUMEN PYTHON - `lumen qc` (full 512 model size) on one synthetic XA series
# written in several transfer syntaxes (DCMTK's dcmcjpeg, dcmcjpls, dcmcrle, dcmconv) and as
# MONOCHROME1 and 1024x1024 twins: every copy must give the same class per frame as the plain
# MONOCHROME2 512x512 file (lossless copies also the same probabilities).
set -u
lumen=$1
py=${2:-/usr/bin/python3}
. "$(dirname "$0")/testlib.sh"
cd "$(dirname "$0")/.." || exit 1
d=$tmp/in
gen() { "$py" examples/make_dicom.py --out "$d" --classes 0,1,3 "$@" >/dev/null; }
gen --name xa --compress jpeg-lossless --compress rle --compress jpeg-ls --compress deflate \
  --compress big-endian --compress jpeg-extended
gen --name xa_mono1 --photometric MONOCHROME1
gen --name xa_1024 --upscale 2
check "qc on 9 copies of a 3-frame series" 0 "$lumen" qc "$d" --out "$tmp/r" --quiet
j=$tmp/r/report.jsonl
classes() { # classes NAME: "frame:class ..." of one file
  grep "\"input\":\"$d/$1.dcm\"" "$j" | sed 's/.*"class_name":"\([^"]*\)".*"frame":\([0-9]*\).*/\2:\1/' |
    sort | tr '\n' ' '
}
ref=$(classes xa)
expect "the plain file has 3 classified frames" "$(echo "$ref" | wc -w)" 3
for v in xa_jpeg-lossless xa_rle xa_jpeg-ls xa_deflate xa_big-endian xa_jpeg-extended xa_mono1 xa_1024; do
  expect "$v: same classes as xa.dcm" "$(classes "$v")" "$ref"
done
probs() { grep "\"input\":\"$d/$1.dcm\"" "$j" | grep -o '"probabilities":{[^}]*}' | sort; }
for v in xa_jpeg-lossless xa_rle xa_jpeg-ls xa_deflate xa_big-endian xa_mono1; do
  expect "$v: same probabilities (lossless)" "$(probs "$v" | md5sum)" "$(probs xa | md5sum)"
done
finish
