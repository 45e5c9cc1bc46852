/*
 * status.c - status names and messages, and the error-message helpers every file uses.
 *
 * Errors are values: a function returns a lumen_status and leaves a sentence in the context
 * (or in a caller's buffer when there is no context yet). Messages name the call that failed.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *const status_names[] = {
#define LUMEN_X(name, msg) "LUMEN_" #name,
    LUMEN_STATUS_MAP(LUMEN_X)
#undef LUMEN_X
};
static const char *const status_messages[] = {
#define LUMEN_X(name, msg) msg,
    LUMEN_STATUS_MAP(LUMEN_X)
#undef LUMEN_X
};

const char *lumen_status_name(lumen_status st)
{
    if ((int)st < 0 || st >= LUMEN_STATUS_COUNT)
        return "unknown status";
    return status_names[st];
}

const char *lumen_status_message(lumen_status st)
{
    if ((int)st < 0 || st >= LUMEN_STATUS_COUNT)
        return "unknown status";
    return status_messages[st];
}

lumen_status lumen__errfn(char *err, size_t errlen, lumen_status st, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

lumen_status lumen__fail(lumen_ctx *ctx, lumen_status st, const char *fmt, ...)
{
    if (ctx) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
        va_end(ap);
    }
    return st;
}

#define E(x)                                                                                       \
    {                                                                                              \
        x, #x                                                                                      \
    }
static const struct {
    cl_int code;
    const char *name;
} cl_errors[] = {
    E(CL_SUCCESS),
    E(CL_DEVICE_NOT_FOUND),
    E(CL_DEVICE_NOT_AVAILABLE),
    E(CL_COMPILER_NOT_AVAILABLE),
    E(CL_MEM_OBJECT_ALLOCATION_FAILURE),
    E(CL_OUT_OF_RESOURCES),
    E(CL_OUT_OF_HOST_MEMORY),
    E(CL_PROFILING_INFO_NOT_AVAILABLE),
    E(CL_MEM_COPY_OVERLAP),
    E(CL_IMAGE_FORMAT_MISMATCH),
    E(CL_IMAGE_FORMAT_NOT_SUPPORTED),
    E(CL_BUILD_PROGRAM_FAILURE),
    E(CL_MAP_FAILURE),
    E(CL_MISALIGNED_SUB_BUFFER_OFFSET),
    E(CL_COMPILE_PROGRAM_FAILURE),
    E(CL_LINKER_NOT_AVAILABLE),
    E(CL_LINK_PROGRAM_FAILURE),
    E(CL_INVALID_VALUE),
    E(CL_INVALID_DEVICE_TYPE),
    E(CL_INVALID_PLATFORM),
    E(CL_INVALID_DEVICE),
    E(CL_INVALID_CONTEXT),
    E(CL_INVALID_QUEUE_PROPERTIES),
    E(CL_INVALID_COMMAND_QUEUE),
    E(CL_INVALID_HOST_PTR),
    E(CL_INVALID_MEM_OBJECT),
    E(CL_INVALID_BINARY),
    E(CL_INVALID_BUILD_OPTIONS),
    E(CL_INVALID_PROGRAM),
    E(CL_INVALID_PROGRAM_EXECUTABLE),
    E(CL_INVALID_KERNEL_NAME),
    E(CL_INVALID_KERNEL_DEFINITION),
    E(CL_INVALID_KERNEL),
    E(CL_INVALID_ARG_INDEX),
    E(CL_INVALID_ARG_VALUE),
    E(CL_INVALID_ARG_SIZE),
    E(CL_INVALID_KERNEL_ARGS),
    E(CL_INVALID_WORK_DIMENSION),
    E(CL_INVALID_WORK_GROUP_SIZE),
    E(CL_INVALID_WORK_ITEM_SIZE),
    E(CL_INVALID_GLOBAL_OFFSET),
    E(CL_INVALID_EVENT_WAIT_LIST),
    E(CL_INVALID_EVENT),
    E(CL_INVALID_OPERATION),
    E(CL_INVALID_BUFFER_SIZE),
    E(CL_INVALID_GLOBAL_WORK_SIZE),
    E(CL_INVALID_PROPERTY),
    {-1001, "CL_PLATFORM_NOT_FOUND_KHR"},
};
#undef E

const char *lumen__cl_error_name(cl_int code)
{
    for (size_t i = 0; i < sizeof cl_errors / sizeof cl_errors[0]; i++)
        if (cl_errors[i].code == code)
            return cl_errors[i].name;
    return "CL_UNKNOWN_ERROR";
}

lumen_status lumen__clfail(lumen_ctx *ctx, cl_int code, const char *what)
{
    lumen_status st = (code == CL_MEM_OBJECT_ALLOCATION_FAILURE || code == CL_OUT_OF_HOST_MEMORY)
                          ? LUMEN_ENOMEM
                          : LUMEN_ECL;
    return lumen__fail(ctx, st, "OpenCL %s (%d) in %s", lumen__cl_error_name(code), (int)code,
                       what);
}
