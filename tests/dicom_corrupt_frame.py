#!/usr/bin/env python3
# dicom_corrupt_frame.py IN OUT - copies an RLE-encoded multi-frame DICOM file with the RLE
# header of frame 2 pointing its one segment far past the end: the file opens, frame 1 decodes,
# frame 2 does not (for tests/cli_dicom.sh).
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
pos = b.rindex(b"\xe0\x7f\x10\x00OB") + 12  # the items of the encapsulated Pixel Data
for _ in range(2):  # skip the offset table and frame 1's fragment
    assert b[pos:pos + 4] == b"\xfe\xff\x00\xe0"
    pos += 8 + struct.unpack_from("<I", b, pos + 4)[0]
b[pos + 8:pos + 16] = struct.pack("<II", 1, 0x7FFFFFFF)  # one RLE segment, far past the end
open(sys.argv[2], "wb").write(b)
