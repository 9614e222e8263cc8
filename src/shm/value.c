/* value.c: typed shared values and arrays with their own lock (Python's Value, Array,
 * RawValue, RawArray).
 *
 * An array is an anonymous region: a 64-byte descriptor, then the elements. Its lock is a
 * recursive mproc lock from the sync arena, so it shares the deadlock domain of every other
 * lock made with mproc_lock_new. Checked mode turns the helpers from "take the lock" into
 * "prove you hold it", catching unsynchronised access. This file must not touch the
 * elements outside the rules its flags set.
 */
#include "mproc/shm.h"
#include "mproc/sync.h"

#include <string.h>
#include <unistd.h>

#define ARRAY_MAGIC 0x41525231u /* "ARR1" */
#define DESC_SIZE   64u

struct mproc_array {
    uint32_t magic;
    uint32_t flags;
    int32_t creator; /* frees the lock; others only unmap */
    uint32_t pad;
    uint64_t elem_size;
    uint64_t count;
    mproc_lock *lock; /* arena address: the same in every forked child */
};
_Static_assert(sizeof(struct mproc_array) <= DESC_SIZE, "array descriptor size");

static int array_ok(const struct mproc_array *a)
{
    return a && a->magic == ARRAY_MAGIC;
}

static void *elem(struct mproc_array *a, size_t i)
{
    return (char *)a + DESC_SIZE + i * a->elem_size;
}

int mproc_array_new(mproc_array **out, size_t elem_size, size_t count, unsigned flags)
{
    if (!out)
        return MPROC_EINVAL;
    *out = NULL;
    if (elem_size == 0 || elem_size > 4096 || count == 0 ||
        count > (SIZE_MAX - DESC_SIZE) / elem_size || (flags & ~MPROC_VALUE_FLAGS_ALL) ||
        (flags & (MPROC_VALUE_RAW | MPROC_VALUE_CHECKED)) ==
            (MPROC_VALUE_RAW | MPROC_VALUE_CHECKED))
        return MPROC_EINVAL;
    void *mem;
    int rc = mproc_shm_new(&mem, DESC_SIZE + elem_size * count);
    if (rc < 0)
        return rc;
    struct mproc_array *a = mem;
    if (!(flags & MPROC_VALUE_RAW) && (rc = mproc_lock_new(&a->lock, MPROC_RECURSIVE)) < 0) {
        mproc_shm_free(mem);
        return rc;
    }
    a->flags = flags;
    a->elem_size = elem_size;
    a->count = count;
    a->creator = (int32_t)getpid();
    a->magic = ARRAY_MAGIC;
    *out = a;
    return 0;
}

int mproc_value_new(mproc_array **out, size_t size, unsigned flags)
{
    return mproc_array_new(out, size, 1, flags);
}

void mproc_array_free(mproc_array *a)
{
    if (!array_ok(a))
        return;
    if (a->creator == (int32_t)getpid())
        mproc_lock_free(a->lock);
    mproc_shm_free(a);
}

mproc_lock *mproc_array_lock(mproc_array *a)
{
    return array_ok(a) ? a->lock : NULL;
}

void *mproc_array_data(mproc_array *a)
{
    return array_ok(a) ? elem(a, 0) : NULL;
}

size_t mproc_array_len(const mproc_array *a)
{
    return array_ok(a) ? a->count : 0;
}

/* Makes access to element i legal under the array's rules. Returns 1 when the caller must
 * call leave() afterwards, 0 when not, or an error. *kept receives MPROC_EOWNERDEAD when
 * the lock came from a dead holder (the caller keeps it). */
static int enter(struct mproc_array *a, size_t i, size_t size, int *kept)
{
    *kept = 0;
    if (!array_ok(a) || (size && size != a->elem_size))
        return MPROC_EINVAL;
    if (i >= a->count)
        return MPROC_ERANGE;
    if (a->flags & MPROC_VALUE_RAW)
        return 0;
    if (a->flags & MPROC_VALUE_CHECKED)
        return mproc_lock_held(a->lock) ? 0 : MPROC_EPERM;
    int rc = mproc_lock_acquire(a->lock, -1);
    if (rc == MPROC_EOWNERDEAD) {
        *kept = rc;
        return 0;
    }
    return rc < 0 ? rc : 1;
}

static int leave(struct mproc_array *a, int entered, int kept)
{
    if (entered == 1)
        mproc_lock_release(a->lock);
    return kept;
}

static int copy_out(mproc_array *a, size_t i, void *out, size_t size)
{
    int kept;
    int rc = out ? enter(a, i, size, &kept) : MPROC_EINVAL;
    if (rc < 0)
        return rc;
    memcpy(out, elem(a, i), a->elem_size);
    return leave(a, rc, kept);
}

static int copy_in(mproc_array *a, size_t i, const void *in, size_t size)
{
    int kept;
    int rc = in ? enter(a, i, size, &kept) : MPROC_EINVAL;
    if (rc < 0)
        return rc;
    memcpy(elem(a, i), in, a->elem_size);
    return leave(a, rc, kept);
}

int mproc_array_get(mproc_array *a, size_t i, void *out)
{
    return copy_out(a, i, out, 0);
}

int mproc_array_set(mproc_array *a, size_t i, const void *in)
{
    return copy_in(a, i, in, 0);
}

int mproc_array_get_i64(mproc_array *a, size_t i, int64_t *out)
{
    return copy_out(a, i, out, sizeof *out);
}

int mproc_array_set_i64(mproc_array *a, size_t i, int64_t v)
{
    return copy_in(a, i, &v, sizeof v);
}

int mproc_array_get_double(mproc_array *a, size_t i, double *out)
{
    return copy_out(a, i, out, sizeof *out);
}

int mproc_array_set_double(mproc_array *a, size_t i, double v)
{
    return copy_in(a, i, &v, sizeof v);
}

int mproc_array_add_i64(mproc_array *a, size_t i, int64_t delta, int64_t *result)
{
    int kept;
    int rc = enter(a, i, sizeof(int64_t), &kept);
    if (rc < 0)
        return rc;
    int64_t v;
    memcpy(&v, elem(a, i), sizeof v);
    v = (int64_t)((uint64_t)v + (uint64_t)delta); /* wraps like the unsigned sum, no UB */
    memcpy(elem(a, i), &v, sizeof v);
    if (result)
        *result = v;
    return leave(a, rc, kept);
}
