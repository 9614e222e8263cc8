/* shm_int.h: the layout every mproc region shares, private to the library.
 *
 * A region is one mapping: a page of header, then the caller's bytes (page-aligned).
 * The header says what the region is and who created it, and keeps an area that the
 * sync layer uses as the region's deadlock-detection domain (so locks placed in the same
 * region see each other's waits, whatever address each process maps it at). */
#ifndef MPROC_SHM_INT_H
#define MPROC_SHM_INT_H

#include <stddef.h>
#include <stdint.h>

#include "mproc/shm.h"

#define MPROC__SHM_HDR         4096u /* header bytes before the caller's memory */
#define MPROC__SHM_DOMAIN_OFF  1024u /* the sync layer's area inside the header */
#define MPROC__SHM_DOMAIN_SIZE 3072u

/* The header of the region whose caller pointer is mem, or NULL if mem is not the start
 * of an mproc region. */
void *mproc__shm_header(void *mem);

/* The sync layer's area (zeroed at creation) of the region whose header is hdr. */
static inline void *mproc__shm_domain(void *hdr)
{
    return (char *)hdr + MPROC__SHM_DOMAIN_OFF;
}

#endif
