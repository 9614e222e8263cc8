/* error.c: names and messages for MPROC_E* codes, generated from MPROC_ERRNO_MAP.
 * Must not allocate or depend on locale: callable from anywhere, including a child
 * between fork and exec. */
#include <mproc/common.h>

const char *mproc_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define MPROC__ERR_MSG(name, val, msg)                                                             \
    case (val):                                                                                    \
        return msg;
        MPROC_ERRNO_MAP(MPROC__ERR_MSG)
#undef MPROC__ERR_MSG
    default:
        return "unknown error";
    }
}

const char *mproc_err_name(int err)
{
    switch (err) {
    case 0:
        return "MPROC_OK";
#define MPROC__ERR_NAME(name, val, msg)                                                            \
    case (val):                                                                                    \
        return "MPROC_" #name;
        MPROC_ERRNO_MAP(MPROC__ERR_NAME)
#undef MPROC__ERR_NAME
    default:
        return "MPROC_UNKNOWN";
    }
}

const char *mproc_version(void)
{
    return "0.1.0";
}
