/*
 * onnx_conformance_skips.h - why a conformance test may be skipped: the short list of skip
 * categories and the rules that put each skipped test in one (onnx_conformance_summary.c
 * applies them). A skip that no rule matches fails the run, so a newly unsupported op or a
 * changed message cannot hide among the skips: it must be implemented or given a category
 * here, with its reason in README.md ("ONNX conformance").
 *
 * Rules are tried in order; the first that matches decides. A rule matches on the op the test
 * is about (its label, exactly), on a substring of the test's id, or on a substring of the skip
 * reason (the loader's message). Op rules come first, so that a test of a random or training op
 * counts there even when its inputs are also double.
 */
#ifndef LUMEN_ONNX_CONFORMANCE_SKIPS_H
#define LUMEN_ONNX_CONFORMANCE_SKIPS_H

/* X(ID, name, why): the categories, each with the one line README.md repeats. */
#define CONF_SKIP_CATEGORIES(X)                                                                    \
    X(TRAINING, "training-only",                                                                   \
      "losses, optimisers (ai.onnx.preview.training) and training-mode Dropout/BatchNorm: an "     \
      "inference runtime does not train")                                                          \
    X(RANDOM, "random",                                                                            \
      "Bernoulli, RandomUniformLike: random draws have no fixed expected output")                  \
    X(SEQUENCE, "sequence/optional types",                                                         \
      "sequences, maps and optionals are not tensors; lumen's graph values are tensors")           \
    X(STRING, "string types", "string tensors: device tensors are float32")                        \
    X(DOUBLE, "double precision",                                                                  \
      "float64 inputs: device tensors are float32 (fp64 is optional in OpenCL, absent on many "    \
      "GPUs)")                                                                                     \
    X(HALF, "float16/bfloat16 types",                                                              \
      "float16 and bfloat16 tensors: ONNX values are float32 in lumen (fp16 is a device storage "  \
      "option, not a value type)")                                                                 \
    X(QUANTISED, "quantised options",                                                              \
      "quantised ops with a run-time zero point of unknown type or a per-row scale of A: not "     \
      "supported (they run in float32)")                                                           \
    X(CONTROL, "control flow",                                                                     \
      "If, Loop, Scan: subgraphs chosen or repeated by run-time data; the graph is static")        \
    X(DYNAMIC, "data-dependent shape",                                                             \
      "Unique, NonMaxSuppression (and NonZero, Compress, Range on run-time data): the output's "   \
      "shape depends on run-time values; shapes are fixed at load")                                \
    X(RECURRENT, "recurrent options",                                                              \
      "RNN, GRU, LSTM with per-sequence lengths, clip, input_forget or other activations: not "    \
      "implemented (the plain forms are unrolled)")                                                \
    X(SIGNAL, "audio and text features",                                                           \
      "MelWeightMatrix and TfIdfVectorizer on run-time inputs: they are folded on the host only")

enum {
#define CONF_X(id, name, why) CONF_SKIP_##id,
    CONF_SKIP_CATEGORIES(CONF_X)
#undef CONF_X
        CONF_SKIP_COUNT
};

enum { CONF_ON_OP, CONF_ON_TEST, CONF_ON_REASON };

typedef struct conf_skip_rule {
    int on;              /* CONF_ON_* */
    const char *pattern; /* the op's name; or a substring of the test id or of the reason */
    int category;        /* CONF_SKIP_* */
} conf_skip_rule;

#define OP(name, cat)                                                                              \
    {                                                                                              \
        CONF_ON_OP, name, CONF_SKIP_##cat                                                          \
    }
#define TEST(sub, cat)                                                                             \
    {                                                                                              \
        CONF_ON_TEST, sub, CONF_SKIP_##cat                                                         \
    }
#define REASON(sub, cat)                                                                           \
    {                                                                                              \
        CONF_ON_REASON, sub, CONF_SKIP_##cat                                                       \
    }
static const conf_skip_rule conf_skip_rules[] = {
    /* the op a test is about */
    OP("SoftmaxCrossEntropyLoss", TRAINING),
    OP("NegativeLogLikelihoodLoss", TRAINING),
    OP("Bernoulli", RANDOM),
    /* loss tests (their '_expanded' forms are labelled by their first ops) */
    TEST("/test_sce_", TRAINING),
    TEST("/test_nllloss_", TRAINING),
    /* the loader's reasons */
    REASON("(SoftmaxCrossEntropyLoss)", TRAINING),
    REASON("(NegativeLogLikelihoodLoss)", TRAINING),
    REASON("'ai.onnx.preview.training'", TRAINING),
    REASON("(Dropout): training_mode", TRAINING),
    REASON("(BatchNormalization): training_mode", TRAINING),
    REASON("(RandomUniformLike)", RANDOM),
    REASON("(RandomNormalLike)", RANDOM),
    REASON("(RandomUniform)", RANDOM),
    REASON("(RandomNormal)", RANDOM),
    REASON("(Multinomial)", RANDOM),
    REASON("is a sequence", SEQUENCE),
    REASON("is a optional", SEQUENCE),
    REASON("is a map", SEQUENCE),
    REASON("is string", STRING),
    REASON("input is double", DOUBLE),
    REASON("is float16", HALF),
    REASON("is bfloat16", HALF),
    REASON("(Cast): cast of a run-time float tensor to type 16", HALF), /* to bfloat16 */
    REASON("(Cast): cast of a run-time float tensor to type 10", HALF), /* to float16 */
    REASON("(QuantizeLinear)", QUANTISED),
    REASON("(DequantizeLinear)", QUANTISED),
    REASON("(DynamicQuantizeLinear)", QUANTISED),
    REASON("(QLinearMatMul)", QUANTISED),
    REASON("(QLinearConv)", QUANTISED),
    REASON("(ConvInteger)", QUANTISED),
    REASON("(MatMulInteger)", QUANTISED),
    REASON("(If)", CONTROL),
    REASON("(Loop)", CONTROL),
    REASON("(Scan)", CONTROL),
    REASON("(Unique)", DYNAMIC),
    REASON("(NonMaxSuppression)", DYNAMIC),
    REASON("the output's shape would depend on the data", DYNAMIC),
    REASON("Range is only supported on values known at load time", DYNAMIC),
    REASON("(RNN)", RECURRENT),
    REASON("(GRU)", RECURRENT),
    REASON("(LSTM)", RECURRENT),
    REASON("(DFT)", SIGNAL),
    REASON("(STFT)", SIGNAL),
    REASON("(MelWeightMatrix)", SIGNAL),
    REASON("(TfIdfVectorizer)", SIGNAL),
};
#undef OP
#undef TEST
#undef REASON

#endif
