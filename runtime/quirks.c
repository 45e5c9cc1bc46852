/*
 * quirks.c - known problems of vendors' OpenCL drivers, and the paths they turn off.
 *
 * One table, keyed by substrings of the device's identity (platform, vendor, device name,
 * driver version), each entry naming the paths it turns off (LUMEN_QUIRK_*) and why. It is
 * empty on purpose: an entry is added only for a problem that was measured (a failing
 * self-check, a wrong result reproduced against the C reference), with the evidence in its
 * reason. The self-check (selfcheck.c) finds problems on any device; this table is for those
 * that must be avoided before the check runs, or that the check's small cases do not reach.
 *
 * A context reads its quirks once, when it is opened (lumen__quirks_apply): NO_CLBLAST puts a
 * context whose GEMM engine is still to be measured (AUTO) on the own kernel; an engine forced
 * by $LUMEN_GEMM or lumen_ctx_set_gemm is left as asked. NO_FP16 is for half precision, which
 * consults lumen_ctx_quirks.
 *
 * Tests inject one entry with $LUMEN_DEBUG_QUIRKS ("no_clblast:pthread"), so the wiring is
 * tested without inventing a real-world quirk.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct quirk {
    const char *match;  /* substring of platform, vendor, device name or driver; "" all */
    const char *driver; /* prefix of the driver version; "" any */
    unsigned flags;     /* LUMEN_QUIRK_* */
    const char *reason; /* what was measured, where */
} quirk;

/* Empty until a measured problem fills it; the sentinel keeps the array legal C. Format:
 * {"Intel(R) Arc", "31.0.101.", LUMEN_QUIRK_NO_CLBLAST, "CLBlast SGEMM wrong: issue N"}. */
static const quirk table[] = {
    {NULL, NULL, 0, NULL},
};

static int device_matches(const lumen_device_info *d, const char *match)
{
    if (!strcmp(match, "*"))
        return 1;
    return lumen__contains_ci(d->platform, match) || lumen__contains_ci(d->vendor, match) ||
           lumen__contains_ci(d->name, match) || lumen__contains_ci(d->driver, match);
}

static void add_reason(char *why, size_t len, const char *reason)
{
    if (!why || !len)
        return;
    size_t used = strlen(why);
    if (used + 1 < len)
        snprintf(why + used, len - used, "%s%s", used ? "; " : "", reason);
}

/* Parses "FLAGS:MATCH" into *flags; 0 when malformed. */
static int parse_debug(const char *spec, unsigned *flags, char *match, size_t mlen)
{
    const char *colon = strchr(spec, ':');
    if (!colon)
        return 0;
    *flags = 0;
    for (const char *p = spec; p < colon;) {
        size_t n = strcspn(p, ",:");
        if (n == 10 && !strncmp(p, "no_clblast", n))
            *flags |= LUMEN_QUIRK_NO_CLBLAST;
        else if (n == 7 && !strncmp(p, "no_fp16", n))
            *flags |= LUMEN_QUIRK_NO_FP16;
        else
            return 0;
        p += n + (p[n] == ',');
    }
    snprintf(match, mlen, "%s", colon + 1);
    return *flags != 0;
}

unsigned lumen_quirks(const lumen_device_info *d, char *why, size_t len)
{
    unsigned flags = 0;
    if (why && len)
        why[0] = '\0';
    for (const quirk *q = table; q->match; q++)
        if (device_matches(d, q->match) && !strncmp(d->driver, q->driver, strlen(q->driver))) {
            flags |= q->flags;
            add_reason(why, len, q->reason);
        }
    const char *spec = getenv("LUMEN_DEBUG_QUIRKS");
    if (spec && *spec) {
        unsigned f;
        char match[128];
        if (!parse_debug(spec, &f, match, sizeof match))
            add_reason(why, len,
                       "LUMEN_DEBUG_QUIRKS ignored: not FLAGS:MATCH with FLAGS from "
                       "no_clblast, no_fp16");
        else if (device_matches(d, match)) {
            flags |= f;
            add_reason(why, len, "test entry from LUMEN_DEBUG_QUIRKS");
        }
    }
    return flags;
}

unsigned lumen_ctx_quirks(const lumen_ctx *ctx)
{
    return ctx->quirks;
}

void lumen__quirks_apply(lumen_ctx *ctx)
{
    ctx->quirks = lumen_quirks(&ctx->info, NULL, 0);
    if ((ctx->quirks & LUMEN_QUIRK_NO_CLBLAST) && ctx->gemm == LUMEN_GEMM_AUTO)
        ctx->gemm = LUMEN_GEMM_OWN;
}
