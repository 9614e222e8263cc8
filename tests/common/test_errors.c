/* The error list: one X-macro list gives every code a unique name and message; codes
 * equal -errno where an errno fits; mproc's own codes sit where no errno reaches. */
#include "harness.h"

#include <errno.h>
#include <string.h>

static const int codes[] = {
#define CODE(name, val, msg) MPROC_##name,
    MPROC_ERRNO_MAP(CODE)
#undef CODE
};
#define NCODES (sizeof codes / sizeof codes[0])

static void every_code_has_its_own_name_and_message(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCODES; i++) {
        const char *name = mproc_err_name(codes[i]), *msg = mproc_strerror(codes[i]);
        assert_true(strncmp(name, "MPROC_E", 7) == 0);
        assert_true(strlen(msg) > 0);
        assert_string_not_equal(msg, "unknown error");
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(codes[i], codes[j]);
            assert_string_not_equal(name, mproc_err_name(codes[j]));
        }
    }
}

static void codes_are_negated_errnos_where_one_fits(void **state)
{
    (void)state;
    assert_int_equal(MPROC_ENOENT, -ENOENT);
    assert_int_equal(MPROC_EINVAL, -EINVAL);
    assert_int_equal(MPROC_ETIMEDOUT, -ETIMEDOUT);
    assert_int_equal(MPROC_EOWNERDEAD, -EOWNERDEAD);
    assert_int_equal(MPROC_EDEADLK, -EDEADLK);
    assert_string_equal(mproc_err_name(-ENOENT), "MPROC_ENOENT");
    /* mproc's own codes: negative, far below any errno (Linux errnos end below 200) */
    const int own[] = {MPROC_ECLOSED, MPROC_ECRASHED, MPROC_EBROKEN, MPROC_EFULL, MPROC_EEMPTY};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        assert_true(own[i] <= -4000);
}

static void unknown_and_zero_are_named(void **state)
{
    (void)state;
    assert_string_equal(mproc_strerror(0), "success");
    assert_string_equal(mproc_err_name(0), "MPROC_OK");
    assert_string_equal(mproc_strerror(-3999), "unknown error");
    assert_string_equal(mproc_err_name(12345), "MPROC_UNKNOWN");
    assert_non_null(mproc_version());
    assert_int_equal(strspn(mproc_version(), "0123456789."), strlen(mproc_version()));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest cases[] = {
        cmocka_unit_test(every_code_has_its_own_name_and_message),
        cmocka_unit_test(codes_are_negated_errnos_where_one_fits),
        cmocka_unit_test(unknown_and_zero_are_named),
    };
    return mproc_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
