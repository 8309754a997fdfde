/* selector.c: label and field selectors (see selector.h).
 *
 * The label selector parser follows k8s.io/apimachinery/pkg/labels token by token: a lexer
 * turns the text into identifiers, the keywords `in`/`notin` and the symbols
 * = == != ! ( ) , > <, then a recursive-descent parser builds requirements and validates
 * keys (qualified names) and values (label values) with the error wording of
 * k8s.io/apimachinery/pkg/util/validation, so a 400 Status reads like the real API's.
 * `a>1` and `a<1` (Gt/Lt, integers only) are accepted because the real parser accepts them.
 *
 * Field selectors follow k8s.io/apimachinery/pkg/fields: comma-joined f=v / f==v / f!=v
 * terms, no whitespace trimming, backslash escapes \, \= \\ in values. Matching resolves
 * the dotted field path in the object. A small table maps the few selectable fields that
 * are not plain paths, as the kinds' field label functions do in Kubernetes:
 *   source              (Event) source.component, else reportingController
 *   spec.unschedulable  (Node)  a missing value reads "false" (a Go bool's zero value)
 *   spec.hostNetwork    (Pod)   a missing value reads "false"
 *
 * Depends on jansson only. */
#include "selector.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------ */
/* Small helpers                                                                         */
/* ------------------------------------------------------------------------------------ */

static void sel_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sel_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A growable byte buffer for building messages; on allocation failure it stays short
 * and the caller reports what it has. */
typedef struct sel_buf_s {
    char  *p;
    size_t len, cap;
} sel_buf_t;

static void sel_buf_add(sel_buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sel_buf_str(sel_buf_t *b, const char *s) { sel_buf_add(b, s, strlen(s)); }

static const char *sel_buf_cstr(const sel_buf_t *b) { return b->p ? b->p : ""; }

/* Go's %#v / %q of a string: double quotes, with quotes, backslashes and control bytes
 * escaped. Bytes >= 0x80 pass through (labels are UTF-8). */
static void sel_buf_goquote(sel_buf_t *b, const char *s)
{
    sel_buf_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char tmp[8];
        switch (c) {
        case '"':  sel_buf_add(b, "\\\"", 2); break;
        case '\\': sel_buf_add(b, "\\\\", 2); break;
        case '\n': sel_buf_add(b, "\\n", 2); break;
        case '\t': sel_buf_add(b, "\\t", 2); break;
        case '\r': sel_buf_add(b, "\\r", 2); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(tmp, sizeof tmp, "\\x%02x", c);
                sel_buf_str(b, tmp);
            } else {
                sel_buf_add(b, (const char *)s, 1);
            }
        }
    }
    sel_buf_add(b, "\"", 1);
}

static int sel_is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ------------------------------------------------------------------------------------ */
/* Validation with Kubernetes' wording (k8s.io/apimachinery/pkg/util/validation)        */
/* ------------------------------------------------------------------------------------ */

#define QNAME_FMT  "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define QNAME_MSG  "must consist of alphanumeric characters, '-', '_' or '.', and must " \
                   "start and end with an alphanumeric character"
#define QNAME_EX   "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for " \
                   "validation is '" QNAME_FMT "')"
#define DNS1123_FMT "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
#define DNS1123_MSG "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric " \
                    "characters, '-' or '.', and must start and end with an alphanumeric " \
                    "character (e.g. 'example.com', regex used for validation is '" \
                    DNS1123_FMT "')"
#define LVALUE_MSG "a valid label must be an empty string or consist of alphanumeric " \
                   "characters, '-', '_' or '.', and must start and end with an alphanumeric " \
                   "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for " \
                   "validation is '(" QNAME_FMT ")?')"

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] over s[0..n). */
static int sel_qname_ok(const char *s, size_t n)
{
    if (n == 0 || !sel_is_alnum(s[0]) || !sel_is_alnum(s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!sel_is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return 0;
    return 1;
}

/* RFC 1123 subdomain: dot-separated labels of [a-z0-9-], each starting and ending
 * alphanumeric. */
static int sel_dns1123_ok(const char *s, size_t n)
{
    size_t start = 0;
    if (n == 0)
        return 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            size_t len = i - start;
            if (len == 0)
                return 0;
            char a = s[start], z = s[i - 1];
            if (!((a >= 'a' && a <= 'z') || (a >= '0' && a <= '9')))
                return 0;
            if (!((z >= 'a' && z <= 'z') || (z >= '0' && z <= '9')))
                return 0;
            for (size_t j = start; j < i; j++) {
                char c = s[j];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
                    return 0;
            }
            start = i + 1;
        }
    }
    return 1;
}

static void sel_join(sel_buf_t *b, int *n, const char *msg)
{
    if ((*n)++)
        sel_buf_str(b, "; ");
    sel_buf_str(b, msg);
}

/* IsQualifiedName: appends the problems joined by "; " to b, returns how many. */
static int sel_check_qname(const char *k, sel_buf_t *b)
{
    int n = 0;
    const char *slash = strchr(k, '/');
    const char *name = k;
    if (slash && strchr(slash + 1, '/')) {
        sel_join(b, &n, "a qualified name " QNAME_MSG " " QNAME_EX
                 " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
        return n;
    }
    if (slash) {
        size_t plen = (size_t)(slash - k);
        name = slash + 1;
        if (plen == 0)
            sel_join(b, &n, "prefix part must be non-empty");
        else {
            if (plen > 253)
                sel_join(b, &n, "prefix part must be no more than 253 characters");
            if (!sel_dns1123_ok(k, plen))
                sel_join(b, &n, "prefix part " DNS1123_MSG);
        }
    }
    size_t nlen = strlen(name);
    if (nlen == 0)
        sel_join(b, &n, "name part must be non-empty");
    else if (nlen > 63)
        sel_join(b, &n, "name part must be no more than 63 characters");
    if (!sel_qname_ok(name, nlen))
        sel_join(b, &n, "name part " QNAME_MSG " " QNAME_EX);
    return n;
}

/* IsValidLabelValue. */
static int sel_check_lvalue(const char *v, sel_buf_t *b)
{
    int n = 0;
    size_t len = strlen(v);
    if (len > 63)
        sel_join(b, &n, "must be no more than 63 characters");
    if (len > 0 && !sel_qname_ok(v, len))
        sel_join(b, &n, LVALUE_MSG);
    return n;
}

/* field.Invalid(path, value, detail).Error(): `<path>: Invalid value: "<v>": <detail>`. */
static void sel_invalid(sel_buf_t *out, const char *path, const char *value,
                        const char *detail)
{
    sel_buf_str(out, path);
    sel_buf_str(out, ": Invalid value: ");
    sel_buf_goquote(out, value);
    sel_buf_str(out, ": ");
    sel_buf_str(out, detail);
}

/* ------------------------------------------------------------------------------------ */
/* Label selectors                                                                       */
/* ------------------------------------------------------------------------------------ */

typedef enum {
    LOP_IN, LOP_NOTIN, LOP_EQ, LOP_DEQ, LOP_NEQ, LOP_EXISTS, LOP_NOTEXISTS, LOP_GT, LOP_LT
} label_op_t;

typedef struct label_req_s {
    char       *key;
    label_op_t  op;
    char      **values;   /* sorted, without duplicates */
    size_t      nvalues;
    long long   num;      /* the integer of Gt/Lt */
} label_req_t;

struct label_selector_s {
    int          nothing;  /* matches no object (from a null LabelSelector) */
    label_req_t *reqs;
    size_t       nreqs, cap;
};

static void label_req_release(label_req_t *r)
{
    free(r->key);
    for (size_t i = 0; i < r->nvalues; i++)
        free(r->values[i]);
    free(r->values);
}

void label_selector_free(label_selector_t *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->nreqs; i++)
        label_req_release(&sel->reqs[i]);
    free(sel->reqs);
    free(sel);
}

static int sel_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Go's strconv.ParseInt(s, 10, 64). */
static int sel_parse_int(const char *s, long long *out)
{
    const char *p = s;
    char *end;
    if (*p == '+' || *p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return 0;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return 0;
    *out = v;
    return 1;
}

/* Append one requirement, as labels.NewRequirement does: validates the key (under path
 * "key"), the number of values and each value (under "values[i][key]"). Takes ownership
 * of key and vals[0..nvals) whatever the outcome. Returns 0 with err set on failure.
 * check_key is 0 when the parser already validated the key with its own path. */
static int label_add_req(label_selector_t *sel, char *key, label_op_t op, char **vals,
                         size_t nvals, int check_key, char *err, size_t errlen,
                         const char *prefix)
{
    label_req_t r = { .key = key, .op = op, .values = vals, .nvalues = nvals };
    sel_buf_t msg = {0};
    int nerr = 0;

    /* sets.String: sorted, unique */
    if (nvals > 1) {
        qsort(vals, nvals, sizeof *vals, sel_strcmp);
        size_t w = 1;
        for (size_t i = 1; i < nvals; i++) {
            if (strcmp(vals[i], vals[w - 1]) == 0)
                free(vals[i]);
            else
                vals[w++] = vals[i];
        }
        r.nvalues = nvals = w;
    }

    /* The problems are gathered into an aggregate (utilerrors.NewAggregate): one prints
     * alone, several as "[e1, e2]". agg holds them joined by ", ". */
    sel_buf_t agg = {0};
    int nparts = 0;
#define NEXT_PART() do { if (nparts++) sel_buf_str(&agg, ", "); } while (0)

    if (check_key) {
        sel_buf_t d = {0};
        if (sel_check_qname(key, &d)) {
            NEXT_PART();
            sel_invalid(&agg, "key", key, sel_buf_cstr(&d));
        }
        free(d.p);
    }
    const char *count_problem = NULL;
    switch (op) {
    case LOP_IN: case LOP_NOTIN:
        if (nvals == 0)
            count_problem = "for 'in', 'notin' operators, values set can't be empty";
        break;
    case LOP_EQ: case LOP_DEQ: case LOP_NEQ:
        if (nvals != 1)
            count_problem = "exact-match compatibility requires one single value";
        break;
    case LOP_EXISTS: case LOP_NOTEXISTS:
        if (nvals != 0)
            count_problem = "values set must be empty for exists and does not exist";
        break;
    case LOP_GT: case LOP_LT:
        if (nvals != 1)
            count_problem = "for 'Gt', 'Lt' operators, exactly one value is required";
        break;
    }
    if (count_problem) {
        NEXT_PART();
        sel_buf_str(&agg, "values: Invalid value: []string{");
        for (size_t i = 0; i < nvals; i++) {
            if (i)
                sel_buf_str(&agg, ", ");
            sel_buf_goquote(&agg, vals[i]);
        }
        sel_buf_str(&agg, "}: ");
        sel_buf_str(&agg, count_problem);
    }
    if (op == LOP_GT || op == LOP_LT) {
        for (size_t i = 0; i < nvals; i++) {
            if (!sel_parse_int(vals[i], &r.num)) {
                char path[32];
                snprintf(path, sizeof path, "values[%zu]", i);
                NEXT_PART();
                sel_invalid(&agg, path, vals[i],
                            "for 'Gt', 'Lt' operators, the value must be an integer");
            }
        }
    }
    for (size_t i = 0; i < nvals; i++) {
        sel_buf_t d = {0};
        if (sel_check_lvalue(vals[i], &d)) {
            sel_buf_t path = {0};
            char idx[32];
            snprintf(idx, sizeof idx, "values[%zu][", i);
            sel_buf_str(&path, idx);
            sel_buf_str(&path, key);
            sel_buf_str(&path, "]");
            NEXT_PART();
            sel_invalid(&agg, sel_buf_cstr(&path), vals[i], sel_buf_cstr(&d));
            free(path.p);
        }
        free(d.p);
    }
#undef NEXT_PART

    if (nparts) {
        if (prefix)
            sel_buf_str(&msg, prefix);
        if (nparts > 1)
            sel_buf_str(&msg, "[");
        sel_buf_str(&msg, sel_buf_cstr(&agg));
        if (nparts > 1)
            sel_buf_str(&msg, "]");
        sel_err(err, errlen, "%s", sel_buf_cstr(&msg));
        nerr = 1;
    }
    free(agg.p);
    free(msg.p);
    if (nerr) {
        label_req_release(&r);
        return 0;
    }
    if (sel->nreqs == sel->cap) {
        size_t cap = sel->cap ? sel->cap * 2 : 4;
        label_req_t *p = realloc(sel->reqs, cap * sizeof *p);
        if (!p) {
            label_req_release(&r);
            sel_err(err, errlen, "out of memory");
            return 0;
        }
        sel->reqs = p;
        sel->cap = cap;
    }
    sel->reqs[sel->nreqs++] = r;
    return 1;
}

/* ---- lexer ---- */

typedef enum {
    TOK_ERROR, TOK_EOS, TOK_CLOSEPAR, TOK_COMMA, TOK_NOTEXISTS, TOK_DEQ, TOK_EQ, TOK_GT,
    TOK_IDENT, TOK_IN, TOK_LT, TOK_NEQ, TOK_NOTIN, TOK_OPENPAR
} lex_tok_t;

typedef struct lex_item_s {
    lex_tok_t   tok;
    const char *lit;      /* points into the text (or a static string) */
    size_t      len;
} lex_item_t;

static int lex_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int lex_special(char c)
{
    return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

static lex_tok_t lex_symbol(const char *s, size_t n)
{
    static const struct { const char *s; lex_tok_t t; } tab[] = {
        { ")", TOK_CLOSEPAR }, { ",", TOK_COMMA }, { "!", TOK_NOTEXISTS },
        { "==", TOK_DEQ }, { "=", TOK_EQ }, { ">", TOK_GT }, { "<", TOK_LT },
        { "!=", TOK_NEQ }, { "(", TOK_OPENPAR },
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strlen(tab[i].s) == n && memcmp(tab[i].s, s, n) == 0)
            return tab[i].t;
    return TOK_ERROR;
}

/* One token from *pos. Longest match over the symbol table, as the Go lexer does:
 * it extends the symbol while the buffer is still a known token. */
static lex_item_t lex_next(const char *s, size_t *pos)
{
    size_t i = *pos;
    lex_item_t it = { TOK_EOS, "", 0 };
    while (s[i] && lex_space(s[i]))
        i++;
    if (!s[i]) {
        *pos = i;
        return it;
    }
    if (lex_special(s[i])) {
        size_t start = i, n = 0;
        lex_tok_t last = TOK_ERROR;
        size_t lastn = 0;
        while (s[start + n] && lex_special(s[start + n])) {
            n++;
            lex_tok_t t = lex_symbol(s + start, n);
            if (t != TOK_ERROR) {
                last = t;
                lastn = n;
            } else if (last != TOK_ERROR) {
                break;
            }
        }
        it.lit = s + start;
        if (last == TOK_ERROR) {
            it.tok = TOK_ERROR;
            it.len = n;
            *pos = start + n;
        } else {
            it.tok = last;
            it.len = lastn;
            *pos = start + lastn;
        }
        return it;
    }
    size_t start = i;
    while (s[i] && !lex_special(s[i]) && !lex_space(s[i]))
        i++;
    it.lit = s + start;
    it.len = i - start;
    it.tok = TOK_IDENT;
    if (it.len == 2 && memcmp(it.lit, "in", 2) == 0)
        it.tok = TOK_IN;
    else if (it.len == 5 && memcmp(it.lit, "notin", 5) == 0)
        it.tok = TOK_NOTIN;
    *pos = i;
    return it;
}

/* ---- parser ---- */

typedef struct lp_s {
    lex_item_t *items;
    size_t      n, pos;
    char       *err;
    size_t      errlen;
} lp_t;

/* In the Values context the keywords in/notin are plain identifiers (a value may be
 * "in"). Past the end of the items we keep returning end of string. */
static lex_item_t lp_peek(lp_t *p, int values)
{
    lex_item_t it = p->items[p->pos < p->n ? p->pos : p->n - 1];
    if (values && (it.tok == TOK_IN || it.tok == TOK_NOTIN))
        it.tok = TOK_IDENT;
    return it;
}

static lex_item_t lp_take(lp_t *p, int values)
{
    lex_item_t it = lp_peek(p, values);
    if (p->pos < p->n)
        p->pos++;
    return it;
}

static char *lp_dup(const lex_item_t *it)
{
    char *s = malloc(it->len + 1);
    if (s) {
        memcpy(s, it->lit, it->len);
        s[it->len] = '\0';
    }
    return s;
}

#define REQ_PREFIX "unable to parse requirement: "

/* fmt holds one %.*s for the literal of it. Returns 0 for the caller to pass on. */
static int lp_fail(lp_t *p, const char *fmt, const lex_item_t *it)
{
    sel_err(p->err, p->errlen, fmt, (int)it->len, it->lit);
    return 0;
}

/* Values of `in (...)` / `notin (...)`: "()" gives one empty value, "(,a)" also holds
 * the empty value, as the Go parser does. */
static int lp_values(lp_t *p, char ***vals, size_t *nvals)
{
    lex_item_t it = lp_take(p, 1);
    size_t cap = 0;
    *vals = NULL;
    *nvals = 0;
#define PUSH(ptr) do { \
        char *v_ = (ptr); \
        if (!v_) goto oom; \
        if (*nvals == cap) { \
            size_t c_ = cap ? cap * 2 : 4; \
            char **q_ = realloc(*vals, c_ * sizeof *q_); \
            if (!q_) { free(v_); goto oom; } \
            *vals = q_; cap = c_; \
        } \
        (*vals)[(*nvals)++] = v_; \
    } while (0)

    if (it.tok != TOK_OPENPAR)
        return lp_fail(p, REQ_PREFIX "found '%.*s' expected: '('", &it);
    lex_item_t first = lp_peek(p, 1);
    if (first.tok == TOK_CLOSEPAR) {
        lp_take(p, 1);
        PUSH(strdup(""));
        return 1;
    }
    if (first.tok != TOK_IDENT && first.tok != TOK_COMMA)
        return lp_fail(p, REQ_PREFIX "found '%.*s', expected: ',', ')' or identifier", &first);
    for (;;) {
        lex_item_t t = lp_take(p, 1);
        if (t.tok == TOK_IDENT) {
            PUSH(lp_dup(&t));
            lex_item_t t2 = lp_peek(p, 1);
            if (t2.tok == TOK_COMMA)
                continue;
            if (t2.tok == TOK_CLOSEPAR)
                break;
            lp_fail(p, REQ_PREFIX "found '%.*s', expected: ',' or ')'", &t2);
            goto fail;
        } else if (t.tok == TOK_COMMA) {
            if (*nvals == 0)
                PUSH(strdup(""));
            lex_item_t t2 = lp_peek(p, 1);
            if (t2.tok == TOK_CLOSEPAR) {
                PUSH(strdup(""));
                break;
            }
            if (t2.tok == TOK_COMMA) {
                lp_take(p, 1);
                PUSH(strdup(""));
            }
        } else {
            lp_fail(p, REQ_PREFIX "found '%.*s', expected: ',', or identifier", &t);
            goto fail;
        }
    }
    /* the list ended on a lookahead of ')' */
    lp_take(p, 1);
    return 1;
#undef PUSH
oom:
    sel_err(p->err, p->errlen, "out of memory");
fail:
    for (size_t i = 0; i < *nvals; i++)
        free((*vals)[i]);
    free(*vals);
    *vals = NULL;
    *nvals = 0;
    return 0;
}

static int lp_requirement(lp_t *p, label_selector_t *sel)
{
    label_op_t op = LOP_EQ;
    int unary = 0;
    lex_item_t it = lp_take(p, 1);
    if (it.tok == TOK_NOTEXISTS) {
        op = LOP_NOTEXISTS;
        unary = 1;
        it = lp_take(p, 1);
    }
    if (it.tok != TOK_IDENT)
        return lp_fail(p, REQ_PREFIX "found '%.*s', expected: identifier", &it);
    char *key = lp_dup(&it);
    if (!key) {
        sel_err(p->err, p->errlen, "out of memory");
        return 0;
    }
    sel_buf_t d = {0};
    if (sel_check_qname(key, &d)) {
        sel_buf_t m = {0};
        sel_buf_str(&m, REQ_PREFIX);
        sel_invalid(&m, "<nil>", key, sel_buf_cstr(&d));
        sel_err(p->err, p->errlen, "%s", sel_buf_cstr(&m));
        free(m.p);
        free(d.p);
        free(key);
        return 0;
    }
    lex_item_t la = lp_peek(p, 1);
    if (la.tok == TOK_EOS || la.tok == TOK_COMMA) {
        if (!unary)
            op = LOP_EXISTS;
        unary = 1;
    }
    if (unary)
        return label_add_req(sel, key, op, NULL, 0, 0, p->err, p->errlen, REQ_PREFIX);

    lex_item_t ot = lp_take(p, 0);
    switch (ot.tok) {
    case TOK_IN:    op = LOP_IN; break;
    case TOK_NOTIN: op = LOP_NOTIN; break;
    case TOK_EQ:    op = LOP_EQ; break;
    case TOK_DEQ:   op = LOP_DEQ; break;
    case TOK_NEQ:   op = LOP_NEQ; break;
    case TOK_GT:    op = LOP_GT; break;
    case TOK_LT:    op = LOP_LT; break;
    default:
        free(key);
        return lp_fail(p, REQ_PREFIX "found '%.*s', expected: in, notin, =, ==, !=, gt, lt",
                       &ot);
    }
    char **vals = NULL;
    size_t nvals = 0;
    if (op == LOP_IN || op == LOP_NOTIN) {
        if (!lp_values(p, &vals, &nvals)) {
            free(key);
            return 0;
        }
    } else {
        lex_item_t v = lp_peek(p, 1);
        char *one;
        if (v.tok == TOK_EOS || v.tok == TOK_COMMA) {
            one = strdup("");
        } else {
            v = lp_take(p, 1);
            if (v.tok != TOK_IDENT) {
                free(key);
                return lp_fail(p, REQ_PREFIX "found '%.*s', expected: identifier", &v);
            }
            one = lp_dup(&v);
        }
        vals = malloc(sizeof *vals);
        if (!one || !vals) {
            free(one);
            free(vals);
            free(key);
            sel_err(p->err, p->errlen, "out of memory");
            return 0;
        }
        vals[0] = one;
        nvals = 1;
    }
    return label_add_req(sel, key, op, vals, nvals, 0, p->err, p->errlen, REQ_PREFIX);
}

label_selector_t *label_selector_parse(const char *text, char *err, size_t errlen)
{
    label_selector_t *sel = calloc(1, sizeof *sel);
    lp_t p = { .err = err, .errlen = errlen };
    size_t cap = 0, pos = 0;

    if (!sel) {
        sel_err(err, errlen, "out of memory");
        return NULL;
    }
    if (!text)
        return sel;
    /* Scan everything first, as the Go parser does, so lookahead is an index. */
    for (;;) {
        lex_item_t it = lex_next(text, &pos);
        if (p.n == cap) {
            size_t c = cap ? cap * 2 : 16;
            lex_item_t *q = realloc(p.items, c * sizeof *q);
            if (!q) {
                sel_err(err, errlen, "out of memory");
                goto failed;
            }
            p.items = q;
            cap = c;
        }
        p.items[p.n++] = it;
        if (it.tok == TOK_EOS)
            break;
    }
    for (;;) {
        lex_item_t it = lp_peek(&p, 1);
        if (it.tok == TOK_EOS)
            break;
        if (it.tok != TOK_IDENT && it.tok != TOK_NOTEXISTS) {
            lp_fail(&p, "found '%.*s', expected: !, identifier, or 'end of string'", &it);
            goto failed;
        }
        if (!lp_requirement(&p, sel))
            goto failed;
        lex_item_t t = lp_take(&p, 1);
        if (t.tok == TOK_EOS)
            break;
        if (t.tok != TOK_COMMA) {
            lp_fail(&p, "found '%.*s', expected: ',' or 'end of string'", &t);
            goto failed;
        }
        lex_item_t t2 = lp_peek(&p, 1);
        if (t2.tok != TOK_IDENT && t2.tok != TOK_NOTEXISTS) {
            lp_fail(&p, "found '%.*s', expected: identifier after ','", &t2);
            goto failed;
        }
    }
    free(p.items);
    return sel;

failed:
    free(p.items);
    label_selector_free(sel);
    return NULL;
}

static const char *const lsel_ops[] = { "In", "NotIn", "Exists", "DoesNotExist" };

label_selector_t *label_selector_from_json(const json_t *js, char *err, size_t errlen)
{
    label_selector_t *sel = calloc(1, sizeof *sel);
    if (!sel) {
        sel_err(err, errlen, "out of memory");
        return NULL;
    }
    /* metav1.LabelSelectorAsSelector: a nil selector selects nothing, an empty one
     * everything. */
    if (!js || json_is_null(js)) {
        sel->nothing = 1;
        return sel;
    }
    if (!json_is_object(js)) {
        sel_err(err, errlen, "label selector must be an object");
        goto failed;
    }
    const json_t *ml = json_object_get(js, "matchLabels");
    const json_t *me = json_object_get(js, "matchExpressions");
    if (ml && !json_is_null(ml)) {
        if (!json_is_object(ml)) {
            sel_err(err, errlen, "matchLabels must be an object");
            goto failed;
        }
        const char *k;
        json_t *v;
        /* Go ranges over a map in random order; sort for a stable first error. */
        size_t n = json_object_size(ml), i = 0;
        const char **keys = calloc(n ? n : 1, sizeof *keys);
        if (!keys) {
            sel_err(err, errlen, "out of memory");
            goto failed;
        }
        json_object_foreach((json_t *)ml, k, v)
            keys[i++] = k;
        qsort(keys, n, sizeof *keys, sel_strcmp);
        for (i = 0; i < n; i++) {
            v = json_object_get(ml, keys[i]);
            if (!json_is_string(v)) {
                sel_err(err, errlen, "matchLabels.%s: value must be a string", keys[i]);
                free(keys);
                goto failed;
            }
            char *key = strdup(keys[i]);
            char **vals = malloc(sizeof *vals);
            char *val = strdup(json_string_value(v));
            if (!key || !vals || !val) {
                free(key); free(vals); free(val);
                free(keys);
                sel_err(err, errlen, "out of memory");
                goto failed;
            }
            vals[0] = val;
            if (!label_add_req(sel, key, LOP_EQ, vals, 1, 1, err, errlen, NULL)) {
                free(keys);
                goto failed;
            }
        }
        free(keys);
    }
    if (me && !json_is_null(me)) {
        if (!json_is_array(me)) {
            sel_err(err, errlen, "matchExpressions must be an array");
            goto failed;
        }
        size_t i;
        json_t *e;
        json_array_foreach(me, i, e) {
            const char *key = json_string_value(json_object_get(e, "key"));
            const char *opname = json_string_value(json_object_get(e, "operator"));
            const json_t *values = json_object_get(e, "values");
            label_op_t op;
            if (!json_is_object(e)) {
                sel_err(err, errlen, "matchExpressions[%zu] must be an object", i);
                goto failed;
            }
            if (!opname)
                opname = "";
            if (!strcmp(opname, lsel_ops[0]))      op = LOP_IN;
            else if (!strcmp(opname, lsel_ops[1])) op = LOP_NOTIN;
            else if (!strcmp(opname, lsel_ops[2])) op = LOP_EXISTS;
            else if (!strcmp(opname, lsel_ops[3])) op = LOP_NOTEXISTS;
            else {
                sel_buf_t m = {0};
                sel_buf_goquote(&m, opname);
                sel_buf_str(&m, " is not a valid label selector operator");
                sel_err(err, errlen, "%s", sel_buf_cstr(&m));
                free(m.p);
                goto failed;
            }
            if (values && !json_is_null(values) && !json_is_array(values)) {
                sel_err(err, errlen, "matchExpressions[%zu].values must be an array", i);
                goto failed;
            }
            size_t nv = json_array_size(values), j;
            char **vals = nv ? calloc(nv, sizeof *vals) : NULL;
            char *kdup = strdup(key ? key : "");
            if ((nv && !vals) || !kdup) {
                free(vals);
                free(kdup);
                sel_err(err, errlen, "out of memory");
                goto failed;
            }
            for (j = 0; j < nv; j++) {
                const char *s = json_string_value(json_array_get(values, j));
                if (!s || !(vals[j] = strdup(s))) {
                    for (size_t q = 0; q < j; q++)
                        free(vals[q]);
                    free(vals);
                    free(kdup);
                    if (!s)
                        sel_err(err, errlen, "matchExpressions[%zu].values[%zu] must be a string",
                                i, j);
                    else
                        sel_err(err, errlen, "out of memory");
                    goto failed;
                }
            }
            if (!label_add_req(sel, kdup, op, vals, nv, 1, err, errlen, NULL))
                goto failed;
        }
    }
    return sel;

failed:
    label_selector_free(sel);
    return NULL;
}

int label_selector_empty(const label_selector_t *sel)
{
    return sel && !sel->nothing && sel->nreqs == 0;
}

static int label_req_has(const label_req_t *r, const char *v)
{
    /* values are sorted: binary search */
    size_t lo = 0, hi = r->nvalues;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(r->values[mid], v);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

int label_selector_match(const label_selector_t *sel, const json_t *labels)
{
    if (!sel || sel->nothing)
        return 0;
    if (labels && !json_is_object(labels))
        labels = NULL;
    for (size_t i = 0; i < sel->nreqs; i++) {
        const label_req_t *r = &sel->reqs[i];
        const json_t *v = labels ? json_object_get(labels, r->key) : NULL;
        /* A label that is not a string (a malformed object) exists but equals nothing. */
        const char *s = json_string_value(v);
        int ok;
        switch (r->op) {
        case LOP_IN: case LOP_EQ: case LOP_DEQ:
            ok = s && label_req_has(r, s);
            break;
        case LOP_NOTIN: case LOP_NEQ:
            ok = !v || !s || !label_req_has(r, s);
            break;
        case LOP_EXISTS:
            ok = v != NULL;
            break;
        case LOP_NOTEXISTS:
            ok = v == NULL;
            break;
        case LOP_GT: case LOP_LT: {
            long long n;
            ok = s && sel_parse_int(s, &n) &&
                 (r->op == LOP_GT ? n > r->num : n < r->num);
            break;
        }
        default:
            ok = 0;
        }
        if (!ok)
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------------------ */
/* Field selectors                                                                       */
/* ------------------------------------------------------------------------------------ */

typedef struct field_term_s {
    char *field;
    char *value;
    int   neq;      /* 1 for != */
} field_term_t;

struct field_selector_s {
    field_term_t *terms;
    size_t        nterms;
};

/* Selectable fields that are not a plain path in the object. */
typedef struct field_alias_s {
    const char *field;
    const char *path;      /* where to look first */
    const char *fallback;  /* where to look if the first path is empty, or NULL */
    const char *dflt;      /* value when both are missing, or NULL for "" */
} field_alias_t;

static const field_alias_t field_aliases[] = {
    { "source",             "source.component",   "reportingController", NULL },
    { "spec.unschedulable", "spec.unschedulable", NULL,                  "false" },
    { "spec.hostNetwork",   "spec.hostNetwork",   NULL,                  "false" },
};

static const field_alias_t *field_alias(const char *field)
{
    for (size_t i = 0; i < sizeof field_aliases / sizeof field_aliases[0]; i++)
        if (!strcmp(field_aliases[i].field, field))
            return &field_aliases[i];
    return NULL;
}

void field_selector_free(field_selector_t *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->nterms; i++) {
        free(sel->terms[i].field);
        free(sel->terms[i].value);
    }
    free(sel->terms);
    free(sel);
}

/* fields.UnescapeValue into a new string, or NULL with err. */
static char *field_unescape(const char *s, size_t n, char *err, size_t errlen)
{
    char *out = malloc(n + 1);
    size_t w = 0;
    int slash = 0;
    if (!out) {
        sel_err(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (slash) {
            if (c == '\\' || c == ',' || c == '=') {
                out[w++] = c;
            } else {
                /* Go prints the rune; copy a whole UTF-8 sequence */
                size_t len = 1;
                unsigned char u = (unsigned char)c;
                if (u >= 0xf0) len = 4;
                else if (u >= 0xe0) len = 3;
                else if (u >= 0xc0) len = 2;
                if (i + len > n)
                    len = n - i;
                sel_err(err, errlen, "invalid field selector: invalid escape sequence: \\%.*s",
                        (int)len, s + i);
                free(out);
                return NULL;
            }
            slash = 0;
            continue;
        }
        if (c == '\\') {
            slash = 1;
        } else if (c == ',' || c == '=') {
            sel_err(err, errlen, "invalid field selector: unescaped character in value: %c", c);
            free(out);
            return NULL;
        } else {
            out[w++] = c;
        }
    }
    if (slash) {
        sel_err(err, errlen, "invalid field selector: invalid escape sequence: \\");
        free(out);
        return NULL;
    }
    out[w] = '\0';
    return out;
}

static int field_allowed(const char *f, const char *const *allowed)
{
    if (!strcmp(f, "metadata.name") || !strcmp(f, "metadata.namespace"))
        return 1;
    for (; allowed && *allowed; allowed++)
        if (!strcmp(*allowed, f))
            return 1;
    return 0;
}

field_selector_t *field_selector_parse(const char *text, const char *const *allowed,
                                       char *err, size_t errlen)
{
    field_selector_t *sel = calloc(1, sizeof *sel);
    size_t cap = 0;
    if (!sel) {
        sel_err(err, errlen, "out of memory");
        return NULL;
    }
    if (!text || !*text)
        return sel;

    size_t i = 0, start = 0;
    int slash = 0;
    for (;;) {
        char c = text[i];
        if (c && slash) {
            slash = 0;
        } else if (c == '\\') {
            slash = 1;
        } else if (c == ',' || c == '\0') {
            const char *part = text + start;
            size_t plen = i - start;
            if (plen) {
                /* The first operator from the left, trying != then == then = at each
                 * position (fields.splitTerm). */
                size_t j, oplen = 0;
                int neq = 0;
                for (j = 0; j < plen; j++) {
                    if (j + 1 < plen && part[j] == '!' && part[j + 1] == '=') {
                        oplen = 2; neq = 1; break;
                    }
                    if (j + 1 < plen && part[j] == '=' && part[j + 1] == '=') {
                        oplen = 2; break;
                    }
                    if (part[j] == '=') {
                        oplen = 1; break;
                    }
                }
                if (!oplen) {
                    sel_err(err, errlen, "invalid selector: '%s'; can't understand '%.*s'",
                            text, (int)plen, part);
                    goto failed;
                }
                if (sel->nterms == cap) {
                    size_t ncap = cap ? cap * 2 : 4;
                    field_term_t *q = realloc(sel->terms, ncap * sizeof *q);
                    if (!q) {
                        sel_err(err, errlen, "out of memory");
                        goto failed;
                    }
                    sel->terms = q;
                    cap = ncap;
                }
                field_term_t *t = &sel->terms[sel->nterms];
                t->neq = neq;
                t->field = strndup(part, j);
                if (!t->field) {
                    sel_err(err, errlen, "out of memory");
                    goto failed;
                }
                t->value = field_unescape(part + j + oplen, plen - j - oplen, err, errlen);
                if (!t->value) {
                    free(t->field);
                    goto failed;
                }
                sel->nterms++;
            }
            if (c == '\0')
                break;
            start = i + 1;
        }
        i++;
    }
    /* The field label check comes after the syntax, as in the API server where the
     * selector is parsed before the kind's field label conversion sees it. */
    for (i = 0; i < sel->nterms; i++) {
        if (!field_allowed(sel->terms[i].field, allowed)) {
            sel_err(err, errlen, "field label not supported: %s", sel->terms[i].field);
            goto failed;
        }
    }
    return sel;

failed:
    field_selector_free(sel);
    return NULL;
}

int field_selector_empty(const field_selector_t *sel)
{
    return !sel || sel->nterms == 0;
}

/* The value at a dotted path, or NULL. */
static const json_t *field_lookup(const json_t *obj, const char *path)
{
    const json_t *cur = obj;
    const char *p = path;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!json_is_object(cur))
            return NULL;
        cur = json_object_getn(cur, p, n);
        if (!dot)
            break;
        p = dot + 1;
    }
    return cur;
}

/* The string form of a field, into buf (for numbers and booleans) or borrowed from the
 * object; "" for missing, null and containers. */
static const char *field_scalar(const json_t *v, char *buf, size_t buflen)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_true(v))
        return "true";
    if (json_is_false(v))
        return "false";
    if (json_is_integer(v)) {
        snprintf(buf, buflen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        /* the shortest form that reads back the same */
        double d = json_real_value(v);
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, buflen, "%.*g", prec, d);
            if (strtod(buf, NULL) == d)
                break;
        }
        return buf;
    }
    return NULL;
}

static const char *field_value(const json_t *obj, const char *field, char *buf, size_t n)
{
    const field_alias_t *a = field_alias(field);
    const char *s = field_scalar(field_lookup(obj, a ? a->path : field), buf, n);
    if (a && (!s || !*s) && a->fallback)
        s = field_scalar(field_lookup(obj, a->fallback), buf, n);
    if (!s || (!*s && a && a->dflt))
        s = a && a->dflt ? a->dflt : "";
    return s;
}

int field_selector_match(const field_selector_t *sel, const json_t *obj)
{
    if (!sel)
        return 0;
    for (size_t i = 0; i < sel->nterms; i++) {
        char buf[64];
        const field_term_t *t = &sel->terms[i];
        int eq = strcmp(field_value(obj, t->field, buf, sizeof buf), t->value) == 0;
        if (eq == t->neq)
            return 0;
    }
    return 1;
}

static const char *field_pinned(const field_selector_t *sel, const char *field)
{
    if (!sel)
        return NULL;
    for (size_t i = 0; i < sel->nterms; i++)
        if (!sel->terms[i].neq && !strcmp(sel->terms[i].field, field))
            return sel->terms[i].value;
    return NULL;
}

const char *field_selector_name(const field_selector_t *sel)
{
    return field_pinned(sel, "metadata.name");
}

const char *field_selector_namespace(const field_selector_t *sel)
{
    return field_pinned(sel, "metadata.namespace");
}

/* ------------------------------------------------------------------------------------ */
/* Projection                                                                            */
/* ------------------------------------------------------------------------------------ */

/* Copy obj's value at path into out at the same path, creating objects on the way.
 * Returns 0 only on allocation failure. */
static int proj_copy(json_t *out, const json_t *obj, const char *path)
{
    const json_t *v = field_lookup(obj, path);
    json_t *cur = out;
    const char *p = path;
    if (!v)
        return 1;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!dot) {
            json_t *copy = json_deep_copy(v);
            return copy && json_object_setn_new(cur, p, n, copy) == 0;
        }
        json_t *next = json_object_getn(cur, p, n);
        if (!next) {
            next = json_object();
            if (!next || json_object_setn_new(cur, p, n, next) != 0)
                return 0;
        } else if (!json_is_object(next)) {
            /* a shorter allowed path already copied a scalar here */
            return 1;
        }
        cur = next;
        p = dot + 1;
    }
}

json_t *selector_projection(const json_t *obj, const char *const *allowed)
{
    static const char *const base[] = {
        "metadata.name", "metadata.namespace", "metadata.labels"
    };
    json_t *out = json_object();
    if (!out)
        return NULL;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        if (!proj_copy(out, obj, base[i]))
            goto failed;
    for (; allowed && *allowed; allowed++) {
        const field_alias_t *a = field_alias(*allowed);
        if (!proj_copy(out, obj, a ? a->path : *allowed))
            goto failed;
        if (a && a->fallback && !proj_copy(out, obj, a->fallback))
            goto failed;
    }
    return out;

failed:
    json_decref(out);
    return NULL;
}
