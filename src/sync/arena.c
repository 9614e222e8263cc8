/* arena.c: where sync objects live: the process's shared arena, or a caller's region.
 *
 * The arena is one anonymous mproc region made on first use, so children forked after an
 * object is made share it at the same address and the objects in it share one deadlock
 * domain. Its allocation bitmap lives in the arena itself (shared), so a slot freed in
 * one process is free for all. The pointer to the arena is the one piece of process-wide
 * state here; it is set once and inherited across fork.
 */
#include "sync/sync_int.h"

#include <pthread.h>
#include <unistd.h>

#include "shm/shm_int.h"

#define UNIT        64u
#define ARENA_UNITS 4096u
#define MAP_UNITS   (ARENA_UNITS / 8u / UNIT) /* units the bitmap itself takes */
#define MAP_WORDS   (ARENA_UNITS / 64u)

static void *arena;
static int arena_err;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

static void arena_init(void)
{
    void *mem;
    arena_err = mproc_shm_new(&mem, (size_t)ARENA_UNITS * UNIT);
    if (arena_err < 0)
        return;
    _Atomic uint64_t *map = mem;
    atomic_store(&map[0], (1ull << MAP_UNITS) - 1); /* the bitmap's own units */
    arena = mem;
}

/* Claims n (1..64) consecutive free units within one bitmap word; the unit index or -1. */
static long claim(_Atomic uint64_t *map, unsigned n)
{
    uint64_t want = n == 64 ? ~0ull : (1ull << n) - 1;
    for (unsigned w = 0; w < MAP_WORDS; w++) {
        uint64_t cur = atomic_load(&map[w]);
        for (unsigned b = 0; b + n <= 64; b++) {
            uint64_t m = want << b;
            while ((cur & m) == 0) {
                if (atomic_compare_exchange_weak(&map[w], &cur, cur | m))
                    return (long)(w * 64 + b);
            }
        }
    }
    return -1;
}

int mproc__arena_alloc(size_t size, void **obj, uint64_t *hdr_off)
{
    pthread_once(&arena_once, arena_init);
    if (!arena)
        return arena_err < 0 ? arena_err : MPROC_ENOMEM;
    unsigned n = (unsigned)((size + UNIT - 1) / UNIT);
    long u = claim(arena, n);
    if (u < 0)
        return MPROC_ENOMEM;
    char *p = (char *)arena + (size_t)u * UNIT;
    for (size_t i = 0; i < (size_t)n * UNIT; i++)
        p[i] = 0; /* a slot freed by another process may hold an old object */
    *obj = p;
    *hdr_off = MPROC__SHM_HDR + (uint64_t)u * UNIT;
    return 0;
}

void mproc__arena_free(void *obj, size_t size)
{
    if (!arena || (char *)obj < (char *)arena)
        return;
    size_t u = (size_t)((char *)obj - (char *)arena) / UNIT;
    unsigned n = (unsigned)((size + UNIT - 1) / UNIT);
    if (u < MAP_UNITS || u + n > ARENA_UNITS)
        return;
    uint64_t m = (n == 64 ? ~0ull : (1ull << n) - 1) << (u % 64);
    ((struct mproc__obj_head *)obj)->magic = 0;
    atomic_fetch_and(&((_Atomic uint64_t *)arena)[u / 64], ~m);
}

int mproc__region_place(void *region, size_t offset, size_t size, void **obj, uint64_t *hdr_off)
{
    if (!region || offset % UNIT != 0 || !mproc__shm_header(region))
        return MPROC_EINVAL;
    size_t have = mproc_shm_size(region);
    if (offset > have || have - offset < size)
        return MPROC_EINVAL;
    *obj = (char *)region + offset;
    *hdr_off = MPROC__SHM_HDR + (uint64_t)offset;
    return 0;
}

int mproc__obj_make(int from_arena, void *region, size_t offset, size_t size, void **obj,
                    uint64_t *hdr_off, unsigned *flags)
{
    if (!from_arena)
        return mproc__region_place(region, offset, size, obj, hdr_off);
    *flags |= MPROC__F_ARENA;
    return mproc__arena_alloc(size, obj, hdr_off);
}

void mproc__obj_publish(void *obj, uint32_t magic, unsigned flags)
{
    struct mproc__obj_head *h = obj;
    h->flags = flags;
    h->creator = (int32_t)getpid();
    atomic_thread_fence(memory_order_release);
    h->magic = magic;
}

int mproc__obj_attach(void **out, void *region, size_t offset, size_t size, uint32_t magic)
{
    if (!out)
        return MPROC_EINVAL;
    *out = NULL;
    void *obj;
    uint64_t off;
    if (mproc__region_place(region, offset, size, &obj, &off) < 0 || !mproc__obj_ok(obj, magic))
        return MPROC_EINVAL;
    *out = obj;
    return 0;
}

void mproc__obj_free(void *obj, size_t size, uint32_t magic)
{
    const struct mproc__obj_head *h = obj;
    if (mproc__obj_ok(obj, magic) && (h->flags & MPROC__F_ARENA) && h->creator == (int32_t)getpid())
        mproc__arena_free(obj, size);
}
