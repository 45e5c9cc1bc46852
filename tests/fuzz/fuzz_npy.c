/*
 * fuzz_npy.c - libFuzzer target for the .npy loader (lumen_npy_load): magic, version, header
 * length, the Python-dict header, shape and byte counts against the file size. The data must
 * be in the file, so a run allocates at most about the input's size. Seeds: small arrays of
 * each accepted dtype and hostile headers (setup.sh).
 */
#include "fuzz_file.h"
#include "lumen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, "npy");
    char err[LUMEN_ERR_MAX];
    lumen_array a;
    if (path && lumen_npy_load(path, &a, err, sizeof err) == LUMEN_OK)
        free(a.data);
    return 0;
}
