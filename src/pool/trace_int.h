/* trace_int.h: trace event writers used by the pool (parent and workers). */
#ifndef MPROC_TRACE_INT_H
#define MPROC_TRACE_INT_H

#include <stdint.h>

int mproc__trace_open(const char *path); /* descriptor, or -errno */
void mproc__trace_span(int fd, int slot, const char *name, int64_t t0_ns, int64_t t1_ns,
                       long long first, long long count);
void mproc__trace_instant(int fd, int slot, const char *name, int64_t t_ns, long long item,
                          int code);
void mproc__trace_close(int fd);

#endif
