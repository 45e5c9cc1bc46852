/*
 * fuzz_onnx.c - libFuzzer target for the ONNX loader: every input is handed to
 * lumen_onnx_load_buffer, which pre-scans, unpacks, validates and builds a graph (shape
 * inference and host folding included); the graph is freed and nothing runs on a device.
 * Built only with -DLUMEN_FUZZ=ON and clang (-fsanitize=fuzzer,address,undefined); setup.sh test
 * runs it for a bounded time on a seed corpus of small test-data models and the hostile files
 * written by onnx_hostile --write.
 *
 * Element bound: 1<<22 per tensor (instead of the default 1<<28) so that a mutated dim cannot
 * make one run allocate gigabytes legitimately; rejections stay the loader's job.
 */
#include <stddef.h>
#include <stdint.h>

#include "lumen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[LUMEN_ERR_MAX];
    lumen_graph *g = NULL;
    lumen_onnx_options opt = {0};
    opt.max_elements = (int64_t)1 << 22;
    lumen_onnx_info info;
    if (lumen_onnx_load_buffer(data, size, &opt, &g, &info, err, sizeof err) == LUMEN_OK)
        lumen_graph_free(g);
    return 0;
}
