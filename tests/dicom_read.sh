#!/usr/bin/env bash
# dicom_read.sh TEST_DICOM PYTHON - writes a synthetic XA series with examples/make_dicom.py in
# every transfer syntax lumen reads (DCMTK's own encoders: dcmcjpeg, dcmcjpls, dcmcrle,
# dcmconv), its MONOCHROME1 and 1024x1024 twins, and hostile variants (dcmodify), then runs
# tests/test_dicom.c over them.
set -u
test_dicom=$1
py=${2:-/usr/bin/python3}
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gen() { "$py" "$src/examples/make_dicom.py" --out "$tmp" --classes 0,1,3 "$@" >/dev/null; }
set -e
gen --compress jpeg-lossless --compress jpeg-lossless-p14 --compress rle --compress jpeg-ls \
  --compress deflate --compress big-endian --compress implicit --compress jpeg-extended \
  --compress jpeg-ls-near
gen --name xa8 --bits 8 --compress jpeg-baseline --compress rle
gen --name bare --implicit
gen --name mono1 --photometric MONOCHROME1
gen --name big --upscale 2
# hostile and unsupported variants of the uncompressed file
cp "$tmp/xa.dcm" "$tmp/rows9000.dcm" && dcmodify -nb -m "Rows=9000" "$tmp/rows9000.dcm"
cp "$tmp/xa.dcm" "$tmp/frames20000.dcm" && dcmodify -nb -m "NumberOfFrames=20000" "$tmp/frames20000.dcm"
cp "$tmp/xa.dcm" "$tmp/bits32.dcm" && dcmodify -nb -m "BitsAllocated=32" "$tmp/bits32.dcm"
cp "$tmp/xa.dcm" "$tmp/highbit.dcm" && dcmodify -nb -m "HighBit=3" "$tmp/highbit.dcm"
cp "$tmp/xa.dcm" "$tmp/palette.dcm" &&
  dcmodify -nb -m "PhotometricInterpretation=PALETTE COLOR" "$tmp/palette.dcm"
cp "$tmp/xa.dcm" "$tmp/nopixels.dcm" && dcmodify -nb -e "(7fe0,0010)" "$tmp/nopixels.dcm"
# JPEG 2000: an encapsulated file relabelled (DCMTK has no JPEG 2000 codec to make a real one)
"$py" -c 'import sys; b = open(sys.argv[1], "rb").read(); open(sys.argv[2], "wb").write(
  b[:400].replace(b"1.2.840.10008.1.2.4.70", b"1.2.840.10008.1.2.4.90") + b[400:])' \
  "$tmp/xa_jpeg-lossless.dcm" "$tmp/j2k.dcm"
head -c 1000000 "$tmp/xa.dcm" >"$tmp/truncated.dcm"
head -c 500000 "$tmp/xa_rle.dcm" >"$tmp/truncated_rle.dcm"
printf 'not a DICOM file, only named like one\n' >"$tmp/fake.dcm"
cp "$src/examples/data/seriesA_f01_16bit.png" "$tmp/frame.png"
"$py" - "$tmp/signed.dcm" <<'PYEOF'
import sys
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
ds = Dataset()
ds.file_meta = FileMetaDataset()
ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # DX
ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
ds.Modality = "DX"
ds.Rows, ds.Columns, ds.SamplesPerPixel = 4, 4, 1
ds.PhotometricInterpretation = "MONOCHROME2"
ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 10, 9, 1
ds.RescaleSlope, ds.RescaleIntercept = "2", "-100"
px = np.zeros(16, "<i2")
px[0], px[1] = -5, 7
ds.PixelData = (px.astype("<u2") & 0x3FF).tobytes()  # 10 bits stored, upper bits zero
ds.is_little_endian, ds.is_implicit_VR = True, False
ds.save_as(sys.argv[1], write_like_original=False)
PYEOF
# a deflate bomb: a meta header naming Deflated Explicit VR Little Endian, then 256 MB of
# zeros deflated to about 250 KB; and the 600-byte file whose deflated data set declares a
# 2.9 GB element (found by fuzz_dicom)
"$py" - "$tmp/bomb.dcm" <<'PYEOF'
import struct, sys, zlib
uid = b"1.2.840.10008.1.2.1.99\0"
meta = b"\x02\x00\x10\x00UI" + struct.pack("<H", len(uid)) + uid
meta = b"\x02\x00\x00\x00UL\x04\x00" + struct.pack("<I", len(meta)) + meta
z = zlib.compressobj(9, zlib.DEFLATED, -15)
body = b"".join(z.compress(bytes(1 << 20)) for _ in range(256)) + z.flush()
open(sys.argv[1], "wb").write(bytes(128) + b"DICM" + meta + body)
PYEOF
cp "$src/tests/dicom_seeds/deflate-oom-element-length.dcm" "$tmp/deflate_oom.dcm"
set +e
"$test_dicom" "$tmp"
