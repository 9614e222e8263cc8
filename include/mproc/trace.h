/* mproc/trace.h: timelines of process pools as Chrome trace-event JSON (opens in
 * Perfetto or chrome://tracing), and a small SVG renderer for a picture of one.
 *
 * A pool traces when mproc_pool_opts.trace_path is set or, if it is NULL, when the
 * environment variable MPROC_TRACE names a file at mproc_pool_new. Events: worker
 * start and exit, each map chunk and each task as a span on its worker's track, and
 * crashes, timeouts and cancellations as instant events. Each event is one line
 * written with a single O_APPEND write, so workers never interleave partial lines. */
#ifndef MPROC_TRACE_H
#define MPROC_TRACE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Renders a trace written by mproc (trace_json) as an SVG timeline (svg_path): one row
 *  per worker slot, spans as bars, crashes and timeouts as red marks, with a time axis.
 *  Returns 0, MPROC_EINVAL (NULL paths), MPROC_ENOENT and other open errors,
 *  MPROC_EPROTO (not an mproc trace), MPROC_ENOMEM. */
MPROC_API int mproc_trace_svg(const char *trace_json, const char *svg_path);

#ifdef __cplusplus
}
#endif
#endif /* MPROC_TRACE_H */
