/* mproc/shm.h: shared memory regions and typed shared values.
 *
 * Three kinds of region, all released with mproc_shm_free():
 *  - anonymous (mproc_shm_new): shared with children forked after it is made;
 *  - named (mproc_shm_open): for unrelated processes, an object in /dev/shm with mode 0600.
 *    The creator (the process that called mproc_shm_open with MPROC_SHM_CREATE) removes the
 *    name when it frees the region; attachers only detach. Mappings stay valid until each
 *    process frees its own;
 *  - memfd (mproc_shm_memfd): a region with no name whose descriptor can be passed to
 *    another process (over a unix socket or a channel) and mapped there.
 *
 * Every region starts page-aligned and is zero-filled when created. Sync objects
 * (mproc/sync.h) can be placed inside any of them.
 *
 * Typed values (Python's Value('i', 0) and Array('d', n)) are at the end of this header.
 */
#ifndef MPROC_SHM_H
#define MPROC_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* flags for mproc_shm_open */
#define MPROC_SHM_CREATE    0x1u /* create the name; MPROC_EEXIST if it exists (never reuses) */
#define MPROC_SHM_FLAGS_ALL 0x1u

/* Longest name mproc_shm_open accepts, without the terminating NUL. */
#define MPROC_SHM_NAME_MAX 200

/** Maps an anonymous shared region of size bytes (> 0), zero-filled and page-aligned.
 *  Children forked afterwards (mproc_fork, fork) share it: writes on either side are seen
 *  by the other. Free it with mproc_shm_free() in every process that holds it (a process
 *  that exits frees it implicitly).
 *  Returns 0 and *mem, or MPROC_EINVAL (NULL mem, size 0 or too large), MPROC_ENOMEM.
 *  Thread-safe. */
MPROC_API int mproc_shm_new(void **mem, size_t size);

/** Creates or attaches a named region that unrelated processes can share.
 *  With MPROC_SHM_CREATE: creates the object exclusively with mode 0600 and maps size bytes
 *  (> 0), zero-filled. name may be NULL: a random name that others cannot guess is chosen;
 *  read it back with mproc_shm_name() to hand it to the processes that should attach.
 *  A name is 1..MPROC_SHM_NAME_MAX characters without '/' (a leading '/' is allowed).
 *  Without MPROC_SHM_CREATE: attaches to an existing region made by mproc_shm_open;
 *  size may be 0 (the whole region) or at most the creator's size.
 *  The creator's mproc_shm_free() removes the name (later attaches fail with MPROC_ENOENT,
 *  existing mappings stay valid); an attacher's mproc_shm_free() only unmaps.
 *  Returns 0 and *mem, or MPROC_EINVAL (bad name, size or flags), MPROC_EEXIST (create:
 *  the name exists), MPROC_ENOENT (attach: no such name), MPROC_EACCES, MPROC_ENOMEM,
 *  MPROC_EMFILE, MPROC_EAGAIN (attach: the creator has not finished setting it up within
 *  one second), MPROC_EPROTO (the object is not an mproc region).
 *  Thread-safe. Creates no lasting descriptor. */
MPROC_API int mproc_shm_open(void **mem, const char *name, size_t size, unsigned flags);

/** Creates a region backed by a memfd of size bytes (> 0) and maps it. *fd receives the
 *  memfd (close-on-exec), which the caller owns and closes when it no longer needs to pass
 *  it on; the mapping does not need it. Another process maps it with mproc_shm_map_fd().
 *  Returns 0, or MPROC_EINVAL, MPROC_ENOMEM, MPROC_EMFILE. Thread-safe. */
MPROC_API int mproc_shm_memfd(void **mem, size_t size, int *fd);

/** Maps a region from a descriptor made by mproc_shm_memfd() (typically received from
 *  another process). The descriptor stays the caller's. Returns 0 and *mem, or
 *  MPROC_EINVAL (NULL mem), MPROC_EBADF, MPROC_EPROTO (not an mproc region), MPROC_ENOMEM.
 *  Thread-safe. */
MPROC_API int mproc_shm_map_fd(void **mem, int fd);

/** Unmaps a region returned by any of the calls above; the creator of a named region also
 *  removes its name. NULL is ignored. Sync objects inside the region must no longer be in
 *  use by this process. Thread-safe for distinct regions. */
MPROC_API void mproc_shm_free(void *mem);

/** Usable size of a region in bytes (what was asked for when it was created), 0 for NULL. */
MPROC_API size_t mproc_shm_size(const void *mem);

/** Name of a named region ("/mproc-..." or the one given), or NULL for other kinds. The
 *  string lives in the region and stays valid until mproc_shm_free(). */
MPROC_API const char *mproc_shm_name(const void *mem);

/** Removes a named region's name without mapping it: the clean-up for a creator that died
 *  before freeing. Returns 0, MPROC_EINVAL (bad name) or MPROC_ENOENT. */
MPROC_API int mproc_shm_unlink(const char *name);

/* ---- typed shared values (Python's Value and Array) ---------------------------------
 *
 * An mproc_array is count elements of elem_size bytes in anonymous shared memory (shared
 * with children forked after it is made), with its own recursive lock unless made
 * MPROC_VALUE_RAW. A "value" is an array of one element.
 *
 * The locked helpers (get/set/add) take the lock around each access, like Python's
 * `v.value`; a compound update (read, compute, write) needs the lock held around it:
 *     mproc_lock_acquire(mproc_array_lock(a), -1); ...; mproc_lock_release(...);
 * With MPROC_VALUE_CHECKED the helpers do not take the lock: they refuse with MPROC_EPERM
 * unless the calling thread holds it, catching unsynchronised access (the seed's data race).
 */
typedef struct mproc_array mproc_array;

#define MPROC_VALUE_RAW       0x1u /* no lock: Python's RawValue / RawArray */
#define MPROC_VALUE_CHECKED   0x2u /* helpers demand that the caller hold the lock */
#define MPROC_VALUE_FLAGS_ALL 0x3u

/** Makes a shared array of count (> 0) elements of elem_size (1..4096) bytes, zeroed.
 *  Returns 0 and *out, or MPROC_EINVAL (NULL out, a zero or overflowing size, unknown flags,
 *  RAW with CHECKED), MPROC_ENOMEM. Thread-safe. */
MPROC_API int mproc_array_new(mproc_array **out, size_t elem_size, size_t count, unsigned flags);

/** Python's Value: an array of one element of size bytes. */
MPROC_API int mproc_value_new(mproc_array **out, size_t size, unsigned flags);

/** Unmaps the array in this process. NULL is ignored. */
MPROC_API void mproc_array_free(mproc_array *a);

/** The array's lock (see mproc/sync.h; recursive), or NULL for MPROC_VALUE_RAW. */
MPROC_API struct mproc_lock *mproc_array_lock(mproc_array *a);

/** The elements themselves, for unlocked access (the caller synchronises). */
MPROC_API void *mproc_array_data(mproc_array *a);

/** Number of elements, 0 for NULL. */
MPROC_API size_t mproc_array_len(const mproc_array *a);

/** Copies element i into out (elem_size bytes) / from in, under the lock (see above).
 *  Returns 0, MPROC_EINVAL (NULL argument), MPROC_ERANGE (i >= count), MPROC_EPERM
 *  (checked mode and the caller does not hold the lock), or what acquiring the lock
 *  returned (MPROC_EOWNERDEAD is passed on after the copy: the lock is then the caller's
 *  to repair and release, see mproc_lock_acquire). */
MPROC_API int mproc_array_get(mproc_array *a, size_t i, void *out);
MPROC_API int mproc_array_set(mproc_array *a, size_t i, const void *in);

/** Typed helpers for arrays of int64_t / double (elem_size must match: MPROC_EINVAL).
 *  mproc_array_add_i64 adds delta to element i under the lock; *result (may be NULL)
 *  receives the new value. Errors as mproc_array_get. */
MPROC_API int mproc_array_get_i64(mproc_array *a, size_t i, int64_t *out);
MPROC_API int mproc_array_set_i64(mproc_array *a, size_t i, int64_t v);
MPROC_API int mproc_array_add_i64(mproc_array *a, size_t i, int64_t delta, int64_t *result);
MPROC_API int mproc_array_get_double(mproc_array *a, size_t i, double *out);
MPROC_API int mproc_array_set_double(mproc_array *a, size_t i, double v);

#ifdef __cplusplus
}
#endif
#endif /* MPROC_SHM_H */
