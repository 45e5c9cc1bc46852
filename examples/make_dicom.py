#!/usr/bin/env python3
"""Synthetic X-ray angiography (XA) DICOM series for lumen's examples and tests.

The pixels are angio_qa's synthetic DSA frames (models/angio_qa/synth.py, deterministic given a
seed); this script only wraps them as DICOM with pydicom (Debian python3-pydicom): one
multi-frame XA instance per series by default (how angiography systems store a run), or one
instance per frame with --per-frame. Files are written uncompressed (explicit VR little endian);
compressed copies are made with DCMTK's own encoders (dcmcjpeg, dcmcjpls, dcmcrle, dcmconv) by
--compress or by the tests, so the decoders are checked against a real encoder.

Twins: --photometric MONOCHROME1 stores the same frames inverted (white is zero) and --upscale 2
stores them at twice the size (each pixel repeated 2x2); lumen must give the same classes for a
twin as for the plain series. UIDs are derived from --seed and the variant, so re-running gives
byte-identical files and twins are distinct series of one study.

  python3 examples/make_dicom.py --out /tmp/xa --frames 3 --classes 0,1,3
  python3 examples/make_dicom.py --out /tmp/xa --photometric MONOCHROME1 --name mono1
  python3 examples/make_dicom.py --examples examples/data     # the repository's sample series
"""

import argparse
import os
import subprocess
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models", "angio_qa"))
import synth  # noqa: E402  (angio_qa's frame generator)

XA_STORAGE = "1.2.840.10008.5.1.4.1.1.12.1"
# DCMTK encoders for the test transfer syntaxes: name -> command (input, output appended)
ENCODERS = {
    "jpeg-lossless": ["dcmcjpeg", "+e1"],  # JPEG lossless, first-order prediction (SV1)
    "jpeg-lossless-p14": ["dcmcjpeg", "+el"],  # JPEG lossless, process 14
    "jpeg-extended": ["dcmcjpeg", "+ee", "+sr"],  # JPEG extended (12 bit, lossy)
    "jpeg-baseline": ["dcmcjpeg", "+eb", "+sr"],  # JPEG baseline (8 bit only, lossy)
    "jpeg-ls": ["dcmcjpls", "+el"],  # JPEG-LS lossless
    "jpeg-ls-near": ["dcmcjpls", "+en"],  # JPEG-LS near-lossless
    "rle": ["dcmcrle"],
    "deflate": ["dcmconv", "+td"],
    "big-endian": ["dcmconv", "+tb"],
    "implicit": ["dcmconv", "+ti"],
}


def uid(seed, *parts):
    """A deterministic UID (2.25 root) from the seed and a label."""
    return generate_uid(prefix=None, entropy_srcs=["lumen-synthetic-xa", str(seed)] + [str(p) for p in parts])


def frames_for(seed, size, classes):
    rng = np.random.default_rng(seed)
    return [synth.make_frame(rng, size, c)[0] for c in classes]


def to_stored(img, bits):
    if bits == 8:
        return synth.to_u8(img)
    return synth.to_u16(img)  # 12-bit values in 16-bit words


def base_dataset(a, series_uid, name):
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "SINGLE PLANE"]
    ds.SOPClassUID = XA_STORAGE
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240601"
    ds.StudyTime = ds.SeriesTime = "101500"
    ds.AcquisitionDateTime = "20240601101512.250000"
    ds.AccessionNumber = "SYN%06d" % a.seed
    ds.Modality = "XA"
    ds.Manufacturer = "lumen synthetic"
    ds.InstitutionName = "Synthetic Hospital"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "Synthetic cerebral angiography"
    ds.SeriesDescription = "DSA run %s" % name
    ds.PatientName = a.patient_name
    ds.PatientID = a.patient_id
    ds.PatientBirthDate = "19600101"
    ds.PatientSex = "O"
    ds.KVP = "80"
    ds.RadiationSetting = "GR"
    ds.PositionerMotion = "STATIC"
    ds.StudyInstanceUID = a.study_uid or uid(a.seed, "study")
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = a.series_number
    ds.PatientOrientation = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = a.photometric
    ds.BitsAllocated = 8 if a.bits == 8 else 16
    ds.BitsStored = 8 if a.bits == 8 else 12
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    ds.FrameTime = "250"
    ds.CineRate = "4"
    ds.PixelIntensityRelationship = "LIN"
    ds.LossyImageCompression = "00"
    return ds


def write_instance(path, ds, sop_uid, pixels, implicit):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    meta.ImplementationClassUID = "1.2.826.0.1.3680043.8.498.1"
    ds.file_meta = meta
    ds.SOPInstanceUID = sop_uid
    ds.Rows, ds.Columns = pixels.shape[1], pixels.shape[2]
    if len(pixels) > 1 or ds.get("NumberOfFrames"):
        ds.NumberOfFrames = len(pixels)
        ds.FrameIncrementPointer = (0x0018, 0x1063)  # Frame Time
    ds.PixelData = np.ascontiguousarray(pixels).astype("<u2" if ds.BitsAllocated == 16 else "u1").tobytes()
    ds.is_little_endian, ds.is_implicit_VR = True, implicit
    if implicit:  # a bare dataset: no preamble, no meta header (recognised by content)
        del ds.file_meta
        ds.preamble = None
        ds.save_as(path, write_like_original=True)
    else:
        ds.save_as(path, write_like_original=False)


def make_series(a, out_dir, name):
    """Writes one series; returns the file paths."""
    classes = [int(c) for c in a.classes.split(",")]
    frames = frames_for(a.seed, a.size, classes)
    stored = np.stack([to_stored(f, a.bits) for f in frames])
    if a.photometric == "MONOCHROME1":
        stored = (2 ** (8 if a.bits == 8 else 12) - 1) - stored
    if a.upscale > 1:
        stored = stored.repeat(a.upscale, axis=1).repeat(a.upscale, axis=2)
    variant = (name, a.photometric, a.upscale, a.bits, a.classes)
    series_uid = a.series_uid or uid(a.seed, "series", *variant)
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    groups = [[i] for i in range(len(stored))] if a.per_frame else [list(range(len(stored)))]
    for k, idx in enumerate(groups):
        ds = base_dataset(a, series_uid, name)
        ds.InstanceNumber = k + 1
        if not a.per_frame:
            ds.NumberOfFrames = len(idx)
        path = os.path.join(out_dir, "%s_%d.dcm" % (name, k + 1) if a.per_frame else "%s.dcm" % name)
        write_instance(path, ds, uid(a.seed, "sop", k, *variant), stored[idx], a.implicit)
        paths.append(path)
    return paths


def compress(path, kind, out_path):
    """Re-encodes path with DCMTK into out_path (transfer syntax 'kind', see ENCODERS)."""
    cmd = ENCODERS[kind] + [path, out_path]
    subprocess.run(cmd, check=True)
    return out_path


def write_examples(outdir):
    """The repository's sample: one 4-frame 512x512 8-bit XA series, JPEG lossless (~0.4 MB)."""
    class A:
        pass

    a = A()
    a.seed, a.size, a.classes, a.bits, a.photometric, a.upscale = 20240611, 512, "0,1,3,0", 8, "MONOCHROME2", 1
    a.per_frame, a.implicit, a.series_uid, a.study_uid = False, False, None, None
    a.patient_id, a.patient_name, a.series_number = "SYN-0001", "Synthetic^Patient", 7
    src = make_series(a, outdir, ".xa_uncompressed")[0]
    out = compress(src, "jpeg-lossless", os.path.join(outdir, "seriesE_xa_jpegll.dcm"))
    os.remove(src)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="/tmp/lumen_xa")
    ap.add_argument("--name", default="xa", help="file name stem (default xa)")
    ap.add_argument("--classes", default="0,1,2,3", help="quality class per frame (angio_qa's 0..3)")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bits", type=int, choices=(8, 16), default=16, help="16: 12 bits stored")
    ap.add_argument("--photometric", choices=("MONOCHROME1", "MONOCHROME2"), default="MONOCHROME2")
    ap.add_argument("--upscale", type=int, default=1, help="repeat each pixel n x n")
    ap.add_argument("--per-frame", action="store_true", help="one single-frame instance per frame")
    ap.add_argument("--implicit", action="store_true", help="bare implicit-VR dataset, no preamble")
    ap.add_argument("--compress", action="append", default=[], choices=sorted(ENCODERS),
                    help="also write NAME_<kind>.dcm copies (DCMTK encoders); repeatable")
    ap.add_argument("--series-uid", default=None)
    ap.add_argument("--study-uid", default=None)
    ap.add_argument("--series-number", type=int, default=1)
    ap.add_argument("--patient-id", default="SYN-0001")
    ap.add_argument("--patient-name", default="Synthetic^Patient")
    ap.add_argument("--examples", default=None, help="write the repository's sample series here")
    a = ap.parse_args()
    if a.examples:
        print(write_examples(a.examples))
        return 0
    for p in make_series(a, a.out, a.name):
        print(p)
        for kind in a.compress:
            stem = p[:-4] if p.endswith(".dcm") else p
            print(compress(p, kind, "%s_%s.dcm" % (stem, kind)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
