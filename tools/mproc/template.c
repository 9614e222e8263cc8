/* template.c: the command template. Parses the replacement strings of GNU parallel
 * ({} {.} {/} {//} {/.} {#} {%} {N} {N.} ...) once, then builds each job's argv from its
 * arguments: directly (each word one argument, no shell) or, with --shell, one string for
 * /bin/sh -c in which every argument is quoted so that no value is ever shell syntax.
 * It does not run anything. */
#include "cli.h"

#include <ctype.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ph_kind { PH_LIT, PH_ARG, PH_SEQ, PH_SLOT };
enum ph_mod { MOD_NONE, MOD_EXT, MOD_BASE, MOD_DIR, MOD_BASE_EXT };

struct seg {
    int kind;   /* enum ph_kind */
    int mod;    /* enum ph_mod */
    long src;   /* PH_ARG: 0 all sources, N > 0 the N-th, N < 0 the N-th from the end */
    char *text; /* PH_LIT */
};

struct word {
    struct seg *segs;
    size_t nsegs;
};

struct cli_tmpl {
    struct word *words;
    size_t nwords;
    int shell;
    int has_ph; /* any replacement string at all: otherwise arguments are appended */
};

static int parse_mod(const char *s, size_t n, int *mod)
{
    static const struct {
        const char *z;
        int mod;
    } mods[] = {
        {"", MOD_NONE}, {".", MOD_EXT}, {"/", MOD_BASE}, {"//", MOD_DIR}, {"/.", MOD_BASE_EXT}};
    for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++)
        if (strlen(mods[i].z) == n && strncmp(s, mods[i].z, n) == 0) {
            *mod = mods[i].mod;
            return 1;
        }
    return 0;
}

/* Recognises the text between braces; 0 if it is not a replacement string. */
static int parse_ph(const char *s, size_t n, struct seg *out)
{
    memset(out, 0, sizeof *out);
    if (n == 1 && (s[0] == '#' || s[0] == '%')) {
        out->kind = s[0] == '#' ? PH_SEQ : PH_SLOT;
        return 1;
    }
    size_t i = 0;
    int neg = 0;
    if (i < n && s[i] == '-') {
        neg = 1;
        i++;
    }
    size_t d = i;
    long num = 0;
    while (i < n && isdigit((unsigned char)s[i]) && i - d < 6)
        num = num * 10 + (s[i++] - '0');
    if (i == d && neg)
        return 0;
    if (i > d && num == 0)
        return 0;
    if (!parse_mod(s + i, n - i, &out->mod))
        return 0;
    out->kind = PH_ARG;
    out->src = neg ? -num : num;
    return 1;
}

static void add_seg(struct word *w, struct seg s)
{
    w->segs = cli_xrealloc(w->segs, (w->nsegs + 1) * sizeof *w->segs);
    w->segs[w->nsegs++] = s;
}

static void add_lit(struct word *w, const char *s, size_t n)
{
    if (n == 0)
        return;
    if (w->nsegs > 0 && w->segs[w->nsegs - 1].kind == PH_LIT) {
        struct seg *last = &w->segs[w->nsegs - 1];
        size_t old = strlen(last->text);
        last->text = cli_xrealloc(last->text, old + n + 1);
        memcpy(last->text + old, s, n);
        last->text[old + n] = '\0';
        return;
    }
    add_seg(w, (struct seg){.kind = PH_LIT, .text = cli_xstrndup(s, n)});
}

static void parse_word(struct cli_tmpl *t, struct word *w, const char *z)
{
    const char *lit = z;
    for (const char *p = z; *p; p++) {
        if (*p != '{')
            continue;
        const char *close = strchr(p + 1, '}');
        if (!close)
            cli_die("unbalanced '{' in '%s' (a replacement string is {}, {.}, {1}, ...)", z);
        struct seg s;
        if (!parse_ph(p + 1, (size_t)(close - p - 1), &s))
            continue; /* e.g. awk's '{print $1}': literal text */
        add_lit(w, lit, (size_t)(p - lit));
        add_seg(w, s);
        t->has_ph = 1;
        p = close;
        lit = close + 1;
    }
    add_lit(w, lit, strlen(lit));
}

struct cli_tmpl *cli_tmpl_new(char **words, size_t n, int shell)
{
    struct cli_tmpl *t = cli_xmalloc(sizeof *t);
    memset(t, 0, sizeof *t);
    t->shell = shell;
    if (shell) {
        /* The words form one shell command line, as GNU parallel joins them. */
        struct cli_str line = {0};
        for (size_t i = 0; i < n; i++) {
            if (i)
                cli_str_addc(&line, ' ');
            cli_str_adds(&line, words[i]);
        }
        char *z = cli_str_take(&line);
        t->words = cli_xmalloc(sizeof *t->words);
        memset(t->words, 0, sizeof *t->words);
        t->nwords = 1;
        parse_word(t, &t->words[0], z);
        free(z);
        return t;
    }
    t->words = cli_xmalloc(n * sizeof *t->words);
    memset(t->words, 0, n * sizeof *t->words);
    t->nwords = n;
    for (size_t i = 0; i < n; i++)
        parse_word(t, &t->words[i], words[i]);
    return t;
}

void cli_tmpl_free(struct cli_tmpl *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nwords; i++) {
        for (size_t k = 0; k < t->words[i].nsegs; k++)
            free(t->words[i].segs[k].text);
        free(t->words[i].segs);
    }
    free(t->words);
    free(t);
}

int cli_tmpl_cmd_varies(const struct cli_tmpl *t)
{
    if (t->shell || t->nwords == 0)
        return 0;
    for (size_t k = 0; k < t->words[0].nsegs; k++)
        if (t->words[0].segs[k].kind != PH_LIT)
            return 1;
    return 0;
}

long cli_tmpl_max_src(const struct cli_tmpl *t)
{
    long m = 0;
    for (size_t i = 0; i < t->nwords; i++)
        for (size_t k = 0; k < t->words[i].nsegs; k++) {
            long s = t->words[i].segs[k].src;
            if (s < 0)
                s = -s;
            if (s > m)
                m = s;
        }
    return m;
}

/* ---- values ------------------------------------------------------------------------ */

static void add_transformed(struct cli_str *out, const char *v, int mod)
{
    if (mod == MOD_DIR) {
        char *copy = cli_xstrdup(v);
        cli_str_adds(out, dirname(copy)); /* POSIX dirname, as Perl's File::Basename */
        free(copy);
        return;
    }
    if (mod == MOD_BASE || mod == MOD_BASE_EXT) {
        const char *slash = strrchr(v, '/');
        if (slash)
            v = slash + 1;
    }
    size_t n = strlen(v);
    if (mod == MOD_EXT || mod == MOD_BASE_EXT) {
        /* GNU parallel removes /\.[^\/.]*$/: the last dot, if no slash follows it. */
        const char *dot = strrchr(v, '.');
        if (dot && !strchr(dot, '/'))
            n = (size_t)(dot - v);
    }
    cli_str_add(out, v, n);
}

static void add_value(struct cli_str *out, const char *v, int mod, int quote)
{
    if (!quote) {
        add_transformed(out, v, mod);
        return;
    }
    struct cli_str tmp = {0};
    add_transformed(&tmp, v, mod);
    char *z = cli_str_take(&tmp);
    cli_shell_quote(out, z);
    free(z);
}

static void add_num(struct cli_str *out, long n)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", n);
    cli_str_adds(out, buf);
}

struct job_vals {
    char *const *args;
    size_t nargs;
    long seq, slot;
};

static void expand_seg(struct cli_str *out, const struct seg *s, const struct job_vals *jv,
                       int quote)
{
    switch (s->kind) {
    case PH_LIT:
        cli_str_adds(out, s->text);
        break;
    case PH_SEQ:
        add_num(out, jv->seq);
        break;
    case PH_SLOT:
        add_num(out, jv->slot);
        break;
    default:
        if (s->src == 0) {
            for (size_t i = 0; i < jv->nargs; i++) {
                if (i)
                    cli_str_addc(out, ' ');
                add_value(out, jv->args[i], s->mod, quote);
            }
        } else {
            long i = s->src > 0 ? s->src - 1 : (long)jv->nargs + s->src;
            if (i >= 0 && (size_t)i < jv->nargs)
                add_value(out, jv->args[i], s->mod, quote);
        }
        break;
    }
}

/* ---- argv ---------------------------------------------------------------------------- */

struct vec {
    char **v;
    size_t n;
};

static void vec_push(struct vec *v, char *s)
{
    v->v = cli_xrealloc(v->v, (v->n + 2) * sizeof(char *));
    v->v[v->n++] = s;
    v->v[v->n] = NULL;
}

static void expand_word(struct vec *argv, const struct word *w, const struct job_vals *jv)
{
    /* A word that is exactly {} (or {.} ...) gives one argument per source, as
     * `parallel -q` does; inside other text the values are joined with spaces. */
    if (w->nsegs == 1 && w->segs[0].kind == PH_ARG && w->segs[0].src == 0 && jv->nargs > 1) {
        for (size_t i = 0; i < jv->nargs; i++) {
            struct cli_str s = {0};
            add_transformed(&s, jv->args[i], w->segs[0].mod);
            vec_push(argv, cli_str_take(&s));
        }
        return;
    }
    struct cli_str s = {0};
    for (size_t k = 0; k < w->nsegs; k++)
        expand_seg(&s, &w->segs[k], jv, 0);
    vec_push(argv, cli_str_take(&s));
}

char **cli_tmpl_expand(const struct cli_tmpl *t, char *const *args, size_t nargs, long seq,
                       long slot)
{
    struct job_vals jv = {args, nargs, seq, slot};
    struct vec argv = {0};
    if (t->shell) {
        struct cli_str line = {0};
        for (size_t k = 0; k < t->words[0].nsegs; k++)
            expand_seg(&line, &t->words[0].segs[k], &jv, 1);
        for (size_t i = 0; !t->has_ph && i < nargs; i++) {
            cli_str_addc(&line, ' ');
            cli_shell_quote(&line, args[i]);
        }
        vec_push(&argv, cli_xstrdup("/bin/sh"));
        vec_push(&argv, cli_xstrdup("-c"));
        vec_push(&argv, cli_str_take(&line));
        return argv.v;
    }
    for (size_t i = 0; i < t->nwords; i++)
        expand_word(&argv, &t->words[i], &jv);
    for (size_t i = 0; !t->has_ph && i < nargs; i++)
        vec_push(&argv, cli_xstrdup(args[i]));
    return argv.v;
}

void cli_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **p = argv; *p; p++)
        free(*p);
    free(argv);
}

/* ---- quoting ------------------------------------------------------------------------- */

void cli_shell_quote(struct cli_str *out, const char *s)
{
    int safe = *s != '\0';
    for (const char *p = s; *p && safe; p++)
        safe = isalnum((unsigned char)*p) || strchr("_@%+=:,./-", *p) != NULL;
    if (safe) {
        cli_str_adds(out, s);
        return;
    }
    cli_str_addc(out, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            cli_str_adds(out, "'\"'\"'");
        else
            cli_str_addc(out, *p);
    }
    cli_str_addc(out, '\'');
}

char *cli_cmdline(char *const *argv, int shell)
{
    if (shell)
        return cli_xstrdup(argv[2]);
    struct cli_str s = {0};
    for (size_t i = 0; argv[i]; i++) {
        if (i)
            cli_str_addc(&s, ' ');
        cli_shell_quote(&s, argv[i]);
    }
    return cli_str_take(&s);
}
