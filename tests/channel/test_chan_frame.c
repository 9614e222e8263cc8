/* The pure frame decoder: what it accepts, what it refuses, and how it moves through a
 * chunked message. The fuzz target (fuzz/fuzz_chan_frame.c) explores the rest. */
#include "harness.h"

#include <string.h>

#include "channel/chan_int.h"

static mproc__chan_dec fresh(void)
{
    mproc__chan_dec d = {.max_msg = 1000, .max_frame = 240};
    return d;
}

static int decode(const mproc__chan_dec *d, unsigned type, uint64_t len, mproc__chan_frame *f)
{
    unsigned char h[MPROC__FR_HDR];
    mproc__chan_encode(h, type, len);
    return mproc__chan_decode(d, h, f);
}

static void msg_sizes_are_padded(void **state)
{
    (void)state;
    mproc__chan_dec d = fresh();
    mproc__chan_frame f;
    uint64_t lens[] = {0, 1, 7, 8, 9, 240};
    uint64_t sizes[] = {16, 24, 24, 24, 32, 256};
    for (size_t i = 0; i < 6; i++) {
        assert_ok(decode(&d, MPROC__FR_MSG, lens[i], &f));
        assert_int_equal(f.type, MPROC__FR_MSG);
        assert_int_equal(f.len, lens[i]);
        assert_int_equal(f.size, sizes[i]);
        assert_int_equal(mproc__chan_apply(&d, &f), 1);
    }
    assert_code(decode(&d, MPROC__FR_MSG, 241, &f), MPROC_EPROTO); /* over max_frame */
}

static void chunked_message_walk(void **state)
{
    (void)state;
    mproc__chan_dec d = fresh();
    mproc__chan_frame f;
    assert_code(decode(&d, MPROC__FR_BEGIN, 1001, &f), MPROC_EPROTO); /* over max_msg */
    assert_code(decode(&d, MPROC__FR_BEGIN, 0, &f), MPROC_EPROTO);
    assert_ok(decode(&d, MPROC__FR_BEGIN, 500, &f));
    assert_int_equal(f.size, 16);
    assert_int_equal(mproc__chan_apply(&d, &f), 0);
    assert_code(decode(&d, MPROC__FR_MSG, 5, &f), MPROC_EPROTO);   /* inside a message */
    assert_code(decode(&d, MPROC__FR_BEGIN, 5, &f), MPROC_EPROTO); /* likewise */
    assert_code(decode(&d, MPROC__FR_CHUNK, 0, &f), MPROC_EPROTO);
    assert_ok(decode(&d, MPROC__FR_CHUNK, 240, &f));
    assert_int_equal(mproc__chan_apply(&d, &f), 0);
    assert_ok(decode(&d, MPROC__FR_CHUNK, 240, &f));
    assert_int_equal(mproc__chan_apply(&d, &f), 0);
    assert_code(decode(&d, MPROC__FR_CHUNK, 21, &f), MPROC_EPROTO); /* 20 remain */
    assert_ok(decode(&d, MPROC__FR_CHUNK, 20, &f));
    assert_int_equal(f.size, 40);
    assert_int_equal(mproc__chan_apply(&d, &f), 1);
    assert_int_equal(d.in_msg, 0);
    assert_code(decode(&d, MPROC__FR_CHUNK, 8, &f), MPROC_EPROTO); /* outside */
    assert_code(decode(&d, MPROC__FR_ABORT, 0, &f), MPROC_EPROTO);
}

static void abort_resets(void **state)
{
    (void)state;
    mproc__chan_dec d = fresh();
    mproc__chan_frame f;
    assert_ok(decode(&d, MPROC__FR_BEGIN, 500, &f));
    mproc__chan_apply(&d, &f);
    assert_code(decode(&d, MPROC__FR_ABORT, 1, &f), MPROC_EPROTO);
    assert_ok(decode(&d, MPROC__FR_ABORT, 0, &f));
    assert_int_equal(mproc__chan_apply(&d, &f), 0);
    assert_int_equal(d.in_msg, 0);
    assert_ok(decode(&d, MPROC__FR_MSG, 3, &f));
}

static void corrupt_headers_refused(void **state)
{
    (void)state;
    mproc__chan_dec d = fresh();
    mproc__chan_frame f;
    unsigned char h[MPROC__FR_HDR];
    /* Every single-bit flip of a valid header is caught. */
    for (unsigned bit = 0; bit < 8 * MPROC__FR_HDR; bit++) {
        mproc__chan_encode(h, MPROC__FR_MSG, 100);
        h[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        if (mproc__chan_decode(&d, h, &f) == 0)
            fail_msg("bit %u flipped and still accepted", bit);
    }
    mproc__chan_encode(h, 9, 0); /* unknown type, valid check */
    assert_code(mproc__chan_decode(&d, h, &f), MPROC_EPROTO);
    mproc__chan_encode(h, MPROC__FR_MSG, UINT64_MAX);
    mproc__chan_dec big = {.max_msg = UINT64_MAX, .max_frame = UINT64_MAX};
    assert_code(mproc__chan_decode(&big, h, &f), MPROC_EPROTO); /* size would wrap */
    memset(h, 0, sizeof h);
    assert_code(mproc__chan_decode(&d, h, &f), MPROC_EPROTO);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(msg_sizes_are_padded),
        cmocka_unit_test(chunked_message_walk),
        cmocka_unit_test(abort_resets),
        cmocka_unit_test(corrupt_headers_refused),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
