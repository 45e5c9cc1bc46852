#!/usr/bin/env bash
# cli_dicom.sh LUMEN PYTHON - `lumen qc` on a folder of mixed DICOM: a multi-frame series, its
# MONOCHROME1 twin, JPEG-lossless and RLE copies (DCMTK encoders), single-frame instances, a
# bare implicit-VR dataset, a PNG, a text file (skipped) and a non-DICOM file named .dcm (an
# error record). Checks one ok record per frame with its DICOM identity, the PHI policy (salted
# hash by default, --phi opts in), re-run skipping, and DICOM files given as arguments.
# Small frames (--size 256): classes are compared in the dicom_syntaxes test, not here.
set -u
lumen=$1
py=${2:-/usr/bin/python3}
. "$(dirname "$0")/testlib.sh"
cd "$(dirname "$0")/.." || exit 1

d=$tmp/in
gen() { "$py" examples/make_dicom.py --out "$d" --size 256 --classes 0,3 "$@" >/dev/null; }
gen --name multi --compress jpeg-lossless --compress rle --patient-id "PAT-4711"
gen --name mono1 --photometric MONOCHROME1
gen --name single --per-frame --series-number 2
gen --name bare --implicit
mv "$d/bare.dcm" "$d/IM000001" # no extension: recognised by content
cp examples/data/seriesA_f01_16bit.png "$d/"
printf 'a README, not an image\n' >"$d/notes.txt"
printf 'not DICOM at all\n' >"$d/fake.dcm"
r=$tmp/r

check "qc on a mixed DICOM folder (fake .dcm -> exit 1)" 1 "$lumen" qc "$d" --out "$r" --size 256
contains "summary: 14 frames, 13 ok, 1 failed" "14 frames .*: 13 ok, 1 failed, 0 skipped"
contains "series by DICOM series UID (the copies share one; the PNG's folder is one more)" \
  "^series: 5 "
contains "the fake is named with its problem" "failed: $d/fake.dcm: not a readable DICOM file"
j=$r/report.jsonl
expect "14 records" "$(wc -l <"$j")" 14
expect "one record per frame of the multi-frame files (frames 1 and 2)" \
  "$(grep -cE '"frame":[12],.*"input":"[^"]*/(multi|multi_jpeg-lossless|multi_rle|mono1)\.dcm"|"frame":[12],.*"input":"[^"]*/IM000001"' "$j")" 10
expect "single-frame instances are frame 1" "$(grep -cE '"frame":1,.*"input":"[^"]*/single_[12]\.dcm"' "$j")" 2
expect "12 ok records carry a dicom identity" \
  "$(grep '"status":"ok"' "$j" | grep -cE '"dicom":\{"acquisition_datetime":"20240601101512.250000","frame":[12],.*"modality":"XA",.*"series_instance_uid":"2\.25\.[0-9]+",.*"sop_instance_uid":"2\.25\.[0-9]+",.*"study_instance_uid":"2\.25\.[0-9]+"')" 12
expect "instance and series numbers" "$(grep -c '"instance_number":2,.*"series_number":2,' "$j")" 1
expect "the PNG is a plain record" "$(grep -c '"input":"[^"]*seriesA_f01_16bit.png",' "$j")" 1
expect "notes.txt is not an input" "$(grep -c notes.txt "$j")" 0
expect "the fake .dcm is an error record" "$(grep '"status":"error"' "$j" | grep -c 'fake.dcm')" 1
expect "no PatientID in any report file" "$(cat "$r"/report.* | grep -c 'PAT-4711\|SYN-0001\|Synthetic^Patient')" 0
expect "a salted patient hash instead" "$(grep -cE '"patient_hash":"[0-9a-f]{64}"' "$j")" 12
expect "the folder's salt" "$(grep -cE '^[0-9a-f]{32}$' "$r/phi-salt")" 1
h1=$(grep -o '"patient_hash":"[0-9a-f]*"' "$j" | sort -u | wc -l)
expect "two patients, two hashes" "$h1" 2
expect "26 images (thumbnail + overlay per ok frame)" "$(ls "$r/images" | grep -c '\.png$')" 26

# one DICOM Structured Report per DICOM series, valid for dicom3tools' dciodvfy
expect "4 SRs under sr/ (the 3 copies share a series)" "$(ls "$r/sr" | grep -c '\.dcm$')" 4
contains "summary names the SRs" "^sr: 4 DICOM Structured Reports in $r/sr/"
for f in "$r"/sr/*.dcm; do
  dciodvfy "$f" >"$tmp/vfy" 2>&1
  expect "dciodvfy $(basename "$f"): no Error lines" "$(grep -c '^Error' "$tmp/vfy")" 0
done
grep -v 99LUMEN "$tmp/vfy" | sed 's/^/     dciodvfy | /' | head -5
sr_single=$r/sr/$(grep -o '"series_instance_uid":"[^"]*","series_number":2' "$j" | head -1 |
  sed 's/.*uid":"\([^"]*\)".*/\1/').dcm
expect "the SR of the per-frame series exists" "$(test -s "$sr_single" && echo yes)" yes
dsrdump "$sr_single" >"$tmp/sr.txt" 2>&1
for k in 1 2; do
  uid=$(dcmdump +P SOPInstanceUID "$d/single_$k.dcm" | sed 's/.*\[\(.*\)\].*/\1/')
  expect "SR evidence lists single_$k.dcm" "$(dcmdump +P ReferencedSOPInstanceUID "$sr_single" | grep -c "$uid")" 2
done
expect "SR: verdict, model and observer device" \
  "$(grep -cE 'Series verdict")="(keep|repeat)"|Model name")="angio_qa"|Device Observer Model Name")="lumen ' "$tmp/sr.txt")" 3
expect "SR: each frame's class and 4 probabilities" "$(grep -c 'Probability of ' "$tmp/sr.txt")" 8
expect "SR: Referenced Frame Number" "$(dcmdump +P ReferencedFrameNumber "$sr_single" | grep -c '\[1\]')" 2
expect "SR: the patient of the source (the SR joins its study)" \
  "$(dcmdump +P PatientID "$sr_single" | grep -c 'SYN-0001')" 1

check "re-run skips every done frame" 1 "$lumen" qc "$d" --out "$r" --size 256
contains "13 skipped" "13 ok, 1 failed, 13 skipped"
expect "same patient hashes on a re-run (salt kept)" \
  "$(grep -o '"patient_hash":"[0-9a-f]*"' "$j" | sort -u | wc -l)" 2

r2=$tmp/r2
check "--phi, DICOM files as arguments" 0 "$lumen" qc "$d/multi_rle.dcm" "$d/IM000001" --out "$r2" \
  --size 256 --phi
contains "4 frames from 2 files" "4 frames .*: 4 ok, 0 failed"
expect "--phi: PatientID and name in records" \
  "$(grep -c '"patient_id":"PAT-4711","patient_name":"Synthetic^Patient"' "$r2/report.jsonl")" 2
expect "--phi: no hash" "$(grep -c patient_hash "$r2/report.jsonl")" 0
# a frame that does not decode keeps its DICOM identity, so its series' SR lists it as failed
mkdir -p "$tmp/cut"
"$py" tests/dicom_corrupt_frame.py "$d/multi_rle.dcm" "$tmp/cut/bad.dcm"
check "qc on an RLE series whose frame 2 does not decode" 1 "$lumen" qc "$tmp/cut" \
  --out "$tmp/r4" --size 256
contains "1 ok, 1 failed" "2 frames .*: 1 ok, 1 failed"
expect "the error record keeps its identity" \
  "$(grep '"status":"error"' "$tmp/r4/report.jsonl" | grep -c '"frame":2,.*"sop_instance_uid"')" 1
sr_cut=$(ls "$tmp"/r4/sr/*.dcm 2>/dev/null | head -1)
dsrdump "$sr_cut" >"$tmp/sr_cut.txt" 2>&1
expect "its SR lists both frames" "$(grep -c 'Source frame")=(XA image,,[12])' "$tmp/sr_cut.txt")" 2
expect "and the failed one with its error" "$(grep -c 'Frame error")=' "$tmp/sr_cut.txt")" 1
dciodvfy "$sr_cut" >"$tmp/vfy_cut" 2>&1
expect "dciodvfy: no Error lines" "$(grep -c '^Error' "$tmp/vfy_cut")" 0
# the Device Observer UID names this installation: the same in every SR
expect "one Device Observer UID across all SRs" "$(for f in "$r"/sr/*.dcm "$sr_cut"; do
  dsrdump "$f" | grep 'Device Observer UID'; done | sort -u | wc -l)" 1

check "a .dcm that is not DICOM, as an argument" 1 "$lumen" qc "$d/fake.dcm" --out "$tmp/r3" --size 256
contains "error record, not a list file" "1 frames .*: 0 ok, 1 failed"
finish
