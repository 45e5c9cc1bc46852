/*
 * test_threads.c - the C API is reentrant: two contexts driven from two threads at once give
 * the same results as one context alone, and the split run (start / poll / wait) that lets one
 * thread keep several devices busy behaves as documented.
 *
 * Each thread opens its own context (device "0:<i>" when the platform has that many devices,
 * e.g. POCL_DEVICES="pthread pthread", else the default device), loads the same small network
 * (3x3 conv + ReLU, 1x1 conv, residual add, global average pool) with fixed weights, and runs it
 * ROUNDS times on its own inputs, alternating blocking runs and start/poll runs. Every output is
 * compared with the one computed before the threads started, on a context of its own. The
 * ThreadSanitizer build (setup.sh test, build-tsan/) runs this file to find data races in
 * lumen's own code (program cache, device list, CLBlast/GEMM state).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "lumen.h"

#define C 8
#define H 23
#define W 17
#define ROUNDS 6

/* A small deterministic generator (64-bit LCG); each caller passes its own state. */
static float rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xffffff) / (float)0x1000000 * 2.0f - 1.0f;
}

static int add_const(lumen_graph *g, const char *name, lumen_shape s, uint64_t seed)
{
    int64_t n = lumen_shape_numel(&s);
    float *d = malloc((size_t)n * sizeof *d);
    if (!d)
        return -1; /* the graph's sticky error reports the missing input later */
    for (int64_t i = 0; i < n; i++)
        d[i] = 0.3f * rnd(&seed);
    int v = lumen_graph_const(g, name, &s, d);
    free(d);
    return v;
}

static lumen_graph *build_net(void)
{
    lumen_graph *g = lumen_graph_new();
    if (!g)
        return NULL;
    lumen_shape xs = {4, {1, C, H, W}};
    int x = lumen_graph_input(g, "x", &xs);
    lumen_opdesc c3 = lumen_opdesc_conv2d(1, 1, 1, 1, LUMEN_ACT_RELU);
    lumen_opdesc c1 = lumen_opdesc_conv2d(1, 0, 1, 1, LUMEN_ACT_NONE);
    lumen_opdesc add = {.op = LUMEN_OP_BINARY, .p.binary.kind = LUMEN_BIN_ADD};
    lumen_opdesc gap = {.op = LUMEN_OP_REDUCE};
    gap.p.reduce.kind = LUMEN_REDUCE_MEAN;
    gap.p.reduce.axes = (1u << 2) | (1u << 3);
    int w1 = add_const(g, "w1", (lumen_shape){4, {C, C, 3, 3}}, 1);
    int b1 = add_const(g, "b1", (lumen_shape){1, {C}}, 2);
    int w2 = add_const(g, "w2", (lumen_shape){4, {C, C, 1, 1}}, 3);
    int y = lumen_graph_op(g, "c3", &c3, 3, (int[]){x, w1, b1});
    y = lumen_graph_op(g, "c1", &c1, 3, (int[]){y, w2, -1});
    y = lumen_graph_op(g, "add", &add, 2, (int[]){y, x});
    int p = lumen_graph_op(g, "gap", &gap, 1, (int[]){y});
    lumen_graph_output(g, "y", y);
    lumen_graph_output(g, "p", p);
    return g;
}

#define NX (C * H * W)
#define NP C

typedef struct job {
    const char *selector;     /* device, NULL: default */
    float x[ROUNDS][NX];      /* inputs per round */
    float want_y[ROUNDS][NX]; /* expected outputs (from the single-threaded run) */
    float want_p[ROUNDS][NP];
    float got_y[NX], got_p[NP];
    int bad_rounds; /* rounds whose outputs differed */
    char err[256];  /* first failure, or "" */
} job;

/* Loads the network on a new context and runs each round; writes outputs into want_* (when
 * fill is 1) or compares them with want_* (fill 0). Returns 0, or -1 with j->err set. */
static int run_job(job *j, int fill)
{
    lumen_ctx *ctx = NULL;
    lumen_model *m = NULL;
    int rc = -1;
    if (lumen_ctx_new(j->selector, &ctx, j->err, sizeof j->err) != LUMEN_OK)
        return -1;
    if (lumen_model_new(ctx, build_net(), NULL, &m) != LUMEN_OK) {
        snprintf(j->err, sizeof j->err, "model: %s", lumen_ctx_error(ctx));
        goto cleanup;
    }
    lumen_tensor *tx = lumen_model_tensor(m, "x");
    lumen_tensor *ty = lumen_model_tensor(m, "y");
    lumen_tensor *tp = lumen_model_tensor(m, "p");
    for (int r = 0; r < ROUNDS; r++) {
        lumen_status st = lumen_tensor_write(tx, j->x[r], NX);
        if (st == LUMEN_OK && r % 2 == 0) {
            st = lumen_model_run(m);
        } else if (st == LUMEN_OK) { /* the split run, polled until done */
            int done = 0;
            st = lumen_model_start(m);
            while (st == LUMEN_OK && !(st = lumen_model_poll(m, &done)) && !done)
                nanosleep(&(struct timespec){0, 200000}, NULL);
        }
        if (st == LUMEN_OK)
            st = lumen_tensor_read(ty, fill ? j->want_y[r] : j->got_y, NX);
        if (st == LUMEN_OK)
            st = lumen_tensor_read(tp, fill ? j->want_p[r] : j->got_p, NP);
        if (st != LUMEN_OK) {
            snprintf(j->err, sizeof j->err, "round %d: %s", r, lumen_ctx_error(ctx));
            goto cleanup;
        }
        if (!fill && (memcmp(j->got_y, j->want_y[r], sizeof j->got_y) != 0 ||
                      memcmp(j->got_p, j->want_p[r], sizeof j->got_p) != 0))
            j->bad_rounds++;
    }
    rc = 0;
cleanup:
    lumen_model_free(m);
    lumen_ctx_free(ctx);
    return rc;
}

static void *thread_main(void *arg)
{
    run_job(arg, 0);
    return NULL;
}

/* The split run's contract on one context: poll with nothing started says done; start + wait
 * gives the blocking run's output; wait twice is harmless; freeing a model with a run in flight
 * waits for it. */
static void check_split_run(const char *selector)
{
    char err[256];
    lumen_ctx *ctx = NULL;
    lumen_model *m = NULL;
    if (lumen_ctx_new(selector, &ctx, err, sizeof err) != LUMEN_OK) {
        CHECK(0, "split run: no context: %s", err);
        return;
    }
    lumen_status st = lumen_model_new(ctx, build_net(), NULL, &m);
    CHECK(st == LUMEN_OK, "split run: model loads (%s)", st ? lumen_ctx_error(ctx) : "ok");
    if (st == LUMEN_OK) {
        int done = -1;
        st = lumen_model_poll(m, &done);
        CHECK(st == LUMEN_OK && done == 1, "poll before any start reports done");
        static float x[NX], a[NX], b[NX];
        uint64_t s = 99;
        for (int i = 0; i < NX; i++)
            x[i] = rnd(&s);
        lumen_tensor *tx = lumen_model_tensor(m, "x"), *ty = lumen_model_tensor(m, "y");
        st = lumen_tensor_write(tx, x, NX);
        st = st ? st : lumen_model_run(m);
        st = st ? st : lumen_tensor_read(ty, a, NX);
        st = st ? st : lumen_model_start(m);
        st = st ? st : lumen_model_wait(m);
        st = st ? st : lumen_model_wait(m);
        st = st ? st : lumen_tensor_read(ty, b, NX);
        CHECK(st == LUMEN_OK && memcmp(a, b, sizeof a) == 0,
              "start + wait (twice) gives the blocking run's output");
        st = lumen_model_start(m);
        CHECK(st == LUMEN_OK, "free with a run in flight (start, then free)");
    }
    lumen_model_free(m);
    lumen_ctx_free(ctx);
}

int main(void)
{
    static job jobs[2];
    lumen_device_info devs[8];
    int ndev = 0;
    char err[256];
    if (lumen_devices(devs, 8, &ndev, err, sizeof err) != LUMEN_OK) {
        printf("FAIL no OpenCL device: %s\n", err);
        return 1;
    }
    /* two devices of platform 0 when there are, else both threads on the default device */
    const char *sel[2] = {NULL, NULL};
    if (ndev >= 2 && devs[0].platform_index == devs[1].platform_index) {
        sel[0] = "0:0";
        sel[1] = "0:1";
    }
    check_split_run(sel[0]);
    for (int t = 0; t < 2; t++) {
        jobs[t].selector = sel[t];
        uint64_t s = 1000 + (uint64_t)t;
        for (int r = 0; r < ROUNDS; r++)
            for (int i = 0; i < NX; i++)
                jobs[t].x[r][i] = rnd(&s);
        int rc = run_job(&jobs[t], 1);
        CHECK(rc == 0, "thread %d's expected outputs computed alone on %s%s%s", t,
              sel[t] ? sel[t] : "the default device", rc ? ": " : "", jobs[t].err);
    }
    pthread_t th[2];
    int started[2] = {0, 0};
    for (int t = 0; t < 2; t++)
        started[t] = pthread_create(&th[t], NULL, thread_main, &jobs[t]) == 0;
    for (int t = 0; t < 2; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        CHECK(started[t] && jobs[t].err[0] == 0 && jobs[t].bad_rounds == 0,
              "thread %d (%s): %d rounds concurrently, %d differ from the lone run%s%s", t,
              sel[t] ? sel[t] : "default device", ROUNDS, jobs[t].bad_rounds,
              jobs[t].err[0] ? ": " : "", jobs[t].err);
    }
    return check_summary();
}
