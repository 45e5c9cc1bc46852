/*
 * test_runtime.c - the runtime's own contracts, apart from op numerics: device selection,
 * error paths (bad shapes, failing kernel builds, oversize allocations, use while busy), the
 * on-disk program cache (miss, hit, corrupt entry rebuilt) and binary-only mode.
 * One line per check; exits non-zero when any check fails.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "lumen.h"

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* Runs relu on a small tensor; returns the status. */
static lumen_status run_relu(lumen_ctx *ctx)
{
    lumen_shape s = {2, {3, 5}};
    lumen_tensor *x = NULL, *y = NULL;
    float in[15], out[15];
    for (int i = 0; i < 15; i++)
        in[i] = (float)i - 7;
    lumen_opdesc d = lumen_opdesc_unary(LUMEN_ACT_RELU);
    lumen_status st = lumen_tensor_new(ctx, "x", &s, &x);
    if (!st)
        st = lumen_tensor_new(ctx, "y", &s, &y);
    if (!st)
        st = lumen_tensor_write(x, in, 15);
    const lumen_tensor *ins[] = {x};
    if (!st)
        st = lumen_op_run(ctx, &d, 1, ins, y);
    if (!st)
        st = lumen_tensor_read(y, out, 15);
    for (int i = 0; !st && i < 15; i++)
        if (out[i] != (in[i] > 0 ? in[i] : 0))
            st = LUMEN_ERANGE;
    lumen_tensor_free(x);
    lumen_tensor_free(y);
    return st;
}

static void test_devices(void)
{
    char err[LUMEN_ERR_MAX];
    lumen_device_info infos[16], sel;
    int n = 0;
    lumen_status st = lumen_devices(infos, 16, &n, err, sizeof err);
    CHECK(st == LUMEN_OK && n >= 1, "lumen_devices lists %d device(s)", n);
    CHECK(lumen_device_select("0:0", &sel, err, sizeof err) == LUMEN_OK, "select by index 0:0");
    CHECK(lumen_device_select("cpu", &sel, err, sizeof err) == LUMEN_OK ||
              infos[0].type != LUMEN_DEV_CPU,
          "select by type 'cpu'");
    st = lumen_device_select("no-such-device-xyz", &sel, err, sizeof err);
    CHECK(st == LUMEN_ENODEV && strstr(err, "no-such-device-xyz"), "unknown selector -> %s: %s",
          lumen_status_name(st), err);
    st = lumen_device_select("9:9", &sel, err, sizeof err);
    CHECK(st == LUMEN_ENODEV, "out-of-range index 9:9 -> %s", lumen_status_name(st));
}

static void test_errors(lumen_ctx *ctx)
{
    char err[LUMEN_ERR_MAX];
    lumen_shape s = {2, {3, 5}}, s2 = {2, {5, 3}};
    lumen_tensor *x = NULL, *y = NULL, *big = NULL, *v = NULL;
    lumen_opdesc d = lumen_opdesc_unary(LUMEN_ACT_RELU);
    lumen_tensor_new(ctx, "x", &s, &x);
    lumen_tensor_new(ctx, "y", &s2, &y);
    const lumen_tensor *ins[] = {x};
    lumen_status st = lumen_op_run(ctx, &d, 1, ins, y);
    CHECK(st == LUMEN_ESHAPE && strstr(lumen_ctx_error(ctx), "[3,5]"),
          "wrong output shape -> %s: %s", lumen_status_name(st), lumen_ctx_error(ctx));
    st = lumen_op_run(ctx, &d, 0, ins, y);
    CHECK(st == LUMEN_EINVAL, "wrong input count -> %s: %s", lumen_status_name(st),
          lumen_ctx_error(ctx));
    lumen_opdesc b = {.op = LUMEN_OP_BINARY};
    lumen_shape a1 = {1, {4}}, a2 = {1, {3}}, o;
    const lumen_shape *bs[] = {&a1, &a2};
    st = lumen_op_shape(&b, 2, bs, &o, err);
    CHECK(st == LUMEN_ESHAPE, "non-broadcastable shapes -> %s: %s", lumen_status_name(st), err);
    lumen_opdesc bad = {.op = (lumen_op)999};
    st = lumen_op_shape(&bad, 1, bs, &o, err);
    CHECK(st == LUMEN_EUNSUPPORTED, "unknown op -> %s: %s", lumen_status_name(st), err);
    float buf[15] = {0};
    st = lumen_tensor_write(x, buf, 14);
    CHECK(st == LUMEN_ESHAPE, "write with wrong count -> %s", lumen_status_name(st));
    lumen_shape huge = {4, {1 << 20, 1 << 20, 1 << 20, 1 << 20}};
    st = lumen_tensor_new(ctx, "huge", &huge, &big);
    CHECK(st == LUMEN_ERANGE && !big, "2^80-element tensor -> %s: %s", lumen_status_name(st),
          lumen_ctx_error(ctx));
    const lumen_device_info *di = lumen_ctx_device(ctx);
    lumen_shape over = {1, {(int64_t)(di->max_alloc / 4) + 1024}};
    if (over.d[0] > 0x7fffffff)
        over.d[0] = 0x7fffffff; /* beyond INT_MAX elements: also rejected, as ERANGE */
    st = lumen_tensor_new(ctx, "over", &over, &big);
    CHECK(st == LUMEN_ERANGE && !big, "allocation above the device's max (%llu bytes) -> %s: %s",
          (unsigned long long)di->max_alloc, lumen_status_name(st), lumen_ctx_error(ctx));
    lumen_shape neg = {1, {-3}};
    st = lumen_tensor_new(ctx, "neg", &neg, &big);
    CHECK(st == LUMEN_ERANGE, "negative extent -> %s", lumen_status_name(st));
    st = lumen_tensor_view(x, "v", 10, &s, &v);
    CHECK(st == LUMEN_ERANGE && !v, "view past the end -> %s: %s", lumen_status_name(st),
          lumen_ctx_error(ctx));
    st = lumen_ctx_free(ctx);
    CHECK(st == LUMEN_EBUSY, "ctx_free with live tensors -> %s: %s", lumen_status_name(st),
          lumen_ctx_error(ctx));
    lumen_tensor_free(x);
    lumen_tensor_free(y);
    lumen_tensor_free(NULL);
    CHECK(lumen_ctx_free(NULL) == LUMEN_OK, "free(NULL) is a no-op");
}

static void test_build_failure(void)
{
    char err[LUMEN_ERR_MAX], kdir[300], path[400];
    path_in(kdir, sizeof kdir, "kernels");
    mkdir(kdir, 0755);
    snprintf(path, sizeof path, "%s/common.cl", kdir);
    write_text(path, "/* empty */\n");
    snprintf(path, sizeof path, "%s/eltwise.cl", kdir);
    write_text(path,
               "__kernel void unary_f32(__global float *x)\n{\n    x[0] = undefined_name;\n}\n");
    setenv("LUMEN_KERNEL_DIR", kdir, 1);
    lumen_ctx_options o = {.cache_dir = ""};
    lumen_ctx *ctx = NULL;
    lumen_status st = lumen_ctx_new_opts(NULL, &o, &ctx, err, sizeof err);
    if (st == LUMEN_OK) {
        st = run_relu(ctx);
        const char *m = lumen_ctx_error(ctx);
        CHECK(st == LUMEN_EBUILD && strstr(m, "eltwise.cl:3"),
              "broken kernel source -> %s, log names eltwise.cl:3: %.120s", lumen_status_name(st),
              m);
        lumen_ctx_free(ctx);
    } else
        CHECK(0, "context for build-failure test: %s", err);
    snprintf(path, sizeof path, "%s/eltwise.cl", kdir);
    remove(path);
    lumen_ctx_new_opts(NULL, &o, &ctx, err, sizeof err);
    st = run_relu(ctx);
    CHECK(st == LUMEN_EIO && strstr(lumen_ctx_error(ctx), "eltwise.cl"),
          "missing kernel file -> %s: %s", lumen_status_name(st), lumen_ctx_error(ctx));
    lumen_ctx_free(ctx);
    unsetenv("LUMEN_KERNEL_DIR");
}

/* Counts the files in dir ending in ".bin" and remembers one's path. */
static int cache_files(const char *dir, char *one, size_t n)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s/*.bin 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    int count = 0;
    char line[512];
    while (p && fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        if (count++ == 0)
            snprintf(one, n, "%s", line);
    }
    if (p)
        pclose(p);
    return count;
}

static void test_cache(void)
{
    char err[LUMEN_ERR_MAX], dir[300], entry[512] = "";
    path_in(dir, sizeof dir, "cache/nested");
    lumen_ctx_options o = {.cache_dir = dir};
    lumen_cache_stats s;
    lumen_ctx *ctx = NULL;

    lumen_ctx_new_opts(NULL, &o, &ctx, err, sizeof err);
    lumen_status st = run_relu(ctx);
    lumen_ctx_cache_stats(ctx, &s);
    CHECK(st == LUMEN_OK && s.disk_misses == 1 && s.disk_hits == 0,
          "cold cache: relu ran, %d miss, %d hit", s.disk_misses, s.disk_hits);
    lumen_ctx_free(ctx);
    int files = cache_files(dir, entry, sizeof entry);
    CHECK(files == 1, "one cache entry written (%d)", files);

    lumen_ctx_new_opts(NULL, &o, &ctx, err, sizeof err);
    st = run_relu(ctx);
    lumen_ctx_cache_stats(ctx, &s);
    CHECK(st == LUMEN_OK && s.disk_hits == 1 && s.disk_misses == 0, "warm cache: %d hit, %d miss",
          s.disk_hits, s.disk_misses);
    lumen_ctx_free(ctx);

    /* corrupt the entry: flip bytes in the binary part */
    FILE *f = fopen(entry, "r+b");
    if (f) {
        fseek(f, -16, SEEK_END);
        fputs("garbagegarbage!!", f);
        fclose(f);
    }
    lumen_ctx_new_opts(NULL, &o, &ctx, err, sizeof err);
    st = run_relu(ctx);
    lumen_ctx_cache_stats(ctx, &s);
    CHECK(st == LUMEN_OK && s.disk_rejected == 1 && s.disk_misses == 1,
          "corrupt entry: rejected %d, rebuilt %d, relu still right", s.disk_rejected,
          s.disk_misses);
    lumen_ctx_free(ctx);

    /* truncate it */
    if (truncate(entry, 10) != 0)
        perror("truncate");
    lumen_ctx_new_opts(NULL, &o, &ctx, err, sizeof err);
    st = run_relu(ctx);
    lumen_ctx_cache_stats(ctx, &s);
    CHECK(st == LUMEN_OK && s.disk_rejected == 1, "truncated entry: rejected %d, relu right",
          s.disk_rejected);
    lumen_ctx_free(ctx);

    /* after the rewrite, warm again */
    lumen_ctx_new_opts(NULL, &o, &ctx, err, sizeof err);
    st = run_relu(ctx);
    lumen_ctx_cache_stats(ctx, &s);
    CHECK(st == LUMEN_OK && s.disk_hits == 1, "entry rewritten atomically: %d hit", s.disk_hits);
    lumen_ctx_free(ctx);
}

static void test_binary_only(void)
{
    char err[LUMEN_ERR_MAX], kfile[300], cdir[300];
    path_in(kfile, sizeof kfile, "kernels.bin");
    path_in(cdir, sizeof cdir, "cache2");
    lumen_ctx_options o = {.cache_dir = cdir, .kernels = ""};
    lumen_ctx *ctx = NULL;
    lumen_ctx_new_opts(NULL, &o, &ctx, err, sizeof err);
    lumen_status st = lumen_ctx_compile_all(ctx, kfile);
    CHECK(st == LUMEN_OK, "compile_all -> %s %s", lumen_status_name(st), lumen_ctx_error(ctx));
    lumen_ctx_free(ctx);

    setenv("LUMEN_KERNEL_DIR", "/nonexistent", 1); /* proves no source is read */
    lumen_ctx_options b = {.cache_dir = "", .kernels = kfile};
    st = lumen_ctx_new_opts(NULL, &b, &ctx, err, sizeof err);
    CHECK(st == LUMEN_OK, "context from kernels file: %s", err);
    if (st == LUMEN_OK) {
        lumen_cache_stats s;
        st = run_relu(ctx);
        lumen_ctx_cache_stats(ctx, &s);
        CHECK(st == LUMEN_OK && s.binary_file == 1 && s.disk_misses == 0,
              "binary-only relu: %s, %d program(s) from the file, %d compiled",
              lumen_status_name(st), s.binary_file, s.disk_misses);
        lumen_ctx_free(ctx);
    }
    unsetenv("LUMEN_KERNEL_DIR");

    /* a file for another device: patch the device name */
    FILE *f = fopen(kfile, "r+b");
    if (f) {
        fseek(f, 16, SEEK_SET);
        fputc('#', f);
        fclose(f);
    }
    st = lumen_ctx_new_opts(NULL, &b, &ctx, err, sizeof err);
    CHECK(st == LUMEN_EINVAL && strstr(err, "compiled for"),
          "kernels file of another device -> %s: %s", lumen_status_name(st), err);
    if (truncate(kfile, 30) != 0)
        perror("truncate");
    st = lumen_ctx_new_opts(NULL, &b, &ctx, err, sizeof err);
    CHECK(st == LUMEN_EFORMAT, "truncated kernels file -> %s: %s", lumen_status_name(st), err);
    char missing[320];
    path_in(missing, sizeof missing, "missing.bin");
    b.kernels = missing;
    st = lumen_ctx_new_opts(NULL, &b, &ctx, err, sizeof err);
    CHECK(st == LUMEN_EIO, "missing kernels file -> %s: %s", lumen_status_name(st), err);
}

/* The op schemas (runtime/params.c): defaults, validation, and the constructors built on them. */
static void test_params(void)
{
    char err[LUMEN_ERR_MAX];
    lumen_opdesc d = lumen_opdesc_conv2d(1, 1, 1, 1, LUMEN_ACT_HARDSIGMOID);
    CHECK(d.p.conv.act.a == 1.0f / 6 && d.p.conv.act.b == 0.5f,
          "conv2d fused hardsigmoid gets PyTorch's a = 1/6, b = 0.5 (got %g, %g)", d.p.conv.act.a,
          d.p.conv.act.b);
    d = lumen_opdesc_default(LUMEN_OP_POOL);
    CHECK(d.p.pool.nsp == 2 && d.p.pool.k[1] == 2 && d.p.pool.stride[1] == 2 &&
              d.p.pool.dil[0] == 1,
          "pool defaults: nsp 2, kernel 2, stride = kernel, dilation 1");
    d = lumen_opdesc_default(LUMEN_OP_SOFTMAX);
    CHECK(d.p.axes.axis == 1 && d.p.axes.axis_end == 2, "softmax defaults: axes [1, 2)");
    for (int op = 0; op < LUMEN_OP_COUNT; op++) {
        int n, required = 0, unique = 1;
        const lumen_param *ps = lumen_op_params((lumen_op)op, &n);
        for (int i = 0; i < n; i++) {
            required |= ps[i].flags & LUMEN_PARAM_REQUIRED;
            for (int j = 0; j < i; j++)
                unique &= strcmp(ps[i].name, ps[j].name) != 0;
        }
        d = lumen_opdesc_default((lumen_op)op);
        lumen_status st = lumen_opdesc_check(&d, err);
        CHECK(ps && unique && (required || st == LUMEN_OK),
              "%s: %d parameters, names unique, defaults %s", lumen_op_name((lumen_op)op), n,
              required ? "need the required ones" : "pass the check");
    }
    d = lumen_opdesc_conv2d(1, 0, 1, 0, LUMEN_ACT_NONE);
    lumen_status st = lumen_opdesc_check(&d, err);
    CHECK(st == LUMEN_EINVAL && strstr(err, "'groups'"), "conv groups 0 -> %s: %s",
          lumen_status_name(st), err);
    d = lumen_opdesc_default(LUMEN_OP_POOL);
    d.p.pool.pad1[1] = -1;
    st = lumen_opdesc_check(&d, err);
    CHECK(st == LUMEN_EINVAL && strstr(err, "'pads' entry 3"), "pool end pad -1 -> %s: %s",
          lumen_status_name(st), err);
    d = lumen_opdesc_unary(LUMEN_ACT_CLIP);
    d.p.unary.act.a = 1;
    st = lumen_opdesc_check(&d, err);
    CHECK(st == LUMEN_EINVAL, "clip min 1 > max 0 -> %s: %s", lumen_status_name(st), err);
    d = lumen_opdesc_default(LUMEN_OP_BINARY);
    d.p.binary.kind = LUMEN_BIN_COUNT;
    st = lumen_opdesc_check(&d, err);
    CHECK(st == LUMEN_EINVAL && strstr(err, "'kind'"), "binary kind out of range -> %s: %s",
          lumen_status_name(st), err);
    const lumen_param *p = lumen_op_param(LUMEN_OP_CONV, "pads");
    d = lumen_opdesc_default(LUMEN_OP_CONV);
    lumen_param_set(p, &d, 3, 7); /* nsp 2: begins 0, 1, ends 2, 3 */
    CHECK(p && lumen_param_count(p, &d) == 4 && d.p.conv.pad1[1] == 7 && d.p.conv.pad0[1] == 0,
          "conv 'pads' entry 3 is the end pad of axis 1");
}

/* runtime/sys.c's converters, behind fp16 tensors' host writes and reads */
float lumen__half_to_float(uint16_t h);
uint16_t lumen__float_to_half(float f);

/* A model whose integers half cannot hold exactly (beyond 2048) is refused in fp16, on any
 * device, naming the node and suggesting fp32; the same graph loads in fp32. */
static void test_half_indices(lumen_ctx *ctx)
{
    for (int which = 0; which < 2; which++) {
        lumen_precision precs[2] = {LUMEN_FP16, LUMEN_FP32};
        for (int k = 0; k < 2; k++) {
            lumen_graph *g = lumen_graph_new();
            int x = lumen_graph_input(g, "x", &(lumen_shape){2, {2, 3000}}), y;
            if (which == 0) { /* topk indices along an axis of 3000 */
                lumen_opdesc d = {.op = LUMEN_OP_TOPK};
                d.p.topk = (lumen_topk_params){1, 2, 1, 1};
                y = lumen_graph_op(g, "top", &d, 1, &x);
            } else { /* a constant take index of 2999 */
                float idx[2] = {0, 2999};
                int iv = lumen_graph_const(g, "idx", &(lumen_shape){1, {2}}, idx);
                lumen_opdesc d = {.op = LUMEN_OP_TAKE};
                int in[2] = {x, iv};
                y = lumen_graph_op(g, "take", &d, 2, in);
            }
            lumen_graph_output(g, "y", y);
            lumen_model_options o = {.precision = precs[k]};
            lumen_model *m = NULL;
            lumen_status st = lumen_model_new(ctx, g, &o, &m);
            const char *e = lumen_ctx_error(ctx);
            if (k == 0)
                CHECK(st == LUMEN_EUNSUPPORTED && strstr(e, which ? "'take'" : "'top'") &&
                          strstr(e, which ? "index 2999" : "axis of 3000") && strstr(e, "use fp32"),
                      "fp16 model with %s refused: %s", which ? "take index 2999" : "topk indices",
                      e);
            else
                CHECK(st == LUMEN_OK, "the same graph in fp32: %s", st ? e : "ok");
            lumen_model_free(m);
        }
    }
}

/*
 * The host's float <-> half conversion against the compiler's _Float16 (GCC 12 on x86-64
 * converts with F16C or soft-float, both IEEE round to nearest even): every one of the 65536
 * halves widens to the same float and narrows back to itself (NaNs: to a NaN), and floats
 * around every half boundary (ties, subnormals, the overflow edge near 65520, below the
 * smallest subnormal) narrow as _Float16 does. Then fp16 tensors round-trip through
 * lumen_tensor_write / read / fill the same way, and the public precision helpers.
 */
static void test_half(lumen_ctx *ctx)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536 && bad < 5; h++) {
        float f = lumen__half_to_float((uint16_t)h);
        _Float16 c;
        uint16_t cb = (uint16_t)h;
        memcpy(&c, &cb, 2);
        int nan = (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu);
        if (nan ? !isnan(f) || !(lumen__float_to_half(f) & 0x3ffu)
                : (f != (float)c || lumen__float_to_half(f) != h))
            bad++, printf("  half 0x%04x -> %g (compiler %g)\n", (unsigned)h, f, (float)c);
    }
    CHECK(bad == 0, "all 65536 halves widen exactly and narrow back to themselves");
    bad = 0;
    uint64_t s = 88172645463325252ull;
    for (int i = 0; i < 2000000 && bad < 5; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        uint32_t u = (uint32_t)s;
        if (i % 4 == 0) /* near a half boundary: low 13 bits 0x1000 +- 1 */
            u = (u & ~0x1fffu) | (0x1000u + (uint32_t)(s >> 40) % 3 - 1);
        if (i % 8 == 1) /* small exponents: subnormal halves and underflow */
            u = (u & 0x807fffffu) | ((uint32_t)(95 + (s >> 50) % 20) << 23);
        float f;
        memcpy(&f, &u, 4);
        if (isnan(f))
            continue;
        _Float16 c = (_Float16)f;
        uint16_t cb;
        memcpy(&cb, &c, 2);
        if (lumen__float_to_half(f) != cb)
            bad++, printf("  float %.9g (0x%08x) -> 0x%04x, compiler 0x%04x\n", f, u,
                          lumen__float_to_half(f), cb);
    }
    CHECK(bad == 0, "2e6 floats (ties, subnormals, overflow) narrow as _Float16 does");
    const float v[] = {1.0f, 0.1f, -65504.0f, 65520.0f, 3e-8f, NAN, -INFINITY, 1234.5f};
    float back[8], filled[3];
    lumen_shape sh = {1, {8}}, s3 = {1, {3}};
    lumen_tensor *t = NULL, *u = NULL;
    CHECK(lumen_tensor_new_prec(ctx, "h", &sh, LUMEN_FP16, &t) == LUMEN_OK &&
              lumen_tensor_write(t, v, 8) == LUMEN_OK && lumen_tensor_read(t, back, 8) == LUMEN_OK,
          "fp16 tensor write / read");
    bad = 0;
    for (int i = 0; i < 8; i++) {
        float want = lumen__half_to_float(lumen__float_to_half(v[i]));
        bad += isnan(want) ? !isnan(back[i]) : back[i] != want;
    }
    CHECK(bad == 0, "fp16 tensor holds the half rounding of what was written (inf, NaN kept)");
    CHECK(lumen_tensor_new_prec(ctx, "u", &s3, LUMEN_FP16, &u) == LUMEN_OK &&
              lumen_tensor_fill(u, 0.1f) == LUMEN_OK &&
              lumen_tensor_read(u, filled, 3) == LUMEN_OK &&
              filled[2] == lumen__half_to_float(lumen__float_to_half(0.1f)),
          "fp16 tensor fill rounds once (%g)", filled[2]);
    char buf[64];
    CHECK(lumen_tensor_precision(t) == LUMEN_FP16 &&
              !strcmp(lumen_tensor_format(t, buf, sizeof buf), "h f16[8]"),
          "precision and format of an fp16 tensor (%s)", buf);
    lumen_precision p = LUMEN_FP32;
    CHECK(lumen_precision_parse("fp16", &p) == LUMEN_OK && p == LUMEN_FP16 &&
              lumen_precision_parse("fp8", &p) == LUMEN_EINVAL &&
              lumen_precision_size(LUMEN_FP16) == 2 && lumen_precision_size(LUMEN_FP32) == 4 &&
              !strcmp(lumen_precision_name(LUMEN_FP16), "fp16"),
          "precision names, parsing and sizes");
    /* one op, one precision: an fp16 input with an fp32 output is refused */
    lumen_tensor *y = NULL;
    lumen_opdesc d = lumen_opdesc_unary(LUMEN_ACT_RELU);
    const lumen_tensor *in[] = {t};
    CHECK(lumen_tensor_new(ctx, "y", &sh, &y) == LUMEN_OK &&
              lumen_op_run(ctx, &d, 1, in, y) == LUMEN_EINVAL &&
              strstr(lumen_ctx_error(ctx), "one op takes one precision"),
          "mixed precisions in one op refused: %s", lumen_ctx_error(ctx));
    lumen_tensor_free(y);
    lumen_tensor_free(t);
    lumen_tensor_free(u);
    test_half_indices(ctx);
}

int main(void)
{
    char err[LUMEN_ERR_MAX];
    if (check_tmpdir("test-runtime") != 0)
        return 1;
    test_params();
    test_devices();
    lumen_ctx *ctx;
    lumen_ctx_options o = {.cache_dir = ""};
    if (lumen_ctx_new_opts(NULL, &o, &ctx, err, sizeof err) != LUMEN_OK) {
        printf("FAIL context: %s\n", err);
        return 1;
    }
    CHECK(run_relu(ctx) == LUMEN_OK, "relu on %s", lumen_ctx_device(ctx)->name);
    test_errors(ctx);
    test_half(ctx);
    lumen_ctx_free(ctx);
    test_build_failure();
    test_cache();
    test_binary_only();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary();
}
