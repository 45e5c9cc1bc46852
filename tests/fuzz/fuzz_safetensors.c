/*
 * fuzz_safetensors.c - libFuzzer target for the safetensors loader (lumen_weights_load): header
 * length, JSON header (cJSON), dtypes, shapes, data offsets (order, overlap, coverage), names.
 * Tensors must lie inside the file, so a run allocates about the input's size. Seeds: small
 * weight files written by lumen_weights_save and hand-made hostile headers (setup.sh).
 */
#include "fuzz_file.h"
#include "lumen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, "safetensors");
    char err[LUMEN_ERR_MAX];
    lumen_weights *w = NULL;
    if (path && lumen_weights_load(path, &w, err, sizeof err) == LUMEN_OK) {
        for (int i = 0; i < lumen_weights_count(w); i++)
            (void)lumen_weights_find(w, lumen_weights_at(w, i)->name);
        lumen_weights_free(w);
    }
    return 0;
}
