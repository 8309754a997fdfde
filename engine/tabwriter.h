/* tabwriter.h: Go's text/tabwriter (elastic tabstops), which kubectl aligns its output with:
 * tables (minwidth 6, padding 3, remembering column widths across flushes for get -w) and
 * describe output (minwidth 0, padding 2). Cells end at '\t'; a line of a single cell
 * flushes, so each block of lines with tabs is aligned on its own, byte for byte as Go does
 * it.
 *
 *     tabwriter_t *tw = tabwriter_create(stdout, 6, 3, 1);
 *     tabwriter_printf(tw, "NAME\tAGE\n%s\t%s\n", name, age);
 *     tabwriter_free(tw);                    // flushes
 *
 * Depends on libc only. Called by cli_get.c and cli_describe.c. */
#ifndef BERTH_TABWRITER_H
#define BERTH_TABWRITER_H

#include <stdio.h>
#include <stddef.h>

typedef struct tabwriter_s tabwriter_t;

/* A writer to out (borrowed until tabwriter_free). remember_widths keeps each column's
 * widest width across flushes (liggitt/tabwriter's RememberWidths, kubectl get). NULL on no
 * memory. */
tabwriter_t *tabwriter_create(FILE *out, int minwidth, int padding, int remember_widths);
/* Flush what is buffered, then free. NULL is ignored. */
void tabwriter_free(tabwriter_t *tw);
/* Buffer text (cells end at '\t', lines at '\n'; a line of one cell flushes). */
void tabwriter_write(tabwriter_t *tw, const char *text, size_t len);
void tabwriter_puts(tabwriter_t *tw, const char *text);
void tabwriter_printf(tabwriter_t *tw, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Align and print the buffered lines. */
void tabwriter_flush(tabwriter_t *tw);
/* Forget the remembered widths (kubectl does it when a table of another kind starts). */
void tabwriter_forget_widths(tabwriter_t *tw);
/* Bytes written to out so far (kubectl's trackingWriter: was anything printed?). */
size_t tabwriter_written(const tabwriter_t *tw);

#endif
