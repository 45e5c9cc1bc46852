/*
 * onnx_conformance.c - runs the ONNX backend node tests of Debian's libonnx-testdata through the
 * ONNX loader and the default device, and compares every output with the file's expected one
 * (|got - want| <= 1e-5 + 1e-3 |want|; exact for integer and boolean outputs).
 *
 *   onnx_conformance [-v] [FILTER...]     FILTER: substrings of "suite/test_name"
 *
 * Data: $LUMEN_ONNX_TESTDATA or /usr/share/libonnx-testdata/data, suites node,
 * pytorch-converted and pytorch-operator; each test is a folder with model.onnx and
 * test_data_set_N/{input_i.pb,output_i.pb} (serialized TensorProtos).
 *
 * Each test ends as PASS, FAIL or SKIP. A test is skipped when the loader says LUMEN_EUNSUPPORTED
 * (its message is the reason) or when the model's inputs are not float tensors (the runtime's
 * tensors are float32; sequences and maps are not tensors at all). Integer inputs and the float
 * inputs that are op parameters (Resize scales, Range bounds) are given to the loader as
 * initializers holding the data set's tensor (is_const_input). A load error other than
 * unsupported, a run error or a mismatch is a failure, and so is a crash or a hang: tests run in
 * a forked worker process that reports over a pipe, the parent kills a worker that spends more
 * than $LUMEN_CONF_TIMEOUT seconds (default 120) on one test, records that test as failed and
 * starts a new worker at the next one. The parent never touches OpenCL, so forking is safe.
 *
 * Output: one line per test, a table by op (the op a test is about: its single node, or the op
 * its name starts with, or its first non-plumbing node), the skips by category (a short,
 * documented list: onnx_conformance_skips.h) and by reason, totals.
 * Exit status: 0 when nothing failed and every skip has a category, 1 otherwise, 77 (ctest:
 * skipped) without the test data.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lumen.h"
#include "onnx_conformance.h"
#include "pbwire.h"

static conf_test *tests; /* static, so that a worker's leak check sees it as reachable */
static int n_tests, verbose;

/* snprintf that may truncate on purpose (messages into fixed buffers). */
void conf_fmt(char *dst, size_t n, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    vsnprintf(dst, n, f, ap);
    va_end(ap);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void copy_str(char *dst, size_t cap, const void *src, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* Reads a whole file; NULL on failure. *len receives its size. */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
            if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
                free(buf);
                buf = NULL;
            } else {
                *len = (size_t)n;
            }
        }
    }
    fclose(f);
    return buf;
}

/* ---- model parsing with pbwire: op types, inputs, outputs ---- */

static void parse_value_info(pbr r, conf_io *io)
{
    pbfield f;
    memset(io, 0, sizeof *io);
    while (pbr_next(&r, &f)) {
        if (f.field == VI_NAME && f.wire_type == PB_LEN) {
            copy_str(io->name, sizeof io->name, f.ptr, f.len);
        } else if (f.field == VI_TYPE && f.wire_type == PB_LEN) {
            pbr tr = pbr_sub(&f);
            pbfield g;
            while (pbr_next(&tr, &g)) {
                if (g.wire_type != PB_LEN)
                    continue;
                io->kind = g.field;
                if (g.field == TYPE_TENSOR) {
                    pbr er = pbr_sub(&g);
                    pbfield e;
                    while (pbr_next(&er, &e))
                        if (e.field == TT_ELEM && e.wire_type == PB_VARINT)
                            io->dtype = (int)e.v;
                }
            }
        }
    }
}

/* Float inputs that are an op's parameters rather than its data: Resize's roi and scales
 * (inputs 1 and 2; opset 10's scales are input 1), Upsample's scales, OneHot's depth, Range's
 * start, limit and delta, and MelWeightMatrix's band edges (a constant generator: its output is
 * a function of its parameters alone). They fix the output's shape (or, for roi, the coordinate
 * map), and lumen's graph is static: shapes are inferred once at load, so the loader needs these
 * values then (in exported models they are initializers or folded shape arithmetic, see
 * runtime/onnx/fold.c). Like the integer inputs (is_const_input), the runner gives them to the
 * loader as initializers holding the data set's tensor, and says so on the PASS line. */
static int is_param_slot(const char *op, int k)
{
    if (!strcmp(op, "Resize"))
        return k == 1 || k == 2;
    if (!strcmp(op, "Upsample") || !strcmp(op, "OneHot"))
        return k == 1;
    if (!strcmp(op, "MelWeightMatrix"))
        return k == 3 || k == 4;
    return !strcmp(op, "Range");
}

static int in_list(char (*names)[128], int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s))
            return 1;
    return 0;
}

/* Fills the model facts of t from its model.onnx; returns 0 on success. */
static int parse_model(conf_test *t)
{
    char path[600];
    size_t len = 0;
    conf_fmt(path, sizeof path, "%s/model.onnx", t->dir);
    unsigned char *buf = read_file(path, &len);
    if (!buf)
        return -1;
    int n_init = 0, n_vi = 0, cap = 64, n_params = 0;
    char params[MAX_IO][128];
    char(*init)[128] = malloc(sizeof *init * (size_t)cap);
    conf_io *vi = malloc(sizeof *vi * MAX_IO * 4);
    pbr mr = pbr_init(buf, len);
    pbfield f;
    while (init && vi && pbr_next(&mr, &f)) {
        if (f.field != MODEL_GRAPH || f.wire_type != PB_LEN)
            continue;
        pbr gr = pbr_sub(&f);
        pbfield g;
        while (pbr_next(&gr, &g)) {
            if (g.wire_type != PB_LEN)
                continue;
            pbr sr = pbr_sub(&g);
            pbfield h;
            if (g.field == GRAPH_NODE) {
                char op[48] = "", name[64] = "", ins[MAX_IO][128];
                int n_ins = 0;
                while (pbr_next(&sr, &h)) {
                    if (h.field == NODE_OP && h.wire_type == PB_LEN)
                        copy_str(op, sizeof op, h.ptr, h.len);
                    else if (h.field == NODE_NAME && h.wire_type == PB_LEN)
                        copy_str(name, sizeof name, h.ptr, h.len);
                    else if (h.field == NODE_INPUT && h.wire_type == PB_LEN && n_ins < MAX_IO)
                        copy_str(ins[n_ins++], sizeof ins[0], h.ptr, h.len);
                }
                for (int k = 0; k < n_ins && n_params < MAX_IO; k++)
                    if (is_param_slot(op, k))
                        strcpy(params[n_params++], ins[k]);
                t->n_nodes++;
                int seen = 0;
                for (int i = 0; i < t->n_ops; i++)
                    seen |= !strcmp(t->ops[i], op);
                if (!seen && t->n_ops < MAX_OPS)
                    strcpy(t->ops[t->n_ops++], op);
                if (name[0] && t->n_node_names < MAX_NODE_NAMES)
                    strcpy(t->node_names[t->n_node_names++], name);
            } else if (g.field == GRAPH_INIT) {
                if (n_init == cap) {
                    char(*bigger)[128] = realloc(init, sizeof *init * (size_t)cap * 2);
                    if (!bigger)
                        break;
                    init = bigger;
                    cap *= 2;
                }
                init[n_init][0] = 0;
                while (pbr_next(&sr, &h))
                    if (h.field == TP_NAME && h.wire_type == PB_LEN)
                        copy_str(init[n_init], 128, h.ptr, h.len);
                n_init++;
            } else if (g.field == GRAPH_INPUT && n_vi < MAX_IO * 4) {
                parse_value_info(sr, &vi[n_vi++]);
            } else if (g.field == GRAPH_OUTPUT && t->n_out < MAX_IO) {
                parse_value_info(sr, &t->out[t->n_out++]);
            }
        }
    }
    for (int i = 0; init && vi && i < n_vi; i++)
        if (!in_list(init, n_init, vi[i].name) && t->n_in < MAX_IO) {
            vi[i].param = in_list(params, n_params, vi[i].name);
            t->in[t->n_in++] = vi[i];
        }
    int ok = init && vi && !mr.bad;
    free(init);
    free(vi);
    free(buf);
    return ok ? 0 : -1;
}

/* Ops that move or reshape data; a test is rarely "about" them when it has other nodes. */
static int is_plumbing(const char *op)
{
    static const char *list[] = {"Constant",        "Shape",  "Gather",    "Unsqueeze", "Squeeze",
                                 "Reshape",         "Concat", "Cast",      "Identity",  "Slice",
                                 "ConstantOfShape", "Expand", "Transpose", "Flatten"};
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
        if (!strcmp(op, list[i]))
            return 1;
    return 0;
}

/* The longest of names[0..n) that the compacted test name starts with ("softmaxaxis0" ->
 * Softmax, not Soft...); its length, 0 when none. */
static size_t best_prefix(const char *compact, char (*names)[48], int n, char *out, size_t cap)
{
    size_t best = 0, len = strlen(compact);
    for (int i = 0; i < n; i++) {
        size_t k = strlen(names[i]), j = 0;
        if (k <= best || k > len)
            continue;
        while (j < k && (names[i][j] | 0x20) == compact[j])
            j++;
        if (j == k) {
            best = k;
            conf_fmt(out, cap, "%s", names[i]);
        }
    }
    return best;
}

/* The op a test is about: its single node; else the longest of its own op types that its name
 * starts with; for an "_expanded" function test
 * the longest known op type ("test_softmax_axis_0_expanded" -> Softmax); else its first node
 * that is not plumbing. */
static void make_label(conf_test *t, char (*known)[48], int n_known)
{
    if (t->n_nodes == 1 && t->n_ops == 1) {
        conf_fmt(t->label, sizeof t->label, "%s", t->ops[0]);
        return;
    }
    const char *name = strrchr(t->id, '/') + 1;
    if (!strncmp(name, "test_", 5))
        name += 5;
    if (!strncmp(name, "operator_", 9))
        name += 9;
    char compact[160];
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < sizeof compact; p++)
        if (*p != '_')
            compact[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    compact[n] = 0;
    if (best_prefix(compact, t->ops, t->n_ops, t->label, sizeof t->label))
        return;
    if (strstr(name, "_expanded") &&
        best_prefix(compact, known, n_known, t->label, sizeof t->label))
        return;
    for (int i = 0; i < t->n_ops; i++)
        if (!is_plumbing(t->ops[i])) {
            conf_fmt(t->label, sizeof t->label, "%s", t->ops[i]);
            return;
        }
    conf_fmt(t->label, sizeof t->label, "%s", t->n_ops ? t->ops[0] : "(empty)");
}

static const char *kind_name(int kind)
{
    switch (kind) {
    case TYPE_TENSOR:
        return "tensor";
    case TYPE_SEQUENCE:
        return "sequence";
    case TYPE_MAP:
        return "map";
    case TYPE_SPARSE:
        return "sparse tensor";
    case TYPE_OPTIONAL:
        return "optional";
    default:
        return "untyped value";
    }
}

/* Integer and boolean inputs are, in exported models, shapes, axes, indices, pads and masks,
 * which lumen computes on the host (design: device tensors are float32; integer tensors are
 * shape arithmetic or constants). Such an input is given to the loader as an initializer
 * holding the data set's tensor (see model_with_consts), so the test checks the op's host
 * evaluation; so is a float input that is an op parameter (is_param_slot). Other non-float
 * inputs (double, float16, strings) are skipped. */
static int is_const_input(const conf_io *io)
{
    if (io->param && io->kind == TYPE_TENSOR && io->dtype == DT_FLOAT)
        return 1;
    switch (io->dtype) {
    case DT_INT64:
    case DT_INT32:
    case DT_INT16:
    case DT_INT8:
    case DT_UINT64:
    case DT_UINT32:
    case DT_UINT16:
    case DT_UINT8:
    case DT_BOOL:
        return io->kind == TYPE_TENSOR;
    default:
        return 0;
    }
}

/* Skips what the runtime cannot take before anything runs; returns 1 when t is skipped. */
static int precheck(conf_test *t)
{
    if (t->n_sets == 0) {
        conf_fmt(t->reason, sizeof t->reason, "no test_data_set folder");
        return 1;
    }
    for (int i = 0; i < t->n_in; i++) {
        const conf_io *io = &t->in[i];
        if (io->kind != TYPE_TENSOR) {
            conf_fmt(t->reason, sizeof t->reason, "input is a %s, not a tensor",
                     kind_name(io->kind));
            return 1;
        }
        if (is_const_input(io)) {
            t->n_consts++;
            t->n_params += io->dtype == DT_FLOAT;
        } else if (io->dtype != DT_FLOAT) {
            conf_fmt(t->reason, sizeof t->reason, "input is %s; runtime tensors are float32",
                     pb_dtype_name(io->dtype));
            return 1;
        }
    }
    for (int i = 0; i < t->n_out; i++) {
        const conf_io *io = &t->out[i];
        if (io->kind && io->kind != TYPE_TENSOR) {
            conf_fmt(t->reason, sizeof t->reason, "output is a %s, not a tensor",
                     kind_name(io->kind));
            return 1;
        }
        int dt = io->dtype;
        if (dt == DT_STRING || dt == DT_COMPLEX64 || dt == DT_COMPLEX128) {
            conf_fmt(t->reason, sizeof t->reason, "output is %s", pb_dtype_name(dt));
            return 1;
        }
    }
    return 0;
}

static int count_sets(const char *dir)
{
    int n = 0;
    char path[600];
    struct stat st;
    for (;;) {
        conf_fmt(path, sizeof path, "%s/test_data_set_%d", dir, n);
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            return n;
        n++;
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the tests of one suite folder (sorted by name) that match a filter. */
static void collect_suite(const char *root, const char *suite, char **filters, int n_filters,
                          int *cap)
{
    char path[512];
    conf_fmt(path, sizeof path, "%s/%s", root, suite);
    DIR *d = opendir(path);
    if (!d)
        return;
    char **names = NULL;
    int n = 0, ncap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "test_", 5))
            continue;
        if (n == ncap) {
            ncap = ncap ? ncap * 2 : 256;
            char **bigger = realloc(names, sizeof *names * (size_t)ncap);
            if (!bigger)
                break;
            names = bigger;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        char id[200];
        conf_fmt(id, sizeof id, "%s/%s", suite, names[i] ? names[i] : "");
        int match = n_filters == 0;
        for (int k = 0; k < n_filters; k++)
            match |= strstr(id, filters[k]) != NULL;
        if (names[i] && match) {
            if (n_tests == *cap) {
                *cap = *cap ? *cap * 2 : 1024;
                conf_test *bigger = realloc(tests, sizeof *tests * (size_t)*cap);
                if (!bigger)
                    break;
                tests = bigger;
            }
            conf_test *t = &tests[n_tests++];
            memset(t, 0, sizeof *t);
            conf_fmt(t->id, sizeof t->id, "%s", id);
            conf_fmt(t->dir, sizeof t->dir, "%s/%s", path, names[i]);
        }
        free(names[i]);
    }
    free(names);
}

/* ---- running one test (in the worker) ---- */

/* Compares got with want; returns 1 when every element is within tolerance. */
static int compare(const float *got, const float *want, int64_t n, int exact, double *maxerr,
                   char *why, size_t whylen, const char *oname)
{
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        int ok;
        if (isnan(w))
            ok = isnan(g);
        else if (isinf(w) || exact)
            ok = g == w;
        else
            ok = fabs(g - w) <= ATOL + RTOL * fabs(w);
        if (!isnan(g) && !isnan(w) && !isinf(w) && fabs(g - w) > *maxerr)
            *maxerr = fabs(g - w);
        if (!ok && bad++ == 0)
            first = i;
    }
    if (bad)
        conf_fmt(why, whylen, "output '%s'[%lld] = %.7g, expected %.7g (%lld of %lld beyond %s)",
                 oname, (long long)first, got[first], want[first], (long long)bad, (long long)n,
                 exact ? "exact" : "tolerance");
    return bad == 0;
}

/* Copies a ModelProto, turning the graph inputs names[0..n) into initializers: each is dropped
 * from graph.input and its TensorProto bytes tp[k] are appended as an initializer, followed by a
 * name field (the last name wins in protobuf, so a data file's own name is overridden). */
static void model_with_consts(const unsigned char *buf, size_t len, int n, const char **names,
                              const unsigned char **tp, const size_t *tplen, pbw *out)
{
    pbr mr = pbr_init(buf, len);
    pbfield f;
    const unsigned char *start = mr.p;
    while (pbr_next(&mr, &f)) {
        if (f.field != MODEL_GRAPH || f.wire_type != PB_LEN) {
            pbw_raw(out, start, (size_t)(mr.p - start));
            start = mr.p;
            continue;
        }
        pbw g = {0};
        pbr gr = pbr_sub(&f);
        pbfield h;
        const unsigned char *gstart = gr.p;
        while (pbr_next(&gr, &h)) {
            int drop = 0;
            if (h.field == GRAPH_INPUT && h.wire_type == PB_LEN) {
                conf_io io;
                parse_value_info(pbr_sub(&h), &io);
                for (int k = 0; k < n; k++)
                    drop |= !strcmp(io.name, names[k]);
            }
            if (!drop)
                pbw_raw(&g, gstart, (size_t)(gr.p - gstart));
            gstart = gr.p;
        }
        for (int k = 0; k < n; k++) {
            pbw t = {0};
            pbw_raw(&t, tp[k], tplen[k]);
            pbw_str(&t, TP_NAME, names[k]);
            pbw_msg(&g, GRAPH_INIT, &t);
            pbw_free(&t);
        }
        pbw_msg(out, MODEL_GRAPH, &g);
        pbw_free(&g);
        start = mr.p;
    }
}

typedef struct conf_set {
    int n_in, n_out;
    lumen_array in[MAX_IO], out[MAX_IO];
    int out_int[MAX_IO];
    const char *in_name[MAX_IO];
    unsigned char *raw[MAX_IO]; /* the .pb bytes of an input fed as an initializer, else NULL */
    size_t raw_len[MAX_IO];
} conf_set;

static void set_free(conf_set *s)
{
    for (int i = 0; i < s->n_in; i++) {
        free(s->in[i].data);
        free(s->raw[i]);
    }
    for (int i = 0; i < s->n_out; i++)
        free(s->out[i].data);
}

/* Reads input_i.pb and output_i.pb of one data set. Returns R_NONE or a result (+ why). */
static int set_read(const conf_test *t, const char *setdir, conf_set *s, char *why, size_t n)
{
    char path[700], err[LUMEN_ERR_MAX];
    struct stat st;
    for (int k = 0; k < MAX_IO; k++) {
        conf_fmt(path, sizeof path, "%s/input_%d.pb", setdir, k);
        if (stat(path, &st) != 0)
            break;
        int is_int = 0;
        lumen_status rc = lumen_onnx_read_tensor(path, &s->in[k], &is_int, err, sizeof err);
        if (rc != LUMEN_OK) {
            conf_fmt(why, n, "reading input_%d.pb: %s: %s", k, lumen_status_name(rc), err);
            return rc == LUMEN_EUNSUPPORTED ? R_SKIP : R_FAIL;
        }
        s->n_in = k + 1;
        /* The data file names its tensor; older files leave it empty and follow input order. */
        s->in_name[k] = k < t->n_in ? t->in[k].name : s->in[k].name;
        for (int i = 0; i < t->n_in; i++)
            if (s->in[k].name[0] && !strcmp(s->in[k].name, t->in[i].name))
                s->in_name[k] = t->in[i].name;
        for (int i = 0; i < t->n_in; i++)
            if (!strcmp(s->in_name[k], t->in[i].name) && is_const_input(&t->in[i]) &&
                !(s->raw[k] = read_file(path, &s->raw_len[k]))) {
                conf_fmt(why, n, "cannot read %s", path);
                return R_FAIL;
            }
    }
    for (int k = 0; k < MAX_IO; k++) {
        conf_fmt(path, sizeof path, "%s/output_%d.pb", setdir, k);
        if (stat(path, &st) != 0)
            break;
        lumen_status rc = lumen_onnx_read_tensor(path, &s->out[k], &s->out_int[k], err, sizeof err);
        if (rc != LUMEN_OK) {
            conf_fmt(why, n, "reading output_%d.pb: %s: %s", k, lumen_status_name(rc), err);
            return rc == LUMEN_EUNSUPPORTED ? R_SKIP : R_FAIL;
        }
        s->n_out = k + 1;
    }
    if (s->n_out == 0) {
        conf_fmt(why, n, "no output_0.pb");
        return R_SKIP;
    }
    return R_NONE;
}

/* Loads, runs and checks one data set. */
static int run_set(lumen_ctx *ctx, conf_test *t, const char *setdir, char *why, size_t n)
{
    conf_set s;
    memset(&s, 0, sizeof s);
    lumen_model *m = NULL;
    lumen_graph *g = NULL;
    char err[LUMEN_ERR_MAX], path[700], sa[96], sb[96];
    int res = set_read(t, setdir, &s, why, n);
    if (res != R_NONE)
        goto done;

    lumen_onnx_input_shape shapes[MAX_IO];
    const char *cnames[MAX_IO];
    const unsigned char *craw[MAX_IO];
    size_t clen[MAX_IO];
    int n_shapes = 0, n_consts = 0;
    for (int k = 0; k < s.n_in; k++) {
        if (s.raw[k]) {
            cnames[n_consts] = s.in_name[k];
            craw[n_consts] = s.raw[k];
            clen[n_consts++] = s.raw_len[k];
        } else {
            shapes[n_shapes].name = s.in_name[k];
            shapes[n_shapes++].shape = s.in[k].shape;
        }
    }
    lumen_onnx_options opt = {0};
    opt.n_shapes = n_shapes;
    opt.shapes = n_shapes ? shapes : NULL;
    conf_fmt(path, sizeof path, "%s/model.onnx", t->dir);
    err[0] = 0;
    lumen_status rc;
    if (n_consts == 0) {
        rc = lumen_onnx_load(path, &opt, &g, NULL, err, sizeof err);
    } else {
        size_t len = 0;
        unsigned char *buf = read_file(path, &len);
        pbw mw = {0};
        if (buf)
            model_with_consts(buf, len, n_consts, cnames, craw, clen, &mw);
        rc = buf && !mw.oom
                 ? lumen_onnx_load_buffer(mw.data, mw.len, &opt, &g, NULL, err, sizeof err)
                 : LUMEN_ENOMEM;
        free(buf);
        pbw_free(&mw);
    }
    if (rc != LUMEN_OK) {
        res = rc == LUMEN_EUNSUPPORTED ? R_SKIP : R_FAIL;
        conf_fmt(why, n, "%s%s: %s", res == R_FAIL ? "load: " : "", lumen_status_name(rc), err);
        goto done;
    }
    rc = lumen_model_new(ctx, g, NULL, &m);
    if (rc != LUMEN_OK) {
        res = rc == LUMEN_EUNSUPPORTED ? R_SKIP : R_FAIL;
        conf_fmt(why, n, "model: %s: %s", lumen_status_name(rc), lumen_ctx_error(ctx));
        goto done;
    }
    for (int k = 0; k < s.n_in; k++) {
        lumen_tensor *x = s.raw[k] ? NULL : lumen_model_tensor(m, s.in_name[k]);
        if (!x)
            continue; /* an initializer now, or an input the graph does not use */
        if (!lumen_shape_equal(lumen_tensor_shape(x), &s.in[k].shape)) {
            conf_fmt(why, n, "input '%s' has shape %s, data %s", s.in_name[k],
                     lumen_shape_format(lumen_tensor_shape(x), sa, sizeof sa),
                     lumen_shape_format(&s.in[k].shape, sb, sizeof sb));
            res = R_FAIL;
            goto done;
        }
        rc = lumen_tensor_write(x, s.in[k].data, (size_t)lumen_shape_numel(&s.in[k].shape));
        if (rc != LUMEN_OK) {
            conf_fmt(why, n, "write '%s': %s: %s", s.in_name[k], lumen_status_name(rc),
                     lumen_ctx_error(ctx));
            res = R_FAIL;
            goto done;
        }
    }
    rc = lumen_model_run(m);
    if (rc != LUMEN_OK) {
        conf_fmt(why, n, "run: %s: %s", lumen_status_name(rc), lumen_ctx_error(ctx));
        res = R_FAIL;
        goto done;
    }
    res = R_PASS;
    for (int k = 0; k < s.n_out; k++) {
        const char *oname = k < t->n_out ? t->out[k].name : "";
        lumen_tensor *y = oname[0] ? lumen_model_tensor(m, oname) : NULL;
        if (!y)
            y = lumen_model_output(m, k);
        if (!y) {
            conf_fmt(why, n, "model has no output '%s' (#%d)", oname, k);
            res = R_FAIL;
            goto done;
        }
        if (!lumen_shape_equal(lumen_tensor_shape(y), &s.out[k].shape)) {
            conf_fmt(why, n, "output '%s' has shape %s, expected %s", oname,
                     lumen_shape_format(lumen_tensor_shape(y), sa, sizeof sa),
                     lumen_shape_format(&s.out[k].shape, sb, sizeof sb));
            res = R_FAIL;
            goto done;
        }
        int64_t numel = lumen_shape_numel(&s.out[k].shape);
        float *got = malloc(sizeof *got * (size_t)(numel > 0 ? numel : 1));
        rc = got ? lumen_tensor_read(y, got, (size_t)numel) : LUMEN_ENOMEM;
        if (rc != LUMEN_OK) {
            conf_fmt(why, n, "read '%s': %s: %s", oname, lumen_status_name(rc),
                     lumen_ctx_error(ctx));
            free(got);
            res = R_FAIL;
            goto done;
        }
        int ok = compare(got, s.out[k].data, numel, s.out_int[k], &t->maxerr, why, n, oname);
        free(got);
        if (!ok) {
            res = R_FAIL;
            goto done;
        }
    }
done:
    lumen_model_free(m); /* lumen_model_new owns g in every case; a failed load leaves none */
    set_free(&s);
    return res;
}

static int run_test(lumen_ctx *ctx, conf_test *t)
{
    char setdir[600];
    int res = R_PASS;
    t->maxerr = 0;
    t->reason[0] = 0;
    for (int k = 0; k < t->n_sets && res == R_PASS; k++) {
        conf_fmt(setdir, sizeof setdir, "%s/test_data_set_%d", t->dir, k);
        res = run_set(ctx, t, setdir, t->reason, sizeof t->reason);
        if (res == R_FAIL && t->n_sets > 1) {
            char tmp[sizeof t->reason];
            conf_fmt(tmp, sizeof tmp, "set %d: %s", k, t->reason);
            memcpy(t->reason, tmp, sizeof tmp);
        }
    }
    return res;
}

/* ---- worker process and its protocol: "S i" when test i starts, "R i res maxerr ms why" ---- */

static void put_line(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        s += k;
        n -= (size_t)k;
    }
}

static int worker(int from, int fd)
{
    char err[LUMEN_ERR_MAX], line[1024];
    lumen_ctx *ctx = NULL;
    lumen_status rc = lumen_ctx_new(NULL, &ctx, err, sizeof err);
    if (rc != LUMEN_OK) {
        for (char *p = err; *p; p++)
            if (*p == '\n')
                *p = ' ';
        conf_fmt(line, sizeof line, "X %s: %s\n", lumen_status_name(rc), err);
        put_line(fd, line);
        return 1;
    }
    for (int i = from; i < n_tests; i++) {
        conf_test *t = &tests[i];
        if (t->result != R_NONE)
            continue;
        conf_fmt(line, sizeof line, "S %d\n", i);
        put_line(fd, line);
        double t0 = now_ms();
        int res = run_test(ctx, t);
        for (char *p = t->reason; *p; p++)
            if (*p == '\n' || *p == '\t' || *p == '\r')
                *p = ' ';
        conf_fmt(line, sizeof line, "R %d %d %.3g %.1f %s\n", i, res, t->maxerr, now_ms() - t0,
                 t->reason);
        put_line(fd, line);
    }
    close(fd);
    return lumen_ctx_free(ctx) == LUMEN_OK ? 0 : 1;
}

/* Handles one protocol line; returns the index of a test now started (S), -1 when one ended
 * (R), -2 on a fatal worker error (X). */
static int handle_line(char *line, int *fatal)
{
    if (line[0] == 'S')
        return atoi(line + 2);
    if (line[0] == 'X') {
        fprintf(stderr, "onnx_conformance: no device: %s\n", line + 2);
        *fatal = 1;
        return -2;
    }
    if (line[0] != 'R')
        return -1;
    char *p = line + 2, *end;
    long i = strtol(p, &end, 10);
    if (i < 0 || i >= n_tests)
        return -1;
    conf_test *t = &tests[i];
    t->result = (int)strtol(end, &end, 10);
    t->maxerr = strtod(end, &end);
    t->ms = strtod(end, &end);
    if (*end == ' ')
        end++;
    conf_fmt(t->reason, sizeof t->reason, "%s", end);
    if (t->result < R_PASS || t->result > R_SKIP) {
        t->result = R_FAIL;
        conf_fmt(t->reason, sizeof t->reason, "worker sent a bad result line");
    }
    conf_print_result(t);
    return -1;
}

/* Runs every pending test in worker processes; returns the number of workers that exited
 * unsuccessfully after finishing their tests (a leak or sanitizer report), or -1 when no worker
 * could start (no device). */
static int run_all(double timeout_ms)
{
    int from = 0, bad_exits = 0;
    while (from < n_tests) {
        while (from < n_tests && tests[from].result != R_NONE)
            from++;
        if (from >= n_tests)
            break;
        int fds[2];
        if (pipe(fds) != 0) {
            perror("pipe");
            return -1;
        }
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return -1;
        }
        if (pid == 0) {
            close(fds[0]);
            exit(worker(from, fds[1]));
        }
        close(fds[1]);
        char buf[8192];
        size_t have = 0;
        int cur = -1, fatal = 0, timed_out = 0;
        double started = now_ms();
        for (;;) {
            double left = timeout_ms - (now_ms() - started);
            struct pollfd pfd = {fds[0], POLLIN, 0};
            int pr = left > 0 ? poll(&pfd, 1, (int)left + 1) : 0;
            if (pr < 0 && errno == EINTR)
                continue;
            if (pr == 0) {
                timed_out = 1;
                kill(pid, SIGKILL);
                break;
            }
            ssize_t k = read(fds[0], buf + have, sizeof buf - 1 - have);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                break;
            have += (size_t)k;
            buf[have] = 0;
            char *line = buf, *nl;
            while ((nl = strchr(line, '\n')) != NULL) {
                *nl = 0;
                int r = handle_line(line, &fatal);
                if (r >= 0) {
                    cur = r;
                    started = now_ms();
                } else if (r == -1 && line[0] == 'R') {
                    cur = -1;
                    started = now_ms();
                }
                line = nl + 1;
            }
            have = strlen(line);
            memmove(buf, line, have);
            if (have == sizeof buf - 1)
                have = 0; /* an overlong line: drop it */
        }
        close(fds[0]);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (fatal)
            return -1;
        if (cur >= 0) {
            conf_test *t = &tests[cur];
            t->result = R_FAIL;
            t->ms = now_ms() - started;
            if (timed_out)
                conf_fmt(t->reason, sizeof t->reason, "timeout after %.0f s (worker killed)",
                         timeout_ms / 1e3);
            else if (WIFSIGNALED(st))
                conf_fmt(t->reason, sizeof t->reason, "crashed: signal %d (%s)", WTERMSIG(st),
                         strsignal(WTERMSIG(st)));
            else
                conf_fmt(t->reason, sizeof t->reason, "worker exited with status %d",
                         WIFEXITED(st) ? WEXITSTATUS(st) : -1);
            conf_print_result(t);
            from = cur + 1;
        } else if (timed_out) {
            fprintf(stderr, "onnx_conformance: worker stalled between tests; restarting\n");
            bad_exits++;
        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "onnx_conformance: worker exited with status %d (signal %d)\n",
                    WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
            bad_exits++;
        }
        if (bad_exits > 3)
            return bad_exits;
    }
    return bad_exits;
}

int main(int argc, char **argv)
{
    const char *root = getenv("LUMEN_ONNX_TESTDATA");
    if (!root || !*root)
        root = "/usr/share/libonnx-testdata/data";
    const char *tmo = getenv("LUMEN_CONF_TIMEOUT");
    double timeout_ms = (tmo && atof(tmo) > 0 ? atof(tmo) : 120.0) * 1e3;
    char **filters = calloc((size_t)argc + 1, sizeof *filters);
    int n_filters = 0, cap = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v"))
            verbose = 1;
        else
            filters[n_filters++] = argv[i];
    }
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("onnx_conformance: no test data at %s (Debian package libonnx-testdata); "
               "skipped\n",
               root);
        free(filters);
        return 77;
    }
    double t0 = now_ms();
    static const char *suites[] = {"node", "pytorch-converted", "pytorch-operator"};
    for (int s = 0; s < 3; s++)
        collect_suite(root, suites[s], filters, n_filters, &cap);
    free(filters);
    if (n_tests == 0) {
        printf("onnx_conformance: no tests matched\n");
        free(tests);
        return 1;
    }

    /* Known op types (from every model) name the tests that are about one op. */
    char(*known)[48] = calloc((size_t)n_tests * MAX_OPS, sizeof *known);
    int n_known = 0, parse_failed = 0;
    for (int i = 0; i < n_tests; i++) {
        conf_test *t = &tests[i];
        t->n_sets = count_sets(t->dir);
        if (parse_model(t) != 0) {
            t->result = R_FAIL;
            conf_fmt(t->reason, sizeof t->reason, "the test's model.onnx did not parse");
            parse_failed++;
        }
        for (int k = 0; known && k < t->n_ops; k++) {
            int seen = 0;
            for (int j = 0; j < n_known && !seen; j++)
                seen = !strcmp(known[j], t->ops[k]);
            if (!seen)
                strcpy(known[n_known++], t->ops[k]);
        }
    }
    for (int i = 0; i < n_tests; i++) {
        conf_test *t = &tests[i];
        make_label(t, known, known ? n_known : 0);
        if (t->result == R_NONE && precheck(t)) {
            t->result = R_SKIP;
            if (verbose)
                conf_print_result(t);
        }
    }
    free(known);
    int pre_skipped = 0;
    for (int i = 0; i < n_tests; i++)
        pre_skipped += tests[i].result == R_SKIP;
    printf("onnx_conformance: %d tests under %s (%d skipped before running), rtol %g atol %g, "
           "timeout %.0f s per test\n",
           n_tests, root, pre_skipped, RTOL, ATOL, timeout_ms / 1e3);
    fflush(stdout);

    int bad = run_all(timeout_ms);
    if (bad < 0) {
        free(tests);
        return 1;
    }
    int unmapped = conf_summarize(tests, n_tests, now_ms() - t0);
    int failed = 0;
    for (int i = 0; i < n_tests; i++)
        failed += tests[i].result == R_FAIL;
    if (bad)
        printf("onnx_conformance: %d worker(s) exited unsuccessfully (see their reports above)\n",
               bad);
    if (unmapped)
        printf("onnx_conformance: %d skipped test(s) without a skip category (listed above)\n",
               unmapped);
    free(tests);
    return failed || bad || parse_failed || unmapped ? 1 : 0;
}
