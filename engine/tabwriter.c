/* tabwriter.c: Go's text/tabwriter as kubectl uses it (see tabwriter.h).
 *
 * A port of Go's text/tabwriter (minus escapes, HTML filtering, alignment and debug flags,
 * which kubectl does not use) with liggitt/tabwriter's RememberWidths. Text is collected into
 * cells, one line of cells after the other; a block of lines ends at a line of a single cell
 * (or a '\f'), and is then formatted column by column as Go does: a column is as wide as its
 * widest cell plus padding (at least minwidth), over the consecutive lines that have it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tabwriter.h"

/* The text of the buffered cells. */
typedef struct tw_text_s {
    char *data;
    size_t len, cap;
    int oom;             /* an append failed: later ones are dropped */
} tw_text_t;

static void text_add(tw_text_t *b, const char *s, size_t n)
{
    size_t need = b->len + n + 1, cap = b->cap ? b->cap : 4096;
    if (b->oom)
        return;
    if (need > b->cap) {
        while (cap < need)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) {
            b->oom = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

typedef struct tw_cell_s {
    size_t size;   /* bytes */
    size_t width;  /* runes */
    int htab;      /* ended by a tab */
} tw_cell_t;

typedef struct tw_line_s {
    tw_cell_t *cells;
    size_t n, cap;
} tw_line_t;

typedef struct size_vec_s {
    size_t *v;
    size_t n, cap;
} size_vec_t;

struct tabwriter_s {
    FILE *out;
    size_t minwidth, padding;
    int remember;
    tw_text_t buf;       /* the text of all cells */
    size_t pos;          /* buf offset up to which the current cell's width is counted */
    tw_cell_t cell;      /* the cell being collected */
    tw_line_t *lines;
    size_t nlines, caplines;
    size_vec_t widths;   /* stack of the current column widths while formatting */
    size_vec_t maxwidths;
    size_t written;
};

static int vec_push(size_vec_t *s, size_t x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        size_t *nv = realloc(s->v, cap * sizeof(*nv));
        if (!nv)
            return -1;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    return 0;
}

static void tw_add_line(tabwriter_t *tw)
{
    if (tw->nlines == tw->caplines) {
        size_t cap = tw->caplines ? tw->caplines * 2 : 16;
        tw_line_t *nl = realloc(tw->lines, cap * sizeof(*nl));
        if (!nl)
            return;
        tw->lines = nl;
        tw->caplines = cap;
    }
    memset(&tw->lines[tw->nlines++], 0, sizeof(tw_line_t));
}

static void tw_reset(tabwriter_t *tw)
{
    tw->buf.len = 0;
    tw->pos = 0;
    memset(&tw->cell, 0, sizeof(tw->cell));
    for (size_t i = 0; i < tw->nlines; i++)
        free(tw->lines[i].cells);
    tw->nlines = 0;
    tw->widths.n = 0;
    tw_add_line(tw);
}

tabwriter_t *tabwriter_create(FILE *out, int minwidth, int padding, int remember_widths)
{
    tabwriter_t *tw = calloc(1, sizeof(*tw));
    if (!tw)
        return NULL;
    tw->out = out;
    tw->minwidth = minwidth > 0 ? (size_t)minwidth : 0;
    tw->padding = padding > 0 ? (size_t)padding : 0;
    tw->remember = remember_widths;
    tw_reset(tw);
    return tw;
}

static void tw_out(tabwriter_t *tw, const char *s, size_t n)
{
    if (n) {
        fwrite(s, 1, n, tw->out);
        tw->written += n;
    }
}

static void tw_pad(tabwriter_t *tw, size_t textw, size_t cellw)
{
    static const char spaces[] = "                                ";
    size_t n = cellw > textw ? cellw - textw : 0;
    while (n > 0) {
        size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
        tw_out(tw, spaces, k);
        n -= k;
    }
}

static size_t rune_count(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            c++;
    return c;
}

static void tw_update_width(tabwriter_t *tw)
{
    tw->cell.width += rune_count(tw->buf.data + tw->pos, tw->buf.len - tw->pos);
    tw->pos = tw->buf.len;
}

static size_t tw_terminate_cell(tabwriter_t *tw, int htab)
{
    tw_line_t *line = &tw->lines[tw->nlines - 1];
    tw->cell.htab = htab;
    if (line->n == line->cap) {
        size_t cap = line->cap ? line->cap * 2 : 8;
        tw_cell_t *nc = realloc(line->cells, cap * sizeof(*nc));
        if (!nc)
            return line->n;
        line->cells = nc;
        line->cap = cap;
    }
    line->cells[line->n++] = tw->cell;
    memset(&tw->cell, 0, sizeof(tw->cell));
    return line->n;
}

static size_t tw_write_lines(tabwriter_t *tw, size_t pos, size_t line0, size_t line1)
{
    for (size_t i = line0; i < line1; i++) {
        tw_line_t *line = &tw->lines[i];
        for (size_t j = 0; j < line->n; j++) {
            tw_cell_t *c = &line->cells[j];
            if (c->size > 0) {
                tw_out(tw, tw->buf.data + pos, c->size);
                pos += c->size;
            }
            if (j < tw->widths.n)
                tw_pad(tw, c->width, tw->widths.v[j]);
        }
        if (i + 1 == tw->nlines) {
            tw_out(tw, tw->buf.data + pos, tw->cell.size);
            pos += tw->cell.size;
        } else
            tw_out(tw, "\n", 1);
    }
    return pos;
}

static size_t tw_format(tabwriter_t *tw, size_t pos, size_t line0, size_t line1)
{
    size_t column = tw->widths.n;
    for (size_t this = line0; this < line1; this++) {
        tw_line_t *line = &tw->lines[this];
        if (column + 1 >= line->n)
            continue;
        pos = tw_write_lines(tw, pos, line0, this);
        line0 = this;
        size_t width = tw->minwidth;
        for (; this < line1; this++) {
            line = &tw->lines[this];
            if (column + 1 >= line->n)
                break;
            size_t w = line->cells[column].width + tw->padding;
            if (w > width)
                width = w;
        }
        if (tw->remember) {
            while (tw->maxwidths.n < tw->widths.n)
                vec_push(&tw->maxwidths, tw->widths.v[tw->maxwidths.n]);
            if (tw->maxwidths.n == tw->widths.n)
                vec_push(&tw->maxwidths, width);
            else if (tw->maxwidths.v[column] > width)
                width = tw->maxwidths.v[column];
            else if (tw->maxwidths.v[column] < width)
                tw->maxwidths.v[column] = width;
        }
        if (vec_push(&tw->widths, width) < 0)
            return pos;
        pos = tw_format(tw, pos, line0, this);
        tw->widths.n--;
        line0 = this;
        /* the line at this is not in the column: the loop's increment skips it, as Go's */
    }
    return tw_write_lines(tw, pos, line0, line1);
}

void tabwriter_flush(tabwriter_t *tw)
{
    if (tw->cell.size > 0)
        tw_terminate_cell(tw, 0);
    tw_format(tw, 0, 0, tw->nlines);
    tw_reset(tw);
}

void tabwriter_write(tabwriter_t *tw, const char *text, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (ch != '\t' && ch != '\v' && ch != '\n' && ch != '\f')
            continue;
        text_add(&tw->buf, text + n, i - n);
        tw->cell.size += i - n;
        tw_update_width(tw);
        n = i + 1;
        size_t ncells = tw_terminate_cell(tw, ch == '\t');
        if (ch == '\n' || ch == '\f') {
            tw_add_line(tw);
            if (ch == '\f' || ncells == 1)
                tabwriter_flush(tw);
        }
    }
    text_add(&tw->buf, text + n, len - n);
    tw->cell.size += len - n;
}

void tabwriter_puts(tabwriter_t *tw, const char *text)
{
    tabwriter_write(tw, text, strlen(text));
}

void tabwriter_printf(tabwriter_t *tw, const char *fmt, ...)
{
    char small[512], *big = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        tabwriter_write(tw, small, (size_t)n);
        return;
    }
    va_start(ap, fmt);
    n = vasprintf(&big, fmt, ap);
    va_end(ap);
    if (n >= 0 && big)
        tabwriter_write(tw, big, (size_t)n);
    free(big);
}

void tabwriter_forget_widths(tabwriter_t *tw)
{
    tw->maxwidths.n = 0;
}

size_t tabwriter_written(const tabwriter_t *tw)
{
    return tw->written;
}

void tabwriter_free(tabwriter_t *tw)
{
    if (!tw)
        return;
    tabwriter_flush(tw);
    for (size_t i = 0; i < tw->nlines; i++)
        free(tw->lines[i].cells);
    free(tw->lines);
    free(tw->buf.data);
    free(tw->widths.v);
    free(tw->maxwidths.v);
    free(tw);
}
