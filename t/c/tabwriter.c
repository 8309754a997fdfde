/* t/c/tabwriter.c: Go's tabwriter as kubectl uses it -- kubectl tables, describe blocks,
 * empty cells, remembered widths (get -w) and the count of bytes written. Run by
 * t/0117-tabwriter.t. */
#include "tap.h"
#include "tabwriter.h"

#include <stdio.h>
#include <stdlib.h>

/* Run text through a tabwriter into a static buffer. */
static const char *tw(const char *text, int minwidth, int padding)
{
    static char out[4096];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tabwriter_t *t = tabwriter_create(f, minwidth, padding, 1);
    tabwriter_puts(t, text);
    tabwriter_free(t);
    fclose(f);
    snprintf(out, sizeof(out), "%s", buf ? buf : "");
    free(buf);
    return out;
}

static void test_tabwriter(void)
{
    is_str(tw("NAME\tREADY\tAGE\np1\t0/1\t5s\nlonger-name\t1/1\t10m\n", 6, 3),
           "NAME          READY   AGE\n"
           "p1            0/1     5s\n"
           "longer-name   1/1     10m\n",
           "kubectl table: padding 3, minimum width 6, last column unpadded");
    is_str(tw("Name:\tx\nNamespace:\tdefault\nContainers:\n  c:\n    Image:\ti\n    Port:\t<none>\n"
              "Volumes:\t<none>\n", 0, 2),
           "Name:       x\n"
           "Namespace:  default\n"
           "Containers:\n"
           "  c:\n"
           "    Image:  i\n"
           "    Port:   <none>\n"
           "Volumes:    <none>\n",
           "describe: a line without a tab ends the block above it");
    is_str(tw("a\t\tb\nccc\td\te\n", 0, 2), "a       b\nccc  d  e\n",
           "an empty cell keeps its column");

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tabwriter_t *t = tabwriter_create(f, 6, 3, 1);
    tabwriter_puts(t, "NAME\tAGE\nlong-pod-name\t1s\n");
    tabwriter_flush(t);
    tabwriter_puts(t, "p\t2s\n");
    tabwriter_flush(t);
    is_int((long long)tabwriter_written(t), 20 + 19 + 19, "written counts the bytes out");
    tabwriter_forget_widths(t);
    tabwriter_puts(t, "p\t3s\n");
    tabwriter_free(t);
    fclose(f);
    is_str(buf,
           "NAME            AGE\n"
           "long-pod-name   1s\n"
           "p               2s\n"
           "p     3s\n",
           "widths are remembered across flushes until forgotten (get -w)");
    free(buf);
}

int main(void)
{
    plan_no_plan();
    test_tabwriter();
    return done_testing();
}
