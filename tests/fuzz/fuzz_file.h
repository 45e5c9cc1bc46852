/*
 * fuzz_file.h - for libFuzzer targets whose loader takes a path: each input is written to one
 * temporary file (created once per process, rewritten per input) and the loader reads it
 * there, through the same code path a real file takes (open, fstat, reads at offsets).
 */
#ifndef LUMEN_FUZZ_FILE_H
#define LUMEN_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_path[256];

static void fuzz_file_remove(void)
{
    unlink(fuzz_path);
}

/* The path of the temporary file holding data[0..size), or NULL when it cannot be written. */
static const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix)
{
    static int fd = -1;
    char *path = fuzz_path;
    if (fd < 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof fuzz_path, "%s/lumen-fuzz-%s-%ld-XXXXXX", dir && *dir ? dir : "/tmp",
                 suffix, (long)getpid());
        fd = mkstemp(path);
        if (fd < 0)
            return NULL;
        atexit(fuzz_file_remove);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return NULL;
    return path;
}

#endif
