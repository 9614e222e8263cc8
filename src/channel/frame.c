/* frame.c: encodes and validates channel frame headers. Pure functions over bytes and a
 * small state: no memory, no system calls, no shared memory, so the fuzz target
 * (fuzz/fuzz_chan_frame.c) exercises exactly what the receiver trusts. Every length a
 * hostile peer could choose is checked here before anything is allocated or copied. */
#include "channel/chan_int.h"

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++, v >>= 8)
        p[i] = (unsigned char)(v & 0xffu);
}

uint16_t mproc__chan_check(unsigned type, uint64_t len)
{
    /* Folds type and length into 16 bits: a flipped bit in either is caught. */
    uint64_t x = len ^ ((uint64_t)type << 56) ^ 0x9e3779b97f4a7c15ull;
    x ^= x >> 32;
    x *= 0x85ebca6bu;
    x ^= x >> 16;
    return (uint16_t)(x & 0xffffu);
}

void mproc__chan_encode(unsigned char hdr[MPROC__FR_HDR], unsigned type, uint64_t len)
{
    put_le(hdr, MPROC__FR_MAGIC, 4);
    hdr[4] = (unsigned char)type;
    hdr[5] = 0;
    put_le(hdr + 6, mproc__chan_check(type, len), 2);
    put_le(hdr + 8, len, 8);
}

static uint64_t padded(uint64_t len)
{
    return (len + 7u) & ~(uint64_t)7u;
}

/* What a frame of this type may carry given where the decoder stands. */
static int type_ok(const mproc__chan_dec *d, int type, uint64_t len)
{
    switch (type) {
    case MPROC__FR_MSG:
        return !d->in_msg && len <= d->max_msg && len <= d->max_frame;
    case MPROC__FR_BEGIN:
        return !d->in_msg && len > 0 && len <= d->max_msg;
    case MPROC__FR_CHUNK:
        return d->in_msg && len > 0 && len <= d->max_frame && len <= d->total - d->got;
    case MPROC__FR_ABORT:
        return d->in_msg && len == 0;
    default:
        return 0;
    }
}

int mproc__chan_decode(const mproc__chan_dec *d, const unsigned char hdr[MPROC__FR_HDR],
                       mproc__chan_frame *f)
{
    if (get_le(hdr, 4) != MPROC__FR_MAGIC || hdr[5] != 0)
        return MPROC_EPROTO;
    int type = hdr[4];
    uint64_t len = get_le(hdr + 8, 8);
    if (get_le(hdr + 6, 2) != mproc__chan_check((unsigned)type, len))
        return MPROC_EPROTO;
    /* In a sound state got <= total; a corrupted one must not make total - got wrap. */
    if (d->in_msg && d->got > d->total)
        return MPROC_EPROTO;
    if (!type_ok(d, type, len) || len > UINT64_MAX - 2 * MPROC__FR_HDR)
        return MPROC_EPROTO;
    f->type = type;
    f->len = len;
    /* len is far from UINT64_MAX: the padded size cannot wrap. */
    f->size =
        MPROC__FR_HDR + ((type == MPROC__FR_MSG || type == MPROC__FR_CHUNK) ? padded(len) : 0);
    return 0;
}

int mproc__chan_apply(mproc__chan_dec *d, const mproc__chan_frame *f)
{
    switch (f->type) {
    case MPROC__FR_MSG:
        return 1;
    case MPROC__FR_BEGIN:
        d->in_msg = 1;
        d->total = f->len;
        d->got = 0;
        return 0;
    case MPROC__FR_CHUNK:
        d->got += f->len;
        if (d->got < d->total)
            return 0;
        d->in_msg = 0;
        return 1;
    default: /* ABORT */
        d->in_msg = 0;
        d->total = d->got = 0;
        return 0;
    }
}
