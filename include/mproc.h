/* mproc.h: the one header users include. Multiprocessing for C on Linux.
 * Each capability has its own header under mproc/; see docs/ for a page on each. */
#ifndef MPROC_H
#define MPROC_H

#include "mproc/common.h"
#include "mproc/proc.h"
#include "mproc/io.h"
#include "mproc/shm.h"
#include "mproc/sync.h"
#include "mproc/pool.h"
#include "mproc/trace.h"
#include "mproc/queue.h"
#include "mproc/wait.h"
#include "mproc/channel.h"

#endif /* MPROC_H */
