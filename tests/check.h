/*
 * check.h - what the C tests outside the op tables share (test_runtime, test_io, test_graph,
 * test_dicom, test_threads):
 * CHECK(cond, fmt, ...) prints one line per check ("OK   ..." or "FAIL ...") and counts it;
 * check_tmpdir makes the test's private folder 'tmpdir' and path_in names files inside it;
 * check_summary prints the tally and returns the exit status.
 */
#ifndef LUMEN_TEST_CHECK_H
#define LUMEN_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int failures, checks;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        checks++;                                                                                  \
        int ok_ = (cond);                                                                          \
        failures += !ok_;                                                                          \
        printf("%-4s ", ok_ ? "OK" : "FAIL");                                                      \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        fflush(stdout);                                                                            \
    } while (0)

static char tmpdir[256];

/* tmpdir = a new folder "/tmp/lumen-<name>-XXXXXX". Returns 0, or -1 after printing why. */
static inline int check_tmpdir(const char *name)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lumen-%s-XXXXXX", name);
    if (mkdtemp(tmpdir))
        return 0;
    perror("mkdtemp");
    return -1;
}

/* buf = tmpdir/name */
static inline void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

/* Prints "N passed, M failed"; returns the exit status (1 when a check failed). */
static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures ? 1 : 0;
}

#endif
